"""``SessionHandlers``: one optional, typed handler per server event, plus the connection's own events.

Subclass it and define the handlers you care about, as ``def`` or ``async def``. ``on_server_event`` is
called for every server event (unknown ones too) before the specific handler.
"""

from __future__ import annotations

from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import datetime

from ..protocol import (
    ServerEvent,
    ServerEventConversationCreated,
    ServerEventConversationItemCreated,
    ServerEventConversationItemDeleted,
    ServerEventConversationItemInputAudioTranscriptionCompleted,
    ServerEventConversationItemInputAudioTranscriptionDelta,
    ServerEventConversationItemInputAudioTranscriptionFailed,
    ServerEventConversationItemRetrieved,
    ServerEventConversationItemTruncated,
    ServerEventError,
    ServerEventInputAudioBufferCleared,
    ServerEventInputAudioBufferCommitted,
    ServerEventInputAudioBufferSpeechStarted,
    ServerEventInputAudioBufferSpeechStopped,
    ServerEventMcpListToolsCompleted,
    ServerEventMcpListToolsFailed,
    ServerEventMcpListToolsInProgress,
    ServerEventResponseAnimationBlendshapesDelta,
    ServerEventResponseAnimationBlendshapesDone,
    ServerEventResponseAnimationVisemeDelta,
    ServerEventResponseAnimationVisemeDone,
    ServerEventResponseAudioDelta,
    ServerEventResponseAudioDone,
    ServerEventResponseAudioTimestampDelta,
    ServerEventResponseAudioTimestampDone,
    ServerEventResponseAudioTranscriptDelta,
    ServerEventResponseAudioTranscriptDone,
    ServerEventResponseContentPartAdded,
    ServerEventResponseContentPartDone,
    ServerEventResponseCreated,
    ServerEventResponseDone,
    ServerEventResponseFunctionCallArgumentsDelta,
    ServerEventResponseFunctionCallArgumentsDone,
    ServerEventResponseMcpCallArgumentsDelta,
    ServerEventResponseMcpCallArgumentsDone,
    ServerEventResponseMcpCallCompleted,
    ServerEventResponseMcpCallFailed,
    ServerEventResponseMcpCallInProgress,
    ServerEventResponseOutputItemAdded,
    ServerEventResponseOutputItemDone,
    ServerEventResponseTextDelta,
    ServerEventResponseTextDone,
    ServerEventSessionAvatarConnecting,
    ServerEventSessionCreated,
    ServerEventSessionUpdated,
    ServerEventWarning,
)

HandlerResult = Awaitable[None] | None
"""A handler returns nothing, or an awaitable (an ``async def`` handler)."""


@dataclass(frozen=True)
class ConnectionContext:
    """Where a connection goes, and what it has become so far."""

    endpoint: str
    session_id: str | None
    model: str | None
    timestamp: datetime
    agent_name: str | None = None


@dataclass(frozen=True)
class SessionContext(ConnectionContext):
    """A ``ConnectionContext`` of a session the server has created: ``session_id`` is known."""

    session_id: str
    conversation_id: str | None = None


@dataclass(frozen=True)
class ConnectedEventArgs:
    connection_id: str
    timestamp: datetime


@dataclass(frozen=True)
class DisconnectedEventArgs:
    code: int
    reason: str
    was_clean: bool
    timestamp: datetime


@dataclass(frozen=True)
class ErrorEventArgs:
    error: BaseException
    context: str
    """What the session was doing: ``"connection"``, ``"handler"``, ``"receive"``, ``"reconnect"``."""
    recoverable: bool
    timestamp: datetime


class SessionHandlers:
    """Every handler does nothing until a subclass defines it."""

    def on_connected(self, args: ConnectedEventArgs, context: ConnectionContext) -> HandlerResult:
        """Called when the session connects successfully."""

    def on_disconnected(self, args: DisconnectedEventArgs, context: ConnectionContext) -> HandlerResult:
        """Called when the connection closes unexpectedly; in fail-fast mode the session is then dead."""

    def on_error(self, args: ErrorEventArgs, context: ConnectionContext) -> HandlerResult:
        """Called on a failure: a handler that raised (recoverable), or a lost connection (not recoverable)."""

    def on_server_event(self, event: ServerEvent, context: SessionContext) -> HandlerResult:
        """Called for every server event, in addition to its specific handler."""

    def on_server_error(self, event: ServerEventError, context: SessionContext) -> HandlerResult:
        """Called when an error event is received from the server."""

    def on_warning(self, event: ServerEventWarning, context: SessionContext) -> HandlerResult:
        """Called when the server warns of something that did not stop the session."""

    def on_session_created(self, event: ServerEventSessionCreated, context: SessionContext) -> HandlerResult:
        """Called when the session is created on the server."""

    def on_session_updated(self, event: ServerEventSessionUpdated, context: SessionContext) -> HandlerResult:
        """Called when the session configuration is updated."""

    def on_conversation_created(self, event: ServerEventConversationCreated, context: SessionContext) -> HandlerResult:
        """Called when the session's conversation is created or resumed (its id resumes it after a reconnect)."""

    def on_session_avatar_connecting(
        self, event: ServerEventSessionAvatarConnecting, context: SessionContext
    ) -> HandlerResult:
        """Called when the server is establishing an avatar media connection."""

    def on_conversation_item_created(
        self, event: ServerEventConversationItemCreated, context: SessionContext
    ) -> HandlerResult:
        """Called when a conversation item is created."""

    def on_conversation_item_retrieved(
        self, event: ServerEventConversationItemRetrieved, context: SessionContext
    ) -> HandlerResult:
        """Called when a conversation item is retrieved."""

    def on_conversation_item_truncated(
        self, event: ServerEventConversationItemTruncated, context: SessionContext
    ) -> HandlerResult:
        """Called when a conversation item is truncated."""

    def on_conversation_item_deleted(
        self, event: ServerEventConversationItemDeleted, context: SessionContext
    ) -> HandlerResult:
        """Called when a conversation item is deleted."""

    def on_conversation_item_input_audio_transcription_delta(
        self, event: ServerEventConversationItemInputAudioTranscriptionDelta, context: SessionContext
    ) -> HandlerResult:
        """Called when input audio transcription delta is received."""

    def on_conversation_item_input_audio_transcription_completed(
        self, event: ServerEventConversationItemInputAudioTranscriptionCompleted, context: SessionContext
    ) -> HandlerResult:
        """Called when input audio transcription is completed."""

    def on_conversation_item_input_audio_transcription_failed(
        self, event: ServerEventConversationItemInputAudioTranscriptionFailed, context: SessionContext
    ) -> HandlerResult:
        """Called when input audio transcription fails."""

    def on_input_audio_buffer_committed(
        self, event: ServerEventInputAudioBufferCommitted, context: SessionContext
    ) -> HandlerResult:
        """Called when the input audio buffer is committed."""

    def on_input_audio_buffer_cleared(
        self, event: ServerEventInputAudioBufferCleared, context: SessionContext
    ) -> HandlerResult:
        """Called when the input audio buffer is cleared."""

    def on_input_audio_buffer_speech_started(
        self, event: ServerEventInputAudioBufferSpeechStarted, context: SessionContext
    ) -> HandlerResult:
        """Called when speech is detected in the user's audio input."""

    def on_input_audio_buffer_speech_stopped(
        self, event: ServerEventInputAudioBufferSpeechStopped, context: SessionContext
    ) -> HandlerResult:
        """Called when speech stops being detected in the user's audio input."""

    def on_response_created(self, event: ServerEventResponseCreated, context: SessionContext) -> HandlerResult:
        """Called when a response is created by the assistant."""

    def on_response_done(self, event: ServerEventResponseDone, context: SessionContext) -> HandlerResult:
        """Called when a response is completed by the assistant."""

    def on_response_output_item_added(
        self, event: ServerEventResponseOutputItemAdded, context: SessionContext
    ) -> HandlerResult:
        """Called when a new output item is added to a response."""

    def on_response_output_item_done(
        self, event: ServerEventResponseOutputItemDone, context: SessionContext
    ) -> HandlerResult:
        """Called when an output item is completed."""

    def on_response_content_part_added(
        self, event: ServerEventResponseContentPartAdded, context: SessionContext
    ) -> HandlerResult:
        """Called when a new content part is added to a response."""

    def on_response_content_part_done(
        self, event: ServerEventResponseContentPartDone, context: SessionContext
    ) -> HandlerResult:
        """Called when a content part is completed."""

    def on_response_text_delta(self, event: ServerEventResponseTextDelta, context: SessionContext) -> HandlerResult:
        """Called when text data is received from the assistant (streaming text response)."""

    def on_response_text_done(self, event: ServerEventResponseTextDone, context: SessionContext) -> HandlerResult:
        """Called when a text response is completed."""

    def on_response_audio_delta(self, event: ServerEventResponseAudioDelta, context: SessionContext) -> HandlerResult:
        """Called when audio data is received from the assistant (streaming audio response)."""

    def on_response_audio_done(self, event: ServerEventResponseAudioDone, context: SessionContext) -> HandlerResult:
        """Called when an audio response is completed."""

    def on_response_audio_transcript_delta(
        self, event: ServerEventResponseAudioTranscriptDelta, context: SessionContext
    ) -> HandlerResult:
        """Called when audio transcript data is received (what the assistant said as text)."""

    def on_response_audio_transcript_done(
        self, event: ServerEventResponseAudioTranscriptDone, context: SessionContext
    ) -> HandlerResult:
        """Called when an audio transcript is completed."""

    def on_response_audio_timestamp_delta(
        self, event: ServerEventResponseAudioTimestampDelta, context: SessionContext
    ) -> HandlerResult:
        """Called when audio timestamp data is received."""

    def on_response_audio_timestamp_done(
        self, event: ServerEventResponseAudioTimestampDone, context: SessionContext
    ) -> HandlerResult:
        """Called when audio timestamp data is completed."""

    def on_response_animation_viseme_delta(
        self, event: ServerEventResponseAnimationVisemeDelta, context: SessionContext
    ) -> HandlerResult:
        """Called when animation viseme data is received."""

    def on_response_animation_viseme_done(
        self, event: ServerEventResponseAnimationVisemeDone, context: SessionContext
    ) -> HandlerResult:
        """Called when animation viseme data is completed."""

    def on_response_animation_blendshape_delta(
        self, event: ServerEventResponseAnimationBlendshapesDelta, context: SessionContext
    ) -> HandlerResult:
        """Called when animation blendshape data is received."""

    def on_response_animation_blendshape_done(
        self, event: ServerEventResponseAnimationBlendshapesDone, context: SessionContext
    ) -> HandlerResult:
        """Called when animation blendshape data is completed."""

    def on_response_function_call_arguments_delta(
        self, event: ServerEventResponseFunctionCallArgumentsDelta, context: SessionContext
    ) -> HandlerResult:
        """Called when function call arguments are received (streaming)."""

    def on_response_function_call_arguments_done(
        self, event: ServerEventResponseFunctionCallArgumentsDone, context: SessionContext
    ) -> HandlerResult:
        """Called when function call arguments are completed."""

    def on_mcp_list_tools_in_progress(
        self, event: ServerEventMcpListToolsInProgress, context: SessionContext
    ) -> HandlerResult:
        """Called when MCP tool listing is in progress."""

    def on_mcp_list_tools_completed(
        self, event: ServerEventMcpListToolsCompleted, context: SessionContext
    ) -> HandlerResult:
        """Called when MCP tool listing is completed."""

    def on_mcp_list_tools_failed(self, event: ServerEventMcpListToolsFailed, context: SessionContext) -> HandlerResult:
        """Called when MCP tool listing fails."""

    def on_response_mcp_call_arguments_delta(
        self, event: ServerEventResponseMcpCallArgumentsDelta, context: SessionContext
    ) -> HandlerResult:
        """Called when MCP call arguments are received (streaming)."""

    def on_response_mcp_call_arguments_done(
        self, event: ServerEventResponseMcpCallArgumentsDone, context: SessionContext
    ) -> HandlerResult:
        """Called when MCP call arguments are completed."""

    def on_response_mcp_call_in_progress(
        self, event: ServerEventResponseMcpCallInProgress, context: SessionContext
    ) -> HandlerResult:
        """Called when an MCP call is in progress."""

    def on_response_mcp_call_completed(
        self, event: ServerEventResponseMcpCallCompleted, context: SessionContext
    ) -> HandlerResult:
        """Called when an MCP call is completed."""

    def on_response_mcp_call_failed(
        self, event: ServerEventResponseMcpCallFailed, context: SessionContext
    ) -> HandlerResult:
        """Called when an MCP call fails."""


EVENT_HANDLERS: dict[str, str] = {
    "error": "on_server_error",
    "warning": "on_warning",
    "session.created": "on_session_created",
    "session.updated": "on_session_updated",
    "conversation.created": "on_conversation_created",
    "session.avatar.connecting": "on_session_avatar_connecting",
    "conversation.item.created": "on_conversation_item_created",
    "conversation.item.retrieved": "on_conversation_item_retrieved",
    "conversation.item.truncated": "on_conversation_item_truncated",
    "conversation.item.deleted": "on_conversation_item_deleted",
    "conversation.item.input_audio_transcription.delta": "on_conversation_item_input_audio_transcription_delta",
    "conversation.item.input_audio_transcription.completed": "on_conversation_item_input_audio_transcription_completed",
    "conversation.item.input_audio_transcription.failed": "on_conversation_item_input_audio_transcription_failed",
    "input_audio_buffer.committed": "on_input_audio_buffer_committed",
    "input_audio_buffer.cleared": "on_input_audio_buffer_cleared",
    "input_audio_buffer.speech_started": "on_input_audio_buffer_speech_started",
    "input_audio_buffer.speech_stopped": "on_input_audio_buffer_speech_stopped",
    "response.created": "on_response_created",
    "response.done": "on_response_done",
    "response.output_item.added": "on_response_output_item_added",
    "response.output_item.done": "on_response_output_item_done",
    "response.content_part.added": "on_response_content_part_added",
    "response.content_part.done": "on_response_content_part_done",
    "response.text.delta": "on_response_text_delta",
    "response.text.done": "on_response_text_done",
    "response.audio.delta": "on_response_audio_delta",
    "response.audio.done": "on_response_audio_done",
    "response.audio_transcript.delta": "on_response_audio_transcript_delta",
    "response.audio_transcript.done": "on_response_audio_transcript_done",
    "response.audio_timestamp.delta": "on_response_audio_timestamp_delta",
    "response.audio_timestamp.done": "on_response_audio_timestamp_done",
    "response.animation_viseme.delta": "on_response_animation_viseme_delta",
    "response.animation_viseme.done": "on_response_animation_viseme_done",
    "response.animation_blendshapes.delta": "on_response_animation_blendshape_delta",
    "response.animation_blendshapes.done": "on_response_animation_blendshape_done",
    "response.function_call_arguments.delta": "on_response_function_call_arguments_delta",
    "response.function_call_arguments.done": "on_response_function_call_arguments_done",
    "mcp_list_tools.in_progress": "on_mcp_list_tools_in_progress",
    "mcp_list_tools.completed": "on_mcp_list_tools_completed",
    "mcp_list_tools.failed": "on_mcp_list_tools_failed",
    "response.mcp_call_arguments.delta": "on_response_mcp_call_arguments_delta",
    "response.mcp_call_arguments.done": "on_response_mcp_call_arguments_done",
    "response.mcp_call.in_progress": "on_response_mcp_call_in_progress",
    "response.mcp_call.completed": "on_response_mcp_call_completed",
    "response.mcp_call.failed": "on_response_mcp_call_failed",
}
"""The specific handler of each server event type."""
