"""``Gate``: who may open a session — a valid API key, a page from an allowed origin, room on the server and
for the key — and the closing of every socket when the server drains."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import re
from collections import Counter
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection
from starlette.responses import JSONResponse
from starlette.websockets import WebSocket

from ..config import ServerSettings
from ..protocol import ProtocolError
from ..realtime.session_config import check_model_name

RESTART = 1012
"""The close code of a server going away for a restart: reconnect (and resume) elsewhere or later."""


def presented_key(connection: HTTPConnection) -> str | None:
    """The API key a client presents: the ``api-key`` header or query parameter, or ``Authorization: Bearer``."""
    key = connection.headers.get("api-key") or connection.query_params.get("api-key")
    if key:
        return key
    scheme, _, token = connection.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def owner_of(key: str | None) -> str:
    """Who a key's conversations belong to: a digest of the key (``""`` on a server without keys)."""
    return hashlib.sha256(key.encode()).hexdigest()[:32] if key else ""


class Gate:
    def __init__(self, settings: ServerSettings) -> None:
        self.settings = settings
        self.draining = False
        self.sockets: set[WebSocket] = set()
        self._open: Counter[str] = Counter()

    def owner(self, connection: HTTPConnection) -> str | None:
        """The owner a connection acts for, or ``None`` when it presents no valid key (constant-time checks)."""
        keys = self.settings.api_keys
        if not keys:
            return ""
        key = presented_key(connection)
        if key is None:
            return None
        valid = [hmac.compare_digest(key.encode(), k.encode()) for k in keys]  # every key compared: no early exit
        return owner_of(key) if any(valid) else None

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

    @contextlib.asynccontextmanager
    async def session(self, websocket: WebSocket, ready: bool) -> AsyncIterator[str | None]:
        """Admit a WebSocket for the length of the block: yields its owner, or ``None`` once it was refused."""
        owner = await self._admit(websocket, ready)
        if owner is None:
            yield None
            return
        self._open[owner] += 1
        self.sockets.add(websocket)
        try:
            yield owner
        finally:
            self.sockets.discard(websocket)
            self._open[owner] -= 1
            if not self._open[owner]:
                del self._open[owner]

    async def _admit(self, websocket: WebSocket, ready: bool) -> str | None:
        owner = self.owner(websocket)
        refusal = self._refusal(websocket, owner, ready)
        if refusal is not None:
            await deny(websocket, *refusal)
            return None
        await websocket.accept()
        return owner

    def refusal(
        self, connection: HTTPConnection, ready: bool, origin: str | None = None
    ) -> tuple[int, str, str] | None:
        """Why a realtime session for this connection's key (and a page of ``origin``) would be refused now, as
        (HTTP status, code, message), or ``None``: a browser, whose WebSocket API shows no HTTP status when a
        socket is refused, asks this over HTTP to tell its user why."""
        return self._refusal(connection, self.owner(connection), ready, origin)

    def _refusal(
        self, connection: HTTPConnection, owner: str | None, ready: bool, origin: str | None = None
    ) -> tuple[int, str, str] | None:
        """Why a connection is refused (HTTP status, code, message), or ``None``."""
        per_key = self.settings.max_sessions_per_key
        if not self.origin_allowed(connection, origin):
            return 403, "origin_not_allowed", "This server does not accept pages from that origin."
        if owner is None:
            return 401, "invalid_api_key", "A valid API key is required."
        try:
            check_model_name(connection.query_params.get("model"), "model")
        except ProtocolError as exc:
            return 400, exc.code, exc.message
        if self.draining:
            return 503, "server_draining", "The server is restarting; connect again shortly."
        if not ready:
            return 503, "server_loading", "The server is loading its models; connect again shortly."
        if sum(self._open.values()) >= self.settings.max_sessions:
            return 503, "too_many_sessions", "The server holds its maximum number of sessions."
        if per_key is not None and self._open[owner] >= per_key:
            return 429, "too_many_sessions_for_key", f"This API key holds {per_key} sessions already."
        return None

    async def close_all(self, reason: str) -> None:
        """Close every admitted socket with the restart code."""
        sockets = list(self.sockets)
        for websocket in sockets:
            with contextlib.suppress(Exception):
                await websocket.close(code=RESTART, reason=reason)
        await asyncio.sleep(0)


async def deny(websocket: WebSocket, status: int, code: str, message: str) -> None:
    """Refuse a connection before the WebSocket upgrade completes."""
    body = {"error": {"type": "invalid_request_error", "code": code, "message": message}}
    try:
        await websocket.send_denial_response(JSONResponse(body, status_code=status))
    except RuntimeError:  # the ASGI server has no denial-response extension
        await websocket.close(code=1008 if status in (401, 403) else 1013, reason=message)


_SECRET = re.compile(r"((?:api[-_]key|authorization|key)=)[^&\s\"]*", re.IGNORECASE)


class HideKeys(logging.Filter):
    """Keeps keys sent in a query string out of the server's logs (uvicorn logs each path with its query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_SECRET.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        record.msg = _SECRET.sub(r"\1***", str(record.msg))
        return True


HIDE_KEYS = HideKeys()
