"""``EventEmitter``: named events with sync or async listeners, as ``agent.on("text", fn)``."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from typing import Any, overload

log = logging.getLogger(__name__)

Listener = Callable[..., Any]


class EventEmitter:
    """Listeners run in the order they were added. A listener takes the event's payload (or nothing,
    for events without one); an async listener runs as a task. A listener that raises is reported as
    an ``error`` event (and logged when nobody listens for errors); the others still run."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[tuple[Listener, bool]]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @overload
    def on(self, event: str) -> Callable[[Listener], Listener]: ...
    @overload
    def on(self, event: str, listener: Listener) -> Listener: ...
    def on(self, event: str, listener: Listener | None = None) -> Any:
        """Call ``listener`` on every ``event``; without ``listener``, a decorator."""
        return self._add(event, listener, once=False)

    @overload
    def once(self, event: str) -> Callable[[Listener], Listener]: ...
    @overload
    def once(self, event: str, listener: Listener) -> Listener: ...
    def once(self, event: str, listener: Listener | None = None) -> Any:
        """Call ``listener`` on the next ``event`` only."""
        return self._add(event, listener, once=True)

    def _add(self, event: str, listener: Listener | None, once: bool) -> Any:
        if listener is None:
            return lambda fn: self._add(event, fn, once)
        self._listeners.setdefault(event, []).append((listener, once))
        return listener

    def off(self, event: str, listener: Listener | None = None) -> None:
        """Remove ``listener`` from ``event``, or every listener of ``event``."""
        if listener is None:
            self._listeners.pop(event, None)
            return
        self._listeners[event] = [(fn, once) for fn, once in self._listeners.get(event, []) if fn is not listener]

    def remove_all_listeners(self) -> None:
        self._listeners.clear()

    def listener_count(self, event: str) -> int:
        return len(self._listeners.get(event, []))

    def emit(self, event: str, *payload: Any) -> bool:
        """Call the listeners of ``event`` with ``payload``; whether there were any."""
        listeners = self._listeners.get(event, [])
        if not listeners:
            if event == "error":
                log.error("unhandled agent error: %s", payload[0] if payload else None)
            return False
        self._listeners[event] = [(fn, once) for fn, once in listeners if not once]
        for listener, _ in listeners:
            try:
                result = listener(*payload)
            except Exception as exc:
                self._listener_failed(event, exc)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(lambda done, name=event: self._async_listener_done(name, done))
        return True

    def _async_listener_done(self, event: str, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self._listener_failed(event, task.exception())

    def _listener_failed(self, event: str, exc: BaseException | None) -> None:
        if event == "error":
            log.error("an error listener failed: %s", exc)
        else:
            self.emit("error", exc)

    async def drain(self) -> None:
        """Wait for the async listeners that are still running."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
