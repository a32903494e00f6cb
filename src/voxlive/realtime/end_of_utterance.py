"""``EndOfUtterance``: has the user finished? The turn model's hearing and the transcript's words, at each pause."""

from __future__ import annotations

import re

from ..speech.phrases import UNFINISHED_ENDINGS
from ..speech.stt import Transcript
from .turn_detector import ms_to_samples
from .turn_settings import TurnSettings

FILLER_WORDS = frozenset({"ah", "umm", "um", "mm", "uh", "huh", "oh", "yeah", "hmm", "er", "erm"})
"""Removed before judging when ``remove_filler_words`` is on (the list VoiceLive documents, and kin)."""

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
UNFINISHED = 0.3
"""A transcript judged this complete or less is surely unfinished (its last word says so)."""
DOUBTFUL = 0.4
"""An unsure last word after a preposition or conjunction: maybe made up to round a cut-off phrase off, maybe a
word the recognizer spelled its own way ("to night"); the turn model, when there is one, decides."""
ENDED = 0.85
"""A transcript judged this complete or more ends a sentence (``.``, ``!``, ``?``) of several words."""


def completeness(transcript: Transcript, remove_fillers: bool = False) -> float:
    """How likely a transcript is a finished turn, 0 (surely unfinished) to 1 (surely finished).

    A lexical judgement made for speed: it reads the last word and the punctuation the recognizer
    put at the end (Whisper ends finished sentences with ``.``, ``?`` or ``!`` and trails off with
    ``...``). A last word the recognizer is not sure of (probability under 0.75) may be one it made
    up to round the sentence off ("a table for it."): after a preposition or conjunction the turn is
    then ``DOUBTFUL``, elsewhere undecided. A question mark is trusted either way.
    """
    score = _lexical(transcript.text, remove_fillers)
    words = transcript.words
    if not words or words[-1].probability >= SURE_WORD or transcript.text.rstrip().endswith("?"):
        return score
    before = words[-2].text.strip(".,?!").lower() if len(words) > 1 else ""
    return min(score, DOUBTFUL) if before in LINKING_WORDS else min(score, 0.5)


def _lexical(text: str, remove_fillers: bool) -> float:
    words = re.findall(r"[\w']+|[.?!…,;:-]+", text.lower())
    if remove_fillers:
        words = [w for w in words if w not in FILLER_WORDS]
    spoken = [w for w in words if w[0].isalnum() or w[0] == "'"]
    if not spoken:
        return 0.2
    tail = words[-1] if not (words[-1][0].isalnum() or words[-1][0] == "'") else ""
    last = spoken[-1]
    if last in UNFINISHED_ENDINGS and not (tail.startswith("?") and last in QUESTION_ENDINGS):
        return 0.15
    if tail.startswith(("...", "…", "-")):
        return 0.1
    if tail.startswith((",", ";", ":")):  # a recognizer's pause mark, weaker than trailing off
        return 0.35
    if last in FILLER_WORDS:
        return 0.25
    if tail.startswith("?"):
        return 0.95
    if tail.startswith(("!", ".")):
        return 0.85 if len(spoken) >= 2 else 0.65
    return 0.5


class EndOfUtterance:
    """Turns the judgements made at a pause into how much silence ends the turn.

    Two judges: the turn model's probability that the turn is complete, from the audio (intonation,
    rhythm), and ``completeness`` of the transcript so far, from its words. A turn whose words are
    surely unfinished ("…a table for") is held open for ``silence_ms + hold_ms``. Otherwise the turn is
    finished, and ends after ``finished_ms`` of silence, when the turn model says so (its probability at
    or above its threshold), or leans that way (half of it) and the words end a sentence. When the turn
    model hears it unfinished (under half its threshold) it is held, unless the words end a sentence (a
    robotic or flat voice fools the model; a sentence the recognizer closed is more often finished);
    anything else ends after ``silence_ms``, as plain VAD would. Without a turn model the transcript
    decides alone: finished at ``lexical_threshold``, held when doubtful.
    """

    def __init__(self, settings: TurnSettings) -> None:
        self.settings = settings

    @property
    def undecided(self) -> int:
        """The silence that ends a turn before it is judged: as long as for an unfinished one."""
        return ms_to_samples(self.settings.silence_ms + self.settings.hold_ms)

    def silence_limit(self, transcript: Transcript, probability: float | None = None) -> int:
        """Samples of silence that end the turn, given the transcript up to the pause and the turn model's
        probability that the turn is complete (``None``: no turn model)."""
        settings = self.settings
        finished = ms_to_samples(min(settings.silence_ms, settings.finished_ms))
        base, hold = ms_to_samples(settings.silence_ms), self.undecided
        lexical = completeness(transcript, settings.remove_filler_words)
        if lexical <= UNFINISHED:
            return hold
        if probability is None:
            return finished if lexical >= settings.lexical_threshold else hold if lexical <= DOUBTFUL else base
        threshold = settings.turn_threshold
        if probability >= threshold or (probability >= threshold / 2 and lexical >= ENDED):
            return finished
        return hold if probability < threshold / 2 and lexical < ENDED else base
