"""Sessions, responses, items and audio formats in the classic shape and in the OpenAI GA shape, both ways."""

from __future__ import annotations

from typing import Any

from .parse import ProtocolError

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


def item_to_ga(item: Any) -> Any:
    """A classic item in the GA shape (its content parts renamed), changed in place."""
    return _item_parts(item, _PART_TO_GA)


def item_from_ga(item: Any) -> Any:
    """A GA item in the classic shape (its content parts renamed), changed in place."""
    return _item_parts(item, _PART_FROM_GA)


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
