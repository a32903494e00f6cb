"""``Journal``: a conversation's changes written to the store in the order they happened, off the event loop's
critical path."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..protocol import InputAudioContentPart, Item, MessageItem, ProtocolError
from ..speech import files
from ..store import ConversationStore, StoredConversation
from .metrics import TurnMetrics

log = logging.getLogger(__name__)

Write = Callable[[], Awaitable[None]]

SETTLE_S = 10.0
"""How long a resume waits for this process's earlier sessions of the conversation to store what they hold."""
_writers: dict[str, set[asyncio.Task[None]]] = {}
"""The journals writing each conversation in this process, until their sessions have closed."""


class Journal:
    """Queues each change as it happens (its content copied then) and writes the queue in order; a write that
    fails is logged and the conversation goes on."""

    def __init__(self, store: ConversationStore, conversation_id: str, owner: str, keep_audio: bool = False) -> None:
        self.store = store
        self.conversation_id = conversation_id
        self.owner = owner
        self.keep_audio = keep_audio
        self._queue: asyncio.Queue[Write | None] = asyncio.Queue()
        self._writer: asyncio.Task[None] | None = None

    def start(self, new: bool) -> None:
        """Begin writing; a new conversation is created first."""
        if new:
            self._put(lambda: self.store.create(self.conversation_id, self.owner))
        self._writer = writer = asyncio.create_task(self._write())
        writing = _writers.setdefault(self.conversation_id, set())
        writing.add(writer)

        def written(_: asyncio.Task[None]) -> None:
            writing.discard(writer)
            if not writing and _writers.get(self.conversation_id) is writing:
                del _writers[self.conversation_id]

        writer.add_done_callback(written)

    def item(self, item: Item, seq: float) -> None:
        data = stored_item(item)
        item_id = data["id"]
        self._put(lambda: self.store.save_item(self.conversation_id, item_id, seq, data))

    def deleted(self, item_id: str) -> None:
        self._put(lambda: self.store.delete_item(self.conversation_id, item_id))

    def turn(self, turn: TurnMetrics, seq: float) -> None:
        data = turn.as_dict()
        turn_id = turn.response_id or turn.item_id or str(seq)
        self._put(lambda: self.store.save_turn(self.conversation_id, turn_id, seq, data))

    def recording(self, item_id: str, samples: np.ndarray, rate: int) -> None:
        """Keep an item's audio (int16 samples), when recordings are kept."""
        if not self.keep_audio or len(samples) == 0:
            return

        async def save() -> None:
            wav = await asyncio.to_thread(files.write, samples, rate, "wav")
            await self.store.save_recording(self.conversation_id, item_id, wav)

        self._put(save)

    async def flush(self, timeout: float = 5.0) -> None:
        """Wait until what is queued is written (or ``timeout`` passes: a slow store does not hold a response)."""
        if self._writer is not None and not self._writer.done():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), timeout)

    async def close(self, timeout: float = 10.0) -> None:
        """Write what is queued (for at most ``timeout`` seconds), then stop."""
        if self._writer is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._writer), timeout)
        except TimeoutError:
            log.warning("conversation %s: %d changes not stored", self.conversation_id, self._queue.qsize())
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer

    def _put(self, write: Write) -> None:
        self._queue.put_nowait(write)

    async def _write(self) -> None:
        while (write := await self._queue.get()) is not None:
            try:
                await write()
            except Exception as exc:
                log.error("conversation %s: a change could not be stored: %s", self.conversation_id, exc)
            finally:
                self._queue.task_done()


def stored_item(item: Item) -> dict[str, Any]:
    """An item as it is kept: its wire form without the audio bytes of input parts (recordings keep audio)."""
    data = item.to_dict()
    if isinstance(item, MessageItem):
        for part, stored in zip(item.content, data.get("content", []), strict=False):
            if isinstance(part, InputAudioContentPart):
                stored.pop("audio", None)
    return data


@dataclass(frozen=True)
class Archive:
    """The store as one owner (API key) sees it: where a session resumes a conversation from and writes it to."""

    store: ConversationStore
    owner: str
    keep_audio: bool = False

    async def load(self, conversation_id: str) -> StoredConversation | None:
        """The conversation as stored once the sessions that held it before (a socket that just dropped) have
        stored what they hold, or ``SETTLE_S`` has passed."""
        if writing := _writers.get(conversation_id):
            await asyncio.wait(set(writing), timeout=SETTLE_S)
        return await self.store.load(conversation_id, self.owner)

    def open(self, conversation_id: str, new: bool) -> Journal:
        journal = Journal(self.store, conversation_id, self.owner, self.keep_audio)
        journal.start(new)
        return journal


async def resumable(archive: Archive | None, conversation_id: str) -> StoredConversation:
    """The stored conversation a session resumes; ``ProtocolError`` when there is none or the store fails."""
    try:
        stored = await archive.load(conversation_id) if archive is not None else None
    except Exception as exc:
        log.error("conversation %s could not be loaded: %s", conversation_id, exc)
        message = f"Conversation '{conversation_id}' could not be loaded; a new conversation was started."
        raise ProtocolError(message, type="server_error", code="store_unavailable") from exc
    if stored is None:
        raise ProtocolError(
            f"No conversation '{conversation_id}' to resume; a new conversation was started.",
            code="conversation_not_found",
            param="conversation-id",
        )
    return stored
