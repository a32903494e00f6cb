"""MCP tools: what listing, calling and approving cost, through a real ``voxlive serve`` and a real MCP server.

For each round, on a new session: the listing (``session.update`` → ``mcp_list_tools.completed``: connect,
negotiate and list) over streamable HTTP and over stdio (the server is started as a process); then one turn
whose model must call ``get_weather``, timed from ``response.create``: to the call's arguments, from them to
the call's start (the model ends its reply first), the call itself (``mcp_call.in_progress`` → ``.completed``:
voxlive to the MCP server and back), and to ``response.done`` (the model's answer from the result, in text).
Then the same turn with approval: the time from the client's ``mcp_approval_response`` to ``mcp_call.in_progress``.

Run: ``.venv/bin/python benchmarks/mcp.py [ROUNDS]``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import websockets

sys.path.insert(0, str(Path(__file__).parent))
from common import free_port, percentile_table, server, summary, write_results

MCP_SERVER = Path(__file__).parents[1] / "examples" / "weather_mcp_server.py"


def start_mcp() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, str(MCP_SERVER), str(port)], stderr=subprocess.DEVNULL)
    while True:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process, f"http://127.0.0.1:{port}/mcp"
        time.sleep(0.1)


class Session:
    def __init__(self, ws: websockets.ClientConnection) -> None:
        self.ws = ws

    async def send(self, event: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(event))

    async def until(self, kind: str) -> dict[str, Any]:
        while True:
            event = json.loads(await asyncio.wait_for(self.ws.recv(), 120))
            if event["type"] == "error" or event["type"] == kind:
                if event["type"] != kind:
                    raise RuntimeError(f"waiting for {kind}: {event['error']['message']}")
                return event


async def one_round(url: str, mcp_url: str, times: dict[str, list[float]]) -> None:
    async with websockets.connect(f"{url}/voice-live/realtime", max_size=None) as ws:
        session = Session(ws)
        await session.until("session.created")
        for name, server_url in (("list, streamable HTTP", mcp_url), ("list, stdio", "stdio:weather")):
            tool = {"type": "mcp", "server_label": "weather", "server_url": server_url, "require_approval": "never"}
            start = time.perf_counter()
            config = {"modalities": ["text"], "turn_detection": None, "tools": [tool]}
            await session.send({"type": "session.update", "session": config})
            await session.until("mcp_list_tools.completed")
            times[name].append((time.perf_counter() - start) * 1000)
    for approval in ("never", "always"):  # each on a new session: a call answered before is not made again
        async with websockets.connect(f"{url}/voice-live/realtime", max_size=None) as ws:
            await call_round(Session(ws), mcp_url, approval, times)


async def call_round(session: Session, mcp_url: str, approval: str, times: dict[str, list[float]]) -> None:
    await session.until("session.created")
    tool = {"type": "mcp", "server_label": "weather", "server_url": mcp_url, "require_approval": approval}
    choice = {"type": "mcp", "server_label": "weather", "name": "get_weather"}
    config = {"modalities": ["text"], "turn_detection": None, "tools": [tool], "tool_choice": choice}
    await session.send({"type": "session.update", "session": config})
    await session.until("mcp_list_tools.completed")
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Oslo?"}]}
    await session.send({"type": "conversation.item.create", "item": user})
    start = time.perf_counter()
    await session.send({"type": "response.create"})
    if approval == "always":
        request = (await session.until("response.output_item.done"))["item"]
        answer = {"type": "mcp_approval_response", "approval_request_id": request["id"], "approve": True}
        answered = time.perf_counter()
        await session.send({"type": "conversation.item.create", "item": answer})
        await session.until("response.mcp_call.in_progress")
        times["approval → call starts"].append((time.perf_counter() - answered) * 1000)
        await session.until("response.done")
        return
    await session.until("response.mcp_call_arguments.done")
    times["response.create → arguments done"].append((time.perf_counter() - start) * 1000)
    written = time.perf_counter()
    await session.until("response.mcp_call.in_progress")
    called = time.perf_counter()
    times["arguments done → call starts"].append((called - written) * 1000)
    await session.until("response.mcp_call.completed")
    times["call (in_progress → completed)"].append((time.perf_counter() - called) * 1000)
    await session.until("response.done")
    times["response.create → response.done"].append((time.perf_counter() - start) * 1000)


async def main(rounds: int) -> None:
    mcp, mcp_url = start_mcp()
    command = [sys.executable, str(MCP_SERVER), "0", "stdio"]
    config = (
        f"[session]\ntemperature = 0.0\n[mcp]\nstdio_commands = {{ weather = {json.dumps(command)} }}\n"
        'allowed_hosts = ["127.0.0.1"]\n'
    )
    names = [
        "list, streamable HTTP",
        "list, stdio",
        "response.create → arguments done",
        "arguments done → call starts",
        "call (in_progress → completed)",
        "response.create → response.done",
        "approval → call starts",
    ]
    times: dict[str, list[float]] = {name: [] for name in names}
    try:
        with server(config) as url:
            await one_round(url, mcp_url, {name: [] for name in names})  # warm-up: loads, caches
            for _ in range(rounds):
                await one_round(url, mcp_url, times)
    finally:
        mcp.kill()
    print(percentile_table(f"MCP tools ({rounds} rounds)", times))
    path = write_results("mcp", {"rounds": rounds, **{name: summary(values) for name, values in times.items()}})
    print(f"written to {path}")


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
