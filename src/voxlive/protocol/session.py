"""Session configuration of the VoiceLive classic dialect: voices, audio, turn detection, tools."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from .base import WireModel

Modality = Literal["text", "audio", "animation", "avatar"]
InputAudioFormat = Literal["pcm16", "g711_ulaw", "g711_alaw"]
OutputAudioFormat = Literal["pcm16", "pcm16_8000hz", "pcm16_16000hz", "g711_ulaw", "g711_alaw"]
OpenAIVoiceName = Literal["alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse", "marin", "cedar"]
PersonalVoiceModel = Literal[
    "DragonLatestNeural", "PhoenixLatestNeural", "PhoenixV2Neural", "DragonHDOmniLatestNeural", "MAI-Voice-1"
]
ReasoningEffort = Literal["none", "minimal", "low", "medium", "high", "xhigh"]
ToolChoiceLiteral = Literal["auto", "none", "required"]
IncludeOption = Literal[
    "item.input_audio_transcription.logprobs",
    "item.input_audio_transcription.phrases",
    "file_search_call.results",
]

# --- voices ---------------------------------------------------------------------------------------


class OpenAIVoice(WireModel):
    type: Literal["openai"] = "openai"
    name: str


class _AzureVoiceTuning(WireModel):
    temperature: Annotated[float, Field(ge=0, le=1)] | None = None
    custom_lexicon_url: str | None = None
    custom_text_normalization_url: str | None = None
    prefer_locales: list[str] | None = None
    locale: str | None = None
    style: str | None = None
    pitch: str | None = None
    rate: str | None = None
    volume: str | None = None


class AzureStandardVoice(_AzureVoiceTuning):
    type: Literal["azure-standard"] = "azure-standard"
    name: Annotated[str, Field(min_length=1)]


class AzureCustomVoice(_AzureVoiceTuning):
    type: Literal["azure-custom"] = "azure-custom"
    name: Annotated[str, Field(min_length=1)]
    endpoint_id: Annotated[str, Field(min_length=1)]


class AzurePersonalVoice(_AzureVoiceTuning):
    type: Literal["azure-personal"] = "azure-personal"
    name: Annotated[str, Field(min_length=1)]
    model: PersonalVoiceModel


class AzureAvatarVoiceSyncVoice(_AzureVoiceTuning):
    type: Literal["avatar-voice-sync"] = "avatar-voice-sync"
    model: PersonalVoiceModel


class AzureRealtimeNativeVoice(WireModel):
    type: Literal["azure-realtime-native"] = "azure-realtime-native"
    name: str


VoiceObject = Annotated[
    OpenAIVoice
    | AzureStandardVoice
    | AzureCustomVoice
    | AzurePersonalVoice
    | AzureAvatarVoiceSyncVoice
    | AzureRealtimeNativeVoice,
    Field(discriminator="type"),
]
Voice = str | VoiceObject
"""A bare voice name (``"alloy"``, or a locally configured voice) or a typed voice object."""


def voice_name(voice: Voice) -> str:
    """The name a voice is known by, whatever its form."""
    if isinstance(voice, str):
        return voice
    return str(getattr(voice, "name", None) or getattr(voice, "model", ""))


# --- turn detection -------------------------------------------------------------------------------

EouThresholdLevel = Literal["low", "medium", "high", "default"]
MAX_SILENCE_MS = 10_000
"""The longest silence that may end a turn (``silence_duration_ms``), and the longest extra wait for an unfinished
one (``end_of_utterance_detection.timeout_ms``): a longer one would leave the user waiting for an answer."""
MAX_PADDING_MS = 5_000
"""The most audio before speech a turn may keep (``prefix_padding_ms``), and the longest speech that may be needed
to start one (``speech_duration_ms``)."""


class _EouDetection(WireModel):
    threshold_level: EouThresholdLevel | None = None
    timeout_ms: Annotated[int, Field(ge=0, le=MAX_SILENCE_MS)] | None = None


class AzureSemanticDetection(_EouDetection):
    model: Literal["semantic_detection_v1"] = "semantic_detection_v1"


class AzureSemanticDetectionEn(_EouDetection):
    model: Literal["semantic_detection_v1_en"] = "semantic_detection_v1_en"


class AzureSemanticDetectionMultilingual(_EouDetection):
    model: Literal["semantic_detection_v1_multilingual"] = "semantic_detection_v1_multilingual"


class SmartEndOfTurnDetection(_EouDetection):
    model: Literal["smart_end_of_turn_detection"] = "smart_end_of_turn_detection"


EouDetection = Annotated[
    AzureSemanticDetection | AzureSemanticDetectionEn | AzureSemanticDetectionMultilingual | SmartEndOfTurnDetection,
    Field(discriminator="model"),
]


class _VadBase(WireModel):
    threshold: Annotated[float, Field(ge=0, le=1)] = 0.5
    prefix_padding_ms: Annotated[int, Field(ge=0, le=MAX_PADDING_MS)] = 300
    silence_duration_ms: Annotated[int, Field(ge=0, le=MAX_SILENCE_MS)] = 500
    end_of_utterance_detection: EouDetection | None = None
    auto_truncate: bool = False
    create_response: bool = True
    interrupt_response: bool = True


class ServerVad(_VadBase):
    type: Literal["server_vad"] = "server_vad"
    speech_duration_ms: Annotated[int, Field(ge=0, le=MAX_PADDING_MS)] | None = None
    idle_timeout_ms: Annotated[int, Field(ge=0)] | None = None


class _AzureSemanticVadBase(_VadBase):
    speech_duration_ms: Annotated[int, Field(ge=0, le=MAX_PADDING_MS)] | None = None
    remove_filler_words: bool = False


class AzureSemanticVad(_AzureSemanticVadBase):
    type: Literal["azure_semantic_vad"] = "azure_semantic_vad"
    languages: list[str] | None = None


class AzureSemanticVadEn(_AzureSemanticVadBase):
    type: Literal["azure_semantic_vad_en"] = "azure_semantic_vad_en"


class AzureSemanticVadMultilingual(_AzureSemanticVadBase):
    type: Literal["azure_semantic_vad_multilingual"] = "azure_semantic_vad_multilingual"
    languages: list[str] | None = None


class SemanticVad(WireModel):
    """OpenAI's semantic VAD (accepted by VoiceLive for gpt-realtime models)."""

    type: Literal["semantic_vad"] = "semantic_vad"
    eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    create_response: bool = True
    interrupt_response: bool = True


TurnDetection = Annotated[
    ServerVad | AzureSemanticVad | AzureSemanticVadEn | AzureSemanticVadMultilingual | SemanticVad,
    Field(discriminator="type"),
]

# --- audio processing, transcription --------------------------------------------------------------


class AudioNoiseReduction(WireModel):
    type: Literal["azure_deep_noise_suppression", "near_field", "far_field"] = "azure_deep_noise_suppression"


class AudioEchoCancellation(WireModel):
    type: Literal["server_echo_cancellation"] = "server_echo_cancellation"
    reference_source: Literal["server", "client"] | None = None
    channels: Annotated[int, Field(ge=1, le=2)] | None = None


class AudioInputTranscriptionOptions(WireModel):
    model: str | None = None
    """``whisper-1``, ``gpt-4o-transcribe``, ``gpt-4o-mini-transcribe``, ``azure-speech``, … or a local model."""
    language: str | None = None
    prompt: str | None = None
    phrase_list: list[str] | None = None
    custom_speech: dict[str, str] | None = None


# --- animation, avatar ----------------------------------------------------------------------------


AnimationOutput = Literal["blendshapes", "viseme_id"]


class Animation(WireModel):
    model_name: str = "default"
    outputs: list[AnimationOutput] = Field(default_factory=lambda: list[AnimationOutput](["blendshapes"]))


class IceServer(WireModel):
    urls: list[str]
    username: str | None = None
    credential: str | None = None


class VideoCrop(WireModel):
    top_left: list[int]
    bottom_right: list[int]


class VideoResolution(WireModel):
    width: int
    height: int


class Background(WireModel):
    color: str | None = None
    image_url: str | None = None


class VideoParams(WireModel):
    bitrate: int | None = None
    codec: Literal["h264"] | None = None
    crop: VideoCrop | None = None
    resolution: VideoResolution | None = None
    background: Background | None = None
    gop_size: Annotated[int, Field(ge=1, le=2000)] | None = None


class Scene(WireModel):
    zoom: float | None = None
    position_x: float | None = None
    position_y: float | None = None
    rotation_x: float | None = None
    rotation_y: float | None = None
    rotation_z: float | None = None
    amplitude: float | None = None


class AvatarConfig(WireModel):
    type: Literal["video-avatar", "photo-avatar"] | None = None
    character: str
    style: str | None = None
    customized: bool = False
    model: Literal["vasa-1"] | None = None
    ice_servers: list[IceServer] | None = None
    video: VideoParams | None = None
    scene: Scene | None = None
    output_protocol: Literal["webrtc", "websocket"] | None = None
    output_audit_audio: bool | None = None


# --- tools ----------------------------------------------------------------------------------------


class FunctionTool(WireModel):
    type: Literal["function"] = "function"
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    description: str | None = None
    parameters: dict[str, object] | None = None


class MCPToolFilter(WireModel):
    """Tools chosen by name and/or by their ``readOnlyHint`` annotation (OpenAI GA); a list of names also does."""

    read_only: bool | None = None
    tool_names: list[str] | None = None


class MCPApprovalFilter(WireModel):
    never: list[str] | MCPToolFilter | None = None
    always: list[str] | MCPToolFilter | None = None


class MCPServer(WireModel):
    type: Literal["mcp"] = "mcp"
    server_label: Annotated[str, Field(min_length=1)]
    server_url: Annotated[str, Field(min_length=1)]
    allowed_tools: list[str] | MCPToolFilter | None = None
    headers: dict[str, str] | None = None
    authorization: str | None = None
    require_approval: Literal["never", "always"] | MCPApprovalFilter | None = None


class FoundryAgentTool(WireModel):
    type: Literal["foundry_agent"] = "foundry_agent"
    agent_name: str
    project_name: str
    agent_version: str | None = None
    client_id: str | None = None
    description: str | None = None
    foundry_resource_override: str | None = None
    agent_context_type: Literal["no_context", "agent_context"] | None = None
    return_agent_response_directly: bool | None = None


Tool = Annotated[FunctionTool | MCPServer | FoundryAgentTool, Field(discriminator="type")]


class ToolChoiceFunctionSelection(WireModel):
    type: Literal["function"] = "function"
    name: str


class ToolChoiceMCPSelection(WireModel):
    type: Literal["mcp"] = "mcp"
    server_label: str
    name: str | None = None


ToolChoice = (
    ToolChoiceLiteral | Annotated[ToolChoiceFunctionSelection | ToolChoiceMCPSelection, Field(discriminator="type")]
)

# --- interim responses ----------------------------------------------------------------------------


class _InterimResponseBase(WireModel):
    triggers: list[Literal["latency", "tool"]] | None = None
    latency_threshold_ms: Annotated[int, Field(ge=0)] | None = None


class StaticInterimResponseConfig(_InterimResponseBase):
    type: Literal["static_interim_response"] = "static_interim_response"
    texts: list[str] | None = None


class LlmInterimResponseConfig(_InterimResponseBase):
    type: Literal["llm_interim_response"] = "llm_interim_response"
    model: str | None = None
    instructions: str | None = None
    max_completion_tokens: Annotated[int, Field(ge=1)] | None = None


InterimResponseConfig = Annotated[StaticInterimResponseConfig | LlmInterimResponseConfig, Field(discriminator="type")]

# --- the session ----------------------------------------------------------------------------------

MaxTokens = Annotated[int, Field(ge=1)] | Literal["inf"]


class RequestSession(WireModel):
    """The payload of ``session.update``: every field optional; what is sent replaces what was."""

    model: str | None = None
    modalities: list[Modality] | None = None
    animation: Animation | None = None
    voice: Voice | None = None
    instructions: str | None = None
    input_audio_sampling_rate: Literal[8000, 16000, 24000] | None = None
    input_audio_format: InputAudioFormat | None = None
    output_audio_format: OutputAudioFormat | None = None
    turn_detection: TurnDetection | None = None
    input_audio_noise_reduction: AudioNoiseReduction | None = None
    input_audio_echo_cancellation: AudioEchoCancellation | None = None
    avatar: AvatarConfig | None = None
    input_audio_transcription: AudioInputTranscriptionOptions | None = None
    output_audio_timestamp_types: list[Literal["word"]] | None = None
    tools: list[Tool] | None = None
    tool_choice: ToolChoice | None = None
    temperature: Annotated[float, Field(ge=0, le=2)] | None = None
    speed: Annotated[float, Field(ge=0.25, le=1.5)] | None = None
    """OpenAI's speaking speed (1 is the voice's own)."""
    max_response_output_tokens: MaxTokens | None = None
    reasoning_effort: ReasoningEffort | None = None
    interim_response: InterimResponseConfig | None = None
    include: list[IncludeOption] | None = None
    metadata: dict[str, str] | None = None
    parallel_tool_calls: bool | None = None


class AgentConfig(WireModel):
    type: Literal["agent"] = "agent"
    name: str
    description: str | None = None
    agent_id: str
    thread_id: str


class ResponseSession(RequestSession):
    """The effective session configuration, as sent in ``session.created`` / ``session.updated``."""

    id: str
    object: Literal["realtime.session"] = "realtime.session"
    agent: AgentConfig | None = None
    expires_at: int | None = None
