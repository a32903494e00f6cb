"""Running the app under uvicorn: SIGTERM drains before the server stops, and clients that send their request
headers too slowly are cut off."""

from __future__ import annotations

import asyncio
import signal
from types import FrameType
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from ..config import Settings
from .app import create_app


def serve(settings: Settings, log_level: str = "info") -> None:
    """Serve until SIGINT, or SIGTERM once drained."""
    app = create_app(settings)
    timeout = settings.server.header_timeout

    class Protocol(SlowClientGuard):
        header_timeout = timeout

    config = uvicorn.Config(
        app,
        host=settings.server.host,
        port=settings.server.port,
        log_level=log_level,
        http=Protocol,
        ws_max_size=4 * settings.server.max_message_bytes,
        ws_ping_interval=20,
        ws_ping_timeout=20,
    )
    DrainingServer(config, app.state.drain).run()


class DrainingServer(uvicorn.Server):
    """The first SIGTERM drains the app (no new sessions, running responses finish, sockets closed with 1012),
    then stops the server; a second SIGTERM or SIGINT stops it at once."""

    def __init__(self, config: uvicorn.Config, drain: Any) -> None:
        super().__init__(config)
        self._drain = drain
        self._draining = False
        self._loop: asyncio.AbstractEventLoop | None = None

    async def serve(self, sockets: Any = None) -> None:
        self._loop = asyncio.get_running_loop()
        await super().serve(sockets)

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if sig == signal.SIGTERM and not self._draining and self._loop is not None and not self.should_exit:
            self._draining = True
            self._loop.call_soon_threadsafe(lambda: asyncio.ensure_future(self._drain_then_exit()))
            return
        super().handle_exit(sig, frame)

    async def _drain_then_exit(self) -> None:
        try:
            await self._drain()
        finally:
            self.should_exit = True


class SlowClientGuard(HttpToolsProtocol):
    """Closes a connection whose request headers have not all arrived ``header_timeout`` seconds after it opened
    (or after its next request began), so slow clients cannot hold connections open for ever."""

    header_timeout = 10.0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        self._start_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_deadline()

    def on_headers_complete(self) -> None:
        self._stop_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def _start_deadline(self) -> None:
        self._stop_deadline()
        self._deadline = self.loop.call_later(self.header_timeout, self.transport.close)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None
