"""Audio files: WAV, MP3, Opus, AAC and FLAC in and out (PyAV, which faster-whisper brings)."""

from __future__ import annotations

import io
import itertools
import wave
from collections.abc import Iterator
from typing import Any, BinaryIO

import numpy as np

from .audio import STAGE_RATE, resample

FILE_FORMATS = {"wav": "audio/wav", "mp3": "audio/mpeg", "opus": "audio/ogg", "aac": "audio/aac", "flac": "audio/flac",
                "pcm": "audio/pcm"}  # fmt: skip
"""Formats an audio file can be written in, with their media types (``pcm``: raw 16-bit, 24 kHz)."""

_CONTAINERS = {
    "mp3": ("mp3", "libmp3lame"),
    "opus": ("ogg", "libopus"),
    "aac": ("adts", "aac"),
    "flac": ("flac", "flac"),
}


def write(samples: np.ndarray, rate: int, fmt: str) -> bytes:
    """int16 mono audio as a file of ``fmt`` (one of ``FILE_FORMATS``); a valid file even of no audio."""
    samples = np.asarray(samples, np.int16)
    if fmt == "pcm":
        return resample(samples, rate, 24_000).astype("<i2").tobytes()
    if fmt == "wav":
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(rate)
            out.writeframes(samples.astype("<i2").tobytes())
        return buffer.getvalue()
    import av
    from av.audio.stream import AudioStream

    container_name, codec = _CONTAINERS[fmt]
    if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
        samples, rate = resample(samples, rate, 48_000), 48_000
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_name) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
        assert isinstance(stream, AudioStream)
        frame_size = stream.codec_context.frame_size or 1024
        if codec != "flac" and not len(samples):  # no audio: one silent frame, since an empty file is no valid file
            samples = np.zeros(frame_size, np.int16)
        for start in range(0, len(samples), frame_size):
            block = samples[start : start + frame_size]
            if codec != "flac" and len(block) < frame_size:
                block = np.pad(block, (0, frame_size - len(block)))
            frame = av.AudioFrame.from_ndarray(block.reshape(1, -1), format="s16", layout="mono")
            frame.sample_rate = rate
            frame.pts = start
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return buffer.getvalue()


class AudioTooLongError(ValueError):
    """An audio file longer than allowed."""

    def __init__(self, max_seconds: float) -> None:
        super().__init__(f"The audio lasts more than {max_seconds:g} seconds, the limit.")


def read(source: bytes | BinaryIO, max_seconds: float | None = None) -> np.ndarray:
    """Any audio file (WAV, MP3, Ogg/Opus, WebM, M4A, FLAC…) as 16 kHz float32 mono.

    A file longer than ``max_seconds`` raises ``AudioTooLongError`` as soon as its header or its decoding says so,
    so a small file of hours of silence takes neither the memory nor the time to decode it whole.
    """
    import av

    resampler = av.AudioResampler(format="s16", layout="mono", rate=STAGE_RATE)
    pending = av.AudioFifo()  # frames are resampled some seconds at a time (one by one is twice as slow)
    blocks: list[np.ndarray] = []
    seconds = 0.0
    with av.open(
        io.BytesIO(source) if isinstance(source, bytes) else source, "r", metadata_errors="ignore"
    ) as container:
        if max_seconds is not None and (container.duration or 0) / av.time_base > max_seconds:
            raise AudioTooLongError(max_seconds)
        for frame in itertools.chain(_decoded(container), [None]):
            if frame is not None:
                seconds += frame.samples / frame.sample_rate
                if max_seconds is not None and seconds > max_seconds:
                    raise AudioTooLongError(max_seconds)
                frame.pts = None
                pending.write(frame)
            if pending.samples >= 500_000 or (frame is None and pending.samples):
                blocks += [out.to_ndarray().reshape(-1) for out in resampler.resample(pending.read())]
        blocks += [out.to_ndarray().reshape(-1) for out in resampler.resample(None)]
    audio = np.concatenate(blocks) if blocks else np.zeros(0, np.int16)
    return audio.astype(np.float32) / 32768.0


def _decoded(container: Any) -> Iterator[Any]:
    """The audio frames of a file, skipping those that do not decode."""
    import av

    frames = container.decode(audio=0)
    while True:
        try:
            yield next(frames)
        except StopIteration:
            return
        except av.error.InvalidDataError:
            continue
