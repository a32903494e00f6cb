"""Server events about a response: its lifecycle, output items, content parts, text, audio and animation."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from ..items import ContentPart, Item
from ..responses import Response
from .base import ServerEvent


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


EVENTS: tuple[type[ServerEvent], ...] = (
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
)
"""The events of this family, in the order ``SERVER_EVENTS`` lists them."""
