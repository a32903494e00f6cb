"""One WebSocket connection: read client events, run them through a session, write server events."""

from __future__ import annotations

import asyncio
import logging

from starlette.websockets import WebSocket, WebSocketDisconnect

from ..protocol import ErrorDetails, ProtocolError, ServerEvent, ServerEventError
from ..protocol.dialects import Dialect
from ..realtime.engine import Engine

log = logging.getLogger(__name__)


async def serve_connection(websocket: WebSocket, engine: Engine, dialect: Dialect, owner: str = "") -> None:
    """Run one accepted connection until either side closes it.

    Server events go through a queue to a single writer task, so their order is the order in
    which the engine produced them. On disconnect the session is closed: its response task is
    cancelled and nothing more is sent. The query parameter ``conversation-id`` resumes a stored
    conversation of the same owner.
    """
    outbox: asyncio.Queue[ServerEvent | None] = asyncio.Queue()
    writer = asyncio.create_task(_write(websocket, dialect, outbox))
    query = websocket.query_params
    session = engine.create_session(outbox.put_nowait, model=query.get("model"), owner=owner)
    limit = engine.settings.server.max_message_bytes
    try:
        await session.start(query.get("conversation-id") or query.get("conversation_id"))
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("text")
            if data is None:
                session.error(
                    ProtocolError("Binary frames are not accepted: send events as JSON text.", code="invalid_frame")
                )
                continue
            if len(data) > limit:
                session.error(
                    ProtocolError(
                        f"The message is {len(data)} bytes; the limit is {limit} bytes.", code="message_too_large"
                    )
                )
                continue
            try:
                event = dialect.decode_client_event(data)
            except ProtocolError as exc:
                session.error(exc)
                continue
            await session.handle(event)
    except WebSocketDisconnect:
        pass
    finally:
        await engine.end_session(session)
        outbox.put_nowait(None)
        await writer


async def _write(websocket: WebSocket, dialect: Dialect, outbox: asyncio.Queue[ServerEvent | None]) -> None:
    open_items: set[str] = set()
    while (event := await outbox.get()) is not None:
        try:
            for text in dialect.encode_server_event(event, open_items):
                await websocket.send_text(text)
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the client is gone; the reader ends the session
        except Exception:
            log.exception("could not send %s", event.type)
            await websocket.send_text(
                ServerEventError(
                    error=ErrorDetails(
                        type="server_error", code="encoding_error", message="An event could not be sent."
                    )
                ).to_json()
            )
