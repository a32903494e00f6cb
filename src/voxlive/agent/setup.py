"""An agent's engine (the shared embedded stack, or its own) and its engine session, configured for the agent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..config import Settings, TurnTakingSettings
from ..protocol import ClientEventSessionUpdate, FunctionTool, RequestSession, ServerEvent
from ..realtime.engine import Engine
from ..realtime.observer import ResponseObserver
from ..realtime.session import RealtimeSession
from ..speech import audio as pcm
from ..speech.llm import LLM
from ..speech.stt import STT
from ..speech.tts import TTS
from .options import SpeechOptions
from .tools import Tool

AGENT_SETTINGS = Settings(turn=TurnTakingSettings(smart_turn=False))
"""An agent's own engine: the embedded stack; no turn model (the agent is given whole turns, it detects none)."""

_shared_engine: Engine | None = None


def shared_engine() -> Engine:
    """The embedded local stack, loaded once per process and shared by every agent that does not bring its own."""
    global _shared_engine
    if _shared_engine is None:
        _shared_engine = Engine(AGENT_SETTINGS)
    return _shared_engine


def agent_engine(engine: Engine | None, llm: LLM | None, stt: STT | None, tts: TTS | None) -> Engine:
    """The engine given; else one of its own for an agent given any stage; else the shared one."""
    if engine is not None:
        return engine
    if llm is not None or stt is not None or tts is not None:
        return Engine(AGENT_SETTINGS, llm, stt, tts)
    return shared_engine()


def function_tools(tools: dict[str, Tool]) -> list[FunctionTool]:
    """The agent's tools as the session's function tools."""
    schemas = [tool.schema()["function"] for tool in tools.values()]
    return [FunctionTool(name=f["name"], description=f["description"], parameters=f["parameters"]) for f in schemas]


@dataclass(frozen=True)
class SessionPlan:
    """What an agent's session is set up with."""

    instructions: str
    voice: str
    temperature: float | None
    tools: dict[str, Tool]
    speech: SpeechOptions
    owner: str
    conversation_id: str | None
    """The stored conversation to resume, if any."""

    def config(self) -> RequestSession:
        """Text and audio out, whole turns in (no turn detection), transcribed."""
        return RequestSession(
            modalities=["text", "audio"],
            instructions=self.instructions,
            voice=self.voice,
            input_audio_format="pcm16",
            input_audio_sampling_rate=pcm.STAGE_RATE,
            output_audio_format="pcm16",
            input_audio_transcription={"model": "whisper-1"},
            turn_detection=None,
            tools=function_tools(self.tools),
            tool_choice="auto",
            temperature=self.temperature,
        )


async def open_session(
    engine: Engine, plan: SessionPlan, on_event: Callable[[ServerEvent], None], observer: ResponseObserver
) -> tuple[RealtimeSession, bool]:
    """The agent's session, started (its stored conversation resumed, when there is one) and configured; and
    whether the conversation was resumed."""
    await engine.load()
    session = engine.create_session(on_event, owner=plan.owner, paced=False)
    await session.start(plan.conversation_id)
    session.observer = observer
    speech = plan.speech
    session.speak_overrides = {
        "min_chars": speech.min_chunk_size,
        "max_chars": speech.max_chunk_size,
        "ahead": max(1, speech.max_parallel_requests) if speech.parallel_generation else 1,
    }
    await session.handle(ClientEventSessionUpdate(session=plan.config()))
    return session, plan.conversation_id == session.conversation.id
