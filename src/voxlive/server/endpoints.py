"""The HTTP endpoints besides the speech API: the web page, health, admission, metrics, live sessions' turns,
voices and stored conversations. Each reads the engine and the gate from ``request.app.state`` and the owner of
the request's key from ``request.state.owner`` (set by ``ApiKeys``)."""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from ..realtime.engine import Engine
from .errors import api_error
from .gate import Gate

STATIC = Path(__file__).parent / "static"
"""The web page: plain HTML, CSS and JavaScript, served as they are."""

Endpoint = Callable[[Request], Awaitable[Response]]


def needs_models(endpoint: Endpoint) -> Endpoint:
    """The endpoint, answering 503 ``server_loading`` until the engine's models are loaded."""

    @functools.wraps(endpoint)
    async def route(request: Request) -> Response:
        engine: Engine = request.app.state.engine
        if not engine.ready.is_set():
            return api_error("The server is loading its models; try again shortly.", 503, code="server_loading")
        return await endpoint(request)

    return route


async def index(request: Request) -> Response:
    return FileResponse(STATIC / "index.html")


async def health(request: Request) -> Response:
    """200 ``ready`` while the server takes new sessions; 503 ``full`` at its capacity (``max_sessions`` or
    ``max_load``: a balancer sends new sessions elsewhere, the open ones go on), ``loading`` or ``draining``;
    500 ``failed`` if loading failed. With the load, sessions, conversing sessions and each stage's load."""
    engine: Engine = request.app.state.engine
    gate: Gate = request.app.state.gate
    capacity = gate.capacity()
    if gate.draining:
        return JSONResponse({"status": "draining", **capacity.as_dict()}, status_code=503)
    if engine.ready.is_set():
        status = "full" if capacity.full else "ready"
        return JSONResponse({"status": status, **capacity.as_dict()}, status_code=503 if capacity.full else 200)
    task = request.app.state.loading
    if task is not None and task.done() and task.exception() is not None:
        return JSONResponse({"status": "failed", "error": str(task.exception())}, status_code=500)
    return JSONResponse({"status": "loading"}, status_code=503)


async def admission(request: Request) -> Response:
    """Whether a realtime session would be admitted now for the request's key and a page of ``?origin=``,
    with the status and error a refused WebSocket gets (a browser's WebSocket API cannot show them)."""
    engine: Engine = request.app.state.engine
    gate: Gate = request.app.state.gate
    origin = request.query_params.get("origin")
    refusal = gate.refusal(request, request.state.owner, engine.ready.is_set(), origin)
    if refusal is None:
        return JSONResponse({"admitted": True})
    return api_error(refusal.message, refusal.status, code=refusal.code)


async def metrics(request: Request) -> Response:
    engine: Engine = request.app.state.engine
    gate: Gate = request.app.state.gate
    capacity = gate.capacity()
    engine.telemetry.show_load(capacity.report, capacity.full)
    return Response(generate_latest(engine.telemetry.registry), media_type=CONTENT_TYPE_LATEST)


async def session_turns(request: Request) -> Response:
    """The stage timings of a live session's turns, oldest first."""
    engine: Engine = request.app.state.engine
    session_id = request.path_params["session_id"]
    session = engine.sessions.get(session_id)
    if session is None or session.owner != request.state.owner:
        return api_error(f"No open session '{session_id}'.", 404, code="session_not_found")
    turns = [turn.as_dict() for turn in session.conversation.turns]
    return JSONResponse({"session_id": session_id, "turns": turns})


async def voices(request: Request) -> Response:
    """The voices a session may set (those ``session.update`` accepts) and the one it has when it sets none."""
    engine: Engine = request.app.state.engine
    tts = engine.tts
    listed = [{"name": name, "language": tts.voice_language(name)} for name in tts.voice_names()]
    return JSONResponse({"default": engine.default_voice, "voices": listed})


async def conversation(request: Request) -> Response:
    """A stored conversation (its items, turn timings and recordings); ``DELETE`` deletes it."""
    engine: Engine = request.app.state.engine
    owner: str = request.state.owner
    conversation_id = request.path_params["conversation_id"]
    if request.method == "DELETE":
        if await engine.store.delete(conversation_id, owner):
            return JSONResponse({"id": conversation_id, "object": "realtime.conversation", "deleted": True})
    elif (stored := await engine.store.load(conversation_id, owner)) is not None:
        return JSONResponse(stored.as_dict())
    return api_error(f"No conversation '{conversation_id}'.", 404, code="conversation_not_found")


async def recording(request: Request) -> Response:
    """The recorded audio of one item of a stored conversation, as WAV."""
    engine: Engine = request.app.state.engine
    conversation_id, item_id = request.path_params["conversation_id"], request.path_params["item_id"]
    wav = await engine.store.recording(conversation_id, request.state.owner, item_id)
    if wav is None:
        return api_error(f"No recording of item '{item_id}'.", 404, code="recording_not_found")
    return Response(wav, media_type="audio/wav")
