"""API keys: ``ApiKeys``, the middleware that checks the key of every HTTP request and WebSocket once, and the
log filter that keeps keys out of the server's logs."""

from __future__ import annotations

import hashlib
import hmac
import logging
import re
from collections.abc import Sequence

from starlette.requests import HTTPConnection
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Receive, Scope, Send
from starlette.websockets import WebSocket

from ..config import ServerSettings
from .errors import api_error, deny
from .gate import KEY_REFUSED, ORIGIN_REFUSED, Gate


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


def key_owner(keys: Sequence[str], connection: HTTPConnection) -> str | None:
    """The owner a connection acts for, or ``None`` when it presents no valid key (constant-time checks)."""
    if not keys:
        return ""
    key = presented_key(connection)
    if key is None:
        return None
    valid = [hmac.compare_digest(key.encode(), k.encode()) for k in keys]  # every key compared: no early exit
    return owner_of(key) if any(valid) else None


class ApiKeys:
    """ASGI middleware: the API key of every HTTP request and WebSocket, checked once, before any route.

    Every connection's owner goes into its state (``request.state.owner``): the key's digest, ``""`` on a server
    without keys, ``None`` without a valid key. A connection to one of the ``keyed`` routes without a valid key
    goes no further: 401 ``invalid_api_key`` over HTTP; a WebSocket is refused before its upgrade, with 403
    ``origin_not_allowed`` instead when it comes from a page of an origin the gate refuses.
    """

    def __init__(self, app: ASGIApp, settings: ServerSettings, keyed: Sequence[BaseRoute], gate: Gate) -> None:
        self.app = app
        self.settings = settings
        self.keyed = keyed
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        owner = key_owner(self.settings.api_keys, HTTPConnection(scope))
        scope.setdefault("state", {})["owner"] = owner
        if owner is None and any(route.matches(scope)[0] is Match.FULL for route in self.keyed):
            await self._refuse(scope, receive, send)
            return
        await self.app(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await api_error(KEY_REFUSED.message, KEY_REFUSED.status, code=KEY_REFUSED.code)(scope, receive, send)
            return
        websocket = WebSocket(scope, receive, send)
        await deny(websocket, *(KEY_REFUSED if self.gate.origin_allowed(websocket) else ORIGIN_REFUSED))


_SECRET = re.compile(r"((?:api[-_]key|authorization|key)=)[^&\s\"]*", re.IGNORECASE)


class HideKeys(logging.Filter):
    """Keeps keys sent in a query string out of the server's logs (uvicorn logs each path with its query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_SECRET.sub(r"\1***", a) if isinstance(a, str) else a for a in record.args)
        record.msg = _SECRET.sub(r"\1***", str(record.msg))
        return True


HIDE_KEYS = HideKeys()
