"""``ResponseObserver``: what an in-process face (``VoiceAgent``) sees of a response beyond its protocol events."""

from __future__ import annotations

from typing import Protocol

from ..speech.tts import Speech


class ResponseObserver(Protocol):
    def text(self, item_id: str, delta: str) -> None:
        """The LLM wrote ``delta`` of an assistant message (before any of it is spoken)."""

    def reasoning(self, response_id: str, delta: str) -> None:
        """A reasoning model thought ``delta`` (it is not part of the answer, and not spoken)."""

    def piece_queued(self, item_id: str, text: str) -> None:
        """A piece of the message went into the speech queue."""

    def piece_sent(self, item_id: str, text: str, speech: Speech) -> None:
        """A piece was spoken: its audio went out in full."""
