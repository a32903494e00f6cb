"""The agent's events: one frozen model per event, its ``type`` the name it is listened to by.

``agent.on(TextDelta, fn)`` gives ``fn`` the event itself; ``agent.on("chunk:text_delta", fn)`` gives it the
seed library's payload (``payload()``): a dict of the fields under their camelCase names, for most events.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class AgentEvent(BaseModel):
    """An event of a ``VoiceAgent`` (or ``VideoAgent``)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    type: str

    @classmethod
    def event_name(cls) -> str:
        """The event's name, as listeners by name know it."""
        return str(cls.model_fields["type"].default)

    def payload(self) -> tuple[Any, ...]:
        """What a listener by name is called with: the fields as a camelCase dict, or nothing without fields."""
        names = [name for name in type(self).model_fields if name != "type"]
        return ({to_camel(name): getattr(self, name) for name in names},) if names else ()


# -- turns: what the user said and what the model wrote ----------------------------------------------


class TextMessage(AgentEvent):
    """The user's turn as text (typed, or transcribed), or the assistant's whole reply."""

    type: Literal["text"] = "text"
    role: Literal["user", "assistant"]
    text: str
    has_image: bool = False
    """The user's turn carries visual context (``VideoAgent``)."""

    def payload(self) -> tuple[Any, ...]:
        extra = {"hasImage": True} if self.has_image else {}
        return ({"role": self.role, "text": self.text, **extra},)


class TextDelta(AgentEvent):
    """The model wrote ``text`` of the assistant message ``id``."""

    type: Literal["chunk:text_delta"] = "chunk:text_delta"
    id: str
    text: str


class ReasoningDelta(AgentEvent):
    """A reasoning model thought ``text`` during response ``id`` (not part of the answer, not spoken)."""

    type: Literal["chunk:reasoning_delta"] = "chunk:reasoning_delta"
    id: str
    text: str


class ToolCall(AgentEvent):
    """The model called a tool; ``input`` is its parsed arguments (the raw text if they are not JSON)."""

    type: Literal["chunk:tool_call"] = "chunk:tool_call"
    tool_name: str
    tool_call_id: str
    input: Any


class ToolResult(AgentEvent):
    type: Literal["tool_result"] = "tool_result"
    name: str
    tool_call_id: str
    result: Any


class ToolError(AgentEvent):
    """A tool failed (or does not exist); the model is given the error as its output."""

    type: Literal["tool_error"] = "tool_error"
    tool_name: str
    tool_call_id: str
    error: str


# -- the response stream: its steps (one response each) and its end -----------------------------------


class StreamStart(AgentEvent):
    type: Literal["stream_start"] = "stream_start"


class StepStart(AgentEvent):
    type: Literal["step_start"] = "step_start"
    warnings: list[str] = Field(default_factory=list)


class StepFinish(AgentEvent):
    type: Literal["step_finish"] = "step_finish"
    finish_reason: str
    """``stop``, ``tool-calls``, ``length``, or the response's status."""
    usage: dict[str, int]
    """``inputTokens`` and ``outputTokens``, when the model counted them."""


class StreamFinish(AgentEvent):
    type: Literal["stream_finish"] = "stream_finish"
    finish_reason: str
    usage: dict[str, int]


class StreamAbort(AgentEvent):
    type: Literal["stream_abort"] = "stream_abort"
    reason: str


class StreamError(AgentEvent):
    type: Literal["stream_error"] = "stream_error"
    error: str


class ResponseComplete(AgentEvent):
    """The turn is answered (and spoken): the reply, the tool calls and the results of the tools run."""

    type: Literal["response_complete"] = "response_complete"
    text: str
    tool_calls: list[dict[str, Any]]
    tool_results: list[dict[str, Any]]


# -- speech ------------------------------------------------------------------------------------------


class _Speaking(AgentEvent):
    streaming: bool
    """The streamed reply, as opposed to ``text`` spoken in one piece (``generate_speech_full``)."""
    text: str | None = None

    def payload(self) -> tuple[Any, ...]:
        text = {} if self.text is None else {"text": self.text}
        return ({**text, "streaming": self.streaming},)


class SpeechStart(_Speaking):
    type: Literal["speech_start"] = "speech_start"


class SpeechChunkQueued(AgentEvent):
    type: Literal["speech_chunk_queued"] = "speech_chunk_queued"
    id: int
    text: str


class AudioChunk(AgentEvent):
    """A spoken piece of the reply: its audio file (``uint8_array``; ``data`` in base64) and its words."""

    type: Literal["audio_chunk"] = "audio_chunk"
    chunk_id: int
    data: str
    format: str
    text: str
    uint8_array: bytes


class SpeechComplete(_Speaking):
    type: Literal["speech_complete"] = "speech_complete"


class SpeechInterrupted(AgentEvent):
    type: Literal["speech_interrupted"] = "speech_interrupted"
    reason: str


class SpeechAudio(AgentEvent):
    """Text spoken in one piece (``generate_speech_full``)."""

    type: Literal["audio"] = "audio"
    data: str
    format: str
    uint8_array: bytes


# -- audio in ----------------------------------------------------------------------------------------


class AudioReceived(AgentEvent):
    type: Literal["audio_received"] = "audio_received"
    size: int
    format: str | None


class Transcription(AgentEvent):
    type: Literal["transcription"] = "transcription"
    text: str
    language: str | None


class TranscriptionError(AgentEvent):
    """The user's audio gave no words: it could not be decoded or transcribed, or it was silent."""

    type: Literal["transcription_error"] = "transcription_error"
    error: str


# -- history, connection, problems -------------------------------------------------------------------


class HistoryCleared(AgentEvent):
    type: Literal["history_cleared"] = "history_cleared"


class HistoryTrimmed(AgentEvent):
    type: Literal["history_trimmed"] = "history_trimmed"
    removed_count: int
    reason: str
    """The limit that was passed: ``max_messages`` or ``max_chars``."""


class Connected(AgentEvent):
    type: Literal["connected"] = "connected"


class Disconnected(AgentEvent):
    type: Literal["disconnected"] = "disconnected"


class AgentError(AgentEvent):
    """Something failed; listeners by name are given the exception itself."""

    type: Literal["error"] = "error"
    error: BaseException

    def payload(self) -> tuple[Any, ...]:
        return (self.error,)


class AgentWarning(AgentEvent):
    """Input that was ignored; listeners by name are given the message."""

    type: Literal["warning"] = "warning"
    message: str

    def payload(self) -> tuple[Any, ...]:
        return (self.message,)


# -- VideoAgent --------------------------------------------------------------------------------------


class FrameReceived(AgentEvent):
    type: Literal["frame_received"] = "frame_received"
    sequence: int
    timestamp: int | float
    trigger_reason: str
    """``initial``, ``scene_change``, ``user_request`` or ``timer``."""
    size: int
    dimensions: dict[str, int]


class FrameRequested(AgentEvent):
    type: Literal["frame_requested"] = "frame_requested"
    reason: str


class ConfigChanged(AgentEvent):
    type: Literal["config_changed"] = "config_changed"
    max_context_frames: int


class ClientReady(AgentEvent):
    """A video client said it is ready; listeners by name are given its ``capabilities``."""

    type: Literal["client_ready"] = "client_ready"
    capabilities: Any

    def payload(self) -> tuple[Any, ...]:
        return (self.capabilities,)


AnyAgentEvent = Annotated[
    TextMessage
    | TextDelta
    | ReasoningDelta
    | ToolCall
    | ToolResult
    | ToolError
    | StreamStart
    | StepStart
    | StepFinish
    | StreamFinish
    | StreamAbort
    | StreamError
    | ResponseComplete
    | SpeechStart
    | SpeechChunkQueued
    | AudioChunk
    | SpeechComplete
    | SpeechInterrupted
    | SpeechAudio
    | AudioReceived
    | Transcription
    | TranscriptionError
    | HistoryCleared
    | HistoryTrimmed
    | Connected
    | Disconnected
    | AgentError
    | AgentWarning
    | FrameReceived
    | FrameRequested
    | ConfigChanged
    | ClientReady,
    Field(discriminator="type"),
]
"""Every agent event, told apart by ``type``."""
