"""The stages' shared slots: urgent work first, then sessions in turn, then arrival; and the load arithmetic."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from voxlive.realtime.load import Load, LoadReport
from voxlive.speech.llm import LLMEvent, LLMRequest, TextDelta
from voxlive.speech.occupancy import Occupancy
from voxlive.speech.scheduling import SESSION, Slots


class Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def served_order(slots: Slots, queued: list[tuple[str, bool]], holder: str = "") -> list[str]:
    """The order in which work queued as (``session:piece``, urgent) behind a held slot is served."""
    await slots.acquire(session=holder)
    order: list[str] = []

    async def piece(name: str, urgent: bool) -> None:
        SESSION.set(name.split(":")[0])
        async with slots.slot(urgent):
            order.append(name)
            await asyncio.sleep(0)

    tasks = []
    for name, urgent in queued:
        tasks.append(asyncio.create_task(piece(name, urgent)))
        await asyncio.sleep(0)  # each is waiting before the next comes
    assert slots.waiting == len(queued)
    slots.release()
    await asyncio.gather(*tasks)
    return order


async def test_urgent_work_goes_first_then_sessions_take_turns() -> None:
    order = await served_order(Slots(1), [("A:1", False), ("B:1", False), ("B:2", False), ("C:1", True)])
    assert order == ["C:1", "A:1", "B:1", "B:2"]


async def test_a_session_with_many_pieces_does_not_hold_back_one_that_came_later() -> None:
    """In arrival order B's two pieces would go before A's; fairly, A's goes between them."""
    queued = [("B:1", False), ("B:2", False), ("A:1", False), ("C:1", True)]
    assert await served_order(Slots(1), queued) == ["C:1", "B:1", "A:1", "B:2"]


async def test_the_session_just_served_waits_behind_the_others() -> None:
    queued = [("B:1", False), ("B:2", False), ("A:1", False), ("A:2", False)]
    assert await served_order(Slots(1), queued, holder="B") == ["A:1", "B:1", "A:2", "B:2"]


async def test_urgent_pieces_of_one_session_still_go_before_others_plain_pieces() -> None:
    queued = [("A:1", False), ("B:1", True), ("B:2", True)]
    assert await served_order(Slots(1), queued) == ["B:1", "B:2", "A:1"]


async def test_a_waiter_cancelled_takes_no_slot_and_the_next_is_served() -> None:
    slots = Slots(1)
    await slots.acquire(session="A")
    cancelled = asyncio.create_task(slots.acquire(session="B"))
    waiting = asyncio.create_task(slots.acquire(session="C"))
    await asyncio.sleep(0)
    cancelled.cancel()
    await asyncio.sleep(0)
    assert slots.waiting == 1 and slots.occupancy.level == 2
    slots.release()
    await waiting
    assert slots.running == 1 and slots.waiting == 0
    slots.release()
    assert slots.running == 0 and slots.occupancy.level == 0


async def test_a_waiter_cancelled_just_before_a_release_is_passed_over() -> None:
    slots = Slots(1)
    await slots.acquire(session="A")
    cancelled = asyncio.create_task(slots.acquire(session="B"))
    waiting = asyncio.create_task(slots.acquire(session="C"))
    await asyncio.sleep(0)
    cancelled.cancel()  # B's task has not run its handler yet when the slot is released
    slots.release()
    await asyncio.wait_for(waiting, 5)
    assert cancelled.cancelled() and slots.running == 1 and slots.waiting == 0
    slots.release()
    assert slots.running == 0 and slots.occupancy.level == 0


async def test_work_within_capacity_does_not_wait() -> None:
    slots = Slots(2)
    await slots.acquire(session="A")
    await asyncio.wait_for(slots.acquire(session="A"), 5)
    assert slots.running == 2 and slots.waiting == 0


def test_occupancy_is_the_mean_of_running_and_waiting_work_over_the_window() -> None:
    clock = Clock()
    busy = Occupancy(capacity=2, window=10, clock=clock)
    assert busy.fraction() == 0.0
    busy.change(+1)
    clock.now += 5
    assert busy.fraction() == pytest.approx(5 * 1 / (2 * 10))
    busy.change(+1)
    clock.now += 5
    assert busy.fraction() == pytest.approx((5 * 1 + 5 * 2) / 20)
    clock.now += 5  # the first five seconds (level 1) left the window, five more at level 2 came
    assert busy.fraction() == pytest.approx((5 * 2 + 5 * 2) / 20)
    busy.change(-2)
    clock.now += 5
    assert busy.fraction() == pytest.approx(5 * 2 / 20)
    clock.now += 5
    assert busy.fraction() == 0.0


def test_a_queue_longer_than_the_capacity_counts_and_the_fraction_stops_at_one() -> None:
    clock = Clock()
    busy = Occupancy(capacity=1, window=10, clock=clock)
    busy.change(+4)
    clock.now += 2.5
    assert busy.fraction() == pytest.approx(1.0)
    clock.now += 5
    assert busy.fraction() == 1.0
    busy.change(-4)
    clock.now += 9
    assert busy.fraction() == pytest.approx(4 * 1 / 10)


def test_old_changes_are_forgotten_but_the_level_they_set_still_counts() -> None:
    clock = Clock()
    busy = Occupancy(capacity=1, window=10, clock=clock)
    busy.change(+1)
    for _ in range(100):
        clock.now += 1
        busy.change(+1)
        busy.change(-1)
    assert len(busy._changes) <= 2 * 10 + 2
    assert busy.fraction() == pytest.approx(1.0)


def test_sessions_that_asked_in_the_window_are_the_ones_conversing() -> None:
    clock = Clock()
    slots = Slots(1, window=10, clock=clock)

    async def ask(session: str) -> None:
        await slots.acquire(session=session)
        slots.release()

    asyncio.run(ask("A"))
    clock.now += 6
    asyncio.run(ask("B"))
    assert slots.recent.since(clock.now - 10) == {"A", "B"}
    clock.now += 6
    assert slots.recent.since(clock.now - 10) == {"B"}
    asyncio.run(ask("A"))
    assert slots.recent.since(clock.now - 10) == {"A", "B"}


class Words:
    """An LLM that writes a few words, a second of the test's clock each."""

    vision = False

    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        for word in ("One ", "two ", "three."):
            self.clock.now += 1
            yield TextDelta(word)

    async def prefill(self, request: LLMRequest) -> None:
        return None

    async def load(self) -> None:
        return None

    async def close(self) -> None:
        return None


async def test_the_load_is_the_busiest_stage_and_the_server_is_full_at_max_load() -> None:
    clock = Clock()
    load = Load(max_load=0.5, window=10, clock=clock)
    tts, stt = Slots(1, clock=clock), Slots(2, clock=clock)
    load.watch("tts", tts)
    load.watch("stt", stt)
    SESSION.set("A")
    await tts.acquire()
    clock.now += 4
    report = load.report()
    assert report == LoadReport(0.4, {"tts": 0.4, "stt": 0.0}, 1) and not load.full(report)
    await stt.acquire(session="B")
    clock.now += 2
    report = load.report()
    assert report == LoadReport(0.6, {"tts": 0.6, "stt": 0.1}, 2) and load.full(report)
    tts.release()
    stt.release()
    clock.now += 5  # A asked 11 s ago, B 7 s ago
    report = load.report()
    assert report == LoadReport(0.5, {"tts": 0.5, "stt": 0.1}, 1) and load.full(report)
    clock.now += 5
    report = load.report()
    assert report == LoadReport(0.0, {"tts": 0.0, "stt": 0.0}, 0) and not load.full(report)


async def test_a_metered_llm_counts_its_replies_while_they_are_written() -> None:
    clock = Clock()
    load = Load(max_load=0.9, window=10, clock=clock)
    llm = load.metered(Words(clock))
    SESSION.set("C")
    words = [event async for event in llm.stream(LLMRequest(messages=[]))]
    assert words == [TextDelta("One "), TextDelta("two "), TextDelta("three.")]
    clock.now += 1
    assert load.report() == LoadReport(0.3, {"llm": 0.3}, 1)


async def test_work_for_no_session_loads_the_stage_but_is_no_conversation() -> None:
    clock = Clock()
    load = Load(window=10, clock=clock)
    tts = Slots(1, clock=clock)
    load.watch("tts", tts)
    await tts.acquire(session="")
    clock.now += 10
    assert load.report() == LoadReport(1.0, {"tts": 1.0}, 0)


async def test_a_session_closed_within_the_window_is_no_longer_conversing() -> None:
    clock = Clock()
    load = Load(window=10, clock=clock)
    tts = Slots(2, clock=clock)
    load.watch("tts", tts)
    sessions = {"A": object(), "B": object()}
    load.open_sessions = sessions.keys()
    for session in sessions:
        await tts.acquire(session=session)
        tts.release()
    assert load.report().conversing == 2
    del sessions["A"]
    assert load.report().conversing == 1
