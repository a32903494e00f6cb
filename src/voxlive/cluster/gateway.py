"""The ``Gateway`` deployment: the voxlive app (every WebSocket and HTTP route) behind Serve's proxy, with an engine
whose VAD and turn model are its own and whose STT, LLM and TTS are the stage deployments. Conversations live in
the configured store (``[store] url``: a Postgres shared by every replica), so a client resumes on any replica.

A replica being stopped (scale-down, a new version, its node going away) drains as ``voxlive serve`` does on
SIGTERM: no new sessions, running responses finish, sockets close with 1012 so clients resume elsewhere."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from ray.serve.handle import DeploymentHandle
from starlette.applications import Starlette

from ..config import Settings
from ..realtime.engine import Engine
from ..server.app import create_app
from .remote_stages import RemoteLLM, RemoteSTT, RemoteTTS

log = logging.getLogger(__name__)

STOPPING_POLL = 0.2
"""Seconds between looks at whether Serve has begun to stop the replica."""


class Gateway:
    """One replica of the app; models load (and the stages answer) before it takes connections. (``app`` is the
    name of Serve's own property for the app it runs.)"""

    def __init__(
        self, settings: Settings, stt: DeploymentHandle[Any], llm: DeploymentHandle[Any], tts: DeploymentHandle[Any]
    ) -> None:
        engine = Engine(settings, llm=RemoteLLM(llm), stt=RemoteSTT(stt), tts=RemoteTTS(tts))
        self.server = create_app(settings, engine)
        self._watch: asyncio.Task[None] | None = None

    async def __serve_build_asgi_app__(self) -> Starlette:
        """The app Serve runs (its lifespan included), once the engine is loaded."""
        engine: Engine = self.server.state.engine
        await engine.load()
        self._watch = asyncio.create_task(drain_when_stopping(self.server))
        return self.server


async def drain_when_stopping(app: Starlette) -> None:
    """Run the app's drain as soon as Serve begins to stop this replica.

    Serve's graceful stop waits for the replica's ongoing requests (its WebSockets) to end before it calls the
    replica's destructor, and tells user code of the stop no earlier; the drain is what ends them, so it starts
    when the replica's own stopping flag is raised."""
    stopping = replica_stopping()
    if stopping is None:
        log.warning("this version of Ray Serve does not show when a replica stops: sockets are not drained")
        return
    while not stopping():
        await asyncio.sleep(STOPPING_POLL)
    log.info("the replica is stopping: draining its sessions")
    await app.state.drain()


def replica_stopping() -> Callable[[], bool] | None:
    """Whether Serve has begun to stop the replica this runs in (``ray[serve]==2.60``: the replica object's
    ``_shutting_down``, reached through the callback it registers in the replica context); ``None`` if not found."""
    from ray import serve

    callback = getattr(serve.get_replica_context(), "_handle_registration_callback", None)
    for cell in getattr(callback, "__closure__", None) or ():
        replica = cell.cell_contents
        if isinstance(getattr(replica, "_shutting_down", None), bool):
            return lambda: bool(replica._shutting_down)
    return None
