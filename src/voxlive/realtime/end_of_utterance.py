"""``EndOfUtterance``: does the transcript so far sound finished? (the semantic turn detection modes)."""

from __future__ import annotations

import re

from ..protocol import AzureSemanticVad, AzureSemanticVadEn, AzureSemanticVadMultilingual, SemanticVad
from ..speech.stt import Transcript
from .turn_detector import ms_to_samples

FILLER_WORDS = frozenset({"ah", "umm", "um", "mm", "uh", "huh", "oh", "yeah", "hmm", "er", "erm"})
"""Removed before judging when ``remove_filler_words`` is on (the list VoiceLive documents, and kin)."""

UNFINISHED_ENDINGS = frozenset(
    {
        "a", "an", "the", "my", "your", "his", "her", "its", "our", "their", "this", "that", "these", "those", "some",
        "any", "every", "no", "and", "or", "but", "nor", "so", "because", "since", "although", "though", "if",
        "unless", "until", "while", "when", "whenever", "where", "whether", "than", "as", "like", "to", "for", "of",
        "with", "without", "about", "at", "by", "from", "in", "into", "on", "onto", "over", "under", "after", "before",
        "between", "through", "is", "are", "was", "were", "be", "been", "being", "am", "do", "does", "did", "have",
        "has", "had", "will", "would", "can", "could", "should", "shall", "may", "might", "must", "i", "you", "he",
        "she", "we", "they", "it's", "i'm", "i'd", "i'll", "i've", "you're", "we're", "they're", "there's", "let's",
        "want", "wanna", "need", "gonna", "going", "trying", "try", "please",
    }
)  # fmt: skip
"""Words a finished sentence rarely ends with: after them the speaker is most likely still going."""

QUESTION_ENDINGS = frozenset(
    {"is", "are", "was", "were", "am", "be", "been", "do", "does", "did", "have", "has", "had", "can", "could",
     "will", "would", "should", "shall", "may", "might", "must"}
)  # fmt: skip
"""Of those, the verbs a question may well end with ("… what a black hole is?")."""

LINKING_WORDS = frozenset(
    {"to", "for", "of", "with", "without", "about", "at", "by", "from", "in", "into", "on", "onto", "over", "under",
     "after", "before", "between", "through", "and", "or", "but", "because", "so", "than", "as", "like", "if"}
)  # fmt: skip
"""Prepositions and conjunctions: a phrase that ends with one plus an unsure word was most likely cut short."""

SURE_WORD = 0.75
_LEVELS = {"low": 0.45, "default": 0.6, "medium": 0.6, "high": 0.75}
"""How sure the judgement must be that the thought is finished before the turn ends early."""


def completeness(transcript: Transcript, remove_fillers: bool = False) -> float:
    """How likely a transcript is a finished turn, 0 (surely unfinished) to 1 (surely finished).

    A lexical judgement made for speed: it reads the last word and the punctuation the recognizer
    put at the end (Whisper ends finished sentences with ``.``, ``?`` or ``!`` and trails off with
    ``...``). A last word the recognizer is not sure of (probability under 0.75) may be one it made
    up to round the sentence off ("a table for it."): after a preposition or conjunction the turn is
    then judged unfinished, elsewhere undecided. A question mark is trusted either way.
    """
    score = _lexical(transcript.text, remove_fillers)
    words = transcript.words
    if not words or words[-1].probability >= SURE_WORD or transcript.text.rstrip().endswith("?"):
        return score
    before = words[-2].text.strip(".,?!").lower() if len(words) > 1 else ""
    return 0.15 if before in LINKING_WORDS else min(score, 0.5)


def _lexical(text: str, remove_fillers: bool) -> float:
    words = re.findall(r"[\w']+|[.?!…,;:-]+", text.lower())
    if remove_fillers:
        words = [w for w in words if w not in FILLER_WORDS]
    spoken = [w for w in words if w[0].isalnum() or w[0] == "'"]
    if not spoken:
        return 0.2
    tail = words[-1] if not (words[-1][0].isalnum() or words[-1][0] == "'") else ""
    last = spoken[-1]
    if tail.startswith(("...", "…", "-", ",", ";", ":")):
        return 0.1
    if last in UNFINISHED_ENDINGS and not (tail.startswith("?") and last in QUESTION_ENDINGS):
        return 0.15
    if last in FILLER_WORDS:
        return 0.25
    if tail.startswith("?"):
        return 0.95
    if tail.startswith(("!", ".")):
        return 0.85 if len(spoken) >= 2 else 0.65
    return 0.5


class EndOfUtterance:
    """Turns a completeness judgement into how much silence ends the turn.

    A finished thought ends the turn after ``FAST_MS`` of silence (or at once, if the silence is
    already longer); an unfinished one holds the turn open for ``silence_duration_ms`` plus the end
    of utterance detection's ``timeout_ms``; anything else keeps ``silence_duration_ms``.
    """

    FAST_MS = 250

    def __init__(
        self, detection: AzureSemanticVad | AzureSemanticVadEn | AzureSemanticVadMultilingual | SemanticVad
    ) -> None:
        eou = getattr(detection, "end_of_utterance_detection", None)
        self.base = ms_to_samples(getattr(detection, "silence_duration_ms", 500))
        self.hold = ms_to_samples(eou.timeout_ms if eou is not None and eou.timeout_ms is not None else 1000)
        level = (eou.threshold_level if eou is not None else None) or "default"
        if isinstance(detection, SemanticVad):
            level = {"low": "high", "high": "low"}.get(detection.eagerness, "default")
        self.sure = _LEVELS[level]
        self.remove_fillers = bool(getattr(detection, "remove_filler_words", False))

    @property
    def undecided(self) -> int:
        """The silence that ends a turn before its transcript is judged: as long as for an unfinished one."""
        return self.base + self.hold

    def silence_limit(self, transcript: Transcript) -> int:
        score = completeness(transcript, self.remove_fillers)
        if score >= self.sure:
            return min(self.base, ms_to_samples(self.FAST_MS))
        if score <= 0.3:
            return self.base + self.hold
        return self.base
