"""The tools a session or a response offers the model, and the ``tool_choice`` rules over them."""

from __future__ import annotations

import json
from typing import Any

from jsonschema.exceptions import best_match
from jsonschema.validators import Draft202012Validator, validator_for

from ..protocol import (
    FunctionTool,
    MCPServer,
    ProtocolError,
    RequestSession,
    ResponseCreateParams,
    ToolChoiceFunctionSelection,
    ToolChoiceMCPSelection,
)
from .mcp_servers import MCPTool

MAX_TOOLS_JSON = 64 * 1024
"""The most JSON a session's (or a response's) function tools may take: the model reads them with every prompt."""
CHOICE_MODES = ("auto", "none", "required")


def check_tools(config: RequestSession | ResponseCreateParams, scope: str, current: list[Any] | None) -> None:
    """The tools are distinct, their parameters JSON schemas of objects, their JSON at most ``MAX_TOOLS_JSON``
    bytes, and ``tool_choice`` names one of them (or of the ``current`` ones, when the request does not set them)."""
    functions = [(i, t) for i, t in enumerate(config.tools or []) if isinstance(t, FunctionTool)]
    for index, tool in functions:
        if tool.parameters:
            check_parameters(tool.parameters, f"{scope}.tools[{index}].parameters")
    size = len(json.dumps([tool.to_dict() for _, tool in functions]))
    if size > MAX_TOOLS_JSON:
        raise ProtocolError(
            f"The function tools take {size} bytes of JSON; the limit is {MAX_TOOLS_JSON}.",
            code="invalid_value",
            param=f"{scope}.tools",
        )
    tools = config.tools if config.tools is not None else current or []
    names = [t.name for t in tools if isinstance(t, FunctionTool)]
    for name in names:
        if names.count(name) > 1:
            raise ProtocolError(f"Duplicate tool name '{name}'.", code="invalid_value", param=f"{scope}.tools")
    choice = config.tool_choice
    labels = [server.server_label for server in mcp_servers(tools)]
    if isinstance(choice, ToolChoiceMCPSelection) and choice.server_label not in labels:
        raise ProtocolError(
            f"tool_choice names the MCP server '{choice.server_label}', which is not among the tools.",
            code="invalid_value",
            param=f"{scope}.tool_choice",
        )
    check_function_choice(function_named(choice), names, None if labels else {}, f"{scope}.tool_choice")


def check_parameters(schema: dict[str, Any], param: str) -> None:
    """A function's parameters are a JSON schema (valid by the JSON Schema meta-schema) of an object."""
    if schema.get("type") != "object":
        problem = 'the parameters of a function must be a JSON schema with "type": "object"'
    elif not isinstance(schema.get("$schema", ""), str):
        problem = "$schema must be the URI of a JSON Schema dialect"
    else:
        validator = validator_for(schema, default=Draft202012Validator)
        error = best_match(validator(validator.META_SCHEMA).iter_errors(schema))
        problem = "" if error is None else f"not a valid JSON schema at {error.json_path}: {error.message:.200}"
    if problem:
        raise ProtocolError(f"Invalid value for '{param}': {problem}.", code="invalid_value", param=param)


def mcp_servers(tools: list[Any] | None) -> list[MCPServer]:
    return [tool for tool in tools or [] if isinstance(tool, MCPServer)]


def function_named(choice: Any) -> str | None:
    """The function a ``tool_choice`` names, if it names one (a response's may name it as a bare string)."""
    if isinstance(choice, ToolChoiceFunctionSelection):
        return choice.name
    if isinstance(choice, str) and choice not in CHOICE_MODES:
        return choice
    return None


def check_function_choice(name: str | None, functions: list[str], mcp: dict[str, MCPTool] | None, param: str) -> None:
    """A ``tool_choice`` naming a function names one of the function tools or of the MCP tools (``mcp`` is
    ``None`` while those are still being listed: the name is then not checked yet)."""
    if name is not None and name not in functions and mcp is not None and name not in mcp:
        raise ProtocolError(
            f"tool_choice names the function '{name}', which is not among the tools.",
            code="invalid_value",
            param=param,
        )


def offered_tools(
    functions: list[FunctionTool], mcp: dict[str, MCPTool] | None, choice: Any
) -> tuple[list[dict[str, Any]], dict[str, MCPTool], str | dict[str, Any]]:
    """What the model is offered: the tools in the chat-completions shape, the MCP tools among them by name (a
    function of the same name wins), and the ``tool_choice``. ``mcp`` is ``None`` while the MCP tools are
    still being listed; a choice naming one of them is then not checked yet."""
    names = [tool.name for tool in functions]
    offered = {name: tool for name, tool in (mcp or {}).items() if name not in names}
    schemas = [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description or "",
                "parameters": tool.parameters or {"type": "object", "properties": {}},
            },
        }
        for tool in functions
    ]
    schemas += [tool.llm_tool() for tool in offered.values()]
    return schemas, offered, llm_tool_choice(choice, names, None if mcp is None else offered)


def llm_tool_choice(choice: Any, functions: list[str], mcp: dict[str, MCPTool] | None) -> str | dict[str, Any]:
    """A session/response ``tool_choice`` in the chat-completions shape; an MCP server without a tool name
    means any of that server's tools (``allowed_tools``, required)."""
    if isinstance(choice, ToolChoiceMCPSelection):
        return _mcp_choice(choice, mcp)
    if choice in CHOICE_MODES:
        return str(choice)
    name = function_named(choice)
    if name is None:
        return "auto"
    check_function_choice(name, functions, mcp, "tool_choice")
    return {"type": "function", "function": {"name": name}}


def _mcp_choice(choice: ToolChoiceMCPSelection, mcp: dict[str, MCPTool] | None) -> str | dict[str, Any]:
    """One MCP tool by name, or any of an MCP server's tools (``required`` while they are being listed)."""
    if mcp is None:
        return "required"
    label = choice.server_label
    tools = [name for name, tool in mcp.items() if tool.server.server_label == label]
    if choice.name is not None and choice.name not in tools:
        raise ProtocolError(
            f"tool_choice names the tool '{choice.name}', which MCP server '{label}' does not offer.",
            code="invalid_value",
            param="tool_choice",
        )
    if choice.name is not None:
        return {"type": "function", "function": {"name": choice.name}}
    if not tools:
        raise ProtocolError(f"MCP server '{label}' offers no tools.", code="invalid_value", param="tool_choice")
    allowed = [{"type": "function", "function": {"name": name}} for name in tools]
    return {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": allowed}}
