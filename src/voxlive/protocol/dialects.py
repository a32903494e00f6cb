"""The two wire dialects over one set of models.

``VOICELIVE`` is the classic VoiceLive dialect, the models' own shape. ``OPENAI_GA`` is the OpenAI
Realtime GA dialect (``/v1/realtime``): nested ``audio.input/output``, ``output_modalities``,
``response.output_text.*``, ``conversation.item.added/done``, ``output_text`` content parts.
Each dialect converts both ways, so a server and a client can speak either.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

from .client_events import ClientEvent
from .ga_objects import JSON, item_from_ga, item_to_ga, response_from_ga, response_to_ga, session_from_ga, session_to_ga
from .parse import ProtocolError, load_json_object, parse_client_event, parse_server_event
from .server_events import ServerEvent

# --- events ---------------------------------------------------------------------------------------

_SERVER_RENAMES = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
}
_SERVER_RENAMES_BACK = {v: k for k, v in _SERVER_RENAMES.items()}

GA_SERVER_TYPES = frozenset(
    {
        "error",
        "session.created",
        "session.updated",
        "conversation.created",
        "conversation.item.created",
        "conversation.item.retrieved",
        "conversation.item.deleted",
        "conversation.item.truncated",
        "conversation.item.input_audio_transcription.delta",
        "conversation.item.input_audio_transcription.completed",
        "conversation.item.input_audio_transcription.failed",
        "input_audio_buffer.committed",
        "input_audio_buffer.cleared",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "output_audio_buffer.cleared",
        "response.created",
        "response.done",
        "response.output_item.added",
        "response.output_item.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "mcp_list_tools.in_progress",
        "mcp_list_tools.completed",
        "mcp_list_tools.failed",
        "response.mcp_call_arguments.delta",
        "response.mcp_call_arguments.done",
        "response.mcp_call.in_progress",
        "response.mcp_call.completed",
        "response.mcp_call.failed",
        "rate_limits.updated",
        *_SERVER_RENAMES,
    }
)
"""Classic server events that exist in the GA dialect; the Azure-only ones have no GA form."""


def server_event_to_ga(event: JSON, open_items: set[str] | None = None) -> list[JSON]:
    """One classic server event as the GA events that carry it (none for Azure-only events).

    GA announces a conversation item with ``conversation.item.added`` and again with
    ``conversation.item.done`` once it is complete. ``open_items`` (one set per connection)
    remembers the items added while still in progress, so that ``response.output_item.done``
    closes exactly those; without it every finished output item is taken to be in the conversation.
    """
    kind = event["type"]
    if kind not in GA_SERVER_TYPES:
        return []
    e = copy.deepcopy(event)
    e["type"] = _SERVER_RENAMES.get(kind, kind)
    if "session" in e and kind in ("session.created", "session.updated"):
        e["session"] = session_to_ga(e["session"])
    if "response" in e:
        e["response"] = response_to_ga(e["response"])
    if "item" in e:
        item_to_ga(e["item"])
    if kind == "conversation.item.created":
        added = {**e, "type": "conversation.item.added"}
        if e["item"].get("status") in ("completed", "incomplete", None):
            done = {**copy.deepcopy(added), "type": "conversation.item.done", "event_id": e["event_id"] + "_done"}
            return [added, done]
        if open_items is not None:
            open_items.add(e["item"].get("id"))
        return [added]
    if kind == "response.output_item.done":
        item_id = e["item"].get("id")
        if open_items is not None:
            if item_id not in open_items:
                return [e]
            open_items.discard(item_id)
        done = {"type": "conversation.item.done", "event_id": e["event_id"] + "_done", "item": e["item"]}
        return [e, done]
    if kind == "response.mcp_call_arguments.done":
        e.setdefault("arguments", "")
    return [e]


def server_event_from_ga(event: JSON) -> JSON | None:
    """One GA server event in the classic shape; ``None`` for GA events that repeat another one."""
    kind = event.get("type", "")
    if kind == "conversation.item.done":
        return None  # the item was announced by conversation.item.added / output_item.done
    e = copy.deepcopy(event)
    if kind == "conversation.item.added":
        e["type"] = "conversation.item.created"
    e["type"] = _SERVER_RENAMES_BACK.get(e["type"], e["type"])
    if isinstance(e.get("session"), dict):
        e["session"] = session_from_ga(e["session"])
    if isinstance(e.get("response"), dict):
        e["response"] = response_from_ga(e["response"])
    if "item" in e:
        item_from_ga(e["item"])
    return e


GA_SESSION_FIELDS = frozenset(
    {"type", "output_modalities", "instructions", "audio", "tools", "tool_choice", "max_output_tokens", "include",
     "tracing", "truncation", "prompt", "model", "parallel_tool_calls", "reasoning"}
)  # fmt: skip
GA_RESPONSE_FIELDS = frozenset(
    {"output_modalities", "instructions", "audio", "tools", "tool_choice", "max_output_tokens", "metadata",
     "conversation", "input", "parallel_tool_calls", "prompt", "reasoning"}
)  # fmt: skip


def client_event_to_ga(event: JSON) -> JSON | None:
    """One classic client event in the GA shape; ``None`` for Azure-only events.

    Settings that GA does not define (temperature, avatar, animation, …) are left out: an OpenAI
    service would refuse them.
    """
    e = copy.deepcopy(event)
    kind = e["type"]
    if kind.startswith(("input_audio.", "input_text.", "session.avatar.")) or kind == "transcription_session.update":
        return None
    if kind == "session.update":
        session = session_to_ga(e["session"])
        e["session"] = {k: v for k, v in session.items() if k in GA_SESSION_FIELDS}
    elif kind == "response.create":
        response = e.get("response") or {}
        if "additional_instructions" in e:
            extra = e.pop("additional_instructions")
            response["instructions"] = f"{response.get('instructions', '')}\n\n{extra}".strip()
        if response:
            e["response"] = {k: v for k, v in response_to_ga(response).items() if k in GA_RESPONSE_FIELDS}
    elif kind == "conversation.item.create":
        item_to_ga(e.get("item"))
    return e


def client_event_from_ga(event: JSON) -> JSON:
    """One GA client event in the classic shape."""
    e = copy.deepcopy(event)
    kind = e.get("type")
    if kind == "session.update" and isinstance(e.get("session"), dict):
        if e["session"].get("type") == "transcription":
            return {**e, "type": "transcription_session.update"}
        e["session"] = session_from_ga(e["session"])
    elif kind == "response.create" and isinstance(e.get("response"), dict):
        e["response"] = response_from_ga(e["response"])
    elif kind == "conversation.item.create":
        item_from_ga(e.get("item"))
    return e


# --- the dialects ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Dialect:
    """How typed events look on one kind of wire."""

    name: str
    ga: bool

    def decode_client_event(self, text: str | bytes) -> ClientEvent:
        obj = load_json_object(text)
        if self.ga:
            try:
                obj = client_event_from_ga(obj)
            except ProtocolError as exc:
                exc.event_id = obj.get("event_id") if isinstance(obj.get("event_id"), str) else None
                raise
        return parse_client_event(obj)

    def encode_server_event(self, event: ServerEvent, open_items: set[str] | None = None) -> list[str]:
        """The wire frames of one server event (``open_items``: see ``server_event_to_ga``)."""
        if not self.ga:
            return [event.to_json()]
        return [json.dumps(e, separators=(",", ":")) for e in server_event_to_ga(event.to_dict(), open_items)]

    def encode_client_event(self, event: ClientEvent) -> str | None:
        if not self.ga:
            return event.to_json()
        converted = client_event_to_ga(event.to_dict())
        return None if converted is None else json.dumps(converted, separators=(",", ":"))

    def decode_server_event(self, text: str | bytes) -> ServerEvent | None:
        obj = load_json_object(text)
        if self.ga:
            converted = server_event_from_ga(obj)
            return None if converted is None else parse_server_event(converted)
        return parse_server_event(obj)


VOICELIVE = Dialect("voicelive", ga=False)
OPENAI_GA = Dialect("openai", ga=True)
