"""``EventEmitter``: listeners by event class (``agent.on(TextDelta, fn)``) or by name (``agent.on("text", fn)``),
sync or async."""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar, overload

from .events import AgentError, AgentEvent

log = logging.getLogger(__name__)

Listener = Callable[..., Any]
E = TypeVar("E", bound=AgentEvent)


@dataclass(frozen=True)
class _Entry:
    listener: Listener
    once: bool
    typed: bool
    """Added by class: called with the event object rather than its payload."""


class EventEmitter:
    """Listeners run in the order they were added. One added by class gets the event object; one added by name
    gets the event's payload (or nothing, for events without one). An async listener runs as a task. A listener
    that raises is reported as an ``error`` event (and logged when nobody listens for errors); the others still
    run."""

    def __init__(self) -> None:
        self._listeners: dict[str, list[_Entry]] = {}
        self._tasks: set[asyncio.Task[Any]] = set()

    @overload
    def on(self, event: type[E]) -> Callable[[Callable[[E], Any]], Callable[[E], Any]]: ...
    @overload
    def on(self, event: type[E], listener: Callable[[E], Any]) -> Callable[[E], Any]: ...
    @overload
    def on(self, event: str) -> Callable[[Listener], Listener]: ...
    @overload
    def on(self, event: str, listener: Listener) -> Listener: ...
    def on(self, event: str | type[AgentEvent], listener: Listener | None = None) -> Any:
        """Call ``listener`` on every ``event``; without ``listener``, a decorator."""
        return self._add(event, listener, once=False)

    @overload
    def once(self, event: type[E]) -> Callable[[Callable[[E], Any]], Callable[[E], Any]]: ...
    @overload
    def once(self, event: type[E], listener: Callable[[E], Any]) -> Callable[[E], Any]: ...
    @overload
    def once(self, event: str) -> Callable[[Listener], Listener]: ...
    @overload
    def once(self, event: str, listener: Listener) -> Listener: ...
    def once(self, event: str | type[AgentEvent], listener: Listener | None = None) -> Any:
        """Call ``listener`` on the next ``event`` only."""
        return self._add(event, listener, once=True)

    def _add(self, event: str | type[AgentEvent], listener: Listener | None, once: bool) -> Any:
        if listener is None:
            return lambda fn: self._add(event, fn, once)
        entry = _Entry(listener, once, typed=not isinstance(event, str))
        self._listeners.setdefault(_name(event), []).append(entry)
        return listener

    def off(self, event: str | type[AgentEvent], listener: Listener | None = None) -> None:
        """Remove ``listener`` (an equal bound method too) from ``event``, or every listener of ``event``."""
        name = _name(event)
        if listener is None:
            self._listeners.pop(name, None)
            return
        self._listeners[name] = [entry for entry in self._listeners.get(name, []) if entry.listener != listener]

    def remove_all_listeners(self) -> None:
        self._listeners.clear()

    def listener_count(self, event: str | type[AgentEvent]) -> int:
        return len(self._listeners.get(_name(event), []))

    def emit(self, event: str | AgentEvent, *payload: Any) -> bool:
        """Call the listeners of ``event`` (an event object, or a name with its ``payload``); whether there were any."""
        if isinstance(event, AgentEvent):
            name, payload = event.type, event.payload()
        else:
            name = event
        listeners = self._listeners.get(name, [])
        if not listeners:
            if name == "error":
                log.error("unhandled agent error: %s", payload[0] if payload else None)
            return False
        self._listeners[name] = [entry for entry in listeners if not entry.once]
        for entry in listeners:
            args = (event,) if entry.typed and isinstance(event, AgentEvent) else payload
            try:
                result = entry.listener(*args)
            except Exception as exc:
                self._listener_failed(name, exc)
                continue
            if inspect.isawaitable(result):
                task = asyncio.ensure_future(result)
                self._tasks.add(task)
                task.add_done_callback(partial(self._async_listener_done, name))
        return True

    def _async_listener_done(self, event: str, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._listener_failed(event, exc)

    def _listener_failed(self, event: str, exc: BaseException) -> None:
        if event == "error":
            log.error("an error listener failed: %s", exc)
        else:
            self.emit(AgentError(error=exc))

    async def drain(self) -> None:
        """Wait for the async listeners that are still running."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _name(event: str | type[AgentEvent]) -> str:
    return event if isinstance(event, str) else event.event_name()
