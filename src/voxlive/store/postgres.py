"""The shared store: Postgres through ``asyncpg``, for several servers behind one balancer."""

from __future__ import annotations

from typing import Any

from .sql import SCHEMA, ConversationStore, Statement


class PostgresStore(ConversationStore):
    def __init__(self, url: str) -> None:
        self.url = url
        self._pool: Any = None

    async def open(self) -> None:
        try:
            import asyncpg
        except ImportError:
            raise RuntimeError("A Postgres store needs asyncpg: pip install 'voxlive[postgres]'.") from None
        self._pool = await asyncpg.create_pool(self.url, min_size=1, max_size=4)
        async with self._pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT pg_advisory_xact_lock(7243)")  # one server at a time creates the tables
            for sql in SCHEMA:
                await connection.execute(sql)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()

    async def _run(self, statements: list[Statement]) -> None:
        async with self._pool.acquire() as connection, connection.transaction():
            for sql, args in statements:
                await connection.execute(sql, *args)

    async def _rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        async with self._pool.acquire() as connection:
            return [tuple(row) for row in await connection.fetch(sql, *args)]
