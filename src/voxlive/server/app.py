"""The ASGI application: its routes, the API-key middleware in front of them, and its lifespan (the models
loading in the background, old conversations purged, a graceful drain)."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.datastructures import State
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles

from ..config import Settings
from ..realtime.engine import Engine
from . import endpoints, sockets
from .endpoints import STATIC, needs_models
from .gate import Gate
from .keys import HIDE_KEYS, ApiKeys
from .memory import MemoryTrimmer
from .speech_api import speech, transcriptions

log = logging.getLogger(__name__)

PURGE_EVERY = 3600.0
"""Seconds between deletions of conversations past their retention."""

OPEN_ROUTES: list[BaseRoute] = [
    Route("/", endpoints.index),
    Mount("/static", StaticFiles(directory=STATIC), name="static"),
    Route("/health", endpoints.health),
    Route("/realtime/admission", endpoints.admission),  # answers for the key it is given, as a WebSocket would
]
"""Routes anyone may use."""

KEYED_ROUTES: list[BaseRoute] = [
    WebSocketRoute("/voice-live/realtime", sockets.voicelive),
    WebSocketRoute("/v1/realtime", sockets.openai),
    WebSocketRoute("/ws/voice", sockets.voice_agent),
    WebSocketRoute("/ws/video", sockets.video_agent),
    Route("/sessions/{session_id}/turns", endpoints.session_turns),
    Route("/voices", endpoints.voices),
    Route("/conversations/{conversation_id}", needs_models(endpoints.conversation), methods=["GET", "DELETE"]),
    Route("/conversations/{conversation_id}/items/{item_id}/audio", needs_models(endpoints.recording)),
    Route("/v1/audio/speech", needs_models(speech), methods=["POST"]),
    Route("/v1/audio/transcriptions", needs_models(transcriptions), methods=["POST"]),
]
"""Routes for holders of a valid key (on a server with ``api_keys``)."""


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Starlette:
    """The voxlive server. The engine's models load in the background; ``/health`` says when.
    ``app.state.drain()`` is a graceful stop: no new sessions, running responses finish, sockets close (1012)."""
    settings = settings or Settings()
    engine = engine or Engine(settings)
    gate = Gate(settings.server, engine.stage_load)
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addFilter(HIDE_KEYS)
    metrics = Route("/metrics", endpoints.metrics)
    keyed = KEYED_ROUTES if settings.server.public_metrics else [*KEYED_ROUTES, metrics]
    app = Starlette(
        routes=[*OPEN_ROUTES, *KEYED_ROUTES, metrics],
        middleware=[Middleware(ApiKeys, settings=settings.server, keyed=keyed, gate=gate)],
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.gate = gate
    app.state.trimmer = MemoryTrimmer()
    app.state.loading = None
    app.state.drain = functools.partial(drain, app.state)
    return app


async def drain(state: State) -> None:
    """Refuse new sessions, let running responses finish for up to ``drain_seconds``, then close every socket
    with code 1012 so clients reconnect and resume elsewhere."""
    engine: Engine = state.engine
    gate: Gate = state.gate
    gate.draining = True
    deadline = asyncio.get_running_loop().time() + state.settings.server.drain_seconds
    while any(s.response is not None for s in engine.sessions.values()):
        if asyncio.get_running_loop().time() >= deadline:
            break
        await asyncio.sleep(0.1)
    await gate.close_all("The server is restarting; reconnect to resume the conversation.")


@contextlib.asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    engine: Engine = app.state.engine
    loading = app.state.loading = asyncio.create_task(_load(engine))
    loading.add_done_callback(_report_load)
    purging = asyncio.create_task(_purge(engine))
    yield
    loading.cancel()
    purging.cancel()
    app.state.trimmer.close()
    await engine.close()


async def _load(engine: Engine) -> None:
    await engine.load()
    # What is loaded now (modules, models) lives as long as the process: kept out of the garbage collector's
    # full passes, which otherwise pause the event loop (and so the audio) for ~60 ms each.
    gc.collect()
    gc.freeze()


def _report_load(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("loading the models failed: %s", task.exception())


async def _purge(engine: Engine) -> None:
    """Delete the conversations past their retention, once the store is open and then every ``PURGE_EVERY``."""
    await engine.ready.wait()
    while True:
        try:
            if removed := await engine.purge():
                log.info("deleted %d conversations past their retention", removed)
        except Exception as exc:
            log.error("deleting old conversations failed: %s", exc)
        await asyncio.sleep(PURGE_EVERY)
