"""Turning JSON text into typed events, with precise errors for bad input."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import ValidationError

from .client_events import CLIENT_EVENT, CLIENT_EVENTS, AnyClientEvent
from .server_events import SERVER_EVENTS, ServerEvent, UnknownServerEvent


class ProtocolError(Exception):
    """A client event that cannot be accepted: what is wrong, and where."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "invalid_request_error",
        param: str | None = None,
        event_id: str | None = None,
        type: str = "invalid_request_error",
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.param = param
        self.event_id = event_id
        self.type = type


MAX_JSON_DEPTH = 100
"""The deepest nesting of objects and arrays a message may have (a JSON schema of a tool needs far less)."""


def load_json_object(data: str | bytes) -> dict[str, Any]:
    """Decode one JSON object, or raise a ``ProtocolError`` saying why not."""
    try:
        obj = json.loads(data)
    except RecursionError:
        raise _too_deep() from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise ProtocolError(f"The message is not valid JSON: {exc}", code="invalid_json") from None
    _check_values(obj)
    if not isinstance(obj, dict):
        kind = {list: "an array", str: "a string", type(None): "null", bool: "a boolean"}.get(type(obj), "a number")
        raise ProtocolError(f"An event must be a JSON object, not {kind}.", code="invalid_event")
    return obj


def _too_deep(obj: Any = None) -> ProtocolError:
    message = f"The message nests objects or arrays deeper than {MAX_JSON_DEPTH} levels."
    return ProtocolError(message, code="invalid_json", event_id=_event_id(obj))


def _event_id(obj: Any) -> str | None:
    """The ``event_id`` of a decoded message, when it has one that is text."""
    event_id = obj.get("event_id") if isinstance(obj, dict) else None
    return event_id if isinstance(event_id, str) and _is_text(event_id) else None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _is_text(value: str) -> bool:
    """Whether a string is text: JSON's ``\\udXXX`` escapes can make lone UTF-16 surrogates, which are not
    characters and cannot be encoded (a session holding one could send nothing more)."""
    return value.isascii() or _SURROGATE.search(value) is None


def _check_values(value: Any) -> None:
    """Refuse objects and arrays nested deeper than ``MAX_JSON_DEPTH``, and strings (or keys) that are not text,
    naming where (without recursion)."""
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, str):
            if not _is_text(node):
                raise _not_text(value, path)
            continue
        if not isinstance(node, dict | list):
            continue
        if depth > MAX_JSON_DEPTH:
            raise _too_deep(value)
        if isinstance(node, list):
            stack.extend((child, depth + 1, f"{path}[{index}]") for index, child in enumerate(node))
            continue
        for key, child in node.items():
            if not _is_text(key):
                raise _not_text(value, path)
            stack.append((child, depth + 1, f"{path}.{key}" if path else key))


def _not_text(obj: Any, path: str) -> ProtocolError:
    """The error for a lone surrogate at ``path`` (the event's ``event_id`` kept when it is text)."""
    return ProtocolError(
        f"Invalid value for '{path or 'message'}': the text holds a lone UTF-16 surrogate (an escape such as "
        "\\udfff not part of a pair), which is not a character.",
        code="invalid_value",
        param=path or None,
        event_id=_event_id(obj),
    )


def _location(loc: tuple[int | str, ...], obj: Any, missing: bool) -> str:
    """The dotted path of a validation error in the input (``session.tools[0].name``).

    Parts of pydantic's location that are not keys of the input (union member labels) are skipped.
    """
    out = ""
    for index, part in enumerate(loc):
        if isinstance(obj, list) and isinstance(part, int) and part < len(obj):
            out += f"[{part}]"
            obj = obj[part]
        elif isinstance(obj, dict) and (part in obj or (missing and index == len(loc) - 1)):
            out += f".{part}" if out else str(part)
            obj = obj.get(part)
        elif not isinstance(obj, dict):
            break
    return out


def validation_error(exc: ValidationError, obj: Any, event_id: str | None) -> ProtocolError:
    """The first problem of a validation error, as a ``ProtocolError`` naming the field."""
    # In a union, the member that got furthest into the input tells what is really wrong.
    first = max(exc.errors(include_url=False), key=lambda error: len(error["loc"]))
    param = _location(first["loc"], obj, first["type"] == "missing")
    problem = first["msg"]
    if first["type"] == "missing":
        message = f"Missing required parameter: '{param}'."
        code = "missing_required_parameter"
    elif first["type"] == "union_tag_invalid":
        message = f"Invalid value for '{param}': {problem}."
        code = "invalid_value"
    else:
        message = f"Invalid value for '{param}': {problem} (got {first.get('input')!r:.80})."
        wrong_type = first["type"].endswith(("_type", "_parsing"))
        code = "invalid_type" if wrong_type else "invalid_value"
    return ProtocolError(message, code=code, param=param, event_id=event_id)


def parse_client_event(data: str | bytes | dict[str, Any]) -> AnyClientEvent:
    """A typed client event, or a ``ProtocolError`` that says which field is wrong and why."""
    obj = data if isinstance(data, dict) else load_json_object(data)
    event_id = obj.get("event_id") if isinstance(obj.get("event_id"), str) else None
    kind = obj.get("type")
    if not isinstance(kind, str):
        raise ProtocolError(
            "The event has no 'type' string.", code="missing_required_parameter", param="type", event_id=event_id
        )
    if kind not in CLIENT_EVENTS:
        raise ProtocolError(f"Unknown event type '{kind}'.", code="unknown_event_type", param="type", event_id=event_id)
    try:
        return CLIENT_EVENT.validate_python(obj)
    except ValidationError as exc:
        raise validation_error(exc, obj, event_id) from None


def parse_server_event(data: str | bytes | dict[str, Any]) -> ServerEvent:
    """A typed server event; an unknown or malformed one becomes an ``UnknownServerEvent`` with every field."""
    obj = data if isinstance(data, dict) else load_json_object(data)
    kind = obj.get("type")
    cls = SERVER_EVENTS.get(kind, UnknownServerEvent) if isinstance(kind, str) else UnknownServerEvent
    if not isinstance(kind, str):
        obj = {**obj, "type": str(kind)}
    try:
        return cls.model_validate(obj)
    except ValidationError:
        return UnknownServerEvent.model_validate(obj)  # malformed, but nothing of it is lost
