"""``Approvals``: tool calls waiting for a person to allow or refuse them."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Approval:
    approve: bool
    reason: str | None = None


class Approvals:
    """Pending approval requests by id: a call ``wait``s for its request's answer, the client ``answer``s it."""

    def __init__(self) -> None:
        self._waiting: dict[str, asyncio.Future[Approval]] = {}

    def is_waiting(self, request_id: str) -> bool:
        return request_id in self._waiting

    async def wait(self, request_id: str, timeout: float) -> Approval | None:
        """The answer to the request, or ``None`` when none came within ``timeout`` seconds."""
        future = self._waiting[request_id] = asyncio.get_running_loop().create_future()
        try:
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return None
        finally:
            self._waiting.pop(request_id, None)

    def answer(self, request_id: str, approval: Approval) -> None:
        future = self._waiting.pop(request_id, None)
        if future is not None and not future.done():
            future.set_result(approval)
