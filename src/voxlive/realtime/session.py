"""``RealtimeSession``: one client's session — its configuration, conversation and responses."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from pydantic import ValidationError

from ..config import MCPSettings
from ..protocol import (
    AudioInputTranscriptionOptions,
    ClientEvent,
    ClientEventConversationItemCreate,
    ClientEventConversationItemDelete,
    ClientEventConversationItemRetrieve,
    ClientEventConversationItemTruncate,
    ClientEventInputAudioBufferAppend,
    ClientEventInputAudioBufferClear,
    ClientEventInputAudioBufferCommit,
    ClientEventInputAudioClear,
    ClientEventInputAudioTurnAppend,
    ClientEventInputAudioTurnCancel,
    ClientEventInputAudioTurnEnd,
    ClientEventInputAudioTurnStart,
    ClientEventInputTextDelta,
    ClientEventInputTextDone,
    ClientEventOutputAudioBufferClear,
    ClientEventResponseCancel,
    ClientEventResponseCreate,
    ClientEventSessionAvatarConnect,
    ClientEventSessionUpdate,
    ClientEventTranscriptionSessionUpdate,
    ConversationInfo,
    ErrorDetails,
    FunctionTool,
    Item,
    MCPServer,
    ProtocolError,
    RequestSession,
    ResponseCreateParams,
    ResponseSession,
    ServerEvent,
    ServerEventConversationCreated,
    ServerEventConversationItemCreated,
    ServerEventError,
    ServerEventSessionCreated,
    ServerEventSessionUpdated,
    validation_error,
)
from ..speech.llm import LLM
from ..speech.smart_turn import SmartTurn
from ..speech.stt import STT, Transcript
from ..speech.tts import TTS
from ..speech.vad import SileroVAD
from .conversation import Conversation
from .conversation_edits import ConversationEdits
from .input_cleanup import InputCleanup
from .journal import Archive, resumable
from .listener import Listener
from .mcp_servers import MCPServers
from .metrics import Telemetry
from .observer import ResponseObserver
from .read_ahead import ReadAhead
from .replies import Replies
from .response import ResponseRunner
from .response_plan import ResponsePlanner
from .session_config import TRANSCRIPTION_FIELDS, SessionConfig
from .tasks import succeeded
from .tool_choice import mcp_servers
from .turn import Turn

log = logging.getLogger(__name__)

Send = Callable[[ServerEvent], None]


class RealtimeSession:
    """Handles client events in order and emits server events through ``send``.

    ``send`` must not block: the server queues events for its writer. Bad requests raise
    ``ProtocolError`` inside a handler and become an ``error`` event; the session goes on.
    The session dispatches; its parts do the work: ``SessionConfig`` (the settings), ``Listener`` (input
    audio and turns), ``InputCleanup`` (echo and noise), ``ConversationEdits`` (the client's items),
    ``ResponsePlanner`` and ``Replies`` (responses and their playback), ``ReadAhead`` (drafts and prefills).
    """

    def __init__(
        self,
        session: ResponseSession,
        *,
        llm: LLM,
        tts: TTS,
        stt: Callable[[AudioInputTranscriptionOptions | None], STT],
        vad: SileroVAD,
        send: Send,
        telemetry: Telemetry | None = None,
        mcp: MCPSettings | None = None,
        turn_model: SmartTurn | None = None,
        draft_replies: bool = True,
        read_ahead: bool = True,
        first_words: int | None = 4,
        max_items: int = 2000,
        max_buffer_seconds: float = 600.0,
        max_ahead_seconds: float = 60.0,
        archive: Archive | None = None,
        max_instructions: int = 32_000,
    ) -> None:
        self.send = send
        self.telemetry = telemetry
        self.conversation = Conversation(max_items)
        self._archive = archive
        self.mcp = MCPServers(mcp or MCPSettings(), self.conversation, send)
        """The MCP servers the session's (and its responses') tools name."""
        self.config = SessionConfig(session, tts=tts, mcp=self.mcp, send=send, max_instructions=max_instructions)
        self.cleanup = InputCleanup()
        self.listener = Listener(
            vad=vad,
            turn_model=turn_model,
            stt=stt,
            conversation=self.conversation,
            send=send,
            respond=self._respond_to_turn,
            interrupt=self._barge_in,
            max_buffer_seconds=max_buffer_seconds,
            max_ahead_seconds=max_ahead_seconds,
        )
        self.edits = ConversationEdits(self.conversation, send, self.mcp.approvals, self.listener.stored_audio)
        self.planner = ResponsePlanner(
            self.config, self.conversation, llm, self.mcp, self.listener.transcriber.transcript, first_words
        )
        self.replies = Replies(
            self.planner,
            self.cleanup,
            tts,
            send,
            completed=self._prefill if read_ahead else lambda: None,
            record=self._record,
        )
        self.ahead = ReadAhead(self.planner, self.replies, self.listener, tts, telemetry, draft_replies)
        """Work on the next reply before it is asked for: its draft, its prompt read into the LLM."""
        self.listener.anticipate = self.ahead.anticipate
        self.listener.prefill = self.ahead.prefill if read_ahead else None
        self.listener.configure(session)

    @property
    def id(self) -> str:
        return self.session.id

    @property
    def session(self) -> ResponseSession:
        """The session's settings as the client set them."""
        return self.config.session

    @property
    def owner(self) -> str:
        """Who the session's conversations belong to (a digest of its API key)."""
        return self._archive.owner if self._archive is not None else ""

    @property
    def turn(self) -> Turn | None:
        """The latest reply: its draft, its response and the client's playback of its audio."""
        return self.replies.turn

    @property
    def response(self) -> ResponseRunner | None:
        """The response in progress, if any."""
        return self.replies.response

    @property
    def observer(self) -> ResponseObserver | None:
        """An in-process face's view of each response (LLM text as written, spoken pieces)."""
        return self.replies.observer

    @observer.setter
    def observer(self, observer: ResponseObserver | None) -> None:
        self.replies.observer = observer

    @property
    def speak_overrides(self) -> dict[str, Any]:
        """``SpeakOptions`` fields an in-process face sets for every response (piece sizes, synthesis ahead)."""
        return self.planner.speak_overrides

    @speak_overrides.setter
    def speak_overrides(self, overrides: dict[str, Any]) -> None:
        self.planner.speak_overrides = overrides

    async def start(self, conversation_id: str | None = None) -> None:
        """Announce the session and its conversation: a stored one resumed (its items sent again, in order),
        or a new one."""
        self.send(ServerEventSessionCreated(session=self.session.model_copy(deep=True)))
        archive = self._archive
        stored = None
        if conversation_id is not None:
            try:
                stored = await resumable(archive, conversation_id)
            except ProtocolError as exc:
                self.error(exc)  # a new conversation starts
        if stored is not None:
            self.conversation.resume(stored)
        if archive is not None:
            self.conversation.journal = archive.open(self.conversation.id, new=stored is None)
        self.send(ServerEventConversationCreated(conversation=ConversationInfo(id=self.conversation.id)))
        previous = None
        for item in self.conversation:
            self.send(ServerEventConversationItemCreated(previous_item_id=previous, item=item.model_copy(deep=True)))
            previous = item.id

    async def handle(self, event: ClientEvent) -> None:
        """Apply one client event; a bad one is answered with an ``error`` event."""
        try:
            await self._dispatch(event)
        except ProtocolError as exc:
            self.error(exc, event.event_id)
        except Exception:
            log.exception("handling %s failed", event.type)
            message = f"The server failed to handle the '{event.type}' event; the session goes on."
            self.error(ProtocolError(message, code="server_error", type="server_error"), event.event_id)

    async def _dispatch(self, event: ClientEvent) -> None:
        match event:
            case ClientEventSessionUpdate():
                await self._session_update(event)
            case ClientEventTranscriptionSessionUpdate():
                await self._transcription_session_update(event)
            case ClientEventConversationItemCreate():
                self.edits.create(event)
            case ClientEventConversationItemRetrieve():
                self.edits.retrieve(event.item_id)
            case ClientEventConversationItemDelete():
                self.edits.delete(event.item_id)
            case ClientEventConversationItemTruncate():
                self.edits.truncate(event)
            case ClientEventInputTextDelta():
                self.edits.input_text_delta(event)
            case ClientEventInputTextDone():
                self.edits.input_text_done(event.id)
            case ClientEventResponseCreate():
                await self.replies.create(event.response or ResponseCreateParams(), event.additional_instructions)
            case ClientEventResponseCancel():
                self.replies.cancel(event.response_id)
            case ClientEventOutputAudioBufferClear():
                self.replies.playback_cleared()
            case ClientEventInputAudioBufferAppend():
                await self.listener.append(event.audio)
            case ClientEventInputAudioBufferCommit():
                await self.listener.commit()
            case ClientEventInputAudioBufferClear() | ClientEventInputAudioClear():
                self.listener.clear()
            case ClientEventInputAudioTurnStart():
                self.listener.turn_start(event.turn_id)
            case ClientEventInputAudioTurnAppend():
                await self.listener.append(event.audio, event.turn_id)
            case ClientEventInputAudioTurnEnd():
                await self.listener.turn_end(event.turn_id)
            case ClientEventInputAudioTurnCancel():
                self.listener.turn_cancel(event.turn_id)
            case ClientEventSessionAvatarConnect():
                raise ProtocolError(
                    "This server renders no avatar video; drive a client-side face from response.animation_viseme "
                    "events.",
                    code="avatar_unavailable",
                    param="client_sdp",
                )
            case _:
                raise ProtocolError(
                    f"The event type '{event.type}' is not supported by this session.",
                    code="unsupported_event",
                    param="type",
                )

    def error(self, exc: ProtocolError, event_id: str | None = None) -> None:
        self.send(
            ServerEventError(
                error=ErrorDetails(
                    type=exc.type,
                    code=exc.code,
                    message=exc.message,
                    param=exc.param,
                    event_id=event_id if exc.event_id is None else exc.event_id,
                )
            )
        )

    async def close(self) -> None:
        """Stop any response and transcription at once; nothing is sent after this. What the conversation
        holds is stored."""
        await self.listener.close()
        await self.replies.close()
        await self.mcp.close()
        if self.conversation.journal is not None:
            await self.conversation.journal.close()

    # -- settings --------------------------------------------------------------------------------

    async def _session_update(self, event: ClientEventSessionUpdate) -> None:
        self.config.update(event.session)
        session = self.session
        await self.cleanup.configure(session)
        self.listener.cleanup = self.cleanup.clean if self.cleanup.active else None
        self.listener.agent_audible = self.cleanup.agent_audible if self.cleanup.echo is not None else None
        self.listener.configure(session)
        self.send(ServerEventSessionUpdated(session=session.model_copy(deep=True)))
        self.mcp.configure(mcp_servers(session.tools))

    async def _transcription_session_update(self, event: ClientEventTranscriptionSessionUpdate) -> None:
        """A session that only transcribes: the input settings apply, and turns are never answered."""
        fields = {k: v for k, v in event.session.items() if k in TRANSCRIPTION_FIELDS}
        update = {"type": "session.update", "event_id": event.event_id, "session": fields}
        try:
            typed = ClientEventSessionUpdate.model_validate(update)
        except ValidationError as exc:
            raise validation_error(exc, update, event.event_id) from None
        self.config.transcription_only = True
        await self._session_update(typed)

    # -- the listener's turns --------------------------------------------------------------------

    async def _respond_to_turn(self) -> None:
        """Answer a turn that turn detection (or a client audio turn) ended."""
        if self.config.transcription_only:
            return
        await self.replies.finish()
        try:
            await self.replies.create(ResponseCreateParams())
        except ProtocolError as exc:
            self.error(exc)

    def _barge_in(self) -> None:
        """The user started speaking: stop answering, and cut the answer to what was heard."""
        settings = self.listener.settings
        self.replies.barge_in(truncate=settings is not None and settings.auto_truncate)

    def _prefill(self) -> None:
        self.ahead.prefill()  # the next prompt begins with the reply just completed, as it was said

    def _record(self, runner: ResponseRunner) -> None:
        if self.telemetry is not None and runner.metrics.done is not None:
            self.telemetry.record(runner.metrics, self.id)

    # -- for in-process faces (``VoiceAgent``) --------------------------------------------------

    def set_tools(self, tools: list[FunctionTool | MCPServer]) -> None:
        """Replace the session's tools, checked as a client's ``session.update`` of them is (``ProtocolError``)."""
        self.config.update(RequestSession(tools=tools))
        self.send(ServerEventSessionUpdated(session=self.session.model_copy(deep=True)))
        self.mcp.configure(mcp_servers(self.session.tools))

    async def wait_idle(self) -> None:
        """Until no response is running (its ``response.done`` goes out before it frees the slot)."""
        await self.replies.finish()

    def heard_transcript(self, item_id: str) -> Transcript | None:
        """The finished transcription of the user's audio item ``item_id``; ``None`` while it runs or if it failed."""
        task = self.listener.transcriber.transcripts.get(item_id)
        return task.result() if task is not None and succeeded(task) else None

    def stop_speaking(self) -> None:
        """Silence the reply at once; its text goes on."""
        if self.turn is not None:
            self.turn.interrupt("speech")

    def stop_response(self) -> None:
        """Stop the reply at once, text and speech (with nothing to stop, nothing happens)."""
        if self.turn is not None:
            self.turn.interrupt("client_cancelled")

    def replace_items(self, items: list[Item]) -> None:
        """Make ``items`` the whole conversation (an in-process face setting its history)."""
        self.conversation.replace(items)
