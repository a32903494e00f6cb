"""``TurnDetector``: where speech starts and when the user's turn ends, from VAD frames."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..speech.audio import STAGE_RATE, to_float
from ..speech.vad import FRAME_SAMPLES, VADStream


@dataclass(frozen=True, slots=True)
class SpeechStarted:
    start: int
    """Sample (16 kHz, from the start of the session's audio) where the turn begins, prefix padding included."""


@dataclass(frozen=True, slots=True)
class SilenceStarted:
    at: int
    """A pause began: a tentative end of the turn."""


@dataclass(frozen=True, slots=True)
class SpeechResumed:
    at: int


@dataclass(frozen=True, slots=True)
class SpeechStopped:
    end: int
    """Sample where speech stopped (the start of the silence that ended the turn)."""


TurnEvent = SpeechStarted | SilenceStarted | SpeechResumed | SpeechStopped

GUARDED_THRESHOLD = 0.85
GUARDED_SPEECH_MS = 300
GUARDED_LOOKBACK_MS = 500
"""Over the agent's voice the first syllables score low: a guarded start reaches this much further back."""


def ms_to_samples(ms: float) -> int:
    return int(ms * STAGE_RATE / 1000)


class TurnDetector:
    """Hysteresis over Silero speech probabilities, frame by frame.

    Speech starts after ``speech_duration_ms`` of frames at or above ``threshold``; it pauses when
    the probability falls below ``threshold - 0.15``, and the turn ends once the pause has lasted
    ``silence_limit`` samples. The limit may be changed while a pause runs (semantic end of
    utterance shortens or extends it).
    """

    def __init__(
        self,
        vad: VADStream,
        *,
        threshold: float = 0.5,
        prefix_padding_ms: int = 300,
        silence_duration_ms: int = 500,
        speech_duration_ms: int | None = None,
        guarded: Callable[[], bool] | None = None,
    ) -> None:
        self.vad = vad
        self.guarded = guarded
        """True while the agent's own voice may leak into the input: a start of speech then needs
        ``GUARDED_THRESHOLD`` and ``GUARDED_SPEECH_MS`` (residual echo is faint and short-lived)."""
        self.threshold = threshold
        self.prefix = ms_to_samples(prefix_padding_ms)
        self.silence_limit = ms_to_samples(silence_duration_ms)
        self.min_speech = max(FRAME_SAMPLES, ms_to_samples(speech_duration_ms if speech_duration_ms else 64))
        self.position = 0
        """Samples scored so far (the session's audio clock)."""
        self.speaking = False
        self.silence_start: int | None = None
        self._pending = np.zeros(0, np.float32)
        self._speech_run = 0
        self._speech_run_start = 0

    @property
    def silence(self) -> int:
        """Samples of the current pause (0 when none)."""
        return 0 if self.silence_start is None else self.position - self.silence_start

    def process(self, samples: np.ndarray) -> list[TurnEvent]:
        """Score new 16 kHz int16 audio; the turn events it brings, in order."""
        self._pending = np.concatenate([self._pending, to_float(samples)])
        events: list[TurnEvent] = []
        while len(self._pending) >= FRAME_SAMPLES:
            frame, self._pending = self._pending[:FRAME_SAMPLES], self._pending[FRAME_SAMPLES:]
            start = self.position
            self.position += FRAME_SAMPLES
            events += self._frame(self.vad.process(frame), start)
        return events

    def check(self) -> list[TurnEvent]:
        """Apply a changed ``silence_limit`` without new audio."""
        if self.speaking and self.silence_start is not None and self.silence >= self.silence_limit:
            return [self._stop()]
        return []

    def _frame(self, probability: float, start: int) -> list[TurnEvent]:
        """One scored frame beginning at sample ``start`` (``position`` is already past it)."""
        if not self.speaking:
            guarded = self.guarded is not None and self.guarded()
            threshold = max(self.threshold, GUARDED_THRESHOLD) if guarded else self.threshold
            if probability < threshold:
                self._speech_run = 0
                return []
            if self._speech_run == 0:
                self._speech_run_start = start
            self._speech_run += FRAME_SAMPLES
            if self._speech_run < (
                max(self.min_speech, ms_to_samples(GUARDED_SPEECH_MS)) if guarded else self.min_speech
            ):
                return []
            self.speaking = True
            self._speech_run = 0
            lookback = self.prefix + (ms_to_samples(GUARDED_LOOKBACK_MS) if guarded else 0)
            return [SpeechStarted(max(0, self._speech_run_start - lookback))]
        if probability >= self.threshold:
            if self.silence_start is None:
                return []
            self.silence_start = None
            return [SpeechResumed(start)]
        events: list[TurnEvent] = []
        if self.silence_start is None:
            if probability >= self.threshold - 0.15:
                return []
            self.silence_start = start
            events.append(SilenceStarted(start))
        return events + self.check()

    def _stop(self) -> SpeechStopped:
        assert self.silence_start is not None
        end = self.silence_start
        self.speaking = False
        self.silence_start = None
        return SpeechStopped(end)

    def reset(self) -> None:
        """Forget the current turn (the buffer was cleared)."""
        self.speaking = False
        self.silence_start = None
        self._speech_run = 0
