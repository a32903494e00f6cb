"""Shared fixtures: a real ``voxlive serve`` on loopback, and a raw WebSocket client for it."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import websockets

os.environ["HF_HUB_OFFLINE"] = "1"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(url: str, process: subprocess.Popen[bytes], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise TimeoutError(f"{url} did not become healthy")


@dataclass
class Server:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def start_server(tmp: Path, config: str = "") -> Server:
    port = free_port()
    (tmp / "voxlive.toml").write_text(config)
    log = (tmp / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "voxlive", "serve", "--port", str(port), "--config", str(tmp / "voxlive.toml")],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_healthy(f"http://127.0.0.1:{port}/health", process)
    return Server(port, process)


def stop_server(server: Server) -> None:
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``voxlive serve`` on the embedded local stack, with a small message limit for the tests."""
    running = start_server(
        tmp_path_factory.mktemp("server"), "[server]\nmax_message_bytes = 1048576\n[session]\ntemperature = 0.0\n"
    )
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


@pytest.fixture
async def client(server: Server) -> AsyncIterator[Client]:
    async with websockets.connect(f"{server.ws}/voice-live/realtime?api-version=2025-10-01&model=m") as ws:
        connected = Client(ws)
        first = await connected.recv()
        assert first["type"] == "session.created"
        yield connected
