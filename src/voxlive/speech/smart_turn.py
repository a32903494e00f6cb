"""The turn model: Smart Turn v3.2 (ONNX), which hears from the audio alone whether the user has finished."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .assets import smart_turn_path
from .audio import STAGE_RATE
from .offload import run_in_slot
from .scheduling import Slots

WINDOW_SECONDS = 8
"""The model hears the last 8 s of the turn (zeros before a shorter one)."""


class SmartTurn:
    """The probability that a turn is complete, from its audio (16 kHz float32) up to a pause.

    Its input is Whisper's log-mel features of the last ``WINDOW_SECONDS`` of the turn, normalized to
    zero mean and unit variance first; its output is a sigmoid. One model serves every session; calls
    run off the event loop, one at a time.
    """

    def __init__(self, path: str | Path | None = None, *, threads: int = 1) -> None:
        import onnxruntime
        from faster_whisper.feature_extractor import FeatureExtractor

        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.intra_op_num_threads = threads
        options.log_severity_level = 4
        self._session = onnxruntime.InferenceSession(
            str(path or smart_turn_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._features = FeatureExtractor(chunk_length=WINDOW_SECONDS)
        self.slots = Slots(1)

    async def probability(self, audio: np.ndarray) -> float:
        """How likely the turn ending with ``audio`` is complete, 0 to 1. Not urgent: the reply drafted at the same
        pause goes on while the model listens."""
        return await run_in_slot(self.slots, self.score, audio)

    def score(self, audio: np.ndarray) -> float:
        window = WINDOW_SECONDS * STAGE_RATE
        samples = np.asarray(audio, np.float32)[-window:]
        samples = np.pad(samples, (window - len(samples), 0))
        samples = (samples - samples.mean()) / np.sqrt(samples.var() + 1e-7)
        features = self._features(samples, padding=0)[None].astype(np.float32)
        (logits,) = self._session.run(None, {"input_features": features})
        return float(np.asarray(logits).reshape(-1)[0])
