"""``voxlive serve --ray``: the application deployed on a Ray cluster and served on ``[server] host`` and ``port``
by Serve's proxy, until SIGINT or SIGTERM; then the application is deleted (and a Ray started here, stopped)."""

from __future__ import annotations

import signal
import threading

import ray
from ray import serve

from ..config import Settings
from .app import application

APP_NAME = "voxlive"


def serve_on_ray(settings: Settings, address: str | None) -> None:
    """Deploy on the cluster at ``address`` (``None``: the one running on this machine, else a new local one)."""
    ray.init(address=address, namespace="voxlive", log_to_driver=False)
    try:
        serve.start(http_options={"host": settings.server.host, "port": settings.server.port})
        serve.run(application(settings), name=APP_NAME, route_prefix="/", blocking=False)
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        serve.delete(APP_NAME)
    finally:
        ray.shutdown()
