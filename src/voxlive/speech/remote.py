"""What the OpenAI-compatible providers share: a client that gives up in realtime, and a stage's deadline."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

from openai import AsyncOpenAI

T = TypeVar("T")

STAGE_TIMEOUT = 30.0
"""Seconds a remote stage may go without producing anything (``[server] stage_timeout``)."""


def openai_client(base_url: str | None, api_key: str | None, timeout: float) -> AsyncOpenAI:
    """A client whose requests give up after ``timeout`` seconds and are tried once more at most (the library's
    defaults wait up to 10 minutes, three times)."""
    return AsyncOpenAI(base_url=base_url, api_key=api_key or "none", timeout=timeout, max_retries=1)


class Deadline:
    """A stage's patience: ``timeout`` seconds from its start, and again from each ``renew`` (a piece produced)."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.renew()

    def renew(self) -> None:
        self._at = asyncio.get_running_loop().time() + self.timeout

    async def wait(self, step: Awaitable[T]) -> T:
        """``step``'s result; ``TimeoutError`` saying so when the deadline passes first."""
        try:
            async with asyncio.timeout_at(self._at):
                return await step
        except TimeoutError:
            raise TimeoutError(f"the service did not answer within {self.timeout:g} s") from None
