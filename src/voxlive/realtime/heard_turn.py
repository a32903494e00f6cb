"""``HeardTurn``: the user turn the listener is hearing, and the transcriptions made of it so far."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..speech.stt import Transcript
from .transcription import common_word_prefix


@dataclass
class HeardTurn:
    """The user turn being heard: the id its item will have, and where it began."""

    item_id: str
    start: int
    job: asyncio.Task[Transcript] | None = None
    """The latest transcription of the turn so far, and the clock position its audio ends at."""
    job_end: int = 0
    speculative: asyncio.Task[Transcript] | None = None
    """The transcription that covers all the speech before the current pause."""
    hearing: asyncio.Task[float] | None = None
    """The turn model's probability, at the current pause, that the turn is complete."""
    resumed: int | None = None
    """Where speech resumed after a pause (until it has lasted ``RESUMED_MS``)."""
    transcribed_at: float | None = None
    """When the transcript at the latest pause was ready (``time.monotonic()``)."""
    partial_text: str = ""
    """The latest transcript of the turn so far."""
    said: str = ""
    """The words sent as transcription deltas."""

    def new_words(self, text: str) -> str:
        """Given a new transcript of the turn so far: the words it and the previous one agree on that were not
        sent yet (``""`` if none)."""
        stable = common_word_prefix(self.partial_text, text)
        self.partial_text = text
        if len(stable) <= len(self.said) or not stable.startswith(self.said):
            return ""
        delta, self.said = stable[len(self.said) :], stable
        return delta
