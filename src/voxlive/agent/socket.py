"""One interface over the WebSockets an agent talks through: Starlette/FastAPI's and the ``websockets`` library's."""

from __future__ import annotations

from typing import Any, Protocol


class AgentSocket(Protocol):
    async def send(self, text: str) -> None: ...

    async def receive(self) -> str | None:
        """The next text message; ``None`` once the socket is closed."""
        ...

    async def close(self) -> None: ...


class StarletteSocket:
    """A Starlette (or FastAPI) ``WebSocket``, accepted if it was not yet."""

    def __init__(self, websocket: Any) -> None:
        self.websocket = websocket

    async def send(self, text: str) -> None:
        await self.websocket.send_text(text)

    async def receive(self) -> str | None:
        from starlette.websockets import WebSocketState

        if self.websocket.application_state == WebSocketState.CONNECTING:
            await self.websocket.accept()
        while True:
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return None
            if message.get("text") is not None:
                return str(message["text"])
            if message.get("bytes") is not None:
                return bytes(message["bytes"]).decode("utf-8", "replace")

    async def close(self) -> None:
        from starlette.websockets import WebSocketState

        if self.websocket.application_state == WebSocketState.CONNECTED:
            await self.websocket.close()


class WebsocketsSocket:
    """A connection of the ``websockets`` library (a client from ``connect``, or a server handler's)."""

    def __init__(self, connection: Any) -> None:
        self.connection = connection

    async def send(self, text: str) -> None:
        await self.connection.send(text)

    async def receive(self) -> str | None:
        import websockets

        try:
            message = await self.connection.recv()
        except websockets.ConnectionClosed:
            return None
        return message if isinstance(message, str) else bytes(message).decode("utf-8", "replace")

    async def close(self) -> None:
        await self.connection.close()


async def dial(url: str) -> WebsocketsSocket:
    """A connection to the WebSocket server at ``url``."""
    import websockets

    return WebsocketsSocket(await websockets.connect(url, max_size=None))


def adapt(websocket: Any) -> AgentSocket:
    """The right adapter for ``websocket``."""
    if hasattr(websocket, "send_text") and hasattr(websocket, "application_state"):
        return StarletteSocket(websocket)
    if hasattr(websocket, "recv") and hasattr(websocket, "send"):
        return WebsocketsSocket(websocket)
    raise TypeError(f"Not a WebSocket this agent can use: {type(websocket).__name__}.")
