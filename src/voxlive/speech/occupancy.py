"""``Occupancy``: how busy a stage has been over the last seconds — its work running or waiting, integrated over
time, as a fraction of what its capacity could have done in that time."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

WINDOW_SECONDS = 20.0
"""How far back the load looks: long enough to smooth one reply's burst, short enough to follow a crowd."""

Clock = Callable[[], float]


class Occupancy:
    """The number of pieces of work in a stage (running or waiting) over time, and its recent mean over
    ``capacity`` (``fraction``): 1.0 when the stage had at least ``capacity`` pieces all through the last
    ``window`` seconds, 0.5 when it had half that, or had all of it half the time."""

    def __init__(self, capacity: float, window: float = WINDOW_SECONDS, clock: Clock = time.monotonic) -> None:
        if capacity <= 0 or window <= 0:
            raise ValueError("capacity and window must be positive")
        self.capacity = capacity
        self.window = window
        self.clock = clock
        self.level = 0
        """The pieces of work in the stage now."""
        self._changes: deque[tuple[float, int]] = deque([(clock(), 0)])
        """(when, the level from then on), oldest first; the first began at or before the window's start."""

    def change(self, delta: int) -> None:
        """``delta`` pieces of work entered (positive) or left (negative) the stage now."""
        self.level += delta
        now = self.clock()
        self._changes.append((now, self.level))
        while len(self._changes) > 1 and self._changes[1][0] <= now - self.window:
            self._changes.popleft()

    def fraction(self) -> float:
        """The mean level over the last ``window`` seconds over ``capacity``, at most 1.0 (work waiting beyond
        the capacity counts too: four pieces for a quarter of the window fill a stage of one)."""
        now = self.clock()
        start = now - self.window
        total = 0.0
        changes = list(self._changes)
        for (at, level), (until, _) in zip(changes, [*changes[1:], (now, 0)], strict=True):
            total += level * max(0.0, until - max(at, start))
        return min(1.0, total / (self.capacity * self.window))


class RecentSessions:
    """When each session last had work for a stage, to count the sessions conversing now."""

    def __init__(self, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self._last: dict[str, float] = {}
        """Session → when it last had work, oldest first."""

    def note(self, session: str) -> None:
        self._last.pop(session, None)
        self._last[session] = self.clock()

    def since(self, since: float) -> set[str]:
        """The sessions that had work at or after ``since`` (the clock's time); older ones are forgotten, as
        later calls ask about later times."""
        for session, at in list(self._last.items()):
            if at >= since:
                break
            del self._last[session]
        return set(self._last)
