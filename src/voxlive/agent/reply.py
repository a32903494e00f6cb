"""``ReplyObserver``: the engine's view of the agent's responses (its ``ResponseObserver``) as the agent's events."""

from __future__ import annotations

import base64
import itertools
from collections import deque
from collections.abc import Callable

from ..speech import files
from ..speech.tts import Speech
from .events import (
    AgentEvent,
    AudioChunk,
    ReasoningDelta,
    SpeechChunkQueued,
    SpeechComplete,
    SpeechInterrupted,
    SpeechStart,
    TextDelta,
)

OUTPUT_FORMATS = {"wav": "wav", "pcm16": "pcm", "mp3": "mp3", "opus": "opus"}
"""The agent's audio formats, and the file format each is written as (``pcm16``: raw 16-bit, 24 kHz)."""


def audio_file(speech: Speech, output_format: str) -> bytes:
    """``speech`` as a file in one of the agent's ``OUTPUT_FORMATS``."""
    return files.write(speech.audio, speech.sample_rate, OUTPUT_FORMATS[output_format])


class ReplyObserver:
    """A turn's reply as it is written (``chunk:text_delta``) and spoken: each piece of it is numbered when it
    is queued for speech and sent as an ``audio_chunk`` once synthesized, between one ``speech_start`` and one
    ``speech_complete``. Once silenced, nothing more of the turn's reply is spoken."""

    def __init__(self, emit: Callable[[AgentEvent], object], output_format: str) -> None:
        self._emit = emit
        self._format = output_format
        self._chunk_ids = itertools.count()
        self._queued: deque[int] = deque()
        self._written: list[str] = []
        self._silenced = False
        self.speaking = False

    def start(self) -> None:
        """A new turn's reply: nothing written yet, and it may be spoken."""
        self._written, self._silenced = [], False

    @property
    def written(self) -> str:
        """What the model wrote of the reply so far."""
        return "".join(self._written)

    @property
    def pending(self) -> int:
        """Pieces queued for speech and not spoken yet."""
        return len(self._queued)

    def text(self, item_id: str, delta: str) -> None:
        self._written.append(delta)
        self._emit(TextDelta(id=item_id, text=delta))

    def reasoning(self, response_id: str, delta: str) -> None:
        self._emit(ReasoningDelta(id=response_id, text=delta))

    def piece_queued(self, item_id: str, text: str) -> None:
        if self._silenced:
            return
        chunk_id = next(self._chunk_ids)
        self._queued.append(chunk_id)
        self._emit(SpeechChunkQueued(id=chunk_id, text=text.strip()))
        if not self.speaking:
            self.speaking = True
            self._emit(SpeechStart(streaming=True))

    def piece_sent(self, item_id: str, text: str, speech: Speech) -> None:
        if self._silenced or not self._queued:
            return
        chunk_id = self._queued.popleft()
        data = audio_file(speech, self._format)
        self._emit(
            AudioChunk(
                chunk_id=chunk_id,
                data=base64.b64encode(data).decode(),
                format=self._format,
                text=text.strip(),
                uint8_array=data,
            )
        )

    def finish(self) -> None:
        """The reply is over: its speech is complete, if it was speaking."""
        if self.speaking:
            self.speaking = False
            self._emit(SpeechComplete(streaming=True))

    def silence(self, reason: str) -> None:
        """Speak no more of this reply; ``speech_interrupted`` if some of it was being spoken or waiting to be."""
        self._silenced = True
        if not (self.speaking or self._queued):
            return
        self.speaking = False
        self._queued.clear()
        self._emit(SpeechInterrupted(reason=reason))
