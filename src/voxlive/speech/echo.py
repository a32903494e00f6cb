"""Acoustic echo cancellation against the audio the server itself plays (``server_echo_cancellation``): WebRTC's
AEC3 (``aec-audio-processing``), a delay estimator, a linear adaptive filter and a residual echo suppressor. Why,
and what it measured: ``docs/decisions/echo-cancellation-aec3.md``.

Delay coverage: the reference-to-echo delay (``reference_lead`` + transport + client playout buffer + acoustic
path) may be up to ~0.47 s (measured: 400 ms of unknown extra delay works, 450 ms does not).

Time is ``time.monotonic()`` seconds, mapped onto a 16 kHz sample grid. Noise suppression, if any, goes after
this stage (it would otherwise change the echo path the filter has to learn).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Final

import numpy as np
from aec_audio_processing import AudioProcessor

RATE = 16000
FRAME = 160
"""AEC3 processes 10 ms frames."""
AEC3_DELAY = 128
"""AEC3's own output delay at 16 kHz (its 64-sample blocks against 10 ms frames), measured."""


def _int16(audio: np.ndarray, what: str) -> np.ndarray:
    audio = np.asarray(audio)
    if audio.dtype != np.int16 or audio.ndim != 1:
        raise TypeError(f"{what} must be a 1-D int16 array (16 kHz mono), not {audio.dtype} {audio.shape}")
    return audio


def _samples(t: float) -> int:
    return round(t * RATE)


class EchoCanceller:
    """Removes the echo of the server's own speech from the microphone stream of one session.

    ``play()`` schedules far-end audio on a playback timeline; ``process()`` takes microphone audio with its
    capture time, reads the reference for exactly those samples from the timeline (silence where nothing
    played) and runs both through AEC3 frame by frame.

    Alignment: the microphone stream is kept on a continuous sample clock anchored at the first chunk's
    ``captured_at``; later timestamps only re-anchor it when they disagree by more than ``resync`` seconds, so
    timestamp jitter does not tear the reference. The reference is read ``reference_lead`` seconds ahead of
    the microphone so that a client that starts playing slightly *earlier* than announced still yields a
    causal echo; AEC3's delay estimator then finds the actual delay (lead + network/device latency + acoustic
    path) within its range (see the module docstring). Memory: the timeline keeps what is scheduled ahead and
    the last second before the microphone's position.

    Latency: ``process()`` returns as many samples as it gets; its output lags its input by a constant
    ``latency`` = 287 samples (18 ms): ``FRAME - 1`` samples of buffering (zeros at the start) and AEC3's 8 ms.
    Not thread-safe: one per session, called from one task at a time.
    """

    latency: Final = FRAME - 1 + AEC3_DELAY

    def __init__(self, *, reference_lead: float = 0.02, resync: float = 0.1, hangover: float = 0.0) -> None:
        """``hangover``: seconds after the end of playback during which ``speaking()`` stays true (the echo
        tail and transport delay; 0 means exactly the scheduled playback)."""
        self._lead = _samples(reference_lead)
        self._resync = _samples(resync)
        self._hangover = _samples(hangover)
        self._segments: list[tuple[int, np.ndarray]] = []
        """Scheduled far-end audio: (first sample position on the 16 kHz grid, int16 samples), in order."""
        self._end: int | None = None
        """Position just after the last scheduled sample."""
        self.reset()

    def reset(self) -> None:
        """Forget the playback timeline, the microphone clock and everything the filter learned."""
        self._apm = AudioProcessor(enable_aec=True, enable_ns=False, enable_agc=False, enable_vad=False)
        self._apm.set_stream_format(RATE, 1)
        self._apm.set_reverse_stream_format(RATE, 1)
        self._segments = []
        self._end = None
        self._mic_next: int | None = None
        self._mic_pending = np.zeros(0, dtype=np.int16)
        self._ref_pending = np.zeros(0, dtype=np.int16)
        self._out = np.zeros(FRAME - 1, dtype=np.int16)

    # --- the playback timeline ---------------------------------------------------------------------

    def play(self, audio: np.ndarray, at: float) -> None:
        """Schedule far-end ``audio`` (int16, 16 kHz mono) that the client starts playing at ``at``; queued
        right after what is already scheduled if that ends later."""
        audio = _int16(audio, "far-end audio")
        if not len(audio):
            return
        start = _samples(at)
        if self._end is not None:
            start = max(start, self._end)
        self._segments.append((start, audio.copy()))
        self._end = start + len(audio)

    def clear_playback(self, now: float | None = None) -> None:
        """Barge-in: the client stopped playing at ``now`` (default: ``time.monotonic()``); drop everything
        scheduled after it. What played before stays: its echo is still on its way to the microphone."""
        cut = _samples(time.monotonic() if now is None else now)
        kept = []
        for start, audio in self._segments:
            if start + len(audio) <= cut:
                kept.append((start, audio))
            elif start < cut:
                kept.append((start, audio[: cut - start]))
        self._segments = kept
        if self._end is not None:
            self._end = min(self._end, cut)

    def speaking(self, now: float) -> bool:
        """Whether scheduled playback is in progress at ``now`` (plus the configured hangover)."""
        position = _samples(now)
        return any(start <= position < start + len(audio) + self._hangover for start, audio in self._segments)

    def _forget_before(self, position: int) -> None:
        while self._segments and self._segments[0][0] + len(self._segments[0][1]) < position:
            self._segments.pop(0)

    def _reference(self, start: int, n: int) -> np.ndarray:
        ref = np.zeros(n, dtype=np.int16)
        for seg_start, audio in self._overlapping(start, start + n):
            a, b = max(start, seg_start), min(start + n, seg_start + len(audio))
            ref[a - start : b - start] = audio[a - seg_start : b - seg_start]
        return ref

    def _overlapping(self, a: int, b: int) -> Iterable[tuple[int, np.ndarray]]:
        for seg_start, audio in self._segments:
            if seg_start >= b:
                break
            if seg_start + len(audio) > a:
                yield seg_start, audio

    # --- the microphone stream -------------------------------------------------------------------

    def process(self, mic: np.ndarray, captured_at: float) -> np.ndarray:
        """Echo-cancel ``mic`` (int16, 16 kHz mono) whose last sample was captured at ``captured_at``;
        returns the same number of samples (see the class docstring for the latency)."""
        mic = _int16(mic, "microphone audio")
        n = len(mic)
        if not n:
            return mic.copy()
        start = _samples(captured_at) + 1 - n
        if self._mic_next is None or abs(start - self._mic_next) > self._resync:
            self._mic_next = start
        start = self._mic_next
        self._mic_next = start + n
        ref = self._reference(start + self._lead, n)
        self._forget_before(start + self._lead - RATE)
        mic_buf = np.concatenate([self._mic_pending, mic])
        ref_buf = np.concatenate([self._ref_pending, ref])
        frames = len(mic_buf) // FRAME
        out = [self._out]
        for i in range(0, frames * FRAME, FRAME):
            self._apm.process_reverse_stream(ref_buf[i : i + FRAME].tobytes())
            out.append(np.frombuffer(self._apm.process_stream(mic_buf[i : i + FRAME].tobytes()), dtype=np.int16))
        self._mic_pending = mic_buf[frames * FRAME :]
        self._ref_pending = ref_buf[frames * FRAME :]
        done = np.concatenate(out)
        self._out = done[n:]
        return done[:n].copy()
