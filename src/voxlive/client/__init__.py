"""A client for realtime voice sessions with typed handlers: voxlive, Azure VoiceLive, OpenAI Realtime."""

from .client import AgentSessionConfig, VoiceLiveClient
from .handlers import (
    ConnectedEventArgs,
    ConnectionContext,
    DisconnectedEventArgs,
    ErrorEventArgs,
    SessionContext,
    SessionHandlers,
)
from .playback import AudioPlayback, Microphone
from .session import Reconnect, SessionDeadError, VoiceLiveSession

__all__ = [
    "AgentSessionConfig",
    "AudioPlayback",
    "ConnectedEventArgs",
    "ConnectionContext",
    "DisconnectedEventArgs",
    "ErrorEventArgs",
    "Microphone",
    "Reconnect",
    "SessionContext",
    "SessionDeadError",
    "SessionHandlers",
    "VoiceLiveClient",
    "VoiceLiveSession",
]
