"""The LLM stage: what a language model is asked, and the events it streams back."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from .sampling import DEFAULT_TEMPERATURE

Message = dict[str, Any]
"""A chat message in the OpenAI chat-completions shape (``role``, ``content``, ``tool_calls``, …)."""


@dataclass(frozen=True, slots=True)
class LLMRequest:
    messages: list[Message]
    tools: list[dict[str, Any]] = field(default_factory=list)
    """Function tools in the chat-completions shape: ``{"type": "function", "function": {...}}``."""
    tool_choice: str | dict[str, Any] = "auto"
    """``auto``, ``none``, ``required``, ``{"type": "function", "function": {"name": ...}}``, or
    ``{"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [...]}}`` (one of these)."""
    temperature: float = DEFAULT_TEMPERATURE
    max_tokens: int | None = None


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ToolCallStarted:
    index: int
    call_id: str
    name: str


@dataclass(frozen=True, slots=True)
class ToolCallDelta:
    index: int
    arguments: str


@dataclass(frozen=True, slots=True)
class ToolCallDone:
    index: int
    call_id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int
    cached_tokens: int = 0


@dataclass(frozen=True, slots=True)
class Trimmed:
    """The prompt was cut to fit the model's context: the ``messages`` oldest messages of the conversation were left
    out (whole turns), and with ``instructions_cut`` the instructions were cut to their start. Comes first."""

    messages: int
    instructions_cut: bool = False


FinishReason = Literal["stop", "length", "tool_calls"]


@dataclass(frozen=True, slots=True)
class Finished:
    reason: FinishReason


LLMEvent = TextDelta | ReasoningDelta | ToolCallStarted | ToolCallDelta | ToolCallDone | Usage | Trimmed | Finished


class LLM(Protocol):
    """A chat model that streams text and tool calls. Cancelling the iteration stops generation."""

    vision: bool
    """Whether the model reads images (``image_url`` parts in a user message)."""

    def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]: ...

    async def prefill(self, request: LLMRequest) -> None:
        """Read ahead the prompt of a request that a later one will extend (the user's words so far), if the
        model is idle, so that the later one starts sooner; best effort, and never in a request's way."""
        ...

    async def load(self) -> None:
        """Load weights or check the service; called once before the first request."""
        ...

    async def close(self) -> None:
        """Release what ``load`` started (a process, connections); the LLM is not used after."""
        ...
