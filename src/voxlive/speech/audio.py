"""Audio formats of the protocol: PCM16 at several rates, G.711 μ-law and A-law; resampling with soxr."""

from __future__ import annotations

import base64
import binascii

import numpy as np
import soxr

STAGE_RATE = 16_000
"""The rate of the input stages (VAD, STT, noise suppression, echo cancellation)."""

OUTPUT_RATES = {"pcm16": 24_000, "pcm16_16000hz": 16_000, "pcm16_8000hz": 8_000, "g711_ulaw": 8_000, "g711_alaw": 8_000}


class AudioFormatError(ValueError):
    """Audio that cannot be decoded in the announced format."""


def input_rate(fmt: str, sampling_rate: int | None) -> int:
    """The sample rate of client audio: G.711 is 8 kHz; PCM16 follows ``input_audio_sampling_rate``."""
    return 8_000 if fmt.startswith("g711") else sampling_rate or 24_000


def decode_base64(data: str) -> bytes:
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise AudioFormatError("The audio is not valid base64.") from None


def decode(data: bytes, fmt: str) -> np.ndarray:
    """Client audio bytes as int16 samples."""
    if fmt == "g711_ulaw":
        return _ULAW_DECODE[np.frombuffer(data, np.uint8)]
    if fmt == "g711_alaw":
        return _ALAW_DECODE[np.frombuffer(data, np.uint8)]
    if len(data) % 2:
        raise AudioFormatError(f"PCM16 audio must have an even number of bytes, not {len(data)}.")
    return np.frombuffer(data, "<i2").astype(np.int16)


def encode(samples: np.ndarray, fmt: str) -> bytes:
    """int16 samples (already at the format's rate) as bytes of an output format."""
    samples = np.asarray(samples, np.int16)
    if fmt == "g711_ulaw":
        return _ULAW_ENCODE[samples.view(np.uint16)].tobytes()
    if fmt == "g711_alaw":
        return _ALAW_ENCODE[samples.view(np.uint16)].tobytes()
    return samples.astype("<i2").tobytes()


def resample(samples: np.ndarray, from_rate: int, to_rate: int) -> np.ndarray:
    """One block of int16 audio at another rate."""
    if from_rate == to_rate or not len(samples):
        return np.asarray(samples, np.int16)
    return np.asarray(soxr.resample(np.asarray(samples, np.int16), from_rate, to_rate, quality="HQ"), np.int16)


class StreamResampler:
    """Resamples a stream block by block with no seams between blocks."""

    def __init__(self, from_rate: int, to_rate: int) -> None:
        self.from_rate, self.to_rate = from_rate, to_rate
        self._stream = None if from_rate == to_rate else soxr.ResampleStream(from_rate, to_rate, 1, "int16", "HQ")

    def process(self, samples: np.ndarray, last: bool = False) -> np.ndarray:
        samples = np.asarray(samples, np.int16)
        if self._stream is None:
            return samples
        return np.asarray(self._stream.resample_chunk(samples, last=last), np.int16)


def to_float(samples: np.ndarray) -> np.ndarray:
    return np.asarray(samples, np.float32) / 32768.0


def to_int16(samples: np.ndarray) -> np.ndarray:
    return np.clip(np.round(np.asarray(samples, np.float32) * 32767.0), -32768, 32767).astype(np.int16)


def duration_ms(samples: int, rate: int) -> int:
    return samples * 1000 // rate


# --- G.711 (ITU-T), as tables: 256 entries to decode, 65,536 to encode --------------------------------


def _ulaw_decode_table() -> np.ndarray:
    u = ~np.arange(256, dtype=np.int32) & 0xFF
    t = (((u & 0x0F) << 3) + 0x84) << ((u & 0x70) >> 4)
    return np.where(u & 0x80, 0x84 - t, t - 0x84).astype(np.int16)


def _alaw_decode_table() -> np.ndarray:
    a = np.arange(256, dtype=np.int32) ^ 0x55
    t = (a & 0x0F) << 4
    seg = (a & 0x70) >> 4
    t = np.where(seg == 0, t + 8, np.where(seg == 1, t + 0x108, (t + 0x108) << np.maximum(seg - 1, 0)))
    return np.where(a & 0x80, t, -t).astype(np.int16)


def _ulaw_encode_table() -> np.ndarray:
    pcm = np.arange(65536, dtype=np.int32).astype(np.uint16).view(np.int16).astype(np.int32) >> 2
    mask = np.where(pcm < 0, 0x7F, 0xFF)
    pcm = np.minimum(np.abs(pcm), 8159) + (0x84 >> 2)
    seg = np.searchsorted(np.array([0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF, 0x1FFF]), pcm)
    value = (seg << 4) | ((pcm >> (seg + 1)) & 0x0F)
    return (np.where(seg >= 8, 0x7F, value) ^ mask).astype(np.uint8)


def _alaw_encode_table() -> np.ndarray:
    pcm = np.arange(65536, dtype=np.int32).astype(np.uint16).view(np.int16).astype(np.int32) >> 3
    mask = np.where(pcm >= 0, 0xD5, 0x55)
    pcm = np.where(pcm >= 0, pcm, -pcm - 1)
    seg = np.searchsorted(np.array([0x1F, 0x3F, 0x7F, 0xFF, 0x1FF, 0x3FF, 0x7FF, 0xFFF]), pcm)
    value = (seg << 4) | np.where(seg < 2, (pcm >> 1) & 0x0F, (pcm >> np.maximum(seg, 1)) & 0x0F)
    return (np.where(seg >= 8, 0x7F, value) ^ mask).astype(np.uint8)


_ULAW_DECODE = _ulaw_decode_table()
_ALAW_DECODE = _alaw_decode_table()
_ULAW_ENCODE = _ulaw_encode_table()
_ALAW_ENCODE = _alaw_encode_table()
