"""Conversations kept across connections, restarts and servers: SQLite by default, Postgres for several servers."""

from __future__ import annotations

from pathlib import Path

from platformdirs import user_data_dir

from ..config import StoreSettings
from .sql import ConversationStore, StoredConversation

__all__ = ["ConversationStore", "StoredConversation", "default_path", "open_store"]


def default_path() -> Path:
    """The embedded store's file in the user's data directory."""
    return Path(user_data_dir("voxlive")) / "conversations.db"


def open_store(settings: StoreSettings) -> ConversationStore:
    """The store the settings name (not yet opened): Postgres for a ``postgresql://`` URL, else SQLite."""
    if settings.url:
        from .postgres import PostgresStore

        return PostgresStore(settings.url)
    from .sqlite import SQLiteStore

    return SQLiteStore(Path(settings.path) if settings.path else default_path())
