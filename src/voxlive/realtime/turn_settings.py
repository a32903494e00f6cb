"""``TurnSettings``: a session's ``turn_detection``, read once into the values the engine uses."""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol import SemanticVad, ServerVad, TurnDetection

SILENCE_MS = 500
"""The silence that ends a turn when nothing else says (the protocol's ``silence_duration_ms`` default)."""
FINISHED_MS = 150
"""Silence after which a turn judged finished ends (with the judgement's own time, ≤ ~200 ms after the last word)."""
HOLD_MS = 1000
"""Extra silence an unfinished turn is held for, when ``end_of_utterance_detection.timeout_ms`` does not say."""
SEMANTIC_VAD_LIMIT_MS = {"low": 8000, "medium": 4000, "high": 2000, "auto": 4000}
"""OpenAI ``semantic_vad``: the longest silence an unfinished turn is held for, by ``eagerness``."""
TURN_THRESHOLDS = {"low": 0.3, "medium": 0.5, "default": 0.5, "high": 0.7}
"""The turn model's probability above which a turn counts as finished, by Azure's ``threshold_level``
(a higher level must be surer before it ends the turn)."""
EAGERNESS_LEVELS = {"low": "high", "medium": "medium", "high": "low", "auto": "medium"}
"""OpenAI's ``eagerness`` as a threshold level: an eager detector ends a turn on less evidence."""
LEXICAL_THRESHOLDS = {"low": 0.45, "medium": 0.6, "default": 0.6, "high": 0.75}
"""How sure the transcript's judgement must be that the thought is finished, by level."""


@dataclass(frozen=True, slots=True)
class TurnSettings:
    """How turns are detected: every value resolved from the session's ``turn_detection`` and its defaults.

    ``semantic`` turns judge each pause: the turn model (audio) and the transcript so far decide whether
    the user has finished. A finished turn ends after ``finished_ms`` of silence, an unfinished one is held
    for ``silence_ms + hold_ms``, anything else ends after ``silence_ms``.
    """

    threshold: float = 0.5
    prefix_padding_ms: int = 300
    silence_ms: int = SILENCE_MS
    speech_duration_ms: int | None = None
    create_response: bool = True
    interrupt_response: bool = True
    auto_truncate: bool = False
    semantic: bool = False
    hold_ms: int = HOLD_MS
    finished_ms: int = FINISHED_MS
    level: str = "default"
    """``low``, ``medium``/``default`` or ``high``: how sure "finished" must be."""
    remove_filler_words: bool = False

    @property
    def turn_threshold(self) -> float:
        return TURN_THRESHOLDS[self.level]

    @property
    def lexical_threshold(self) -> float:
        return LEXICAL_THRESHOLDS[self.level]

    @classmethod
    def of(cls, detection: TurnDetection | None) -> TurnSettings | None:
        """The settings of a ``turn_detection`` (``None``: the client commits turns itself)."""
        if detection is None:
            return None
        if isinstance(detection, SemanticVad):
            return cls(
                create_response=detection.create_response,
                interrupt_response=detection.interrupt_response,
                semantic=True,
                hold_ms=SEMANTIC_VAD_LIMIT_MS[detection.eagerness] - SILENCE_MS,
                level=EAGERNESS_LEVELS[detection.eagerness],
            )
        eou = detection.end_of_utterance_detection
        return cls(
            threshold=detection.threshold,
            prefix_padding_ms=detection.prefix_padding_ms,
            silence_ms=detection.silence_duration_ms,
            speech_duration_ms=detection.speech_duration_ms,
            create_response=detection.create_response,
            interrupt_response=detection.interrupt_response,
            auto_truncate=detection.auto_truncate,
            semantic=not isinstance(detection, ServerVad) or eou is not None,
            hold_ms=HOLD_MS if eou is None or eou.timeout_ms is None else eou.timeout_ms,
            level=(eou.threshold_level if eou is not None else None) or "default",
            remove_filler_words=not isinstance(detection, ServerVad) and detection.remove_filler_words,
        )
