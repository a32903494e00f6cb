"""The WebSocket endpoints: the realtime protocols (Azure VoiceLive, OpenAI GA) and the agents' JSON protocol,
each a session the gate admits for the owner of the connection's key (``websocket.state.owner``)."""

from __future__ import annotations

from starlette.websockets import WebSocket

from ..agent import VideoAgent, VoiceAgent
from ..protocol.dialects import OPENAI_GA, VOICELIVE, Dialect
from ..realtime.engine import Engine
from .connection import serve_connection
from .gate import Gate
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
    async with gate.session(websocket, owner, engine.ready.is_set()) as admitted:
        if admitted:
            await serve_connection(websocket, engine, dialect, owner)
            trimmer.session_ended()


async def _agent(websocket: WebSocket, kind: type[VoiceAgent]) -> None:
    """The VoiceAgent / VideoAgent WebSocket protocol: one agent per connection, on the server's engine."""
    engine: Engine = websocket.app.state.engine
    gate: Gate = websocket.app.state.gate
    trimmer: MemoryTrimmer = websocket.app.state.trimmer
    owner: str = websocket.state.owner
    async with gate.session(websocket, owner, engine.ready.is_set()) as admitted:
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
