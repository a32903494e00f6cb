"""``Gate``: who may open a session — a page from an allowed origin, a valid API key, room on the server (its
sessions and its load) and for the key — and the closing of every socket when the server drains."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import NamedTuple
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.websockets import WebSocket

from ..config import ServerSettings
from ..protocol import ProtocolError
from ..realtime.load import Load, LoadReport
from ..realtime.session_config import check_model_name
from .errors import deny

RESTART = 1012
"""The close code of a server going away for a restart: reconnect (and resume) elsewhere or later."""
TRY_AGAIN_LATER = 1013
"""The close code of a session refused because the server is full."""
SERVER_FULL = "server_full"


class Refusal(NamedTuple):
    """Why a connection is refused: its HTTP status, error code and message."""

    status: int
    code: str
    message: str


ORIGIN_REFUSED = Refusal(403, "origin_not_allowed", "This server does not accept pages from that origin.")
KEY_REFUSED = Refusal(401, "invalid_api_key", "A valid API key is required.")


class Capacity(NamedTuple):
    """How much the server holds now, and whether that is all it should take."""

    sessions: int
    report: LoadReport
    full: bool

    def as_dict(self) -> dict[str, object]:
        report = self.report
        return {
            "load": report.load,
            "sessions": self.sessions,
            "conversing": report.conversing,
            "stages": report.stages,
        }


ErrorEvent = Callable[[Refusal], str]
"""The error event, as the socket's protocol writes it, that tells a client why its session was refused."""


class Gate:
    def __init__(self, settings: ServerSettings, load: Load) -> None:
        self.settings = settings
        self.load = load
        self.draining = False
        self.sockets: set[WebSocket] = set()
        self._open: Counter[str] = Counter()

    def origin_allowed(self, connection: HTTPConnection, origin: str | None = None) -> bool:
        """A browser's page may connect only from this server's own origin or one the settings allow;
        clients that send no ``Origin`` (SDKs, servers) are not browsers driven by another site.
        ``origin``: the page's origin when it is not the connection's own ``Origin`` header (an admission probe)."""
        origin = origin if origin is not None else connection.headers.get("origin")
        if origin is None:
            return True
        allowed = self.settings.allowed_origins
        if "*" in allowed or origin.rstrip("/") in (o.rstrip("/") for o in allowed):
            return True
        return urlsplit(origin).netloc.lower() == connection.headers.get("host", "").lower()

    def capacity(self) -> Capacity:
        """The sessions open, the load, and whether the server is full (``max_sessions``, ``max_load``)."""
        sessions = sum(self._open.values())
        report = self.load.report()
        return Capacity(sessions, report, sessions >= self.settings.max_sessions or self.load.full(report))

    @contextlib.asynccontextmanager
    async def session(
        self, websocket: WebSocket, owner: str, ready: bool, error_event: ErrorEvent
    ) -> AsyncIterator[bool]:
        """Admit a WebSocket of ``owner`` for the length of the block: yields whether it was. A refused one is
        refused before its upgrade, except when the server is full: that one is accepted, told why in an
        ``error_event`` and closed with 1013 (Try Again Later), which a client sees whatever its WebSocket API."""
        refusal = self.refusal(websocket, owner, ready)
        if refusal is not None and refusal.code == SERVER_FULL:
            await websocket.accept()
            with contextlib.suppress(Exception):  # the client may be gone already
                await websocket.send_text(error_event(refusal))
                await websocket.close(code=TRY_AGAIN_LATER, reason="The server is full; try again shortly.")
            yield False
            return
        if refusal is not None:
            await deny(websocket, *refusal)
            yield False
            return
        await websocket.accept()
        self._open[owner] += 1
        self.sockets.add(websocket)
        try:
            yield True
        finally:
            self.sockets.discard(websocket)
            self._open[owner] -= 1
            if not self._open[owner]:
                del self._open[owner]

    def refusal(
        self, connection: HTTPConnection, owner: str | None, ready: bool, origin: str | None = None
    ) -> Refusal | None:
        """Why a realtime session for ``owner`` (``None``: no valid key) on this connection, from a page of
        ``origin``, would be refused now, or ``None``. A browser, whose WebSocket API shows no HTTP status when
        a socket is refused, asks this over HTTP to tell its user why."""
        per_key = self.settings.max_sessions_per_key
        if not self.origin_allowed(connection, origin):
            return ORIGIN_REFUSED
        if owner is None:
            return KEY_REFUSED
        try:
            check_model_name(connection.query_params.get("model"), "model")
        except ProtocolError as exc:
            return Refusal(400, exc.code, exc.message)
        if self.draining:
            return Refusal(503, "server_draining", "The server is restarting; connect again shortly.")
        if not ready:
            return Refusal(503, "server_loading", "The server is loading its models; connect again shortly.")
        if (capacity := self.capacity()).full:
            return Refusal(503, SERVER_FULL, full_message(capacity))
        if per_key is not None and self._open[owner] >= per_key:
            return Refusal(429, "too_many_sessions_for_key", f"This API key holds {per_key} sessions already.")
        return None

    async def close_all(self, reason: str) -> None:
        """Close every admitted socket with the restart code."""
        sockets = list(self.sockets)
        for websocket in sockets:
            with contextlib.suppress(Exception):
                await websocket.close(code=RESTART, reason=reason)
        await asyncio.sleep(0)


def full_message(capacity: Capacity) -> str:
    """Why a full server refuses a session, and what to do."""
    return (
        f"The server is full ({capacity.sessions} sessions, load {capacity.report.load:.2f}): "
        "try again shortly, or connect to another server."
    )
