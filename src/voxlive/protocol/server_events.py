"""Every event a server sends (VoiceLive classic dialect), and a generic one for unknown types."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .base import WireModel, new_id
from .items import ContentPart, Item
from .responses import (
    ErrorDetails,
    LogProbProperties,
    RateLimit,
    Response,
    TranscriptionPhrase,
    WarningDetails,
)
from .session import ResponseSession


class ServerEvent(WireModel):
    type: str
    event_id: str = Field(default_factory=lambda: new_id("event"))


class UnknownServerEvent(ServerEvent):
    """A server event of a type this library does not know; every field is kept."""


# --- errors, session ------------------------------------------------------------------------------


class ServerEventError(ServerEvent):
    type: Literal["error"] = "error"
    error: ErrorDetails


class ServerEventWarning(ServerEvent):
    type: Literal["warning"] = "warning"
    warning: WarningDetails


class ServerEventSessionCreated(ServerEvent):
    type: Literal["session.created"] = "session.created"
    session: ResponseSession


class ServerEventSessionUpdated(ServerEvent):
    type: Literal["session.updated"] = "session.updated"
    session: ResponseSession


class ServerEventSessionAvatarConnecting(ServerEvent):
    type: Literal["session.avatar.connecting"] = "session.avatar.connecting"
    server_sdp: str


class ServerEventSessionAvatarSwitchToSpeaking(ServerEvent):
    type: Literal["session.avatar.switch_to_speaking"] = "session.avatar.switch_to_speaking"
    turn_id: str | None = None


class ServerEventSessionAvatarSwitchToIdle(ServerEvent):
    type: Literal["session.avatar.switch_to_idle"] = "session.avatar.switch_to_idle"
    turn_id: str | None = None


class ConversationInfo(WireModel):
    id: str
    object: str = "realtime.conversation"


class ServerEventConversationCreated(ServerEvent):
    type: Literal["conversation.created"] = "conversation.created"
    conversation: ConversationInfo


class ServerEventRateLimitsUpdated(ServerEvent):
    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[RateLimit]


# --- conversation items ---------------------------------------------------------------------------


class ServerEventConversationItemCreated(ServerEvent):
    type: Literal["conversation.item.created"] = "conversation.item.created"
    previous_item_id: str | None = None
    item: Item


class ServerEventConversationItemRetrieved(ServerEvent):
    type: Literal["conversation.item.retrieved"] = "conversation.item.retrieved"
    item: Item


class ServerEventConversationItemTruncated(ServerEvent):
    type: Literal["conversation.item.truncated"] = "conversation.item.truncated"
    item_id: str
    content_index: int
    audio_end_ms: int


class ServerEventConversationItemDeleted(ServerEvent):
    type: Literal["conversation.item.deleted"] = "conversation.item.deleted"
    item_id: str


class ServerEventConversationItemInputAudioTranscriptionCompleted(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.completed"] = (
        "conversation.item.input_audio_transcription.completed"
    )
    item_id: str
    content_index: int = 0
    transcript: str
    logprobs: list[LogProbProperties] | None = None
    phrases: list[TranscriptionPhrase] | None = None
    usage: dict[str, Any] | None = None
    """OpenAI's transcription usage: ``{"type": "duration", "seconds": …}`` or token counts."""


class ServerEventConversationItemInputAudioTranscriptionDelta(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.delta"] = (
        "conversation.item.input_audio_transcription.delta"
    )
    item_id: str
    content_index: int | None = None
    delta: str | None = None
    logprobs: list[LogProbProperties] | None = None


class ServerEventConversationItemInputAudioTranscriptionFailed(ServerEvent):
    type: Literal["conversation.item.input_audio_transcription.failed"] = (
        "conversation.item.input_audio_transcription.failed"
    )
    item_id: str
    content_index: int = 0
    error: ErrorDetails


# --- input audio buffer ---------------------------------------------------------------------------


class ServerEventInputAudioBufferCommitted(ServerEvent):
    type: Literal["input_audio_buffer.committed"] = "input_audio_buffer.committed"
    item_id: str
    previous_item_id: str | None = None


class ServerEventInputAudioBufferCleared(ServerEvent):
    type: Literal["input_audio_buffer.cleared"] = "input_audio_buffer.cleared"


class ServerEventInputAudioBufferSpeechStarted(ServerEvent):
    type: Literal["input_audio_buffer.speech_started"] = "input_audio_buffer.speech_started"
    audio_start_ms: int
    item_id: str


class ServerEventInputAudioBufferSpeechStopped(ServerEvent):
    type: Literal["input_audio_buffer.speech_stopped"] = "input_audio_buffer.speech_stopped"
    audio_end_ms: int
    item_id: str


class ServerEventOutputAudioBufferCleared(ServerEvent):
    type: Literal["output_audio_buffer.cleared"] = "output_audio_buffer.cleared"
    response_id: str | None = None


# --- responses ------------------------------------------------------------------------------------


class ServerEventResponseCreated(ServerEvent):
    type: Literal["response.created"] = "response.created"
    response: Response


class ServerEventResponseDone(ServerEvent):
    type: Literal["response.done"] = "response.done"
    response: Response


class ServerEventResponseOutputItemAdded(ServerEvent):
    type: Literal["response.output_item.added"] = "response.output_item.added"
    response_id: str
    output_index: int
    item: Item


class ServerEventResponseOutputItemDone(ServerEvent):
    type: Literal["response.output_item.done"] = "response.output_item.done"
    response_id: str
    output_index: int
    item: Item


class _ContentEvent(ServerEvent):
    """An event about one content part of one output item of a response."""

    response_id: str
    item_id: str
    output_index: int
    content_index: int


class ServerEventResponseContentPartAdded(_ContentEvent):
    type: Literal["response.content_part.added"] = "response.content_part.added"
    part: ContentPart


class ServerEventResponseContentPartDone(_ContentEvent):
    type: Literal["response.content_part.done"] = "response.content_part.done"
    part: ContentPart


class ServerEventResponseTextDelta(_ContentEvent):
    type: Literal["response.text.delta"] = "response.text.delta"
    delta: str


class ServerEventResponseTextDone(_ContentEvent):
    type: Literal["response.text.done"] = "response.text.done"
    text: str


class ServerEventResponseAudioTranscriptDelta(_ContentEvent):
    type: Literal["response.audio_transcript.delta"] = "response.audio_transcript.delta"
    delta: str


class ServerEventResponseAudioTranscriptDone(_ContentEvent):
    type: Literal["response.audio_transcript.done"] = "response.audio_transcript.done"
    transcript: str


class ServerEventResponseAudioTranscriptAnnotationAdded(_ContentEvent):
    type: Literal["response.audio_transcript.annotation.added"] = "response.audio_transcript.annotation.added"
    annotation_index: int
    annotation: dict[str, Any]


class ServerEventResponseAudioDelta(_ContentEvent):
    type: Literal["response.audio.delta"] = "response.audio.delta"
    delta: str
    """Base64 audio in the session's output format."""


class ServerEventResponseAudioDone(_ContentEvent):
    type: Literal["response.audio.done"] = "response.audio.done"


class ServerEventResponseAudioTimestampDelta(_ContentEvent):
    type: Literal["response.audio_timestamp.delta"] = "response.audio_timestamp.delta"
    audio_offset_ms: int
    audio_duration_ms: int
    text: str
    timestamp_type: Literal["word"] = "word"


class ServerEventResponseAudioTimestampDone(_ContentEvent):
    type: Literal["response.audio_timestamp.done"] = "response.audio_timestamp.done"


class ServerEventResponseAnimationBlendshapesDelta(_ContentEvent):
    type: Literal["response.animation_blendshapes.delta"] = "response.animation_blendshapes.delta"
    frames: list[list[float]] | str
    frame_index: int


class ServerEventResponseAnimationBlendshapesDone(ServerEvent):
    type: Literal["response.animation_blendshapes.done"] = "response.animation_blendshapes.done"
    response_id: str
    item_id: str
    output_index: int


class ServerEventResponseAnimationVisemeDelta(_ContentEvent):
    type: Literal["response.animation_viseme.delta"] = "response.animation_viseme.delta"
    audio_offset_ms: int
    viseme_id: int


class ServerEventResponseAnimationVisemeDone(_ContentEvent):
    type: Literal["response.animation_viseme.done"] = "response.animation_viseme.done"


class ServerEventResponseEmotionHypothesis(ServerEvent):
    type: Literal["response.emotion_hypothesis"] = "response.emotion_hypothesis"
    emotion: str
    candidates: list[dict[str, Any]] = Field(default_factory=list)
    audio_offset_ms: int
    audio_duration_ms: int
    response_id: str | None = None
    item_id: str


class ServerEventResponseVideoDelta(ServerEvent):
    type: Literal["response.video.delta"] = "response.video.delta"
    output_index: int
    codec: str
    delta: str


class ServerEventResponseInvocationDelta(ServerEvent):
    type: Literal["response.invocation.delta"] = "response.invocation.delta"
    delta: dict[str, Any]


# --- tool calls -----------------------------------------------------------------------------------


class _ItemEvent(ServerEvent):
    """An event about one output item of a response."""

    response_id: str
    item_id: str
    output_index: int


class ServerEventResponseFunctionCallArgumentsDelta(_ItemEvent):
    type: Literal["response.function_call_arguments.delta"] = "response.function_call_arguments.delta"
    call_id: str
    delta: str


class ServerEventResponseFunctionCallArgumentsDone(_ItemEvent):
    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    call_id: str
    arguments: str
    name: str


class ServerEventMcpListToolsInProgress(ServerEvent):
    type: Literal["mcp_list_tools.in_progress"] = "mcp_list_tools.in_progress"
    item_id: str


class ServerEventMcpListToolsCompleted(ServerEvent):
    type: Literal["mcp_list_tools.completed"] = "mcp_list_tools.completed"
    item_id: str


class ServerEventMcpListToolsFailed(ServerEvent):
    type: Literal["mcp_list_tools.failed"] = "mcp_list_tools.failed"
    item_id: str


class ServerEventResponseMcpCallArgumentsDelta(_ItemEvent):
    type: Literal["response.mcp_call_arguments.delta"] = "response.mcp_call_arguments.delta"
    delta: str
    obfuscation: str | None = None


class ServerEventResponseMcpCallArgumentsDone(_ItemEvent):
    type: Literal["response.mcp_call_arguments.done"] = "response.mcp_call_arguments.done"
    arguments: str | None = None


class ServerEventResponseMcpCallInProgress(ServerEvent):
    type: Literal["response.mcp_call.in_progress"] = "response.mcp_call.in_progress"
    item_id: str
    output_index: int


class ServerEventResponseMcpCallCompleted(ServerEvent):
    type: Literal["response.mcp_call.completed"] = "response.mcp_call.completed"
    item_id: str
    output_index: int


class ServerEventResponseMcpCallFailed(ServerEvent):
    type: Literal["response.mcp_call.failed"] = "response.mcp_call.failed"
    item_id: str
    output_index: int


class ServerEventResponseFoundryAgentCallArgumentsDelta(_ItemEvent):
    type: Literal["response.foundry_agent_call_arguments.delta"] = "response.foundry_agent_call_arguments.delta"
    delta: str


class ServerEventResponseFoundryAgentCallArgumentsDone(_ItemEvent):
    type: Literal["response.foundry_agent_call_arguments.done"] = "response.foundry_agent_call_arguments.done"
    arguments: str | None = None


class ServerEventResponseFoundryAgentCallInProgress(ServerEvent):
    type: Literal["response.foundry_agent_call.in_progress"] = "response.foundry_agent_call.in_progress"
    item_id: str
    output_index: int
    agent_response_id: str | None = None


class ServerEventResponseFoundryAgentCallCompleted(ServerEvent):
    type: Literal["response.foundry_agent_call.completed"] = "response.foundry_agent_call.completed"
    item_id: str
    output_index: int


class ServerEventResponseFoundryAgentCallFailed(ServerEvent):
    type: Literal["response.foundry_agent_call.failed"] = "response.foundry_agent_call.failed"
    item_id: str
    output_index: int


class _SearchCallEvent(_ItemEvent):
    sequence_number: int


class ServerEventResponseWebSearchCallInProgress(_SearchCallEvent):
    type: Literal["response.web_search_call.in_progress"] = "response.web_search_call.in_progress"


class ServerEventResponseWebSearchCallSearching(_SearchCallEvent):
    type: Literal["response.web_search_call.searching"] = "response.web_search_call.searching"


class ServerEventResponseWebSearchCallCompleted(_SearchCallEvent):
    type: Literal["response.web_search_call.completed"] = "response.web_search_call.completed"


class ServerEventResponseFileSearchCallInProgress(_SearchCallEvent):
    type: Literal["response.file_search_call.in_progress"] = "response.file_search_call.in_progress"


class ServerEventResponseFileSearchCallSearching(_SearchCallEvent):
    type: Literal["response.file_search_call.searching"] = "response.file_search_call.searching"


class ServerEventResponseFileSearchCallCompleted(_SearchCallEvent):
    type: Literal["response.file_search_call.completed"] = "response.file_search_call.completed"


SERVER_EVENTS: dict[str, type[ServerEvent]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        ServerEventError,
        ServerEventWarning,
        ServerEventSessionCreated,
        ServerEventSessionUpdated,
        ServerEventSessionAvatarConnecting,
        ServerEventSessionAvatarSwitchToSpeaking,
        ServerEventSessionAvatarSwitchToIdle,
        ServerEventConversationCreated,
        ServerEventRateLimitsUpdated,
        ServerEventConversationItemCreated,
        ServerEventConversationItemRetrieved,
        ServerEventConversationItemTruncated,
        ServerEventConversationItemDeleted,
        ServerEventConversationItemInputAudioTranscriptionCompleted,
        ServerEventConversationItemInputAudioTranscriptionDelta,
        ServerEventConversationItemInputAudioTranscriptionFailed,
        ServerEventInputAudioBufferCommitted,
        ServerEventInputAudioBufferCleared,
        ServerEventInputAudioBufferSpeechStarted,
        ServerEventInputAudioBufferSpeechStopped,
        ServerEventOutputAudioBufferCleared,
        ServerEventResponseCreated,
        ServerEventResponseDone,
        ServerEventResponseOutputItemAdded,
        ServerEventResponseOutputItemDone,
        ServerEventResponseContentPartAdded,
        ServerEventResponseContentPartDone,
        ServerEventResponseTextDelta,
        ServerEventResponseTextDone,
        ServerEventResponseAudioTranscriptDelta,
        ServerEventResponseAudioTranscriptDone,
        ServerEventResponseAudioTranscriptAnnotationAdded,
        ServerEventResponseAudioDelta,
        ServerEventResponseAudioDone,
        ServerEventResponseAudioTimestampDelta,
        ServerEventResponseAudioTimestampDone,
        ServerEventResponseAnimationBlendshapesDelta,
        ServerEventResponseAnimationBlendshapesDone,
        ServerEventResponseAnimationVisemeDelta,
        ServerEventResponseAnimationVisemeDone,
        ServerEventResponseEmotionHypothesis,
        ServerEventResponseVideoDelta,
        ServerEventResponseInvocationDelta,
        ServerEventResponseFunctionCallArgumentsDelta,
        ServerEventResponseFunctionCallArgumentsDone,
        ServerEventMcpListToolsInProgress,
        ServerEventMcpListToolsCompleted,
        ServerEventMcpListToolsFailed,
        ServerEventResponseMcpCallArgumentsDelta,
        ServerEventResponseMcpCallArgumentsDone,
        ServerEventResponseMcpCallInProgress,
        ServerEventResponseMcpCallCompleted,
        ServerEventResponseMcpCallFailed,
        ServerEventResponseFoundryAgentCallArgumentsDelta,
        ServerEventResponseFoundryAgentCallArgumentsDone,
        ServerEventResponseFoundryAgentCallInProgress,
        ServerEventResponseFoundryAgentCallCompleted,
        ServerEventResponseFoundryAgentCallFailed,
        ServerEventResponseWebSearchCallInProgress,
        ServerEventResponseWebSearchCallSearching,
        ServerEventResponseWebSearchCallCompleted,
        ServerEventResponseFileSearchCallInProgress,
        ServerEventResponseFileSearchCallSearching,
        ServerEventResponseFileSearchCallCompleted,
    )
}
"""Server event classes by wire ``type``."""
