"""Protocol fuzzing: every client event type, on both realtime endpoints, with hostile values and malformed JSON.

Each fuzzed message is followed by a probe (a user text item). Whatever the message, the server must answer it with an
``error`` event naming its ``event_id`` where it is invalid, or with the event's usual acknowledgement where it is
valid; the socket stays open, the probe is added, and the server logs no traceback. A judge per event type says which
values are invalid (an independent reading of the protocol); where it cannot say, either answer is accepted.
"""

from __future__ import annotations

import base64
import binascii
import copy
import itertools
import json
import math
import os
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import websockets
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from conftest import Client, Server

# --- verdicts and judges --------------------------------------------------------------------------------------------

Verdict = Literal["ok", "either", "error"]
OK: Verdict = "ok"
EITHER: Verdict = "either"
ERR: Verdict = "error"


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"


MISSING: Any = _Missing()
"""A field that is not in the message."""

Judge = Callable[[Any], Verdict]


def worst(*verdicts: Verdict) -> Verdict:
    return ERR if ERR in verdicts else EITHER if EITHER in verdicts else OK


def _absent(value: Any, required: bool, nullable: bool) -> Verdict | None:
    if value is MISSING:
        return ERR if required else OK
    if value is None:
        return OK if nullable and not required else ERR
    return None


def text(
    required: bool = False,
    limit: int | None = None,
    accept: Callable[[str], Verdict] | None = None,
    nullable: bool = True,
) -> Judge:
    def judge(value: Any) -> Verdict:
        if (verdict := _absent(value, required, nullable)) is not None:
            return verdict
        if not isinstance(value, str) or (limit is not None and len(value) > limit):
            return ERR
        return accept(value) if accept else OK

    return judge


_DIGITS = re.compile(r"\s*[+-]?\d+(\.0*)?\s*")
_NUMERIC = re.compile(r"\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*|\s*[+-]?(inf|infinity|nan)\s*", re.IGNORECASE)


def integer(low: int | None = None, high: int | None = None, required: bool = False, nullable: bool = True) -> Judge:
    def judge(value: Any) -> Verdict:
        if (verdict := _absent(value, required, nullable)) is not None:
            return verdict
        if isinstance(value, bool) or (isinstance(value, str) and _DIGITS.fullmatch(value)):
            return EITHER  # lax conversions
        if isinstance(value, float):
            if not math.isfinite(value) or value != int(value) or abs(value) >= 2**63:
                return ERR
            return worst(EITHER, judge(int(value)))
        if not isinstance(value, int):
            return ERR
        return OK if (low is None or value >= low) and (high is None or value <= high) else ERR

    return judge


def number(low: float, high: float, required: bool = False, nullable: bool = True) -> Judge:
    def judge(value: Any) -> Verdict:
        if (verdict := _absent(value, required, nullable)) is not None:
            return verdict
        if isinstance(value, bool) or (isinstance(value, str) and _NUMERIC.fullmatch(value)):
            return EITHER
        if not isinstance(value, int | float):
            return ERR
        return OK if low <= value <= high else ERR  # NaN is in no range

    return judge


_LAX_BOOLS = {"0", "1", "true", "false", "t", "f", "yes", "no", "y", "n", "on", "off"}


def boolean(required: bool = False, nullable: bool = True) -> Judge:
    def judge(value: Any) -> Verdict:
        if (verdict := _absent(value, required, nullable)) is not None:
            return verdict
        if isinstance(value, bool):
            return OK
        if (isinstance(value, int | float) and value in (0, 1)) or (
            isinstance(value, str) and value.lower() in _LAX_BOOLS
        ):
            return EITHER
        return ERR

    return judge


def choice(*values: str | int, required: bool = False, nullable: bool = True) -> Judge:
    def judge(value: Any) -> Verdict:
        if (verdict := _absent(value, required, nullable)) is not None:
            return verdict
        if type(value) in (str, int) and value in values:
            return OK
        if not isinstance(value, bool) and isinstance(value, int | float | str) and str(value) in map(str, values):
            return EITHER
        if isinstance(value, float) and value.is_integer() and int(value) in values:
            return EITHER
        return ERR

    return judge


def listof(item: Judge, required: bool = False, nullable: bool = True, check: Judge | None = None) -> Judge:
    def judge(value: Any) -> Verdict:
        if (verdict := _absent(value, required, nullable)) is not None:
            return verdict
        if not isinstance(value, list):
            return ERR
        verdicts = [ERR if x is None else item(x) for x in value]
        return worst(OK, *verdicts, check(value) if check and ERR not in verdicts else OK)

    return judge


def mapping(
    fields: dict[str, Judge], required: bool = False, nullable: bool = True, check: Judge | None = None
) -> Judge:
    """An object with these fields (unknown fields are kept, so they are no error)."""

    def judge(value: Any) -> Verdict:
        if (verdict := _absent(value, required, nullable)) is not None:
            return verdict
        if not isinstance(value, dict):
            return ERR
        verdicts = [judge_field(value.get(key, MISSING)) for key, judge_field in fields.items()]
        return worst(OK, *verdicts, check(value) if check and ERR not in verdicts else OK)

    return judge


def tagged(variants: dict[str, Judge], key: str = "type", required: bool = False) -> Judge:
    """A discriminated union: the tag must be there and known."""

    def judge(value: Any) -> Verdict:
        if (verdict := _absent(value, required, True)) is not None:
            return verdict
        if not isinstance(value, dict) or not isinstance(value.get(key), str) or value[key] not in variants:
            return ERR
        return variants[value[key]](value)

    return judge


def strings(value: Any) -> Verdict:
    """A ``dict[str, str]``."""
    if value is MISSING or value is None:
        return OK
    return OK if isinstance(value, dict) and all(isinstance(v, str) for v in value.values()) else ERR


def unsure(value: Any) -> Verdict:
    return OK if value is MISSING or value is None else EITHER


def anything(value: Any) -> Verdict:
    return OK


# --- what the protocol accepts ---------------------------------------------------------------------------------------

ANCHOR = "anchor"
"""A user item kept in every fuzzed conversation (re-created when a fuzzed delete removes it)."""
TURN = "turn_fuzz"
TEXT_ID = "typed_fuzz"
MODEL = "m"
VOICES = {"en_US-joe-medium", "alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"}
PERSONAL_MODELS = ("DragonLatestNeural", "PhoenixLatestNeural", "PhoenixV2Neural", "DragonHDOmniLatestNeural")
MAX_INSTRUCTIONS = 32_000
MAX_INPUT_TEXT = 256_000
MAX_TOOLS_JSON = 64 * 1024
OUTPUT_FORMATS = ("pcm16", "pcm16_8000hz", "pcm16_16000hz", "g711_ulaw", "g711_alaw")
EFFORTS = ("none", "minimal", "low", "medium", "high", "xhigh")
STATUS = choice("in_progress", "completed", "incomplete")


def pcm16(value: str) -> Verdict:
    """Base64 of 16-bit samples (the fuzzed sessions' input format)."""
    try:
        data = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return ERR
    return OK if len(data) % 2 == 0 else ERR


def nonempty(value: str) -> Verdict:
    return OK if value else ERR


def not_a_path(value: str) -> Verdict:
    return ERR if "/" in value or "\\" in value or value.startswith((".", "~")) else OK


# items

_PARTS: dict[str, Judge] = {
    "input_text": mapping({"text": text(required=True)}),
    "input_audio": mapping({"audio": text(), "transcript": text()}),
    "input_image": mapping({"image_url": text(), "url": text(), "detail": choice("auto", "low", "high")}),
    "text": mapping({"text": text(nullable=False)}),
    "audio": mapping({"audio": text(), "transcript": text()}),
}
_ROLE_PARTS = {
    "system": {"input_text"},
    "user": {"input_text", "input_audio", "input_image"},
    "assistant": {"text", "audio"},
}
_GA_PARTS = {"output_text": "text", "output_audio": "audio"}


def message(ga: bool) -> Judge:
    def judge(item: dict[str, Any]) -> Verdict:
        role = item.get("role", MISSING)
        verdicts = [
            choice(*_ROLE_PARTS, required=True)(role),
            STATUS(item.get("status", MISSING)),
            text()(item.get("id", MISSING)),
            text()(item.get("object", MISSING)),
        ]
        content = item.get("content", MISSING)
        if content is MISSING:
            return worst(*verdicts)
        if not isinstance(content, list):
            return ERR
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else None
            if ga and isinstance(kind, str):
                kind = _GA_PARTS.get(kind, kind)
            if not isinstance(kind, str) or kind not in _PARTS:
                return ERR
            verdicts.append(_PARTS[kind](part))
            if isinstance(role, str) and role in _ROLE_PARTS and kind not in _ROLE_PARTS[role]:
                return ERR
        return worst(*verdicts)

    return judge


def item_judge(where: Literal["create", "input"], ga: bool, required: bool = False) -> Judge:
    """An item of ``conversation.item.create`` or of a response's input."""
    creating = where == "create"
    variants: dict[str, Judge] = {
        "message": message(ga),
        "function_call": mapping(
            {"name": text(True), "call_id": text(True), "arguments": text(nullable=False), "status": STATUS}
        ),
        # no function call, and no approval request, is in a fuzzed conversation
        "function_call_output": mapping(
            {"call_id": text(True), "output": text(True), "status": STATUS},
            check=lambda _: ERR if creating else EITHER,
        ),
        "mcp_approval_response": mapping(
            {"approval_request_id": text(True), "approve": boolean(True), "reason": text()},
            check=lambda _: ERR if creating else EITHER,
        ),
        "item_reference": mapping(
            {"id": text(True)}, check=lambda item: ERR if creating else OK if item["id"] == ANCHOR else ERR
        ),
        **dict.fromkeys(
            ("mcp_list_tools", "mcp_call", "mcp_approval_request", "foundry_agent_call", "web_search_call"), unsure
        ),
        "file_search_call": unsure,
    }
    union = tagged(variants, required=required)

    def judge(item: Any) -> Verdict:
        verdict = union(item)
        if creating and isinstance(item, dict) and item.get("id") == ANCHOR:
            return ERR  # already in the conversation
        if isinstance(item, dict) and verdict != ERR:
            verdict = worst(verdict, text()(item.get("id", MISSING)), text()(item.get("object", MISSING)))
        return verdict

    return judge


# sessions

_PROSODY = {
    "rate": ({"fast", "x-slow", "default", "+20%", "1.2"}, {"+300%", "loud", "0.1", "ultrafast"}),
    "pitch": ({"high", "+2st", "+20Hz", "-10%", "default"}, {"loud", "+1000%", "-200Hz"}),
    "volume": ({"soft", "-6dB", "+10%", "loud", "default"}, {"-120", "+1000dB", "high-ish"}),
}


def prosody(scale: str) -> Judge:
    good, bad = _PROSODY[scale]
    return text(accept=lambda value: OK if value in good else ERR if value in bad else EITHER)


def _named(key: str) -> Judge:
    return lambda voice: OK if isinstance(voice.get(key), str) and voice[key] in VOICES else ERR


_TUNING: dict[str, Judge] = {
    "temperature": number(0, 1),
    "custom_lexicon_url": text(),
    "custom_text_normalization_url": text(),
    "prefer_locales": listof(text()),
    "locale": text(),
    "style": text(),
    **{scale: prosody(scale) for scale in _PROSODY},
}
_VOICE_OBJECT = tagged(
    {
        "openai": mapping({"name": text(True)}, check=_named("name")),
        "azure-standard": mapping({"name": text(True, accept=nonempty), **_TUNING}, check=_named("name")),
        "azure-custom": mapping(
            {"name": text(True, accept=nonempty), "endpoint_id": text(True, accept=nonempty), **_TUNING},
            check=_named("name"),
        ),
        "azure-personal": mapping(
            {"name": text(True, accept=nonempty), "model": choice(*PERSONAL_MODELS, "MAI-Voice-1"), **_TUNING},
            check=_named("name"),
        ),
        # its voice is named by its model: no local voice
        "avatar-voice-sync": mapping(
            {"model": choice(*PERSONAL_MODELS, "MAI-Voice-1", required=True), **_TUNING}, check=lambda _: ERR
        ),
        "azure-realtime-native": mapping({"name": text(True)}, check=_named("name")),
    }
)


def voice(value: Any) -> Verdict:
    if value is MISSING or value is None:
        return OK
    if isinstance(value, str):
        return OK if value in VOICES else ERR
    return _VOICE_OBJECT(value)


def response_voice(value: Any) -> Verdict:
    return EITHER if value == "" else voice(value)  # an empty name is no voice: the session's is used


_VAD: dict[str, Judge] = {
    "threshold": number(0, 1, nullable=False),
    "prefix_padding_ms": integer(0, 5000, nullable=False),
    "silence_duration_ms": integer(0, 10_000, nullable=False),
    "end_of_utterance_detection": tagged(
        dict.fromkeys(
            (
                "semantic_detection_v1",
                "semantic_detection_v1_en",
                "semantic_detection_v1_multilingual",
                "smart_end_of_turn_detection",
            ),
            mapping({"threshold_level": choice("low", "medium", "high", "default"), "timeout_ms": integer(0, 10_000)}),
        ),
        key="model",
    ),
    "auto_truncate": boolean(nullable=False),
    "create_response": boolean(nullable=False),
    "interrupt_response": boolean(nullable=False),
    "speech_duration_ms": integer(0, 5000),
}
_AZURE_VAD = {**_VAD, "remove_filler_words": boolean(nullable=False)}
TURN_DETECTION = tagged(
    {
        "server_vad": mapping({**_VAD, "idle_timeout_ms": integer(0)}),
        "azure_semantic_vad": mapping({**_AZURE_VAD, "languages": listof(text())}),
        "azure_semantic_vad_en": mapping(_AZURE_VAD),
        "azure_semantic_vad_multilingual": mapping({**_AZURE_VAD, "languages": listof(text())}),
        "semantic_vad": mapping(
            {
                "eagerness": choice("low", "medium", "high", "auto", nullable=False),
                "create_response": boolean(nullable=False),
                "interrupt_response": boolean(nullable=False),
            }
        ),
    }
)

MODALITIES = listof(
    choice("text", "audio", "animation", "avatar"),
    check=lambda value: ERR if "audio" in value and "text" not in value else OK,
)
MAX_TOKENS: Judge = lambda value: OK if value == "inf" else integer(1)(value)  # noqa: E731

_SCHEMAS_OK = ({"type": "object"}, {"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]})
_SCHEMAS_BAD = ({"type": "object", "properties": 5}, {"type": "object", "required": "a"}, {"type": "objekt"})


def parameters(value: Any) -> Verdict:
    if value is MISSING or value is None or value == {}:
        return OK
    if not isinstance(value, dict) or value.get("type") != "object" or value in _SCHEMAS_BAD:
        return ERR
    return OK if value in _SCHEMAS_OK else EITHER  # the meta-schema decides


def mcp_url(url: str) -> Verdict:
    if url.startswith("stdio:"):
        return OK if url == "stdio:sums" else ERR
    return OK if url.startswith(("http://", "https://")) else ERR


_TOOL = tagged(
    {
        "function": mapping(
            {
                "name": text(True, accept=lambda name: OK if re.fullmatch(r"[A-Za-z0-9_.-]{1,64}", name) else ERR),
                "description": text(),
                "parameters": parameters,
            }
        ),
        "mcp": mapping(
            {
                "server_label": text(True, accept=nonempty),
                "server_url": text(True, accept=mcp_url),
                "allowed_tools": unsure,
                "headers": strings,
                "authorization": text(),
                "require_approval": unsure,
            }
        ),
        "foundry_agent": unsure,
    }
)


def _names(tools: Any, kind: str, key: str) -> list[Any]:
    tools = tools if isinstance(tools, list) else []
    return [t.get(key) for t in tools if isinstance(t, dict) and t.get("type") == kind]


def _distinct_and_small(tools: list[Any]) -> Verdict:
    functions, labels = _names(tools, "function", "name"), _names(tools, "mcp", "server_label")
    if len(set(map(str, functions))) < len(functions) or len(set(map(str, labels))) < len(labels):
        return ERR
    size = len(json.dumps([t for t in tools if t.get("type") == "function"]))
    return ERR if size > 1.2 * MAX_TOOLS_JSON else EITHER if size > 0.8 * MAX_TOOLS_JSON else OK


TOOLS = listof(_TOOL, check=_distinct_and_small)


def tool_choice(value: Any, tools: Any, bare_names: bool) -> Verdict:
    """``tool_choice`` given the tools in force (the request's, or the session's: none)."""
    if value is MISSING or value is None:
        return OK
    functions, labels = _names(tools, "function", "name"), _names(tools, "mcp", "server_label")
    named: Any
    if isinstance(value, str):
        if value in ("auto", "none", "required"):
            return OK
        if not bare_names:
            return ERR
        named = value
    elif isinstance(value, dict) and value.get("type") == "function":
        if not isinstance(value.get("name"), str):
            return ERR
        named = value["name"]
    elif isinstance(value, dict) and value.get("type") == "mcp":
        verdict = worst(text(True)(value.get("server_label", MISSING)), text()(value.get("name", MISSING)))
        if verdict == ERR or value["server_label"] not in labels:
            return ERR
        return EITHER if bare_names else OK  # a response checks the tool once the server is listed
    else:
        return ERR
    if named in functions:
        return OK
    return ERR if not labels else EITHER


SESSION: dict[str, Judge] = {
    "model": text(accept=lambda value: OK if value == MODEL else ERR),
    "modalities": MODALITIES,
    "animation": mapping(
        {"model_name": text(nullable=False), "outputs": listof(choice("blendshapes", "viseme_id"), nullable=False)}
    ),
    "voice": voice,
    "instructions": text(limit=MAX_INSTRUCTIONS),
    "input_audio_sampling_rate": choice(8000, 16000, 24000),
    "input_audio_format": choice("pcm16", "g711_ulaw", "g711_alaw"),
    "output_audio_format": choice(*OUTPUT_FORMATS),
    "turn_detection": TURN_DETECTION,
    "input_audio_noise_reduction": mapping(
        {"type": choice("azure_deep_noise_suppression", "near_field", "far_field", nullable=False)}
    ),
    "input_audio_echo_cancellation": mapping(
        {
            "type": choice("server_echo_cancellation", nullable=False),
            "reference_source": choice("server", "client"),
            "channels": integer(1, 2),
        }
    ),
    "avatar": mapping({"character": text(True)}, check=lambda _: EITHER),
    "input_audio_transcription": mapping(
        {
            "model": text(accept=not_a_path),
            "language": text(),
            "prompt": text(),
            "phrase_list": listof(text()),
            "custom_speech": strings,
        }
    ),
    "output_audio_timestamp_types": listof(choice("word")),
    "tools": TOOLS,
    "temperature": number(0, 2),
    "speed": number(0.25, 1.5),
    "max_response_output_tokens": MAX_TOKENS,
    "reasoning_effort": choice(*EFFORTS),
    "interim_response": unsure,
    "include": listof(
        choice(
            "item.input_audio_transcription.logprobs",
            "item.input_audio_transcription.phrases",
            "file_search_call.results",
        )
    ),
    "metadata": strings,
    "parallel_tool_calls": boolean(),
}
TRANSCRIPTION_FIELDS = (
    "input_audio_format",
    "input_audio_sampling_rate",
    "input_audio_transcription",
    "turn_detection",
    "input_audio_noise_reduction",
    "input_audio_echo_cancellation",
    "include",
)


def classic_session(session: dict[str, Any]) -> Verdict:
    verdicts = [SESSION[key](value) for key, value in session.items() if key in SESSION]
    return worst(*verdicts, tool_choice(session.get("tool_choice", MISSING), session.get("tools"), False))


def transcription_session(session: Any) -> Verdict:
    if not isinstance(session, dict):
        return ERR
    return worst(OK, *(SESSION[key](session[key]) for key in TRANSCRIPTION_FIELDS if key in session))


GA_OUTPUT_RATES = (24000, 16000, 8000)


def _ga_object(value: Any) -> dict[str, Any] | None:
    """A GA sub-object (absent or null: empty); ``None`` when it is not one."""
    return {} if value is MISSING or value is None else value if isinstance(value, dict) else None


def _ga_output_format(fmt: Any) -> Verdict:
    if not isinstance(fmt, dict) or str(fmt.get("type")) in ("audio/pcmu", "audio/pcma"):
        return OK if isinstance(fmt, dict) or fmt is None else EITHER  # not an object: ignored
    rate = fmt.get("rate") or 24000
    if not isinstance(rate, int | float):
        return ERR
    return OK if rate in GA_OUTPUT_RATES and not isinstance(rate, bool) else EITHER  # another rate: 24 kHz


def _ga_modalities(value: Any) -> Verdict:
    return ERR if not isinstance(value, list) else OK if "audio" in value else MODALITIES(value)


def _ga_voice(judge: Judge, value: Any) -> Verdict:
    return judge(value["id"] if isinstance(value, dict) and "id" in value else value)


_GA_INPUT = (
    ("noise_reduction", "input_audio_noise_reduction"),
    ("transcription", "input_audio_transcription"),
    ("turn_detection", "turn_detection"),
    ("echo_cancellation", "input_audio_echo_cancellation"),
)


def ga_session(session: Any) -> Verdict:
    if not isinstance(session, dict):
        return ERR
    if session.get("type") == "transcription":
        return transcription_session(session)
    rest = {k: v for k, v in session.items() if k not in ("type", "tracing", "truncation", "prompt")}
    verdicts: list[Verdict] = []
    made: set[str] = set()  # the classic fields the GA ones become
    if "output_modalities" in rest:
        verdicts.append(_ga_modalities(rest.pop("output_modalities")))
        made.add("modalities")
    if "max_output_tokens" in rest:
        verdicts.append(MAX_TOKENS(rest.pop("max_output_tokens")))
        made.add("max_response_output_tokens")
    reasoning = rest.pop("reasoning", None)
    if isinstance(reasoning, dict) and "effort" in reasoning:
        verdicts.append(choice(*EFFORTS)(reasoning["effort"]))
        made.add("reasoning_effort")
    audio = _ga_object(rest.pop("audio", MISSING))
    audio_in = _ga_object(audio.get("input", MISSING)) if audio is not None else None
    audio_out = _ga_object(audio.get("output", MISSING)) if audio is not None else None
    if audio_in is None or audio_out is None:
        return ERR
    fmt = audio_in.get("format")
    if isinstance(fmt, dict):
        made |= {"input_audio_format", "input_audio_sampling_rate"}
        if str(fmt.get("type")) not in ("audio/pcmu", "audio/pcma") and "rate" in fmt:
            verdicts.append(choice(8000, 16000, 24000)(fmt["rate"]))
    made |= {classic for ga, classic in _GA_INPUT if ga in audio_in}
    outputs = (("format", "output_audio_format"), ("voice", "voice"), ("speed", "speed"))
    made |= {classic for ga, classic in outputs if ga in audio_out}
    verdicts += [SESSION[classic](audio_in.get(ga, MISSING)) for ga, classic in _GA_INPUT]
    if "format" in audio_out:
        verdicts.append(_ga_output_format(audio_out["format"]))
    verdicts.append(_ga_voice(voice, audio_out.get("voice", MISSING)))
    verdicts.append(SESSION["speed"](audio_out.get("speed", MISSING)))
    return _shadowed(worst(*verdicts, classic_session(rest)), made & rest.keys())


def _shadowed(verdict: Verdict, both: set[str]) -> Verdict:
    """A field set both in its GA and its classic form: which one counts is the dialect's choice."""
    return EITHER if both and verdict == ERR else verdict


def response_judges(ga: bool) -> dict[str, Judge]:
    return {
        "commit": boolean(),
        "cancel_previous": boolean(),
        "append_input_items": listof(item_judge("input", False)),
        "input_items": listof(item_judge("input", False)),
        "input": listof(item_judge("input", ga)),
        "conversation": text(),
        "modalities": MODALITIES,
        "instructions": text(limit=MAX_INSTRUCTIONS),
        "voice": response_voice,
        "output_audio_format": choice(*OUTPUT_FORMATS),
        "tools": TOOLS,
        "temperature": number(0, 2),
        "max_output_tokens": MAX_TOKENS,
        "max_response_output_tokens": MAX_TOKENS,
        "pre_generated_assistant_message": mapping({"type": choice("message", nullable=False)}, check=message(False)),
        "reasoning_effort": choice(*EFFORTS),
        "metadata": strings,
        "interim_response": unsure,
        "invoke_input": mapping({}),
    }


def classic_response(response: dict[str, Any], ga: bool = False) -> Verdict:
    judges = response_judges(ga)
    verdicts = [judges[key](value) for key, value in response.items() if key in judges and key != "input"]
    if "input" in response:  # not used (nor its references looked up) when there are input_items
        unused = response.get("input_items") is not None
        verdicts.append(
            worst(EITHER, judges["input"](response["input"])) if unused else judges["input"](response["input"])
        )
    return worst(OK, *verdicts, tool_choice(response.get("tool_choice", MISSING), response.get("tools"), True))


def ga_response(response: Any) -> Verdict:
    if response is MISSING or response is None:
        return OK
    if not isinstance(response, dict):
        return ERR
    rest = dict(response)
    verdicts: list[Verdict] = []
    made: set[str] = set()
    if "output_modalities" in rest:
        verdicts.append(_ga_modalities(rest.pop("output_modalities")))
        made.add("modalities")
    audio = _ga_object(rest.pop("audio", MISSING))
    output = _ga_object(audio.get("output", MISSING)) if audio is not None else None
    if output is None:
        return ERR
    if "format" in output:
        verdicts.append(_ga_output_format(output["format"]))
        made.add("output_audio_format")
    if "voice" in output:
        verdicts.append(_ga_voice(response_voice, output["voice"]))
        made.add("voice")
    reasoning = rest.pop("reasoning", None)
    if isinstance(reasoning, dict) and "effort" in reasoning:
        verdicts.append(choice(*EFFORTS)(reasoning["effort"]))
        made.add("reasoning_effort")
    return _shadowed(worst(*verdicts, classic_response(rest, ga=True)), made & rest.keys())


def events(ga: bool) -> dict[str, Judge]:
    """The judge of each client event type, on one endpoint."""
    item_id = text(True, accept=lambda value: OK if value == ANCHOR else ERR)
    turn_id = text(True, accept=lambda value: OK if value == TURN else ERR)
    session = ga_session if ga else (lambda value: ERR if not isinstance(value, dict) else classic_session(value))
    response = ga_response if ga else mapping({}, check=classic_response)
    return {
        "session.update": mapping({"session": session}),
        "input_audio_buffer.append": mapping({"audio": text(True, accept=pcm16)}),
        "input_audio_buffer.commit": anything,
        "input_audio_buffer.clear": anything,
        "conversation.item.create": mapping(
            {
                "previous_item_id": text(accept=lambda value: OK if value in ("root", ANCHOR) else ERR),
                "item": item_judge("create", ga, required=True),
            }
        ),
        "conversation.item.retrieve": mapping({"item_id": item_id}),
        "conversation.item.truncate": lambda _: ERR,  # only assistant audio can be truncated: there is none
        "conversation.item.delete": mapping({"item_id": item_id}),
        "response.create": mapping(
            {"response": response, "additional_instructions": text(limit=MAX_INSTRUCTIONS)},
        ),
        "response.cancel": lambda _: ERR,  # no response is in progress
        "output_audio_buffer.clear": anything,
        "session.avatar.connect": lambda _: ERR,  # no avatar here
        "input_audio.turn.start": mapping({"turn_id": text(True)}),
        "input_audio.turn.append": mapping({"turn_id": turn_id, "audio": text(True, accept=pcm16)}),
        "input_audio.turn.end": mapping({"turn_id": turn_id}),
        "input_audio.turn.cancel": mapping({"turn_id": turn_id}),
        "input_audio.clear": anything,
        "input_text.delta": mapping(
            {
                "id": text(True, accept=lambda value: ERR if value == ANCHOR else OK),
                "delta": text(True, limit=MAX_INPUT_TEXT),
                "content_index": integer(0),
            }
        ),
        "input_text.done": mapping(
            {"id": text(True, accept=lambda value: OK if value == TEXT_ID else ERR), "content_index": integer(0)}
        ),
        "transcription_session.update": mapping({"session": transcription_session}),
    }


ACKS = {
    "session.update": "session.updated",
    "transcription_session.update": "session.updated",
    "input_audio_buffer.commit": "input_audio_buffer.committed",
    "input_audio_buffer.clear": "input_audio_buffer.cleared",
    "input_audio.clear": "input_audio_buffer.cleared",
    "conversation.item.create": "conversation.item.created",
    "conversation.item.retrieve": "conversation.item.retrieved",
    "conversation.item.truncate": "conversation.item.truncated",
    "conversation.item.delete": "conversation.item.deleted",
    "response.create": "response.created",
    "output_audio_buffer.clear": "output_audio_buffer.cleared",
    "input_audio.turn.end": "input_audio_buffer.committed",
    "input_text.done": "conversation.item.created",
}
"""The event that acknowledges each client event; the others are acknowledged by nothing."""
KINDS = list(events(False))


def _lone_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return re.search("[\ud800-\udfff]", value) is not None
    if isinstance(value, list):
        return any(map(_lone_surrogate, value))
    if isinstance(value, dict):
        return any(_lone_surrogate(k) or _lone_surrogate(v) for k, v in value.items())
    return False


def depth(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    return 0


def judge_event(event: dict[str, Any], ga: bool, fuzzed: str) -> tuple[Verdict, str | None]:
    """Whether the server must refuse an event, and the kind whose acknowledgement it gets otherwise."""
    if _lone_surrogate(event) or depth(event) > 100:
        return ERR, None
    kind = event.get("type")
    if not isinstance(kind, str) or kind not in KINDS:
        return ERR, None
    event_id = event.get("event_id")
    verdict = worst(events(ga)[kind](event), OK if event_id is None or isinstance(event_id, str) else ERR)
    if kind != fuzzed:  # another kind, without its set-up
        verdict = worst(verdict, EITHER)
    return verdict, kind


# --- hostile values and the events made of them ----------------------------------------------------------------------


def nested(levels: int) -> Any:
    value: Any = []
    for _ in range(levels - 1):
        value = [value]
    return value


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


AUDIO = b64(bytes(4800))
"""100 ms of silence (pcm16, 24 kHz)."""
HOSTILE: list[Any] = [
    "", " ", "\x00\x1f", "\udfff", "a\ud800b", "\ud83d", "x" * 300_000, "é" * 40_000, "\U0001f600" * 20_000,
    "y" * MAX_INSTRUCTIONS, "not base64!", "root", ANCHOR, "item_missing", "/etc/passwd", "../x.onnx", "NaN", "-1",
    "1e308", "inf", "true", 0, -1, 1, 2**31, 2**63, -(2**63) - 1, 10**40, 1e308, -1e308, 0.5, 1e-320, float("nan"),
    float("inf"), float("-inf"), True, False, None, [], [None], ["x", 1], [[[]]], {}, {"a": {"b": "c"}},
    {"type": "bogus"}, nested(98), nested(99), nested(100),
]  # fmt: skip
"""Values worth trying in any field."""

FUNCTION = {"type": "function", "name": "f", "parameters": {"type": "object", "properties": {}}}
DEEP_SCHEMA: dict[str, Any] = {"type": "object"}
for _ in range(45):
    DEEP_SCHEMA = {"type": "object", "properties": {"a": DEEP_SCHEMA}}
CANDIDATES: dict[str, list[Any]] = {
    "type": [
        *KINDS, "session.updated", "Session.Update", "realtime", "transcription", "message", "function_call",
        "function_call_output", "mcp_approval_response", "item_reference", "mcp_call", "input_text", "input_audio",
        "input_image", "text", "audio", "output_text", "output_audio", "server_vad", "semantic_vad",
        "azure_semantic_vad", "function", "mcp", "openai", "azure-standard", "azure-personal", "avatar-voice-sync",
        "audio/pcm", "audio/pcmu", "audio/mp3", "near_field", "bogus",
    ],
    "role": ["user", "assistant", "system", "tool", "developer"],
    "modalities": [["text"], ["audio"], ["text", "audio"], [], ["video"], ["text", "text"], ["animation"]],
    "output_modalities": [["text"], ["audio"], ["audio", 5], [], ["video"], None],
    "voice": [
        "alloy", "en_US-joe-medium", "nobody", {"type": "openai", "name": "alloy"}, {"type": "openai", "name": "x"},
        {"type": "azure-standard", "name": "alloy", "rate": "+300%"}, {"type": "azure-standard", "name": "alloy",
        "pitch": "+2st", "volume": "soft", "temperature": 0.3}, {"type": "avatar-voice-sync", "model": "MAI-Voice-1"},
        {"name": "alloy"}, {"id": "alloy"}, {"id": 5},
    ],
    "rate": [24000, 16000, 8000, 44100, 0, [], [24000], {"hz": 1}, "24000", "+20%", "x-fast", "+300%", "+1e400%"],
    "pitch": ["high", "+2st", "+20Hz", "loud", "+1000%", "-200Hz", "+99999999999999999999st"],
    "volume": ["soft", "-6dB", "loud", "-120", "+1000dB"],
    "temperature": [0, 1, 2, 2.01, -0.1, 0.7],
    "speed": [0.25, 1.5, 0.2, 1.6, 1],
    "max_output_tokens": [1, 4, "inf", 0, "INF", 2**31, 2**63],
    "max_response_output_tokens": [1, 4, "inf", 0, 2**63],
    "input_audio_format": ["pcm16", "g711_ulaw", "g711_alaw", "pcm24", "mp3"],
    "output_audio_format": [*OUTPUT_FORMATS, "mp3", "pcm16_44100hz"],
    "input_audio_sampling_rate": [8000, 16000, 24000, 44100, 16000.0, "16000", 0],
    "format": [
        {"type": "audio/pcm", "rate": 24000}, {"type": "audio/pcm", "rate": 16000}, {"type": "audio/pcmu"},
        {"type": "audio/pcm", "rate": 44100}, {"type": "audio/pcm", "rate": [24000]}, {"rate": {"hz": 1}},
        {"type": "audio/mp3"}, {"type": ["audio/pcma"]}, "pcm16",
    ],
    "turn_detection": [
        None, {"type": "server_vad"}, {"type": "semantic_vad", "eagerness": "high"}, {"type": "loud"},
        {"type": "server_vad", "silence_duration_ms": 10_001}, {"type": "server_vad", "idle_timeout_ms": 2**63},
        {"type": "server_vad", "idle_timeout_ms": 10**40}, {"type": "server_vad", "threshold": 1.5},
        {"type": "azure_semantic_vad", "end_of_utterance_detection": {"model": "semantic_detection_v1"}},
        {"type": "server_vad", "end_of_utterance_detection": {"model": "nope"}},
        {"type": "server_vad", "end_of_utterance_detection": {"model": "semantic_detection_v1", "timeout_ms": -1}},
        {"type": "server_vad", "threshold": None},
    ],
    "eagerness": ["low", "auto", "extreme"],
    "threshold": [0, 1, 0.5, 1.01, -0.01],
    "silence_duration_ms": [0, 10_000, 10_001, 2**63],
    "prefix_padding_ms": [0, 5000, 5001],
    "idle_timeout_ms": [0, 1, 5000, 2**63, 10**40],
    "tools": [
        [], [FUNCTION], [FUNCTION, FUNCTION], [{**FUNCTION, "name": "a b"}], [{**FUNCTION, "name": "x" * 65}],
        [{**FUNCTION, "parameters": {"type": "objekt"}}],
        [{**FUNCTION, "parameters": {"type": "object", "$schema": {}}}],
        [{**FUNCTION, "parameters": {"type": "object", "$schema": "http://nope"}}],
        [{**FUNCTION, "parameters": {"type": "object", "properties": {"a": {"$ref": "#/nowhere"}}}}],
        [{**FUNCTION, "parameters": {"type": "object", "properties": {"a": {"pattern": "("}}}}],
        [{**FUNCTION, "parameters": DEEP_SCHEMA}], [{**FUNCTION, "description": "d" * 70_000}],
        [{"type": "mcp", "server_label": "s", "server_url": "stdio:nope"}],
        [{"type": "mcp", "server_label": "s", "server_url": "ftp://x"}],
        [{"type": "mcp", "server_label": "s", "server_url": "http://127.0.0.1:9/mcp"}],
        [{"type": "mcp", "server_label": "s", "server_url": "http://169.254.169.254/"}],
        [{"type": "mcp", "server_label": "", "server_url": "http://127.0.0.1:9/mcp"}], [{"type": "web_search"}],
    ],
    "parameters": [{"type": "object"}, {"type": "object", "$schema": {}}, {"type": "object", "properties": []}, "{}"],
    "tool_choice": [
        "auto", "none", "required", "f", "g", {"type": "function", "name": "f"}, {"type": "function", "name": "g"},
        {"type": "function"}, {"type": "mcp", "server_label": "s"}, "bogus",
    ],
    "name": ["f", "a b", "x" * 65, "alloy", ""],
    "server_url": ["stdio:sums", "stdio:nope", "http://127.0.0.1:9/mcp", "file:///etc/passwd"],
    "audio": [AUDIO, b64(bytes(3)), "not base64", "====", AUDIO + "\n", "", AUDIO[:-1], b64(bytes(48_000))],
    "delta": ["Hello", "x" * 300_000, "\U0001f600" * 20_000],
    "item_id": [ANCHOR, "root", "item_missing", ""],
    "previous_item_id": [ANCHOR, "root", "item_missing", "", None],
    "id": [ANCHOR, TEXT_ID, "item_new", "", "x" * 10_000],
    "turn_id": [TURN, "other_turn", ""],
    "response_id": ["resp_missing", ""],
    "call_id": ["call_missing", ""],
    "content_index": [0, -1, 1, 2**63, 1e308, 1.5],
    "audio_end_ms": [0, -1, 2**63, 1e308],
    "status": ["completed", "in_progress", "incomplete", "done"],
    "content": [
        [], [{"type": "input_text", "text": "hi"}], [{"type": "text", "text": "hi"}], [{"type": "output_text"}],
        [{"type": "input_audio", "audio": "not base64"}], [{"type": "input_image", "image_url": "file:///etc/passwd"}],
        [{"type": "input_text"}], [{"type": "input_text", "text": "a"}] * 500, "hi",
    ],
    "input": [[], [{"type": "item_reference", "id": ANCHOR}], [{"type": "item_reference", "id": "item_missing"}]],
    "conversation": ["auto", "none", "conv_missing"],
    "instructions": ["Be brief.", "y" * MAX_INSTRUCTIONS, "y" * (MAX_INSTRUCTIONS + 1)],
    "event_id": ["", "e" * 10_000, 5, None, {"a": 1}, "\udfff"],
    "input_audio_transcription": [None, {"model": "whisper-1"}, {"model": "/etc/passwd"}, {"model": 5}],
    "model": [MODEL, "gpt-realtime", "/etc/passwd", "../x.onnx"],
    "metadata": [{"a": "b"}, {"a": 1}, {"a": {"b": "c"}}],
    "include": [["item.input_audio_transcription.logprobs"], ["everything"]],
}  # fmt: skip
KEYS = {
    (): ["event_id", "type", "x_unknown"],
    ("session",): [*SESSION, "tool_choice", "output_modalities", "audio", "max_output_tokens", "reasoning", "type"],
    ("session", "audio"): ["input", "output"],
    ("session", "audio", "input"): [
        "format",
        "turn_detection",
        "transcription",
        "noise_reduction",
        "echo_cancellation",
    ],
    ("session", "audio", "output"): ["format", "voice", "speed"],
    ("response",): [*response_judges(False), "tool_choice", "output_modalities", "audio", "reasoning"],
    ("response", "audio"): ["output"],
    ("response", "audio", "output"): ["format", "voice"],
    ("item",): ["id", "type", "role", "content", "status", "object", "name", "call_id", "arguments", "output"],
}
"""The keys worth adding to an object, by its place."""


def values(key: Any) -> st.SearchStrategy[Any]:
    json_values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=8,
    )
    pools = [st.sampled_from(HOSTILE), json_values]
    if key in CANDIDATES:
        pools = [st.sampled_from(CANDIDATES[key]), *pools]
    return st.one_of(*pools)


def containers(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """Every object and array in a message, with its path."""
    if isinstance(value, dict):
        yield path, value
        for key, child in value.items():
            yield from containers(child, (*path, key))
    elif isinstance(value, list) and depth(value) < 5:
        yield path, value
        for index, child in enumerate(value):
            yield from containers(child, (*path, index))


def slots(event: dict[str, Any]) -> list[tuple[Any, Any, str | None]]:
    """Where a value may be put: each field of each object (and the fields worth adding), each element of each array
    (and one more); with the field name it goes under."""
    places: list[tuple[Any, Any, str | None]] = []
    for path, node in containers(event):
        names = tuple(part for part in path if isinstance(part, str))
        if isinstance(node, dict):
            places += [(node, key, key) for key in sorted(set(node) | set(KEYS.get(names, ["x_unknown"])))]
        else:
            places += [(node, index, names[-1] if names else None) for index in range(len(node) + 1)]
    return places


@st.composite
def mutated(draw: st.DrawFn, event: dict[str, Any]) -> dict[str, Any]:
    """The event with one or two of its fields set to hostile values (or removed, or added)."""
    event = copy.deepcopy(event)
    for _ in range(draw(st.integers(1, 2))):
        node, slot, name = draw(st.sampled_from(slots(event)))
        if isinstance(node, dict) and slot in node and slot != "type" and draw(st.integers(0, 5)) == 0:
            del node[slot]
        elif isinstance(node, dict):
            node[slot] = copy.deepcopy(draw(values(name)))
        else:
            node[slot : slot + 1] = [copy.deepcopy(draw(values(name)))]
    return event


USER_TEXT = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say yes."}]}
REFERENCE = {"type": "item_reference", "id": ANCHOR}


def templates(kind: str, ga: bool) -> list[dict[str, Any]]:
    """Valid events of a kind (without ``type`` and ``event_id``), to start from."""
    assistant = {"type": "message", "role": "assistant", "content": [{"type": "output_text" if ga else "text"}]}
    response = {"output_modalities" if ga else "modalities": ["text"], "max_output_tokens": 4, "instructions": "Hi."}
    audio_out = {"audio": {"output": {"voice": "alloy"}}} if ga else {"voice": "alloy"}
    by_kind: dict[str, list[dict[str, Any]]] = {
        "session.update": [
            {"session": {"type": "realtime", "instructions": "Be brief.", "output_modalities": ["text"]}},
            {
                "session": {
                    "type": "realtime",
                    "audio": {
                        "input": {"format": {"type": "audio/pcm", "rate": 24000}, "turn_detection": None},
                        "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
                    },
                }
            },
            {"session": {"type": "realtime", "tools": [FUNCTION], "tool_choice": "auto", "max_output_tokens": 8}},
            {"session": {"type": "transcription", "input_audio_format": "pcm16"}},
        ]
        if ga
        else [
            {"session": {"instructions": "Be brief.", "voice": "alloy", "temperature": 0.5}},
            {"session": {"turn_detection": {"type": "server_vad", "silence_duration_ms": 400}, "modalities": ["text"]}},
            {"session": {"tools": [FUNCTION], "tool_choice": "auto", "max_response_output_tokens": 8}},
            {"session": {"voice": {"type": "azure-standard", "name": "alloy", "rate": "+10%"}, "speed": 1.2}},
        ],
        "input_audio_buffer.append": [{"audio": AUDIO}],
        "conversation.item.create": [
            {"item": USER_TEXT},
            {"item": {**USER_TEXT, "id": "item_new"}, "previous_item_id": "root"},
            {"item": {"type": "message", "role": "system", "content": [{"type": "input_text", "text": "Be kind."}]}},
            {"item": assistant},
            {"item": {"type": "function_call", "name": "f", "call_id": "call_1", "arguments": "{}"}},
            {"item": {"type": "message", "role": "user", "content": [{"type": "input_audio", "audio": AUDIO}]}},
        ],
        "conversation.item.retrieve": [{"item_id": ANCHOR}],
        "conversation.item.truncate": [{"item_id": ANCHOR, "content_index": 0, "audio_end_ms": 0}],
        "conversation.item.delete": [{"item_id": ANCHOR}],
        "response.create": [
            {"response": response},
            {"response": {**response, "conversation": "none", "input": [USER_TEXT, REFERENCE]}},
            {
                "response": {**response, **audio_out, "tools": [FUNCTION], "tool_choice": "none", "temperature": 0.5},
                "additional_instructions": "Be nice.",
            },
        ],
        "response.cancel": [{}, {"response_id": "resp_missing"}],
        "session.avatar.connect": [{"client_sdp": "v=0"}],
        "input_audio.turn.start": [{"turn_id": "turn_new"}],
        "input_audio.turn.append": [{"turn_id": TURN, "audio": AUDIO}],
        "input_audio.turn.end": [{"turn_id": TURN}],
        "input_audio.turn.cancel": [{"turn_id": TURN}],
        "input_text.delta": [{"id": "typed_new", "delta": "Hello"}],
        "input_text.done": [{"id": TEXT_ID}],
        "transcription_session.update": [{"session": {"input_audio_format": "pcm16", "include": []}}],
    }  # fmt: skip
    return by_kind.get(kind, [{}])


SETUP: dict[str, list[dict[str, Any]]] = {
    "input_audio_buffer.commit": [{"type": "input_audio_buffer.append", "audio": b64(bytes(9600))}],
    "input_audio.turn.append": [{"type": "input_audio.turn.start", "turn_id": TURN}],
    "input_audio.turn.end": [
        {"type": "input_audio.turn.start", "turn_id": TURN},
        {"type": "input_audio.turn.append", "turn_id": TURN, "audio": b64(bytes(9600))},
    ],
    "input_audio.turn.cancel": [{"type": "input_audio.turn.start", "turn_id": TURN}],
    "input_text.done": [{"type": "input_text.delta", "id": TEXT_ID, "delta": "Hello"}],
}
"""Events sent before a fuzzed event of a kind, to make its template valid."""


@dataclass
class Case:
    """One fuzzed message and what the server must do with it."""

    kind: str
    """The event type fuzzed (its setup and clean-up)."""
    frame: str | bytes
    verdict: Verdict
    ack_kind: str | None = None
    """The type whose acknowledgement is expected if the message is accepted."""
    event_id: str | None = None
    """The ``event_id`` an error must name."""
    audio: float = 0.0
    """The seconds of audio it holds, at most."""


def audio_seconds(event: dict[str, Any]) -> float:
    """The seconds of pcm16 audio (24 kHz, the fuzzed sessions' input) an event holds, at most."""
    audio = event.get("audio")
    return len(audio) * 3 / 4 / 48_000 if isinstance(audio, str) else 0.0


def case_of(kind: str, event: dict[str, Any], ga: bool, frame: str | None = None) -> Case:
    verdict, ack_kind = judge_event(event, ga, kind)
    event_id = event.get("event_id")
    frame = json.dumps(event) if frame is None else frame
    named = isinstance(event_id, str) and not _lone_surrogate(event_id)
    return Case(kind, frame, verdict, ack_kind, event_id if named else None, audio_seconds(event))


@st.composite
def fuzzed(draw: st.DrawFn, kind: str, ga: bool) -> Case:
    event = {"type": kind, "event_id": "fuzz", **draw(st.sampled_from(templates(kind, ga)))}
    return case_of(kind, draw(mutated(event)), ga)


# --- the fuzzed sessions --------------------------------------------------------------------------------------------

ENDPOINTS = {"voicelive": "/voice-live/realtime?api-version=2025-10-01&model=m", "openai": "/v1/realtime?model=m"}


def baseline(ga: bool) -> dict[str, Any]:
    """The fuzzed sessions' settings (restored after every accepted update): text replies of a few tokens, no turn
    detection, pcm16 input."""
    classic = {
        "modalities": ["text"],
        "instructions": "Answer in one word.",
        "voice": "en_US-joe-medium",
        "input_audio_format": "pcm16",
        "input_audio_sampling_rate": 24000,
        "output_audio_format": "pcm16",
        "turn_detection": None,
        "input_audio_noise_reduction": None,
        "input_audio_echo_cancellation": None,
        "input_audio_transcription": None,
        "tools": [],
        "tool_choice": "auto",
        "temperature": 0.0,
        "max_response_output_tokens": 4,
        **dict.fromkeys(
            ("speed", "reasoning_effort", "animation", "avatar", "output_audio_timestamp_types", "include")
        ),
        **dict.fromkeys(("metadata", "parallel_tool_calls", "interim_response")),
    }
    if not ga:
        return {"type": "session.update", "session": classic}
    session = {k: v for k, v in classic.items() if k not in ("modalities", "max_response_output_tokens")}
    return {
        "type": "session.update",
        "session": {"type": "realtime", "output_modalities": ["text"], "max_output_tokens": 4, **session},
    }


ASYNC_ERRORS = {"generation_error", "mcp_list_tools_failed"}
"""Errors of a response or an MCP listing under way, which come when they come."""


class ServerFailure(AssertionError):
    """The server closed the socket, or said nothing."""


class Fuzzed:
    """One connection to an endpoint, kept across examples."""

    def __init__(self, server: Server, name: str) -> None:
        self.server = server
        self.name = name
        self.client: Client | None = None
        self.items: set[str] = set()
        """Items created by the fuzzing (deleted after each example)."""
        self.count = itertools.count()
        self.log_offset = 0
        self.audio_clock = 0.0
        """How far the session's input audio has run ahead of real time, at most (the server refuses audio sent
        more than a minute ahead)."""
        self.opened = 0.0

    def __repr__(self) -> str:
        return f"<{self.name} session>"

    @property
    def ga(self) -> bool:
        return self.name == "openai"

    @property
    def item_created(self) -> str:
        return "conversation.item.added" if self.ga else "conversation.item.created"

    @property
    def log(self) -> Path:
        return Path(self.server.process.args[-1]).parent / "server.log"  # type: ignore[index]

    async def connect(self, audio: float = 0.0) -> Client:
        """The connection, or a new one when the old one is closed or ``audio`` seconds more would run its audio clock
        too far ahead."""
        self.audio_clock += audio
        ahead = self.audio_clock - (time.monotonic() - self.opened)
        if self.client is not None and self.client.connection.state is State.OPEN and ahead < 30:
            return self.client
        if self.client is not None:
            await self.client.connection.close()
        connection = await websockets.connect(f"{self.server.ws}{ENDPOINTS[self.name]}", max_size=None)
        self.client = client = Client(connection)
        self.opened, self.audio_clock = time.monotonic(), audio
        await client.until("conversation.created", timeout=30)
        self.items.clear()
        await client.send(baseline(self.ga))
        await client.until("session.updated", timeout=30)
        await client.send({"type": "conversation.item.create", "item": {**USER_TEXT, "id": ANCHOR}})
        await client.until(self.item_created, timeout=30)
        self.log_offset = self.log.stat().st_size
        return client

    async def read_until(self, done: Callable[[dict[str, Any]], bool], what: str) -> list[dict[str, Any]]:
        """Events up to the one ``done`` picks; a closed socket or silence fails."""
        assert self.client is not None
        got: list[dict[str, Any]] = []
        while True:
            try:
                event = await self.client.recv(timeout=60)
            except ConnectionClosed as closed:
                raise ServerFailure(f"the server closed the socket ({closed}) before {what}; got {got}") from None
            except TimeoutError:
                raise ServerFailure(f"no answer in 60 s while waiting for {what}; got {got}") from None
            got.append(event)
            if event["type"] == self.item_created and isinstance(event.get("item"), dict):
                self.items.add(event["item"]["id"])
            if event["type"] == "conversation.item.deleted":
                self.items.discard(event["item_id"])
            if done(event):
                return got

    async def sync(self, tag: str) -> list[dict[str, Any]]:
        """Every event the server sent before it handles a new one (an error that names ``tag``)."""
        assert self.client is not None
        await self.client.send({"type": "conversation.item.retrieve", "event_id": tag, "item_id": tag})
        return await self.read_until(lambda e: e["type"] == "error" and e["error"].get("event_id") == tag, tag)

    async def check(self, case: Case) -> None:
        """Send a fuzzed message, check the answer, check the session still works, and clean up after it."""
        setups = SETUP.get(case.kind, [])
        client = await self.connect(sum(map(audio_seconds, setups)) + case.audio)
        n = next(self.count)
        for index, setup in enumerate(setups):
            await client.send({**setup, "event_id": f"setup-{n}-{index}"})
        await client.send(case.frame)
        probe = f"probe_{n}"
        await client.send({"type": "conversation.item.create", "event_id": probe, "item": {**USER_TEXT, "id": probe}})
        got = await self.read_until(
            lambda e: (
                (e["type"] == self.item_created and e["item"]["id"] == probe)
                or (e["type"] == "error" and e["error"].get("event_id") == probe)
            ),
            f"the probe item after {case}",
        )
        assert got[-1]["type"] == self.item_created, f"the session no longer adds items after {case}: {got[-1]}"
        later = await self.clean_up(case, n)
        self.judge(case, got[:-1], later)
        self.check_log(case)
        if n % 15 == 14:
            await self.still_answers()

    def judge(self, case: Case, got: list[dict[str, Any]], later: list[dict[str, Any]]) -> None:
        """Check the answer to a fuzzed message: ``got`` before the probe, ``later`` up to the clean-up (a response
        is announced once its task runs, which may be after the probe)."""
        errors = [e for e in got if e["type"] == "error"]
        for error in errors:
            details = error.get("error") or {}
            assert isinstance(details.get("code"), str) and details["code"], f"an error without a code: {error}"
            assert isinstance(details.get("message"), str) and details["message"], f"an error without text: {error}"
            assert not str(details.get("event_id", "")).startswith("setup-"), f"the set-up failed: {error}"
        mine = [e for e in errors if e["error"].get("event_id") == case.event_id]
        others = [e for e in errors if e not in mine and e["error"].get("code") not in ASYNC_ERRORS]
        assert not others, f"errors that do not name the event_id of {case}: {others}"
        ack = ACKS.get(case.ack_kind or "")
        if self.ga and ack == "conversation.item.created":
            ack = self.item_created
        acked = ack is None or any(e["type"] == ack for e in got + later)
        answer = f"{case} got {[e['type'] for e in got]} {mine}"
        if case.verdict == ERR:
            assert mine, f"no error for an invalid event: {answer}"
        elif case.verdict == OK:
            assert not mine and acked, f"a valid event was refused or not acknowledged: {answer}"
        else:
            assert mine or acked, f"neither an error nor an acknowledgement: {answer}"

    async def clean_up(self, case: Case, n: int) -> list[dict[str, Any]]:
        """Put the session back as it was: no response, no audio, no open turn or text, the baseline settings, and
        only the anchor item. Returns the events up to then."""
        assert self.client is not None
        send = self.client.send
        tag, cancel = f"cleanup-{n}", f"cancel-{n}"
        await send({"type": "response.cancel", "event_id": cancel})
        await send({"type": "input_audio_buffer.clear", "event_id": tag})
        try:
            event = json.loads(case.frame)
        except (ValueError, RecursionError):
            event = {}
        turn = event.get("turn_id") if isinstance(event, dict) else None
        for turn_id in {TURN, *([turn] if isinstance(turn, str) else [])}:
            await send({"type": "input_audio.turn.cancel", "event_id": tag, "turn_id": turn_id})
        text_id = event.get("id") if isinstance(event, dict) else None
        for streaming in {TEXT_ID, *([text_id] if isinstance(text_id, str) else [])}:
            await send({"type": "input_text.done", "event_id": tag, "id": streaming})
        if case.kind in ("session.update", "transcription_session.update") or case.ack_kind != case.kind:
            await send({**baseline(self.ga), "event_id": tag})
        later = await self.sync(f"sync-{n}")
        refused = any(e["type"] == "error" and e["error"].get("event_id") == cancel for e in later)
        if not refused and not any(e["type"] == "response.done" for e in later):  # a response was cancelled
            later += await self.read_until(lambda e: e["type"] == "response.done", "the end of a cancelled response")
        for item_id in sorted(self.items - {ANCHOR}):
            await send({"type": "conversation.item.delete", "event_id": tag, "item_id": item_id})
        await send({"type": "conversation.item.create", "event_id": tag, "item": {**USER_TEXT, "id": ANCHOR}})
        await self.sync(f"sync-{n}-items")
        return later

    def check_log(self, case: Case) -> None:
        with self.log.open("rb") as log:
            log.seek(self.log_offset)
            new = log.read().decode(errors="replace")
        self.log_offset += len(new.encode(errors="replace"))
        assert "Traceback" not in new, f"the server logged an exception after {case}:\n{new[-3000:]}"

    async def still_answers(self) -> None:
        """A short text response to the anchor completes."""
        assert self.client is not None
        response: dict[str, Any] = {"max_output_tokens": 3, "instructions": "Answer in one word."}
        response["output_modalities" if self.ga else "modalities"] = ["text"]
        await self.client.send({"type": "response.create", "event_id": "alive", "response": response})
        got = await self.read_until(lambda e: e["type"] in ("response.done", "error"), "a response")
        assert got[-1]["type"] == "response.done", got[-1]
        assert got[-1]["response"]["status"] in ("completed", "incomplete"), got[-1]
        for item_id in sorted(self.items - {ANCHOR}):
            await self.client.send({"type": "conversation.item.delete", "item_id": item_id})
        await self.sync("alive-sync")


@pytest.fixture(scope="module")
async def fuzzed_sessions(server: Server) -> AsyncIterator[dict[str, Fuzzed]]:
    sessions = {name: Fuzzed(server, name) for name in ENDPOINTS}
    yield sessions
    for session in sessions.values():
        if session.client is not None:
            await session.client.connection.close()


SCALE = float(os.environ.get("VOXLIVE_FUZZ_SCALE", "1"))
"""More examples (10: ten times as many) for a deeper search than the test suite's."""
FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)


def examples(count: int) -> settings:
    return settings(FUZZ, max_examples=max(1, round(count * SCALE)))


RICH = ["session.update", "conversation.item.create", "response.create"]


@pytest.mark.parametrize("kind", RICH)
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@given(data=st.data())
@examples(20)
async def test_hostile_values_in_rich_events(
    fuzzed_sessions: dict[str, Fuzzed], endpoint: str, kind: str, data: st.DataObject
) -> None:
    session = fuzzed_sessions[endpoint]
    await session.check(data.draw(fuzzed(kind, session.ga)))


@pytest.mark.parametrize("kind", [kind for kind in KINDS if kind not in RICH])
@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@given(data=st.data())
@examples(6)
async def test_hostile_values(
    fuzzed_sessions: dict[str, Fuzzed], endpoint: str, kind: str, data: st.DataObject
) -> None:
    session = fuzzed_sessions[endpoint]
    await session.check(data.draw(fuzzed(kind, session.ga)))


DEEP = (101, 150, 500, 5000, 100_000)
"""Nesting depths past the limit: up to 500 a message still decodes (and its event_id is named), past 1000 not."""


@st.composite
def malformed(draw: st.DrawFn, ga: bool) -> Case:
    """A message that is not JSON, not an object, too deep, binary, or JSON of a strange form."""
    kind = draw(st.sampled_from(KINDS))
    event = {"type": kind, "event_id": "fuzz", **draw(st.sampled_from(templates(kind, ga)))}
    valid = json.dumps(event)
    how = draw(st.sampled_from(["truncated", "garbage", "not an object", "deep", "binary", "blank", "odd", "literal"]))
    if how == "truncated":
        return Case(kind, valid[: draw(st.integers(0, len(valid) - 1))], ERR)
    if how == "garbage":
        garbage = ["}", "]", ",", "x", "{}", '{"type": "input_audio.clear"}', "\x00", "// more", "\ufeff", "\\udfff"]
        return Case(kind, valid + draw(st.sampled_from(garbage)), ERR)
    if how == "not an object":
        json_values = st.recursive(
            st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
            lambda inner: st.lists(inner, max_size=3),
        )
        return Case(kind, json.dumps(draw(json_values)), ERR)
    if how == "deep":
        levels = draw(st.sampled_from(DEEP))
        opening, closing = draw(st.sampled_from([("[", "]"), ('{"a": ', "}")]))
        nest = opening * levels + "0" + closing * levels
        if draw(st.booleans()):
            return Case(kind, nest, ERR)
        return Case(kind, valid[:-1] + f', "x": {nest}}}', ERR, event_id="fuzz" if levels <= 500 else None)
    if how == "binary":
        return Case(kind, draw(st.sampled_from([valid.encode(), b"", b"\x00\xff" * 100, bytes(range(256))])), ERR)
    if how == "blank":
        return Case(kind, draw(st.sampled_from(["", " ", "\n\t", "\ufeff" + valid, "null"])), ERR)
    if how == "odd":  # not JSON, though close to it
        odd = [
            valid.replace('"', "'"),
            valid.replace('"fuzz"', '"\\x41"'),
            valid.replace('"fuzz"', '"\\u12"'),
            valid.replace('"fuzz"', '"a\nb"'),
            valid.replace('"fuzz"', "fuzz"),
            valid[:-1] + ', "x": 1,}',
            valid[:-1] + ', "x": ' + "1" * 5000 + "}",
            valid[:-1] + ", 5}",
        ]
        return Case(kind, draw(st.sampled_from(odd)), ERR)
    # JSON's own strange forms that Python reads: they are judged like any event
    literal = draw(st.sampled_from(["NaN", "Infinity", "-Infinity", "1e999", "-0", "1" * 4000, '"\\ud800"']))
    key = draw(st.sampled_from(["x_unknown", *event.keys()]))
    text = valid[:-1] + f', "{key}": {literal}}}'  # a repeated key: the last one counts
    return case_of(kind, json.loads(text), ga, frame=text)


@pytest.mark.parametrize("endpoint", list(ENDPOINTS))
@given(data=st.data())
@examples(40)
async def test_malformed_messages(fuzzed_sessions: dict[str, Fuzzed], endpoint: str, data: st.DataObject) -> None:
    session = fuzzed_sessions[endpoint]
    await session.check(data.draw(malformed(session.ga)))
