"""Freed memory given back to the system after sessions end."""

from __future__ import annotations

import asyncio
from pathlib import Path

from voxlive.server.memory import MemoryTrimmer


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


async def trimmed(trimmer: MemoryTrimmer) -> None:
    """Until the trimmer has trimmed (in a thread, ``settle`` seconds after a session ended)."""
    while not trimmer.trims:
        await asyncio.sleep(0.05)


async def test_the_trimmer_gives_back_the_memory_that_ended_sessions_left_in_the_heap() -> None:
    trimmer = MemoryTrimmer(every=3600, settle=0.05)
    # 300 MB in blocks small enough for the heap, nine in ten freed: the holes stay in the process
    blocks = [bytearray(100_000) for _ in range(3_000)]
    kept = blocks[::10]
    del blocks
    before = rss_mb()
    trimmer.session_ended()
    trimmer.session_ended()  # sessions that end together are trimmed once
    await asyncio.wait_for(trimmed(trimmer), 30)
    after = rss_mb()
    trimmer.session_ended()  # within `every` of the last trim: not yet
    await asyncio.sleep(0.2)
    trimmer.close()
    assert len(kept) == 300
    assert trimmer.trims == 1
    assert before - after > 150, (before, after)
