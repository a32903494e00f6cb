"""Per-turn stage timings, and their export as Prometheus histograms and OpenTelemetry spans."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from .load import LoadReport

STAGES = ("end_of_turn", "transcript", "stt", "llm_ttft", "first_chunk", "tts_first_audio", "voice_to_voice")
BUCKETS = (0.025, 0.05, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.25, 1.5, 2.0, 3.0, 5.0, 10.0)


@dataclass
class TurnMetrics:
    """When each stage of one turn happened, in ``time.monotonic()`` seconds.

    A turn is a response and, when it answers the user's speech, that speech. ``speculative`` is
    true when the reply was generated during the user's pause, before the end of the turn was certain.
    """

    item_id: str | None = None
    """The user audio item the response answers."""
    response_id: str | None = None
    status: str | None = None
    speculative: bool = False
    speech_end: float | None = None
    """The last speech sample arrived."""
    turn_end: float | None = None
    """The turn was committed (turn detection decided it ended, or the client committed it)."""
    transcript: float | None = None
    """The turn's transcript was ready."""
    request: float | None = None
    """The LLM was asked."""
    first_token: float | None = None
    first_chunk: float | None = None
    """The LLM had written the first speakable piece."""
    first_audio: float | None = None
    """The first audio of the reply was sent."""
    done: float | None = None

    def spans(self) -> dict[str, tuple[float, float]]:
        """Each measured stage as (start, end), in order."""
        spans = {
            "end_of_turn": (self.speech_end, self.turn_end),
            "transcript": (self.speech_end, self.transcript),
            "stt": (self.turn_end, _latest(self.transcript, self.turn_end)),
            "llm_ttft": (self.request, self.first_token),
            "first_chunk": (self.first_token, self.first_chunk),
            "tts_first_audio": (_latest(self.first_chunk, self.turn_end), self.first_audio),
            "voice_to_voice": (self.speech_end, self.first_audio),
        }
        return {name: (start, end) for name, (start, end) in spans.items() if start is not None and end is not None}

    def stages_ms(self) -> dict[str, float]:
        return {name: round((end - start) * 1000, 1) for name, (start, end) in self.spans().items()}

    def as_dict(self) -> dict[str, Any]:
        return {
            "response_id": self.response_id,
            "item_id": self.item_id,
            "status": self.status,
            "speculative": self.speculative,
            "stages_ms": self.stages_ms(),
        }


def _latest(a: float | None, b: float | None) -> float | None:
    return None if a is None else a if b is None else max(a, b)


class Telemetry:
    """The server's metrics: stage histograms and counters on a Prometheus registry, and, with an OTLP
    endpoint, one OpenTelemetry trace per turn whose child spans are the stages."""

    def __init__(self, otlp_endpoint: str | None = None, service_name: str = "voxlive") -> None:
        self.registry = CollectorRegistry()
        self.stage_seconds = Histogram(
            "voxlive_turn_stage_seconds",
            "Duration of each stage of a turn, from the user's last word to the reply's first audio.",
            ["stage"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.responses = Counter("voxlive_responses", "Responses by final status.", ["status"], registry=self.registry)
        self.speculative = Counter(
            "voxlive_speculative_replies",
            "Replies generated during the user's pause, by whether the turn ended there (used) or not.",
            ["outcome"],
            registry=self.registry,
        )
        self.sessions = Gauge("voxlive_sessions", "Sessions open now.", registry=self.registry)
        self.load = Gauge(
            "voxlive_load", "The busiest stage's recent load, 0 to 1 (see voxlive_stage_busy).", registry=self.registry
        )
        self.stage_busy = Gauge(
            "voxlive_stage_busy",
            "Each stage's work running or waiting over the recent window, as a fraction of its capacity (0 to 1).",
            ["stage"],
            registry=self.registry,
        )
        self.conversing = Gauge(
            "voxlive_conversing_sessions", "Sessions that had a turn in the recent window.", registry=self.registry
        )
        self.full = Gauge(
            "voxlive_capacity_full",
            "1 when the server refuses new sessions for its load or its sessions (max_load, max_sessions).",
            registry=self.registry,
        )
        self._tracer: Any = None
        self._provider: Any = None
        if otlp_endpoint:
            self._start_tracing(otlp_endpoint, service_name)

    def show_load(self, report: LoadReport, full: bool) -> None:
        """Set the load gauges (read when the metrics are)."""
        self.load.set(report.load)
        for stage, busy in report.stages.items():
            self.stage_busy.labels(stage).set(busy)
        self.conversing.set(report.conversing)
        self.full.set(int(full))

    def _start_tracing(self, endpoint: str, service_name: str) -> None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        self._provider = TracerProvider(resource=Resource.create({"service.name": service_name}))
        traces = endpoint.rstrip("/") + "/v1/traces" if not endpoint.rstrip("/").endswith("/v1/traces") else endpoint
        self._provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=traces)))
        self._tracer = self._provider.get_tracer("voxlive")

    def record(self, turn: TurnMetrics, session_id: str) -> None:
        """Count a finished turn: its stages into the histograms, and a trace when tracing is on."""
        stages = turn.stages_ms()
        for stage, ms in stages.items():
            self.stage_seconds.labels(stage).observe(ms / 1000)
        self.responses.labels(turn.status or "unknown").inc()
        if turn.speculative:
            self.speculative.labels("used").inc()
        if self._tracer is not None:
            self._trace(turn, session_id)

    def _trace(self, turn: TurnMetrics, session_id: str) -> None:
        from opentelemetry import trace

        offset = time.time_ns() - time.monotonic_ns()

        def ns(at: float) -> int:
            return int(at * 1e9) + offset

        instants = [at for at in vars(turn).values() if isinstance(at, float)]
        if not instants:
            return
        start, end = min(instants), max(instants)
        attributes = {
            "voxlive.session_id": session_id,
            "voxlive.response_id": turn.response_id or "",
            "voxlive.item_id": turn.item_id or "",
            "voxlive.status": turn.status or "",
            "voxlive.speculative": turn.speculative,
        }
        root = self._tracer.start_span("voxlive.turn", start_time=ns(start), attributes=attributes)
        context = trace.set_span_in_context(root)
        spans = {name: span for name, span in turn.spans().items() if name != "voice_to_voice"}
        if turn.request is not None:
            spans["llm"] = (turn.request, turn.done or turn.request)
        for name, (begin, finish) in spans.items():
            span = self._tracer.start_span(f"voxlive.{name}", context=context, start_time=ns(begin))
            span.end(end_time=ns(finish))
        root.end(end_time=ns(end))

    def shutdown(self) -> None:
        """Send the spans still queued."""
        if self._provider is not None:
            self._provider.shutdown()
