"""The server itself: health, API keys refused before the upgrade, and session limits."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest
import websockets
from starlette.testclient import WebSocketDenialResponse
from websockets.exceptions import InvalidStatus

from conftest import Client, Server, start_server, stop_server, until_idle
from voxlive.speech.assets import piper_voice_path

pytestmark = pytest.mark.models


def test_health_answers_once_the_models_are_loaded(server: Server) -> None:
    with urllib.request.urlopen(f"{server.http}/health") as answer:
        assert answer.status == 200
        health = json.loads(answer.read())
    assert health["status"] == "ready" and 0 <= health["load"] < 0.9
    assert set(health["stages"]) == {"llm", "stt", "tts"} and health["sessions"] >= health["conversing"] >= 0


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("keyed"),
        '[server]\napi_keys = ["s3cret", "other"]\nmax_sessions = 3\nmax_sessions_per_key = 2\n'
        'allowed_origins = ["https://app.example.com"]\n[llm]\ncontext_tokens = 1024\n'
        f'[tts]\nvoices = {{ joe = {json.dumps(str(piper_voice_path()))} }}\naliases = {{ nova = "joe" }}\n',
    )
    yield running
    stop_server(running)


async def test_connections_without_a_valid_key_are_refused_before_the_upgrade(keyed_server: Server) -> None:
    url = f"{keyed_server.ws}/voice-live/realtime?api-version=2025-10-01&model=m"
    for headers, query in (
        ({}, ""),
        ({"api-key": "wrong"}, ""),
        ({"Authorization": "Bearer wrong"}, ""),
        ({}, "&api-key=wrong"),
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(url + query, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 401
        assert b"invalid_api_key" in refused.value.response.body


@pytest.mark.parametrize(
    ("path", "headers", "query"),
    [
        ("/voice-live/realtime", {"api-key": "s3cret"}, "?api-version=2025-10-01"),
        ("/voice-live/realtime", {}, "?api-version=2025-10-01&api-key=other"),
        ("/voice-live/realtime", {"Authorization": "Bearer s3cret"}, ""),
        ("/v1/realtime", {"Authorization": "Bearer other"}, "?model=m"),
    ],
)
async def test_a_valid_key_in_header_query_or_bearer_is_accepted(
    keyed_server: Server, path: str, headers: dict[str, str], query: str
) -> None:
    async with websockets.connect(f"{keyed_server.ws}{path}{query}", additional_headers=headers) as ws:
        assert json.loads(await ws.recv())["type"] == "session.created"


def get_json(url: str, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


async def test_voices_lists_exactly_the_voices_a_session_may_set(keyed_server: Server) -> None:
    """The bundled voice, the configured ones and their aliases, for holders of a key; each is accepted by
    ``session.update``, and a voice not listed (an OpenAI name, once the aliases are configured) is not."""
    url = f"{keyed_server.http}/voices"
    for headers in ({}, {"api-key": "wrong"}):
        status, body = await asyncio.to_thread(get_json, url, headers)
        assert status == 401 and body["error"]["code"] == "invalid_api_key"
    status, body = await asyncio.to_thread(get_json, url, {"api-key": "s3cret"})
    assert status == 200
    assert body == {
        "default": "en_US-joe-medium",
        "voices": [{"name": name, "language": "en_US"} for name in ("en_US-joe-medium", "joe", "nova")],
    }
    await until_idle(keyed_server)
    async with websockets.connect(f"{keyed_server.ws}/voice-live/realtime?api-key=s3cret") as ws:
        client = Client(ws)
        created = await client.until("session.created")
        assert created[-1]["session"]["voice"] == body["default"]
        for voice in [v["name"] for v in body["voices"]] + ["alloy"]:
            await client.send({"type": "session.update", "session": {"voice": voice}})
            answer = await client.recv()
            while answer["type"] not in ("session.updated", "error"):
                answer = await client.recv()
            if voice == "alloy":
                assert answer["type"] == "error" and answer["error"]["param"] == "session.voice"
            else:
                assert answer["type"] == "session.updated" and answer["session"]["voice"] == voice


async def test_the_session_limits_refuse_one_more_per_key_and_per_server(keyed_server: Server) -> None:
    """Two sessions per key, three in all, agent sockets counted like the others."""
    url = f"{keyed_server.ws}/voice-live/realtime"
    mine, theirs = {"api-key": "s3cret"}, {"api-key": "other"}
    await until_idle(keyed_server)
    async with (
        websockets.connect(url, additional_headers=mine) as first,
        websockets.connect(f"{keyed_server.ws}/ws/voice", additional_headers=mine),
    ):
        await first.recv()
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(url, additional_headers=mine):
                pass
        assert refused.value.response.status_code == 429
        assert b"too_many_sessions_for_key" in refused.value.response.body
        async with websockets.connect(url, additional_headers=theirs) as third:
            await third.recv()
            async with websockets.connect(f"{keyed_server.ws}/ws/voice", additional_headers=theirs) as fourth:
                error = json.loads(await fourth.recv())
                assert error["type"] == "error" and error["code"] == "server_full" and "3 sessions" in error["error"]
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await fourth.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
    await until_idle(keyed_server)
    async with websockets.connect(url, additional_headers=mine) as again:
        assert json.loads(await again.recv())["type"] == "session.created"


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [
        ("https://evil.example", False),
        ("http://localhost:1", False),
        ("https://app.example.com", True),
        (None, True),  # not a browser
        ("self", True),  # the server's own page
    ],
)
async def test_pages_from_other_origins_cannot_open_sessions(
    keyed_server: Server, origin: str | None, accepted: bool
) -> None:
    url = f"{keyed_server.ws}/voice-live/realtime?api-key=s3cret"
    headers = {} if origin is None else {"Origin": keyed_server.http if origin == "self" else origin}
    if accepted:
        async with websockets.connect(url, additional_headers=headers) as ws:
            assert json.loads(await ws.recv())["type"] == "session.created"
        return
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(url, additional_headers=headers):
            pass
    assert refused.value.response.status_code == 403 and b"origin_not_allowed" in refused.value.response.body


def _get(server: Server, path: str, headers: dict[str, str] | None = None, method: str = "GET") -> int:
    request = urllib.request.Request(f"{server.http}{path}", headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as error:
        return int(error.code)


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/metrics", "GET"),
        ("/conversations/conv_x", "GET"),
        ("/conversations/conv_x", "DELETE"),
        ("/conversations/conv_x/items/item_x/audio", "GET"),
        ("/sessions/sess_x/turns", "GET"),
        ("/v1/audio/speech", "POST"),
        ("/v1/audio/transcriptions", "POST"),
    ],
)
async def test_every_route_needs_a_key(keyed_server: Server, path: str, method: str) -> None:
    assert await asyncio.to_thread(_get, keyed_server, path, None, method) == 401
    assert await asyncio.to_thread(_get, keyed_server, path, {"Authorization": "Bearer wrong"}, method) == 401
    assert await asyncio.to_thread(_get, keyed_server, path, {"api-key": "s3cret"}, method) != 401
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(f"{keyed_server.ws}/ws/voice"):
            pass
    assert refused.value.response.status_code == 401


async def test_one_keys_conversations_and_sessions_are_invisible_to_another(keyed_server: Server) -> None:
    url = f"{keyed_server.ws}/voice-live/realtime?api-version=2025-10-01"
    await until_idle(keyed_server)
    async with websockets.connect(url, additional_headers={"api-key": "s3cret"}) as ws:
        mine = Client(ws)
        session_id = (await mine.recv())["session"]["id"]
        conversation_id = (await mine.recv())["conversation"]["id"]
        item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "A secret."}]}
        await mine.send({"type": "conversation.item.create", "item": item})
        await mine.until("conversation.item.created")
        for key, status in (("other", 404), ("s3cret", 200)):
            headers = {"api-key": key}
            assert await asyncio.to_thread(_get, keyed_server, f"/sessions/{session_id}/turns", headers) == status
    await until_idle(keyed_server)
    for key, status in (("other", 404), ("s3cret", 200)):
        assert (
            await asyncio.to_thread(_get, keyed_server, f"/conversations/{conversation_id}", {"api-key": key}) == status
        )
    async with websockets.connect(
        f"{url}&conversation-id={conversation_id}", additional_headers={"api-key": "other"}
    ) as ws:
        theirs = Client(ws)
        opened = await theirs.until("conversation.created")
        assert opened[-2]["type"] == "error" and opened[-2]["error"]["code"] == "conversation_not_found"
        assert opened[-1]["conversation"]["id"] != conversation_id
    assert (
        await asyncio.to_thread(_get, keyed_server, f"/conversations/{conversation_id}", {"api-key": "other"}, "DELETE")
        == 404
    )
    assert (
        await asyncio.to_thread(_get, keyed_server, f"/conversations/{conversation_id}", {"api-key": "s3cret"}) == 200
    )


async def test_keys_are_never_written_to_the_log(keyed_server: Server) -> None:
    async with websockets.connect(f"{keyed_server.ws}/voice-live/realtime?api-key=s3cret") as ws:
        await ws.recv()
    await asyncio.to_thread(_get, keyed_server, "/metrics?api-key=s3cret")
    await asyncio.to_thread(_get, keyed_server, "/metrics?api-key=wrongkey")
    await until_idle(keyed_server)
    assert keyed_server.log is not None
    log = keyed_server.log.read_text()
    assert "/metrics?api-key=***" in log  # the request is logged, without its key
    assert "s3cret" not in log and "wrongkey" not in log


async def test_a_key_in_an_authorization_query_parameter_is_not_accepted(keyed_server: Server) -> None:
    """Only the ``api-key`` query parameter (the Azure SDKs send it) carries a key in a URL."""
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(f"{keyed_server.ws}/voice-live/realtime?authorization=Bearer%20s3cret"):
            pass
    assert refused.value.response.status_code == 401


async def test_a_client_slow_to_send_its_headers_is_cut_off(tmp_path_factory: pytest.TempPathFactory) -> None:
    server = start_server(tmp_path_factory.mktemp("slow"), "[server]\nheader_timeout = 1.0\n")
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\n")  # and never the rest
        await writer.drain()
        assert await asyncio.wait_for(reader.read(), 60) == b""  # closed by the server
        writer.close()
        reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 60)).startswith(b"HTTP/1.1 200")
        writer.close()
    finally:
        stop_server(server)


async def test_sigterm_lets_the_running_response_finish_then_closes_with_1012(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    server = start_server(tmp_path_factory.mktemp("drain"), "[server]\ndrain_seconds = 120\n")
    try:
        async with websockets.connect(f"{server.ws}/voice-live/realtime?api-version=2025-10-01") as ws:
            client = Client(ws)
            conversation_id = (await client.until("conversation.created"))[-1]["conversation"]["id"]
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Tell me a story."}]}
            await client.send({"type": "conversation.item.create", "item": item})
            await client.send({"type": "response.create"})
            await client.until("response.created")
            server.process.send_signal(signal.SIGTERM)
            health = await asyncio.to_thread(_health, server)
            assert health == (503, "draining")
            with pytest.raises(InvalidStatus) as refused:
                async with websockets.connect(f"{server.ws}/voice-live/realtime"):
                    pass
            assert refused.value.response.status_code == 503 and b"server_draining" in refused.value.response.body
            done = (await client.until("response.done"))[-1]["response"]
            assert done["status"] == "completed"  # not cut short by the restart
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await client.recv()
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
            assert "reconnect" in closed.value.rcvd.reason
        assert await asyncio.to_thread(server.process.wait, 60) == 0
        assert conversation_id.startswith("conv_")
    finally:
        stop_server(server)


def _health(server: Server) -> tuple[int, str]:
    request = urllib.request.Request(f"{server.http}/health")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return int(answer.status), json.loads(answer.read())["status"]
    except urllib.error.HTTPError as error:
        return int(error.code), json.loads(error.read())["status"]


def test_health_is_503_until_the_models_are_loaded() -> None:
    from starlette.testclient import TestClient

    from voxlive.config import Settings
    from voxlive.server.app import create_app

    with TestClient(create_app(Settings())) as http:
        first = http.get("/health")
        assert first.status_code == 503 and first.json() == {"status": "loading"}
        with pytest.raises(WebSocketDenialResponse) as refused, http.websocket_connect("/voice-live/realtime"):
            pass
        assert refused.value.status_code == 503 and refused.value.json()["error"]["code"] == "server_loading"
        deadline = time.monotonic() + 60
        while http.get("/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)


async def until_health(server: Server, status: str, timeout: float = 60) -> dict:
    """/health's answer once its status is ``status`` (the load over the window moves on its own)."""
    deadline = time.monotonic() + timeout
    while True:
        code, health = await asyncio.to_thread(get_json, f"{server.http}/health", {})
        if health["status"] == status:
            assert code == (200 if status == "ready" else 503)
            return health
        assert time.monotonic() < deadline, f"/health stayed {health}"
        await asyncio.sleep(0.1)


async def test_a_server_at_its_load_says_full_and_refuses_new_sessions_until_the_load_falls(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """With a low ``max_load``, one session's reply fills the server: /health answers 503 ``full``, a new
    session is told so in an error event and closed with 1013, the admission probe says the same; the open
    session goes on; once the window has passed without work, the server is ready again."""
    server = start_server(tmp_path_factory.mktemp("full"), "[server]\nmax_load = 0.05\nload_window_seconds = 3\n")
    try:
        url = f"{server.ws}/voice-live/realtime?api-version=2025-10-01"
        async with websockets.connect(url) as open_before:
            client = Client(open_before)
            await client.until("conversation.created")
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hello."}]}
            await client.send({"type": "conversation.item.create", "item": item})
            await client.send({"type": "response.create"})
            await client.until("response.done")
            health = await until_health(server, "full")
            assert health["load"] == max(health["stages"].values()) >= 0.05 and health["stages"]["llm"] > 0
            assert health["sessions"] == 1 and health["conversing"] == 1
            async with websockets.connect(url) as refused:
                error = json.loads(await refused.recv())
                assert error["type"] == "error" and error["error"]["code"] == "server_full"
                assert "try again shortly" in error["error"]["message"]
                with pytest.raises(websockets.ConnectionClosed) as closed:
                    await refused.recv()
                assert closed.value.rcvd is not None and closed.value.rcvd.code == 1013
                assert "full" in closed.value.rcvd.reason
            status, body = await asyncio.to_thread(get_json, f"{server.http}/realtime/admission", {})
            assert status == 503 and body["error"]["code"] == "server_full"
            with urllib.request.urlopen(f"{server.http}/metrics", timeout=10) as answer:
                metrics = answer.read().decode()
            assert "voxlive_capacity_full 1.0" in metrics and 'voxlive_stage_busy{stage="tts"}' in metrics
            await client.send({"type": "session.update", "session": {"instructions": "Be brief."}})
            assert (await client.until("session.updated"))[-1]["session"]["instructions"] == "Be brief."
            await until_health(server, "ready")
        async with websockets.connect(url) as admitted:
            assert json.loads(await admitted.recv())["type"] == "session.created"
        status, body = await asyncio.to_thread(get_json, f"{server.http}/realtime/admission", {})
        assert status == 200 and body == {"admitted": True}
    finally:
        stop_server(server)
