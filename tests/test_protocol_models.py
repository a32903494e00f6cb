"""The wire models of the realtime protocol: every event type round-trips, errors name the bad field.

Reference: /work/shared/reference/voicelive-protocol.md (§1 events, §2 session, §5 items/responses).
The hand-written samples are JSON files in ``tests/data/protocol/``; a sample's ``"class"`` names the
``voxlive.protocol`` class it must parse to.
"""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

from voxlive import protocol
from voxlive.protocol import (
    CLIENT_EVENTS,
    SERVER_EVENTS,
    AudioContentPart,
    AudioEchoCancellation,
    AudioNoiseReduction,
    AzureSemanticDetection,
    AzureSemanticVad,
    AzureStandardVoice,
    ClientEventSessionUpdate,
    FoundryAgentTool,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputAudioContentPart,
    InputImageContentPart,
    InputTextContentPart,
    MCPApprovalFilter,
    MCPServer,
    MessageItem,
    OpenAIVoice,
    ProtocolError,
    RequestSession,
    ServerEvent,
    ServerEventResponseDone,
    ServerVad,
    StaticInterimResponseConfig,
    TextContentPart,
    UnknownServerEvent,
    WireModel,
    parse_client_event,
    parse_server_event,
)

JSON = dict[str, Any]
SAMPLES = Path(__file__).parent / "data" / "protocol"


def samples(name: str) -> Any:
    """The samples of ``tests/data/protocol/NAME.json``."""
    return json.loads((SAMPLES / f"{name}.json").read_text())


def model_class(name: str | None) -> Any:
    """The ``voxlive.protocol`` class of that name (``None`` for none)."""
    return None if name is None else getattr(protocol, name)


# --- a generic sample builder ---------------------------------------------------------------------


def sample_value(annotation: Any) -> Any:
    """A small valid JSON value for a type annotation of a wire model."""
    origin = get_origin(annotation)
    if origin is Annotated:
        return sample_value(get_args(annotation)[0])
    if origin is Literal:
        return get_args(annotation)[0]
    if origin in (Union, types.UnionType):
        # the first member that is not None (for a discriminated union: its first model)
        return sample_value(next(arg for arg in get_args(annotation) if arg is not type(None)))
    if origin is list:
        return [sample_value(get_args(annotation)[0])]
    if origin is dict or annotation is dict:
        return {}
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return sample_object(annotation)
    scalars: dict[Any, Any] = {str: "x", bool: True, int: 1, float: 0.5}
    if annotation in scalars:
        return scalars[annotation]
    raise TypeError(f"no sample for {annotation!r}")


def sample_object(model: type[BaseModel]) -> JSON:
    """The required fields of a model, plus its one-valued ``Literal`` tags (``type``, ``model``, …)."""
    out: JSON = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        annotation = field.annotation
        if field.is_required():
            out[key] = sample_value(annotation)
        elif get_origin(annotation) is Literal and len(get_args(annotation)) == 1:
            out[key] = get_args(annotation)[0]
    return out


def test_the_sample_builder_fills_required_fields_recursively() -> None:
    assert sample_object(CLIENT_EVENTS["conversation.item.truncate"]) == {
        "type": "conversation.item.truncate",
        "item_id": "x",
        "content_index": 1,
        "audio_end_ms": 1,
    }
    assert sample_object(SERVER_EVENTS["rate_limits.updated"]) == {
        "type": "rate_limits.updated",
        "rate_limits": [{"name": "x", "limit": 1, "remaining": 1, "reset_seconds": 0.5}],
    }
    assert sample_object(SERVER_EVENTS["conversation.item.created"])["item"] == {
        "type": "message",
        "role": "system",
    }


# --- comparison helpers ---------------------------------------------------------------------------


def assert_contains(actual: Any, expected: Any, path: str = "$") -> None:
    """``actual`` holds every key and value of ``expected`` (objects may have more keys)."""
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{path}: expected an object, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{path}: key {key!r} was lost"
            assert_contains(actual[key], value, f"{path}.{key}")
    elif isinstance(expected, list):
        assert isinstance(actual, list), f"{path}: expected a list, got {actual!r}"
        assert len(actual) == len(expected), f"{path}: {len(actual)} elements instead of {len(expected)}"
        for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
            assert_contains(got, want, f"{path}[{index}]")
    elif isinstance(expected, bool) or expected is None or isinstance(expected, str):
        assert actual == expected and type(actual) is type(expected), f"{path}: {actual!r} != {expected!r}"
    else:  # a number: an int may come back as a float of the same value, nothing else may change
        assert isinstance(actual, int | float) and not isinstance(actual, bool), f"{path}: {actual!r}"
        assert actual == expected, f"{path}: {actual!r} != {expected!r}"


def test_assert_contains_rejects_lost_or_changed_values() -> None:
    assert_contains({"a": [{"b": 1.0, "c": None}], "d": 2}, {"a": [{"b": 1, "c": None}]})
    for actual, expected in [
        ({"a": 1}, {"b": 1}),
        ({"a": None}, {"a": False}),
        ({"a": 1}, {"a": True}),
        ({"a": "1"}, {"a": 1}),
        ({"a": [1, 2]}, {"a": [1]}),
        ({"a": {"b": 1}}, {"a": {"b": 2}}),
    ]:
        with pytest.raises(AssertionError):
            assert_contains(actual, expected)


def check_client_round_trip(sample: JSON) -> WireModel:
    event = parse_client_event(json.dumps(sample))
    assert type(event) is CLIENT_EVENTS[sample["type"]]
    assert_contains(event.to_dict(), sample)
    again = parse_client_event(event.to_json())
    assert type(again) is type(event)
    assert again == event
    assert again.to_dict() == event.to_dict()
    return event


def check_server_round_trip(sample: JSON) -> WireModel:
    event = parse_server_event(json.dumps(sample))
    assert type(event) is SERVER_EVENTS[sample["type"]]
    assert_contains(event.to_dict(), sample)
    again = parse_server_event(event.to_json())
    assert type(again) is type(event)
    assert again == event
    assert again.to_dict() == event.to_dict()
    return event


# --- 1a. every event type, from generic samples ---------------------------------------------------


@pytest.mark.parametrize("kind", sorted(CLIENT_EVENTS))
def test_every_client_event_type_round_trips(kind: str) -> None:
    sample = sample_object(CLIENT_EVENTS[kind])
    assert sample["type"] == kind
    check_client_round_trip(sample)
    check_client_round_trip({**sample, "event_id": f"evt_{kind}"})


@pytest.mark.parametrize("kind", sorted(SERVER_EVENTS))
def test_every_server_event_type_round_trips(kind: str) -> None:
    sample = {**sample_object(SERVER_EVENTS[kind]), "event_id": f"event_{kind}"}
    assert sample["type"] == kind
    event = check_server_round_trip(sample)
    assert event.to_dict()["event_id"] == f"event_{kind}"


@pytest.mark.parametrize("kind", sorted(SERVER_EVENTS))
def test_a_server_event_without_event_id_gets_one(kind: str) -> None:
    event = parse_server_event(json.dumps(sample_object(SERVER_EVENTS[kind])))
    assert isinstance(event, ServerEvent)
    assert isinstance(event.event_id, str) and event.event_id.startswith("event_")
    assert event.to_dict()["event_id"] == event.event_id


# --- 1b. rich hand-written samples (tests/data/protocol/) -------------------------------------------

SESSIONS = samples("sessions")
FULL_SESSION: JSON = SESSIONS["full"]
SERVER_VAD: JSON = SESSIONS["server_vad"]
AZURE_SEMANTIC_VAD: JSON = SESSIONS["azure_semantic_vad"]
VOICES: dict[str, tuple[Any, type | None]] = {
    name: (form["voice"], model_class(form["class"])) for name, form in samples("voices").items()
}
TOOL_CHOICES: dict[str, tuple[Any, type | None]] = {
    name: (form["tool_choice"], model_class(form["class"])) for name, form in samples("tool_choices").items()
}
ITEMS: dict[str, tuple[JSON, type]] = {
    name: (form["item"], model_class(form["class"])) for name, form in samples("items").items()
}
PART_CLASSES = {
    "input_text": InputTextContentPart,
    "input_audio": InputAudioContentPart,
    "input_image": InputImageContentPart,
    "text": TextContentPart,
    "audio": AudioContentPart,
}
RESPONSES = samples("responses")
USAGE: JSON = RESPONSES["response"]["usage"]
STATUS_DETAILS: dict[str, tuple[str, JSON | None, type | None]] = {
    name: (form["status"], form["status_details"], model_class(form["class"]))
    for name, form in RESPONSES["status_details"].items()
}


def full_response(status: str, status_details: JSON | None) -> JSON:
    return {**RESPONSES["response"], "status": status, "status_details": status_details}


RESPONSE_CREATE_PARAMS: JSON = {
    **RESPONSES["create"],
    "append_input_items": [ITEMS["message-user"][0]],
    "input_items": [ITEMS["message-system"][0], ITEMS["function_call_output"][0]],
    "tools": [FULL_SESSION["tools"][0]],
}


def _session_update(**session: Any) -> JSON:
    return {"type": "session.update", "event_id": "evt_su", "session": session}


RICH_CLIENT_SAMPLES: list[Any] = [
    pytest.param(_session_update(**FULL_SESSION), id="session.update-full-vad-null"),
    pytest.param(_session_update(**FULL_SESSION | {"turn_detection": SERVER_VAD}), id="session.update-vad"),
    pytest.param(
        _session_update(turn_detection=AZURE_SEMANTIC_VAD, input_audio_noise_reduction={"type": "far_field"}),
        id="session.update-azure_semantic_vad",
    ),
    *[
        pytest.param(_session_update(voice=voice), id=f"session.update-voice-{name}")
        for name, (voice, _) in VOICES.items()
    ],
    *[
        pytest.param(_session_update(tool_choice=choice), id=f"session.update-tool_choice-{name}")
        for name, (choice, _) in TOOL_CHOICES.items()
    ],
    *[
        pytest.param(
            {"type": "conversation.item.create", "event_id": "evt_ic", "previous_item_id": "root", "item": item},
            id=f"conversation.item.create-{name}",
        )
        for name, (item, _) in ITEMS.items()
    ],
    pytest.param(
        {
            "type": "response.create",
            "event_id": "evt_rc",
            "response": RESPONSE_CREATE_PARAMS,
            "additional_instructions": "Be extra polite.",
        },
        id="response.create-full",
    ),
    *[pytest.param(event, id=name) for name, event in samples("rich_client_events").items()],
]

RICH_SERVER_SAMPLES: list[Any] = [
    pytest.param(
        {
            "type": "session.created",
            "event_id": "event_sc",
            "session": {
                **FULL_SESSION,
                "turn_detection": AZURE_SEMANTIC_VAD,
                "id": "sess_1",
                "object": "realtime.session",
                "agent": {
                    "type": "agent",
                    "name": "helper",
                    "description": "An agent.",
                    "agent_id": "asst_1",
                    "thread_id": "thread_1",
                },
                "expires_at": 1767225600,
            },
        },
        id="session.created-full",
    ),
    *[
        pytest.param(
            {"type": "response.done", "event_id": "event_rd", "response": full_response(status, details)},
            id=f"response.done-{name}",
        )
        for name, (status, details, _) in STATUS_DETAILS.items()
    ],
    *[
        pytest.param(
            {
                "type": "conversation.item.created",
                "event_id": f"event_ic_{name}",
                "previous_item_id": "item_prev",
                "item": item,
            },
            id=f"conversation.item.created-{name}",
        )
        for name, (item, _) in ITEMS.items()
    ],
    *[pytest.param(event, id=name) for name, event in samples("rich_server_events").items()],
]


@pytest.mark.parametrize("sample", RICH_CLIENT_SAMPLES)
def test_rich_client_events_round_trip(sample: JSON) -> None:
    event = check_client_round_trip(sample)
    assert event.to_dict().get("event_id") == sample.get("event_id")


@pytest.mark.parametrize("sample", RICH_SERVER_SAMPLES)
def test_rich_server_events_round_trip(sample: JSON) -> None:
    event = check_server_round_trip(sample)
    assert event.to_dict()["event_id"] == sample["event_id"]


def test_rich_samples_cover_every_item_and_content_part_type() -> None:
    item_types = {item["type"] for item, _ in ITEMS.values()}
    assert item_types == {cls.model_fields["type"].default for _, cls in ITEMS.values()}
    assert len(item_types) == 10
    part_types = {part["type"] for item, _ in ITEMS.values() for part in item.get("content", [])}
    assert part_types == set(PART_CLASSES)


def test_full_session_update_is_typed_throughout() -> None:
    event = parse_client_event(json.dumps(_session_update(**{**FULL_SESSION, "turn_detection": SERVER_VAD})))
    assert isinstance(event, ClientEventSessionUpdate)
    session = event.session
    assert isinstance(session, RequestSession)
    assert isinstance(session.voice, AzureStandardVoice)
    assert session.voice.prefer_locales == ["en-US", "en-GB"]
    assert isinstance(session.turn_detection, ServerVad)
    assert session.turn_detection.idle_timeout_ms == 5000 and session.turn_detection.auto_truncate is True
    assert isinstance(session.input_audio_noise_reduction, AudioNoiseReduction)
    assert isinstance(session.input_audio_echo_cancellation, AudioEchoCancellation)
    assert session.input_audio_echo_cancellation.channels == 2
    assert session.avatar is not None and session.avatar.video is not None
    assert session.avatar.video.resolution is not None and session.avatar.video.resolution.width == 1920
    assert session.avatar.ice_servers is not None and session.avatar.ice_servers[1].username is None
    assert session.animation is not None and session.animation.outputs == ["blendshapes", "viseme_id"]
    tools = session.tools or []
    assert [type(tool) for tool in tools] == [FunctionTool, MCPServer, MCPServer, FoundryAgentTool]
    assert isinstance(tools[1], MCPServer) and isinstance(tools[1].require_approval, MCPApprovalFilter)
    assert tools[1].require_approval.never == ["search"]
    assert isinstance(tools[2], MCPServer) and tools[2].require_approval == "never"
    assert isinstance(session.interim_response, StaticInterimResponseConfig)
    assert session.max_response_output_tokens == "inf"


def test_azure_semantic_vad_with_end_of_utterance_detection_is_typed() -> None:
    event = parse_client_event(json.dumps(_session_update(turn_detection=AZURE_SEMANTIC_VAD)))
    assert isinstance(event, ClientEventSessionUpdate)
    vad = event.session.turn_detection
    assert isinstance(vad, AzureSemanticVad)
    assert vad.languages == ["en", "de"] and vad.remove_filler_words is True
    assert isinstance(vad.end_of_utterance_detection, AzureSemanticDetection)
    assert vad.end_of_utterance_detection.threshold_level == "high"


@pytest.mark.parametrize("name", list(VOICES))
def test_each_voice_form_parses_to_its_class(name: str) -> None:
    voice, cls = VOICES[name]
    event = parse_client_event(json.dumps(_session_update(voice=voice)))
    assert isinstance(event, ClientEventSessionUpdate)
    if cls is None:
        assert event.session.voice == voice
    else:
        assert type(event.session.voice) is cls
        assert event.to_dict()["session"]["voice"] == voice


@pytest.mark.parametrize("name", list(TOOL_CHOICES))
def test_each_tool_choice_form_parses_to_its_class(name: str) -> None:
    choice, cls = TOOL_CHOICES[name]
    event = parse_client_event(json.dumps(_session_update(tool_choice=choice)))
    assert isinstance(event, ClientEventSessionUpdate)
    if cls is None:
        assert event.session.tool_choice == choice
    else:
        assert type(event.session.tool_choice) is cls


@pytest.mark.parametrize("name", list(ITEMS))
def test_each_item_type_parses_to_its_class(name: str) -> None:
    item, cls = ITEMS[name]
    event = parse_client_event(json.dumps({"type": "conversation.item.create", "item": item}))
    parsed = event.item  # type: ignore[attr-defined]
    assert type(parsed) is cls
    for part, raw in zip(getattr(parsed, "content", []), item.get("content", []), strict=True):
        assert type(part) is PART_CLASSES[raw["type"]]


def test_response_create_params_are_typed() -> None:
    event = parse_client_event(json.dumps({"type": "response.create", "response": RESPONSE_CREATE_PARAMS}))
    params = event.response  # type: ignore[attr-defined]
    assert params.tool_choice == "get_weather"
    assert isinstance(params.voice, OpenAIVoice)
    assert [type(item) for item in params.input_items] == [MessageItem, FunctionCallOutputItem]
    assert params.input == []
    assert isinstance(params.pre_generated_assistant_message, MessageItem)
    assert params.max_output_tokens == 256 and params.max_response_output_tokens == "inf"


@pytest.mark.parametrize("name", list(STATUS_DETAILS))
def test_response_done_status_details_and_usage_are_typed(name: str) -> None:
    status, details, cls = STATUS_DETAILS[name]
    sample = {"type": "response.done", "response": full_response(status, details)}
    event = parse_server_event(json.dumps(sample))
    response = event.response  # type: ignore[attr-defined]
    assert response.status == status
    if cls is None:
        assert response.status_details is None
        assert event.to_dict()["response"]["status_details"] is None
    else:
        assert type(response.status_details) is cls
    assert [type(item) for item in response.output] == [MessageItem, FunctionCallItem]
    assert response.usage.input_token_details.cached_tokens_details.text_tokens == 4
    assert response.usage.output_token_details.audio_tokens == 20
    assert event.to_dict()["response"]["usage"] == USAGE


def test_status_details_reason_is_checked() -> None:
    bad = full_response("cancelled", {"type": "cancelled", "reason": "interruption"})
    with pytest.raises(ValueError, match="reason"):
        ServerEventResponseDone.model_validate({"type": "response.done", "response": bad})
    # A malformed server event is not typed, and nothing of it is lost.
    event = parse_server_event(json.dumps({"type": "response.done", "event_id": "e", "response": bad}))
    assert type(event) is UnknownServerEvent
    assert event.to_dict() == {"type": "response.done", "event_id": "e", "response": bad}


@pytest.mark.parametrize("kind", [["a"], 5, None])
def test_a_server_event_with_a_strange_type_is_kept_not_raised(kind: object) -> None:
    event = parse_server_event(json.dumps({"type": kind, "event_id": "e", "x": 1}))
    assert type(event) is UnknownServerEvent and event.x == 1  # type: ignore[attr-defined]


def test_union_errors_name_the_real_problem() -> None:
    with pytest.raises(ProtocolError) as caught:
        parse_client_event('{"type":"session.update","session":{"voice":{"type":"azure-custom","name":"x"}}}')
    assert caught.value.param == "session.voice.endpoint_id"
    assert caught.value.code == "missing_required_parameter"
    with pytest.raises(ProtocolError) as caught:
        parse_client_event('{"type":"session.update","session":{"tool_choice":{"type":"function"}}}')
    assert caught.value.param == "session.tool_choice.name"


# --- 2. the event types named in the reference ----------------------------------------------------

REFERENCE_EVENTS = samples("reference_events")
REFERENCE_CLIENT_EVENTS: list[str] = REFERENCE_EVENTS["client"]
REFERENCE_SERVER_EVENTS: list[str] = REFERENCE_EVENTS["server"]


def test_every_client_event_of_the_reference_is_modelled() -> None:
    assert len(set(REFERENCE_CLIENT_EVENTS)) == len(REFERENCE_CLIENT_EVENTS)
    missing = [kind for kind in REFERENCE_CLIENT_EVENTS if kind not in CLIENT_EVENTS]
    assert missing == []


def test_every_server_event_of_the_reference_is_modelled() -> None:
    assert len(set(REFERENCE_SERVER_EVENTS)) == len(REFERENCE_SERVER_EVENTS)
    missing = [kind for kind in REFERENCE_SERVER_EVENTS if kind not in SERVER_EVENTS]
    assert missing == []


def test_event_tables_are_keyed_by_their_wire_type() -> None:
    for table in (CLIENT_EVENTS, SERVER_EVENTS):
        for kind, cls in table.items():
            assert cls.model_fields["type"].default == kind
            assert cls.model_validate(sample_object(cls)).type == kind


# --- 3. unknown server events ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "sample", [pytest.param(event, id=name) for name, event in samples("unknown_server_events").items()]
)
def test_unknown_server_events_keep_every_field(sample: JSON) -> None:
    assert sample["type"] not in SERVER_EVENTS
    event = parse_server_event(json.dumps(sample))
    assert type(event) is UnknownServerEvent
    assert event.type == sample["type"]
    assert event.to_dict() == sample
    assert json.loads(event.to_json()) == sample
    assert parse_server_event(event.to_json()) == event


# --- 4. explicit null versus absent ---------------------------------------------------------------


def test_explicit_null_turn_detection_survives_a_round_trip() -> None:
    event = parse_client_event('{"type": "session.update", "session": {"turn_detection": null}}')
    assert isinstance(event, ClientEventSessionUpdate)
    assert event.session.turn_detection is None
    assert event.to_dict() == {"type": "session.update", "session": {"turn_detection": None}}
    assert json.loads(event.to_json()) == {"type": "session.update", "session": {"turn_detection": None}}
    again = parse_client_event(event.to_json())
    assert again.to_dict() == {"type": "session.update", "session": {"turn_detection": None}}


def test_absent_fields_stay_absent() -> None:
    event = parse_client_event('{"type": "session.update", "session": {"instructions": "hi"}}')
    assert event.to_dict() == {"type": "session.update", "session": {"instructions": "hi"}}
    assert "turn_detection" not in json.loads(event.to_json())["session"]
    vad = parse_client_event(
        {"type": "session.update", "session": {"turn_detection": {"type": "server_vad"}}},
    )
    assert "end_of_utterance_detection" not in vad.to_dict()["session"]["turn_detection"]
    assert "speech_duration_ms" not in vad.to_dict()["session"]["turn_detection"]


def test_explicit_null_set_in_python_is_serialized() -> None:
    assert ClientEventSessionUpdate(session=RequestSession(turn_detection=None)).to_dict() == {
        "type": "session.update",
        "session": {"turn_detection": None},
    }
    assert ClientEventSessionUpdate(session=RequestSession()).to_dict() == {
        "type": "session.update",
        "session": {},
    }


# --- 5. precise validation errors -----------------------------------------------------------------


def protocol_error(data: str | bytes | JSON) -> ProtocolError:
    with pytest.raises(ProtocolError) as caught:
        parse_client_event(data if isinstance(data, str | bytes) else json.dumps(data))
    return caught.value


@pytest.mark.parametrize("data", ["not json", '{"type": "session.update", ', "", b"\xff\xfe"])
def test_non_json_is_rejected(data: str | bytes) -> None:
    error = protocol_error(data)
    assert error.code == "invalid_json"
    assert error.message.startswith("The message is not valid JSON")
    assert error.param is None and error.event_id is None
    assert str(error) == error.message


@pytest.mark.parametrize(
    ("data", "name"), [("[1, 2]", "an array"), ('"text"', "a string"), ("42", "a number"), ("null", "null")]
)
def test_a_json_value_that_is_not_an_object_is_rejected(data: str, name: str) -> None:
    error = protocol_error(data)
    assert error.code == "invalid_event"
    assert error.message == f"An event must be a JSON object, not {name}."
    assert error.param is None


def test_missing_type_is_rejected_with_the_event_id() -> None:
    error = protocol_error({"event_id": "evt_1", "session": {}})
    assert (error.code, error.param, error.event_id) == ("missing_required_parameter", "type", "evt_1")
    assert error.type == "invalid_request_error"
    assert protocol_error({"type": 7}).param == "type"


def test_unknown_type_is_rejected_with_the_event_id() -> None:
    error = protocol_error({"type": "session.upgrade", "event_id": "evt_2"})
    assert (error.code, error.param, error.event_id) == ("unknown_event_type", "type", "evt_2")
    assert "'session.upgrade'" in error.message


def test_a_server_event_type_is_not_a_client_event() -> None:
    assert protocol_error({"type": "session.updated"}).code == "unknown_event_type"


@pytest.mark.parametrize(
    ("event", "code", "param", "fragment"),
    [
        pytest.param(case["event"], case["code"], case["param"], case["fragment"], id=case["id"])
        for case in samples("validation_errors")
    ],
)
def test_validation_errors_name_the_field(event: JSON, code: str, param: str, fragment: str) -> None:
    error = protocol_error(event)
    assert (error.code, error.param) == (code, param)
    assert fragment in error.message
    assert f"'{param}'" in error.message
    assert error.event_id is None
    assert error.type == "invalid_request_error"


def test_the_offending_event_id_is_carried() -> None:
    bad = {"type": "session.update", "event_id": "evt_bad", "session": {"temperature": -1}}
    error = protocol_error(bad)
    assert (error.code, error.param, error.event_id) == ("invalid_value", "session.temperature", "evt_bad")
    assistant = {
        "type": "conversation.item.create",
        "event_id": "evt_item",
        "item": {"type": "message", "role": "assistant", "content": [{"type": "input_text", "text": "hi"}]},
    }
    assert protocol_error(assistant).event_id == "evt_item"


def test_a_non_string_event_id_is_not_echoed() -> None:
    error = protocol_error({"type": "input_audio_buffer.append", "event_id": 5, "audio": "AA"})
    assert (error.code, error.param, error.event_id) == ("invalid_type", "event_id", None)


def test_parse_client_event_accepts_bytes_and_dicts() -> None:
    raw = {"type": "input_audio_buffer.append", "event_id": "e", "audio": "AAAA"}
    from_bytes = parse_client_event(json.dumps(raw).encode())
    from_dict = parse_client_event(raw)
    assert from_bytes == from_dict == parse_client_event(json.dumps(raw))
    assert from_dict.to_dict() == raw


def test_an_assistant_message_with_text_is_accepted_but_input_text_is_not() -> None:
    ok = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "hi"}]}
    assert isinstance(parse_client_event({"type": "conversation.item.create", "item": ok}), WireModel)
    bad = {**ok, "content": [{"type": "input_text", "text": "hi"}]}
    with pytest.raises(ProtocolError):
        parse_client_event({"type": "conversation.item.create", "item": bad})


# --- 6. property-based round trips ----------------------------------------------------------------

indexes = st.integers(min_value=0, max_value=2**53)
ids = st.text(min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(
    event_id=ids,
    response_id=ids,
    item_id=ids,
    output_index=indexes,
    content_index=indexes,
    delta=st.text(),
)
def test_response_text_delta_round_trips_exactly(
    event_id: str, response_id: str, item_id: str, output_index: int, content_index: int, delta: str
) -> None:
    sample = {
        "type": "response.text.delta",
        "event_id": event_id,
        "response_id": response_id,
        "item_id": item_id,
        "output_index": output_index,
        "content_index": content_index,
        "delta": delta,
    }
    event = parse_server_event(json.dumps(sample))
    assert event.delta == delta  # type: ignore[attr-defined]
    assert event.to_dict() == sample
    assert json.loads(event.to_json()) == sample
    assert parse_server_event(event.to_json()) == event


@settings(max_examples=150, deadline=None)
@given(
    item_id=st.text(),
    content_index=indexes,
    audio_end_ms=indexes,
    event_id=st.none() | ids,
)
def test_conversation_item_truncate_round_trips_exactly(
    item_id: str, content_index: int, audio_end_ms: int, event_id: str | None
) -> None:
    sample: JSON = {
        "type": "conversation.item.truncate",
        "item_id": item_id,
        "content_index": content_index,
        "audio_end_ms": audio_end_ms,
    }
    if event_id is not None:
        sample["event_id"] = event_id
    event = parse_client_event(json.dumps(sample))
    assert event.to_dict() == sample
    assert json.loads(event.to_json()) == sample
    assert parse_client_event(event.to_json()) == event


@settings(max_examples=100, deadline=None)
@given(content_index=st.integers(max_value=-1), audio_end_ms=indexes)
def test_conversation_item_truncate_rejects_negative_indexes(content_index: int, audio_end_ms: int) -> None:
    sample = {"type": "conversation.item.truncate", "item_id": "i", "content_index": content_index}
    error = protocol_error({**sample, "audio_end_ms": audio_end_ms, "event_id": "evt_neg"})
    assert (error.code, error.param, error.event_id) == ("invalid_value", "content_index", "evt_neg")


@settings(max_examples=100, deadline=None)
@given(
    instructions=st.text(),
    temperature=st.floats(min_value=0, max_value=2, allow_nan=False),
    metadata=st.dictionaries(st.text(max_size=10), st.text(max_size=20), max_size=5),
)
def test_session_update_fields_round_trip_exactly(
    instructions: str, temperature: float, metadata: dict[str, str]
) -> None:
    sample = _session_update(instructions=instructions, temperature=temperature, metadata=metadata)
    event = parse_client_event(json.dumps(sample))
    assert event.to_dict() == sample
    assert parse_client_event(event.to_json()).to_dict() == sample
