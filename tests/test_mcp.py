"""MCP tools through ``/voice-live/realtime``: real MCP servers (the official SDK) on loopback, listed, called and
approved by a real voxlive server, event by event on the wire."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from openai import AsyncOpenAI

from conftest import MCP_SERVER, Client, Server, free_port, start_server, stop_server
from voxlive.client import SessionContext, SessionHandlers, VoiceLiveClient
from voxlive.protocol import ServerEvent
from voxlive.tools.mcp_client import UNREACHABLE

CALL_EVENTS = (
    "response.output_item.added",
    "response.output_item.done",
    "response.mcp_call_arguments.delta",
    "response.mcp_call_arguments.done",
    "response.mcp_call.in_progress",
    "response.mcp_call.completed",
    "response.mcp_call.failed",
)


@dataclass
class MCPProcess:
    url: str
    process: subprocess.Popen[bytes]
    headers: Path

    def requests(self) -> list[dict[str, str]]:
        """The headers of every HTTP request the server received."""
        return [json.loads(line) for line in self.headers.read_text().splitlines()] if self.headers.exists() else []


def start_mcp(tmp: Path, *options: str, transport: str = "streamable-http") -> MCPProcess:
    port = free_port()
    headers = tmp / f"headers-{port}.jsonl"
    command = [sys.executable, str(MCP_SERVER), str(port), transport, "--headers", str(headers), *options]
    process = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                path = "/sse" if transport == "sse" else "/mcp"
                return MCPProcess(f"http://127.0.0.1:{port}{path}", process, headers)
        time.sleep(0.1)
    process.kill()
    raise TimeoutError("the MCP server did not start")


@pytest.fixture(scope="module")
def weather(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MCPProcess]:
    """An MCP server with two tools, ``get_weather`` and ``add``, over streamable HTTP."""
    running = start_mcp(tmp_path_factory.mktemp("mcp"))
    yield running
    running.process.kill()


@pytest.fixture
def slow_weather(tmp_path: Path) -> Iterator[MCPProcess]:
    """The same server, but ``get_weather`` takes a minute."""
    running = start_mcp(tmp_path, "--slow", "60")
    yield running
    running.process.kill()


def mcp_tool(url: str, label: str = "weather", **extra: Any) -> dict[str, Any]:
    return {"type": "mcp", "server_label": label, "server_url": url, **extra}


async def configure(client: Client, *tools: dict[str, Any], **extra: Any) -> list[dict[str, Any]]:
    """A text-only session with these tools; the events up to the end of the last listing."""
    session = {"modalities": ["text"], "turn_detection": None, "tools": list(tools), **extra}
    await client.send({"type": "session.update", "session": session})
    events = await client.until("session.updated")
    ended = 0
    while ended < len([t for t in tools if t["type"] == "mcp"]):
        event = await client.recv()
        events.append(event)
        ended += event["type"] in ("mcp_list_tools.completed", "mcp_list_tools.failed")
    return events


async def ask(client: Client, text: str, tool: str | None = None, label: str = "weather") -> list[dict[str, Any]]:
    """A user message and a response (made to call ``tool`` first when given); the events up to ``response.done``."""
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await client.send({"type": "conversation.item.create", "item": item})
    await client.send({"type": "session.update", "session": {"tool_choice": choice(tool, label)}})
    await client.send({"type": "response.create"})
    return await client.until("response.created")


def choice(tool: str | None, label: str) -> Any:
    return {"type": "mcp", "server_label": label, "name": tool} if tool else "auto"


def of_types(events: list[dict[str, Any]], *types: str) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] in types]


def reply_text(done: dict[str, Any]) -> str:
    return " ".join(p.get("text", "") for item in done["response"]["output"] for p in item.get("content", []))


# --- listing -------------------------------------------------------------------------------------


async def test_listing_announces_the_tools_filters_them_and_sends_the_headers(
    client: Client, weather: MCPProcess
) -> None:
    tool = mcp_tool(weather.url, headers={"x-team": "blue"}, authorization="secret-token", require_approval="never")
    events = await configure(client, tool)
    kinds = [e["type"] for e in events]
    assert kinds[-4:-1] == ["session.updated", "mcp_list_tools.in_progress", "conversation.item.created"]
    assert kinds[-1] == "mcp_list_tools.completed"
    item = events[-2]["item"]
    assert item["type"] == "mcp_list_tools" and item["server_label"] == "weather"
    assert events[-3]["item_id"] == item["id"] == events[-1]["item_id"]
    tools = {t["name"]: t for t in item["tools"]}
    assert set(tools) == {"get_weather", "add"}
    assert tools["get_weather"]["description"] == "Get the current weather in a city."
    assert tools["get_weather"]["input_schema"]["required"] == ["city"]
    assert set(tools["add"]["input_schema"]["properties"]) == {"a", "b"}
    sent = {"authorization": "Bearer secret-token", "x-team": "blue"}
    assert any(sent.items() <= request.items() for request in weather.requests())

    events = await configure(client, {**tool, "allowed_tools": ["add"]})
    listed = of_types(events, "conversation.item.created")[-1]["item"]
    assert listed["id"] != item["id"] and [t["name"] for t in listed["tools"]] == ["add"]


async def test_listing_over_sse_and_stdio(client: Client, tmp_path: Path) -> None:
    sse = start_mcp(tmp_path, transport="sse")
    try:
        events = await configure(client, mcp_tool(sse.url, "old"), mcp_tool("stdio:sums", "local"))
    finally:
        sse.process.kill()
    assert len(of_types(events, "mcp_list_tools.completed")) == 2
    items = {e["item"]["server_label"]: e["item"] for e in of_types(events, "conversation.item.created")}
    assert (
        {t["name"] for t in items["old"]["tools"]}
        == {t["name"] for t in items["local"]["tools"]}
        == {
            "get_weather",
            "add",
        }
    )


def stdio_children(parent: int) -> list[int]:
    """The local MCP servers (``stdio:sums``) a process started."""
    children = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            command = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue
        if ppid == parent and MCP_SERVER.name.encode() in command and b"stdio" in command:
            children.append(int(stat.parent.name))
    return children


async def test_connections_close_with_the_session(server: Any) -> None:
    import asyncio

    import websockets

    before = stdio_children(server.process.pid)
    async with websockets.connect(f"{server.ws}/voice-live/realtime?api-version=2025-10-01&model=m") as ws:
        client = Client(ws)
        await client.until("session.created")
        await configure(client, mcp_tool("stdio:sums", "local"))
        started = [pid for pid in stdio_children(server.process.pid) if pid not in before]
        assert len(started) == 1
    for _ in range(100):
        if started[0] not in stdio_children(server.process.pid):
            break
        await asyncio.sleep(0.1)
    assert started[0] not in stdio_children(server.process.pid)


async def test_a_server_that_cannot_be_reached_fails_its_listing_and_bad_configs_are_refused(client: Client) -> None:
    events = await configure(client, mcp_tool(f"http://127.0.0.1:{free_port()}/mcp", "gone"))
    assert [e["type"] for e in events[-2:]] == ["mcp_list_tools.in_progress", "mcp_list_tools.failed"]
    error = await client.recv()
    assert error["type"] == "error" and error["error"]["code"] == "mcp_list_tools_failed"
    assert "'gone'" in error["error"]["message"] and "connect" in error["error"]["message"]

    refused = {
        "ftp://example.com/mcp": "http(s) URL",
        "stdio:rm": "stdio:sums",
    }
    for url, reason in refused.items():
        await client.send({"type": "session.update", "event_id": url, "session": {"tools": [mcp_tool(url)]}})
        error = await client.recv()
        assert error["type"] == "error" and error["error"]["event_id"] == url
        assert error["error"]["param"] == "session.tools" and reason in error["error"]["message"]
    await client.send({"type": "session.update", "session": {"tools": [{"type": "mcp", "server_label": "x"}]}})
    error = await client.recv()
    assert error["type"] == "error" and "server_url" in error["error"]["param"]
    twice = [mcp_tool("http://127.0.0.1:1/mcp"), mcp_tool("http://127.0.0.1:2/mcp")]
    await client.send({"type": "session.update", "session": {"tools": twice}})
    assert "Duplicate MCP server_label" in (await client.recv())["error"]["message"]
    await client.send({"type": "session.update", "session": {"tool_choice": {"type": "mcp", "server_label": "nope"}}})
    error = await client.recv()
    assert error["error"]["param"] == "session.tool_choice" and "'nope'" in error["error"]["message"]
    await client.send({"type": "session.update", "session": {"instructions": "Still here."}})
    assert (await client.recv())["session"]["instructions"] == "Still here."


# --- which hosts ---------------------------------------------------------------------------------


async def listing_errors(client: Client, *urls: str) -> dict[str, str]:
    """Configure a server for each URL (labelled by its index) and wait for every one to fail: the error messages
    by label."""
    session = {
        "modalities": ["text"],
        "turn_detection": None,
        "tools": [mcp_tool(u, str(i)) for i, u in enumerate(urls)],
    }
    await client.send({"type": "session.update", "session": session})
    errors: dict[str, str] = {}
    while len(errors) < len(urls):
        event = await client.recv()
        assert event["type"] != "mcp_list_tools.completed"
        if event["type"] == "error":
            assert event["error"]["code"] == "mcp_list_tools_failed"
            label = event["error"]["message"].split("'")[1]
            errors[label] = event["error"]["message"]
    return errors


def failed_listing(label: str) -> str:
    return f"Listing the tools of MCP server '{label}' failed: {UNREACHABLE}"


@contextmanager
def http_server(host: str, status: int, location: str = "") -> Iterator[tuple[int, list[str]]]:
    """A tiny real HTTP server on ``host`` that answers every request with ``status`` (and a ``Location``); yields
    its port and the requests it received."""
    received: list[str] = []

    class Answer(BaseHTTPRequestHandler):
        def answer(self) -> None:
            received.append(f"{self.command} {self.path}")
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(status)
            if location:
                self.send_header("location", location)
            self.send_header("content-length", "0")
            self.end_headers()

        do_GET = do_POST = do_DELETE = answer

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer((host, 0), Answer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1], received
    finally:
        httpd.shutdown()
        httpd.server_close()


async def test_loopback_private_and_metadata_addresses_are_refused_before_any_request(
    client: Client, weather: MCPProcess
) -> None:
    """The test server allows 127.0.0.1 only: the same MCP server by another loopback name or address is refused,
    as are private and cloud metadata addresses, all with the same words; the session goes on."""
    port = urlsplit(weather.url).port
    asked = len(weather.requests())
    refused = [
        f"http://localhost:{port}/mcp",
        f"http://127.0.0.2:{port}/mcp",
        f"http://[::1]:{port}/mcp",
        f"http://[::ffff:127.0.0.1]:{port}/mcp",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.1/mcp",
        "http://0.0.0.0/mcp",
    ]
    errors = await listing_errors(client, *refused)
    assert errors == {str(i): failed_listing(str(i)) for i in range(len(refused))}
    assert len(weather.requests()) == asked

    events = await configure(client, mcp_tool(weather.url))
    assert events[-1]["type"] == "mcp_list_tools.completed"


async def test_a_closed_port_and_a_404_get_the_same_error(client: Client, weather: MCPProcess) -> None:
    closed = f"http://127.0.0.1:{free_port()}/mcp"
    not_found = weather.url.replace("/mcp", "/nothing-here")
    assert (
        (await listing_errors(client, closed))
        == (await listing_errors(client, not_found))
        == {"0": failed_listing("0")}
    )


async def test_a_redirect_to_an_address_not_allowed_is_not_followed(client: Client) -> None:
    with (
        http_server("127.0.0.2", 200) as (private, reached),
        http_server("127.0.0.1", 307, f"http://127.0.0.2:{private}/mcp") as (port, redirected),
    ):
        assert (await listing_errors(client, f"http://127.0.0.1:{port}/mcp")) == {"0": failed_listing("0")}
    assert redirected and not reached


@pytest.fixture(scope="module")
def open_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """``voxlive serve`` with ``[mcp] allow_private``: sessions may name MCP servers at any address."""
    running = start_server(tmp_path_factory.mktemp("open"), "[mcp]\nallow_private = true\n")
    yield running
    stop_server(running)


@pytest.mark.models
async def test_allow_private_lets_sessions_reach_loopback(open_server: Server, weather: MCPProcess) -> None:
    import websockets

    async with websockets.connect(f"{open_server.ws}/voice-live/realtime?api-version=2025-10-01&model=m") as ws:
        client = Client(ws)
        await client.until("session.created")
        url = weather.url.replace("127.0.0.1", "localhost")
        events = await configure(client, mcp_tool(url))
    assert events[-1]["type"] == "mcp_list_tools.completed"
    assert {t["name"] for t in of_types(events, "conversation.item.created")[-1]["item"]["tools"]} == {
        "get_weather",
        "add",
    }


# --- calls ---------------------------------------------------------------------------------------


async def test_a_call_streams_its_events_and_the_model_answers_from_its_output_in_the_same_response(
    client: Client, weather: MCPProcess
) -> None:
    await configure(client, mcp_tool(weather.url, require_approval="never"))
    events = await ask(client, "What is the weather in Paris?", "get_weather")
    events += await client.until("response.done")
    calls = of_types(events, *CALL_EVENTS)
    deltas = [e for e in calls if e["type"] == "response.mcp_call_arguments.delta"]
    expected = [
        "response.output_item.added",
        *["response.mcp_call_arguments.delta"] * len(deltas),
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.output_item.done",
    ]
    assert deltas and [e["type"] for e in calls[: len(expected)]] == expected
    added, done = calls[0]["item"], calls[len(expected) - 1]["item"]
    assert added["type"] == "mcp_call" and added["name"] == "get_weather" and added["server_label"] == "weather"
    assert {e.get("item_id", added["id"]) for e in calls[: len(expected)]} == {added["id"]}
    arguments = "".join(e["delta"] for e in deltas)
    assert json.loads(arguments) == json.loads(of_types(calls, "response.mcp_call_arguments.done")[0]["arguments"])
    assert json.loads(arguments)["city"].lower() == "paris"
    assert done["id"] == added["id"] and done["output"] == "It is 21 degrees and sunny in Paris."

    final = events[-1]["response"]
    assert final["status"] == "completed"
    assert [item["type"] for item in final["output"]] == ["mcp_call", "message"]
    assert "21" in reply_text(events[-1])


async def test_calls_reuse_the_connection_across_turns(client: Client, weather: MCPProcess) -> None:
    await configure(client, mcp_tool(weather.url, "reused", require_approval="never", headers={"x-test": "reuse"}))
    for city in ("Rome", "Oslo"):
        await ask(client, f"What is the weather in {city}?", "get_weather", "reused")
        assert (await client.until("response.done"))[-1]["response"]["output"][0]["type"] == "mcp_call"
    methods = [r["method"] for r in weather.requests() if r.get("x-test") == "reuse" and r["method"] != "GET"]
    assert methods[0] in ("server/discover", "initialize")  # connected once, by the listing
    assert methods[1:] == [*methods[1:-2], "tools/call", "tools/call"] and "tools/list" in methods
    assert methods.count("server/discover") + methods.count("initialize") == 1


async def test_a_response_can_bring_its_own_mcp_server(client: Client, weather: MCPProcess) -> None:
    await configure(client)
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Nice?"}]}
    await client.send({"type": "conversation.item.create", "item": item})
    tool = mcp_tool(weather.url, "own", require_approval="never")
    choice = {"type": "mcp", "server_label": "own", "name": "get_weather"}
    await client.send({"type": "response.create", "response": {"tools": [tool], "tool_choice": choice}})
    events = await client.until("response.done")
    kinds = [e["type"] for e in events]
    assert kinds.index("mcp_list_tools.in_progress") < kinds.index("mcp_list_tools.completed")
    assert kinds.index("mcp_list_tools.completed") < kinds.index("response.mcp_call.in_progress")
    output = events[-1]["response"]["output"]
    assert output[0]["type"] == "mcp_call" and output[0]["output"] == "It is 21 degrees and sunny in Nice."


async def test_cancelling_a_response_that_waits_for_its_mcp_server_leaves_the_listing_to_the_next(
    client: Client,
) -> None:
    """The listing is the session's: a response cancelled while it waits for it does not cancel it."""

    accepted: list[asyncio.StreamWriter] = []

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # and never answers

    listener = await asyncio.start_server(silent, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{listener.sockets[0].getsockname()[1]}/mcp"
    tools = [mcp_tool(url, "silent")]
    response = {"modalities": ["text"], "max_output_tokens": 4, "tools": tools, "tool_choice": "none"}
    try:
        for _ in range(2):
            await client.send({"type": "response.create", "response": response})
            await client.until("response.created")
            await client.send({"type": "response.cancel"})
            done = (await client.until("response.done"))[-1]
            assert done["response"]["status"] == "cancelled", done
    finally:
        listener.close()
        for writer in accepted:
            writer.close()


async def test_refused_then_approved_calls(client: Client, weather: MCPProcess) -> None:
    await configure(client, mcp_tool(weather.url, require_approval={"never": ["add"]}))

    events = await ask(client, "What is the weather in Paris?", "get_weather")
    events += await client.until("response.output_item.done")
    request = events[-1]["item"]
    assert request["type"] == "mcp_approval_request" and request["name"] == "get_weather"
    assert json.loads(request["arguments"])["city"].lower() == "paris"
    assert of_types(events, "response.mcp_call.in_progress") == []
    answer = {"type": "mcp_approval_response", "approval_request_id": request["id"], "approve": False}
    await client.send({"type": "conversation.item.create", "item": {**answer, "reason": "not now"}})
    events = await client.until("response.done")
    assert events[0]["type"] == "conversation.item.created" and events[0]["item"]["approve"] is False
    assert of_types(events, *CALL_EVENTS[2:]) == []
    final = events[-1]["response"]
    assert final["status"] == "completed"
    assert [item["type"] for item in final["output"]] == ["mcp_approval_request", "message"]

    await client.send({"type": "conversation.item.create", "event_id": "again", "item": answer})
    error = await client.recv()
    assert error["error"]["event_id"] == "again" and "already been answered" in error["error"]["message"]
    await client.send({"type": "conversation.item.create", "item": {**answer, "approval_request_id": "mcpr_none"}})
    assert "mcpr_none" in (await client.recv())["error"]["message"]

    events = await ask(client, "What is the weather in Lyon?", "get_weather")
    request = (await client.until("response.output_item.done"))[-1]["item"]
    await client.send(
        {"type": "conversation.item.create", "item": {**answer, "approval_request_id": request["id"], "approve": True}}
    )
    events = await client.until("response.done")
    call = of_types(events, "response.output_item.done")[0]["item"]
    assert call["type"] == "mcp_call" and call["approval_request_id"] == request["id"]
    assert call["output"] == "It is 21 degrees and sunny in Lyon."
    assert [e["type"] for e in of_types(events, *CALL_EVENTS[4:])] == [
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
    ]
    assert [item["type"] for item in events[-1]["response"]["output"]] == [
        "mcp_approval_request",
        "mcp_call",
        "message",
    ]

    await ask(client, "What is 2 plus 3?", "add")  # never needs approval
    events = await client.until("response.done")
    call = of_types(events, "response.output_item.done")[0]["item"]
    assert call["type"] == "mcp_call" and call["output"] == "5" and call.get("approval_request_id") is None


async def test_an_unanswered_approval_times_out_and_a_waiting_response_can_be_cancelled(
    client: Client, weather: MCPProcess
) -> None:
    await configure(client, mcp_tool(weather.url, require_approval="always"))
    await ask(client, "What is the weather in Paris?", "get_weather")
    events = await client.until("response.done")  # the server's approval_timeout: 6 s
    kinds = [e["type"] for e in events]
    assert "response.mcp_call.in_progress" not in kinds and events[-1]["response"]["status"] == "completed"
    assert [item["type"] for item in events[-1]["response"]["output"]] == ["mcp_approval_request", "message"]

    await ask(client, "What is the weather in Rome?", "get_weather")
    request = (await client.until("response.output_item.done"))[-1]["item"]
    await client.send({"type": "response.cancel"})
    done = (await client.until("response.done"))[-1]["response"]
    assert done["status"] == "cancelled" and [item["type"] for item in done["output"]] == ["mcp_approval_request"]
    answer = {"type": "mcp_approval_response", "approval_request_id": request["id"], "approve": True}
    await client.send({"type": "conversation.item.create", "item": answer})
    assert (await client.recv())["item"]["approval_request_id"] == request["id"]  # kept, though nothing waits


async def test_a_server_that_dies_mid_call_and_one_that_is_too_slow_fail_the_call_not_the_response(
    client: Client, slow_weather: MCPProcess, tmp_path: Path
) -> None:
    await configure(client, mcp_tool(slow_weather.url, require_approval="never"))
    await ask(client, "What is the weather in Paris?", "get_weather")
    await client.until("response.mcp_call.in_progress")
    slow_weather.process.kill()
    events = await client.until("response.done")
    assert events[0]["type"] == "response.mcp_call.failed"
    call = events[1]["item"]
    assert events[1]["type"] == "response.output_item.done" and call.get("output") is None
    assert call["error"]["type"] == "protocol_error" and "closed" in call["error"]["message"]
    final = events[-1]["response"]
    assert final["status"] == "completed" and [i["type"] for i in final["output"]] == ["mcp_call", "message"]

    slow = start_mcp(tmp_path, "--slow", "60")
    try:
        await configure(client, mcp_tool(slow.url, "slow", require_approval="never"))
        await ask(client, "What is the weather in Rome?", "get_weather", "slow")
        events = await client.until("response.done")
    finally:
        slow.process.kill()
    failed = of_types(events, "response.mcp_call.failed")
    call = of_types(events, "response.output_item.done")[0]["item"]
    assert len(failed) == 1 and call["error"]["code"] == -32001 and "within 4 s" in call["error"]["message"]
    assert events[-1]["response"]["status"] == "completed"


# --- the client SDK ------------------------------------------------------------------------------


class MCPRecorder(SessionHandlers):
    """Records the MCP handlers that fire (and the first audio), and approves every request."""

    def __init__(self) -> None:
        self.fired: list[str] = []
        self.done: list[str] = []
        self.session: Any = None

    def on_mcp_list_tools_in_progress(self, event: ServerEvent, context: SessionContext) -> None:
        self.fired.append("list_in_progress")

    def on_mcp_list_tools_completed(self, event: ServerEvent, context: SessionContext) -> None:
        self.fired.append("list_completed")

    def on_response_mcp_call_arguments_delta(self, event: ServerEvent, context: SessionContext) -> None:
        self.fired.append("arguments_delta")

    def on_response_mcp_call_arguments_done(self, event: ServerEvent, context: SessionContext) -> None:
        self.fired.append("arguments_done")

    def on_response_mcp_call_in_progress(self, event: ServerEvent, context: SessionContext) -> None:
        self.fired.append("call_in_progress")

    def on_response_mcp_call_completed(self, event: ServerEvent, context: SessionContext) -> None:
        self.fired.append("call_completed")

    async def on_response_output_item_done(self, event: Any, context: SessionContext) -> None:
        if event.item.type == "mcp_approval_request":
            self.fired.append("approval_request")
            answer = {"type": "mcp_approval_response", "approval_request_id": event.item.id, "approve": True}
            await self.session.add_item(answer)

    def on_response_audio_delta(self, event: ServerEvent, context: SessionContext) -> None:
        if "audio" not in self.fired:
            self.fired.append("audio")

    def on_response_done(self, event: Any, context: SessionContext) -> None:
        self.done.append(event.response.status)


async def test_the_client_sdk_mcp_handlers_fire(server: Any, weather: MCPProcess) -> None:
    import asyncio

    recorder = MCPRecorder()
    session_config = {
        "modalities": ["text", "audio"],
        "turn_detection": None,
        "tools": [mcp_tool(weather.url, require_approval="always")],
        "tool_choice": {"type": "mcp", "server_label": "weather", "name": "get_weather"},
    }
    async with VoiceLiveClient(server.http).connect("m", handlers=recorder, session=session_config) as session:
        recorder.session = session
        await session.add_user_text("What is the weather in Paris?")
        await session.create_response()
        for _ in range(600):
            if recorder.done:
                break
            await asyncio.sleep(0.1)
    assert recorder.done == ["completed"]
    fired = recorder.fired
    assert fired[:2] == ["list_in_progress", "list_completed"]
    calls = ["approval_request", "arguments_delta", "arguments_done", "call_in_progress", "call_completed"]
    assert fired[2:] == [*calls, "audio"]  # the spoken answer, from the result


# --- the OpenAI SDK (GA dialect) -----------------------------------------------------------------


async def test_the_openai_sdk_lists_calls_and_approves_by_read_only_filter(server: Any, weather: MCPProcess) -> None:
    tool = mcp_tool(
        weather.url,
        require_approval={"never": {"read_only": True}},
        allowed_tools={"tool_names": ["get_weather", "add"]},
    )
    client = AsyncOpenAI(base_url=f"{server.http}/v1", api_key="any-key")
    async with client.realtime.connect(model="voxlive-local") as conn:
        session = {"type": "realtime", "output_modalities": ["text"], "audio": {"input": {"turn_detection": None}}}
        await conn.session.update(session={**session, "tools": [tool]})
        kinds, listed = [], None
        async for event in conn:
            kinds.append(event.type)
            if event.type == "conversation.item.added" and event.item.type == "mcp_list_tools":
                listed = event.item
            if event.type == "mcp_list_tools.completed":
                break
        assert kinds[-4:] == [
            "mcp_list_tools.in_progress",
            "conversation.item.added",
            "conversation.item.done",
            "mcp_list_tools.completed",
        ]
        assert listed is not None and {t.name for t in listed.tools} == {"get_weather", "add"}

        async def ask(text: str, name: str) -> list[Any]:
            user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
            await conn.conversation.item.create(item=user)
            await conn.response.create(
                response={"tool_choice": {"type": "mcp", "server_label": "weather", "name": name}}
            )
            events = []
            async for event in conn:
                events.append(event)
                if event.type == "response.output_item.done" and event.item.type == "mcp_approval_request":
                    answer = {"type": "mcp_approval_response", "approval_request_id": event.item.id, "approve": True}
                    await conn.conversation.item.create(item=answer)
                if event.type == "response.done":
                    return events
            raise AssertionError("the connection closed")

        events = await ask("What is the weather in Paris?", "get_weather")  # read-only: no approval
        kinds = [e.type for e in events]
        assert "response.mcp_call_arguments.delta" in kinds and "response.mcp_call_arguments.done" in kinds
        assert kinds.index("response.mcp_call.in_progress") < kinds.index("response.mcp_call.completed")
        output = events[-1].response.output
        assert [item.type for item in output] == ["mcp_call", "message"]
        assert output[0].output == "It is 21 degrees and sunny in Paris."

        events = await ask("What is 2 plus 3?", "add")  # not read-only: approved first
        output = events[-1].response.output
        assert [item.type for item in output][:2] == ["mcp_approval_request", "mcp_call"]
        assert output[1].approval_request_id == output[0].id and output[1].output == "5"
