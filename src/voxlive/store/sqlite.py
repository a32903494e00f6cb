"""The embedded store: one SQLite file in WAL mode, written from a worker thread."""

from __future__ import annotations

import asyncio
import re
import sqlite3
import threading
from pathlib import Path
from typing import Any

from .sql import SCHEMA, ConversationStore, Statement

_PARAMETER = re.compile(r"\$(\d+)")


class SQLiteStore(ConversationStore):
    """Each change is committed before the next is made, so a crash loses nothing already written;
    several processes may share the file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db: sqlite3.Connection | None = None
        self._lock = threading.Lock()

    async def open(self) -> None:
        await asyncio.to_thread(self._open)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=10)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        for sql in SCHEMA:
            db.execute(sql.replace("BYTEA", "BLOB"))
        self._db = db

    async def close(self) -> None:
        db, self._db = self._db, None
        if db is not None:
            await asyncio.to_thread(db.close)

    async def _run(self, statements: list[Statement]) -> None:
        await asyncio.to_thread(self._transaction, statements)

    async def _rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        return await asyncio.to_thread(self._select, sql, args)

    def _transaction(self, statements: list[Statement]) -> None:
        with self._lock:
            db = self._connection()
            db.execute("BEGIN IMMEDIATE")
            try:
                for sql, args in statements:
                    db.execute(_PARAMETER.sub(r"?\1", sql), args)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _select(self, sql: str, args: tuple[Any, ...]) -> list[tuple[Any, ...]]:
        with self._lock:
            return self._connection().execute(_PARAMETER.sub(r"?\1", sql), args).fetchall()

    def _connection(self) -> sqlite3.Connection:
        if self._db is None:
            raise RuntimeError("the conversation store is not open")
        return self._db
