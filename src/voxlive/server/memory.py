"""Memory freed by ended sessions, given back to the system.

glibc keeps the memory a process frees in its heaps, to be reused: after many sessions end (their audio, replies
and transcripts freed) the server's RSS stays at its peak, fragmented across the threads' heaps. ``malloc_trim``
returns the free pages to the kernel. Where the C library is not glibc, trimming does nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import time
from collections.abc import Callable

TRIM_EVERY = 60.0
"""The fewest seconds between two trims."""
SETTLE = 5.0
"""Seconds a trim waits after a session ends, so the sessions that end together are trimmed once."""


def _malloc_trim() -> Callable[[int], int] | None:
    with contextlib.suppress(OSError, AttributeError):
        trim: Callable[[int], int] = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
        return trim
    return None


class MemoryTrimmer:
    """Trims the heaps in a worker thread a little after sessions end, at most once every ``every`` seconds."""

    def __init__(self, every: float = TRIM_EVERY, settle: float = SETTLE) -> None:
        self.every = every
        self.settle = settle
        self.trims = 0
        self._trim = _malloc_trim()
        self._last = -every
        self._pending: asyncio.Task[None] | None = None

    def session_ended(self) -> None:
        if self._trim is not None and (self._pending is None or self._pending.done()):
            self._pending = asyncio.create_task(self._trim_soon())

    def close(self) -> None:
        if self._pending is not None:
            self._pending.cancel()

    async def _trim_soon(self) -> None:
        await asyncio.sleep(max(self.settle, self._last + self.every - time.monotonic()))
        await asyncio.to_thread(self._run)

    def _run(self) -> None:
        assert self._trim is not None
        self._trim(0)
        self._last = time.monotonic()
        self.trims += 1
