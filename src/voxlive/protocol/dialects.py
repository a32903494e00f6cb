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
from typing import Any

from .client_events import ClientEvent
from .parse import ProtocolError, load_json_object, parse_client_event, parse_server_event
from .server_events import ServerEvent

JSON = dict[str, Any]

# --- audio formats --------------------------------------------------------------------------------

_PCM_RATES = {"pcm16": 24000, "pcm16_16000hz": 16000, "pcm16_8000hz": 8000}
_PCM_FORMATS: dict[float, str] = {rate: name for name, rate in _PCM_RATES.items()}


def _format_to_ga(name: str | None, rate: int | None = None) -> JSON | None:
    if name is None:
        return None
    if name == "g711_ulaw":
        return {"type": "audio/pcmu"}
    if name == "g711_alaw":
        return {"type": "audio/pcma"}
    return {"type": "audio/pcm", "rate": rate or _PCM_RATES.get(name, 24000)}


def _output_format_from_ga(fmt: JSON, param: str) -> str:
    kind = fmt.get("type")
    if kind == "audio/pcmu":
        return "g711_ulaw"
    if kind == "audio/pcma":
        return "g711_alaw"
    rate = fmt.get("rate") or 24000
    if not isinstance(rate, int | float):
        raise _wrong_type(f"{param}.rate", "a number", rate)
    return _PCM_FORMATS.get(rate, "pcm16")


def _input_format_from_ga(fmt: JSON, out: JSON) -> None:
    kind = str(fmt.get("type"))
    if kind in ("audio/pcmu", "audio/pcma"):
        out["input_audio_format"] = "g711_ulaw" if kind == "audio/pcmu" else "g711_alaw"
    else:
        out["input_audio_format"] = "pcm16"
        if "rate" in fmt:
            out["input_audio_sampling_rate"] = fmt["rate"]


# --- items ----------------------------------------------------------------------------------------

_PART_TO_GA = {"text": "output_text", "audio": "output_audio"}
_PART_FROM_GA = {v: k for k, v in _PART_TO_GA.items()}


def _item_parts(item: Any, mapping: dict[str, str]) -> Any:
    if isinstance(item, dict) and item.get("type") == "message" and isinstance(item.get("content"), list):
        item["content"] = [
            {**part, "type": mapping.get(str(part.get("type")), part.get("type"))} if isinstance(part, dict) else part
            for part in item["content"]
        ]
    return item


def _items(items: Any, mapping: dict[str, str]) -> Any:
    return [_item_parts(item, mapping) for item in items] if isinstance(items, list) else items


# --- session and response configuration -----------------------------------------------------------


def _modalities_to_ga(modalities: list[str] | None) -> list[str] | None:
    if modalities is None:
        return None
    return ["audio"] if "audio" in modalities else ["text"]


def _wrong_type(param: str, expected: str, value: Any) -> ProtocolError:
    """The error for a GA field of the wrong type (one the classic shape has no place for)."""
    return ProtocolError(
        f"Invalid type for '{param}': expected {expected} (got {value!r:.40}).", code="invalid_type", param=param
    )


def _modalities_from_ga(modalities: Any, param: str) -> list[str]:
    if not isinstance(modalities, list):
        raise _wrong_type(param, "an array", modalities)
    return ["text", "audio"] if "audio" in modalities else list(modalities)


def _object(value: Any, param: str) -> JSON:
    """A GA sub-object (absent or null: empty), or a ``ProtocolError`` that names the field."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _wrong_type(param, "an object", value)
    return value


def _voice_to_ga(voice: Any) -> Any:
    """GA voices are names: a typed voice object is sent by its name."""
    return voice.get("name") or voice.get("model") if isinstance(voice, dict) else voice


def _voice_from_ga(voice: Any) -> Any:
    return voice.get("id") if isinstance(voice, dict) and "id" in voice else voice


def session_to_ga(session: JSON) -> JSON:
    """A classic session object in the GA shape."""
    s = dict(session)
    out: JSON = {"type": "realtime"}
    for key in (
        "object",
        "id",
        "model",
        "instructions",
        "tools",
        "tool_choice",
        "include",
        "metadata",
        "parallel_tool_calls",
        "expires_at",
    ):
        if key in s:
            out[key] = s.pop(key)
    if "modalities" in s:
        out["output_modalities"] = _modalities_to_ga(s.pop("modalities"))
    if "max_response_output_tokens" in s:
        out["max_output_tokens"] = s.pop("max_response_output_tokens")
    if "reasoning_effort" in s:
        out["reasoning"] = {"effort": s.pop("reasoning_effort")}
    audio_in: JSON = {}
    audio_out: JSON = {}
    if "input_audio_format" in s or "input_audio_sampling_rate" in s:
        fmt = s.pop("input_audio_format", "pcm16")
        audio_in["format"] = _format_to_ga(fmt, s.pop("input_audio_sampling_rate", None) if fmt == "pcm16" else None)
        s.pop("input_audio_sampling_rate", None)
    for classic, ga in (
        ("input_audio_noise_reduction", "noise_reduction"),
        ("input_audio_transcription", "transcription"),
        ("turn_detection", "turn_detection"),
        ("input_audio_echo_cancellation", "echo_cancellation"),
    ):
        if classic in s:
            audio_in[ga] = s.pop(classic)
    if "output_audio_format" in s:
        audio_out["format"] = _format_to_ga(s.pop("output_audio_format"))
    if "voice" in s:
        audio_out["voice"] = _voice_to_ga(s.pop("voice"))
    if "speed" in s:
        audio_out["speed"] = s.pop("speed")
    if audio_in or audio_out:
        out["audio"] = {k: v for k, v in (("input", audio_in), ("output", audio_out)) if v}
    out.update(s)  # the rest (Azure extensions) as they are
    return out


def session_from_ga(session: JSON) -> JSON:
    """A GA session object in the classic shape."""
    s = dict(session)
    s.pop("type", None)
    out: JSON = {}
    if "output_modalities" in s:
        out["modalities"] = _modalities_from_ga(s.pop("output_modalities"), "session.output_modalities")
    if "max_output_tokens" in s:
        out["max_response_output_tokens"] = s.pop("max_output_tokens")
    reasoning = s.pop("reasoning", None)
    if isinstance(reasoning, dict) and "effort" in reasoning:
        out["reasoning_effort"] = reasoning["effort"]
    audio = _object(s.pop("audio", None), "session.audio")
    audio_in = _object(audio.get("input"), "session.audio.input")
    audio_out = _object(audio.get("output"), "session.audio.output")
    if isinstance(audio_in.get("format"), dict):
        _input_format_from_ga(audio_in["format"], out)
    for ga, classic in (
        ("noise_reduction", "input_audio_noise_reduction"),
        ("transcription", "input_audio_transcription"),
        ("turn_detection", "turn_detection"),
        ("echo_cancellation", "input_audio_echo_cancellation"),
    ):
        if ga in audio_in:
            out[classic] = audio_in[ga]
    if isinstance(audio_out.get("format"), dict):
        out["output_audio_format"] = _output_format_from_ga(audio_out["format"], "session.audio.output.format")
    if "voice" in audio_out:
        out["voice"] = _voice_from_ga(audio_out["voice"])
    if "speed" in audio_out:
        out["speed"] = audio_out["speed"]
    for dropped in ("tracing", "truncation", "prompt"):
        s.pop(dropped, None)  # GA features without a classic counterpart
    out.update(s)
    return out


def response_to_ga(response: JSON) -> JSON:
    """A classic response object (or ``response.create`` params) in the GA shape."""
    r = dict(response)
    if "modalities" in r:
        r["output_modalities"] = _modalities_to_ga(r.pop("modalities"))
    output: JSON = {}
    if "output_audio_format" in r:
        output["format"] = _format_to_ga(r.pop("output_audio_format"))
    if "voice" in r:
        output["voice"] = _voice_to_ga(r.pop("voice"))
    if output:
        r["audio"] = {"output": output}
    if "reasoning_effort" in r:
        r["reasoning"] = {"effort": r.pop("reasoning_effort")}
    if "max_response_output_tokens" in r:
        r["max_output_tokens"] = r.pop("max_response_output_tokens")
    for key in ("output", "input", "input_items", "append_input_items"):
        if key in r:
            r[key] = _items(r[key], _PART_TO_GA)
    if "input_items" in r:
        r["input"] = r.pop("input_items")
    return r


def response_from_ga(response: JSON) -> JSON:
    """A GA response object (or ``response.create`` params) in the classic shape."""
    r = dict(response)
    if "output_modalities" in r:
        r["modalities"] = _modalities_from_ga(r.pop("output_modalities"), "response.output_modalities")
    output = _object(_object(r.pop("audio", None), "response.audio").get("output"), "response.audio.output")
    if isinstance(output.get("format"), dict):
        r["output_audio_format"] = _output_format_from_ga(output["format"], "response.audio.output.format")
    if "voice" in output:
        r["voice"] = _voice_from_ga(output["voice"])
    for key in ("output", "input"):
        if key in r:
            r[key] = _items(r[key], _PART_FROM_GA)
    reasoning = r.pop("reasoning", None)
    if isinstance(reasoning, dict) and "effort" in reasoning:
        r["reasoning_effort"] = reasoning["effort"]
    return r


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
        _item_parts(e["item"], _PART_TO_GA)
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
        _item_parts(e["item"], _PART_FROM_GA)
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
        _item_parts(e.get("item"), _PART_TO_GA)
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
        _item_parts(e.get("item"), _PART_FROM_GA)
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
