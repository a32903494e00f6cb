"""``MCPServers``: the MCP servers a session's tools name: their connections, listings and tools."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mcp.types import Tool

from ..config import MCPSettings
from ..protocol import (
    ErrorDetails,
    MCPApprovalFilter,
    MCPListToolsItem,
    MCPServer,
    MCPToolFilter,
    MCPToolInfo,
    ProtocolError,
    ServerEvent,
    ServerEventConversationItemCreated,
    ServerEventError,
    ServerEventMcpListToolsCompleted,
    ServerEventMcpListToolsFailed,
    ServerEventMcpListToolsInProgress,
    new_id,
)
from ..tools.approvals import Approvals
from ..tools.hosts import HostPolicy
from ..tools.mcp_client import MCPClient, MCPEndpoint, MCPFailure
from .conversation import Conversation
from .tasks import log_failure

STDIO = "stdio:"


@dataclass(frozen=True, slots=True)
class MCPTool:
    """A tool an MCP server offers, as a session's configuration of that server lets the model use it."""

    server: MCPServer
    tool: Tool
    client: MCPClient

    @property
    def name(self) -> str:
        return self.tool.name

    @property
    def needs_approval(self) -> bool:
        """``require_approval``: ``never``, ``always`` (the default), or per tool (a tool only ``never`` takes in
        does not need it; every other tool does)."""
        policy = self.server.require_approval or "always"
        if isinstance(policy, MCPApprovalFilter):
            return chooses(policy.always, self.tool) or not chooses(policy.never, self.tool)
        return policy == "always"

    def llm_tool(self) -> dict[str, Any]:
        """The tool in the chat-completions shape the model reads."""
        description = self.tool.description or self.tool.title or ""
        return {
            "type": "function",
            "function": {"name": self.name, "description": description, "parameters": self.tool.input_schema},
        }


@dataclass
class _Listing:
    server: MCPServer
    task: asyncio.Task[list[MCPTool]]


class MCPServers:
    """Connects to the MCP servers of a session's (or a response's) tools and lists their tools.

    Each server configuration is listed once, as an ``mcp_list_tools`` item announced by
    ``mcp_list_tools.in_progress`` and ``.completed`` (or ``.failed`` and an ``error`` event saying why).
    Connections are shared by every configuration naming the same server, kept across turns, and
    closed with the session (or once no configuration names their server any more).
    """

    def __init__(self, settings: MCPSettings, conversation: Conversation, send: Callable[[ServerEvent], None]) -> None:
        self.settings = settings
        self.conversation = conversation
        self.send = send
        self.approvals = Approvals()
        self._clients: dict[MCPEndpoint, MCPClient] = {}
        self._listings: dict[str, _Listing] = {}
        self._hosts = HostPolicy(settings.allow_private, settings.allowed_hosts)

    def check(self, servers: Iterable[MCPServer], param: str) -> None:
        """Refuse configurations that cannot be served: a repeated label, an unknown scheme, a command not allowed."""
        labels = [server.server_label for server in servers]
        for server in servers:
            if labels.count(server.server_label) > 1:
                raise ProtocolError(
                    f"Duplicate MCP server_label '{server.server_label}'.", code="invalid_value", param=param
                )
            self.endpoint(server, param)

    def endpoint(self, server: MCPServer, param: str = "tools") -> MCPEndpoint:
        url = server.server_url
        headers = dict(server.headers or {})
        if server.authorization:
            scheme = "" if " " in server.authorization.strip() else "Bearer "
            headers["Authorization"] = scheme + server.authorization.strip()
        if url.startswith(STDIO):
            command = self.settings.stdio_commands.get(url[len(STDIO) :])
            if command is None:
                raise ProtocolError(
                    f"This server does not permit the local MCP command '{url}'; it allows: "
                    f"{', '.join(STDIO + name for name in self.settings.stdio_commands) or 'none'}.",
                    code="invalid_value",
                    param=param,
                )
            return MCPEndpoint(url, command=tuple(command))
        if not url.startswith(("http://", "https://")):
            raise ProtocolError(
                f"MCP server_url '{url}' must be an http(s) URL or a permitted 'stdio:' command.",
                code="invalid_value",
                param=param,
            )
        return MCPEndpoint(url, tuple(sorted(headers.items())))

    def configure(self, servers: list[MCPServer]) -> None:
        """Make these the session's servers: list each configuration not listed yet, let go of the others (a
        listing under way finishes for whoever waits on it) and of connections no configuration names."""
        for server in servers:
            self._start(server)
        keep = {_listing_key(server) for server in servers}
        for key in [key for key in self._listings if key not in keep]:
            del self._listings[key]
        named = {self.endpoint(listing.server) for listing in self._listings.values()}
        for endpoint in [endpoint for endpoint in self._clients if endpoint not in named]:
            asyncio.ensure_future(self._clients.pop(endpoint).close()).add_done_callback(log_failure)

    def tools_now(self, servers: list[MCPServer]) -> dict[str, MCPTool] | None:
        """The tools of these servers by name (the first server offering a name wins); ``None`` while any is
        still being listed."""
        listings = [self._listings.get(_listing_key(server)) for server in servers]
        if any(listing is None or not listing.task.done() for listing in listings):
            return None
        return _by_name(listing.task.result() for listing in listings if listing is not None)

    async def tools(self, servers: list[MCPServer]) -> dict[str, MCPTool]:
        """The tools of these servers, once each has been listed (a server that failed offers none). A waiter that
        is cancelled (its response is) leaves the listings, shared by the session, to go on."""
        listings = [self._start(server) for server in servers]
        return _by_name(await asyncio.gather(*(asyncio.shield(listing.task) for listing in listings)))

    async def close(self) -> None:
        for listing in self._listings.values():
            listing.task.cancel()
        self._listings.clear()
        clients, self._clients = list(self._clients.values()), {}
        await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)

    def _start(self, server: MCPServer) -> _Listing:
        key = _listing_key(server)
        listing = self._listings.get(key)
        if listing is None:
            task = asyncio.create_task(self._list(server, new_id("item")), name=f"mcp list {server.server_label}")
            listing = self._listings[key] = _Listing(server, task)
        return listing

    def _client(self, server: MCPServer) -> MCPClient:
        endpoint = self.endpoint(server)
        client = self._clients.get(endpoint)
        if client is None:
            settings = self.settings
            client = MCPClient(
                endpoint,
                connect_timeout=settings.connect_timeout,
                call_timeout=settings.call_timeout,
                hosts=self._hosts,
            )
            self._clients[endpoint] = client
        return client

    async def _list(self, server: MCPServer, item_id: str) -> list[MCPTool]:
        self.send(ServerEventMcpListToolsInProgress(item_id=item_id))
        client = self._client(server)
        try:
            listed = await client.list_tools()
        except MCPFailure as exc:
            self.send(ServerEventMcpListToolsFailed(item_id=item_id))
            message = f"Listing the tools of MCP server '{server.server_label}' failed: {exc}"
            self.send(ServerEventError(error=ErrorDetails(type="server_error", code="mcp_list_tools_failed",
                                                          message=message, param="tools")))  # fmt: skip
            return []
        allowed = server.allowed_tools
        tools = [MCPTool(server, tool, client) for tool in listed if allowed is None or chooses(allowed, tool)]
        item = MCPListToolsItem(
            id=item_id,
            object="realtime.item",
            server_label=server.server_label,
            tools=[
                MCPToolInfo(
                    name=tool.name,
                    input_schema=tool.tool.input_schema,
                    description=tool.tool.description,
                    annotations=tool.tool.annotations.model_dump(exclude_none=True) if tool.tool.annotations else None,
                )
                for tool in tools
            ],
        )
        with contextlib.suppress(ProtocolError):  # a full conversation still lets the tools be used
            previous = self.conversation.insert(item)
            self.send(ServerEventConversationItemCreated(previous_item_id=previous, item=item.model_copy(deep=True)))
        self.send(ServerEventMcpListToolsCompleted(item_id=item_id))
        return tools


def chooses(selection: list[str] | MCPToolFilter | None, tool: Tool) -> bool:
    """Whether a list of names, or a filter by names and the read-only hint, takes in this tool."""
    if selection is None:
        return False
    if isinstance(selection, list):
        return tool.name in selection
    read_only = bool(tool.annotations and tool.annotations.read_only_hint)
    names = selection.tool_names
    return (names is None or tool.name in names) and selection.read_only in (None, read_only)


def _by_name(listed: Iterable[list[MCPTool]]) -> dict[str, MCPTool]:
    tools: dict[str, MCPTool] = {}
    for server_tools in listed:
        for tool in server_tools:
            tools.setdefault(tool.name, tool)
    return tools


def _listing_key(server: MCPServer) -> str:
    """What a listing depends on: everything but the approval policy, which applies per call."""
    return server.model_dump_json(exclude={"require_approval"})
