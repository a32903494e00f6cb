"""The response object, its status, usage, and the parameters of ``response.create``."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from .base import WireModel
from .items import Item, MessageItem
from .session import (
    InterimResponseConfig,
    MaxTokens,
    Modality,
    OutputAudioFormat,
    ReasoningEffort,
    Tool,
    ToolChoice,
    Voice,
)

ResponseStatus = Literal["in_progress", "completed", "cancelled", "failed", "incomplete"]


class ResponseCancelledDetails(WireModel):
    type: Literal["cancelled"] = "cancelled"
    reason: Literal["turn_detected", "client_cancelled"]


class ResponseIncompleteDetails(WireModel):
    type: Literal["incomplete"] = "incomplete"
    reason: Literal["max_output_tokens", "content_filter"]


class ResponseFailedError(WireModel):
    type: str | None = None
    code: str | None = None
    message: str | None = None


class ResponseFailedDetails(WireModel):
    type: Literal["failed"] = "failed"
    error: ResponseFailedError | None = None


ResponseStatusDetails = Annotated[
    ResponseCancelledDetails | ResponseIncompleteDetails | ResponseFailedDetails,
    Field(discriminator="type"),
]


class CachedTokenDetails(WireModel):
    text_tokens: int = 0
    audio_tokens: int = 0
    image_tokens: int = 0


class InputTokenDetails(WireModel):
    cached_tokens: int = 0
    text_tokens: int = 0
    audio_tokens: int = 0
    image_tokens: int = 0
    cached_tokens_details: CachedTokenDetails = Field(default_factory=CachedTokenDetails)


class OutputTokenDetails(WireModel):
    text_tokens: int = 0
    audio_tokens: int = 0
    reasoning_tokens: int = 0


class TokenUsage(WireModel):
    total_tokens: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    input_token_details: InputTokenDetails = Field(default_factory=InputTokenDetails)
    output_token_details: OutputTokenDetails = Field(default_factory=OutputTokenDetails)


class Response(WireModel):
    id: str
    object: str = "realtime.response"
    status: ResponseStatus = "in_progress"
    status_details: ResponseStatusDetails | None = None
    output: list[Item] = Field(default_factory=list)
    usage: TokenUsage | None = None
    conversation_id: str | None = None
    voice: Voice | None = None
    modalities: list[Modality] | None = None
    output_audio_format: OutputAudioFormat | None = None
    temperature: float | None = None
    max_output_tokens: MaxTokens | None = None
    metadata: dict[str, str] | None = None


class ResponseCreateParams(WireModel):
    """The ``response`` of ``response.create``: per-response overrides of the session."""

    commit: bool | None = None
    cancel_previous: bool | None = None
    append_input_items: list[Item] | None = None
    input_items: list[Item] | None = None
    input: list[Item] | None = None
    """OpenAI's name for ``input_items``."""
    conversation: str | None = None
    """``auto`` (the session's conversation; a conversation id means the same), or ``none`` (out of band)."""
    modalities: list[Modality] | None = None
    instructions: str | None = None
    voice: Voice | None = None
    output_audio_format: OutputAudioFormat | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | str | None = None
    """``auto``/``none``/``required``, a function selection, or a bare function name."""
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    max_output_tokens: MaxTokens | None = None
    max_response_output_tokens: MaxTokens | None = None
    """The documented alias of ``max_output_tokens``."""
    pre_generated_assistant_message: MessageItem | None = None
    reasoning_effort: ReasoningEffort | None = None
    metadata: dict[str, str] | None = None
    interim_response: InterimResponseConfig | None = None
    invoke_input: dict[str, Any] | None = None


# --- errors, transcription details ----------------------------------------------------------------


class ErrorDetails(WireModel):
    type: str = "invalid_request_error"
    code: str | None = None
    message: str
    param: str | None = None
    event_id: str | None = None


class WarningDetails(WireModel):
    message: str
    code: str | None = None
    param: str | None = None


class LogProbProperties(WireModel):
    token: str
    logprob: float
    bytes: list[int] = Field(default_factory=list)


class TranscriptionWord(WireModel):
    text: str
    offset_milliseconds: int
    duration_milliseconds: int


class TranscriptionPhrase(WireModel):
    offset_milliseconds: int
    duration_milliseconds: int
    text: str
    words: list[TranscriptionWord] | None = None
    locale: str | None = None
    confidence: float | None = None


class RateLimit(WireModel):
    name: str
    limit: int
    remaining: int
    reset_seconds: float
