"""``Draft``: an LLM reply that is generated whether or not anyone is reading it yet."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator

from ..speech.llm import LLM, LLMEvent, LLMRequest, Message, TextDelta
from ..speech.phrases import normalized
from ..speech.tts import TTS, Speech
from .speaker import SpeakOptions, StageFailed, chunker_for, is_spoken, synthesize


class Draft:
    """Streams ``llm`` for ``request`` into a buffer from the moment it is made.

    A response reads it with ``events()``, which replays what was generated so far, each event with
    the time it arrived, then follows the rest. A reply started during the user's pause can so be
    used as it is when the turn ends there, and dropped with ``cancel()`` when the user goes on.
    With ``speak``, the first piece the speaker will say is synthesized ahead too (``first_piece``).
    """

    def __init__(
        self, llm: LLM, request: LLMRequest, tts: TTS | None = None, speak: SpeakOptions | None = None
    ) -> None:
        self.request = request
        self.speak = speak
        self.started = time.monotonic()
        self.first_piece: tuple[str, asyncio.Task[Speech]] | None = None
        self._speaks_first = tts is not None and speak is not None
        """The draft synthesizes its first piece (until a response that uses it speaks for itself)."""
        self._events: list[tuple[float, LLMEvent]] = []
        self._error: BaseException | None = None
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._generate(llm, tts), name="llm draft")

    async def _generate(self, llm: LLM, tts: TTS | None) -> None:
        chunker = chunker_for(self.speak) if tts is not None and self.speak is not None else None
        try:
            async for event in llm.stream(self.request):
                self._events.append((time.monotonic(), event))
                self._changed.set()
                if chunker is not None and self._speaks_first and isinstance(event, TextDelta):
                    for piece in chunker.feed(event.text):
                        assert tts is not None and self.speak is not None
                        if is_spoken(piece):
                            speech = asyncio.create_task(synthesize(tts, self.speak, piece, first=True))
                            self.first_piece = (piece, speech)
                        chunker = None
                        break
        except Exception as exc:  # the reader re-raises it
            self._error = StageFailed(f"The language model failed: {exc}")
            self._error.__cause__ = exc
        finally:
            self._changed.set()

    def take_first_piece(self) -> tuple[str, asyncio.Task[Speech]] | None:
        """For the response that uses the draft: the first piece as synthesized so far (or being synthesized);
        if there is none yet, the draft makes none (the response's speaker will)."""
        self._speaks_first = False
        return self.first_piece

    async def events(self) -> AsyncIterator[tuple[float, LLMEvent]]:
        """Every event with its arrival time (``time.monotonic()``), from the first."""
        read = 0
        while True:
            while read < len(self._events):
                read += 1
                yield self._events[read - 1]
            if self._task.done():
                if self._error is not None:
                    raise self._error
                if read == len(self._events):
                    return
                continue
            self._changed.clear()
            await self._changed.wait()

    def cancel(self) -> None:
        """Stop generating (the LLM stops at its next token)."""
        self._task.cancel()
        if self.first_piece is not None:
            self.first_piece[1].cancel()


def same_request(draft: LLMRequest, request: LLMRequest) -> bool:
    """Whether a draft asked what a response asks: the same request, but that the user's words may differ in case
    and punctuation (a transcript made again may)."""
    return (
        dataclasses.replace(draft, messages=[]) == dataclasses.replace(request, messages=[])
        and len(draft.messages) == len(request.messages)
        and all(_same_message(a, b) for a, b in zip(draft.messages, request.messages, strict=True))
    )


def _same_message(a: Message, b: Message) -> bool:
    if a == b:
        return True
    texts = a.get("content"), b.get("content")
    return (
        a.get("role") == b.get("role") == "user"
        and all(isinstance(text, str) for text in texts)
        and {**a, "content": ""} == {**b, "content": ""}
        and normalized(str(texts[0])) == normalized(str(texts[1]))
    )
