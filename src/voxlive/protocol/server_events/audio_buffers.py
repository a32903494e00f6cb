"""Server events about the input and output audio buffers."""

from __future__ import annotations

from typing import Literal

from .base import ServerEvent


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


EVENTS: tuple[type[ServerEvent], ...] = (
    ServerEventInputAudioBufferCommitted,
    ServerEventInputAudioBufferCleared,
    ServerEventInputAudioBufferSpeechStarted,
    ServerEventInputAudioBufferSpeechStopped,
    ServerEventOutputAudioBufferCleared,
)
"""The events of this family, in the order ``SERVER_EVENTS`` lists them."""
