"""Audio files: WAV, MP3, Opus, AAC and FLAC in and out (PyAV, which faster-whisper brings)."""

from __future__ import annotations

import io
import wave

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

    container_name, codec = _CONTAINERS[fmt]
    if codec == "libopus" and rate not in (8000, 12000, 16000, 24000, 48000):
        samples, rate = resample(samples, rate, 48_000), 48_000
    buffer = io.BytesIO()
    with av.open(buffer, "w", format=container_name) as container:
        stream = container.add_stream(codec, rate=rate, layout="mono")
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


def read(data: bytes) -> np.ndarray:
    """Any audio file (WAV, MP3, Ogg/Opus, WebM, M4A, FLAC…) as 16 kHz float32 mono."""
    from faster_whisper.audio import decode_audio

    return decode_audio(io.BytesIO(data), sampling_rate=STAGE_RATE)
