"""``ToolCalls``: the function and MCP tool calls of a response, as the model writes them; MCP calls made."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from ..protocol import (
    FunctionCallItem,
    MCPApprovalRequestItem,
    MCPApprovalResponseItem,
    MCPCallItem,
    ServerEvent,
    ServerEventResponseFunctionCallArgumentsDelta,
    ServerEventResponseFunctionCallArgumentsDone,
    ServerEventResponseMcpCallArgumentsDelta,
    ServerEventResponseMcpCallArgumentsDone,
    ServerEventResponseMcpCallCompleted,
    ServerEventResponseMcpCallFailed,
    ServerEventResponseMcpCallInProgress,
    new_id,
)
from ..speech.llm import ToolCallDelta, ToolCallDone, ToolCallStarted
from ..tools.mcp_client import INVALID_PARAMS, MCPFailure
from .mcp_servers import MCPTool
from .response_output import ResponseOutput
from .response_plan import ResponsePlan


class ToolCalls:
    """Turns the model's tool calls into output items: a function call for the client to answer, or an MCP call
    that ``call_mcp_tools`` makes (after the client's approval, when the tool needs it)."""

    def __init__(self, plan: ResponsePlan, output: ResponseOutput, send: Callable[[ServerEvent], None]) -> None:
        self.plan = plan
        self.output = output
        self.send = send
        self.mcp_tools: dict[str, MCPTool] = {}
        """The MCP tools the response offers, by name."""
        self.made = 0
        """The MCP calls made so far."""
        self.answers: list[MCPApprovalResponseItem] = []
        """The client's answers to this step's approval requests."""
        self.function_called = False
        self._calls: dict[int, FunctionCallItem | MCPCallItem] = {}
        """The tool calls the LLM is writing, by their index in its reply."""
        self._pending: list[tuple[MCPTool, str, MCPCallItem | None]] = []
        """The MCP calls of the reply being streamed: the tool, its arguments, its item (none before approval)."""

    def started(self, event: ToolCallStarted) -> None:
        tool = self.mcp_tools.get(event.name)
        if tool is not None and tool.needs_approval:
            return  # approval is asked once the arguments are complete
        item: FunctionCallItem | MCPCallItem
        if tool is not None:
            item = _mcp_call_item(tool)
        else:
            item = FunctionCallItem(
                id=new_id("item"),
                object="realtime.item",
                name=event.name,
                call_id=event.call_id,
                arguments="",
                status="in_progress",
            )
            self.function_called = True
        self._calls[event.index] = item
        self.output.add(item)

    def delta(self, event: ToolCallDelta) -> None:
        item = self._calls.get(event.index)
        if item is not None:  # (a call waiting for approval shows its arguments in the request)
            item.arguments += event.arguments
            self._arguments_delta(item, event.arguments)

    def _arguments_delta(self, item: FunctionCallItem | MCPCallItem, delta: str) -> None:
        where = self.output.item_where(item)
        if isinstance(item, MCPCallItem):
            self.send(ServerEventResponseMcpCallArgumentsDelta(**where, delta=delta))
        else:
            self.send(ServerEventResponseFunctionCallArgumentsDelta(**where, call_id=item.call_id, delta=delta))

    def done(self, event: ToolCallDone) -> None:
        item = self._calls.pop(event.index, None)
        tool = self.mcp_tools.get(event.name)
        if tool is not None:
            self._pending.append((tool, event.arguments, item if isinstance(item, MCPCallItem) else None))
            if isinstance(item, MCPCallItem):
                self._mcp_arguments_done(item, event.arguments)
            return
        assert isinstance(item, FunctionCallItem)
        item.arguments = event.arguments
        item.status = "completed"
        self.send(
            ServerEventResponseFunctionCallArgumentsDone(
                **self.output.item_where(item), call_id=item.call_id, name=item.name, arguments=item.arguments
            )
        )
        self.output.done(item)

    def _mcp_arguments_done(self, item: MCPCallItem, arguments: str) -> None:
        item.arguments = arguments
        self.send(ServerEventResponseMcpCallArgumentsDone(**self.output.item_where(item), arguments=arguments))

    def clear(self) -> None:
        """Forget the calls being written (the response ended)."""
        self._calls.clear()

    async def call_mcp_tools(self) -> bool:
        """Make the MCP calls of the reply just streamed; whether the model goes on from their results (it
        does not when it also called a function, whose output only the client can give)."""
        pending, self._pending = self._pending, []
        for tool, arguments, item in pending:
            await self._call_mcp_tool(tool, arguments, item)
        return bool(pending) and not self.function_called

    async def _call_mcp_tool(self, tool: MCPTool, arguments: str, item: MCPCallItem | None) -> None:
        """Ask for approval when the tool needs it, then call it: ``in_progress``, then ``completed`` with the
        output in the item, or ``failed`` with the error."""
        if item is None:
            item = await self._approved_call(tool, arguments)
            if item is None:
                return  # the model reads that the call was not made
        where = {"item_id": item.id or "", "output_index": self.output.response.output.index(item)}
        self.send(ServerEventResponseMcpCallInProgress(**where))
        self.made += 1
        try:
            item.output = await tool.client.call_tool(tool.name, _json_object(arguments))
            self.send(ServerEventResponseMcpCallCompleted(**where))
        except MCPFailure as exc:
            item.error = exc.error
            self.send(ServerEventResponseMcpCallFailed(**where))
        self.output.done(item)

    async def _approved_call(self, tool: MCPTool, arguments: str) -> MCPCallItem | None:
        """Ask the client to approve a call; its item once approved, ``None`` if it was not."""
        request = MCPApprovalRequestItem(
            id=new_id("mcpr"),
            object="realtime.item",
            server_label=tool.server.server_label,
            name=tool.name,
            arguments=arguments,
        )
        self.output.add(request)
        self.output.done(request)
        assert request.id is not None
        approval = await self.plan.approvals.wait(request.id, self.plan.approval_timeout)
        if approval is not None:
            self.answers.append(
                MCPApprovalResponseItem(
                    approval_request_id=request.id, approve=approval.approve, reason=approval.reason
                )
            )
        if approval is None or not approval.approve:
            return None
        item = _mcp_call_item(tool)
        item.approval_request_id = request.id
        self.output.add(item)
        self._arguments_delta(item, arguments)
        self._mcp_arguments_done(item, arguments)
        return item


def _mcp_call_item(tool: MCPTool) -> MCPCallItem:
    return MCPCallItem(id=new_id("item"), object="realtime.item", server_label=tool.server.server_label, name=tool.name)


def _json_object(arguments: str) -> dict[str, Any]:
    """A call's arguments as the object they must be."""
    try:
        parsed = json.loads(arguments or "{}")
    except ValueError as exc:
        raise MCPFailure(f"The arguments are not valid JSON: {exc}.", code=INVALID_PARAMS) from None
    if not isinstance(parsed, dict):
        raise MCPFailure("The arguments are not a JSON object.", code=INVALID_PARAMS)
    return parsed
