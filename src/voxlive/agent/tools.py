"""Python functions as LLM tools: the JSON schema from type hints and the docstring."""

from __future__ import annotations

import asyncio
import inspect
import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, get_type_hints

from pydantic import BaseModel, ConfigDict, Field, create_model

_ARGS_HEADER = re.compile(r"^\s*(Args|Arguments|Parameters)\s*:\s*$", re.IGNORECASE)
_GOOGLE_ARG = re.compile(r"^\s+(\w+)\s*(?:\([^)]*\))?\s*:\s*(.+)$")
_SPHINX_ARG = re.compile(r"^\s*:param\s+(?:\w+\s+)?(\w+)\s*:\s*(.+)$")


@dataclass(frozen=True)
class Tool:
    """A function the model may call: its name, description, argument schema and the function itself."""

    name: str
    description: str
    arguments: type[BaseModel]
    function: Callable[..., Any]

    @classmethod
    def from_function(cls, function: Callable[..., Any], name: str | None = None) -> Tool:
        """Describe ``function`` (sync or async): each parameter's type hint and default become its schema, the
        docstring's first paragraph the description, its ``Args:`` (or ``:param x:``) lines the parameters'."""
        doc = inspect.getdoc(function) or ""
        summary, arg_docs = _parse_docstring(doc)
        hints = get_type_hints(function)
        fields: dict[str, Any] = {}
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                continue
            annotation = hints.get(parameter.name, Any)
            default = ... if parameter.default is parameter.empty else parameter.default
            fields[parameter.name] = (annotation, Field(default, description=arg_docs.get(parameter.name)))
        tool_name = name or function.__name__
        model = create_model(tool_name, __config__=ConfigDict(extra="forbid"), **fields)
        return cls(tool_name, summary, model, function)

    def schema(self) -> dict[str, Any]:
        """The tool in the chat-completions shape."""
        parameters = self.arguments.model_json_schema()
        parameters.pop("title", None)
        for field in parameters.get("properties", {}).values():
            field.pop("title", None)
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": parameters},
        }

    async def call(self, arguments: str | Mapping[str, Any]) -> Any:
        """Validate the model's arguments (JSON text or a mapping) and run the function; a sync one in a thread."""
        values = json.loads(arguments or "{}") if isinstance(arguments, str) else dict(arguments)
        validated = self.arguments.model_validate(values)
        kwargs = {name: getattr(validated, name) for name in type(validated).model_fields}
        if inspect.iscoroutinefunction(self.function):
            return await self.function(**kwargs)
        result = await asyncio.to_thread(self.function, **kwargs)
        return await result if inspect.isawaitable(result) else result


def tools_from(
    tools: Iterable[Callable[..., Any] | Tool] | Mapping[str, Callable[..., Any] | Tool] | None,
) -> dict[str, Tool]:
    """Tools by name, from functions, ``Tool``s, or a mapping of names to either."""
    if tools is None:
        return {}
    items = list(tools.items()) if isinstance(tools, Mapping) else [(None, fn) for fn in tools]
    out: dict[str, Tool] = {}
    for name, fn in items:
        tool = fn if isinstance(fn, Tool) else Tool.from_function(fn, name)
        out[tool.name] = tool
    return out


def _parse_docstring(doc: str) -> tuple[str, dict[str, str]]:
    """The first paragraph, and the parameter descriptions of a Google- or Sphinx-style docstring."""
    summary = doc.split("\n\n", 1)[0].strip().replace("\n", " ")
    described: dict[str, str] = {}
    in_args = False
    for line in doc.splitlines():
        if _ARGS_HEADER.match(line):
            in_args = True
            continue
        if sphinx := _SPHINX_ARG.match(line):
            described[sphinx.group(1)] = sphinx.group(2).strip()
        elif in_args and (google := _GOOGLE_ARG.match(line)):
            described[google.group(1)] = google.group(2).strip()
        elif in_args and line.strip() and not line.startswith((" ", "\t")):
            in_args = False
    if summary.startswith(":param") or _ARGS_HEADER.match(summary):
        summary = ""
    return summary, described
