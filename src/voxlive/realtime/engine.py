"""``Engine``: the shared models of one process, and the factory of sessions that use them."""

from __future__ import annotations

import asyncio

from ..config import Settings
from ..protocol import ResponseSession, ServerVad, new_id
from ..speech.llm import LLM
from .session import RealtimeSession, Send


def build_llm(settings: Settings) -> LLM:
    """The LLM the settings ask for."""
    llm = settings.llm
    if llm.provider == "openai":
        from ..speech.openai_compatible_llm import OpenAICompatibleLLM

        return OpenAICompatibleLLM(base_url=llm.base_url, api_key=llm.api_key, model=llm.model)
    from ..speech.llama_cpp_llm import LlamaCppLLM

    return LlamaCppLLM(llm.model_path, n_ctx=llm.context_tokens)


class Engine:
    """Loads the stages once; every session of the process shares them."""

    def __init__(self, settings: Settings, llm: LLM | None = None) -> None:
        self.settings = settings
        self.llm = llm or build_llm(settings)
        self.ready = asyncio.Event()
        self.sessions: dict[str, RealtimeSession] = {}

    async def load(self) -> None:
        await self.llm.load()
        self.ready.set()

    def default_session(self, model: str | None) -> ResponseSession:
        defaults = self.settings.session
        return ResponseSession(
            id=new_id("sess"),
            model=model or defaults.model,
            modalities=["text", "audio"],
            instructions=defaults.instructions,
            voice=defaults.voice,
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

    def create_session(self, send: Send, model: str | None = None) -> RealtimeSession:
        session = RealtimeSession(self.default_session(model), self.llm, send, max_items=self.settings.server.max_items)
        self.sessions[session.id] = session
        return session

    async def end_session(self, session: RealtimeSession) -> None:
        self.sessions.pop(session.id, None)
        await session.close()
