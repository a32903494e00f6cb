"""``AudioPlayback``: keeps the assistant's audio per item and what of it was heard, for barge-in."""

from __future__ import annotations

import asyncio
import base64
import threading
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..protocol import ServerEventInputAudioBufferSpeechStarted, ServerEventResponseAudioDelta
from .handlers import SessionContext, SessionHandlers
from .session import VoiceLiveSession


@dataclass
class _ItemAudio:
    item_id: str
    audio: bytearray = field(default_factory=bytearray)
    start: float | None = None
    """When its playback began (monotonic seconds)."""


class AudioPlayback(SessionHandlers):
    """Subscribe it to a session: it keeps every item's audio, plays it (through ``sounddevice`` when
    ``speaker=True`` and the package is installed, else on a real-time clock), and when the user
    starts speaking it stops and truncates the item being played at what was heard.

    ``sample_rate``/``sample_width`` describe the session's output format (PCM16 at 24 kHz by default).
    """

    def __init__(
        self, session: VoiceLiveSession, *, sample_rate: int = 24_000, sample_width: int = 2, speaker: bool = False
    ) -> None:
        self.session = session
        self.sample_rate = sample_rate
        self.sample_width = sample_width
        self.items: dict[str, _ItemAudio] = {}
        self._order: deque[_ItemAudio] = deque()
        self._lock = threading.Lock()
        self._played_samples = 0
        self._stream: Any = None
        if speaker:
            import sounddevice  # type: ignore[import-not-found, import-untyped, unused-ignore]  # optional: pip install 'voxlive[audio]'

            self._stream = sounddevice.RawOutputStream(
                samplerate=sample_rate, channels=1, dtype="int16", callback=self._fill
            )
            self._stream.start()
        session.subscribe(self)

    def on_response_audio_delta(self, event: ServerEventResponseAudioDelta, context: SessionContext) -> None:
        with self._lock:
            item = self.items.get(event.item_id)
            if item is None:
                item = self.items[event.item_id] = _ItemAudio(event.item_id)
                self._order.append(item)
            if item.start is None:
                previous_end = max((self._end(other) for other in self._order if other is not item), default=0.0)
                item.start = max(time.monotonic(), previous_end)
            item.audio += base64.b64decode(event.delta)

    async def on_input_audio_buffer_speech_started(
        self, event: ServerEventInputAudioBufferSpeechStarted, context: SessionContext
    ) -> None:
        interrupted = self.stop()
        if interrupted is not None:
            await self.session.truncate_item(*interrupted)

    def played_ms(self, item_id: str) -> int:
        """How much of an item's audio has been played so far."""
        item = self.items[item_id]
        duration = self._duration(item)
        if item.start is None:
            return 0
        return int(min(duration, max(0.0, time.monotonic() - item.start)) * 1000)

    def stop(self) -> tuple[str, int] | None:
        """Stop playing; the item that was playing and the milliseconds of it heard, if one was."""
        with self._lock:
            now = time.monotonic()
            playing = next((i for i in self._order if i.start is not None and i.start <= now < self._end(i)), None)
            result = None if playing is None else (playing.item_id, self.played_ms(playing.item_id))
            for item in self._order:
                if item.start is not None and self._end(item) > now:
                    item.start = now - self._duration(item)  # what was not played never will be
            self._played_samples = 0
            return result

    def close(self) -> None:
        self.session.unsubscribe(self)
        if self._stream is not None:
            self._stream.close()

    def _duration(self, item: _ItemAudio) -> float:
        return len(item.audio) / self.sample_width / self.sample_rate

    def _end(self, item: _ItemAudio) -> float:
        return (item.start or 0.0) + self._duration(item)

    def _fill(self, out: Any, frames: int, time_info: Any, status: Any) -> None:
        """The sound card's callback: the audio due now, silence where there is none."""
        now = time.monotonic()
        buffer = np.zeros(frames, np.int16)
        with self._lock:
            for item in self._order:
                if item.start is None or self._end(item) <= now or item.start > now + frames / self.sample_rate:
                    continue
                first = int((now - item.start) * self.sample_rate)
                samples = np.frombuffer(bytes(item.audio), "<i2")[max(0, first) : max(0, first) + frames]
                buffer[: len(samples)] = samples
                break
        out[:] = buffer.tobytes()


class Microphone:
    """The default input device as an async stream of int16 mono chunks (needs ``sounddevice``).

    ``async for chunk in Microphone(): await session.send_audio(chunk)``
    """

    def __init__(self, *, sample_rate: int = 24_000, chunk_ms: int = 50, device: int | str | None = None) -> None:
        self.sample_rate = sample_rate
        self.blocksize = sample_rate * chunk_ms // 1000
        self.device = device

    async def __aiter__(self) -> AsyncIterator[np.ndarray]:
        import sounddevice  # optional: pip install 'voxlive[audio]'

        loop = asyncio.get_running_loop()
        chunks: asyncio.Queue[np.ndarray] = asyncio.Queue(maxsize=100)

        def captured(data: Any, frames: int, time_info: Any, status: Any) -> None:
            chunk = np.frombuffer(bytes(data), "<i2").copy()
            loop.call_soon_threadsafe(lambda: None if chunks.full() else chunks.put_nowait(chunk))

        with sounddevice.RawInputStream(
            samplerate=self.sample_rate, channels=1, dtype="int16", blocksize=self.blocksize,
            device=self.device, callback=captured,
        ):  # fmt: skip
            while True:
                yield await chunks.get()
