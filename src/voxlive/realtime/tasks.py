"""Helpers for the background tasks of a session."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

log = logging.getLogger(__name__)


def log_failure(task: asyncio.Future[None]) -> None:
    """A done-callback for background tasks nobody awaits: their failure is logged, not lost."""
    if not task.cancelled() and task.exception() is not None:
        log.error("background task failed: %s", task.exception())


def cancel(task: asyncio.Future[Any] | None) -> None:
    """Cancel a task that may be running."""
    if task is not None and not task.done():
        task.cancel()


def succeeded(task: asyncio.Future[Any]) -> bool:
    return task.done() and not task.cancelled() and task.exception() is None
