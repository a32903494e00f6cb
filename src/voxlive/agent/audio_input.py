"""``AudioInput``: the user's audio files, checked, decoded, put in the conversation and transcribed there."""

from __future__ import annotations

import asyncio
import base64
import binascii
from collections.abc import Callable

from ..protocol import (
    ClientEventConversationItemDelete,
    ClientEventInputAudioBufferAppend,
    ClientEventInputAudioBufferCommit,
    MessageItem,
    ServerEvent,
    ServerEventConversationItemInputAudioTranscriptionCompleted,
    ServerEventConversationItemInputAudioTranscriptionFailed,
    ServerEventInputAudioBufferCommitted,
)
from ..realtime.session import RealtimeSession
from ..speech import audio as pcm
from ..speech import files
from ..speech.stt import STT
from .events import AgentError, AgentEvent, AgentWarning, AudioReceived, Transcription, TranscriptionError

TranscriptionResult = (
    ServerEventConversationItemInputAudioTranscriptionCompleted
    | ServerEventConversationItemInputAudioTranscriptionFailed
)


class AudioInput:
    """Audio files in (WAV, MP3, Ogg/Opus, WebM…, as bytes or base64) of at most ``max_seconds``; a problem is
    an ``error`` or ``warning`` event."""

    def __init__(self, emit: Callable[[AgentEvent], object], max_seconds: float) -> None:
        self._emit = emit
        self.max_seconds = max_seconds
        self._committed: str | None = None
        self._waiting: dict[str, asyncio.Future[TranscriptionResult]] = {}

    def on_server_event(self, event: ServerEvent) -> None:
        """The engine's committed audio items and their transcriptions."""
        if isinstance(event, ServerEventInputAudioBufferCommitted):
            self._committed = event.item_id
        elif isinstance(event, TranscriptionResult):
            waiting = self._waiting.pop(event.item_id, None)
            if waiting is not None and not waiting.done():
                waiting.set_result(event)

    def data(self, audio: bytes | str, max_size: int) -> bytes | None:
        """The audio as bytes (at most ``max_size``), or ``None`` (with an ``error`` or ``warning``) when it cannot
        be used."""
        try:
            data = base64.b64decode(audio, validate=True) if isinstance(audio, str) else bytes(audio)
        except (binascii.Error, ValueError):
            self._emit(AgentError(error=ValueError("Audio input is not valid base64.")))
            return None
        if len(data) > max_size:
            megabytes, limit = len(data) / 1024 / 1024, max_size / 1024 / 1024
            error = ValueError(f"Audio input too large ({megabytes:.1f} MB). Maximum allowed: {limit:.1f} MB")
            self._emit(AgentError(error=error))
            return None
        if not data:
            self._emit(AgentWarning(message="Received empty audio data"))
            return None
        return data

    async def hear(self, session: RealtimeSession, data: bytes, format: str | None) -> tuple[MessageItem, str] | None:
        """Put the audio in the conversation as the user's turn, and wait for its transcript (a ``transcription``
        event): the item and its words. ``None`` (with a ``transcription_error``) when it has no words: the item
        is then left out."""
        self._emit(AudioReceived(size=len(data), format=format))
        try:
            samples = pcm.to_int16(await asyncio.to_thread(files.read, data, self.max_seconds))
        except Exception as exc:
            self._emit(AgentError(error=ValueError(f"The audio could not be decoded: {exc}")))
            self._emit(TranscriptionError(error=f"Transcription failed: {exc}"))
            return None
        encoded = base64.b64encode(samples.astype("<i2").tobytes()).decode()
        await session.handle(ClientEventInputAudioBufferAppend(audio=encoded))
        self._committed = None
        await session.handle(ClientEventInputAudioBufferCommit())
        item_id = self._committed
        if item_id is None:
            return None  # too short to commit: the engine said so in an error event
        waiting: asyncio.Future[TranscriptionResult] = asyncio.get_running_loop().create_future()
        self._waiting[item_id] = waiting
        result = await waiting
        if isinstance(result, ServerEventConversationItemInputAudioTranscriptionFailed):
            self._emit(TranscriptionError(error=f"Transcription failed: {result.error.message}"))
            return None
        text = result.transcript.strip()
        if not text:
            await session.handle(ClientEventConversationItemDelete(item_id=item_id))
            self._emit(AgentWarning(message="Transcription returned empty text"))
            self._emit(TranscriptionError(error="Transcription returned empty text"))
            return None
        heard = session.heard_transcript(item_id)
        self._emit(Transcription(text=text, language=heard.language if heard is not None else None))
        item = session.conversation.get(item_id)
        assert isinstance(item, MessageItem)
        return item, text

    async def transcribe(self, data: bytes, stt: STT) -> str:
        """The words in an audio file, as a ``transcription`` event too."""
        audio = await asyncio.to_thread(files.read, data, self.max_seconds)
        transcript = await stt.transcribe(audio)
        self._emit(Transcription(text=transcript.text, language=transcript.language))
        return transcript.text
