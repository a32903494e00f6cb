"""Per-turn metrics: the stage timings of each turn, ``/metrics`` histograms, OpenTelemetry traces, speculation."""

from __future__ import annotations

import asyncio
import json
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import numpy as np
import pytest
import websockets
from prometheus_client.parser import text_string_to_metric_families

from benchmarks.common import espeak, silence, spoken
from conftest import Client, Server, start_server, stop_server, stream_pcm
from voxlive.realtime.metrics import STAGES


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def samples(server: Server) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of ``/metrics`` by (name, labels)."""
    status, text = get(f"{server.http}/metrics")
    assert status == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def stage_count(values: dict, stage: str) -> float:
    return values.get(("voxlive_turn_stage_seconds_count", (("stage", stage),)), 0.0)


async def session_id(client: Client) -> str:
    created = next(e for e in client.received if e["type"] == "session.created")
    return created["session"]["id"]


async def turns(server: Server, client: Client) -> list[dict]:
    status, body = await asyncio.to_thread(get, f"{server.http}/sessions/{await session_id(client)}/turns")
    assert status == 200
    return json.loads(body)["turns"]


async def ask(client: Client, audio: np.ndarray, **detection: object) -> list[dict]:
    """Stream a spoken question in real time with server VAD; every event up to ``response.done``."""
    turn_detection = {"type": "server_vad", "silence_duration_ms": 500, **detection}
    await client.send({"type": "session.update", "session": {"turn_detection": turn_detection}})
    await client.until("session.updated")
    events: list[dict] = []
    sending = asyncio.create_task(stream_pcm(client.send, np.concatenate([audio, silence(2500)])))
    events = await client.until("response.done", timeout=90)
    await sending
    return events


async def test_a_spoken_turn_moves_every_stage_histogram(server: Server, client: Client, piper) -> None:
    before = samples(server)
    events = await ask(client, await spoken(piper, "What is the capital of France?"))
    after = samples(server)
    for stage in STAGES:
        assert stage_count(after, stage) == stage_count(before, stage) + 1, stage
    key = ("voxlive_responses_total", (("status", "completed"),))
    assert after[key] == before.get(key, 0) + 1
    assert after[("voxlive_sessions", ())] >= 1

    [turn] = await turns(server, client)
    created = next(e for e in events if e["type"] == "response.created")
    committed = next(e for e in events if e["type"] == "input_audio_buffer.committed")
    assert turn["response_id"] == created["response"]["id"]
    assert turn["item_id"] == committed["item_id"]
    assert turn["status"] == "completed"
    stages = turn["stages_ms"]
    assert set(stages) == set(STAGES)
    assert all(ms >= 0 for ms in stages.values()), stages
    # the turn waits for at least most of the 500 ms of silence, and the reply comes after the end of the turn
    assert stages["end_of_turn"] >= 300
    assert stages["voice_to_voice"] > stages["end_of_turn"]
    assert stages["voice_to_voice"] >= stages["tts_first_audio"]


async def test_the_reply_is_drafted_during_the_pause(server: Server, client: Client, piper) -> None:
    """With a transcript ready before the silence runs out, the reply the user hears is the one drafted then."""
    before = samples(server)
    events = await ask(client, await spoken(piper, "How far away is the moon?"), silence_duration_ms=1000)
    [turn] = await turns(server, client)
    assert turn["speculative"] is True
    after = samples(server)
    used = ("voxlive_speculative_replies_total", (("outcome", "used"),))
    assert after[used] == before.get(used, 0) + 1
    transcript = next(e for e in events if e["type"] == "response.audio_transcript.done")["transcript"]
    assert "moon" in transcript.lower() or any(ch.isdigit() for ch in transcript), transcript


async def test_a_draft_is_dropped_when_the_user_goes_on(server: Server, client: Client, piper) -> None:
    """A pause inside the sentence starts a draft; speech resuming drops it, and the answer hears it all."""
    first = espeak("What is the capital city")
    second = espeak("of Japan?")
    audio = np.concatenate([silence(300), first, silence(800), second])
    before = samples(server)
    events = await ask(client, audio, silence_duration_ms=1400)
    after = samples(server)
    dropped = ("voxlive_speculative_replies_total", (("outcome", "dropped"),))
    assert after.get(dropped, 0) >= before.get(dropped, 0) + 1
    assert [e["type"] for e in events].count("input_audio_buffer.committed") == 1
    transcript = next(e for e in events if e["type"] == "response.audio_transcript.done")["transcript"]
    assert "tokyo" in transcript.lower(), transcript


async def test_a_text_turn_has_the_llm_stages_only(server: Server, client: Client) -> None:
    await client.send({"type": "session.update", "session": {"modalities": ["text"], "turn_detection": None}})
    await client.until("session.updated")
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hello."}]},
        }
    )
    await client.send({"type": "response.create"})
    await client.until("response.done")
    [turn] = await turns(server, client)
    assert turn["item_id"] is None
    assert set(turn["stages_ms"]) == {"llm_ttft"}
    assert turn["stages_ms"]["llm_ttft"] > 0


async def test_turns_of_an_unknown_session_are_not_found(server: Server) -> None:
    status, body = get(f"{server.http}/sessions/sess_nobody/turns")
    assert status == 404
    assert json.loads(body)["error"]["code"] == "session_not_found"


# --- OpenTelemetry -----------------------------------------------------------------------------------


class Collector(BaseHTTPRequestHandler):
    """An OTLP/HTTP trace receiver: keeps every span it is sent."""

    spans: list = []

    def do_POST(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
            ExportTraceServiceResponse,
        )

        request = ExportTraceServiceRequest()
        request.ParseFromString(self.rfile.read(int(self.headers["Content-Length"])))
        for resource in request.resource_spans:
            for scope in resource.scope_spans:
                Collector.spans.extend(scope.spans)
        body = ExportTraceServiceResponse().SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def traced_server(tmp_path, monkeypatch) -> Iterator[Server]:
    collector = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    monkeypatch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")
    endpoint = f"http://127.0.0.1:{collector.server_address[1]}"
    running = start_server(tmp_path, f'[telemetry]\notlp_endpoint = "{endpoint}"\n[session]\ntemperature = 0.0\n')
    yield running
    stop_server(running)
    collector.shutdown()


async def test_each_turn_is_a_trace_with_its_stages_as_spans(traced_server: Server, piper) -> None:
    Collector.spans.clear()
    async with websockets.connect(f"{traced_server.ws}/voice-live/realtime?model=m") as ws:
        client = Client(ws)
        await client.recv()
        await ask(client, await spoken(piper, "Tell me a joke about computers."))
        identifier = await session_id(client)
    for _ in range(100):
        if any(span.name == "voxlive.turn" for span in Collector.spans):
            break
        await asyncio.sleep(0.1)
    [root] = [span for span in Collector.spans if span.name == "voxlive.turn"]
    attributes = {a.key: a.value for a in root.attributes}
    assert attributes["voxlive.session_id"].string_value == identifier
    children = {span.name: span for span in Collector.spans if span.parent_span_id == root.span_id}
    assert {"voxlive.end_of_turn", "voxlive.llm", "voxlive.llm_ttft", "voxlive.tts_first_audio"} <= set(children)
    for span in children.values():
        assert span.trace_id == root.trace_id
        assert root.start_time_unix_nano <= span.start_time_unix_nano <= span.end_time_unix_nano
        assert span.end_time_unix_nano <= root.end_time_unix_nano
