"""``AudioIntake``: the client's audio as it arrives — decoded to the stages' rate, paced, its arrival times kept."""

from __future__ import annotations

import base64
import time
from collections import deque

import numpy as np

from ..protocol import ProtocolError, ResponseSession
from ..speech import audio as pcm

ARRIVALS_KEPT = 500


class AudioIntake:
    """Decodes appended audio from the session's input format to 16 kHz int16, refuses audio that would put the
    session's audio clock more than ``max_ahead_seconds`` ahead of real time, and remembers when the latest
    appends arrived (a turn's speech ends when its last audio arrived)."""

    def __init__(self, max_ahead_seconds: float = 60.0) -> None:
        self.max_ahead_seconds = max_ahead_seconds
        self._clock_start: float | None = None
        """When the first audio arrived: the audio clock may not run further ahead of it than ``max_ahead_seconds``."""
        self._format: tuple[str, int] | None = None
        self._resampler: pcm.StreamResampler | None = None
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=ARRIVALS_KEPT)
        """(clock position the audio reached, when it arrived), for the latest appends."""

    def configure(self, session: ResponseSession) -> None:
        """Follow the session's input format (and sampling rate)."""
        name = session.input_audio_format or "pcm16"
        fmt = (name, pcm.input_rate(name, session.input_audio_sampling_rate))
        if fmt != self._format:
            self._format = fmt
            self._resampler = pcm.StreamResampler(fmt[1], pcm.STAGE_RATE)

    def decode(self, data: str, clock: int) -> np.ndarray:
        """Base64 audio in the input format as 16 kHz int16, to go on the audio clock at ``clock``."""
        assert self._format is not None and self._resampler is not None
        try:
            samples = pcm.decode(pcm.decode_base64(data), self._format[0])
        except pcm.AudioFormatError as exc:
            raise ProtocolError(str(exc), code="invalid_audio", param="audio") from None
        samples = self._resampler.process(samples)
        self._check_pace(clock + len(samples))
        return samples

    def _check_pace(self, clock: int) -> None:
        """Refuse audio that would put the session's audio clock too far ahead of real time."""
        now = time.monotonic()
        if self._clock_start is None:
            self._clock_start = now
        ahead = clock / pcm.STAGE_RATE - (now - self._clock_start)
        if ahead > self.max_ahead_seconds:
            raise ProtocolError(
                f"Audio is arriving faster than real time ({ahead:.0f} s ahead; the limit is "
                f"{self.max_ahead_seconds:.0f} s): this audio was dropped. Send it at the pace it is spoken.",
                code="audio_too_fast",
                param="audio",
            )

    def arrived(self, clock: int) -> None:
        """The audio up to ``clock`` arrived now."""
        self._arrivals.append((clock, time.monotonic()))

    def arrival(self, position: int) -> float:
        """When the audio at ``position`` arrived (the oldest arrival known if it is older)."""
        for end, at in self._arrivals:
            if end >= position:
                return at
        return time.monotonic()

    def encode(self, audio: np.ndarray) -> str | None:
        """16 kHz int16 audio as base64 in the session's input format."""
        if self._format is None:
            return None
        fmt, rate = self._format
        return base64.b64encode(pcm.encode(pcm.resample(audio, pcm.STAGE_RATE, rate), fmt)).decode()
