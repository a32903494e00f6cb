"""Batches of work that arrived while a stage was busy: no wait when it is idle, one batch per run, per key;
and speech recognition in batches, as good as one turn at a time."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable

import numpy as np
import pytest

from benchmarks.common import normalized, piper_speech
from voxlive.speech.batching import Batches
from voxlive.speech.scheduling import Slots


class Recorder:
    """A batch function that records its batches, and waits for ``release`` while ``hold`` is set."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.hold = threading.Event()
        self.release = threading.Event()
        self.started = threading.Event()

    def __call__(self, items: list[str]) -> list[str]:
        self.batches.append(items)
        self.started.set()
        if self.hold.is_set():
            self.release.wait(10)
        if "bad" in items:
            raise ValueError("a bad item")
        return [item.upper() for item in items]


async def until(condition: Callable[[], bool], what: str) -> None:
    for _ in range(1000):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never {what}")


async def test_work_on_an_idle_stage_runs_at_once_and_what_queues_meanwhile_runs_as_one_batch() -> None:
    run = Recorder()
    batches: Batches[str, str] = Batches(Slots(1), run, max_batch=8)
    assert await batches.submit("a") == "A"
    run.started.clear()
    run.hold.set()
    first = asyncio.create_task(batches.submit("b"))
    await until(run.started.is_set, "started")
    queued = [asyncio.create_task(batches.submit(item)) for item in ("c", "d", "e")]
    await until(lambda: batches.queued == 3, "queued")
    run.hold.clear()
    run.release.set()
    assert await first == "B" and await asyncio.gather(*queued) == ["C", "D", "E"]
    assert run.batches == [["a"], ["b"], ["c", "d", "e"]]
    assert batches.sizes == {1: 2, 3: 1} and batches.slots.running == 0


async def test_a_batch_takes_one_key_urgent_items_first_and_at_most_max_batch() -> None:
    run = Recorder()
    batches: Batches[str, str] = Batches(Slots(1), run, max_batch=3)
    run.hold.set()
    busy = asyncio.create_task(batches.submit("x", key="en"))
    await until(run.started.is_set, "started")
    queued = []
    for item, key, urgent in [("a", "en", False), ("b", "fr", False), ("c", "en", False), ("d", "en", True)]:
        queued.append(asyncio.create_task(batches.submit(item, key=key, urgent=urgent)))
        await asyncio.sleep(0)
    await until(lambda: batches.queued == 4, "queued")
    run.hold.clear()
    run.release.set()
    assert await asyncio.gather(busy, *queued) == ["X", "A", "B", "C", "D"]
    assert run.batches[0] == ["x"]
    assert run.batches[1] == ["d", "a", "c"]  # the urgent one's slot comes first; then its key's others
    assert run.batches[2] == ["b"]


async def test_a_cancelled_item_is_not_run_and_an_error_reaches_every_item_of_its_batch() -> None:
    run = Recorder()
    batches: Batches[str, str] = Batches(Slots(1), run)
    run.hold.set()
    busy = asyncio.create_task(batches.submit("x"))
    await until(run.started.is_set, "started")
    dropped = asyncio.create_task(batches.submit("dropped"))
    failing = [asyncio.create_task(batches.submit(item)) for item in ("bad", "good")]
    await until(lambda: batches.queued == 3, "queued")
    dropped.cancel()
    await asyncio.sleep(0)
    assert batches.queued == 2
    run.hold.clear()
    run.release.set()
    assert await busy == "X"
    results = await asyncio.gather(*failing, return_exceptions=True)
    assert all(isinstance(r, ValueError) for r in results)
    assert run.batches == [["x"], ["bad", "good"]] and batches.slots.running == 0


SENTENCES = [
    "The weather is nice today.",
    "Please book a table for two at seven in the evening.",
    "How far is it from Paris to Berlin?",
    "Turn off the lights in the kitchen, please.",
]


@pytest.mark.models
async def test_turns_that_arrive_together_are_transcribed_in_one_batch_as_well_as_alone(piper, whisper) -> None:
    """Whisper transcribes four spoken sentences one at a time (each finds it idle: batches of one), then all at
    once while it is busy: they run as one batch of four, each transcript as good as its own."""
    turns = [(await piper_speech(piper, text, rate=16_000)).astype(np.float32) / 32768 for text in SENTENCES]
    sizes = whisper.batches.sizes
    before = sizes[1]
    alone = [await whisper.transcribe(turn) for turn in turns]
    assert sizes[1] == before + len(turns)
    assert [normalized(t.text) for t in alone] == [normalized(s) for s in SENTENCES]
    fours = sizes[4]
    await whisper.slots.acquire()
    together = [asyncio.create_task(whisper.transcribe(turn)) for turn in turns]
    await until(lambda: whisper.batches.queued == len(turns), "queued")
    whisper.slots.release()
    batched = await asyncio.gather(*together)
    assert sizes[4] == fours + 1
    for one, many, turn in zip(alone, batched, turns, strict=True):
        assert normalized(many.text) == normalized(one.text)
        assert [w.text for w in many.words] == [w.text for w in one.words]
        assert all(0 <= w.start <= w.end <= len(turn) / 16_000 + 0.05 for w in many.words if w.start is not None)
        assert many.language == "en" and many.duration == one.duration
