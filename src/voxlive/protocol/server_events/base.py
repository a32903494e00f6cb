"""The base of every server event, and the event of a type this library does not know."""

from __future__ import annotations

from pydantic import Field

from ..base import WireModel, new_id


class ServerEvent(WireModel):
    type: str
    event_id: str = Field(default_factory=lambda: new_id("event"))


class UnknownServerEvent(ServerEvent):
    """A server event of a type this library does not know; every field is kept."""
