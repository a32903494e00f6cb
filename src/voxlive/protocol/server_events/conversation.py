"""Server events about conversation items, and the transcription of the user's audio in them."""

from __future__ import annotations

from typing import Any, Literal

from ..items import Item
from ..responses import ErrorDetails, LogProbProperties, TranscriptionPhrase
from .base import ServerEvent


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


EVENTS: tuple[type[ServerEvent], ...] = (
    ServerEventConversationItemCreated,
    ServerEventConversationItemRetrieved,
    ServerEventConversationItemTruncated,
    ServerEventConversationItemDeleted,
    ServerEventConversationItemInputAudioTranscriptionCompleted,
    ServerEventConversationItemInputAudioTranscriptionDelta,
    ServerEventConversationItemInputAudioTranscriptionFailed,
)
"""The events of this family, in the order ``SERVER_EVENTS`` lists them."""
