"""Which of the tool calls parsed from a reply are passed on: each once complete, and none made before."""

from __future__ import annotations

import json

from .llm import LLMEvent, Message, ToolCallDelta, ToolCallDone, ToolCallStarted
from .tool_call_parser import UnknownToolError


class AlreadyAnsweredError(UnknownToolError):
    """The model repeated a call whose result the conversation already holds."""


class ToolCallFilter:
    """Holds each tool call's events until it is complete. A call repeating one already made in the reply is
    never passed on; one repeating a call the conversation already has the result of is an ``AlreadyAnsweredError``
    (the reply is then generated again, without calls: the model meant to answer)."""

    def __init__(self, answered: set[tuple[str, str]]) -> None:
        self.answered = answered
        """The calls the conversation holds results of: (name, canonical arguments)."""
        self.made: set[tuple[str, str]] = set()
        self._pending: dict[int, list[LLMEvent]] = {}

    def take(self, event: LLMEvent) -> list[LLMEvent] | None:
        """The events to pass on now; ``None`` for a repeated call."""
        if isinstance(event, ToolCallStarted | ToolCallDelta):
            self._pending.setdefault(event.index, []).append(event)
            return []
        if isinstance(event, ToolCallDone):
            held = self._pending.pop(event.index, [])
            key = (event.name, canonical_arguments(event.arguments))
            if key in self.answered:
                raise AlreadyAnsweredError(event.name)
            if key in self.made:
                return None
            self.made.add(key)
            return [*held, event]
        return [event]


def canonical_arguments(arguments: str) -> str:
    """A call's JSON arguments written one way (keys sorted), so that equal arguments compare equal."""
    try:
        return json.dumps(json.loads(arguments or "{}"), sort_keys=True)
    except ValueError:
        return arguments


def answered_calls(messages: list[Message]) -> set[tuple[str, str]]:
    """The calls in the conversation that have a result: (name, canonical arguments)."""
    results = {m.get("tool_call_id") for m in messages if m.get("role") == "tool"}
    return {
        (call["function"]["name"], canonical_arguments(call["function"].get("arguments") or "{}"))
        for m in messages
        for call in m.get("tool_calls") or []
        if call.get("id") in results
    }
