"""Settings of a voxlive server, from defaults, a TOML file and the command line."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .speech.sampling import DEFAULT_SAMPLING, DEFAULT_TEMPERATURE, Sampling


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = 8000
    api_keys: list[str] = Field(default_factory=list)
    """When not empty, every connection must present one of these keys."""
    max_sessions: int = 100
    max_load: float = Field(default=0.9, gt=0)
    """The server is full (refusing new sessions, ``/health`` 503 ``full``) when its busiest stage was this busy
    over the last ``load_window_seconds`` (its work running or waiting, over what it can run at once: 0 to 1);
    above 1, the load never fills it."""
    load_window_seconds: float = Field(default=20.0, gt=0)
    max_message_bytes: int = 16 * 1024 * 1024
    """The largest client message accepted; a larger one gets an error event."""
    max_upload_bytes: int = 25 * 1024 * 1024
    """The largest body of a speech API request (an audio file to transcribe; OpenAI's limit): a larger one is
    refused with 413 as soon as it says or is read so."""
    max_audio_seconds: float = 600.0
    """The longest audio file transcribed (speech API, agents): a longer one is refused before it is decoded whole."""
    max_items: int = 2000
    """The most items one conversation may hold."""
    max_unread_bytes: int = 16 * 1024 * 1024
    """Server events a client may leave unread; past this the session ends (close code 1008) instead of
    buffering without bound."""
    max_audio_ahead_seconds: float = 60.0
    """How far ahead of real time a session's input audio may run (audio sent faster than it is spoken)."""
    max_sessions_per_key: int | None = None
    """The most sessions one API key may hold at once (``None``: only ``max_sessions`` bounds them)."""
    allowed_origins: list[str] = Field(default_factory=list)
    """Web pages (``https://app.example.com``) that may open sessions besides the server's own page; ``"*"``
    allows any. A page from any other origin is refused, so no site a user visits can drive this server."""
    public_metrics: bool = False
    """Serve ``/metrics`` without an API key (for a Prometheus scraper on a private network)."""
    drain_seconds: float = 30.0
    """On SIGTERM: how long running responses may take to finish before every socket is closed (code 1012)."""
    header_timeout: float = 10.0
    """Seconds a client may take to send a request's headers before its connection is closed."""
    max_instructions_chars: int = 32_000
    """The longest instructions a session or response may set (about 8,000 tokens: ample for remote models; the
    local model's 4,096-token context holds less, and keeps the end of a prompt too long for it)."""
    stage_timeout: float = 30.0
    """Seconds an OpenAI-compatible LLM, STT or TTS may go without producing anything (to its first token or piece,
    and between pieces); then the response fails, naming the stage."""


class LLMSettings(_Section):
    provider: Literal["local", "openai", "llama-server"] = "local"
    """``local``: the model in-process, one reply at a time; ``llama-server``: the same GGUF in llama.cpp's server,
    started and watched by voxlive, replying to ``slots`` sessions at once; ``openai``: a chat-completions service."""
    model_path: str | None = None
    """A GGUF file for the local and llama-server providers; the bundled Qwen2.5 0.5B model when unset."""
    context_tokens: int = 4096
    """The context of the local model; for llama-server, of each slot."""
    slots: int = Field(default=4, ge=1)
    """llama-server: the replies generated at once (batched together); more wait for a free slot."""
    max_output_tokens: int = 4096
    """The most tokens of a reply from an OpenAI-compatible service when the response sets no limit (``inf``)."""
    base_url: str | None = None
    """The base URL of an OpenAI-compatible service (``http://host:port/v1``)."""
    api_key: str | None = None
    model: str = "gpt-4o-mini"
    """The model name sent to an OpenAI-compatible service."""
    vision: bool = False
    """The OpenAI-compatible model reads images (the video agent at ``/ws/video`` needs one)."""
    threads: int | None = None
    """Local and llama-server: the threads that decode (default: the cores the process may use, at most 8)."""
    yield_to_speech: bool = True
    """Local: decoding pauses while the first piece of a reply is synthesized (or a pause is transcribed), so
    that work has the cores to itself; llama-server: it runs at a lower CPU priority than voxlive (nice 10)."""
    read_ahead: bool = True
    """Local: the prompt of the next reply is read into the KV cache before it is asked (after each reply, and
    from partial transcripts while the user speaks), so the first token comes sooner. Other providers keep their own
    prompt caches: their sessions make no partial transcripts for it."""
    top_p: float = Field(default=DEFAULT_SAMPLING.top_p, gt=0, le=1)
    """Local: tokens are drawn from the likeliest whose probabilities add up to this."""
    min_p: float = Field(default=DEFAULT_SAMPLING.min_p, ge=0, le=1)
    """Local: tokens less likely than this fraction of the likeliest one are never drawn."""
    repeat_penalty: float = Field(default=DEFAULT_SAMPLING.repeat_penalty, gt=0)
    """Local: above 1, tokens already in the recent text are made less likely."""
    call_threshold: float = Field(default=DEFAULT_SAMPLING.call_threshold, ge=0, le=1)
    """Local: with ``tool_choice`` ``auto``, a reply opens with a tool call only when the model's first step puts
    at least this much of its probability on opening one (0: whatever is drawn)."""

    def sampling(self) -> Sampling:
        """How the local model draws tokens, as these settings say."""
        return Sampling(
            top_p=self.top_p, min_p=self.min_p, repeat_penalty=self.repeat_penalty, call_threshold=self.call_threshold
        )


class STTSettings(_Section):
    provider: Literal["local", "openai"] = "local"
    model: str = "moonshine-tiny"
    """Local: ``moonshine-tiny`` (bundled, English, fastest), ``tiny.en`` (bundled Whisper, English), ``base``
    (bundled Whisper, multilingual) or a CTranslate2 Whisper model directory; openai: the service's model name
    (``whisper-1``)."""
    base_url: str | None = None
    api_key: str | None = None
    threads: int | None = None
    """Local: threads per transcription (default: 1 for Moonshine, the cores the process may use for Whisper, at
    most 4)."""


class TTSSettings(_Section):
    provider: Literal["local", "openai"] = "local"
    voices: dict[str, str] = Field(default_factory=dict)
    """Voices by name: for ``local``, Piper model files (``amy = "/voices/en_US-amy-medium.onnx"``);
    for ``openai``, the service's voice names (``alloy = "alloy"``)."""
    aliases: dict[str, str] | None = None
    """Other names for voices; by default OpenAI's voice names stand for the bundled voice."""
    base_url: str | None = None
    api_key: str | None = None
    model: str = "tts-1"
    threads: int | None = None
    """Local: threads per synthesis (default: the cores the process may use, at most 4)."""
    first_words: int = Field(default=4, ge=0)
    """The first spoken piece of a reply ends after this many words (or at the first comma), so it is heard
    while the rest is written; later pieces are whole sentences. 0: the first clause or sentence."""


class TurnTakingSettings(_Section):
    """How the end of a user's turn is decided in the semantic modes."""

    smart_turn: bool = True
    """The audio turn model (Smart Turn v3.2) judges each pause with the transcript; off, the transcript alone."""
    draft_replies: bool = True
    """The reply starts at the user's pause, from the transcript so far, and is used if the turn ends there."""


class TelemetrySettings(_Section):
    otlp_endpoint: str | None = Field(default_factory=lambda: os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"))
    """An OTLP/HTTP collector (``http://host:4318``): each turn is sent there as a trace. Prometheus
    metrics are always served at ``/metrics``."""
    service_name: str = "voxlive"


class MCPSettings(_Section):
    """How sessions reach the MCP servers their tools name."""

    stdio_commands: dict[str, list[str]] = Field(default_factory=dict)
    """Local MCP servers a session may start, by name: a tool's ``server_url`` ``stdio:NAME`` runs the command
    (``weather = ["python", "weather_server.py"]``). Sessions can start no other command."""
    connect_timeout: float = 10.0
    """Seconds to connect to an MCP server and list its tools."""
    call_timeout: float = 60.0
    """Seconds one tool call may take."""
    approval_timeout: float = 300.0
    """Seconds a response waits for the client to approve a call before it goes on without it."""
    max_calls: int = 8
    """The most MCP tool calls in one response; after that the model must answer."""
    allow_private: bool = False
    """Sessions may name MCP servers at private, loopback, link-local (cloud metadata) and other non-public
    addresses. Off, such a server is refused unless its host is in ``allowed_hosts``."""
    allowed_hosts: list[str] = Field(default_factory=list)
    """Hosts sessions may name whatever their address (``["mcp.internal", "127.0.0.1"]``)."""


class StoreSettings(_Section):
    """Where conversations are kept, so a client can resume one after a dropped connection or a restart."""

    path: str | None = None
    """The SQLite file (default: ``conversations.db`` in the user's data directory)."""
    url: str | None = None
    """A Postgres database (``postgresql://user@host/db``) shared by several servers; replaces ``path``."""
    retention_days: float | None = 30.0
    """Conversations unchanged for this many days are deleted; ``None`` keeps them for ever."""
    keep_audio: bool = False
    """Keep a recording of each turn, both sides (``GET /conversations/{id}/items/{item_id}/audio``)."""


class ClusterSettings(_Section):
    """How ``voxlive serve --ray`` lays the server out on a Ray cluster (``voxlive.cluster``)."""

    gateway_replicas: int = 2
    """Replicas of the ``Gateway`` deployment: the sockets, sessions, VAD and turn model."""
    max_stage_replicas: int = 2
    """Each of the ``STT``, ``LLM`` and ``TTS`` deployments scales from one replica up to this many."""


class SessionDefaults(_Section):
    model: str = "voxlive-local"
    instructions: str = (
        "You are a helpful voice assistant. Answer briefly and conversationally, in one to three "
        "short sentences, without lists or markup. When a tool result is available, use it to answer."
    )
    voice: str | None = None
    """The voice of new sessions; by default the first the TTS offers: the bundled Piper voice
    (``en_US-joe-medium``), or for ``[tts] provider = "openai"`` the first of its voices (``alloy``)."""
    temperature: float = DEFAULT_TEMPERATURE


class Settings(_Section):
    server: ServerSettings = Field(default_factory=ServerSettings)
    llm: LLMSettings = Field(default_factory=LLMSettings)
    stt: STTSettings = Field(default_factory=STTSettings)
    tts: TTSSettings = Field(default_factory=TTSSettings)
    session: SessionDefaults = Field(default_factory=SessionDefaults)
    turn: TurnTakingSettings = Field(default_factory=TurnTakingSettings)
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    mcp: MCPSettings = Field(default_factory=MCPSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    cluster: ClusterSettings = Field(default_factory=ClusterSettings)

    @classmethod
    def load(cls, path: str | Path | None) -> Settings:
        """Settings from a TOML file (``[server]``, ``[llm]``, ``[session]`` tables), or the defaults."""
        if path is None:
            return cls()
        with Path(path).open("rb") as file:
            return cls.model_validate(tomllib.load(file))
