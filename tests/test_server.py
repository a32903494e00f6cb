"""The server itself: health, API keys refused before the upgrade, and session limits."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Iterator

import pytest
import websockets
from websockets.exceptions import InvalidStatus

from conftest import Server, start_server, stop_server, until_idle


def test_health_answers_once_the_models_are_loaded(server: Server) -> None:
    with urllib.request.urlopen(f"{server.http}/health") as answer:
        assert answer.status == 200
        assert json.loads(answer.read())["status"] == "ok"


@pytest.fixture(scope="module")
def keyed_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    running = start_server(
        tmp_path_factory.mktemp("keyed"),
        '[server]\napi_keys = ["s3cret", "other"]\nmax_sessions = 2\n[llm]\ncontext_tokens = 1024\n',
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


async def test_the_session_limit_refuses_one_more(keyed_server: Server) -> None:
    url = f"{keyed_server.ws}/voice-live/realtime"
    headers = {"api-key": "s3cret"}
    await until_idle(keyed_server)
    async with (
        websockets.connect(url, additional_headers=headers) as first,
        websockets.connect(url, additional_headers=headers) as second,
    ):
        await first.recv()
        await second.recv()
        with pytest.raises(InvalidStatus) as refused:
            async with websockets.connect(url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == 503
    await until_idle(keyed_server)
    async with websockets.connect(url, additional_headers=headers) as again:
        assert json.loads(await again.recv())["type"] == "session.created"


def test_health_is_503_until_the_models_are_loaded() -> None:
    from starlette.testclient import TestClient

    from voxlive.config import Settings
    from voxlive.server.app import create_app

    with TestClient(create_app(Settings())) as http:
        first = http.get("/health")
        assert first.status_code == 503 and first.json() == {"status": "loading"}
        deadline = time.monotonic() + 60
        while http.get("/health").status_code != 200:
            assert time.monotonic() < deadline
            time.sleep(0.05)
