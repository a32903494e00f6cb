"""One WebSocket connection: read client events, run them through a session, write server events."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..protocol import ErrorDetails, ProtocolError, ServerEvent, ServerEventError
from ..protocol.dialects import Dialect
from ..realtime.engine import Engine

log = logging.getLogger(__name__)

POLICY = 1008
"""The close code for a client that broke a rule the session cannot go on under (it did not read its events)."""


class Outbox:
    """Server events, encoded as they are produced and written in that order by one writer task.

    What the client has not read yet is bounded: past ``limit`` bytes the outbox stops taking events and sets
    ``overflowed``, so the connection ends instead of buffering without bound.
    """

    def __init__(self, websocket: WebSocket, dialect: Dialect, limit: int) -> None:
        self.websocket = websocket
        self.dialect = dialect
        self.limit = limit
        self.unread = 0
        """Bytes queued and not yet written to the socket."""
        self.overflowed = asyncio.Event()
        self._frames: deque[str] = deque()
        self._ready = asyncio.Event()
        self._closed = False
        self._open_items: set[str] = set()
        self._writer = asyncio.create_task(self._write())

    def put(self, event: ServerEvent) -> None:
        if self._closed:
            return
        try:
            frames = self.dialect.encode_server_event(event, self._open_items)
        except Exception:
            log.exception("could not encode %s", event.type)
            error = ErrorDetails(type="server_error", code="encoding_error", message="An event could not be sent.")
            frames = [ServerEventError(error=error).to_json()]
        size = sum(map(len, frames))
        if self.unread + size > self.limit:
            self._closed = True
            self.overflowed.set()
            return
        self.unread += size
        self._frames.extend(frames)
        self._ready.set()

    async def close(self) -> None:
        """Write what is queued (unless the client stopped reading), then stop."""
        self._closed = True
        self._ready.set()
        if self.overflowed.is_set():
            self._writer.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._writer

    async def _write(self) -> None:
        while True:
            await self._ready.wait()
            self._ready.clear()
            while self._frames:
                frame = self._frames.popleft()
                try:
                    await self.websocket.send_text(frame)
                except (WebSocketDisconnect, RuntimeError, OSError):
                    return  # the client is gone; the reader ends the session
                self.unread -= len(frame)
            if self._closed:
                return


async def serve_connection(websocket: WebSocket, engine: Engine, dialect: Dialect, owner: str = "") -> None:
    """Run one accepted connection until either side closes it, or the client stops reading its events.

    Server events go through the outbox, so their order is the order in which the engine produced them. On
    disconnect the session is closed: its response task is cancelled and nothing more is sent. The query
    parameter ``conversation-id`` resumes a stored conversation of the same owner.
    """
    settings = engine.settings.server
    outbox = Outbox(websocket, dialect, settings.max_unread_bytes)
    query = websocket.query_params
    session = engine.create_session(outbox.put, model=query.get("model"), owner=owner)
    overflow = asyncio.ensure_future(outbox.overflowed.wait())
    try:
        await session.start(query.get("conversation-id") or query.get("conversation_id"))
        while True:
            receiving = asyncio.ensure_future(websocket.receive())
            await asyncio.wait([receiving, overflow], return_when=asyncio.FIRST_COMPLETED)
            if not receiving.done():
                receiving.cancel()
                break
            message = receiving.result()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("text")
            try:
                if data is None:
                    raise ProtocolError(
                        "Binary frames are not accepted: send events as JSON text.", code="invalid_frame"
                    )
                if len(data) > settings.max_message_bytes:
                    raise ProtocolError(
                        f"The message is {len(data)} bytes; the limit is {settings.max_message_bytes} bytes.",
                        code="message_too_large",
                    )
                event = dialect.decode_client_event(data)
            except ProtocolError as exc:
                session.error(exc)
                continue
            await session.handle(event)
    except WebSocketDisconnect:
        pass
    finally:
        overflow.cancel()
        await engine.end_session(session)
        await outbox.close()
    if outbox.overflowed.is_set():
        reason = f"The client did not read its events: more than {settings.max_unread_bytes} bytes were waiting."
        with contextlib.suppress(Exception):
            await asyncio.wait_for(websocket.close(code=POLICY, reason=reason), 5)
