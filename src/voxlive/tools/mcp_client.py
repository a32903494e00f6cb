"""``MCPClient``: one connection to an MCP server through the official SDK, kept open across calls."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx2
from mcp import Client, MCPError, StdioServerParameters, stdio_client
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.types import CONNECTION_CLOSED, INVALID_PARAMS, REQUEST_TIMEOUT, CallToolResult, TextContent, Tool

from .hosts import CheckedTransport, HostPolicy

log = logging.getLogger(__name__)

__all__ = ["INVALID_PARAMS", "UNREACHABLE", "MCPClient", "MCPEndpoint", "MCPFailure", "result_text"]

UNREACHABLE = (
    "Could not connect to the MCP server: it is unreachable, is not an MCP server, "
    "or is at an address this server does not allow."
)
"""What a session is told of any failure to connect: the same words whatever the cause (a refused address, a closed
port, a 404, a timeout), so that a session cannot probe the network behind the server. The cause is logged."""


class MCPFailure(Exception):
    """A connection, listing or call that failed; ``error`` is its description in the protocol's shape:
    ``{"type": "protocol_error" | "tool_execution_error" | "http_error", "code"?: int, "message": str}``."""

    def __init__(self, message: str, kind: str = "protocol_error", code: int | None = CONNECTION_CLOSED) -> None:
        super().__init__(message)
        self.error: dict[str, Any] = {"type": kind, "message": message}
        if code is not None:
            self.error["code"] = code


@dataclass(frozen=True, slots=True)
class MCPEndpoint:
    """Where an MCP server is: a URL (streamable HTTP, or SSE for older servers), or a local command (stdio)."""

    url: str
    headers: tuple[tuple[str, str], ...] = ()
    command: tuple[str, ...] = ()
    """For a stdio server: the command line the server's configuration permits for ``url`` ``stdio:NAME``."""


class MCPClient:
    """A session's connection to one MCP server.

    The SDK's transports are bound to the task that opens them, so a task of its own holds the connection
    open; calls from any task share it. It connects on first use, and again after the server went away.
    A call fails (``MCPFailure``) when it takes longer than ``call_timeout`` or the connection drops under
    it: nothing waits on a dead server. Over HTTP, it connects only to the hosts ``hosts`` permits.
    """

    def __init__(
        self,
        endpoint: MCPEndpoint,
        *,
        connect_timeout: float = 10.0,
        call_timeout: float = 60.0,
        hosts: HostPolicy | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.hosts = hosts or HostPolicy()
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self._holder: asyncio.Task[None] | None = None
        self._client: asyncio.Future[Client] | None = None
        self._stop = asyncio.Event()
        self._lost: asyncio.Event = asyncio.Event()
        self._reason = ""

    async def list_tools(self) -> list[Tool]:
        client = await self._connected()
        tools: list[Tool] = []
        cursor: str | None = None
        while True:
            page = await self._bounded(client.list_tools(cursor=cursor), self.connect_timeout, "list its tools")
            tools += page.tools
            cursor = page.next_cursor
            if cursor is None:
                return tools

    async def call_tool(self, name: str, arguments: dict[str, Any]) -> str:
        """The tool's output as text; ``MCPFailure`` when the tool reports an error or the call fails."""
        client = await self._connected()
        result = await self._bounded(client.call_tool(name, arguments), self.call_timeout, f"run '{name}'")
        output = result_text(result)
        if result.is_error:
            raise MCPFailure(output or f"The tool '{name}' failed.", "tool_execution_error", None)
        return output

    async def close(self) -> None:
        self._stop.set()
        holder, self._holder = self._holder, None
        if holder is not None:
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(holder, self.connect_timeout)

    # -- the connection --------------------------------------------------------------------------

    async def _connected(self) -> Client:
        if self._holder is None or self._holder.done():
            self._client = asyncio.get_running_loop().create_future()
            self._client.add_done_callback(lambda f: f.cancelled() or f.exception())  # seen by any caller, or none
            self._lost = asyncio.Event()
            self._stop = asyncio.Event()
            self._reason = ""
            self._holder = asyncio.create_task(self._hold(self._client, self._lost, self._stop), name="mcp connection")
        assert self._client is not None
        try:
            return await asyncio.wait_for(asyncio.shield(self._client), self.connect_timeout)
        except TimeoutError:
            await self.close()
            log.info("The MCP server at %s did not answer within %g s.", self.endpoint.url, self.connect_timeout)
            raise MCPFailure(UNREACHABLE) from None

    async def _hold(self, ready: asyncio.Future[Client], lost: asyncio.Event, stop: asyncio.Event) -> None:
        """Open the connection and keep it until ``close()`` or until it breaks. A server that answers the
        streamable HTTP handshake with an error is tried over SSE (older servers)."""
        reasons: list[str] = []
        try:
            for transport in self._transports():
                try:
                    async with Client(transport) as client:
                        ready.set_result(client)
                        await stop.wait()
                        return
                except Exception as exc:
                    reasons.append(_describe(exc))
                    if ready.done() or not isinstance(_root(exc), MCPError):
                        break  # lost after connecting, or nothing answered: no other transport will do better
        finally:
            self._reason = "; over SSE: ".join(reasons) or "the connection was closed"
            if not ready.done():
                log.info("Could not connect to the MCP server at %s: %s", self.endpoint.url, self._reason)
                ready.set_exception(MCPFailure(UNREACHABLE))
            elif reasons:
                log.info("MCP connection to %s ended: %s", self.endpoint.url, self._reason)
            lost.set()

    def _transports(self) -> list[AbstractAsyncContextManager[Any]]:
        endpoint = self.endpoint
        headers = dict(endpoint.headers)
        if endpoint.command:
            command, *args = endpoint.command
            return [stdio_client(StdioServerParameters(command=command, args=args))]
        sse = sse_client(endpoint.url, headers=headers, timeout=self.connect_timeout, httpx_client_factory=self._http)
        if endpoint.url.rstrip("/").endswith("/sse"):
            return [sse]
        return [
            _streamable_http(endpoint.url, self._http(headers, httpx2.Timeout(self.connect_timeout, read=300.0))),
            sse,
        ]

    def _http(
        self,
        headers: dict[str, str] | None = None,
        timeout: httpx2.Timeout | None = None,
        auth: httpx2.Auth | None = None,
    ) -> httpx2.AsyncClient:
        """An HTTP client for the SDK's transports, that reaches only permitted hosts."""
        return httpx2.AsyncClient(headers=headers, timeout=timeout, auth=auth, transport=CheckedTransport(self.hosts))

    async def _bounded(self, call: Any, timeout: float, what: str) -> Any:
        """Await an SDK request, but no longer than ``timeout`` and not past the end of the connection."""
        lost = self._lost
        request = asyncio.ensure_future(call)
        watch = asyncio.ensure_future(lost.wait())
        try:
            done, _ = await asyncio.wait({request, watch}, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
        finally:
            watch.cancel()
            if not request.done():
                request.cancel()
                with contextlib.suppress(BaseException):
                    await request
        if request in done and not request.cancelled() and request.exception() is None:
            return request.result()
        if request in done and isinstance(request.exception(), MCPError):
            error = request.exception()
            assert isinstance(error, MCPError)
            raise MCPFailure(f"The MCP server could not {what}: {error.message}", code=error.code)
        if lost.is_set() or request in done:
            reason = self._reason or _describe(request.exception() if request in done else None)
            raise MCPFailure(f"The connection to the MCP server closed while trying to {what}: {reason}")
        raise MCPFailure(f"The MCP server did not {what} within {timeout:g} s.", code=REQUEST_TIMEOUT)


@asynccontextmanager
async def _streamable_http(url: str, http: httpx2.AsyncClient) -> AsyncIterator[Any]:
    async with http, streamable_http_client(url, http_client=http) as streams:
        yield streams


def result_text(result: CallToolResult) -> str:
    """A call's result as the text the model reads: its text parts, else its structured content as JSON."""
    texts = [part.text for part in result.content if isinstance(part, TextContent)]
    if texts:
        return "\n".join(texts)
    if result.structured_content is not None:
        return json.dumps(result.structured_content)
    kinds = ", ".join(part.type for part in result.content)
    return f"(content of type {kinds})" if kinds else ""


def _root(exc: BaseException | None) -> BaseException | None:
    """The first real error inside (nested) exception groups."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return exc


def _describe(exc: BaseException | None) -> str:
    exc = _root(exc)
    if exc is None or isinstance(exc, asyncio.CancelledError):
        return "the connection was closed"
    text = exc.message if isinstance(exc, MCPError) else str(exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__
