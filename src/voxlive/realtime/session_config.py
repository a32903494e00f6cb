"""``SessionConfig``: a session's settings, checked as the client changes them, and what they resolve to."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..config import SessionDefaults
from ..protocol import (
    ProtocolError,
    RequestSession,
    ResponseSession,
    ServerEvent,
    ServerEventWarning,
    Voice,
    WarningDetails,
    voice_name,
)
from ..speech.prosody import Prosody
from ..speech.tts import TTS
from ..speech.voices import DEFAULT_VOICE
from .mcp_servers import MCPServers
from .speaker import voice_prosody
from .tool_choice import check_tools, mcp_servers

TRANSCRIPTION_FIELDS = frozenset(
    {"input_audio_format", "input_audio_sampling_rate", "input_audio_transcription", "turn_detection",
     "input_audio_noise_reduction", "input_audio_echo_cancellation", "include"}
)  # fmt: skip
"""The fields of a ``transcription_session.update``: the input settings."""


@dataclass(frozen=True)
class ResolvedVoice:
    """A voice the TTS offers, by its name, and how its settings (with the session's ``speed``) ask it to speak."""

    voice: Voice
    name: str
    prosody: Prosody


class SessionConfig:
    """The session's settings (``session``) and the values responses take from them: the voice, resolved when
    the settings change, and the temperature. ``update`` checks a ``session.update`` before it applies any of it."""

    def __init__(
        self,
        session: ResponseSession,
        *,
        tts: TTS,
        mcp: MCPServers,
        send: Callable[[ServerEvent], None],
        max_instructions: int,
    ) -> None:
        self.session = session
        self.tts = tts
        self.mcp = mcp
        self.send = send
        self.max_instructions = max_instructions
        """The longest instructions (in characters) the session or a response may set."""
        self.default_voice: Voice = session.voice or DEFAULT_VOICE
        """The voice of a response when neither it nor the session names one."""
        self.default_temperature = SessionDefaults().temperature if session.temperature is None else session.temperature
        """The temperature of a response when neither it nor the session sets one (the server's configured one)."""
        self.transcription_only = False
        """The session only transcribes (``transcription_session.update``): turns are never answered."""
        voice = session.voice or self.default_voice
        self.voice = ResolvedVoice(voice, voice_name(voice), voice_prosody(voice, session.speed, "session.voice"))
        """The voice of the session's responses, resolved when the session's settings change."""

    @property
    def temperature(self) -> float:
        return self.default_temperature if self.session.temperature is None else self.session.temperature

    def update(self, update: RequestSession) -> None:
        """Check a ``session.update`` and apply it; unknown fields are ignored with a warning."""
        if update.model is not None and update.model != self.session.model:
            raise ProtocolError(
                "The session's model cannot be changed once the session has started.",
                code="invalid_value",
                param="session.model",
            )
        check_modalities(update.modalities, "session.modalities")
        self.check_instructions(update.instructions, "session.instructions")
        check_tools(update, "session", self.session.tools)
        self.mcp.check(mcp_servers(update.tools), "session.tools")
        changes = {name: getattr(update, name) for name in update.model_fields_set & RequestSession.model_fields.keys()}
        if changes.get("model", "") is None:
            del changes["model"]  # the session keeps its model
        session = self.session.model_copy(update=changes, deep=True)
        session.__pydantic_fields_set__.update(changes)
        voice = self.resolve_voice(session.voice or self.default_voice, session.speed, "session.voice")
        transcription = update.input_audio_transcription
        check_model_name(transcription.model if transcription else None, "session.input_audio_transcription.model")
        if update.model_extra:
            names = ", ".join(sorted(update.model_extra))
            message = f"Unknown session field(s) ignored: {names}."
            self.send(
                ServerEventWarning(warning=WarningDetails(message=message, code="unknown_parameter", param="session"))
            )
        self.session, self.voice = session, voice

    def check_instructions(self, instructions: str | None, param: str) -> None:
        if instructions is not None and len(instructions) > self.max_instructions:
            raise ProtocolError(
                f"Instructions are limited to {self.max_instructions} characters; these have {len(instructions)}.",
                code="invalid_value",
                param=param,
            )

    def resolve_voice(self, voice: Voice, speed: float | None, param: str) -> ResolvedVoice:
        """A voice the TTS offers and how it speaks, or a ``ProtocolError`` on ``param`` saying what is wrong."""
        name = voice_name(voice)
        if name not in self.tts.voice_names():
            known = ", ".join(self.tts.voice_names())
            raise ProtocolError(
                f"Unknown voice '{name}'. Available voices: {known}.", code="invalid_value", param=param
            )
        return ResolvedVoice(voice, name, voice_prosody(voice, speed, param))


def check_modalities(modalities: Sequence[str] | None, param: str) -> None:
    if modalities is None:
        return
    if "audio" in modalities and "text" not in modalities:
        raise ProtocolError(
            f"Invalid modalities: {modalities}. Audio output always comes with its text: use ['text', 'audio'].",
            code="invalid_value",
            param=param,
        )


def check_model_name(name: str | None, param: str) -> None:
    """Clients name models, never files: a name that looks like a path (``/etc/passwd``, ``../x.onnx``) is refused.
    (Recognizers are chosen by their names; a name the server does not know means the configured one.)"""
    if name and ("/" in name or "\\" in name or name.startswith((".", "~"))):
        raise ProtocolError(f"'{name:.80}' is a path, not a model name.", code="invalid_value", param=param)
