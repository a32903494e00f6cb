"""``Engine``: the shared models of one process, and the factory of sessions that use them."""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Awaitable

import numpy as np

from ..config import Settings
from ..protocol import AudioInputTranscriptionOptions, ResponseSession, ServerVad, new_id
from ..speech.cpu import PRIORITY, cores
from ..speech.llm import LLM
from ..speech.scheduling import SESSION
from ..speech.smart_turn import SmartTurn
from ..speech.stt import STT
from ..speech.tts import TTS
from ..speech.vad import SileroVAD
from ..store import open_store
from .journal import Archive
from .load import Load
from .metrics import Telemetry
from .session import RealtimeSession, Send


def build_llm(settings: Settings) -> LLM:
    """The LLM the settings ask for."""
    llm = settings.llm
    if llm.provider == "openai":
        from ..speech.openai_compatible_llm import OpenAICompatibleLLM

        return OpenAICompatibleLLM(
            base_url=llm.base_url,
            api_key=llm.api_key,
            model=llm.model,
            vision=llm.vision,
            timeout=settings.server.stage_timeout,
            max_output_tokens=llm.max_output_tokens,
        )
    if llm.provider == "llama-server":
        from ..speech.llama_server import LlamaServerLLM

        return LlamaServerLLM(
            llm.model_path,
            slots=llm.slots,
            context_tokens=llm.context_tokens,
            threads=llm.threads or min(cores(), 8),
            timeout=settings.server.stage_timeout,
            max_output_tokens=llm.max_output_tokens,
            yield_to_speech=llm.yield_to_speech,
        )
    from ..speech.llama_cpp_llm import LlamaCppLLM

    return LlamaCppLLM(
        llm.model_path,
        n_ctx=llm.context_tokens,
        n_threads=llm.threads or min(cores(), 8),
        yield_to=PRIORITY if llm.yield_to_speech else None,
        sampling=llm.sampling(),
    )


LOCAL_RECOGNIZERS = ("moonshine-tiny", "tiny.en", "base")
"""The bundled recognizers: Moonshine tiny (English, fast on short turns), Whisper ``tiny.en`` and ``base``
(multilingual); a CTranslate2 Whisper directory may be named too."""


def build_local_stt(name: str, threads: int | None = None) -> STT:
    """A bundled recognizer by name, or a Whisper model directory."""
    if name == "moonshine-tiny":
        from ..speech.moonshine import MoonshineSTT

        return MoonshineSTT(threads=threads or 1)
    from ..speech.stt import WhisperSTT

    return WhisperSTT(name, threads=threads or min(cores(), 4))


def build_stt(settings: Settings) -> STT:
    """The STT the settings ask for."""
    stt = settings.stt
    if stt.provider == "openai":
        from ..speech.stt import OpenAICompatibleSTT

        return OpenAICompatibleSTT(
            base_url=stt.base_url, api_key=stt.api_key, model=stt.model, timeout=settings.server.stage_timeout
        )
    return build_local_stt(stt.model, stt.threads)


def build_tts(settings: Settings) -> TTS:
    """The TTS the settings ask for."""
    tts = settings.tts
    if tts.provider == "openai":
        from ..speech.tts import OpenAICompatibleTTS

        voices = tts.voices or {"alloy": "alloy"}
        return OpenAICompatibleTTS(
            base_url=tts.base_url,
            api_key=tts.api_key,
            model=tts.model,
            voices=voices,
            timeout=settings.server.stage_timeout,
        )
    from ..speech.tts import PiperTTS

    return PiperTTS(tts.voices, tts.aliases, threads=tts.threads or min(cores(), 4))


class Engine:
    """Loads the stages once; every session of the process shares them."""

    def __init__(
        self, settings: Settings, llm: LLM | None = None, stt: STT | None = None, tts: TTS | None = None
    ) -> None:
        self.settings = settings
        self.stage_load = Load(settings.server.max_load, settings.server.load_window_seconds)
        """How busy the stages are, for admission, ``/health`` and ``/metrics``."""
        if llm is None and settings.llm.provider != "openai":  # a model on this machine: its load is the server's
            slots = settings.llm.slots if settings.llm.provider == "llama-server" else 1
            llm = self.stage_load.metered(build_llm(settings), slots)
        self.llm = llm or build_llm(settings)
        self.stt = stt or build_stt(settings)
        self.tts = tts or build_tts(settings)
        self.stage_load.watch_stage("stt", self.stt)
        self.stage_load.watch_stage("tts", self.tts)
        self.vad: SileroVAD | None = None
        self.turn_model: SmartTurn | None = None
        """The audio end-of-turn model of the semantic modes (loaded with the VAD)."""
        self._local_stt: dict[str, STT] = {}
        self.ready = asyncio.Event()
        self._loading: asyncio.Future[None] | None = None
        self.sessions: dict[str, RealtimeSession] = {}
        self.stage_load.open_sessions = self.sessions.keys()
        self.store = open_store(settings.store)
        """Where conversations are kept (opened with the models)."""
        self.telemetry = Telemetry(settings.telemetry.otlp_endpoint, settings.telemetry.service_name)

    async def load(self) -> None:
        """Load and warm up every stage, once however often it is called."""
        if self._loading is None:
            self._loading = asyncio.ensure_future(self._load())
        await asyncio.shield(self._loading)

    async def _load(self) -> None:
        from tqdm import tqdm

        # a progress bar on a terminal: VAD, LLM, STT, TTS, then the warm-up
        with tqdm(total=5, desc="loading models", unit="step", disable=not sys.stderr.isatty()) as bar:

            async def step(loading: Awaitable[object]) -> None:
                await loading
                bar.update()

            await self.store.open()
            await step(asyncio.to_thread(self._load_vad))
            await asyncio.gather(step(self.llm.load()), step(self.stt.load()), step(self.tts.load()))
            await step(self.warm_up())
        self.ready.set()

    def _load_vad(self) -> None:
        self.vad = SileroVAD()
        if self.settings.turn.smart_turn:
            self.turn_model = SmartTurn()

    async def warm_up(self) -> None:
        """Run each stage once, so the first user does not pay for first-run costs; prefill the LLM's
        cache with the default instructions."""
        from ..speech.llm import LLMRequest

        await self.tts.synthesize("Hello.", self.default_voice)
        await self.stt.transcribe(np.zeros(16_000, np.float32))
        if self.turn_model is not None:
            await self.turn_model.probability(np.zeros(16_000, np.float32))
        request = LLMRequest(
            [{"role": "system", "content": self.settings.session.instructions}, {"role": "user", "content": "Hi"}],
            max_tokens=1,
        )
        async for _ in self.llm.stream(request):
            pass

    def stt_for(self, options: AudioInputTranscriptionOptions | None) -> STT:
        """The STT for a session's transcription settings."""
        return self.recognizer(options.model if options else None, options.language if options else None)

    def recognizer(self, model: str | None, language: str | None = None, word_timings: bool = False) -> STT:
        """The STT for a model name and a language: a bundled recognizer by name, the multilingual one for a
        language other than English when the configured one is English only, or the configured STT; Whisper
        when word timings are asked for and the recognizer gives none."""
        if self.settings.stt.provider != "local":
            return self.stt
        name = model if model in LOCAL_RECOGNIZERS else self.settings.stt.model
        if word_timings and name == "moonshine-tiny":
            name = "tiny.en"
        if language and not language.lower().startswith("en") and name in ("moonshine-tiny", "tiny.en"):
            name = "base"
        if name == self.settings.stt.model:
            return self.stt
        if name not in self._local_stt:
            self._local_stt[name] = build_local_stt(name, self.settings.stt.threads)
        return self._local_stt[name]

    @property
    def default_voice(self) -> str:
        """The voice of new sessions: ``[session] voice``, else the first the TTS offers."""
        return self.settings.session.voice or self.tts.voice_names()[0]

    def default_session(self, model: str | None) -> ResponseSession:
        defaults = self.settings.session
        return ResponseSession(
            id=new_id("sess"),
            model=model or defaults.model,
            modalities=["text", "audio"],
            instructions=defaults.instructions,
            voice=self.default_voice,
            input_audio_format="pcm16",
            input_audio_sampling_rate=24000,
            output_audio_format="pcm16",
            turn_detection=ServerVad(),
            input_audio_noise_reduction=None,
            input_audio_echo_cancellation=None,
            input_audio_transcription=None,
            tools=[],
            tool_choice="auto",
            temperature=defaults.temperature,
            max_response_output_tokens="inf",
        )

    async def close(self) -> None:
        """End every session, then close the store and the LLM."""
        for session in list(self.sessions.values()):
            await self.end_session(session)
        await self.store.close()
        await self.llm.close()
        self.telemetry.shutdown()

    async def purge(self) -> int:
        """Delete the conversations older than the retention period; how many."""
        days = self.settings.store.retention_days
        return 0 if days is None else await self.store.purge(time.time() - days * 86_400)

    def create_session(
        self, send: Send, model: str | None = None, owner: str = "", paced: bool = True
    ) -> RealtimeSession:
        """A session for the owner of an API key (``""`` without keys), whose conversations only it can resume;
        ``paced``: its input audio may not run ahead of real time (a face that hands over whole files is not)."""
        assert self.vad is not None, "the models are still loading"
        config = self.default_session(model)
        SESSION.set(config.id)  # the stages serve the sessions' work in turn
        session = RealtimeSession(
            config,
            llm=self.llm,
            tts=self.tts,
            stt=self.stt_for,
            vad=self.vad,
            turn_model=self.turn_model,
            draft_replies=self.settings.turn.draft_replies,
            read_ahead=self.settings.llm.read_ahead and self.settings.llm.provider == "local",
            first_words=self.settings.tts.first_words or None,
            send=send,
            telemetry=self.telemetry,
            mcp=self.settings.mcp,
            max_items=self.settings.server.max_items,
            max_ahead_seconds=self.settings.server.max_audio_ahead_seconds if paced else float("inf"),
            archive=Archive(self.store, owner, self.settings.store.keep_audio),
            max_instructions=self.settings.server.max_instructions_chars,
        )
        self.sessions[session.id] = session
        self.telemetry.sessions.set(len(self.sessions))
        return session

    async def end_session(self, session: RealtimeSession) -> None:
        self.sessions.pop(session.id, None)
        self.telemetry.sessions.set(len(self.sessions))
        await session.close()
