"""``OpenAICompatibleLLM``: any chat-completions service (OpenAI, Azure OpenAI, vLLM, Ollama, llama.cpp)."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

from .llm import (
    Finished,
    LLMEvent,
    LLMRequest,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStarted,
    Usage,
)
from .remote import STAGE_TIMEOUT, Deadline, openai_client
from .tool_call_parser import ToolCallTextParser, new_call_id


class OpenAICompatibleLLM:
    """Streams from ``POST {base_url}/chat/completions``.

    Tool calls come from ``delta.tool_calls``; a service that leaves a small model's JSON tool
    call in the text (as llama.cpp's server does) is parsed the same way as the local model.
    """

    def __init__(
        self,
        *,
        base_url: str | None,
        api_key: str | None,
        model: str,
        vision: bool = False,
        timeout: float = STAGE_TIMEOUT,
        max_output_tokens: int = 4096,
    ) -> None:
        self.client = openai_client(base_url, api_key, timeout)
        self.model = model
        self.vision = vision
        """Set it for a vision model (gpt-4o, Qwen2-VL, LLaVA…): the service is not asked what it can read."""
        self.timeout = timeout
        """Seconds to the first piece of a reply, and between pieces; then the reply fails."""
        self.max_output_tokens = max_output_tokens
        """The most tokens of a reply whose request sets no limit; a service that streams on is cut there."""

    async def load(self) -> None:
        """Nothing to load: the service holds the weights."""

    async def prefill(self, request: LLMRequest) -> None:
        """Nothing: the service keeps its own prompt cache."""

    async def close(self) -> None:
        """Close the connections to the service."""
        await self.client.close()

    def extra_fields(self, request: LLMRequest) -> dict[str, Any] | None:
        """Fields of the request beyond the OpenAI API's, for a service that takes its own: none here."""
        return None

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        """The reply's events; ``TimeoutError`` when the service is silent for ``timeout`` seconds, ``ValueError``
        when what it sends is no reply. A reply is cut after ``max_tokens`` (or ``max_output_tokens``) chunks."""
        tools = request.tools if request.tools and request.tool_choice != "none" else None
        options: dict[str, Any] = {"tools": tools, "tool_choice": request.tool_choice} if tools else {}
        if request.max_tokens:
            options["max_tokens"] = request.max_tokens
        limit = request.max_tokens or self.max_output_tokens
        deadline = Deadline(self.timeout)
        stream = await deadline.wait(
            self.client.chat.completions.create(  # type: ignore[call-overload]
                model=self.model,
                messages=request.messages,
                temperature=request.temperature,
                stream=True,
                stream_options={"include_usage": True},
                extra_body=self.extra_fields(request),
                **options,
            )
        )
        parser = ToolCallTextParser() if tools else None
        calls: dict[int, dict[str, str]] = {}
        finish = "stop"
        answered = False
        async with stream:
            chunks = aiter(stream)
            for _ in range(limit + _FRAMING_CHUNKS):
                try:
                    chunk = await deadline.wait(anext(chunks))
                except StopAsyncIteration:
                    break
                deadline.renew()
                usage = getattr(chunk, "usage", None)
                if usage is not None:
                    cached = getattr(usage.prompt_tokens_details, "cached_tokens", 0) or 0
                    yield Usage(usage.prompt_tokens, usage.completion_tokens, cached)
                for choice in getattr(chunk, "choices", None) or []:
                    answered = True
                    delta = choice.delta
                    reasoning = getattr(delta, "reasoning_content", None) or getattr(delta, "reasoning", None)
                    if reasoning:
                        yield ReasoningDelta(reasoning)
                    if delta.content:
                        for parsed in parser.feed(delta.content) if parser else [TextDelta(delta.content)]:
                            yield parsed
                    for call in delta.tool_calls or []:
                        for event in _tool_call_delta(calls, call):
                            yield event
                    finish = choice.finish_reason or finish
            else:
                finish = "length"  # the service went on past the limit
        if not answered:
            raise ValueError("the service's answer is not a chat completion stream")
        for event in parser.finish() if parser else []:
            yield event
        called = bool(calls) or (parser is not None and parser.call_count > 0)
        for index, call in sorted(calls.items()):
            yield ToolCallDone(index, call["id"], call["name"], call["arguments"])
        yield Finished("length" if finish == "length" else "tool_calls" if called else "stop")


_FRAMING_CHUNKS = 4
"""Chunks of a stream that carry no token (the role, the finish reason, the usage)."""


def _tool_call_delta(calls: dict[int, dict[str, str]], delta: Any) -> list[LLMEvent]:
    """Events for one streamed ``tool_calls`` fragment; offsets the index past text-parsed calls."""
    index = 1000 + delta.index
    events: list[LLMEvent] = []
    call = calls.get(index)
    function = delta.function
    if call is None:
        call = calls[index] = {"id": delta.id or new_call_id(), "name": "", "arguments": ""}
    if function is not None and function.name and not call["name"]:
        call["name"] = function.name
        events.append(ToolCallStarted(index, call["id"], call["name"]))
    if function is not None and function.arguments:
        call["arguments"] += function.arguments
        events.append(ToolCallDelta(index, function.arguments))
    return events
