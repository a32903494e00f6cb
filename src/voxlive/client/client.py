"""``VoiceLiveClient``: connects sessions to voxlive, Azure VoiceLive, or OpenAI Realtime."""

from __future__ import annotations

import inspect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol
from urllib.parse import urlencode, urlsplit, urlunsplit

import websockets

from ..protocol import RequestSession
from ..protocol.dialects import OPENAI_GA, VOICELIVE, Dialect
from .handlers import SessionHandlers
from .session import Reconnect, VoiceLiveSession

DEFAULT_API_VERSION = "2026-07-15"
TOKEN_SCOPE = "https://ai.azure.com/.default"


class KeyCredential(Protocol):
    """An API key holder, such as ``azure.core.credentials.AzureKeyCredential``."""

    @property
    def key(self) -> str: ...


class TokenCredential(Protocol):
    """A token provider, such as an ``azure.identity`` credential (sync or async ``get_token``)."""

    def get_token(self, *scopes: str) -> Any: ...


Credential = str | KeyCredential | TokenCredential


@dataclass(frozen=True)
class AgentSessionConfig:
    """Azure VoiceLive agent mode: the session talks to a Foundry agent instead of a model."""

    agent_name: str
    project_name: str
    agent_version: str | None = None
    conversation_id: str | None = None
    authentication_identity_client_id: str | None = None
    foundry_resource_override: str | None = None

    def query(self) -> dict[str, str]:
        names = {
            "agent-name": self.agent_name,
            "agent-project-name": self.project_name,
            "agent-version": self.agent_version,
            "conversation-id": self.conversation_id,
            "agent-authentication-identity-client-id": self.authentication_identity_client_id,
            "foundry-resource-override": self.foundry_resource_override,
        }
        return {k: v for k, v in names.items() if v is not None}


class VoiceLiveClient:
    """Opens realtime sessions on one endpoint.

    ``endpoint`` is the service's base URL: ``http://127.0.0.1:8000`` (voxlive),
    ``https://<resource>.services.ai.azure.com`` (Azure VoiceLive), ``https://api.openai.com/v1``
    (OpenAI). The dialect follows from it (a ``/v1`` path or an ``openai.com`` host speaks OpenAI's GA
    dialect) unless ``dialect`` says otherwise.
    """

    def __init__(
        self,
        endpoint: str,
        credential: Credential | None = None,
        *,
        api_version: str = DEFAULT_API_VERSION,
        dialect: Literal["voicelive", "openai"] | None = None,
        token_scope: str = TOKEN_SCOPE,
    ) -> None:
        self.endpoint = endpoint.rstrip("/")
        self.credential = credential
        self.api_version = api_version
        self.token_scope = token_scope
        parts = urlsplit(self.endpoint)
        if dialect is None:
            dialect = "openai" if parts.path.startswith("/v1") or parts.netloc.endswith("openai.com") else "voicelive"
        self.dialect: Dialect = OPENAI_GA if dialect == "openai" else VOICELIVE

    def url(
        self, model: str | None, agent: AgentSessionConfig | None = None, query: Mapping[str, str] | None = None
    ) -> str:
        """The WebSocket URL of a session."""
        parts = urlsplit(self.endpoint)
        scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
        params: dict[str, str] = {}
        if self.dialect is VOICELIVE:
            path = parts.path.rstrip("/") + "/voice-live/realtime"
            params["api-version"] = self.api_version
        else:
            path = parts.path if parts.path.endswith("/realtime") else parts.path.rstrip("/") + "/realtime"
        if model:
            params["model"] = model
        if agent is not None:
            params.update(agent.query())
        params.update(query or {})
        return urlunsplit((scheme, parts.netloc, path, urlencode(params), ""))

    async def headers(self) -> dict[str, str]:
        credential = self.credential
        if credential is None:
            return {}
        if isinstance(credential, str) or hasattr(credential, "key"):
            key = credential if isinstance(credential, str) else credential.key
            return {"api-key": key} if self.dialect is VOICELIVE else {"Authorization": f"Bearer {key}"}
        token = credential.get_token(self.token_scope)
        if inspect.isawaitable(token):
            token = await token
        return {"Authorization": f"Bearer {getattr(token, 'token', token)}"}

    def session(
        self,
        model: str | None = None,
        *,
        agent: AgentSessionConfig | None = None,
        reconnect: Reconnect | None = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        max_pending: int = 1024,
    ) -> VoiceLiveSession:
        """A session that is not connected yet (``await session.open()``)."""

        async def connect(conversation_id: str | None = None) -> websockets.ClientConnection:
            resume = {"conversation-id": conversation_id} if conversation_id else {}
            return await websockets.connect(
                self.url(model, agent, {**(query or {}), **resume}),
                additional_headers={**await self.headers(), **(headers or {})},
                max_size=16 * 1024 * 1024,
            )

        return VoiceLiveSession(
            connect,
            self.dialect,
            endpoint=self.endpoint,
            model=model,
            agent_name=agent.agent_name if agent else None,
            reconnect=reconnect,
            max_pending=max_pending,
        )

    async def start_session(
        self,
        model: str | None = None,
        *,
        session: RequestSession | Mapping[str, Any] | None = None,
        handlers: SessionHandlers | Sequence[SessionHandlers] = (),
        agent: AgentSessionConfig | None = None,
        reconnect: Reconnect | None = None,
        query: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> VoiceLiveSession:
        """Connect with ``handlers`` subscribed first (so ``on_connected`` reaches them), then send
        ``session`` as a ``session.update`` if given."""
        live = self.session(model, agent=agent, reconnect=reconnect, query=query, headers=headers)
        for subscriber in [handlers] if isinstance(handlers, SessionHandlers) else handlers:
            live.subscribe(subscriber)
        await live.open()
        if session is not None:
            await live.update_session(session)
        return live

    def connect(self, model: str | None = None, **options: Any) -> _Connecting:
        """``async with client.connect(model, session=…, handlers=…) as session:`` — closed on exit."""
        return _Connecting(self, model, options)


class _Connecting:
    def __init__(self, client: VoiceLiveClient, model: str | None, options: dict[str, Any]) -> None:
        self.client, self.model, self.options = client, model, options
        self.session: VoiceLiveSession | None = None

    async def __aenter__(self) -> VoiceLiveSession:
        self.session = await self.client.start_session(self.model, **self.options)
        return self.session

    async def __aexit__(self, *exc: object) -> None:
        if self.session is not None:
            await self.session.close()
