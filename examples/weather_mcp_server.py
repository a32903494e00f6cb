"""An MCP server to point a session's ``mcp`` tool at, built with the official SDK: two tools, one read-only.

    python examples/weather_mcp_server.py PORT [streamable-http | sse | stdio] [--slow SECONDS] [--headers FILE]

Then, in a session: ``{"type": "mcp", "server_label": "weather", "server_url": "http://127.0.0.1:PORT/mcp"}``
(``/sse`` for SSE; voxlive's ``[mcp] allowed_hosts`` must name ``127.0.0.1``, as it refuses loopback addresses
otherwise; for stdio, name the command in the server's ``[mcp] stdio_commands``). ``--slow`` makes
``get_weather`` take that long (to see a call time out); ``--headers`` appends each HTTP request's
``authorization`` and ``x-*`` headers and its JSON-RPC method to FILE as a JSON line (to see what voxlive sends).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import uvicorn
from mcp.server.mcpserver import MCPServer
from mcp.types import ToolAnnotations

parser = argparse.ArgumentParser()
parser.add_argument("port", type=int)
parser.add_argument("transport", nargs="?", default="streamable-http")
parser.add_argument("--slow", type=float, default=0.0)
parser.add_argument("--headers")
options = parser.parse_args()

server = MCPServer("weather-and-sums")


@server.tool(annotations=ToolAnnotations(read_only_hint=True))
async def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    await asyncio.sleep(options.slow)
    return f"It is 21 degrees and sunny in {city}."


@server.tool()
def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


def recording(app: Any) -> Any:
    """The app, writing down each HTTP request: its headers and JSON-RPC method (or HTTP method)."""

    def write(entry: dict[str, Any]) -> None:
        with open(options.headers, "a") as log:
            log.write(json.dumps(entry) + "\n")

    async def asgi(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not options.headers:
            return await app(scope, receive, send)
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        seen = {k: v for k, v in headers.items() if k == "authorization" or k[:2] == "x-"}
        if scope["method"] != "POST":
            write({**seen, "method": scope["method"]})
            return await app(scope, receive, send)
        body = b""

        async def receive_and_write() -> Any:
            nonlocal body
            message = await receive()
            body += message.get("body", b"")
            if message["type"] == "http.request" and not message.get("more_body"):
                write({**seen, "method": json.loads(body or b"{}").get("method", "POST")})
            return message

        await app(scope, receive_and_write, send)

    return asgi


if options.transport == "stdio":
    server.run(transport="stdio")
else:
    app = server.sse_app() if options.transport == "sse" else server.streamable_http_app()
    uvicorn.run(recording(app), host="127.0.0.1", port=options.port, log_level="warning")
