"""The ASGI application: realtime WebSocket endpoints, OpenAI-compatible speech endpoints, stored conversations,
health and metrics, behind the gate's API keys and origin check."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket

from ..config import Settings
from ..protocol.dialects import OPENAI_GA, VOICELIVE, Dialect
from ..realtime.engine import Engine
from .connection import serve_connection
from .gate import HIDE_KEYS, Gate
from .memory import MemoryTrimmer
from .speech_api import api_error, speech, transcriptions

log = logging.getLogger(__name__)

STATIC = Path(__file__).parent / "static"
"""The web page: plain HTML, CSS and JavaScript, served as they are."""

PURGE_EVERY = 3600.0
"""Seconds between deletions of conversations past their retention."""

Handler = Callable[[Request, str], Awaitable[Response]]


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Starlette:
    """The voxlive server. The engine's models load in the background; ``/health`` says when.
    ``app.state.drain()`` is a graceful stop: no new sessions, running responses finish, sockets close (1012)."""
    settings = settings or Settings()
    engine = engine or Engine(settings)
    gate = Gate(settings.server)
    trimmer = MemoryTrimmer()
    loading: dict[str, asyncio.Task[None]] = {}
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(HIDE_KEYS)

    def keyed(handler: Handler, ready: bool = True) -> Callable[[Request], Awaitable[Response]]:
        """A route for holders of a valid key (its owner is passed on), once the models are loaded."""

        async def route(request: Request) -> Response:
            owner = gate.owner(request)
            if owner is None:
                return api_error("A valid API key is required.", 401, code="invalid_api_key")
            if ready and not engine.ready.is_set():
                return api_error("The server is loading its models; try again shortly.", 503, code="server_loading")
            return await handler(request, owner)

        return route

    async def realtime(websocket: WebSocket, dialect: Dialect) -> None:
        async with gate.session(websocket, engine.ready.is_set()) as owner:
            if owner is not None:
                await serve_connection(websocket, engine, dialect, owner)
                trimmer.session_ended()

    async def agent(websocket: WebSocket, video: bool) -> None:
        """The VoiceAgent / VideoAgent WebSocket protocol: one agent per connection, on the server's engine."""
        from ..agent import VideoAgent, VoiceAgent

        async with gate.session(websocket, engine.ready.is_set()) as owner:
            if owner is None:
                return
            resume = websocket.query_params.get("conversation-id")
            try:
                kind = VideoAgent if video else VoiceAgent
                voice_agent = kind(engine=engine, owner=owner, conversation_id=resume)
            except ValueError as exc:  # no vision model for the video agent
                await websocket.send_json({"type": "error", "error": str(exc)})
                await websocket.close(code=1011, reason="This server has no vision model.")
                return
            try:
                await voice_agent.handle_socket(websocket)
            finally:
                await voice_agent.destroy()
            trimmer.session_ended()

    async def health(request: Request) -> Response:
        if gate.draining:
            return JSONResponse({"status": "draining", "sessions": len(gate.sockets)}, status_code=503)
        if engine.ready.is_set():
            return JSONResponse({"status": "ok", "sessions": len(gate.sockets)})
        task = loading.get("models")
        if task is not None and task.done() and task.exception() is not None:
            return JSONResponse({"status": "failed", "error": str(task.exception())}, status_code=500)
        return JSONResponse({"status": "loading"}, status_code=503)

    async def admission(request: Request) -> Response:
        """Whether a realtime session would be admitted now for the request's key and a page of ``?origin=``,
        with the status and error a refused WebSocket gets (a browser's WebSocket API cannot show them)."""
        refusal = gate.refusal(request, engine.ready.is_set(), request.query_params.get("origin"))
        if refusal is None:
            return JSONResponse({"admitted": True})
        status, code, message = refusal
        return api_error(message, status, code=code)

    async def metrics(request: Request, owner: str) -> Response:
        return Response(generate_latest(engine.telemetry.registry), media_type=CONTENT_TYPE_LATEST)

    async def session_turns(request: Request, owner: str) -> Response:
        """The stage timings of a live session's turns, oldest first."""
        session_id = request.path_params["session_id"]
        session = engine.sessions.get(session_id)
        if session is None or session.owner != owner:
            return api_error(f"No open session '{session_id}'.", 404, code="session_not_found")
        turns = [turn.as_dict() for turn in session.conversation.turns]
        return JSONResponse({"session_id": session_id, "turns": turns})

    async def voices(request: Request, owner: str) -> Response:
        """The voices a session may set (those ``session.update`` accepts) and the one it has when it sets none."""
        tts = engine.tts
        listed = [{"name": name, "language": tts.voice_language(name)} for name in tts.voice_names()]
        return JSONResponse({"default": engine.default_voice, "voices": listed})

    async def conversation(request: Request, owner: str) -> Response:
        """A stored conversation (its items, turn timings and recordings); ``DELETE`` deletes it."""
        conversation_id = request.path_params["conversation_id"]
        if request.method == "DELETE":
            if await engine.store.delete(conversation_id, owner):
                return JSONResponse({"id": conversation_id, "object": "realtime.conversation", "deleted": True})
        elif (stored := await engine.store.load(conversation_id, owner)) is not None:
            return JSONResponse(stored.as_dict())
        return api_error(f"No conversation '{conversation_id}'.", 404, code="conversation_not_found")

    async def recording(request: Request, owner: str) -> Response:
        """The recorded audio of one item of a stored conversation, as WAV."""
        conversation_id, item_id = request.path_params["conversation_id"], request.path_params["item_id"]
        wav = await engine.store.recording(conversation_id, owner, item_id)
        if wav is None:
            return api_error(f"No recording of item '{item_id}'.", 404, code="recording_not_found")
        return Response(wav, media_type="audio/wav")

    async def drain() -> None:
        """Refuse new sessions, let running responses finish for up to ``drain_seconds``, then close every
        socket with code 1012 so clients reconnect and resume elsewhere."""
        gate.draining = True
        deadline = asyncio.get_running_loop().time() + settings.server.drain_seconds
        while any(s.response is not None for s in engine.sessions.values()):
            if asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.1)
        await gate.close_all("The server is restarting; reconnect to resume the conversation.")

    async def purge() -> None:
        await engine.ready.wait()
        while True:
            try:
                if removed := await engine.purge():
                    log.info("deleted %d conversations past their retention", removed)
            except Exception as exc:
                log.error("deleting old conversations failed: %s", exc)
            await asyncio.sleep(PURGE_EVERY)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        loading["models"] = asyncio.create_task(_load(engine))
        loading["models"].add_done_callback(_report_load)
        purging = asyncio.create_task(purge())
        yield
        loading["models"].cancel()
        purging.cancel()
        trimmer.close()
        await engine.close()

    async def voicelive(websocket: WebSocket) -> None:
        await realtime(websocket, VOICELIVE)

    async def openai(websocket: WebSocket) -> None:
        await realtime(websocket, OPENAI_GA)

    async def voice_agent(websocket: WebSocket) -> None:
        await agent(websocket, video=False)

    async def video_agent(websocket: WebSocket) -> None:
        await agent(websocket, video=True)

    async def public_metrics(request: Request) -> Response:
        return await metrics(request, "")

    app = Starlette(
        routes=[
            WebSocketRoute("/voice-live/realtime", voicelive),
            WebSocketRoute("/v1/realtime", openai),
            WebSocketRoute("/ws/voice", voice_agent),
            WebSocketRoute("/ws/video", video_agent),
            Route("/", lambda request: FileResponse(STATIC / "index.html")),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
            Route("/health", health),
            Route("/realtime/admission", admission),
            Route("/metrics", public_metrics if settings.server.public_metrics else keyed(metrics, ready=False)),
            Route("/sessions/{session_id}/turns", keyed(session_turns, ready=False)),
            Route("/voices", keyed(voices, ready=False)),
            Route("/conversations/{conversation_id}", keyed(conversation), methods=["GET", "DELETE"]),
            Route("/conversations/{conversation_id}/items/{item_id}/audio", keyed(recording)),
            Route("/v1/audio/speech", keyed(lambda request, owner: speech(request, engine)), methods=["POST"]),
            Route(
                "/v1/audio/transcriptions",
                keyed(lambda request, owner: transcriptions(request, engine)),
                methods=["POST"],
            ),
        ],
        lifespan=lifespan,
    )
    app.state.engine = engine
    app.state.gate = gate
    app.state.drain = drain
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
