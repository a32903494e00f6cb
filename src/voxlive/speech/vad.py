"""The VAD stage: Silero VAD v6 (ONNX), one model per process, one recurrent state per audio stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .assets import silero_vad_path

FRAME_SAMPLES = 512
"""32 ms at 16 kHz: the unit the model scores."""
_CONTEXT = 64


class SileroVAD:
    """The shared model. A frame costs about 0.1 ms on one core, so it runs on the event loop."""

    def __init__(self, path: str | Path | None = None) -> None:
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = 1
        options.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            str(path or silero_vad_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )

    def stream(self) -> VADStream:
        """A new stream (its own recurrent state) over this model."""
        return VADStream(self)

    def _run(self, frame: np.ndarray, h: np.ndarray, c: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
        probability, h, c = self._session.run(None, {"input": frame, "h": h, "c": c})
        return float(probability.reshape(-1)[0]), h, c


class VADStream:
    """Speech probability of consecutive 32 ms frames of one stream."""

    def __init__(self, model: SileroVAD) -> None:
        self.model = model
        self.reset()

    def reset(self) -> None:
        self._h = np.zeros((1, 1, 128), np.float32)
        self._c = np.zeros((1, 1, 128), np.float32)
        self._context = np.zeros(_CONTEXT, np.float32)

    def process(self, frame: np.ndarray) -> float:
        """The probability that ``frame`` (512 float32 samples at 16 kHz) holds speech."""
        window = np.concatenate([self._context, np.asarray(frame, np.float32)])[None, :]
        self._context = window[0, -_CONTEXT:]
        probability, self._h, self._c = self.model._run(window, self._h, self._c)
        return probability
