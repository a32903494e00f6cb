"""The ASGI application: realtime WebSocket endpoints, OpenAI-compatible speech endpoints, API keys, health."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import hmac
import logging
from collections.abc import AsyncIterator
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import HTTPConnection, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from ..config import Settings
from ..protocol import ProtocolError
from ..protocol.dialects import OPENAI_GA, VOICELIVE, Dialect
from ..realtime.engine import Engine
from ..realtime.session import check_model_name
from .connection import serve_connection
from .speech_api import api_error, speech, transcriptions

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
"""The web page: plain HTML, CSS and JavaScript, served as they are."""


def presented_key(connection: HTTPConnection) -> str | None:
    """The API key a client presents: ``api-key`` header or query, or ``Authorization: Bearer``."""
    key = connection.headers.get("api-key") or connection.query_params.get("api-key")
    if key:
        return key
    authorization = connection.headers.get("authorization") or connection.query_params.get("authorization") or ""
    scheme, _, token = authorization.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def key_is_valid(key: str | None, keys: list[str]) -> bool:
    if not keys:
        return True
    return key is not None and any(hmac.compare_digest(key, valid) for valid in keys)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Starlette:
    """The voxlive server. The engine's models load in the background; ``/health`` says when."""
    settings = settings or Settings()
    engine = engine or Engine(settings)
    loading: dict[str, asyncio.Task[None]] = {}

    async def admit(websocket: WebSocket) -> bool:
        """Accept a connection with a valid key and model name while there is room for its session; refuse it
        otherwise."""
        if not key_is_valid(presented_key(websocket), settings.server.api_keys):
            await _deny(websocket, 401, "invalid_api_key", "A valid API key is required.")
            return False
        try:
            check_model_name(websocket.query_params.get("model"), "model")
        except ProtocolError as exc:
            await _deny(websocket, 400, exc.code, exc.message)
            return False
        if len(engine.sessions) >= settings.server.max_sessions:
            await _deny(websocket, 503, "too_many_sessions", "The server holds its maximum number of sessions.")
            return False
        await websocket.accept()
        return True

    async def endpoint(websocket: WebSocket, dialect: Dialect) -> None:
        if await admit(websocket):
            await serve_connection(websocket, engine, dialect)

    async def agent_endpoint(websocket: WebSocket, video: bool) -> None:
        """The VoiceAgent / VideoAgent WebSocket protocol: one agent per connection, on the server's engine."""
        from ..agent import VideoAgent, VoiceAgent

        if not await admit(websocket):
            return
        try:
            agent = VideoAgent(engine=engine) if video else VoiceAgent(engine=engine)
        except ValueError as exc:  # no vision model for the video agent
            await websocket.send_json({"type": "error", "error": str(exc)})
            await websocket.close(code=1011, reason="This server has no vision model.")
            return
        try:
            await agent.handle_socket(websocket)
        finally:
            await agent.destroy()

    async def voice_agent(websocket: WebSocket) -> None:
        await agent_endpoint(websocket, video=False)

    async def video_agent(websocket: WebSocket) -> None:
        await agent_endpoint(websocket, video=True)

    async def voicelive(websocket: WebSocket) -> None:
        await endpoint(websocket, VOICELIVE)

    async def openai(websocket: WebSocket) -> None:
        await endpoint(websocket, OPENAI_GA)

    def authorized(request: Request) -> bool:
        return key_is_valid(presented_key(request), settings.server.api_keys)

    async def audio_speech(request: Request) -> Response:
        if not authorized(request):
            return api_error("A valid API key is required.", 401, code="invalid_api_key")
        return await speech(request, engine)

    async def audio_transcriptions(request: Request) -> Response:
        if not authorized(request):
            return api_error("A valid API key is required.", 401, code="invalid_api_key")
        return await transcriptions(request, engine)

    async def health(request: Request) -> Response:
        if engine.ready.is_set():
            return JSONResponse({"status": "ok", "sessions": len(engine.sessions)})
        task = loading.get("models")
        if task is not None and task.done() and task.exception() is not None:
            return JSONResponse({"status": "failed", "error": str(task.exception())}, status_code=500)
        return JSONResponse({"status": "loading"}, status_code=503)

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(engine.telemetry.registry), media_type=CONTENT_TYPE_LATEST)

    async def session_turns(request: Request) -> Response:
        """The stage timings of a live session's turns, oldest first."""
        if not authorized(request):
            return api_error("A valid API key is required.", 401, code="invalid_api_key")
        session_id = request.path_params["session_id"]
        session = engine.sessions.get(session_id)
        if session is None:
            return api_error(f"No open session '{session_id}'.", 404, code="session_not_found")
        turns = [turn.as_dict() for turn in session.conversation.turns]
        return JSONResponse({"session_id": session_id, "turns": turns})

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loading["models"] = asyncio.create_task(_load(engine))
        loading["models"].add_done_callback(_report_load)
        yield
        loading["models"].cancel()
        for session in list(engine.sessions.values()):
            await engine.end_session(session)
        engine.telemetry.shutdown()

    app = Starlette(
        routes=[
            WebSocketRoute("/voice-live/realtime", voicelive),
            WebSocketRoute("/v1/realtime", openai),
            WebSocketRoute("/ws/voice", voice_agent),
            WebSocketRoute("/ws/video", video_agent),
            Route("/", lambda request: FileResponse(STATIC / "index.html")),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            Route("/health", health),
            Route("/metrics", metrics),
            Route("/sessions/{session_id}/turns", session_turns),
            Route("/v1/audio/speech", audio_speech, methods=["POST"]),
            Route("/v1/audio/transcriptions", audio_transcriptions, methods=["POST"]),
        ],
        lifespan=lifespan,
    )
    app.state.engine = engine
    return app


async def _load(engine: Engine) -> None:
    await engine.load()
    # What is loaded now (modules, models) lives as long as the process: kept out of the garbage collector's
    # full passes, which otherwise pause the event loop (and so the audio) for ~60 ms each.
    gc.collect()
    gc.freeze()


def _report_load(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("loading the models failed: %s", task.exception())


async def _deny(websocket: WebSocket, status: int, code: str, message: str) -> None:
    """Refuse a connection before the WebSocket upgrade completes."""
    body = {"error": {"type": "invalid_request_error", "code": code, "message": message}}
    try:
        await websocket.send_denial_response(JSONResponse(body, status_code=status))
    except RuntimeError:  # the ASGI server has no denial-response extension
        await websocket.close(code=1013 if status == 503 else 1008, reason=message)
