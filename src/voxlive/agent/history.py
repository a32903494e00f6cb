"""The agent's history: the engine's conversation seen as chat messages, and trimmed by whole turns."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ..protocol import (
    FunctionCallItem,
    FunctionCallOutputItem,
    InputTextContentPart,
    Item,
    MessageItem,
    TextContentPart,
    new_id,
)
from ..realtime.conversation import Conversation, chat_messages
from ..speech.llm import Message


@dataclass(frozen=True)
class HistoryOptions:
    max_messages: int = 100
    """The most chat messages kept (0: no limit)."""
    max_total_chars: int = 0
    """The most characters of message content kept (0: no limit)."""


def history(conversation: Conversation) -> list[Message]:
    """The conversation as chat messages (user, assistant with ``tool_calls``, tool), without instructions."""
    return chat_messages(list(conversation), "")


def items_from_messages(messages: list[Message]) -> list[Item]:
    """Conversation items for chat messages (``system`` messages are left out: instructions are separate)."""
    items: list[Item] = []
    for message in messages:
        role, content = message.get("role"), message.get("content")
        text = content if isinstance(content, str) else _text_of(content)
        if role == "user":
            part = InputTextContentPart(text=text)
            items.append(MessageItem(id=new_id("item"), role="user", status="completed", content=[part]))
        elif role == "assistant":
            if text:
                part_ = TextContentPart(text=text)
                items.append(MessageItem(id=new_id("item"), role="assistant", status="completed", content=[part_]))
            for call in message.get("tool_calls") or []:
                function = call["function"]
                arguments = function.get("arguments")
                items.append(
                    FunctionCallItem(
                        id=new_id("item"),
                        call_id=call["id"],
                        name=function["name"],
                        arguments=arguments if isinstance(arguments, str) else json.dumps(arguments or {}),
                        status="completed",
                    )
                )
        elif role == "tool":
            output = content if isinstance(content, str) else json.dumps(content)
            items.append(FunctionCallOutputItem(id=new_id("item"), call_id=message["tool_call_id"], output=output))
        elif role != "system":
            raise ValueError(f"Unknown message role {role!r}: expected user, assistant, tool or system.")
    return items


def _text_of(content: Any) -> str:
    if not content:
        return ""
    return "".join(part.get("text", "") for part in content if isinstance(part, dict))


def size(messages: list[Message]) -> int:
    """Characters of content, as the history limit counts them."""
    return sum(
        len(m["content"]) if isinstance(m.get("content"), str) else len(json.dumps(m.get("content") or ""))
        for m in messages
    ) + sum(len(json.dumps(m["tool_calls"])) for m in messages if m.get("tool_calls"))


def trim(conversation: Conversation, options: HistoryOptions) -> list[tuple[int, str]]:
    """Drop the oldest whole turns (a user message and all that answered it) while a limit is passed;
    the most recent turn always stays. Returns (messages removed, reason) per limit that acted."""
    trimmed: list[tuple[int, str]] = []
    for reason, over in (
        ("max_messages", lambda m: options.max_messages > 0 and len(m) > options.max_messages),
        ("max_chars", lambda m: options.max_total_chars > 0 and size(m) > options.max_total_chars),
    ):
        before = len(history(conversation))
        while over(history(conversation)) and _drop_first_turn(conversation):
            pass
        removed = before - len(history(conversation))
        if removed:
            trimmed.append((removed, reason))
    return trimmed


def _drop_first_turn(conversation: Conversation) -> bool:
    items = list(conversation)
    starts = [i for i, item in enumerate(items) if isinstance(item, MessageItem) and item.role == "user"]
    cut = starts[1] if len(starts) > 1 else (starts[0] if starts and starts[0] > 0 else 0)
    if cut == 0:
        return False
    for item in items[:cut]:
        assert item.id is not None
        conversation.delete(item.id)
    return True
