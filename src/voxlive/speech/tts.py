"""The TTS stage: ``PiperTTS`` (local, with phoneme timings) and ``OpenAICompatibleTTS`` (``/audio/speech``)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import re
import wave
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .alignment import PhonemeTiming, Viseme, WordTiming, visemes, word_timings
from .assets import piper_voice_path
from .offload import run_in_slot
from .prosody import NORMAL, Prosody, louder
from .remote import STAGE_TIMEOUT, Deadline, openai_client
from .scheduling import Slots
from .voices import DEFAULT_VOICE, OPENAI_VOICES


@dataclass
class Speech:
    """One piece of text, spoken."""

    text: str
    audio: np.ndarray
    """int16 mono samples."""
    sample_rate: int
    phonemes: list[PhonemeTiming] = field(default_factory=list)
    words: list[WordTiming] = field(default_factory=list)
    visemes: list[Viseme] = field(default_factory=list)

    @property
    def duration_ms(self) -> int:
        return len(self.audio) * 1000 // self.sample_rate


class TTS(Protocol):
    async def load(self) -> None: ...

    def voice_names(self) -> list[str]:
        """The voices a session may ask for (aliases included)."""
        ...

    def voice_language(self, voice: str) -> str | None:
        """The language a voice speaks (``en_US``), if it is known."""
        ...

    async def synthesize(self, text: str, voice: str, prosody: Prosody = NORMAL, urgent: bool = False) -> Speech:
        """``text`` spoken; ``urgent`` when the user is waiting for it (the first piece of a reply)."""
        ...


class PiperTTS:
    """Piper voices (ONNX) run off the event loop, with phoneme timings for words and visemes.

    ``voices`` maps names to model files (each with its ``.onnx.json`` beside it); ``aliases`` maps
    other names (OpenAI's voice names, by default) to those. Voices load on first use.
    """

    def __init__(
        self,
        voices: Mapping[str, str | Path] | None = None,
        aliases: dict[str, str] | None = None,
        *,
        threads: int = 1,
        max_concurrency: int = 1,
    ) -> None:
        self.threads = threads
        self.voices: dict[str, Path] = {DEFAULT_VOICE: piper_voice_path()}
        self.voices.update({name: Path(path) for name, path in (voices or {}).items()})
        self.aliases = dict.fromkeys(OPENAI_VOICES, DEFAULT_VOICE) if aliases is None else dict(aliases)
        self._loaded: dict[str, Any] = {}
        self.slots = Slots(max_concurrency)
        self._word_phonemes: dict[tuple[str, str], list[str]] = {}

    def voice_names(self) -> list[str]:
        return [*self.voices, *self.aliases]

    def voice_language(self, voice: str) -> str | None:
        """The language in the voice's config (``language.code``), if it says."""
        path = self.voices[self.resolve(voice)]
        try:
            code = json.loads(Path(f"{path}.json").read_text(encoding="utf-8"))["language"]["code"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return code if isinstance(code, str) else None

    def resolve(self, voice: str) -> str:
        name = self.aliases.get(voice, voice)
        if name not in self.voices:
            raise KeyError(voice)
        return name

    async def load(self, voice: str = DEFAULT_VOICE) -> None:
        name = self.resolve(voice)
        if name not in self._loaded:
            self._loaded[name] = await asyncio.to_thread(self._load, self.voices[name])

    def _load(self, path: Path) -> Any:
        """A voice whose model also outputs each phoneme's length (for the alignments), on ``threads`` threads."""
        import onnx
        import onnxruntime
        from piper import PiperConfig, PiperVoice
        from piper.patch_voice_with_alignment import add_alignment_output

        model = onnx.load(str(path))
        with contextlib.suppress(ValueError):  # the file already has the output
            add_alignment_output(model)
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.enable_mem_pattern = False  # a plan is kept per input length: memory grew with every new sentence
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )
        config = PiperConfig.from_dict(json.loads(Path(f"{path}.json").read_text(encoding="utf-8")))
        return PiperVoice(session=session, config=config)

    async def synthesize(
        self, text: str, voice: str = DEFAULT_VOICE, prosody: Prosody = NORMAL, urgent: bool = False
    ) -> Speech:
        await self.load(voice)
        name = self.resolve(voice)
        return await run_in_slot(self.slots, self._synthesize, name, text, prosody, urgent=urgent)

    def _phonemize_word(self, name: str, word: str) -> list[str]:
        """The phonemes of one word alone (cached: the same words come back all the time)."""
        key = (name, word)
        if key not in self._word_phonemes:
            if len(self._word_phonemes) > 50_000:
                self._word_phonemes.clear()
            sentences = self._loaded[name].phonemize(word)
            self._word_phonemes[key] = [p for sentence in sentences for p in [*sentence, " "]][:-1]
        return self._word_phonemes[key]

    def _synthesize(self, name: str, text: str, prosody: Prosody) -> Speech:
        from piper import SynthesisConfig

        piper = self._loaded[name]
        variation = prosody.variation
        config = SynthesisConfig(
            length_scale=prosody.pitch / prosody.speed,
            noise_scale=None if variation is None else piper.config.noise_scale * variation,
            noise_w_scale=None if variation is None else piper.config.noise_w_scale * variation,
        )
        rate = pitched(piper.config.sample_rate, prosody)
        blocks: list[np.ndarray] = []
        phonemes: list[PhonemeTiming] = []
        offset = 0
        for chunk in piper.synthesize(text, syn_config=config, include_alignments=True):
            audio = chunk.audio_int16_array
            position = offset
            for aligned in chunk.phoneme_alignments or []:
                phonemes.append(PhonemeTiming(aligned.phoneme, position, int(aligned.num_samples)))
                position += int(aligned.num_samples)
            blocks.append(audio)
            offset += len(audio)
        audio = np.concatenate(blocks) if blocks else np.zeros(0, np.int16)

        return Speech(
            text=text,
            audio=louder(audio, prosody.volume),
            sample_rate=rate,
            phonemes=phonemes,
            words=word_timings(text, phonemes, rate, lambda word: self._phonemize_word(name, word)),
            visemes=visemes(phonemes, rate),
        )


class OpenAICompatibleTTS:
    """Speech from ``POST {base_url}/audio/speech`` (OpenAI, Kokoro/Piper servers, voxlive itself); a piece gives up
    after ``timeout`` seconds.

    The service gives no timings, so words are spread over the audio by their length. It has no
    setting for variation, so ``Prosody.variation`` is the service's own.
    """

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str = "tts-1",
        voices: dict[str, str],
        timeout: float = STAGE_TIMEOUT,
    ) -> None:
        self.client = openai_client(base_url, api_key, timeout)
        self.model = model
        self.voices = voices
        self.timeout = timeout

    async def load(self) -> None:
        """Nothing to load: the service holds the weights."""

    def voice_names(self) -> list[str]:
        return list(self.voices)

    def voice_language(self, voice: str) -> str | None:
        """Not known: the service does not say."""
        return None

    async def synthesize(self, text: str, voice: str, prosody: Prosody = NORMAL, urgent: bool = False) -> Speech:
        answer = await Deadline(self.timeout).wait(
            self.client.audio.speech.create(
                model=self.model,
                voice=self.voices.get(voice, voice),
                input=text,
                response_format="wav",
                speed=min(max(prosody.speed / prosody.pitch, 0.25), 4.0),
            )
        )
        try:
            with wave.open(io.BytesIO(answer.content)) as wav:
                rate = wav.getframerate()
                audio = np.frombuffer(wav.readframes(wav.getnframes()), "<i2").astype(np.int16)
                if wav.getnchannels() > 1:
                    audio = audio.reshape(-1, wav.getnchannels())[:, 0].copy()
        except (wave.Error, EOFError) as exc:
            raise ValueError(f"the service's answer is not WAV audio ({exc})") from None
        speech = Speech(text=text, audio=louder(audio, prosody.volume), sample_rate=pitched(rate, prosody))
        speech.words = spread_words(text, speech.duration_ms)
        return speech


def pitched(rate: int, prosody: Prosody) -> int:
    """The sample rate to play speech made at ``rate`` at, for ``prosody.pitch``.

    Played faster, speech is higher and shorter: the synthesis is asked for ``pitch`` times slower
    speech, so the tempo comes out as ``speed`` asks.
    """
    return round(rate * prosody.pitch)


def spread_words(text: str, duration_ms: int) -> list[WordTiming]:
    """Word timings without alignments: each word gets a share of the time by its length."""
    tokens = [(m.group(), m.end()) for m in re.finditer(r"\S+", text)]
    total = sum(len(word) + 1 for word, _ in tokens) or 1
    out: list[WordTiming] = []
    position = 0.0
    for word, end in tokens:
        share = (len(word) + 1) * duration_ms / total
        out.append(WordTiming(word, round(position), round(share * len(word) / (len(word) + 1)), end))
        position += share
    return out
