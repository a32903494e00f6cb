"""``Slots``: the bounded concurrency of a stage, shared fairly between sessions.

When work waits for a slot, the work the user waits for now (``urgent``: the first spoken piece of a reply, the
transcript a reply needs) goes first; among equals, the session whose work was served longest ago (so sessions
take turns: one session's many pieces do not hold the others back); then the work that came first.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator
from contextvars import ContextVar
from dataclasses import dataclass

from .occupancy import WINDOW_SECONDS, Clock, Occupancy, RecentSessions

SESSION: ContextVar[str] = ContextVar("voxlive_session", default="")
"""The session the current task works for (set when the session is made; the tasks it starts inherit it)."""

KEPT_SESSIONS = 4096
"""Sessions whose last service is remembered (the oldest are forgotten: they count as never served)."""


@dataclass(eq=False)
class _Waiter:
    session: str
    urgent: bool
    arrival: int
    granted: asyncio.Future[None]


class Slots:
    """At most ``capacity`` pieces of work at once; the others wait, and are served urgent first, then by
    session in turn, then in arrival order. ``occupancy`` follows the work running or waiting, ``recent`` the
    sessions that asked."""

    def __init__(self, capacity: int, window: float = WINDOW_SECONDS, clock: Clock = time.monotonic) -> None:
        if capacity < 1:
            raise ValueError("a stage needs at least one slot")
        self.capacity = capacity
        self.running = 0
        self.occupancy = Occupancy(capacity, window, clock)
        self.recent = RecentSessions(clock)
        self._waiters: list[_Waiter] = []
        self._arrivals = itertools.count()
        self._grants = itertools.count()
        self._served: dict[str, int] = {}
        """Each session's last grant (a growing number), oldest first."""

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    @contextlib.asynccontextmanager
    async def slot(self, urgent: bool = False) -> AsyncIterator[None]:
        """Hold a slot for the block, for the session in ``SESSION``."""
        await self.acquire(urgent)
        try:
            yield
        finally:
            self.release()

    async def acquire(self, urgent: bool = False, session: str | None = None) -> None:
        """Wait for a slot for ``session`` (by default the one in ``SESSION``); cancelled while waiting, it
        takes none."""
        session = SESSION.get() if session is None else session
        self.recent.note(session)
        self.occupancy.change(1)
        if self.running < self.capacity and not self._waiters:
            self._grant(session)
            return
        waiter = _Waiter(session, urgent, next(self._arrivals), asyncio.get_running_loop().create_future())
        self._waiters.append(waiter)
        try:
            await waiter.granted
        except asyncio.CancelledError:
            if waiter.granted.done() and not waiter.granted.cancelled():
                self.release()  # granted just as it was cancelled: the slot goes to the next
            else:
                if waiter in self._waiters:  # a release may have passed it over already
                    self._waiters.remove(waiter)
                self.occupancy.change(-1)
            raise

    def release(self) -> None:
        """Give a slot back: the next waiter, if any, takes it."""
        self.running -= 1
        self.occupancy.change(-1)
        while self._waiters and self.running < self.capacity:
            waiter = min(self._waiters, key=self._rank)
            self._waiters.remove(waiter)
            if waiter.granted.cancelled():  # its task is being cancelled, and will not take it
                continue
            self._grant(waiter.session)
            waiter.granted.set_result(None)

    def _rank(self, waiter: _Waiter) -> tuple[bool, int, int]:
        return not waiter.urgent, self._served.get(waiter.session, -1), waiter.arrival

    def _grant(self, session: str) -> None:
        self.running += 1
        self._served.pop(session, None)
        self._served[session] = next(self._grants)
        if len(self._served) > KEPT_SESSIONS:
            del self._served[next(iter(self._served))]
