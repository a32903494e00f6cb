"""``VoiceLiveSession``: one realtime session from the client's side — send, receive, dispatch."""

from __future__ import annotations

import asyncio
import base64
import inspect
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import numpy as np
import websockets
from websockets.exceptions import ConnectionClosed

from ..protocol import (
    SERVER_EVENTS,
    ClientEvent,
    ClientEventConversationItemCreate,
    ClientEventConversationItemDelete,
    ClientEventConversationItemRetrieve,
    ClientEventConversationItemTruncate,
    ClientEventInputAudioBufferAppend,
    ClientEventInputAudioBufferClear,
    ClientEventInputAudioBufferCommit,
    ClientEventResponseCancel,
    ClientEventResponseCreate,
    ClientEventSessionUpdate,
    FunctionCallOutputItem,
    InputTextContentPart,
    Item,
    MessageItem,
    ProtocolError,
    RequestSession,
    ResponseCreateParams,
    ServerEvent,
    ServerEventConversationCreated,
    ServerEventSessionCreated,
    UnknownServerEvent,
    parse_client_event,
)
from ..protocol.dialects import Dialect
from .handlers import (
    EVENT_HANDLERS,
    ConnectedEventArgs,
    ConnectionContext,
    DisconnectedEventArgs,
    ErrorEventArgs,
    SessionContext,
    SessionHandlers,
)

log = logging.getLogger(__name__)

E = TypeVar("E", bound=ServerEvent)
Listener = Callable[[Any, SessionContext], Awaitable[None] | None]

MAX_AUDIO_CHUNK = 256 * 1024
"""Bytes of audio per ``input_audio_buffer.append`` (before base64)."""


class SessionDeadError(RuntimeError):
    """The session's connection is gone (fail-fast mode): make a new session."""


@dataclass(frozen=True)
class Reconnect:
    """Reconnect after an unexpected close, with exponential backoff: the new session resumes the
    conversation (the server sends its items again as ``conversation.item.created``), and the last session
    configuration is sent again."""

    attempts: int = 5
    initial_delay: float = 0.5
    max_delay: float = 8.0


Connect = Callable[[str | None], Awaitable[websockets.ClientConnection]]
"""Opens the connection; with a conversation id, one that resumes that conversation."""


class VoiceLiveSession:
    """A connected realtime session.

    Server events are read into a bounded queue (``max_pending``); when handlers fall behind, reading
    pauses and the connection's own flow control slows the server, so memory stays bounded. Events
    are dispatched one at a time, in order: ``on_server_event``, then the specific handler, of every
    subscribed ``SessionHandlers``, then the listeners registered with ``on``, then ``async for``.
    """

    def __init__(
        self,
        connect: Connect,
        dialect: Dialect,
        *,
        endpoint: str,
        model: str | None,
        agent_name: str | None = None,
        reconnect: Reconnect | None = None,
        max_pending: int = 1024,
    ) -> None:
        self._connect = connect
        self.dialect = dialect
        self.endpoint = endpoint
        self.model = model
        self.agent_name = agent_name
        self.reconnect = reconnect
        self.session_id: str | None = None
        self.conversation_id: str | None = None
        """The server's id of the conversation (a reconnect resumes it)."""
        self._ws: websockets.ClientConnection | None = None
        self._handlers: list[SessionHandlers] = []
        self._listeners: dict[type[ServerEvent], list[Listener]] = {}
        self._pending: asyncio.Queue[ServerEvent | None] = asyncio.Queue(max_pending)
        self._iterators: list[asyncio.Queue[ServerEvent | None]] = []
        self._receiver: asyncio.Task[None] | None = None
        self._dispatcher: asyncio.Task[None] | None = None
        self._closing = False
        self.dead = False
        self._last_session: RequestSession | None = None
        self._session_created = asyncio.Event()

    # -- lifetime --------------------------------------------------------------------------------

    async def open(self) -> None:
        """Connect, and start reading and dispatching."""
        self._ws = await self._connect(None)
        self._dispatcher = asyncio.create_task(self._dispatch())
        self._receiver = asyncio.create_task(self._receive())
        await self._notify("on_connected", ConnectedEventArgs(f"conn_{uuid.uuid4().hex[:12]}", _now()))

    async def close(self) -> None:
        """Close on purpose: no ``on_disconnected``, no ``on_error``."""
        if self._closing:
            return
        self._closing = True
        if self._ws is not None:
            await self._ws.close()
        tasks = [t for t in (self._receiver, self._dispatcher) if t is not None and t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._end_iterators()

    async def __aenter__(self) -> VoiceLiveSession:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def wait_until_created(self, timeout: float = 30.0) -> str:
        """The session id, once ``session.created`` has arrived."""
        await asyncio.wait_for(self._session_created.wait(), timeout)
        assert self.session_id is not None
        return self.session_id

    @property
    def connection_context(self) -> ConnectionContext:
        return ConnectionContext(self.endpoint, self.session_id, self.model, _now(), self.agent_name)

    @property
    def context(self) -> SessionContext:
        return SessionContext(self.endpoint, self.session_id or "", self.model, _now(), self.agent_name)

    # -- subscribing -----------------------------------------------------------------------------

    def subscribe(self, handlers: SessionHandlers) -> None:
        """Add a ``SessionHandlers``; its overridden handlers are called from now on."""
        self._handlers.append(handlers)

    def unsubscribe(self, handlers: SessionHandlers) -> None:
        self._handlers.remove(handlers)

    def on(self, event_type: type[E]) -> Callable[[Callable[[E, SessionContext], Awaitable[None] | None]], Any]:
        """Register a listener for one event class (a decorator): ``@session.on(ServerEventResponseTextDelta)``."""
        if event_type is not UnknownServerEvent and event_type not in SERVER_EVENTS.values():
            raise TypeError(f"{event_type!r} is not a server event class; see voxlive.protocol.SERVER_EVENTS.")

        def register(listener: Callable[[E, SessionContext], Awaitable[None] | None]) -> Any:
            self._listeners.setdefault(event_type, []).append(listener)
            return listener

        return register

    def __aiter__(self) -> AsyncIterator[ServerEvent]:
        """Every server event from now until the session closes."""
        queue: asyncio.Queue[ServerEvent | None] = asyncio.Queue()
        self._iterators.append(queue)

        async def events() -> AsyncIterator[ServerEvent]:
            try:
                while (event := await queue.get()) is not None:
                    yield event
            finally:
                if queue in self._iterators:
                    self._iterators.remove(queue)

        return events()

    # -- sending ---------------------------------------------------------------------------------

    async def send_event(self, event: ClientEvent | Mapping[str, Any]) -> None:
        """Send any client event (a typed event, or a dict that is checked first)."""
        typed = event if isinstance(event, ClientEvent) else parse_client_event(dict(event))
        text = self.dialect.encode_client_event(typed)
        if text is None:
            raise ProtocolError(f"'{typed.type}' has no form in the {self.dialect.name} dialect.", param="type")
        if self.dead:
            raise SessionDeadError("The session is dead: its connection closed. Start a new session.")
        if self._ws is None or self._closing:
            raise SessionDeadError("The session is not connected.")
        if isinstance(typed, ClientEventSessionUpdate):
            self._last_session = _merge(self._last_session, typed.session)
        try:
            await self._ws.send(text)
        except ConnectionClosed as exc:
            raise SessionDeadError(f"The connection closed while sending: {exc}") from exc

    async def update_session(self, session: RequestSession | Mapping[str, Any]) -> None:
        typed = session if isinstance(session, RequestSession) else RequestSession.model_validate(dict(session))
        await self.send_event(ClientEventSessionUpdate(session=typed))

    async def send_audio(self, audio: bytes | np.ndarray) -> None:
        """Append audio in the session's input format: bytes as they are; a 1-D int16 array, or a
        float array in [-1, 1] (converted to PCM16). Large audio goes out in several events."""
        data = _audio_bytes(audio)
        for start in range(0, len(data), MAX_AUDIO_CHUNK):
            chunk = base64.b64encode(data[start : start + MAX_AUDIO_CHUNK]).decode()
            await self.send_event(ClientEventInputAudioBufferAppend(audio=chunk))

    async def commit_audio(self) -> None:
        await self.send_event(ClientEventInputAudioBufferCommit())

    async def clear_audio(self) -> None:
        await self.send_event(ClientEventInputAudioBufferClear())

    async def add_item(self, item: Item | Mapping[str, Any], previous_item_id: str | None = None) -> None:
        event: dict[str, Any] = {"type": "conversation.item.create", "item": item}
        if previous_item_id is not None:
            event["previous_item_id"] = previous_item_id
        await self.send_event(ClientEventConversationItemCreate.model_validate(event))

    async def add_user_text(self, text: str) -> None:
        await self.add_item(MessageItem(role="user", content=[InputTextContentPart(text=text)]))

    async def send_function_result(self, call_id: str, output: object) -> None:
        """The result of a function call (a string, or anything JSON-serialisable)."""
        import json

        text = output if isinstance(output, str) else json.dumps(output)
        await self.add_item(FunctionCallOutputItem(call_id=call_id, output=text))

    async def create_response(
        self,
        response: ResponseCreateParams | Mapping[str, Any] | None = None,
        *,
        additional_instructions: str | None = None,
    ) -> None:
        params = None if response is None else ResponseCreateParams.model_validate(response)
        await self.send_event(
            ClientEventResponseCreate(response=params, additional_instructions=additional_instructions)
        )

    async def cancel_response(self, response_id: str | None = None) -> None:
        await self.send_event(ClientEventResponseCancel(response_id=response_id))

    async def truncate_item(self, item_id: str, audio_end_ms: int, content_index: int = 0) -> None:
        await self.send_event(
            ClientEventConversationItemTruncate(item_id=item_id, content_index=content_index, audio_end_ms=audio_end_ms)
        )

    async def delete_item(self, item_id: str) -> None:
        await self.send_event(ClientEventConversationItemDelete(item_id=item_id))

    async def retrieve_item(self, item_id: str) -> None:
        await self.send_event(ClientEventConversationItemRetrieve(item_id=item_id))

    # -- receiving -------------------------------------------------------------------------------

    async def _receive(self) -> None:
        while True:
            assert self._ws is not None
            try:
                message = await self._ws.recv()
            except ConnectionClosed as closed:
                if self._closing:
                    return
                if not await self._lost(closed):
                    return
                continue
            try:
                event = self.dialect.decode_server_event(message)
            except ProtocolError as exc:
                await self._notify("on_error", ErrorEventArgs(exc, "receive", True, _now()))
                continue
            if event is not None:
                await self._pending.put(event)  # waits while handlers are behind: reading pauses

    async def _lost(self, closed: ConnectionClosed) -> bool:
        """An unexpected close: reconnect if asked (True), else fail fast (False)."""
        code = closed.rcvd.code if closed.rcvd else 1006
        reason = closed.rcvd.reason if closed.rcvd else "connection lost"
        await self._pending.put(None)  # the dispatcher finishes what was received first
        if self._dispatcher is not None:
            await self._dispatcher
        if self.reconnect is not None and await self._reconnect():
            return True
        self.dead = True
        context = self.connection_context
        await self._call_all("on_disconnected", DisconnectedEventArgs(code, reason, closed.rcvd is not None, _now()),
                             context)  # fmt: skip
        error = SessionDeadError(f"The connection closed unexpectedly ({code}: {reason}).")
        await self._call_all("on_error", ErrorEventArgs(error, "connection", False, _now()), context)
        self._end_iterators()
        return False

    async def _reconnect(self) -> bool:
        assert self.reconnect is not None
        delay = self.reconnect.initial_delay
        for _ in range(self.reconnect.attempts):
            await asyncio.sleep(delay)
            try:
                self._ws = await self._connect(self.conversation_id)
            except (OSError, websockets.InvalidHandshake) as exc:
                await self._notify("on_error", ErrorEventArgs(exc, "reconnect", True, _now()))
                delay = min(delay * 2, self.reconnect.max_delay)
                continue
            self._session_created.clear()
            self._dispatcher = asyncio.create_task(self._dispatch())
            if self._last_session is not None:
                replay = self.dialect.encode_client_event(ClientEventSessionUpdate(session=self._last_session))
                if replay is not None:
                    await self._ws.send(replay)
            await self._notify("on_connected", ConnectedEventArgs(f"conn_{uuid.uuid4().hex[:12]}", _now()))
            return True
        return False

    async def _dispatch(self) -> None:
        while (event := await self._pending.get()) is not None:
            if isinstance(event, ServerEventSessionCreated):
                self.session_id = event.session.id
                self._session_created.set()
            elif isinstance(event, ServerEventConversationCreated):
                self.conversation_id = event.conversation.id
            context = self.context
            method = EVENT_HANDLERS.get(event.type)
            for handlers in list(self._handlers):
                await self._call(handlers, "on_server_event", event, context)
                if method is not None:
                    await self._call(handlers, method, event, context)
            for listener in self._listeners.get(type(event), []):
                await self._run(listener, event, context)
            for queue in self._iterators:
                queue.put_nowait(event)

    async def _notify(self, method: str, args: object) -> None:
        await self._call_all(method, args, self.connection_context)

    async def _call_all(self, method: str, args: object, context: ConnectionContext) -> None:
        for handlers in list(self._handlers):
            await self._call(handlers, method, args, context)

    async def _call(self, handlers: SessionHandlers, method: str, event: object, context: object) -> None:
        if getattr(type(handlers), method) is getattr(SessionHandlers, method):
            return  # not overridden
        await self._run(getattr(handlers, method), event, context, handler_name=method)

    async def _run(self, function: Callable[..., Any], event: object, context: object, handler_name: str = "") -> None:
        """Call a handler; an exception is logged and reported to ``on_error`` (recoverable)."""
        try:
            result = function(event, context)
            if inspect.isawaitable(result):
                await result
        except Exception as exc:
            log.exception("handler %s failed", handler_name or getattr(function, "__name__", function))
            if handler_name != "on_error":
                await self._notify("on_error", ErrorEventArgs(exc, "handler", True, _now()))

    def _end_iterators(self) -> None:
        for queue in self._iterators:
            queue.put_nowait(None)


def _now() -> datetime:
    return datetime.now(UTC)


def _merge(previous: RequestSession | None, update: RequestSession) -> RequestSession:
    if previous is None:
        return update.model_copy(deep=True)
    merged = previous.model_copy(update={k: getattr(update, k) for k in update.model_fields_set}, deep=True)
    merged.__pydantic_fields_set__.update(update.model_fields_set)
    return merged


def _audio_bytes(audio: bytes | np.ndarray) -> bytes:
    if isinstance(audio, (bytes, bytearray, memoryview)):
        return bytes(audio)
    if not isinstance(audio, np.ndarray):
        raise TypeError(f"Audio must be bytes or a numpy array, not {type(audio).__name__}.")
    if audio.ndim != 1:
        raise ValueError(f"Audio must be mono (a 1-D array), not of shape {audio.shape}.")
    if audio.dtype == np.int16:
        return bytes(audio.astype("<i2").tobytes())
    if np.issubdtype(audio.dtype, np.floating):
        return bytes((np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    raise ValueError(f"Audio arrays must be int16 or float (in [-1, 1]), not {audio.dtype}.")
