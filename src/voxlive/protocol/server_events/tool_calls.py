"""Server events about the tools a response calls: functions, MCP servers (their tools listed, then called), Foundry
agents, web and file search."""

from __future__ import annotations

from typing import Literal

from .base import ServerEvent


class _ItemEvent(ServerEvent):
    """An event about one output item of a response."""

    response_id: str
    item_id: str
    output_index: int


class ServerEventResponseFunctionCallArgumentsDelta(_ItemEvent):
    type: Literal["response.function_call_arguments.delta"] = "response.function_call_arguments.delta"
    call_id: str
    delta: str


class ServerEventResponseFunctionCallArgumentsDone(_ItemEvent):
    type: Literal["response.function_call_arguments.done"] = "response.function_call_arguments.done"
    call_id: str
    arguments: str
    name: str


class ServerEventMcpListToolsInProgress(ServerEvent):
    type: Literal["mcp_list_tools.in_progress"] = "mcp_list_tools.in_progress"
    item_id: str


class ServerEventMcpListToolsCompleted(ServerEvent):
    type: Literal["mcp_list_tools.completed"] = "mcp_list_tools.completed"
    item_id: str


class ServerEventMcpListToolsFailed(ServerEvent):
    type: Literal["mcp_list_tools.failed"] = "mcp_list_tools.failed"
    item_id: str


class ServerEventResponseMcpCallArgumentsDelta(_ItemEvent):
    type: Literal["response.mcp_call_arguments.delta"] = "response.mcp_call_arguments.delta"
    delta: str
    obfuscation: str | None = None


class ServerEventResponseMcpCallArgumentsDone(_ItemEvent):
    type: Literal["response.mcp_call_arguments.done"] = "response.mcp_call_arguments.done"
    arguments: str | None = None


class ServerEventResponseMcpCallInProgress(ServerEvent):
    type: Literal["response.mcp_call.in_progress"] = "response.mcp_call.in_progress"
    item_id: str
    output_index: int


class ServerEventResponseMcpCallCompleted(ServerEvent):
    type: Literal["response.mcp_call.completed"] = "response.mcp_call.completed"
    item_id: str
    output_index: int


class ServerEventResponseMcpCallFailed(ServerEvent):
    type: Literal["response.mcp_call.failed"] = "response.mcp_call.failed"
    item_id: str
    output_index: int


class ServerEventResponseFoundryAgentCallArgumentsDelta(_ItemEvent):
    type: Literal["response.foundry_agent_call_arguments.delta"] = "response.foundry_agent_call_arguments.delta"
    delta: str


class ServerEventResponseFoundryAgentCallArgumentsDone(_ItemEvent):
    type: Literal["response.foundry_agent_call_arguments.done"] = "response.foundry_agent_call_arguments.done"
    arguments: str | None = None


class ServerEventResponseFoundryAgentCallInProgress(ServerEvent):
    type: Literal["response.foundry_agent_call.in_progress"] = "response.foundry_agent_call.in_progress"
    item_id: str
    output_index: int
    agent_response_id: str | None = None


class ServerEventResponseFoundryAgentCallCompleted(ServerEvent):
    type: Literal["response.foundry_agent_call.completed"] = "response.foundry_agent_call.completed"
    item_id: str
    output_index: int


class ServerEventResponseFoundryAgentCallFailed(ServerEvent):
    type: Literal["response.foundry_agent_call.failed"] = "response.foundry_agent_call.failed"
    item_id: str
    output_index: int


class _SearchCallEvent(_ItemEvent):
    sequence_number: int


class ServerEventResponseWebSearchCallInProgress(_SearchCallEvent):
    type: Literal["response.web_search_call.in_progress"] = "response.web_search_call.in_progress"


class ServerEventResponseWebSearchCallSearching(_SearchCallEvent):
    type: Literal["response.web_search_call.searching"] = "response.web_search_call.searching"


class ServerEventResponseWebSearchCallCompleted(_SearchCallEvent):
    type: Literal["response.web_search_call.completed"] = "response.web_search_call.completed"


class ServerEventResponseFileSearchCallInProgress(_SearchCallEvent):
    type: Literal["response.file_search_call.in_progress"] = "response.file_search_call.in_progress"


class ServerEventResponseFileSearchCallSearching(_SearchCallEvent):
    type: Literal["response.file_search_call.searching"] = "response.file_search_call.searching"


class ServerEventResponseFileSearchCallCompleted(_SearchCallEvent):
    type: Literal["response.file_search_call.completed"] = "response.file_search_call.completed"


EVENTS: tuple[type[ServerEvent], ...] = (
    ServerEventResponseFunctionCallArgumentsDelta,
    ServerEventResponseFunctionCallArgumentsDone,
    ServerEventMcpListToolsInProgress,
    ServerEventMcpListToolsCompleted,
    ServerEventMcpListToolsFailed,
    ServerEventResponseMcpCallArgumentsDelta,
    ServerEventResponseMcpCallArgumentsDone,
    ServerEventResponseMcpCallInProgress,
    ServerEventResponseMcpCallCompleted,
    ServerEventResponseMcpCallFailed,
    ServerEventResponseFoundryAgentCallArgumentsDelta,
    ServerEventResponseFoundryAgentCallArgumentsDone,
    ServerEventResponseFoundryAgentCallInProgress,
    ServerEventResponseFoundryAgentCallCompleted,
    ServerEventResponseFoundryAgentCallFailed,
    ServerEventResponseWebSearchCallInProgress,
    ServerEventResponseWebSearchCallSearching,
    ServerEventResponseWebSearchCallCompleted,
    ServerEventResponseFileSearchCallInProgress,
    ServerEventResponseFileSearchCallSearching,
    ServerEventResponseFileSearchCallCompleted,
)
"""The events of this family, in the order ``SERVER_EVENTS`` lists them."""
