"""``RealtimeSession``: one client's session — its configuration, conversation and responses."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
from jsonschema.exceptions import best_match
from jsonschema.validators import Draft202012Validator, validator_for
from pydantic import ValidationError

from ..config import MCPSettings
from ..protocol import (
    ITEM,
    AudioContentPart,
    AudioInputTranscriptionOptions,
    ClientEvent,
    ClientEventConversationItemCreate,
    ClientEventConversationItemDelete,
    ClientEventConversationItemRetrieve,
    ClientEventConversationItemTruncate,
    ClientEventInputAudioTurnCancel,
    ClientEventInputAudioTurnStart,
    ClientEventInputTextDelta,
    ClientEventInputTextDone,
    ClientEventResponseCancel,
    ClientEventResponseCreate,
    ClientEventSessionAvatarConnect,
    ClientEventSessionUpdate,
    ClientEventTranscriptionSessionUpdate,
    ConversationInfo,
    ErrorDetails,
    FunctionCallOutputItem,
    FunctionTool,
    InputAudioContentPart,
    InputTextContentPart,
    Item,
    ItemReference,
    MCPApprovalRequestItem,
    MCPApprovalResponseItem,
    MCPServer,
    MessageItem,
    ProtocolError,
    RequestSession,
    Response,
    ResponseCreateParams,
    ResponseSession,
    ServerEvent,
    ServerEventConversationCreated,
    ServerEventConversationItemCreated,
    ServerEventConversationItemDeleted,
    ServerEventConversationItemRetrieved,
    ServerEventConversationItemTruncated,
    ServerEventError,
    ServerEventOutputAudioBufferCleared,
    ServerEventSessionCreated,
    ServerEventSessionUpdated,
    ServerEventWarning,
    ToolChoiceFunctionSelection,
    ToolChoiceMCPSelection,
    Voice,
    WarningDetails,
    new_id,
    validation_error,
    voice_name,
)
from ..speech.audio import STAGE_RATE, duration_ms
from ..speech.echo import EchoCanceller
from ..speech.llm import LLM, LLMRequest, Message
from ..speech.noise import NoiseSuppressor
from ..speech.smart_turn import SmartTurn
from ..speech.stt import STT, Transcript
from ..speech.tts import DEFAULT_VOICE, TTS
from ..speech.vad import SileroVAD
from ..store import StoredConversation
from ..tools.approvals import Approval
from .conversation import Conversation, chat_messages
from .draft import Draft
from .journal import Archive
from .listener import Listener, log_failure
from .mcp_servers import MCPServers, MCPTool
from .metrics import Telemetry
from .observer import ResponseObserver
from .response import ResponsePlan, ResponseRunner
from .speaker import SpeakOptions, SpokenAudio, StageFailed, voice_prosody
from .turn import Turn

log = logging.getLogger(__name__)

Send = Callable[[ServerEvent], None]
MAX_INPUT_TEXT = 256_000
"""Characters of input text streaming at once (``input_text.delta`` not yet done), all items together."""
MAX_INPUT_TEXTS = 16
MAX_TOOLS_JSON = 64 * 1024
"""The most JSON a session's (or a response's) function tools may take: the model reads them with every prompt."""


class RealtimeSession:
    """Handles client events in order and emits server events through ``send``.

    ``send`` must not block: the server queues events for its writer. Bad requests raise
    ``ProtocolError`` inside a handler and become an ``error`` event; the session goes on.
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
        self.session = session
        self.default_voice: Voice = session.voice or DEFAULT_VOICE
        """The voice of a response when neither it nor the session names one."""
        self.max_instructions = max_instructions
        """The longest instructions (in characters) the session or a response may set."""
        self.llm = llm
        self.tts = tts
        self.send = send
        self.telemetry = telemetry
        self.conversation = Conversation(max_items)
        self._archive = archive
        self.mcp = MCPServers(mcp or MCPSettings(), self.conversation, send)
        """The MCP servers the session's (and its responses') tools name."""
        self.turn: Turn | None = None
        """The latest reply: its draft, its response and the client's playback of its audio."""
        self.draft_replies = draft_replies
        self.read_ahead = read_ahead
        self.first_words = first_words
        self.observer: ResponseObserver | None = None
        """An in-process face's view of each response (LLM text as written, spoken pieces)."""
        self.speak_overrides: dict[str, Any] = {}
        """``SpeakOptions`` fields an in-process face sets for every response (piece sizes, synthesis ahead)."""
        self.listener = Listener(
            vad=vad,
            turn_model=turn_model,
            stt=stt,
            conversation=self.conversation,
            send=send,
            respond=self._respond_to_turn,
            interrupt=self._barge_in,
            anticipate=self._anticipate,
            prefill=self._prefill if read_ahead else None,
            max_buffer_seconds=max_buffer_seconds,
            max_ahead_seconds=max_ahead_seconds,
        )
        self.echo: EchoCanceller | None = None
        self.noise: NoiseSuppressor | None = None
        self.transcription_only = False
        self._handlers: dict[str, Callable[[Any], Awaitable[None]]] = {
            "session.update": self._session_update,
            "conversation.item.create": self._item_create,
            "conversation.item.retrieve": self._item_retrieve,
            "conversation.item.delete": self._item_delete,
            "conversation.item.truncate": self._item_truncate,
            "response.create": self._response_create,
            "response.cancel": self._response_cancel,
            "input_text.delta": self._input_text_delta,
            "input_text.done": self._input_text_done,
            "session.avatar.connect": self._avatar_connect,
            "input_audio_buffer.append": lambda e: self.listener.append(e.audio),
            "input_audio_buffer.commit": lambda e: self.listener.commit(),
            "input_audio_buffer.clear": self._clear_input,
            "input_audio.clear": self._clear_input,
            "input_audio.turn.start": self._turn_start,
            "input_audio.turn.append": lambda e: self.listener.append(e.audio, e.turn_id),
            "input_audio.turn.end": lambda e: self.listener.turn_end(e.turn_id),
            "input_audio.turn.cancel": self._turn_cancel,
            "output_audio_buffer.clear": self._output_clear,
            "transcription_session.update": self._transcription_session_update,
        }
        self._input_text: dict[str, list[str]] = {}
        self.listener.configure(session)

    @property
    def id(self) -> str:
        return self.session.id

    @property
    def owner(self) -> str:
        """Who the session's conversations belong to (a digest of its API key)."""
        return self._archive.owner if self._archive is not None else ""

    @property
    def response(self) -> ResponseRunner | None:
        """The response in progress, if any."""
        turn = self.turn
        return turn.runner if turn is not None and turn.answering else None

    async def start(self, conversation_id: str | None = None) -> None:
        """Announce the session and its conversation: a stored one resumed (its items sent again, in order),
        or a new one."""
        self.send(ServerEventSessionCreated(session=self.session.model_copy(deep=True)))
        archive = self._archive
        stored = await self._stored(conversation_id) if conversation_id is not None else None
        if stored is not None:
            self._resume(stored)
        if archive is not None:
            self.conversation.journal = archive.open(self.conversation.id, new=stored is None)
        self.send(ServerEventConversationCreated(conversation=ConversationInfo(id=self.conversation.id)))
        previous = None
        for item in self.conversation:
            self.send(ServerEventConversationItemCreated(previous_item_id=previous, item=item.model_copy(deep=True)))
            previous = item.id

    async def _stored(self, conversation_id: str) -> StoredConversation | None:
        """The stored conversation to resume; when there is none (or the store fails), an error says so."""
        try:
            stored = await self._archive.load(conversation_id) if self._archive is not None else None
        except Exception as exc:
            log.error("conversation %s could not be loaded: %s", conversation_id, exc)
            message = f"Conversation '{conversation_id}' could not be loaded; a new conversation was started."
            self.error(ProtocolError(message, type="server_error", code="store_unavailable"))
            return None
        if stored is None:
            self.error(
                ProtocolError(
                    f"No conversation '{conversation_id}' to resume; a new conversation was started.",
                    code="conversation_not_found",
                    param="conversation-id",
                )
            )
        return stored

    def _resume(self, stored: StoredConversation) -> None:
        items: list[Item] = []
        for data in stored.items:
            item = ITEM.validate_python(data)
            if getattr(item, "status", None) == "in_progress":
                item.status = "incomplete"  # it was being made when the server stopped
            items.append(item)
        self.conversation.id = stored.id
        self.conversation.restore(items, stored.places)

    async def handle(self, event: ClientEvent) -> None:
        """Apply one client event; a bad one is answered with an ``error`` event."""
        try:
            handler = self._handlers.get(event.type)
            if handler is None:
                raise ProtocolError(
                    f"The event type '{event.type}' is not supported by this session.",
                    code="unsupported_event",
                    param="type",
                )
            await handler(event)
        except ProtocolError as exc:
            self.error(exc, event.event_id)
        except Exception:
            log.exception("handling %s failed", event.type)
            message = f"The server failed to handle the '{event.type}' event; the session goes on."
            self.error(ProtocolError(message, code="server_error", type="server_error"), event.event_id)

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
        turn, self.turn = self.turn, None
        if turn is not None:
            turn.drop_draft()
            if turn.runner is not None and turn.runner.task is not None:
                turn.runner.task.cancel()
                with contextlib.suppress(BaseException):  # its end is of no interest once the session is gone
                    await turn.runner.task
        await self.mcp.close()
        if self.conversation.journal is not None:
            await self.conversation.journal.close()

    # -- session ---------------------------------------------------------------------------------

    async def _session_update(self, event: ClientEventSessionUpdate) -> None:
        update = event.session
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
        self.check_voice(update.voice, "session.voice")
        transcription = update.input_audio_transcription
        check_model_name(transcription.model if transcription else None, "session.input_audio_transcription.model")
        changes = {name: getattr(update, name) for name in update.model_fields_set & RequestSession.model_fields.keys()}
        if changes.get("model", "") is None:
            del changes["model"]  # the session keeps its model
        if update.model_extra:
            names = ", ".join(sorted(update.model_extra))
            self.send(
                ServerEventWarning(
                    warning=WarningDetails(
                        message=f"Unknown session field(s) ignored: {names}.", code="unknown_parameter", param="session"
                    )
                )
            )
        self.session = self.session.model_copy(update=changes, deep=True)
        self.session.__pydantic_fields_set__.update(changes)
        await self._configure_input()
        self.send(ServerEventSessionUpdated(session=self.session.model_copy(deep=True)))
        self.mcp.configure(mcp_servers(self.session.tools))

    def check_instructions(self, instructions: str | None, param: str) -> None:
        if instructions is not None and len(instructions) > self.max_instructions:
            raise ProtocolError(
                f"Instructions are limited to {self.max_instructions} characters; these have {len(instructions)}.",
                code="invalid_value",
                param=param,
            )

    def check_voice(self, voice: Voice | None, param: str) -> None:
        if voice is not None and voice_name(voice) not in self.tts.voice_names():
            known = ", ".join(self.tts.voice_names())
            raise ProtocolError(
                f"Unknown voice '{voice_name(voice)}'. Available voices: {known}.", code="invalid_value", param=param
            )
        voice_prosody(voice, None, param)

    # -- conversation items ----------------------------------------------------------------------

    async def _item_create(self, event: ClientEventConversationItemCreate) -> None:
        item = event.item.model_copy(deep=True)
        if isinstance(item, ItemReference):
            raise ProtocolError(
                "An item_reference names an existing item; it can only be used in a response's input.",
                code="invalid_value",
                param="item.type",
            )
        if isinstance(item, FunctionCallOutputItem) and not self.conversation.has_call(item.call_id):
            raise ProtocolError(
                f"No function call with call_id '{item.call_id}' is in the conversation.",
                code="invalid_value",
                param="item.call_id",
            )
        if isinstance(item, MCPApprovalResponseItem):
            self._check_approval(item)
        item.id = item.id or new_id("item")
        item.object = "realtime.item"
        if hasattr(item, "status"):
            item.status = getattr(item, "status", None) or "completed"
        previous = self.conversation.insert(item, event.previous_item_id)
        self.send(ServerEventConversationItemCreated(previous_item_id=previous, item=item.model_copy(deep=True)))
        if isinstance(item, MCPApprovalResponseItem):
            self.mcp.approvals.answer(item.approval_request_id, Approval(item.approve, item.reason))

    def _check_approval(self, item: MCPApprovalResponseItem) -> None:
        """An answer must be to an approval request of this session, and the first one to it."""
        request_id = item.approval_request_id
        asked = any(isinstance(i, MCPApprovalRequestItem) and i.id == request_id for i in self.conversation)
        if not (asked or self.mcp.approvals.is_waiting(request_id)):
            raise ProtocolError(
                f"No MCP approval request with id '{request_id}' is in the conversation.",
                code="invalid_value",
                param="item.approval_request_id",
            )
        if any(
            isinstance(i, MCPApprovalResponseItem) and i.approval_request_id == request_id for i in self.conversation
        ):
            raise ProtocolError(
                f"The MCP approval request '{request_id}' has already been answered.",
                code="invalid_value",
                param="item.approval_request_id",
            )

    async def _item_retrieve(self, event: ClientEventConversationItemRetrieve) -> None:
        item = self.conversation.get(event.item_id).model_copy(deep=True)
        spoken = self.conversation.spoken.get(event.item_id)
        if isinstance(item, MessageItem):
            for part in item.content:
                if isinstance(part, AudioContentPart) and spoken is not None:
                    part.audio = base64.b64encode(spoken.heard_audio).decode()
                elif isinstance(part, InputAudioContentPart) and part.audio is None:
                    part.audio = self.listener.stored_audio(event.item_id)
        self.send(ServerEventConversationItemRetrieved(item=item))

    async def _item_delete(self, event: ClientEventConversationItemDelete) -> None:
        self.conversation.delete(event.item_id)
        self.send(ServerEventConversationItemDeleted(item_id=event.item_id))

    async def _item_truncate(self, event: ClientEventConversationItemTruncate) -> None:
        item = self.conversation.get(event.item_id)
        if not (isinstance(item, MessageItem) and item.role == "assistant"):
            raise ProtocolError("Only assistant message items can be truncated.", code="invalid_value", param="item_id")
        if event.content_index >= len(item.content) or item.content[event.content_index].type != "audio":
            raise ProtocolError(
                f"Content part {event.content_index} of item '{event.item_id}' is not audio.",
                code="invalid_value",
                param="content_index",
            )
        self.truncate_audio(item, event.content_index, event.audio_end_ms)
        self.send(
            ServerEventConversationItemTruncated(
                item_id=event.item_id, content_index=event.content_index, audio_end_ms=event.audio_end_ms
            )
        )

    def truncate_audio(self, item: MessageItem, content_index: int, audio_end_ms: int) -> None:
        """Cut an assistant audio part at ``audio_end_ms``, anywhere within the audio sent so far (an earlier
        truncation does not shorten that): the part keeps the words that were heard."""
        assert item.id is not None
        spoken = self.conversation.spoken.get(item.id) or SpokenAudio()  # none: no audio of it was sent
        if audio_end_ms > spoken.duration_ms:
            raise ProtocolError(
                f"audio_end_ms {audio_end_ms} is beyond the {spoken.duration_ms} ms of audio sent of item '{item.id}'.",
                code="invalid_value",
                param="audio_end_ms",
            )
        spoken.end_ms = audio_end_ms
        part = item.content[content_index]
        assert isinstance(part, AudioContentPart)
        part.transcript = spoken.heard_transcript
        self.conversation.saved(item)

    async def _input_text_delta(self, event: ClientEventInputTextDelta) -> None:
        """Text streamed into a user message that ``input_text.done`` then adds to the conversation."""
        if any(item.id == event.id for item in self.conversation):
            raise ProtocolError(f"Item with id '{event.id}' already exists.", code="duplicate_item_id", param="id")
        if event.id not in self._input_text and len(self._input_text) >= MAX_INPUT_TEXTS:
            raise ProtocolError(
                f"At most {MAX_INPUT_TEXTS} input texts may stream at once: finish one with input_text.done first.",
                code="too_many_input_texts",
                param="id",
            )
        streaming = sum(len(piece) for pieces in self._input_text.values() for piece in pieces)
        if streaming + len(event.delta) > MAX_INPUT_TEXT:
            raise ProtocolError(f"Input text is limited to {MAX_INPUT_TEXT} characters.", code="input_too_long")
        self._input_text.setdefault(event.id, []).append(event.delta)

    async def _input_text_done(self, event: ClientEventInputTextDone) -> None:
        pieces = self._input_text.pop(event.id, None)
        if pieces is None:
            raise ProtocolError(
                f"No input text is streaming into item '{event.id}'.", code="item_not_found", param="id"
            )
        item = MessageItem(
            id=event.id,
            object="realtime.item",
            role="user",
            status="completed",
            content=[InputTextContentPart(text="".join(pieces))],
        )
        previous = self.conversation.insert(item)
        self.send(ServerEventConversationItemCreated(previous_item_id=previous, item=item.model_copy(deep=True)))

    async def _avatar_connect(self, event: ClientEventSessionAvatarConnect) -> None:
        raise ProtocolError(
            "This server renders no avatar video; drive a client-side face from response.animation_viseme events.",
            code="avatar_unavailable",
            param="client_sdp",
        )

    # -- input audio -----------------------------------------------------------------------------

    async def _configure_input(self) -> None:
        """Set up the input stages the session asks for: echo cancellation, noise suppression, turns."""
        session = self.session
        if session.input_audio_echo_cancellation is None:
            self.echo = None
        elif self.echo is None:
            self.echo = EchoCanceller()
        noise = session.input_audio_noise_reduction
        if noise is None:
            self.noise = None
        elif self.noise is None or self.noise.kind != noise.type:
            self.noise = await asyncio.to_thread(NoiseSuppressor, noise.type)  # loads a model: not on the loop
        self.listener.cleanup = self._clean if self.echo is not None or self.noise is not None else None
        echo = self.echo
        self.listener.agent_audible = None if echo is None else lambda: echo.speaking(time.monotonic())
        self.listener.configure(session)

    def _clean(self, samples: np.ndarray, now: float) -> np.ndarray:
        if self.echo is not None:
            samples = self.echo.process(samples, now)
        if self.noise is not None:
            samples = self.noise.process(samples)
        return samples

    async def _clear_input(self, event: ClientEvent) -> None:
        self.listener.clear()

    async def _turn_start(self, event: ClientEventInputAudioTurnStart) -> None:
        self.listener.turn_start(event.turn_id)

    async def _turn_cancel(self, event: ClientEventInputAudioTurnCancel) -> None:
        self.listener.turn_cancel(event.turn_id)

    async def _output_clear(self, event: ClientEvent) -> None:
        """The client stopped playing the assistant's audio."""
        if self.turn is not None:
            self.turn.playback_cleared()
        if self.echo is not None:
            self.echo.clear_playback()
        self.send(ServerEventOutputAudioBufferCleared(response_id=self.response.id if self.response else None))

    async def _transcription_session_update(self, event: ClientEventTranscriptionSessionUpdate) -> None:
        """A session that only transcribes: the input settings apply, and turns are never answered."""
        fields = {k: v for k, v in event.session.items() if k in TRANSCRIPTION_FIELDS}
        update = {"type": "session.update", "event_id": event.event_id, "session": fields}
        try:
            typed = ClientEventSessionUpdate.model_validate(update)
        except ValidationError as exc:
            raise validation_error(exc, update, event.event_id) from None
        self.transcription_only = True
        await self._session_update(typed)

    def _on_audio_sent(self, turn: Turn, item_id: str, samples: np.ndarray) -> None:
        """Assistant audio went out: the client plays it after what it is already playing."""
        now = time.monotonic()
        turn.audio_sent(item_id, duration_ms(len(samples), STAGE_RATE), now)
        if self.echo is not None:
            self.echo.play(samples, now)

    def _barge_in(self) -> None:
        """The user started speaking: stop answering, and cut the answer to what was heard."""
        if self.echo is not None:
            self.echo.clear_playback()
        if self.turn is None:
            return
        heard = self.turn.interrupt("turn_detected")
        settings = self.listener.settings
        spoken = self.conversation.spoken.get(heard.item_id) if heard is not None else None
        if heard is None or spoken is None or settings is None or not settings.auto_truncate:
            return  # nothing was playing, or the message is not in the conversation
        item = self.conversation.get(heard.item_id)
        assert isinstance(item, MessageItem)
        end = min(heard.audio_end_ms, spoken.duration_ms)
        self.truncate_audio(item, 0, end)
        self.send(ServerEventConversationItemTruncated(item_id=heard.item_id, content_index=0, audio_end_ms=end))

    async def _respond_to_turn(self) -> None:
        """Answer a turn that turn detection (or a client audio turn) ended."""
        if self.transcription_only:
            return
        active = self.response
        if active is not None and active.task is not None:
            await asyncio.wait([active.task])
        try:
            await self._response_create(ClientEventResponseCreate())
        except ProtocolError as exc:
            self.error(exc)

    def _anticipate(self, item_id: str, transcript: Transcript | None) -> None:
        """Start the reply at a pause in the user's speech, from the transcript so far; it is used if the
        turn ends there with the same words, dropped if the user said more (``transcript`` is then ``None``)."""
        turn = self.turn
        drafting = turn if turn is not None and turn.item_id == item_id and turn.runner is None else None
        if transcript is not None and drafting is not None and drafting.drafted(transcript.text):
            return  # the same words again: the draft stands
        if drafting is not None and drafting.drop_draft() and self.telemetry is not None:
            self.telemetry.speculative.labels("dropped").inc()
        if transcript is None or not transcript.text.strip() or not self.draft_replies:
            return
        ahead = self._reply_ahead(_heard(item_id, transcript.text))
        if ahead is not None:
            plan, request = ahead
            self._turn_for(item_id).keep_draft(Draft(self.llm, request, self.tts, plan.speak), transcript.text)

    def _prefill(self, item_id: str | None = None, transcript: Transcript | None = None) -> None:
        """Read ahead the prompt of the next reply: to what the user said so far, while they speak, or to the
        conversation as it stands (after a reply, before the user speaks again)."""
        user = _heard(item_id, transcript.text) if item_id and transcript and transcript.text.strip() else None
        ahead = self._reply_ahead(user)
        if ahead is not None:
            task = asyncio.ensure_future(self.llm.prefill(ahead[1]))
            task.add_done_callback(log_failure)

    def _reply_ahead(self, user: MessageItem | None) -> tuple[ResponsePlan, LLMRequest] | None:
        """The plan and request of the reply to the conversation (and the user's turn heard so far), if one may
        be prepared now."""
        settings = self.listener.settings
        if self.transcription_only or self.response is not None or settings is None or not settings.create_response:
            return None
        items = [*self.conversation, *([user] if user is not None else [])]
        if any(_untranscribed(item) for item in items):
            return None
        if self.mcp.tools_now(mcp_servers(self.session.tools)) is None:
            return None  # the tools the reply may use are still being listed
        try:
            plan = self.plan_response(ResponseCreateParams(), None)
        except ProtocolError:
            return None  # the response itself will say what is wrong
        messages = chat_messages(items, self._instructions(ResponseCreateParams(), None), self.llm.vision)
        return plan, dataclasses.replace(plan.request, messages=messages)

    def _turn_for(self, item_id: str | None) -> Turn:
        """The turn that answers ``item_id``: the current one when it is drafting that answer, else a new one
        (whose audio plays after the current one's)."""
        turn = self.turn
        if turn is not None and turn.item_id == item_id and turn.runner is None and item_id is not None:
            return turn
        if turn is not None:
            turn.drop_draft()
        self.turn = Turn(item_id, turn.playing_until if turn is not None else 0.0)
        return self.turn

    async def _context_messages(self, items: list[Item], instructions: str) -> list[Message]:
        """The chat messages of a response's context, once every audio item in it is transcribed."""
        for item in items:
            task = self.listener.transcript(item.id or "")
            if task is None or not isinstance(item, MessageItem):
                continue
            try:
                transcript = await asyncio.shield(task)
            except Exception as exc:
                raise StageFailed(f"Transcription failed: {exc}") from exc
            part = item.content[0]
            if isinstance(part, InputAudioContentPart) and part.transcript is None:
                part.transcript = transcript.text
                self.conversation.saved(item)
        return chat_messages(items, instructions, self.llm.vision)

    # -- responses -------------------------------------------------------------------------------

    async def _response_create(self, event: ClientEventResponseCreate) -> None:
        params = event.response or ResponseCreateParams()
        active = self.response
        if active is not None and params.cancel_previous and self.turn is not None and active.task is not None:
            self.turn.interrupt("client_cancelled")
            await asyncio.wait([active.task])
        if self.response is not None:
            raise ProtocolError(
                f"Conversation already has an active response in progress: {self.response.id}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        plan = self.plan_response(params, event.additional_instructions)
        plan.metrics = self.conversation.turn_to_answer()
        turn = self._turn_for(plan.metrics.item_id)
        runner = ResponseRunner(
            plan,
            self.llm,
            self.conversation,
            self.send,
            self.tts,
            lambda item_id, samples: self._on_audio_sent(turn, item_id, samples),
            self.observer,
        )
        turn.respond(runner).add_done_callback(lambda _: self._response_ended(runner))

    def _response_ended(self, runner: ResponseRunner) -> None:
        if self.telemetry is not None and runner.metrics.done is not None:
            self.telemetry.record(runner.metrics, self.id)
        if runner.response.status == "completed" and self.read_ahead:
            self._prefill()  # the next prompt begins with this one's reply as it was said

    async def _response_cancel(self, event: ClientEventResponseCancel) -> None:
        runner = self.response
        if runner is None or self.turn is None:
            raise ProtocolError("Cancellation failed: no active response found.", code="response_cancel_not_active")
        if event.response_id is not None and event.response_id != runner.id:
            raise ProtocolError(
                f"Response '{event.response_id}' is not the active response ({runner.id}).",
                code="invalid_value",
                param="response_id",
            )
        self.turn.interrupt("client_cancelled")

    def plan_response(self, params: ResponseCreateParams, additional_instructions: str | None) -> ResponsePlan:
        """Resolve one response's settings: the request's fields override the session's."""
        session = self.session
        check_modalities(params.modalities, "response.modalities")
        self.check_instructions(params.instructions, "response.instructions")
        self.check_instructions(additional_instructions, "additional_instructions")
        check_tools(params, "response", self.session.tools)
        self.mcp.check(mcp_servers(params.tools), "response.tools")
        instructions = self._instructions(params, additional_instructions)
        tools = params.tools if params.tools is not None else session.tools or []
        tool_choice = params.tool_choice if params.tool_choice is not None else session.tool_choice or "auto"
        max_tokens = params.max_output_tokens or params.max_response_output_tokens
        max_tokens = max_tokens or session.max_response_output_tokens or "inf"
        temperature = params.temperature if params.temperature is not None else session.temperature
        items = self._context_items(params)
        function_tools = [t for t in tools if isinstance(t, FunctionTool)]
        servers = mcp_servers(tools)
        schemas, _, choice = offered_tools(function_tools, self.mcp.tools_now(servers) if servers else {}, tool_choice)
        request = LLMRequest(
            messages=[],
            tools=schemas,
            tool_choice=choice,
            temperature=0.8 if temperature is None else temperature,
            max_tokens=None if max_tokens == "inf" else max_tokens,
        )
        fixed = params.pre_generated_assistant_message
        conversation = params.conversation or "auto"
        modalities = params.modalities or session.modalities or ["text", "audio"]
        voice = params.voice or session.voice or self.default_voice
        self.check_voice(voice, "response.voice")
        output_format = params.output_audio_format or session.output_audio_format or "pcm16"
        animation = session.animation.outputs if session.animation else []
        speak = SpeakOptions(
            voice=voice_name(voice),
            output_format=output_format,
            timestamps="word" in (session.output_audio_timestamp_types or []),
            visemes="viseme_id" in animation,
            blendshapes="blendshapes" in animation,
            prosody=voice_prosody(voice, session.speed, "response.voice"),
            first_words=self.first_words,
        )
        speak = dataclasses.replace(speak, **self.speak_overrides)
        response = Response(
            id=new_id("resp"),
            status="in_progress",
            output=[],
            conversation_id=None if conversation == "none" else self.conversation.id,
            voice=voice,
            modalities=modalities,
            output_audio_format=output_format,
            temperature=request.temperature,
            max_output_tokens=max_tokens,
            metadata=params.metadata,
            usage=None,
        )
        return ResponsePlan(
            request=request,
            response=response,
            add_to_conversation=conversation != "none",
            fixed_text=None if fixed is None else "".join(getattr(p, "text", "") or "" for p in fixed.content),
            speak=speak if "audio" in modalities else None,
            prepare=lambda: self._prepare(request, items, instructions, function_tools, servers, tool_choice),
            approvals=self.mcp.approvals,
            approval_timeout=self.mcp.settings.approval_timeout,
            max_tool_calls=self.mcp.settings.max_calls,
        )

    async def _prepare(
        self,
        request: LLMRequest,
        items: list[Item],
        instructions: str,
        function_tools: list[FunctionTool],
        servers: list[MCPServer],
        tool_choice: Any,
    ) -> tuple[LLMRequest, dict[str, MCPTool]]:
        """A response's request once its context is transcribed and its MCP servers listed."""
        messages = await self._context_messages(items, instructions)
        if not servers:
            return dataclasses.replace(request, messages=messages), {}
        schemas, tools, choice = offered_tools(function_tools, await self.mcp.tools(servers), tool_choice)
        return dataclasses.replace(request, messages=messages, tools=schemas, tool_choice=choice), tools

    def _instructions(self, params: ResponseCreateParams, additional_instructions: str | None) -> str:
        instructions = params.instructions if params.instructions is not None else self.session.instructions or ""
        if additional_instructions:
            instructions = f"{instructions}\n\n{additional_instructions}".strip()
        return instructions

    def _context_items(self, params: ResponseCreateParams) -> list[Item]:
        """What the model sees: the conversation, or the request's own input items."""
        replacement = params.input_items if params.input_items is not None else params.input
        items = list(replacement) if replacement is not None else list(self.conversation)
        items += params.append_input_items or []
        return [
            self.conversation.get(item.id, param="response.input") if isinstance(item, ItemReference) else item
            for item in items
        ]

    # -- for in-process faces (``VoiceAgent``) --------------------------------------------------

    def set_tools(self, tools: list[FunctionTool | MCPServer]) -> None:
        """Replace the session's tools, checked as a client's ``session.update`` of them is (``ProtocolError``)."""
        update = RequestSession(tools=tools)
        check_tools(update, "session", self.session.tools)
        self.mcp.check(mcp_servers(update.tools), "session.tools")
        self.session = self.session.model_copy(update={"tools": update.tools}, deep=True)
        self.send(ServerEventSessionUpdated(session=self.session.model_copy(deep=True)))
        self.mcp.configure(mcp_servers(self.session.tools))

    async def wait_idle(self) -> None:
        """Until no response is running (its ``response.done`` goes out before it frees the slot)."""
        active = self.response
        if active is not None and active.task is not None:
            await asyncio.wait([active.task])

    def heard_transcript(self, item_id: str) -> Transcript | None:
        """The finished transcription of the user's audio item ``item_id``; ``None`` while it runs or if it failed."""
        task = self.listener.transcripts.get(item_id)
        if task is None or not task.done() or task.cancelled() or task.exception() is not None:
            return None
        return task.result()

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
        for item in list(self.conversation):
            assert item.id is not None
            self.conversation.delete(item.id)
        for item in items:
            self.conversation.insert(item)


TRANSCRIPTION_FIELDS = frozenset(
    {"input_audio_format", "input_audio_sampling_rate", "input_audio_transcription", "turn_detection",
     "input_audio_noise_reduction", "input_audio_echo_cancellation", "include"}
)  # fmt: skip


def _heard(item_id: str, text: str) -> MessageItem:
    """The user's audio turn as heard so far."""
    return MessageItem(
        id=item_id,
        object="realtime.item",
        role="user",
        status="completed",
        content=[InputAudioContentPart(transcript=text)],
    )


def _untranscribed(item: Item) -> bool:
    """A user audio item whose transcript is not known yet."""
    return isinstance(item, MessageItem) and any(
        isinstance(part, InputAudioContentPart) and part.transcript is None for part in item.content
    )


def check_modalities(modalities: list[str] | None, param: str) -> None:
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


def check_tools(config: RequestSession | ResponseCreateParams, scope: str, current: list[Any] | None) -> None:
    """The tools are distinct, their parameters JSON schemas of objects, their JSON at most ``MAX_TOOLS_JSON``
    bytes, and ``tool_choice`` names one of them (or of the ``current`` ones, when the request does not set them)."""
    functions = [(i, t) for i, t in enumerate(config.tools or []) if isinstance(t, FunctionTool)]
    for index, tool in functions:
        if tool.parameters:
            check_parameters(tool.parameters, f"{scope}.tools[{index}].parameters")
    size = len(json.dumps([tool.to_dict() for _, tool in functions]))
    if size > MAX_TOOLS_JSON:
        raise ProtocolError(
            f"The function tools take {size} bytes of JSON; the limit is {MAX_TOOLS_JSON}.",
            code="invalid_value",
            param=f"{scope}.tools",
        )
    tools = config.tools if config.tools is not None else current or []
    names = [t.name for t in tools if isinstance(t, FunctionTool)]
    for name in names:
        if names.count(name) > 1:
            raise ProtocolError(f"Duplicate tool name '{name}'.", code="invalid_value", param=f"{scope}.tools")
    choice = config.tool_choice
    labels = [server.server_label for server in mcp_servers(tools)]
    if isinstance(choice, ToolChoiceMCPSelection) and choice.server_label not in labels:
        raise ProtocolError(
            f"tool_choice names the MCP server '{choice.server_label}', which is not among the tools.",
            code="invalid_value",
            param=f"{scope}.tool_choice",
        )
    chosen = choice.name if isinstance(choice, ToolChoiceFunctionSelection) else None
    if (
        isinstance(config, ResponseCreateParams)
        and isinstance(choice, str)
        and choice not in ("auto", "none", "required")
    ):
        chosen = choice
    if chosen is not None and chosen not in names and not labels:
        raise ProtocolError(
            f"tool_choice names the function '{chosen}', which is not among the tools.",
            code="invalid_value",
            param=f"{scope}.tool_choice",
        )


def check_parameters(schema: dict[str, Any], param: str) -> None:
    """A function's parameters are a JSON schema (valid by the JSON Schema meta-schema) of an object."""
    if schema.get("type") != "object":
        problem = 'the parameters of a function must be a JSON schema with "type": "object"'
    elif not isinstance(schema.get("$schema", ""), str):
        problem = "$schema must be the URI of a JSON Schema dialect"
    else:
        validator = validator_for(schema, default=Draft202012Validator)
        error = best_match(validator(validator.META_SCHEMA).iter_errors(schema))
        problem = "" if error is None else f"not a valid JSON schema at {error.json_path}: {error.message:.200}"
    if problem:
        raise ProtocolError(f"Invalid value for '{param}': {problem}.", code="invalid_value", param=param)


def mcp_servers(tools: list[Any] | None) -> list[MCPServer]:
    return [tool for tool in tools or [] if isinstance(tool, MCPServer)]


def offered_tools(
    functions: list[FunctionTool], mcp: dict[str, MCPTool] | None, choice: Any
) -> tuple[list[dict[str, Any]], dict[str, MCPTool], str | dict[str, Any]]:
    """What the model is offered: the tools in the chat-completions shape, the MCP tools among them by name (a
    function of the same name wins), and the ``tool_choice``. ``mcp`` is ``None`` while the MCP tools are
    still being listed; a choice naming one of them is then not checked yet."""
    names = [tool.name for tool in functions]
    offered = {name: tool for name, tool in (mcp or {}).items() if name not in names}
    schemas = [
        {
            "type": "function",
            "function": {
                "name": tool.name,
                "description": tool.description or "",
                "parameters": tool.parameters or {"type": "object", "properties": {}},
            },
        }
        for tool in functions
    ]
    schemas += [tool.llm_tool() for tool in offered.values()]
    return schemas, offered, llm_tool_choice(choice, names, None if mcp is None else offered)


def llm_tool_choice(choice: Any, functions: list[str], mcp: dict[str, MCPTool] | None) -> str | dict[str, Any]:
    """A session/response ``tool_choice`` in the chat-completions shape; an MCP server without a tool name
    means any of that server's tools (``allowed_tools``, required)."""
    if isinstance(choice, ToolChoiceFunctionSelection):
        choice = choice.name
    if isinstance(choice, ToolChoiceMCPSelection):
        if mcp is None:
            return "required"
        label = choice.server_label
        tools = [name for name, tool in mcp.items() if tool.server.server_label == label]
        if choice.name is not None and choice.name not in tools:
            raise ProtocolError(
                f"tool_choice names the tool '{choice.name}', which MCP server '{label}' does not offer.",
                code="invalid_value",
                param="tool_choice",
            )
        if choice.name is not None:
            return {"type": "function", "function": {"name": choice.name}}
        if not tools:
            raise ProtocolError(f"MCP server '{label}' offers no tools.", code="invalid_value", param="tool_choice")
        allowed = [{"type": "function", "function": {"name": name}} for name in tools]
        return {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": allowed}}
    if choice in ("auto", "none", "required"):
        return str(choice)
    if isinstance(choice, str):
        if choice not in functions and mcp is not None and choice not in mcp:
            raise ProtocolError(
                f"tool_choice names the function '{choice}', which is not among the tools.",
                code="invalid_value",
                param="tool_choice",
            )
        return {"type": "function", "function": {"name": choice}}
    return "auto"
