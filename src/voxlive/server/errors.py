"""Refusals as clients read them: an OpenAI-style error body over HTTP, and a WebSocket refused before its
upgrade."""

from __future__ import annotations

from starlette.responses import JSONResponse
from starlette.websockets import WebSocket


def api_error(message: str, status: int = 400, param: str | None = None, code: str | None = None) -> JSONResponse:
    body = {"error": {"message": message, "type": "invalid_request_error", "param": param, "code": code}}
    return JSONResponse(body, status_code=status)


async def deny(websocket: WebSocket, status: int, code: str, message: str) -> None:
    """Refuse a connection before the WebSocket upgrade completes."""
    body = {"error": {"type": "invalid_request_error", "code": code, "message": message}}
    try:
        await websocket.send_denial_response(JSONResponse(body, status_code=status))
    except RuntimeError:  # the ASGI server has no denial-response extension
        await websocket.close(code=1008 if status in (401, 403) else 1013, reason=message)
