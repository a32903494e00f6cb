"""``Batches``: work that arrives while a stage is busy waits, and the next run takes what waits as one batch.

Nothing waits for a batch to fill: work that finds a slot free runs at once (a batch of one); work that finds the
slots taken queues, and the first of it to get a slot runs with the queued work that can share its batch.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from .offload import call
from .scheduling import Slots

I = TypeVar("I")  # noqa: E741
O = TypeVar("O")  # noqa: E741


@dataclass(eq=False)
class _Job(Generic[I, O]):
    item: I
    key: Hashable
    urgent: bool
    result: asyncio.Future[O]
    taken: asyncio.Future[None] = field(default_factory=lambda: asyncio.get_running_loop().create_future())
    """Done when a batch takes the job."""


class Batches(Generic[I, O]):
    """Runs ``run`` (in a worker thread) over batches of items that share a key, at most ``max_batch`` at a time,
    one batch per slot of ``slots``. ``sizes`` counts the batches run by their size."""

    def __init__(self, slots: Slots, run: Callable[[list[I]], list[O]], max_batch: int = 8) -> None:
        if max_batch < 1:
            raise ValueError("a batch holds at least one item")
        self.slots = slots
        self.run = run
        self.max_batch = max_batch
        self.sizes: Counter[int] = Counter()
        self._queued: list[_Job[I, O]] = []
        self._running: set[asyncio.Task[None]] = set()

    @property
    def queued(self) -> int:
        """Items waiting for a batch."""
        return len(self._queued)

    async def submit(self, item: I, key: Hashable = None, urgent: bool = False) -> O:
        """``run``'s result for ``item``, run in a batch with other items of the same ``key``; ``urgent`` items
        get a slot first and go first into a batch. Cancelled while queued, the item is not run."""
        job: _Job[I, O] = _Job(item, key, urgent, asyncio.get_running_loop().create_future())
        self._queued.append(job)
        slot = asyncio.ensure_future(self.slots.acquire(urgent))
        try:
            await asyncio.wait([slot, job.taken], return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            if job in self._queued:
                self._queued.remove(job)
            await self._drop(slot)
            job.result.cancel()
            raise
        if job.taken.done():  # in another's batch: the slot is not needed
            await self._drop(slot)
        else:
            self._start(self._take(job))
        try:
            return await asyncio.shield(job.result)
        except asyncio.CancelledError:
            job.result.cancel()  # its batch runs on; its result is dropped
            raise

    def _take(self, first: _Job[I, O]) -> list[_Job[I, O]]:
        """``first`` and the queued jobs that share its key, urgent ones first, each in its arrival order."""
        others = sorted((j for j in self._queued if j is not first and j.key == first.key), key=lambda j: not j.urgent)
        batch = [first, *others[: self.max_batch - 1]]
        for job in batch:
            self._queued.remove(job)
            job.taken.set_result(None)
        return batch

    def _start(self, batch: list[_Job[I, O]]) -> None:
        task = asyncio.ensure_future(self._run(batch))
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def _run(self, batch: list[_Job[I, O]]) -> None:
        """Run one batch in the slot its first job holds, then give the slot back."""
        self.sizes[len(batch)] += 1
        urgent = any(job.urgent for job in batch)
        try:
            results = await asyncio.to_thread(call, self.run, ([job.item for job in batch],), urgent)
        except Exception as exc:
            for job in batch:
                if not job.result.done():
                    job.result.set_exception(exc)
        else:
            for job, result in zip(batch, results, strict=True):
                if not job.result.done():
                    job.result.set_result(result)
        finally:
            self.slots.release()

    async def _drop(self, slot: asyncio.Future[None]) -> None:
        """Stop asking for a slot; give it back if it was given."""
        slot.cancel()
        await asyncio.wait([slot])
        if not slot.cancelled() and slot.exception() is None:
            self.slots.release()
