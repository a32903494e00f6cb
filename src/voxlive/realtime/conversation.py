"""The conversation: an ordered list of items, and its view as chat messages for the LLM."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..protocol import (
    ITEM,
    AudioContentPart,
    FunctionCallItem,
    FunctionCallOutputItem,
    InputAudioContentPart,
    InputImageContentPart,
    Item,
    MCPApprovalRequestItem,
    MCPApprovalResponseItem,
    MCPCallItem,
    MessageItem,
    ProtocolError,
    new_id,
)
from ..speech.audio import STAGE_RATE
from ..speech.llm import Message
from ..store import StoredConversation
from .journal import Journal
from .metrics import TurnMetrics
from .speaker import SpokenAudio

USER_AUDIO_SECONDS = 60
"""The user audio a session keeps once transcribed (for ``conversation.item.retrieve``); older turns' audio goes."""
UNHEARD_AUDIO_SECONDS = 600
"""The user audio a session keeps at most, transcribed or not (a turn's audio is transcribed when a response needs
it, or as it is committed when the session transcribes)."""
SPOKEN_KEPT = 32
"""The assistant messages whose audio a session keeps (for truncation and retrieval), latest first."""


class Conversation:
    """Items in order, addressable by id, with a bound on how many it holds. With a ``journal``, each item is
    stored when it is inserted, when ``saved`` (completed, transcribed, truncated) and when deleted."""

    def __init__(self, max_items: int = 2000) -> None:
        self.id = new_id("conv")
        self.max_items = max_items
        self.journal: Journal | None = None
        self._items: list[Item] = []
        self._seq: dict[str, float] = {}
        """Each item's place in the store's order (a new item between two takes the middle)."""
        self.spoken: dict[str, SpokenAudio] = {}
        """The audio of assistant messages, by item id: what was said and when (for truncation)."""
        self.user_audio: dict[str, np.ndarray] = {}
        """The audio of committed user turns, by item id (16 kHz int16)."""
        self.turns: deque[TurnMetrics] = deque(maxlen=max_items)
        """The timings of the latest turns, oldest first."""

    def __iter__(self) -> Iterator[Item]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def get(self, item_id: str, param: str = "item_id") -> Item:
        for item in self._items:
            if item.id == item_id:
                return item
        raise ProtocolError(f"Item with item_id '{item_id}' not found.", code="item_not_found", param=param)

    def last_id(self) -> str | None:
        return self._items[-1].id if self._items else None

    def insert(self, item: Item, previous_item_id: str | None = None) -> str | None:
        """Insert after ``previous_item_id`` (``"root"``: first; ``None``: last); returns the id before it."""
        if any(existing.id == item.id for existing in self._items):
            raise ProtocolError(f"Item with id '{item.id}' already exists.", code="duplicate_item_id", param="item.id")
        if len(self._items) >= self.max_items:
            raise ProtocolError(
                f"The conversation already holds {self.max_items} items; delete some first.",
                code="conversation_too_long",
            )
        if previous_item_id is None:
            position = len(self._items)
        elif previous_item_id == "root":
            position = 0
        else:
            previous = self.get(previous_item_id, param="previous_item_id")
            position = self._items.index(previous) + 1
        self._items.insert(position, item)
        self._place(position)
        self.saved(item)
        return self._items[position - 1].id if position else None

    def _place(self, position: int) -> None:
        before = self._seq[self._items[position - 1].id or ""] if position else 0.0
        after = self._seq[self._items[position + 1].id or ""] if position + 1 < len(self._items) else before + 2.0
        self._seq[self._items[position].id or ""] = (before + after) / 2

    def saved(self, item: Item) -> None:
        """Store the item as it is now."""
        if self.journal is not None and item.id in self._seq:
            self.journal.item(item, self._seq[item.id])

    def resume(self, stored: StoredConversation) -> None:
        """Become a stored conversation: its id, and its items in order at their stored places (an item that was
        being made when the server stopped is ``incomplete``)."""
        self.id = stored.id
        for data, place in zip(stored.items, stored.places, strict=True):
            item = ITEM.validate_python(data)
            if getattr(item, "status", None) == "in_progress":
                item = item.model_copy(update={"status": "incomplete"})
            self._items.append(item)
            self._seq[item.id or ""] = place

    def replace(self, items: list[Item]) -> None:
        """Make ``items`` the whole conversation."""
        for item in list(self):
            assert item.id is not None
            self.delete(item.id)
        for item in items:
            self.insert(item)

    def add_user_audio(self, item_id: str, audio: np.ndarray) -> MessageItem:
        """A committed user turn: its message (not transcribed yet) appended, its audio (16 kHz int16) kept and
        recorded."""
        item = MessageItem(
            id=item_id,
            object="realtime.item",
            role="user",
            status="completed",
            content=[InputAudioContentPart(transcript=None)],
        )
        self.insert(item)
        self.hold_user_audio(item_id, audio)
        if self.journal is not None:
            self.journal.recording(item_id, audio, STAGE_RATE)
        return item

    def hold_user_audio(self, item_id: str, audio: np.ndarray) -> None:
        """Keep a committed turn's audio (16 kHz int16), forgetting the oldest turns' past the bounds: audio
        already transcribed past ``USER_AUDIO_SECONDS``, any past ``UNHEARD_AUDIO_SECONDS``."""
        self.user_audio[item_id] = audio
        total = sum(map(len, self.user_audio.values()))
        for old in list(self.user_audio)[:-1]:  # oldest first, never the newest
            if total <= USER_AUDIO_SECONDS * 16_000:
                break
            if total > UNHEARD_AUDIO_SECONDS * 16_000 or self._transcribed(old):
                total -= len(self.user_audio.pop(old))

    def _transcribed(self, item_id: str) -> bool:
        item = next((i for i in self._items if i.id == item_id), None)
        return not isinstance(item, MessageItem) or all(
            getattr(part, "transcript", "") is not None for part in item.content
        )

    def hold_spoken(self, item_id: str, spoken: SpokenAudio) -> None:
        """Keep what an assistant message said aloud, forgetting the oldest past the bound."""
        self.spoken[item_id] = spoken
        while len(self.spoken) > SPOKEN_KEPT:
            self.spoken.pop(next(iter(self.spoken)))

    def truncate_audio(self, item: MessageItem, content_index: int, audio_end_ms: int) -> None:
        """Cut an assistant audio part at ``audio_end_ms``, anywhere within the audio sent so far (an earlier
        truncation does not shorten that): the part keeps the words that were heard."""
        assert item.id is not None
        spoken = self.spoken.get(item.id) or SpokenAudio()  # none: no audio of it was sent
        if audio_end_ms > spoken.duration_ms:
            raise ProtocolError(
                f"audio_end_ms {audio_end_ms} is beyond the {spoken.duration_ms} ms of audio sent of item '{item.id}'.",
                code="invalid_value",
                param="audio_end_ms",
            )
        spoken.end_ms = audio_end_ms
        part = item.content[content_index]
        assert isinstance(part, AudioContentPart)
        part.transcript = spoken.heard_transcript
        self.saved(item)

    def delete(self, item_id: str) -> None:
        self._items.remove(self.get(item_id))
        self._seq.pop(item_id, None)
        self.spoken.pop(item_id, None)
        self.user_audio.pop(item_id, None)
        if self.journal is not None:
            self.journal.deleted(item_id)

    def turn_to_answer(self) -> TurnMetrics:
        """The timings of the turn a new response answers: the user audio just committed, if it is still
        unanswered and last in the conversation; else a new turn (a response to text or to a request)."""
        if self.turns and self.turns[-1].response_id is None and self.turns[-1].item_id == self.last_id():
            return self.turns[-1]
        turn = TurnMetrics()
        self.turns.append(turn)
        return turn

    def has_call(self, call_id: str) -> bool:
        return any(isinstance(item, FunctionCallItem) and item.call_id == call_id for item in self._items)


def chat_messages(items: list[Item], instructions: str, images: bool = False) -> list[Message]:
    """The conversation as chat-completion messages, instructions first.

    User audio counts by its transcript; consecutive function calls become one assistant turn. With
    ``images`` (a vision model), a message with images has a list of text and ``image_url`` parts.
    An MCP call is a tool call with its output (or error) as the result; a call that needed approval and
    was not made is a tool call whose result says so.
    """
    messages: list[Message] = [{"role": "system", "content": instructions}] if instructions else []
    answers = {item.approval_request_id: item for item in items if isinstance(item, MCPApprovalResponseItem)}
    made = {item.approval_request_id for item in items if isinstance(item, MCPCallItem)}
    for item in items:
        if isinstance(item, MessageItem):
            text = "".join(_part_text(part) for part in item.content).strip()
            pictures = [p.image_url for p in item.content if isinstance(p, InputImageContentPart) and p.image_url]
            if images and pictures:
                parts: list[dict[str, Any]] = [{"type": "text", "text": text}] if text else []
                parts += [{"type": "image_url", "image_url": {"url": url}} for url in pictures]
                messages.append({"role": item.role, "content": parts})
            elif text:
                messages.append({"role": item.role, "content": text})
        elif isinstance(item, FunctionCallItem):
            _tool_call(messages, item.call_id, item.name, item.arguments)
        elif isinstance(item, FunctionCallOutputItem):
            messages.append({"role": "tool", "tool_call_id": item.call_id, "content": item.output})
        elif isinstance(item, MCPCallItem) and (item.output is not None or item.error is not None) and item.id:
            _tool_call(messages, item.id, item.name, item.arguments)
            result = item.output if item.error is None else f"Error: {item.error.get('message', 'the call failed')}"
            messages.append({"role": "tool", "tool_call_id": item.id, "content": result})
        elif isinstance(item, MCPApprovalRequestItem) and item.id and item.id not in made:
            answer = answers.get(item.id)
            if answer is not None and answer.approve:
                continue  # approved: its call follows
            _tool_call(messages, item.id, item.name, item.arguments)
            if answer is None:
                result = "Error: the user gave no permission to run this tool in time."
            else:
                reason = f" ({answer.reason})" if answer.reason else ""
                result = f"Error: the user refused permission to run this tool{reason}."
            messages.append({"role": "tool", "tool_call_id": item.id, "content": result})
    return messages


def _tool_call(messages: list[Message], call_id: str, name: str, arguments: str | None) -> None:
    """Add a call to the assistant turn of calls it is part of, or start one."""
    call = {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments or "{}"}}
    last = messages[-1] if messages else None
    if last and last["role"] == "assistant" and "tool_calls" in last:
        last["tool_calls"].append(call)
    else:
        messages.append({"role": "assistant", "content": "", "tool_calls": [call]})


def _part_text(part: object) -> str:
    return getattr(part, "text", None) or getattr(part, "transcript", None) or ""
