"""The OpenAI Realtime GA codec, both ways, checked against the openai SDK's own pydantic models.

Every GA event this codec produces is validated strictly (``strict=True``) with the SDK class for its
``type`` and with the SDK's whole ``RealtimeServerEvent`` / ``RealtimeClientEvent`` union, which must pick
that same class. The SDK's own ``parse_event`` falls back to a lenient ``construct`` when validation
fails, so plain pydantic validation is the only check that catches a wrong shape.
"""

from __future__ import annotations

import json
import typing
from collections.abc import AsyncIterator
from typing import Any

import pydantic
import pytest
from openai.types.realtime import (
    AudioTranscription,
    ConversationItemAdded,
    ConversationItemCreateEvent,
    ConversationItemDone,
    RealtimeConversationItemAssistantMessage,
    RealtimeConversationItemFunctionCall,
    RealtimeConversationItemFunctionCallOutput,
    RealtimeConversationItemUserMessage,
    RealtimeFunctionTool,
    RealtimeResponse,
    RealtimeSessionCreateRequest,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseCreateEvent,
    ResponseDoneEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseTextDeltaEvent,
    SessionCreatedEvent,
    SessionUpdatedEvent,
    SessionUpdateEvent,
)
from openai.types.realtime.realtime_audio_formats import AudioPCM, AudioPCMA, AudioPCMU
from openai.types.realtime.realtime_audio_input_turn_detection import ServerVad as SdkServerVad
from openai.types.realtime.realtime_client_event import RealtimeClientEvent
from openai.types.realtime.realtime_server_event import RealtimeServerEvent
from openai.types.realtime.realtime_tools_config_union import Mcp as SdkMcpTool
from openai.types.responses.tool_choice_function import ToolChoiceFunction
from openai.types.responses.tool_choice_mcp import ToolChoiceMcp

from voxlive.config import Settings
from voxlive.protocol import (
    SERVER_EVENTS,
    AudioContentPart,
    AudioInputTranscriptionOptions,
    AudioNoiseReduction,
    ClientEvent,
    ClientEventConversationItemCreate,
    ClientEventConversationItemDelete,
    ClientEventConversationItemRetrieve,
    ClientEventConversationItemTruncate,
    ClientEventInputAudioBufferAppend,
    ClientEventInputAudioBufferClear,
    ClientEventInputAudioBufferCommit,
    ClientEventInputAudioClear,
    ClientEventInputAudioTurnStart,
    ClientEventInputTextDelta,
    ClientEventOutputAudioBufferClear,
    ClientEventResponseCancel,
    ClientEventResponseCreate,
    ClientEventSessionAvatarConnect,
    ClientEventSessionUpdate,
    ClientEventTranscriptionSessionUpdate,
    ConversationInfo,
    ErrorDetails,
    FunctionCallItem,
    FunctionCallOutputItem,
    FunctionTool,
    InputTextContentPart,
    MCPServer,
    MessageItem,
    RateLimit,
    RequestSession,
    Response,
    ResponseCancelledDetails,
    ResponseCreateParams,
    ResponseFailedDetails,
    ResponseFailedError,
    ResponseIncompleteDetails,
    ResponseSession,
    SemanticVad,
    ServerEvent,
    ServerEventConversationCreated,
    ServerEventConversationItemCreated,
    ServerEventConversationItemDeleted,
    ServerEventConversationItemInputAudioTranscriptionDelta,
    ServerEventConversationItemInputAudioTranscriptionFailed,
    ServerEventConversationItemRetrieved,
    ServerEventConversationItemTruncated,
    ServerEventError,
    ServerEventInputAudioBufferCleared,
    ServerEventInputAudioBufferCommitted,
    ServerEventInputAudioBufferSpeechStarted,
    ServerEventInputAudioBufferSpeechStopped,
    ServerEventMcpListToolsCompleted,
    ServerEventOutputAudioBufferCleared,
    ServerEventRateLimitsUpdated,
    ServerEventResponseAnimationBlendshapesDelta,
    ServerEventResponseAnimationVisemeDelta,
    ServerEventResponseAudioDelta,
    ServerEventResponseAudioDone,
    ServerEventResponseAudioTimestampDelta,
    ServerEventResponseAudioTranscriptDelta,
    ServerEventResponseAudioTranscriptDone,
    ServerEventResponseContentPartAdded,
    ServerEventResponseContentPartDone,
    ServerEventResponseCreated,
    ServerEventResponseDone,
    ServerEventResponseEmotionHypothesis,
    ServerEventResponseFunctionCallArgumentsDelta,
    ServerEventResponseFunctionCallArgumentsDone,
    ServerEventResponseMcpCallArgumentsDelta,
    ServerEventResponseMcpCallCompleted,
    ServerEventResponseOutputItemAdded,
    ServerEventResponseOutputItemDone,
    ServerEventResponseTextDelta,
    ServerEventResponseTextDone,
    ServerEventSessionAvatarConnecting,
    ServerEventSessionCreated,
    ServerEventSessionUpdated,
    ServerEventWarning,
    ServerVad,
    TextContentPart,
    TokenUsage,
    ToolChoiceFunctionSelection,
    ToolChoiceMCPSelection,
    UnknownServerEvent,
    WarningDetails,
)
from voxlive.protocol.dialects import (
    GA_SERVER_TYPES,
    OPENAI_GA,
    VOICELIVE,
    client_event_from_ga,
    client_event_to_ga,
    server_event_from_ga,
    server_event_to_ga,
)
from voxlive.realtime.conversation import Conversation
from voxlive.realtime.engine import Engine
from voxlive.realtime.response import ResponseRunner
from voxlive.realtime.response_plan import ResponsePlan
from voxlive.speech.llm import (
    Finished,
    LLMEvent,
    LLMRequest,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStarted,
    Usage,
)

JSON = dict[str, Any]

# --- strict validation with the openai SDK's models ----------------------------------------------


def _members_by_type(union_alias: Any) -> dict[str, type[pydantic.BaseModel]]:
    """The classes of an SDK event union (``Annotated[Union[...], PropertyInfo]``) by their ``type``."""
    union = typing.get_args(union_alias)[0]
    return {typing.get_args(cls.model_fields["type"].annotation)[0]: cls for cls in typing.get_args(union)}


SDK_SERVER_EVENTS = _members_by_type(RealtimeServerEvent)
SDK_CLIENT_EVENTS = _members_by_type(RealtimeClientEvent)
SERVER_UNION = pydantic.TypeAdapter(RealtimeServerEvent)
CLIENT_UNION = pydantic.TypeAdapter(RealtimeClientEvent)

TOLERATED_SERVER_EXTRAS = {
    # the session's identity, as the real API sends it (not fields of the SDK's session model)
    "session.object",
    "session.id",
    "session.expires_at",
    # Azure extensions the codec passes through; the SDK keeps them as extras
    "session.temperature",
    "session.audio.input.echo_cancellation",
    "session.audio.input.turn_detection.auto_truncate",
    "response.temperature",
    "response.usage.output_token_details.reasoning_tokens",
}
"""Keys the SDK does not model. Any other unmodelled key (a classic name such as ``session.modalities``
or ``response.voice`` left unconverted) fails the tests."""


def extra_keys(value: Any, path: str = "") -> set[str]:
    """The dotted paths of every key an SDK model kept as an extra (list indices left out)."""
    found: set[str] = set()
    if isinstance(value, pydantic.BaseModel):
        found |= {path + key for key in value.model_extra or {}}
        for name in type(value).model_fields:
            found |= extra_keys(getattr(value, name), f"{path}{name}.")
    elif isinstance(value, list):
        for element in value:
            found |= extra_keys(element, path)
    return found


def sdk_server_event(text: str) -> Any:
    """A GA server event, validated strictly as the SDK class of its type."""
    cls = SDK_SERVER_EVENTS[json.loads(text)["type"]]
    model = cls.model_validate_json(text, strict=True)
    assert type(SERVER_UNION.validate_json(text, strict=True)) is cls
    assert extra_keys(model) <= TOLERATED_SERVER_EXTRAS, extra_keys(model) - TOLERATED_SERVER_EXTRAS
    return model


def sdk_client_event(text: str) -> Any:
    """A GA client event, validated strictly as the SDK class of its type, with no unmodelled key."""
    cls = SDK_CLIENT_EVENTS[json.loads(text)["type"]]
    model = cls.model_validate_json(text, strict=True)
    assert type(CLIENT_UNION.validate_json(text, strict=True)) is cls
    assert extra_keys(model) == set()
    return model


def encode(event: ServerEvent) -> list[Any]:
    """A classic server event as the GA dialect sends it, each frame validated by the SDK."""
    texts = OPENAI_GA.encode_server_event(event)
    assert [json.loads(text) for text in texts] == server_event_to_ga(event.to_dict())
    return [sdk_server_event(text) for text in texts]


def decode_all(texts: list[str]) -> list[ServerEvent]:
    """GA server frames back in the classic dialect, leaving out the ones that repeat another."""
    decoded = [OPENAI_GA.decode_server_event(text) for text in texts]
    return [event for event in decoded if event is not None]


# --- realistic classic server events -------------------------------------------------------------


def default_session() -> ResponseSession:
    """The session a new connection gets, exactly as the server builds it."""
    return Engine(Settings(), llm=object()).default_session(None)  # type: ignore[arg-type]


def assistant_message(status: str = "completed", text: str = "Hello there.") -> MessageItem:
    content = [] if status == "in_progress" else [TextContentPart(text=text)]
    return MessageItem(id="item_a1", object="realtime.item", role="assistant", status=status, content=content)


def user_message() -> MessageItem:
    return MessageItem(
        id="item_u1",
        object="realtime.item",
        role="user",
        status="completed",
        content=[InputTextContentPart(text="Hi")],
    )


def function_call(status: str = "completed") -> FunctionCallItem:
    return FunctionCallItem(
        id="item_f1",
        object="realtime.item",
        name="get_weather",
        call_id="call_1",
        arguments='{"city": "Paris"}',
        status=status,
    )


def in_progress_response(**overrides: Any) -> Response:
    """A response as ``response.created`` announces it (the shape of ``RealtimeSession._plan``)."""
    fields: JSON = {
        "id": "resp_1",
        "status": "in_progress",
        "output": [],
        "conversation_id": "conv_sess_1",
        "voice": "en_US-joe-medium",
        "modalities": ["text", "audio"],
        "output_audio_format": "pcm16",
        "temperature": 0.7,
        "max_output_tokens": "inf",
        "metadata": None,
        "usage": None,
    }
    return Response(**{**fields, **overrides})


WHERE = {"response_id": "resp_1", "item_id": "item_a1", "output_index": 0, "content_index": 0}


# --- 1. GA client events -> classic --------------------------------------------------------------

GA_SESSION_UPDATE: JSON = {
    "type": "session.update",
    "event_id": "evt_su1",
    "session": {
        "type": "realtime",
        "model": "gpt-realtime",
        "output_modalities": ["audio"],
        "instructions": "Be brief.",
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.6,
                    "prefix_padding_ms": 200,
                    "silence_duration_ms": 400,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": False,
                },
                "transcription": {"model": "whisper-1", "language": "en", "prompt": "Names: Zoe."},
                "noise_reduction": {"type": "near_field"},
            },
            "output": {"format": {"type": "audio/pcmu"}, "voice": "marin"},
        },
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "The weather in a city.",
                "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
            }
        ],
        "tool_choice": {"type": "function", "name": "get_weather"},
        "max_output_tokens": 512,
        "reasoning": {"effort": "low"},
        "include": ["item.input_audio_transcription.logprobs"],
        "parallel_tool_calls": True,
        "tracing": "auto",
        "truncation": {"type": "retention_ratio", "retention_ratio": 0.5},
        "prompt": None,
    },
}


def test_the_ga_fixtures_are_valid_for_the_sdk() -> None:
    SessionUpdateEvent.model_validate_json(json.dumps(GA_SESSION_UPDATE), strict=True)
    ResponseCreateEvent.model_validate_json(json.dumps(GA_RESPONSE_CREATE), strict=True)
    ConversationItemCreateEvent.model_validate_json(json.dumps(GA_ASSISTANT_ITEM_CREATE), strict=True)
    SessionCreatedEvent.model_validate_json(json.dumps(GA_SESSION_CREATED), strict=True)
    ResponseDoneEvent.model_validate_json(json.dumps(GA_RESPONSE_DONE), strict=True)


def test_ga_session_update_becomes_the_classic_shape() -> None:
    session = client_event_from_ga(GA_SESSION_UPDATE)["session"]
    for ga_only in (
        "type",
        "audio",
        "output_modalities",
        "max_output_tokens",
        "reasoning",
        "tracing",
        "truncation",
    ):
        assert ga_only not in session
    assert "prompt" not in session
    assert GA_SESSION_UPDATE["session"]["type"] == "realtime"  # the input is not modified


def test_ga_session_update_decodes_to_a_typed_request_session() -> None:
    event = OPENAI_GA.decode_client_event(json.dumps(GA_SESSION_UPDATE))
    assert isinstance(event, ClientEventSessionUpdate)
    assert event.event_id == "evt_su1"
    session = event.session
    assert session.model == "gpt-realtime"
    assert session.modalities == ["text", "audio"]
    assert session.instructions == "Be brief."
    assert session.input_audio_format == "pcm16"
    assert session.input_audio_sampling_rate == 24000
    assert isinstance(session.turn_detection, ServerVad)
    assert session.turn_detection.threshold == 0.6
    assert session.turn_detection.prefix_padding_ms == 200
    assert session.turn_detection.silence_duration_ms == 400
    assert session.turn_detection.idle_timeout_ms is None
    assert session.turn_detection.interrupt_response is False
    assert session.input_audio_transcription == AudioInputTranscriptionOptions(
        model="whisper-1", language="en", prompt="Names: Zoe."
    )
    assert isinstance(session.input_audio_noise_reduction, AudioNoiseReduction)
    assert session.input_audio_noise_reduction.type == "near_field"
    assert session.output_audio_format == "g711_ulaw"
    assert session.voice == "marin"
    assert len(session.tools or []) == 1
    tool = (session.tools or [])[0]
    assert isinstance(tool, FunctionTool)
    assert tool.name == "get_weather"
    assert tool.description == "The weather in a city."
    assert tool.parameters == {"type": "object", "properties": {"city": {"type": "string"}}}
    assert session.tool_choice == ToolChoiceFunctionSelection(name="get_weather")
    assert session.max_response_output_tokens == 512
    assert session.reasoning_effort == "low"
    assert session.include == ["item.input_audio_transcription.logprobs"]
    assert session.parallel_tool_calls is True
    wire = session.to_dict()
    assert not {"tracing", "truncation", "prompt", "type", "audio", "output_modalities"} & wire.keys()
    assert session.model_extra == {}


def test_ga_session_update_text_only_with_null_turn_detection() -> None:
    ga = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "output_modalities": ["text"],
            "audio": {
                "input": {"format": {"type": "audio/pcmu"}, "turn_detection": None, "noise_reduction": None},
                "output": {"voice": {"id": "voice_custom_1"}},
            },
            "tool_choice": {"type": "mcp", "server_label": "docs"},
            "max_output_tokens": "inf",
        },
    }
    SessionUpdateEvent.model_validate_json(json.dumps(ga), strict=True)
    event = OPENAI_GA.decode_client_event(json.dumps(ga))
    assert isinstance(event, ClientEventSessionUpdate)
    session = event.session
    assert session.modalities == ["text"]
    assert session.input_audio_format == "g711_ulaw"
    assert session.input_audio_sampling_rate is None
    assert session.turn_detection is None
    assert session.input_audio_noise_reduction is None
    assert session.voice == "voice_custom_1"
    assert session.tool_choice == ToolChoiceMCPSelection(server_label="docs")
    assert session.max_response_output_tokens == "inf"
    wire = event.to_dict()["session"]
    assert "turn_detection" in wire
    assert wire["turn_detection"] is None  # an explicit null (turn detection off) survives
    assert wire["input_audio_noise_reduction"] is None
    assert "input_audio_sampling_rate" not in wire
    assert "output_audio_format" not in wire


@pytest.mark.parametrize(
    ("ga_format", "classic_format", "rate"),
    [
        ({"type": "audio/pcm", "rate": 24000}, "pcm16", 24000),
        ({"type": "audio/pcm"}, "pcm16", None),
        ({"type": "audio/pcmu"}, "g711_ulaw", None),
        ({"type": "audio/pcma"}, "g711_alaw", None),
    ],
)
def test_ga_input_audio_formats(ga_format: JSON, classic_format: str, rate: int | None) -> None:
    ga = {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"input": {"format": ga_format}}},
    }
    event = OPENAI_GA.decode_client_event(json.dumps(ga))
    assert isinstance(event, ClientEventSessionUpdate)
    assert event.session.input_audio_format == classic_format
    assert event.session.input_audio_sampling_rate == rate
    assert event.session.output_audio_format is None


@pytest.mark.parametrize(
    ("ga_format", "classic_format"),
    [
        ({"type": "audio/pcm", "rate": 24000}, "pcm16"),
        ({"type": "audio/pcmu"}, "g711_ulaw"),
        ({"type": "audio/pcma"}, "g711_alaw"),
    ],
)
def test_ga_output_audio_formats(ga_format: JSON, classic_format: str) -> None:
    ga = {
        "type": "session.update",
        "session": {"type": "realtime", "audio": {"output": {"format": ga_format}}},
    }
    event = OPENAI_GA.decode_client_event(json.dumps(ga))
    assert isinstance(event, ClientEventSessionUpdate)
    assert event.session.output_audio_format == classic_format
    assert event.session.input_audio_format is None


@pytest.mark.parametrize(
    ("ga_modalities", "classic_modalities"), [(["text"], ["text"]), (["audio"], ["text", "audio"])]
)
def test_ga_output_modalities(ga_modalities: list[str], classic_modalities: list[str]) -> None:
    ga = {"type": "session.update", "session": {"type": "realtime", "output_modalities": ga_modalities}}
    event = OPENAI_GA.decode_client_event(json.dumps(ga))
    assert isinstance(event, ClientEventSessionUpdate)
    assert event.session.modalities == classic_modalities


@pytest.mark.parametrize("choice", ["auto", "none", "required"])
def test_ga_tool_choice_literals(choice: str) -> None:
    ga = {"type": "session.update", "session": {"type": "realtime", "tool_choice": choice}}
    event = OPENAI_GA.decode_client_event(json.dumps(ga))
    assert isinstance(event, ClientEventSessionUpdate)
    assert event.session.tool_choice == choice


def test_ga_semantic_vad() -> None:
    ga = {
        "type": "session.update",
        "session": {
            "type": "realtime",
            "audio": {"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}},
        },
    }
    event = OPENAI_GA.decode_client_event(json.dumps(ga))
    assert isinstance(event, ClientEventSessionUpdate)
    assert isinstance(event.session.turn_detection, SemanticVad)
    assert event.session.turn_detection.eagerness == "high"


GA_ASSISTANT_ITEM_CREATE: JSON = {
    "type": "conversation.item.create",
    "event_id": "evt_ci1",
    "previous_item_id": "root",
    "item": {
        "type": "message",
        "role": "assistant",
        "content": [
            {"type": "output_text", "text": "An earlier answer."},
            {"type": "output_audio", "transcript": "Hi."},
        ],
    },
}


def test_ga_assistant_item_create_uses_classic_content_types() -> None:
    assert client_event_from_ga(GA_ASSISTANT_ITEM_CREATE)["item"]["content"] == [
        {"type": "text", "text": "An earlier answer."},
        {"type": "audio", "transcript": "Hi."},
    ]
    event = OPENAI_GA.decode_client_event(json.dumps(GA_ASSISTANT_ITEM_CREATE))
    assert isinstance(event, ClientEventConversationItemCreate)
    assert event.event_id == "evt_ci1"
    assert event.previous_item_id == "root"
    assert isinstance(event.item, MessageItem)
    assert event.item.role == "assistant"
    assert event.item.content == [
        TextContentPart(text="An earlier answer."),
        AudioContentPart(transcript="Hi."),
    ]


def test_ga_user_and_tool_output_items_keep_their_content() -> None:
    user = {
        "type": "conversation.item.create",
        "item": {
            "type": "message",
            "role": "user",
            "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_audio", "audio": "AAAA"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBORw0KGgo=", "detail": "low"},
            ],
        },
    }
    output = {
        "type": "conversation.item.create",
        "item": {"type": "function_call_output", "call_id": "call_1", "output": '{"temp": 21}'},
    }
    for ga in (user, output):
        ConversationItemCreateEvent.model_validate_json(json.dumps(ga), strict=True)
        event = OPENAI_GA.decode_client_event(json.dumps(ga))
        assert isinstance(event, ClientEventConversationItemCreate)
        assert event.to_dict() == ga
        assert isinstance(event.item, FunctionCallOutputItem if ga is output else MessageItem)


GA_RESPONSE_CREATE: JSON = {
    "type": "response.create",
    "event_id": "evt_rc1",
    "response": {
        "output_modalities": ["text"],
        "instructions": "Answer in French.",
        "audio": {"output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "coral"}},
        "input": [
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Capital of Italy?"}],
            },
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Rome."}]},
        ],
        "conversation": "none",
        "metadata": {"topic": "geography"},
        "max_output_tokens": 100,
        "tool_choice": "none",
    },
}


def test_ga_response_create_decodes_to_response_create_params() -> None:
    event = OPENAI_GA.decode_client_event(json.dumps(GA_RESPONSE_CREATE))
    assert isinstance(event, ClientEventResponseCreate)
    assert event.event_id == "evt_rc1"
    params = event.response
    assert isinstance(params, ResponseCreateParams)
    assert params.modalities == ["text"]
    assert params.instructions == "Answer in French."
    assert params.output_audio_format == "pcm16"
    assert params.voice == "coral"
    assert params.conversation == "none"
    assert params.metadata == {"topic": "geography"}
    assert params.max_output_tokens == 100
    assert params.tool_choice == "none"
    assert params.input is not None
    assert params.input_items is None
    user, assistant = params.input
    assert isinstance(user, MessageItem)
    assert user.content == [InputTextContentPart(text="Capital of Italy?")]
    assert isinstance(assistant, MessageItem)
    assert assistant.role == "assistant"
    assert assistant.content == [TextContentPart(text="Rome.")]
    assert not {"audio", "output_modalities"} & params.to_dict().keys()


def test_ga_response_create_without_parameters() -> None:
    event = OPENAI_GA.decode_client_event('{"type": "response.create"}')
    assert isinstance(event, ClientEventResponseCreate)
    assert event.response is None


@pytest.mark.parametrize(
    "ga",
    [
        {"type": "input_audio_buffer.append", "event_id": "e1", "audio": "AAAAAA=="},
        {"type": "input_audio_buffer.commit"},
        {"type": "input_audio_buffer.clear"},
        {"type": "output_audio_buffer.clear"},
        {"type": "conversation.item.truncate", "item_id": "item_1", "content_index": 0, "audio_end_ms": 1500},
        {"type": "conversation.item.delete", "item_id": "item_1"},
        {"type": "conversation.item.retrieve", "item_id": "item_1"},
        {"type": "response.cancel", "response_id": "resp_1"},
    ],
    ids=lambda ga: ga["type"],
)
def test_ga_client_events_that_need_no_conversion(ga: JSON) -> None:
    SDK_CLIENT_EVENTS[ga["type"]].model_validate_json(json.dumps(ga), strict=True)
    assert client_event_from_ga(ga) == ga
    event = OPENAI_GA.decode_client_event(json.dumps(ga))
    assert event.type == ga["type"]
    assert event.to_dict() == ga


# --- 2. classic server events -> GA, validated by the SDK -----------------------------------------


def test_every_ga_server_type_exists_in_the_sdk() -> None:
    for classic in GA_SERVER_TYPES:
        assert RENAMES.get(classic, classic) in SDK_SERVER_EVENTS, classic


def test_classic_only_server_events_have_no_ga_form() -> None:
    azure_only = set(SERVER_EVENTS) - GA_SERVER_TYPES
    assert {"warning", "session.avatar.connecting", "response.animation_viseme.delta"} <= azure_only
    for kind in azure_only:
        assert server_event_to_ga({"type": kind, "event_id": "event_1"}) == [], kind


def test_session_created_is_a_valid_ga_session() -> None:
    classic = ServerEventSessionCreated(session=default_session())
    [created] = encode(classic)
    assert isinstance(created, SessionCreatedEvent)
    assert created.event_id == classic.event_id
    session = created.session
    assert isinstance(session, RealtimeSessionCreateRequest)
    assert session.type == "realtime"
    assert session.model == "voxlive-local"
    assert session.output_modalities == ["audio"]
    assert session.instructions == classic.session.instructions
    assert session.tools == []
    assert session.tool_choice == "auto"
    assert session.max_output_tokens == "inf"
    assert session.model_extra is not None
    assert session.model_extra["id"] == classic.session.id
    assert session.model_extra["object"] == "realtime.session"
    assert session.audio is not None
    audio_in, audio_out = session.audio.input, session.audio.output
    assert audio_in is not None
    assert audio_out is not None
    assert audio_in.format == AudioPCM(type="audio/pcm", rate=24000)
    assert isinstance(audio_in.turn_detection, SdkServerVad)
    assert audio_in.turn_detection.threshold == 0.5
    assert audio_in.turn_detection.prefix_padding_ms == 300
    assert audio_in.turn_detection.silence_duration_ms == 500
    assert audio_in.turn_detection.create_response is True
    assert audio_in.turn_detection.interrupt_response is True
    assert audio_in.transcription is None
    assert audio_in.noise_reduction is None
    assert audio_out.format == AudioPCM(type="audio/pcm", rate=24000)
    assert audio_out.voice == "en_US-joe-medium"


def test_session_updated_text_only_with_tools_and_telephony_audio() -> None:
    session = default_session().model_copy(
        update={
            "modalities": ["text"],
            "input_audio_format": "g711_ulaw",
            "input_audio_sampling_rate": None,
            "output_audio_format": "g711_alaw",
            "turn_detection": None,
            "input_audio_transcription": AudioInputTranscriptionOptions(model="whisper-1", language="de"),
            "input_audio_noise_reduction": AudioNoiseReduction(type="far_field"),
            "tools": [FunctionTool(name="get_weather", description="d", parameters={"type": "object"})],
            "tool_choice": ToolChoiceFunctionSelection(name="get_weather"),
            "max_response_output_tokens": 256,
            "voice": "alloy",
        }
    )
    [updated] = encode(ServerEventSessionUpdated(session=session))
    assert isinstance(updated, SessionUpdatedEvent)
    ga = updated.session
    assert ga.output_modalities == ["text"]
    assert ga.max_output_tokens == 256
    assert ga.audio.input.format == AudioPCMU(type="audio/pcmu")
    assert ga.audio.input.turn_detection is None
    assert ga.audio.input.transcription == AudioTranscription(model="whisper-1", language="de")
    assert ga.audio.input.noise_reduction.type == "far_field"
    assert ga.audio.output.format == AudioPCMA(type="audio/pcma")
    assert ga.audio.output.voice == "alloy"
    assert ga.tools == [
        RealtimeFunctionTool(
            type="function",
            name="get_weather",
            description="d",
            parameters={"type": "object"},
        )
    ]
    assert ga.tool_choice == ToolChoiceFunction(type="function", name="get_weather")


RENAMES = {
    "response.text.delta": "response.output_text.delta",
    "response.text.done": "response.output_text.done",
    "response.audio.delta": "response.output_audio.delta",
    "response.audio.done": "response.output_audio.done",
    "response.audio_transcript.delta": "response.output_audio_transcript.delta",
    "response.audio_transcript.done": "response.output_audio_transcript.done",
}

RENAMED_EVENTS = [
    ServerEventResponseTextDelta(**WHERE, delta="Hel"),
    ServerEventResponseTextDone(**WHERE, text="Hello there."),
    ServerEventResponseAudioDelta(**WHERE, delta="AAAAAA=="),
    ServerEventResponseAudioDone(**WHERE),
    ServerEventResponseAudioTranscriptDelta(**WHERE, delta="Hel"),
    ServerEventResponseAudioTranscriptDone(**WHERE, transcript="Hello there."),
]


@pytest.mark.parametrize("classic", RENAMED_EVENTS, ids=lambda event: event.type)
def test_renamed_response_events(classic: ServerEvent) -> None:
    [ga] = encode(classic)
    assert ga.type == RENAMES[classic.type]
    assert type(ga) is SDK_SERVER_EVENTS[RENAMES[classic.type]]
    assert ga.model_dump(exclude_unset=True) == {**classic.to_dict(), "type": RENAMES[classic.type]}


def test_text_delta_is_the_sdk_text_delta_event() -> None:
    [ga] = encode(ServerEventResponseTextDelta(**WHERE, delta="Hel"))
    assert isinstance(ga, ResponseTextDeltaEvent)
    assert (ga.response_id, ga.item_id, ga.output_index, ga.content_index, ga.delta) == (
        "resp_1",
        "item_a1",
        0,
        0,
        "Hel",
    )


def test_in_progress_item_created_becomes_only_item_added() -> None:
    classic = ServerEventConversationItemCreated(
        previous_item_id="item_u1",
        item=assistant_message("in_progress"),
    )
    [added] = encode(classic)
    assert isinstance(added, ConversationItemAdded)
    assert added.event_id == classic.event_id
    assert added.previous_item_id == "item_u1"
    assert isinstance(added.item, RealtimeConversationItemAssistantMessage)
    assert added.item.status == "in_progress"
    assert added.item.content == []


def test_completed_user_item_created_becomes_item_added_and_done() -> None:
    classic = ServerEventConversationItemCreated(previous_item_id="item_0", item=user_message())
    added, done = encode(classic)
    assert isinstance(added, ConversationItemAdded)
    assert isinstance(done, ConversationItemDone)
    for event in (added, done):
        assert isinstance(event.item, RealtimeConversationItemUserMessage)
        assert event.item.id == "item_u1"
        assert event.item.status == "completed"
        assert event.item.content[0].type == "input_text"
        assert event.item.content[0].text == "Hi"
        assert event.previous_item_id == "item_0"


def test_completed_assistant_item_uses_output_content_types() -> None:
    item = MessageItem(
        id="item_a2",
        object="realtime.item",
        role="assistant",
        status="completed",
        content=[TextContentPart(text="Sure."), AudioContentPart(transcript="Sure.")],
    )
    added, done = encode(ServerEventConversationItemCreated(item=item))
    assert isinstance(added, ConversationItemAdded)
    assert isinstance(done, ConversationItemDone)
    for event in (added, done):
        assert isinstance(event.item, RealtimeConversationItemAssistantMessage)
        assert [(part.type, part.text, part.transcript) for part in event.item.content] == [
            ("output_text", "Sure.", None),
            ("output_audio", None, "Sure."),
        ]


def test_function_call_output_item_created() -> None:
    item = FunctionCallOutputItem(
        id="item_o1",
        object="realtime.item",
        call_id="call_1",
        output='{"temp": 21}',
    )
    added, done = encode(ServerEventConversationItemCreated(previous_item_id="item_f1", item=item))
    assert isinstance(added, ConversationItemAdded)
    assert isinstance(done, ConversationItemDone)
    assert isinstance(added.item, RealtimeConversationItemFunctionCallOutput)
    assert (added.item.call_id, added.item.output) == ("call_1", '{"temp": 21}')


def test_output_item_added_is_one_event() -> None:
    [added] = encode(
        ServerEventResponseOutputItemAdded(
            response_id="resp_1",
            output_index=0,
            item=assistant_message("in_progress"),
        )
    )
    assert isinstance(added, ResponseOutputItemAddedEvent)
    assert isinstance(added.item, RealtimeConversationItemAssistantMessage)
    assert (added.response_id, added.output_index) == ("resp_1", 0)


def test_output_item_done_also_closes_the_conversation_item() -> None:
    classic = ServerEventResponseOutputItemDone(
        response_id="resp_1",
        output_index=0,
        item=assistant_message(),
    )
    done, item_done = encode(classic)
    assert isinstance(done, ResponseOutputItemDoneEvent)
    assert isinstance(item_done, ConversationItemDone)
    assert done.event_id == classic.event_id
    assert item_done.event_id != done.event_id
    for item in (done.item, item_done.item):
        assert isinstance(item, RealtimeConversationItemAssistantMessage)
        assert item.id == "item_a1"
        assert item.status == "completed"
        assert [(part.type, part.text) for part in item.content] == [("output_text", "Hello there.")]


def test_function_call_output_item_done() -> None:
    done, item_done = encode(
        ServerEventResponseOutputItemDone(response_id="resp_1", output_index=1, item=function_call())
    )
    assert isinstance(done, ResponseOutputItemDoneEvent)
    assert isinstance(item_done, ConversationItemDone)
    for item in (done.item, item_done.item):
        assert isinstance(item, RealtimeConversationItemFunctionCall)
        assert (item.name, item.call_id, item.arguments) == ("get_weather", "call_1", '{"city": "Paris"}')


@pytest.mark.parametrize(
    ("classic", "sdk_class", "part_type"),
    [
        (
            ServerEventResponseContentPartAdded(**WHERE, part=TextContentPart(text="")),
            ResponseContentPartAddedEvent,
            "text",
        ),
        (
            ServerEventResponseContentPartDone(**WHERE, part=TextContentPart(text="Hi")),
            ResponseContentPartDoneEvent,
            "text",
        ),
        (
            ServerEventResponseContentPartAdded(**WHERE, part=AudioContentPart(transcript="")),
            ResponseContentPartAddedEvent,
            "audio",
        ),
        (
            ServerEventResponseContentPartDone(**WHERE, part=AudioContentPart(transcript="Hi")),
            ResponseContentPartDoneEvent,
            "audio",
        ),
    ],
)
def test_content_part_events_keep_text_and_audio(
    classic: ServerEvent,
    sdk_class: type,
    part_type: str,
) -> None:
    [ga] = encode(classic)
    assert type(ga) is sdk_class
    assert ga.part.type == part_type  # the SDK wants "text"/"audio" here, unlike item content
    assert ga.model_dump(exclude_unset=True) == classic.to_dict()


def test_response_created_carries_output_modalities_and_audio_output() -> None:
    classic = ServerEventResponseCreated(response=in_progress_response())
    [created] = encode(classic)
    assert isinstance(created, ResponseCreatedEvent)
    response = created.response
    assert isinstance(response, RealtimeResponse)
    assert response.id == "resp_1"
    assert response.object == "realtime.response"
    assert response.status == "in_progress"
    assert response.output == []
    assert response.conversation_id == "conv_sess_1"
    assert response.output_modalities == ["audio"]
    assert response.max_output_tokens == "inf"
    assert response.audio is not None
    assert response.audio.output is not None
    assert response.audio.output.format == AudioPCM(type="audio/pcm", rate=24000)
    assert response.audio.output.voice == "en_US-joe-medium"


def test_text_only_out_of_band_response_created() -> None:
    classic = ServerEventResponseCreated(
        response=in_progress_response(
            modalities=["text"],
            conversation_id=None,
            metadata={"purpose": "summary"},
        )
    )
    [created] = encode(classic)
    assert created.response.output_modalities == ["text"]
    assert created.response.conversation_id is None
    assert created.response.metadata == {"purpose": "summary"}


@pytest.mark.parametrize(
    ("status", "details", "output"),
    [
        ("completed", None, [assistant_message()]),
        ("completed", None, [assistant_message(), function_call()]),
        ("cancelled", ResponseCancelledDetails(reason="turn_detected"), []),
        ("cancelled", ResponseCancelledDetails(reason="client_cancelled"), [assistant_message("incomplete")]),
        (
            "incomplete",
            ResponseIncompleteDetails(reason="max_output_tokens"),
            [assistant_message("incomplete")],
        ),
        (
            "failed",
            ResponseFailedDetails(
                error=ResponseFailedError(type="server_error", code="llm_error", message="boom"),
            ),
            [],
        ),
    ],
)
def test_response_done(status: str, details: Any, output: list[Any]) -> None:
    response = in_progress_response(
        status=status,
        status_details=details,
        output=output,
        usage=TokenUsage(total_tokens=30, input_tokens=20, output_tokens=10),
    )
    classic = ServerEventResponseDone(response=response)
    [done] = encode(classic)
    assert isinstance(done, ResponseDoneEvent)
    ga = done.response
    assert ga.status == status
    if details is None:
        assert ga.status_details is None
    else:
        assert ga.status_details is not None
        assert ga.status_details.type == details.type
        assert ga.status_details.reason == getattr(details, "reason", None)
        if status == "failed":
            assert ga.status_details.error is not None
            assert (ga.status_details.error.type, ga.status_details.error.code) == (
                "server_error",
                "llm_error",
            )
    assert len(ga.output) == len(output)
    for ga_item, item in zip(ga.output, output, strict=True):
        assert ga_item.id == item.id
        if isinstance(item, MessageItem):
            assert isinstance(ga_item, RealtimeConversationItemAssistantMessage)
            assert all(part.type == "output_text" for part in ga_item.content)
        else:
            assert isinstance(ga_item, RealtimeConversationItemFunctionCall)
    assert ga.usage is not None
    assert (ga.usage.total_tokens, ga.usage.input_tokens, ga.usage.output_tokens) == (30, 20, 10)
    assert ga.output_modalities == ["audio"]
    assert ga.audio.output.voice == "en_US-joe-medium"


PASS_THROUGH_EVENTS = [
    ServerEventError(
        error=ErrorDetails(message="Bad value.", code="invalid_value", param="session.voice", event_id="e1")
    ),
    ServerEventInputAudioBufferSpeechStarted(audio_start_ms=120, item_id="item_u1"),
    ServerEventInputAudioBufferSpeechStopped(audio_end_ms=980, item_id="item_u1"),
    ServerEventInputAudioBufferCommitted(item_id="item_u1", previous_item_id=None),
    ServerEventInputAudioBufferCleared(),
    ServerEventOutputAudioBufferCleared(response_id="resp_1"),
    ServerEventConversationCreated(conversation=ConversationInfo(id="conv_1")),
    ServerEventConversationItemRetrieved(item=user_message()),
    ServerEventConversationItemTruncated(item_id="item_a1", content_index=0, audio_end_ms=1500),
    ServerEventConversationItemDeleted(item_id="item_a1"),
    ServerEventConversationItemInputAudioTranscriptionDelta(item_id="item_u1", content_index=0, delta="Hel"),
    ServerEventConversationItemInputAudioTranscriptionFailed(
        item_id="item_u1",
        error=ErrorDetails(type="transcription_error", code="audio_unintelligible", message="?"),
    ),
    ServerEventRateLimitsUpdated(
        rate_limits=[RateLimit(name="tokens", limit=1000, remaining=990, reset_seconds=1.5)],
    ),
    ServerEventResponseFunctionCallArgumentsDelta(
        response_id="resp_1", item_id="item_f1", output_index=1, call_id="call_1", delta='{"city"'
    ),
    ServerEventResponseFunctionCallArgumentsDone(
        response_id="resp_1",
        item_id="item_f1",
        output_index=1,
        call_id="call_1",
        name="get_weather",
        arguments="{}",
    ),
    ServerEventMcpListToolsCompleted(item_id="item_m1"),
    ServerEventResponseMcpCallArgumentsDelta(
        response_id="resp_1",
        item_id="item_m2",
        output_index=0,
        delta="{",
    ),
    ServerEventResponseMcpCallCompleted(item_id="item_m2", output_index=0),
]


@pytest.mark.parametrize("classic", PASS_THROUGH_EVENTS, ids=lambda event: event.type)
def test_events_that_need_no_conversion(classic: ServerEvent) -> None:
    [ga] = encode(classic)
    assert type(ga) is SDK_SERVER_EVENTS[classic.type]
    assert ga.model_dump(exclude_unset=True) == classic.to_dict()


def test_retrieved_user_item_is_the_user_message_class() -> None:
    [ga] = encode(ServerEventConversationItemRetrieved(item=user_message()))
    assert isinstance(ga.item, RealtimeConversationItemUserMessage)


AZURE_ONLY_EVENTS = [
    ServerEventWarning(warning=WarningDetails(message="The voice is not available; using the default.")),
    ServerEventResponseAnimationVisemeDelta(**WHERE, audio_offset_ms=40, viseme_id=3),
    ServerEventResponseAudioTimestampDelta(**WHERE, audio_offset_ms=0, audio_duration_ms=250, text="Hello"),
    ServerEventSessionAvatarConnecting(server_sdp="v=0"),
    ServerEventResponseAnimationBlendshapesDelta(**WHERE, frames=[[0.0, 0.5]], frame_index=0),
    ServerEventResponseEmotionHypothesis(
        emotion="happy",
        audio_offset_ms=0,
        audio_duration_ms=500,
        item_id="item_u1",
    ),
]


@pytest.mark.parametrize("classic", AZURE_ONLY_EVENTS, ids=lambda event: event.type)
def test_azure_only_events_produce_no_ga_event(classic: ServerEvent) -> None:
    assert server_event_to_ga(classic.to_dict()) == []
    assert OPENAI_GA.encode_server_event(classic) == []
    assert VOICELIVE.encode_server_event(classic) == [classic.to_json()]


# --- a whole response from the real response runner, on the GA wire -------------------------------


class ScriptedLLM:
    """An LLM that streams a fixed script."""

    def __init__(self, script: list[LLMEvent]) -> None:
        self.script = script

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        for event in self.script:
            yield event

    async def load(self) -> None:
        return None


async def run_response(script: list[LLMEvent]) -> list[ServerEvent]:
    sent: list[ServerEvent] = []
    plan = ResponsePlan(request=LLMRequest(messages=[]), response=in_progress_response())
    await ResponseRunner(plan, ScriptedLLM(script), Conversation(), sent.append).run()
    return sent


async def test_a_streamed_text_and_tool_call_response_is_valid_ga() -> None:
    sent = await run_response(
        [
            TextDelta("Let me "),
            TextDelta("check."),
            ToolCallStarted(index=0, call_id="call_9", name="get_weather"),
            ToolCallDelta(index=0, arguments='{"city": '),
            ToolCallDelta(index=0, arguments='"Oslo"}'),
            ToolCallDone(index=0, call_id="call_9", name="get_weather", arguments='{"city": "Oslo"}'),
            Usage(input_tokens=12, output_tokens=7),
            Finished("tool_calls"),
        ]
    )
    ga = [event for classic in sent for event in encode(classic)]
    assert [event.type for event in ga] == [
        "response.created",
        "response.output_item.added",
        "conversation.item.added",
        "response.content_part.added",
        "response.output_text.delta",
        "response.output_text.delta",
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.output_item.added",
        "conversation.item.added",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.output_item.done",
        "conversation.item.done",
        "response.done",
    ]
    assert len({event.event_id for event in ga}) == len(ga)
    message_done, call_done = [event for event in ga if isinstance(event, ConversationItemDone)]
    assert isinstance(message_done.item, RealtimeConversationItemAssistantMessage)
    assert message_done.item.content[0].type == "output_text"
    assert message_done.item.content[0].text == "Let me check."
    assert isinstance(call_done.item, RealtimeConversationItemFunctionCall)
    assert call_done.item.arguments == '{"city": "Oslo"}'
    done = ga[-1]
    assert isinstance(done, ResponseDoneEvent)
    assert done.response.status == "completed"
    assert [type(item) for item in done.response.output] == [
        RealtimeConversationItemAssistantMessage,
        RealtimeConversationItemFunctionCall,
    ]
    assert done.response.usage.total_tokens == 19
    # back to the classic dialect: the same events, the GA-only repeats left out
    texts = [text for classic in sent for text in OPENAI_GA.encode_server_event(classic)]
    assert [event.to_dict() for event in decode_all(texts)] == [event.to_dict() for event in sent]


async def test_a_response_cut_short_is_valid_ga() -> None:
    sent = await run_response([TextDelta("Once upon a"), Finished("length")])
    ga = [event for classic in sent for event in encode(classic)]
    done = ga[-1]
    assert isinstance(done, ResponseDoneEvent)
    assert done.response.status == "incomplete"
    assert done.response.status_details.reason == "max_output_tokens"
    assert done.response.output[0].status == "incomplete"


# --- 3. round trips classic -> GA -> classic -----------------------------------------------------

ROUND_TRIP_SERVER_EVENTS = [
    ServerEventSessionCreated(session=default_session()),
    ServerEventSessionUpdated(
        session=default_session().model_copy(update={"modalities": ["text"], "turn_detection": None})
    ),
    ServerEventConversationItemCreated(previous_item_id=None, item=assistant_message("in_progress")),
    ServerEventConversationItemCreated(previous_item_id="item_0", item=user_message()),
    ServerEventResponseOutputItemAdded(
        response_id="resp_1",
        output_index=0,
        item=assistant_message("in_progress"),
    ),
    ServerEventResponseOutputItemDone(response_id="resp_1", output_index=0, item=assistant_message()),
    ServerEventResponseOutputItemDone(response_id="resp_1", output_index=1, item=function_call()),
    ServerEventResponseContentPartAdded(**WHERE, part=TextContentPart(text="")),
    ServerEventResponseContentPartDone(**WHERE, part=AudioContentPart(transcript="Hi")),
    ServerEventResponseCreated(response=in_progress_response()),
    ServerEventResponseDone(
        response=in_progress_response(
            status="completed",
            output=[assistant_message(), function_call()],
            usage=TokenUsage(total_tokens=3),
        )
    ),
    *RENAMED_EVENTS,
    *PASS_THROUGH_EVENTS,
]


@pytest.mark.parametrize("classic", ROUND_TRIP_SERVER_EVENTS, ids=lambda event: event.type)
def test_server_event_round_trip(classic: ServerEvent) -> None:
    texts = OPENAI_GA.encode_server_event(classic)
    assert texts
    [back] = decode_all(texts)
    assert type(back) is type(classic)
    assert back.to_dict() == classic.to_dict()


def classic_session_update() -> ClientEventSessionUpdate:
    return ClientEventSessionUpdate(
        event_id="evt_su2",
        session=RequestSession(
            model="gpt-realtime",
            modalities=["text", "audio"],
            instructions="Be brief.",
            voice="alloy",
            input_audio_format="pcm16",
            input_audio_sampling_rate=24000,
            output_audio_format="g711_alaw",
            turn_detection=None,
            input_audio_noise_reduction=AudioNoiseReduction(type="near_field"),
            input_audio_transcription=AudioInputTranscriptionOptions(model="whisper-1", language="en"),
            tools=[FunctionTool(name="get_weather", description="d", parameters={"type": "object"})],
            tool_choice=ToolChoiceFunctionSelection(name="get_weather"),
            max_response_output_tokens=300,
            reasoning_effort="low",
            include=["item.input_audio_transcription.logprobs"],
            parallel_tool_calls=False,
        ),
    )


def classic_session_update_text_only() -> ClientEventSessionUpdate:
    return ClientEventSessionUpdate(
        session=RequestSession(
            modalities=["text"],
            input_audio_format="g711_ulaw",
            output_audio_format="g711_ulaw",
            turn_detection=SemanticVad(eagerness="low"),
            tools=[
                MCPServer(
                    server_label="docs",
                    server_url="https://mcp.example.com",
                    require_approval="never",
                ),
            ],
            tool_choice=ToolChoiceMCPSelection(server_label="docs"),
            max_response_output_tokens="inf",
        )
    )


def classic_response_create() -> ClientEventResponseCreate:
    return ClientEventResponseCreate(
        event_id="evt_rc2",
        response=ResponseCreateParams(
            modalities=["text"],
            instructions="Answer in French.",
            voice="coral",
            output_audio_format="pcm16",
            conversation="none",
            metadata={"topic": "geography"},
            max_output_tokens=50,
            tool_choice="required",
            input=[
                MessageItem(role="user", content=[InputTextContentPart(text="Capital of Italy?")]),
                MessageItem(role="assistant", content=[TextContentPart(text="Rome.")]),
            ],
        ),
    )


def classic_item_create() -> ClientEventConversationItemCreate:
    return ClientEventConversationItemCreate(
        event_id="evt_ci2",
        previous_item_id="root",
        item=MessageItem(
            id="item_x1",
            role="assistant",
            content=[TextContentPart(text="Earlier."), AudioContentPart(transcript="Hm.")],
        ),
    )


ROUND_TRIP_CLIENT_EVENTS = [
    classic_session_update(),
    classic_session_update_text_only(),
    classic_response_create(),
    ClientEventResponseCreate(),
    classic_item_create(),
    ClientEventConversationItemCreate(item=FunctionCallOutputItem(call_id="call_1", output="{}")),
    ClientEventInputAudioBufferAppend(audio="AAAAAA=="),
    ClientEventInputAudioBufferCommit(),
    ClientEventInputAudioBufferClear(),
    ClientEventOutputAudioBufferClear(),
    ClientEventConversationItemTruncate(item_id="item_a1", content_index=0, audio_end_ms=1500),
    ClientEventConversationItemDelete(item_id="item_a1"),
    ClientEventConversationItemRetrieve(item_id="item_a1"),
    ClientEventResponseCancel(response_id="resp_1"),
]


@pytest.mark.parametrize("classic", ROUND_TRIP_CLIENT_EVENTS, ids=lambda event: event.type)
def test_client_event_round_trip(classic: ClientEvent) -> None:
    text = OPENAI_GA.encode_client_event(classic)
    assert text is not None
    assert json.loads(text) == client_event_to_ga(classic.to_dict())
    sdk_client_event(text)
    back = OPENAI_GA.decode_client_event(text)
    assert type(back) is type(classic)
    assert back.to_dict() == classic.to_dict()


# --- 4. the reverse directions: GA server -> classic, classic client -> GA ------------------------

GA_SESSION_CREATED: JSON = {
    "type": "session.created",
    "event_id": "event_1",
    "session": {
        "type": "realtime",
        "object": "realtime.session",
        "id": "sess_1",
        "model": "gpt-realtime",
        "expires_at": 0,
        "output_modalities": ["audio"],
        "instructions": "",
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "truncation": "auto",
        "prompt": None,
        "audio": {
            "input": {
                "format": {"type": "audio/pcm", "rate": 24000},
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "idle_timeout_ms": None,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": {"type": "audio/pcm", "rate": 24000}, "voice": "alloy", "speed": 1.0},
        },
    },
}


def test_ga_session_created_decodes_to_a_response_session() -> None:
    event = OPENAI_GA.decode_server_event(json.dumps(GA_SESSION_CREATED))
    assert isinstance(event, ServerEventSessionCreated)
    assert event.event_id == "event_1"
    session = event.session
    assert session.id == "sess_1"
    assert session.object == "realtime.session"
    assert session.expires_at == 0
    assert session.model == "gpt-realtime"
    assert session.modalities == ["text", "audio"]
    assert session.voice == "alloy"
    assert session.input_audio_format == "pcm16"
    assert session.input_audio_sampling_rate == 24000
    assert session.output_audio_format == "pcm16"
    assert isinstance(session.turn_detection, ServerVad)
    assert session.turn_detection.silence_duration_ms == 200
    assert session.input_audio_transcription is None
    assert session.input_audio_noise_reduction is None
    assert session.max_response_output_tokens == "inf"
    assert session.tool_choice == "auto"
    ga_only = {"tracing", "truncation", "prompt", "audio", "type", "output_modalities"}
    assert not ga_only & session.to_dict().keys()
    assert session.speed == 1.0
    assert not session.model_extra


def test_ga_item_added_and_done() -> None:
    item = {
        "id": "item_1",
        "object": "realtime.item",
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": "Hi."}],
    }
    added = {"type": "conversation.item.added", "event_id": "e2", "previous_item_id": "item_0", "item": item}
    done = {"type": "conversation.item.done", "event_id": "e3", "previous_item_id": "item_0", "item": item}
    for ga in (added, done):
        sdk_server_event(json.dumps(ga))
    classic = server_event_from_ga(added)
    assert classic is not None
    assert classic["type"] == "conversation.item.created"
    assert classic["item"]["content"] == [{"type": "text", "text": "Hi."}]
    assert added["item"]["content"][0]["type"] == "output_text"  # the input is not modified
    event = OPENAI_GA.decode_server_event(json.dumps(added))
    assert isinstance(event, ServerEventConversationItemCreated)
    assert event.previous_item_id == "item_0"
    assert isinstance(event.item, MessageItem)
    assert event.item.content == [TextContentPart(text="Hi.")]
    assert server_event_from_ga(done) is None
    assert OPENAI_GA.decode_server_event(json.dumps(done)) is None


def test_ga_output_item_done_with_audio_content() -> None:
    ga = {
        "type": "response.output_item.done",
        "event_id": "e4",
        "response_id": "resp_1",
        "output_index": 0,
        "item": {
            "id": "item_1",
            "object": "realtime.item",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_audio", "transcript": "Hi."}],
        },
    }
    sdk_server_event(json.dumps(ga))
    event = OPENAI_GA.decode_server_event(json.dumps(ga))
    assert isinstance(event, ServerEventResponseOutputItemDone)
    assert isinstance(event.item, MessageItem)
    assert event.item.content == [AudioContentPart(transcript="Hi.")]


@pytest.mark.parametrize(("classic_type", "ga_type"), list(RENAMES.items()))
def test_ga_response_events_get_their_classic_names(classic_type: str, ga_type: str) -> None:
    ga: JSON = {"type": ga_type, "event_id": "e5", **WHERE}
    if ga_type.endswith("delta"):
        ga["delta"] = "AAAA"
    elif ga_type == "response.output_text.done":
        ga["text"] = "Hello"
    elif ga_type == "response.output_audio_transcript.done":
        ga["transcript"] = "Hello"
    sdk_server_event(json.dumps(ga))
    event = OPENAI_GA.decode_server_event(json.dumps(ga))
    assert event is not None
    assert type(event) is SERVER_EVENTS[classic_type]
    assert event.to_dict() == {**ga, "type": classic_type}


def test_ga_content_part_keeps_its_type() -> None:
    ga = {
        "type": "response.content_part.added",
        "event_id": "e6",
        **WHERE,
        "part": {"type": "audio", "transcript": ""},
    }
    sdk_server_event(json.dumps(ga))
    event = OPENAI_GA.decode_server_event(json.dumps(ga))
    assert isinstance(event, ServerEventResponseContentPartAdded)
    assert event.part == AudioContentPart(transcript="")


GA_RESPONSE_DONE: JSON = {
    "type": "response.done",
    "event_id": "e7",
    "response": {
        "id": "resp_1",
        "object": "realtime.response",
        "status": "completed",
        "status_details": None,
        "output": [
            {
                "id": "item_1",
                "object": "realtime.item",
                "type": "message",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": "Hi."}],
            }
        ],
        "conversation_id": "conv_1",
        "output_modalities": ["text"],
        "max_output_tokens": "inf",
        "audio": {"output": {"format": {"type": "audio/pcmu"}, "voice": "alloy"}},
        "usage": {
            "total_tokens": 3,
            "input_tokens": 1,
            "output_tokens": 2,
            "input_token_details": {"text_tokens": 1, "audio_tokens": 0, "cached_tokens": 0},
            "output_token_details": {"text_tokens": 2, "audio_tokens": 0},
        },
        "metadata": None,
    },
}


def test_ga_response_done_decodes_to_a_classic_response() -> None:
    event = OPENAI_GA.decode_server_event(json.dumps(GA_RESPONSE_DONE))
    assert isinstance(event, ServerEventResponseDone)
    response = event.response
    assert response.id == "resp_1"
    assert response.status == "completed"
    assert response.modalities == ["text"]
    assert response.voice == "alloy"
    assert response.output_audio_format == "g711_ulaw"
    assert response.max_output_tokens == "inf"
    assert response.conversation_id == "conv_1"
    [item] = response.output
    assert isinstance(item, MessageItem)
    assert item.content == [TextContentPart(text="Hi.")]
    assert response.usage is not None
    assert (response.usage.total_tokens, response.usage.output_tokens) == (3, 2)
    assert not {"audio", "output_modalities"} & response.to_dict().keys()


def test_unknown_ga_server_event_is_kept() -> None:
    ga = {
        "type": "input_audio_buffer.timeout_triggered",
        "event_id": "e8",
        "item_id": "i",
        "audio_start_ms": 1,
        "audio_end_ms": 2,
    }
    sdk_server_event(json.dumps(ga))
    event = OPENAI_GA.decode_server_event(json.dumps(ga))
    assert isinstance(event, UnknownServerEvent)
    assert event.to_dict() == ga


def test_classic_session_update_becomes_a_ga_session() -> None:
    text = OPENAI_GA.encode_client_event(classic_session_update())
    assert text is not None
    wire = json.loads(text)
    assert "turn_detection" in wire["session"]["audio"]["input"]
    assert wire["session"]["audio"]["input"]["turn_detection"] is None
    event = sdk_client_event(text)
    assert isinstance(event, SessionUpdateEvent)
    assert event.event_id == "evt_su2"
    session = event.session
    assert isinstance(session, RealtimeSessionCreateRequest)
    assert session.type == "realtime"
    assert session.model == "gpt-realtime"
    assert session.output_modalities == ["audio"]
    assert session.max_output_tokens == 300
    assert session.reasoning is not None
    assert session.reasoning.effort == "low"
    assert session.parallel_tool_calls is False
    assert session.audio.input.format == AudioPCM(type="audio/pcm", rate=24000)
    assert session.audio.input.turn_detection is None
    assert session.audio.input.noise_reduction.type == "near_field"
    assert session.audio.input.transcription == AudioTranscription(model="whisper-1", language="en")
    assert session.audio.output.format == AudioPCMA(type="audio/pcma")
    assert session.audio.output.voice == "alloy"
    assert session.tool_choice == ToolChoiceFunction(type="function", name="get_weather")


def test_classic_text_only_session_update_with_mcp() -> None:
    text = OPENAI_GA.encode_client_event(classic_session_update_text_only())
    assert text is not None
    session = sdk_client_event(text).session
    assert session.output_modalities == ["text"]
    assert session.audio.input.format == AudioPCMU(type="audio/pcmu")
    assert session.audio.output.format == AudioPCMU(type="audio/pcmu")
    assert session.audio.input.turn_detection.type == "semantic_vad"
    assert session.audio.input.turn_detection.eagerness == "low"
    [tool] = session.tools
    assert isinstance(tool, SdkMcpTool)
    assert (tool.server_label, tool.server_url, tool.require_approval) == (
        "docs",
        "https://mcp.example.com",
        "never",
    )
    assert session.tool_choice == ToolChoiceMcp(type="mcp", server_label="docs")
    assert session.max_output_tokens == "inf"


def test_classic_response_create_becomes_ga_params() -> None:
    text = OPENAI_GA.encode_client_event(classic_response_create())
    assert text is not None
    event = sdk_client_event(text)
    assert isinstance(event, ResponseCreateEvent)
    params = event.response
    assert params is not None
    assert params.output_modalities == ["text"]
    assert params.audio.output.format == AudioPCM(type="audio/pcm", rate=24000)
    assert params.audio.output.voice == "coral"
    assert params.conversation == "none"
    assert params.metadata == {"topic": "geography"}
    assert params.max_output_tokens == 50
    assert params.tool_choice == "required"
    user, assistant = params.input
    assert isinstance(user, RealtimeConversationItemUserMessage)
    assert isinstance(assistant, RealtimeConversationItemAssistantMessage)
    assert assistant.content[0].type == "output_text"


def test_classic_response_create_aliases_and_additional_instructions() -> None:
    classic = ClientEventResponseCreate(
        response=ResponseCreateParams(
            instructions="Be brief.",
            input_items=[MessageItem(role="user", content=[InputTextContentPart(text="Hi")])],
            max_response_output_tokens=64,
        ),
        additional_instructions="Mention the weather.",
    )
    text = OPENAI_GA.encode_client_event(classic)
    assert text is not None
    params = sdk_client_event(text).response
    assert params.instructions == "Be brief.\n\nMention the weather."
    assert params.max_output_tokens == 64
    [item] = params.input
    assert isinstance(item, RealtimeConversationItemUserMessage)
    assert "input_items" not in json.loads(text)["response"]
    assert "additional_instructions" not in json.loads(text)


def test_classic_assistant_item_create_uses_output_content_types() -> None:
    text = OPENAI_GA.encode_client_event(classic_item_create())
    assert text is not None
    event = sdk_client_event(text)
    assert isinstance(event, ConversationItemCreateEvent)
    assert event.previous_item_id == "root"
    assert isinstance(event.item, RealtimeConversationItemAssistantMessage)
    assert [part.type for part in event.item.content] == ["output_text", "output_audio"]


@pytest.mark.parametrize(
    "classic",
    [
        ClientEventInputAudioTurnStart(turn_id="turn_1"),
        ClientEventInputAudioClear(),
        ClientEventInputTextDelta(id="item_u1", delta="Hel"),
        ClientEventSessionAvatarConnect(client_sdp="v=0"),
        ClientEventTranscriptionSessionUpdate(session={}),
    ],
    ids=lambda event: event.type,
)
def test_azure_only_client_events_have_no_ga_form(classic: ClientEvent) -> None:
    assert client_event_to_ga(classic.to_dict()) is None
    assert OPENAI_GA.encode_client_event(classic) is None
    assert VOICELIVE.encode_client_event(classic) == classic.to_json()


def test_the_classic_dialect_changes_nothing() -> None:
    classic = classic_item_create()
    assert VOICELIVE.decode_client_event(classic.to_json()).to_dict() == classic.to_dict()
    event = ServerEventResponseTextDelta(**WHERE, delta="Hi")
    [text] = VOICELIVE.encode_server_event(event)
    assert json.loads(text)["type"] == "response.text.delta"
    back = VOICELIVE.decode_server_event(text)
    assert back is not None
    assert back.to_dict() == event.to_dict()


# --- per-connection state, voices, and what GA leaves out ------------------------------------------


def test_a_connection_closes_only_the_items_it_added_to_the_conversation() -> None:
    open_items: set[str] = set()
    item = MessageItem(id="item_a", object="realtime.item", role="assistant", status="in_progress", content=[])
    created = ServerEventConversationItemCreated(previous_item_id=None, item=item)
    added = OPENAI_GA.encode_server_event(created, open_items)
    assert [json.loads(t)["type"] for t in added] == ["conversation.item.added"]
    assert open_items == {"item_a"}

    done_item = item.model_copy(update={"status": "completed"})
    in_band = ServerEventResponseOutputItemDone(response_id="resp_1", output_index=0, item=done_item)
    frames = [json.loads(t) for t in OPENAI_GA.encode_server_event(in_band, open_items)]
    assert [f["type"] for f in frames] == ["response.output_item.done", "conversation.item.done"]
    assert frames[0]["event_id"] != frames[1]["event_id"]
    assert open_items == set()
    for text in OPENAI_GA.encode_server_event(in_band, open_items):
        sdk_server_event(text)

    # An out-of-band response's item was never added, so nothing closes it.
    other = done_item.model_copy(update={"id": "item_b"})
    out_of_band = ServerEventResponseOutputItemDone(response_id="resp_2", output_index=0, item=other)
    assert [json.loads(t)["type"] for t in OPENAI_GA.encode_server_event(out_of_band, open_items)] == [
        "response.output_item.done"
    ]


def test_completed_item_added_and_done_have_distinct_event_ids() -> None:
    user = MessageItem(
        id="item_u", object="realtime.item", role="user", status="completed", content=[InputTextContentPart(text="hi")]
    )
    frames = [json.loads(t) for t in OPENAI_GA.encode_server_event(ServerEventConversationItemCreated(item=user))]
    assert [f["type"] for f in frames] == ["conversation.item.added", "conversation.item.done"]
    assert len({f["event_id"] for f in frames}) == 2


def test_typed_voices_are_sent_to_ga_by_name() -> None:
    from voxlive.protocol import AzureStandardVoice, OpenAIVoice, Response, ResponseSession

    for voice, name in ((OpenAIVoice(name="alloy"), "alloy"), (AzureStandardVoice(name="en-US-AvaNeural"), None)):
        session = ResponseSession(id="sess_1", voice=voice, modalities=["text", "audio"])
        [text] = OPENAI_GA.encode_server_event(ServerEventSessionUpdated(session=session))
        sent = json.loads(text)["session"]["audio"]["output"]["voice"]
        assert sent == (name or voice.name)
        sdk_server_event(text)
        response = Response(id="resp_1", voice=voice, modalities=["text", "audio"])
        [text] = OPENAI_GA.encode_server_event(ServerEventResponseCreated(response=response))
        assert json.loads(text)["response"]["audio"]["output"]["voice"] == (name or voice.name)


def test_classic_client_settings_that_ga_lacks_are_left_out() -> None:
    update = ClientEventSessionUpdate(
        session=RequestSession(temperature=0.3, instructions="Hi.", output_audio_timestamp_types=["word"])
    )
    text = OPENAI_GA.encode_client_event(update)
    assert text is not None
    assert json.loads(text)["session"] == {"type": "realtime", "instructions": "Hi."}
    sdk_client_event(text)
    create = ClientEventResponseCreate(response=ResponseCreateParams(temperature=0.2, reasoning_effort="low"))
    text = OPENAI_GA.encode_client_event(create)
    assert text is not None
    assert json.loads(text)["response"] == {"reasoning": {"effort": "low"}}
    sdk_client_event(text)


def test_reasoning_effort_maps_both_ways_in_response_create() -> None:
    event = OPENAI_GA.decode_client_event(
        json.dumps({"type": "response.create", "response": {"reasoning": {"effort": "high"}}})
    )
    assert isinstance(event, ClientEventResponseCreate)
    assert event.response is not None and event.response.reasoning_effort == "high"


def test_a_ga_transcription_session_is_a_transcription_session_update() -> None:
    ga = {"type": "session.update", "session": {"type": "transcription", "audio": {"input": {}}}}
    event = OPENAI_GA.decode_client_event(json.dumps(ga))
    assert isinstance(event, ClientEventTranscriptionSessionUpdate)
    assert event.session["type"] == "transcription"


def test_mcp_call_arguments_done_always_carries_arguments() -> None:
    from voxlive.protocol import ServerEventResponseMcpCallArgumentsDone

    event = ServerEventResponseMcpCallArgumentsDone(response_id="r", item_id="i", output_index=0)
    [text] = OPENAI_GA.encode_server_event(event)
    assert json.loads(text)["arguments"] == ""
    sdk_server_event(text)


def test_item_references_in_response_input() -> None:
    ga = {"type": "response.create", "response": {"input": [{"type": "item_reference", "id": "item_1"}]}}
    event = OPENAI_GA.decode_client_event(json.dumps(ga))
    assert isinstance(event, ClientEventResponseCreate)
    assert event.response is not None and event.response.input is not None
    assert event.response.input[0].type == "item_reference"
