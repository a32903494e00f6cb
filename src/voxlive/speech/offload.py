"""Model calls off the event loop, a bounded number at a time."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, TypeVar

from .cpu import PRIORITY
from .scheduling import Slots

T = TypeVar("T")


async def run_in_slot(slots: Slots, function: Callable[..., T], *args: Any, urgent: bool = False) -> T:
    """Run ``function(*args)`` in a worker thread once ``slots`` gives it a slot; ``urgent`` work (what the user
    is waiting for now) is served first, and makes deferrable work wait while it runs (``cpu.PRIORITY``).

    Cancelled while waiting, it never runs; cancelled while running, it still holds its slot until the
    thread ends (a thread cannot be stopped), so the bound holds and work does not pile up behind it.
    """
    async with slots.slot(urgent):
        work = asyncio.ensure_future(asyncio.to_thread(call, function, args, urgent))
        try:
            return await asyncio.shield(work)
        except asyncio.CancelledError:
            await asyncio.wait([work])
            raise


def call(function: Callable[..., T], args: tuple[Any, ...], urgent: bool) -> T:
    """``function(*args)``, marked urgent (``cpu.PRIORITY``) when it is."""
    if not urgent:
        return function(*args)
    with PRIORITY.urgent():
        return function(*args)
