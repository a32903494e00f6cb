"""Shared fixtures: a real ``voxlive serve`` on loopback, and a raw WebSocket client for it; the ``models`` marker.

A test that needs the real models (LLM, STT, TTS, VAD, turn model, noise suppression) is marked ``models``:
automatically when it uses one of ``MODEL_FIXTURES`` (directly or through another fixture), explicitly
(``@pytest.mark.models`` or a module's ``pytestmark``) when it loads them itself, starts ``voxlive serve`` or
checks their files. ``pytest -m "not models"`` is the fast loop.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import websockets

from benchmarks.common import free_port, without_load_limit
from voxlive.speech.llm import LLM, LLMEvent, LLMRequest, TextDelta

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["XDG_DATA_HOME"] = tempfile.mkdtemp(prefix="voxlive-data-")  # conversations stored by test servers

MODEL_FIXTURES = frozenset({"server", "piper", "whisper"})
"""The shared fixtures that load the real models."""
_models_allowed = False
"""Whether the test being set up or run is marked ``models`` (``start_server`` refuses to run otherwise)."""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if MODEL_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.models)


@pytest.hookimpl(tryfirst=True)  # before the test's fixtures are set up
def pytest_runtest_setup(item: pytest.Item) -> None:
    global _models_allowed
    _models_allowed = item.get_closest_marker("models") is not None


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except urllib.error.HTTPError as error:
            if error.code == 500:  # the models failed to load: no use waiting
                raise RuntimeError(f"the server failed to start: {error.read().decode()}") from None
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not become healthy")


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]
    log: Path | None = None

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def start_server(tmp: Path, config: str = "", port: int | None = None, args: tuple[str, ...] = ()) -> Server:
    """``voxlive serve`` with ``config`` (and more command-line ``args``) on ``port`` (a free one by default), once
    healthy; only in a test marked ``models``, since it loads them."""
    assert _models_allowed, "this test starts voxlive serve, which loads the models: mark it @pytest.mark.models"
    port = port or free_port()
    (tmp / "voxlive.toml").write_text(without_load_limit(config))
    log = (tmp / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "voxlive", "serve", "--port", str(port), "--config", str(tmp / "voxlive.toml"), *args],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/health", process)
    except BaseException:  # a server that did not start is not left running
        process.kill()
        process.wait()
        raise
    return Server(port, process, tmp / "server.log")


def sessions_open(server: Server) -> int:
    with urllib.request.urlopen(f"{server.http}/health", timeout=10) as answer:
        return int(json.loads(answer.read())["sessions"])


async def until_idle(server: Server, timeout: float = 30) -> None:
    """Wait until the server has closed every session (a client's close reaches it a moment later)."""
    deadline = time.monotonic() + timeout
    while await asyncio.to_thread(sessions_open, server):
        assert time.monotonic() < deadline, "the server kept sessions open"
        await asyncio.sleep(0.05)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


MCP_SERVER = Path(__file__).parents[1] / "examples" / "weather_mcp_server.py"
SERVER_CONFIG = f"""
[server]
max_message_bytes = 1048576
[session]
temperature = 0.0
[mcp]
call_timeout = 4.0
approval_timeout = 6.0
allowed_hosts = ["127.0.0.1"]
stdio_commands = {{ sums = [{json.dumps(sys.executable)}, {json.dumps(str(MCP_SERVER))}, "0", "stdio"] }}
"""


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``voxlive serve`` on the embedded local stack, with a small message limit, short MCP timeouts, a local MCP
    command (``stdio:sums``) and MCP servers on 127.0.0.1 (and no other private address) allowed for the tests."""
    running = start_server(tmp_path_factory.mktemp("server"), SERVER_CONFIG)
    yield running
    stop_server(running)


class Client:
    """A raw realtime client: sends JSON events, receives them, and waits for a given type."""

    def __init__(self, connection: websockets.ClientConnection) -> None:
        self.connection = connection
        self.received: list[dict[str, Any]] = []

    async def send(self, event: dict[str, Any] | str | bytes) -> None:
        await self.connection.send(event if isinstance(event, (str, bytes)) else json.dumps(event))

    async def recv(self, timeout: float = 60) -> dict[str, Any]:
        event = json.loads(await asyncio.wait_for(self.connection.recv(), timeout))
        self.received.append(event)
        return event

    async def until(self, kind: str, timeout: float = 120) -> list[dict[str, Any]]:
        """Every event up to and including the first of type ``kind``."""
        events = []
        while True:
            event = await self.recv(timeout)
            events.append(event)
            if event["type"] == kind:
                return events

    async def processed(self) -> list[dict[str, Any]]:
        """Every event up to the answer to a request sent now: the server has processed all the audio sent before
        it, and made every decision on it (what a test waits for instead of a guess at how long that takes)."""
        await self.send({"type": "conversation.item.retrieve", "item_id": "item_none", "event_id": "processed"})
        events = []
        while True:
            event = await self.recv()
            events.append(event)
            if event["type"] == "error" and event["error"].get("event_id") == "processed":
                return events


@pytest.fixture
async def client(server: Server) -> AsyncIterator[Client]:
    async with websockets.connect(f"{server.ws}/voice-live/realtime?api-version=2025-10-01&model=m") as ws:
        connected = Client(ws)
        first, second = await connected.recv(), await connected.recv()
        assert first["type"] == "session.created" and second["type"] == "conversation.created"
        yield connected


# --- sound -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
async def piper():
    """The project's own TTS, to speak the user's side of a conversation (``benchmarks.common.spoken``)."""
    from voxlive.speech.tts import PiperTTS

    tts = PiperTTS()
    await tts.load()
    return tts


@pytest.fixture(scope="session")
async def whisper():
    """The project's own STT, to check what the server said."""
    from voxlive.speech.stt import WhisperSTT

    stt = WhisperSTT("tiny.en")
    await stt.load()
    return stt


async def stream_pcm(send, audio, rate: int = 24_000, chunk_ms: int = 100, speed: float = 1.0) -> None:
    """Send int16 audio as ``input_audio_buffer.append`` events of ``chunk_ms``, paced at ``speed`` times real time."""
    import base64

    step = rate * chunk_ms // 1000
    for start in range(0, len(audio), step):
        await send(
            {
                "type": "input_audio_buffer.append",
                "audio": base64.b64encode(audio[start : start + step].astype("<i2").tobytes()).decode(),
            }
        )
        await asyncio.sleep(chunk_ms / 1000 / speed)


# --- a shared store --------------------------------------------------------------------------------


def _postgres_bin() -> Path:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    assert found, "Postgres is not installed (scripts/setup.sh installs it)"
    return found[-1].parent


@pytest.fixture(scope="session")
def postgres() -> Iterator[str]:
    """A real Postgres on loopback, in a fresh cluster of its own; yields its URL."""
    root = Path(tempfile.mkdtemp(prefix="voxlive-postgres-"))  # where the postgres user can reach it
    data, port = root / "data", free_port()
    as_postgres: list[str] = []
    if os.geteuid() == 0:  # Postgres refuses to run as root
        shutil.chown(root, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    binaries = _postgres_bin()
    subprocess.run([*as_postgres, str(binaries / "initdb"), "-D", str(data), "-U", "voxlive", "-A", "trust"],
                   check=True, capture_output=True)  # fmt: skip
    process = subprocess.Popen(
        [
            *as_postgres,
            str(binaries / "postgres"),
            "-D",
            str(data),
            "-p",
            str(port),
            "-h",
            "127.0.0.1",
            "-k",
            str(root),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"postgresql://voxlive@127.0.0.1:{port}/postgres"
    deadline = time.monotonic() + 30
    while subprocess.run([str(binaries / "pg_isready"), "-h", "127.0.0.1", "-p", str(port)],
                         capture_output=True).returncode:  # fmt: skip
        assert time.monotonic() < deadline and process.poll() is None, "Postgres did not start"
        time.sleep(0.2)
    yield url
    subprocess.run([*as_postgres, str(binaries / "pg_ctl"), "-D", str(data), "stop", "-m", "fast"], check=True)
    process.wait(timeout=30)
    shutil.rmtree(root, ignore_errors=True)


async def collect(llm: LLM, request: LLMRequest) -> list[LLMEvent]:
    """Every event of one reply."""
    return [event async for event in llm.stream(request)]


def text_of(events: list[LLMEvent]) -> str:
    """The text of a reply's events."""
    return "".join(e.text for e in events if isinstance(e, TextDelta))
