"""The WebSocket endpoints: the realtime protocols (Azure VoiceLive, OpenAI GA) and the agents' JSON protocol,
each a session the gate admits for the owner of the connection's key (``websocket.state.owner``)."""

from __future__ import annotations

import json
from collections.abc import Callable

from starlette.websockets import WebSocket

from ..agent import VideoAgent, VoiceAgent
from ..protocol import ErrorDetails, ServerEventError
from ..protocol.dialects import OPENAI_GA, VOICELIVE, Dialect
from ..realtime.engine import Engine
from .connection import serve_connection
from .gate import Gate, Refusal
from .memory import MemoryTrimmer


async def voicelive(websocket: WebSocket) -> None:
    await _realtime(websocket, VOICELIVE)


async def openai(websocket: WebSocket) -> None:
    await _realtime(websocket, OPENAI_GA)


async def voice_agent(websocket: WebSocket) -> None:
    await _agent(websocket, VoiceAgent)


async def video_agent(websocket: WebSocket) -> None:
    await _agent(websocket, VideoAgent)


async def _realtime(websocket: WebSocket, dialect: Dialect) -> None:
    engine: Engine = websocket.app.state.engine
    gate: Gate = websocket.app.state.gate
    trimmer: MemoryTrimmer = websocket.app.state.trimmer
    owner: str = websocket.state.owner
    async with gate.session(websocket, owner, engine.ready.is_set(), dialect_error(dialect)) as admitted:
        if admitted:
            await serve_connection(websocket, engine, dialect, owner)
            trimmer.session_ended()


async def _agent(websocket: WebSocket, kind: type[VoiceAgent]) -> None:
    """The VoiceAgent / VideoAgent WebSocket protocol: one agent per connection, on the server's engine."""
    engine: Engine = websocket.app.state.engine
    gate: Gate = websocket.app.state.gate
    trimmer: MemoryTrimmer = websocket.app.state.trimmer
    owner: str = websocket.state.owner
    async with gate.session(websocket, owner, engine.ready.is_set(), agent_error) as admitted:
        if not admitted:
            return
        resume = websocket.query_params.get("conversation-id")
        try:
            agent = kind(engine=engine, owner=owner, conversation_id=resume)
        except ValueError as exc:  # no vision model for the video agent
            await websocket.send_json({"type": "error", "error": str(exc)})
            await websocket.close(code=1011, reason="This server has no vision model.")
            return
        try:
            await agent.handle_socket(websocket)
        finally:
            await agent.destroy()
        trimmer.session_ended()


def dialect_error(dialect: Dialect) -> Callable[[Refusal], str]:
    """A refusal as the dialect's ``error`` event."""

    def event(refusal: Refusal) -> str:
        error = ErrorDetails(type="server_error", code=refusal.code, message=refusal.message)
        (frame,) = dialect.encode_server_event(ServerEventError(error=error))
        return frame

    return event


def agent_error(refusal: Refusal) -> str:
    """A refusal as the agents' ``error`` message."""
    return json.dumps({"type": "error", "error": refusal.message, "code": refusal.code})
