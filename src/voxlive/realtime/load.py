"""``Load``: how busy the server's stages have been lately, how many sessions are conversing, and whether that
is as much as the server should take (``[server] max_load``)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Collection
from dataclasses import dataclass, field

from ..speech.llm import LLM, LLMEvent, LLMRequest
from ..speech.occupancy import WINDOW_SECONDS, Clock, Occupancy, RecentSessions
from ..speech.scheduling import SESSION, Slots


@dataclass(frozen=True)
class LoadReport:
    load: float
    """The busiest stage's fraction (0 to 1): the stage that limits how many more sessions fit."""
    stages: dict[str, float] = field(default_factory=dict)
    """Each watched stage's work running or waiting over the window, as a fraction of its capacity."""
    conversing: int = 0
    """Sessions that had work for a stage (a turn heard, a reply written or spoken) in the window."""


class Load:
    """The recent load of the stages this machine runs: the local STT and TTS (through their ``Slots``) and
    the LLM (through ``metered``); a remote stage's load is its service's own."""

    def __init__(self, max_load: float = 0.9, window: float = WINDOW_SECONDS, clock: Clock = time.monotonic) -> None:
        self.max_load = max_load
        self.window = window
        self.clock = clock
        self._stages: dict[str, Occupancy] = {}
        self._recent: list[RecentSessions] = []
        self.open_sessions: Collection[str] | None = None
        """The sessions open now (a live view), so that one closed within the window is not counted conversing."""

    def watch(self, name: str, slots: Slots) -> None:
        """Count the work of a stage's slots as the stage ``name`` (over this load's window)."""
        slots.occupancy.window = self.window
        self._stages[name] = slots.occupancy
        self._recent.append(slots.recent)

    def watch_stage(self, name: str, stage: object) -> None:
        """Count a stage's work if it runs here, in ``Slots`` of its own (its ``slots``)."""
        slots = getattr(stage, "slots", None)
        if isinstance(slots, Slots):
            self.watch(name, slots)

    def metered(self, llm: LLM, capacity: int = 1) -> LLM:
        """``llm``, its replies being generated counted as the stage ``llm`` (``capacity`` at once)."""
        metered = MeteredLLM(llm, Occupancy(capacity, self.window, self.clock), RecentSessions(self.clock))
        self._stages["llm"] = metered.occupancy
        self._recent.append(metered.recent)
        return metered

    def report(self) -> LoadReport:
        """The load now, and the conversing sessions among ``open_sessions`` (``None``: all that had work)."""
        stages = {name: round(occupancy.fraction(), 3) for name, occupancy in self._stages.items()}
        since = self.clock() - self.window
        conversing = set().union(*(recent.since(since) for recent in self._recent))
        conversing.discard("")  # work for no session (the speech API, the warm-up)
        if self.open_sessions is not None:
            conversing.intersection_update(self.open_sessions)
        return LoadReport(max(stages.values(), default=0.0), stages, len(conversing))

    def full(self, report: LoadReport) -> bool:
        return report.load >= self.max_load


class MeteredLLM:
    """An LLM whose streams count as work while they run, for the session in ``SESSION``."""

    def __init__(self, llm: LLM, occupancy: Occupancy, recent: RecentSessions) -> None:
        self.llm = llm
        self.occupancy = occupancy
        self.recent = recent

    @property
    def vision(self) -> bool:
        return self.llm.vision

    @vision.setter
    def vision(self, value: bool) -> None:
        self.llm.vision = value

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        self.recent.note(SESSION.get())
        self.occupancy.change(1)
        try:
            async for event in self.llm.stream(request):
                yield event
        finally:
            self.occupancy.change(-1)

    async def prefill(self, request: LLMRequest) -> None:
        await self.llm.prefill(request)

    async def load(self) -> None:
        await self.llm.load()

    async def close(self) -> None:
        await self.llm.close()
