"""``Turn``: one reply of the assistant, from the draft made at the user's pause to the last audio the client plays."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Literal

from ..speech.phrases import normalized
from .draft import Draft
from .response import CancelReason, ResponseRunner

Interruption = Literal["turn_detected", "client_cancelled", "speech"]
"""Why a reply stops: the user spoke (barge-in), the client cancelled it, or only its speech is stopped
(``interrupt_speech``: the reply goes on in text)."""


@dataclass
class Playback:
    """One assistant message's audio as the client plays it: from ``start`` (monotonic seconds) on."""

    item_id: str
    start: float
    duration_ms: int = 0

    @property
    def end(self) -> float:
        return self.start + self.duration_ms / 1000

    def heard_ms(self, now: float) -> int | None:
        """How much of the audio the client has played by ``now`` (``None``: all of it)."""
        return None if now >= self.end else max(0, int((now - self.start) * 1000))


@dataclass(frozen=True)
class Heard:
    """What the client heard of an assistant message when its reply was interrupted."""

    item_id: str
    audio_end_ms: int


class Turn:
    """The reply to one user turn (or to a client's ``response.create``), with one owner for each of its parts.

    It holds the reply drafted during the user's pause (made from the transcript then, and used when
    the turn ends with the same words), the ``ResponseRunner`` that answers (whose speaker says it),
    and the client's playback of its audio. ``interrupt`` is the one way a reply stops.
    """

    def __init__(self, item_id: str | None, playing_until: float = 0.0) -> None:
        self.item_id = item_id
        """The user item the turn answers (``None``: a response the client asked for)."""
        self.draft: Draft | None = None
        self.heard_text = ""
        """The transcript the draft was made from."""
        self.runner: ResponseRunner | None = None
        self.playback: Playback | None = None
        self._playing_until = playing_until
        """When the client finishes playing the audio of earlier turns (this turn's plays after it)."""

    # -- the draft -------------------------------------------------------------------------------

    def drafted(self, text: str) -> bool:
        """Whether the turn has a draft made from these words (case and punctuation aside)."""
        return self.draft is not None and normalized(self.heard_text) == normalized(text)

    def keep_draft(self, draft: Draft, text: str) -> None:
        self.drop_draft()
        self.draft, self.heard_text = draft, text

    def drop_draft(self) -> bool:
        """Stop the draft; whether there was one."""
        draft, self.draft = self.draft, None
        if draft is not None:
            draft.cancel()
        return draft is not None

    def drafting(self, item_id: str | None) -> bool:
        """Whether the turn answers ``item_id`` and its response has not started (its draft may stand)."""
        return item_id is not None and self.item_id == item_id and self.runner is None

    # -- the response ----------------------------------------------------------------------------

    def respond(self, runner: ResponseRunner) -> asyncio.Task[None]:
        """Start the response; it is given the draft, which it uses if it asks the same."""
        self.runner = runner
        runner.plan.draft, self.draft = self.draft, None
        return runner.start()

    @property
    def answering(self) -> bool:
        return self.runner is not None and self.runner.task is not None and not self.runner.task.done()

    # -- playback --------------------------------------------------------------------------------

    def audio_sent(self, item_id: str, ms: int, now: float) -> None:
        """Audio of the reply went out: the client plays it after what it is already playing."""
        playback = self.playback
        if playback is None or playback.item_id != item_id:
            start = max(now, playback.end if playback is not None else self._playing_until)
            playback = self.playback = Playback(item_id, start)
        playback.duration_ms += ms

    @property
    def playing_until(self) -> float:
        return self.playback.end if self.playback is not None else self._playing_until

    def playback_cleared(self) -> None:
        """The client stopped playing (``output_audio_buffer.clear``)."""
        self.playback = None
        self._playing_until = 0.0

    # -- stopping --------------------------------------------------------------------------------

    def interrupt(self, reason: Interruption) -> Heard | None:
        """Stop the reply: ``speech`` silences it (the text goes on), the other reasons cancel it and its
        draft. Nothing more of its audio is sent after this. Returns how much of the message being played the
        client heard, if it was still playing."""
        runner = self.runner
        if reason == "speech":
            if runner is not None:
                runner.mute()
        else:
            self.drop_draft()
            if runner is not None:
                cancel: CancelReason = reason
                runner.cancel(cancel)
        playback, self.playback = self.playback, None
        self._playing_until = 0.0
        if playback is None:
            return None
        heard = playback.heard_ms(time.monotonic())
        return None if heard is None else Heard(playback.item_id, heard)
