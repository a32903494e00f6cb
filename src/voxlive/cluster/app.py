"""The Serve application: ``Gateway`` (the ingress) over the ``STT``, ``LLM`` and ``TTS`` deployments.

``build_app`` is the builder ``serve run`` / ``serve deploy`` name (``voxlive.cluster.app:build_app``, args
``{"config": "<a voxlive TOML file>"}``, or none for the defaults); ``voxlive serve --ray`` calls ``application``."""

from __future__ import annotations

from typing import Any

from ray import serve
from ray.serve import Application

from ..config import Settings
from .gateway import Gateway
from .stages import LLMStage, STTStage, TTSStage

STAGE_CPUS = 0.25
"""Logical CPUs a stage replica reserves: a share, so that every deployment fits on a two-core node (the models
use the cores they are configured for all the same)."""

GATEWAY_CPUS = 0.25

TARGET_ONGOING_REQUESTS = 2
"""A stage adds replicas when its replicas have more calls than this running on average."""

HTTP_REQUESTS = 100
"""HTTP requests a gateway takes at once besides its sessions (a WebSocket is an ongoing request as long as it is
open, so ``max_sessions`` of them fit too)."""

DRAIN_MARGIN = 10.0
"""Seconds Serve waits past ``[server] drain_seconds`` before it kills a stopping gateway."""


def build_app(args: dict[str, Any] | None = None) -> Application:
    """The application for the settings in ``args["config"]`` (a path on the node that builds it)."""
    return application(Settings.load((args or {}).get("config")))


def application(settings: Settings) -> Application:
    """The application for these settings (the replicas get them with their arguments: no file is read there)."""
    scaling = {
        "min_replicas": 1,
        "initial_replicas": 1,
        "max_replicas": settings.cluster.max_stage_replicas,
        "target_ongoing_requests": TARGET_ONGOING_REQUESTS,
    }
    actor = {"num_cpus": STAGE_CPUS}
    stt = serve.deployment(name="STT", autoscaling_config=scaling, ray_actor_options=actor)(STTStage)
    llm = serve.deployment(name="LLM", autoscaling_config=scaling, ray_actor_options=actor)(LLMStage)
    tts = serve.deployment(name="TTS", autoscaling_config=scaling, ray_actor_options=actor)(TTSStage)
    gateway = serve.deployment(
        name="Gateway",
        num_replicas=settings.cluster.gateway_replicas,
        ray_actor_options={"num_cpus": GATEWAY_CPUS},
        graceful_shutdown_timeout_s=settings.server.drain_seconds + DRAIN_MARGIN,
        max_ongoing_requests=settings.server.max_sessions + HTTP_REQUESTS,
    )(serve.ingress()(Gateway))
    return gateway.bind(settings, stt.bind(settings), llm.bind(settings), tts.bind(settings))
