"""The agent's history: the engine's conversation seen as chat messages, and trimmed by whole turns."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..protocol import (
    ClientEventConversationItemDelete,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputTextContentPart,
    Item,
    MessageItem,
    TextContentPart,
    new_id,
)
from ..realtime.conversation import Conversation, chat_messages
from ..realtime.session import RealtimeSession
from ..speech.llm import Message
from .events import HistoryTrimmed
from .options import HistoryOptions


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


async def trim(session: RealtimeSession, options: HistoryOptions) -> list[HistoryTrimmed]:
    """Delete the oldest whole turns (a user message and all that answered it) while a limit is passed; the
    most recent turn always stays. One event per limit that acted."""
    removed, trimmed = turns_over(list(session.conversation), options)
    for item_id in removed:
        await session.handle(ClientEventConversationItemDelete(item_id=item_id))
    return [HistoryTrimmed(removed_count=count, reason=reason) for count, reason in trimmed]


def turns_over(items: list[Item], options: HistoryOptions) -> tuple[list[str], list[tuple[int, str]]]:
    """The ids of the oldest items to drop, by whole turns, to keep within the limits; and (messages removed,
    reason) per limit that acted."""
    kept = list(items)
    trimmed: list[tuple[int, str]] = []
    limits: list[tuple[str, Callable[[list[Message]], bool]]] = [
        ("max_messages", lambda m: options.max_messages > 0 and len(m) > options.max_messages),
        ("max_chars", lambda m: options.max_total_chars > 0 and size(m) > options.max_total_chars),
    ]
    for reason, over in limits:
        before = len(chat_messages(kept, ""))
        while over(chat_messages(kept, "")) and (cut := _first_turn_end(kept)):
            del kept[:cut]
        removed = before - len(chat_messages(kept, ""))
        if removed:
            trimmed.append((removed, reason))
    return [item.id or "" for item in items[: len(items) - len(kept)]], trimmed


def _first_turn_end(items: list[Item]) -> int:
    """How many items the first turn takes (0: only the last turn is left)."""
    starts = [i for i, item in enumerate(items) if isinstance(item, MessageItem) and item.role == "user"]
    return starts[1] if len(starts) > 1 else (starts[0] if starts and starts[0] > 0 else 0)
