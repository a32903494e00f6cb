"""``Draft``: an LLM reply that is generated whether or not anyone is reading it yet."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from ..speech.llm import LLM, LLMEvent, LLMRequest


class Draft:
    """Streams ``llm`` for ``request`` into a buffer from the moment it is made.

    A response reads it with ``events()``, which replays what was generated so far, each event with
    the time it arrived, then follows the rest. A reply started during the user's pause can so be
    used as it is when the turn ends there, and dropped with ``cancel()`` when the user goes on.
    """

    def __init__(self, llm: LLM, request: LLMRequest) -> None:
        self.request = request
        self.started = time.monotonic()
        self._events: list[tuple[float, LLMEvent]] = []
        self._error: BaseException | None = None
        self._changed = asyncio.Event()
        self._task = asyncio.create_task(self._generate(llm), name="llm draft")

    async def _generate(self, llm: LLM) -> None:
        try:
            async for event in llm.stream(self.request):
                self._events.append((time.monotonic(), event))
                self._changed.set()
        except Exception as exc:  # the reader re-raises it
            self._error = exc
        finally:
            self._changed.set()

    @property
    def first_event_at(self) -> float | None:
        return self._events[0][0] if self._events else None

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

    async def close(self) -> None:
        """Stop generating and wait until the LLM is free."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
