"""``InputAudioBuffer``: the user's audio since the last commit, at the stages' rate, bounded."""

from __future__ import annotations

import numpy as np

from ..protocol import ProtocolError
from ..speech.audio import STAGE_RATE


class InputAudioBuffer:
    """16 kHz int16 audio on the session's audio clock (samples since the session's first append).

    ``start`` is the clock position of the first buffered sample; ``end`` of the last. A buffer
    that would pass ``max_seconds`` refuses the append with an error rather than grow without bound.
    """

    def __init__(self, max_seconds: float = 600.0) -> None:
        self.max_samples = int(max_seconds * STAGE_RATE)
        self._blocks: list[np.ndarray] = []
        self._size = 0
        self.start = 0

    @property
    def end(self) -> int:
        return self.start + self._size

    def __len__(self) -> int:
        return self._size

    def append(self, samples: np.ndarray) -> None:
        if self._size + len(samples) > self.max_samples:
            raise ProtocolError(
                f"The input audio buffer is full ({self.max_samples // STAGE_RATE} s): commit or clear it.",
                code="input_audio_buffer_full",
            )
        if len(samples):
            self._blocks.append(np.asarray(samples, np.int16))
            self._size += len(samples)

    def audio(self, start: int | None = None, end: int | None = None) -> np.ndarray:
        """The buffered samples between two clock positions (default: all)."""
        whole = np.concatenate(self._blocks) if self._blocks else np.zeros(0, np.int16)
        self._blocks = [whole] if len(whole) else []
        first = max(0, (start if start is not None else self.start) - self.start)
        last = (end if end is not None else self.end) - self.start
        return whole[first:last]

    def drop_before(self, position: int) -> None:
        """Forget the audio before a clock position."""
        if position <= self.start:
            return
        end = self.end
        kept = self.audio(position)
        self._blocks = [kept] if len(kept) else []
        self._size = len(kept)
        self.start = min(position, end)

    def take(self, start: int | None = None) -> np.ndarray:
        """Everything from ``start`` (default: the beginning) to now, emptying the buffer."""
        taken = self.audio(start)
        self.clear()
        return taken

    def clear(self) -> None:
        self.start = self.end
        self._blocks = []
        self._size = 0
