"""``ConversationStore``: conversations, their items, turn timings and recordings, in SQL that SQLite and
Postgres both run (``$1``-style parameters)."""

from __future__ import annotations

import json
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

Statement = tuple[str, tuple[Any, ...]]

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS conversations (id TEXT PRIMARY KEY, owner TEXT NOT NULL,"
    " created_at DOUBLE PRECISION NOT NULL, updated_at DOUBLE PRECISION NOT NULL)",
    "CREATE INDEX IF NOT EXISTS conversations_updated ON conversations (updated_at)",
    "CREATE TABLE IF NOT EXISTS items (conversation_id TEXT NOT NULL, id TEXT NOT NULL,"
    " seq DOUBLE PRECISION NOT NULL, item TEXT NOT NULL, PRIMARY KEY (conversation_id, id))",
    "CREATE TABLE IF NOT EXISTS turns (conversation_id TEXT NOT NULL, id TEXT NOT NULL,"
    " seq DOUBLE PRECISION NOT NULL, turn TEXT NOT NULL, PRIMARY KEY (conversation_id, id))",
    "CREATE TABLE IF NOT EXISTS recordings (conversation_id TEXT NOT NULL, item_id TEXT NOT NULL,"
    " wav BYTEA NOT NULL, PRIMARY KEY (conversation_id, item_id))",
)
TABLES = ("items", "turns", "recordings")


@dataclass
class StoredConversation:
    id: str
    created_at: float
    updated_at: float
    items: list[dict[str, Any]]
    """The items' wire form, in conversation order."""
    places: list[float]
    """Each item's place in that order."""
    turns: list[dict[str, Any]]
    """Each answered turn's stage timings, oldest first."""
    recordings: list[str]
    """The ids of the items whose audio is kept."""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "realtime.conversation",
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "items": self.items,
            "turns": self.turns,
            "recordings": self.recordings,
        }


class ConversationStore(ABC):
    """Every conversation belongs to an owner (a digest of the API key that made it, ``""`` without keys);
    reading or deleting names the owner, and another owner's conversation is as good as absent."""

    @abstractmethod
    async def open(self) -> None:
        """Connect and create the tables that are missing."""

    @abstractmethod
    async def close(self) -> None: ...

    @abstractmethod
    async def _run(self, statements: list[Statement]) -> None:
        """Run statements in one transaction."""

    @abstractmethod
    async def _rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]: ...

    async def create(self, conversation_id: str, owner: str) -> None:
        now = time.time()
        sql = "INSERT INTO conversations (id, owner, created_at, updated_at) VALUES ($1, $2, $3, $3)"
        await self._run([(sql + " ON CONFLICT (id) DO NOTHING", (conversation_id, owner, now))])

    async def owns(self, conversation_id: str, owner: str) -> bool:
        rows = await self._rows("SELECT owner FROM conversations WHERE id = $1", conversation_id)
        return bool(rows) and rows[0][0] == owner

    async def load(self, conversation_id: str, owner: str) -> StoredConversation | None:
        rows = await self._rows(
            "SELECT created_at, updated_at FROM conversations WHERE id = $1 AND owner = $2", conversation_id, owner
        )
        if not rows:
            return None
        items = await self._rows("SELECT item, seq FROM items WHERE conversation_id = $1 ORDER BY seq", conversation_id)
        turns = await self._rows("SELECT turn FROM turns WHERE conversation_id = $1 ORDER BY seq", conversation_id)
        recorded = await self._rows(
            "SELECT item_id FROM recordings WHERE conversation_id = $1 ORDER BY item_id", conversation_id
        )
        return StoredConversation(
            id=conversation_id,
            created_at=float(rows[0][0]),
            updated_at=float(rows[0][1]),
            items=[json.loads(row[0]) for row in items],
            places=[float(row[1]) for row in items],
            turns=[json.loads(row[0]) for row in turns],
            recordings=[row[0] for row in recorded],
        )

    async def save_item(self, conversation_id: str, item_id: str, seq: float, item: dict[str, Any]) -> None:
        sql = (
            "INSERT INTO items (conversation_id, id, seq, item) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (conversation_id, id) DO UPDATE SET seq = excluded.seq, item = excluded.item"
        )
        await self._run([(sql, (conversation_id, item_id, float(seq), json.dumps(item))), self._touch(conversation_id)])

    async def delete_item(self, conversation_id: str, item_id: str) -> None:
        await self._run(
            [
                ("DELETE FROM items WHERE conversation_id = $1 AND id = $2", (conversation_id, item_id)),
                ("DELETE FROM recordings WHERE conversation_id = $1 AND item_id = $2", (conversation_id, item_id)),
                self._touch(conversation_id),
            ]
        )

    async def save_turn(self, conversation_id: str, turn_id: str, seq: float, turn: dict[str, Any]) -> None:
        sql = (
            "INSERT INTO turns (conversation_id, id, seq, turn) VALUES ($1, $2, $3, $4)"
            " ON CONFLICT (conversation_id, id) DO UPDATE SET turn = excluded.turn"
        )
        await self._run([(sql, (conversation_id, turn_id, float(seq), json.dumps(turn))), self._touch(conversation_id)])

    async def save_recording(self, conversation_id: str, item_id: str, wav: bytes) -> None:
        sql = (
            "INSERT INTO recordings (conversation_id, item_id, wav) VALUES ($1, $2, $3)"
            " ON CONFLICT (conversation_id, item_id) DO UPDATE SET wav = excluded.wav"
        )
        await self._run([(sql, (conversation_id, item_id, wav))])

    async def recording(self, conversation_id: str, owner: str, item_id: str) -> bytes | None:
        if not await self.owns(conversation_id, owner):
            return None
        rows = await self._rows(
            "SELECT wav FROM recordings WHERE conversation_id = $1 AND item_id = $2", conversation_id, item_id
        )
        return bytes(rows[0][0]) if rows else None

    async def delete(self, conversation_id: str, owner: str) -> bool:
        """Delete a conversation and all it holds; whether the owner had it."""
        if not await self.owns(conversation_id, owner):
            return False
        await self._run(self._deletion("= $1", (conversation_id,)))
        return True

    async def purge(self, before: float) -> int:
        """Delete the conversations last changed before ``before`` (a Unix time); how many."""
        rows = await self._rows("SELECT count(*) FROM conversations WHERE updated_at < $1", before)
        await self._run(self._deletion("IN (SELECT id FROM conversations WHERE updated_at < $1)", (before,)))
        return int(rows[0][0])

    @staticmethod
    def _deletion(condition: str, args: tuple[Any, ...]) -> list[Statement]:
        """Delete what belongs to the conversations whose id is ``condition``, then those conversations."""
        statements = [(f"DELETE FROM {table} WHERE conversation_id {condition}", args) for table in TABLES]
        return [*statements, (f"DELETE FROM conversations WHERE id {condition}", args)]

    @staticmethod
    def _touch(conversation_id: str) -> Statement:
        return ("UPDATE conversations SET updated_at = $2 WHERE id = $1", (conversation_id, time.time()))
