"""Server events about the session: errors and warnings, the session and its avatar, the conversation, rate limits."""

from __future__ import annotations

from typing import Literal

from ..base import WireModel
from ..responses import ErrorDetails, RateLimit, WarningDetails
from ..session import ResponseSession
from .base import ServerEvent


class ServerEventError(ServerEvent):
    type: Literal["error"] = "error"
    error: ErrorDetails


class ServerEventWarning(ServerEvent):
    type: Literal["warning"] = "warning"
    warning: WarningDetails


class ServerEventSessionCreated(ServerEvent):
    type: Literal["session.created"] = "session.created"
    session: ResponseSession


class ServerEventSessionUpdated(ServerEvent):
    type: Literal["session.updated"] = "session.updated"
    session: ResponseSession


class ServerEventSessionAvatarConnecting(ServerEvent):
    type: Literal["session.avatar.connecting"] = "session.avatar.connecting"
    server_sdp: str


class ServerEventSessionAvatarSwitchToSpeaking(ServerEvent):
    type: Literal["session.avatar.switch_to_speaking"] = "session.avatar.switch_to_speaking"
    turn_id: str | None = None


class ServerEventSessionAvatarSwitchToIdle(ServerEvent):
    type: Literal["session.avatar.switch_to_idle"] = "session.avatar.switch_to_idle"
    turn_id: str | None = None


class ConversationInfo(WireModel):
    id: str
    object: str = "realtime.conversation"


class ServerEventConversationCreated(ServerEvent):
    type: Literal["conversation.created"] = "conversation.created"
    conversation: ConversationInfo


class ServerEventRateLimitsUpdated(ServerEvent):
    type: Literal["rate_limits.updated"] = "rate_limits.updated"
    rate_limits: list[RateLimit]


EVENTS: tuple[type[ServerEvent], ...] = (
    ServerEventError,
    ServerEventWarning,
    ServerEventSessionCreated,
    ServerEventSessionUpdated,
    ServerEventSessionAvatarConnecting,
    ServerEventSessionAvatarSwitchToSpeaking,
    ServerEventSessionAvatarSwitchToIdle,
    ServerEventConversationCreated,
    ServerEventRateLimitsUpdated,
)
"""The events of this family, in the order ``SERVER_EVENTS`` lists them."""
