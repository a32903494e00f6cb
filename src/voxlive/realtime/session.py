"""``RealtimeSession``: one client's session — its configuration, conversation and responses."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ..protocol import (
    ClientEvent,
    ClientEventConversationItemCreate,
    ClientEventConversationItemDelete,
    ClientEventConversationItemRetrieve,
    ClientEventConversationItemTruncate,
    ClientEventInputTextDelta,
    ClientEventInputTextDone,
    ClientEventResponseCancel,
    ClientEventResponseCreate,
    ClientEventSessionAvatarConnect,
    ClientEventSessionUpdate,
    ErrorDetails,
    FunctionCallOutputItem,
    FunctionTool,
    InputTextContentPart,
    Item,
    ItemReference,
    MessageItem,
    ProtocolError,
    RequestSession,
    Response,
    ResponseCreateParams,
    ResponseSession,
    ServerEvent,
    ServerEventConversationItemCreated,
    ServerEventConversationItemDeleted,
    ServerEventConversationItemRetrieved,
    ServerEventConversationItemTruncated,
    ServerEventError,
    ServerEventSessionCreated,
    ServerEventSessionUpdated,
    ServerEventWarning,
    ToolChoiceFunctionSelection,
    WarningDetails,
    new_id,
)
from ..speech.llm import LLM, LLMRequest
from .conversation import Conversation, chat_messages
from .response import ResponsePlan, ResponseRunner

log = logging.getLogger(__name__)

Send = Callable[[ServerEvent], None]
MAX_INPUT_TEXT = 256_000


class RealtimeSession:
    """Handles client events in order and emits server events through ``send``.

    ``send`` must not block: the server queues events for its writer. Bad requests raise
    ``ProtocolError`` inside a handler and become an ``error`` event; the session goes on.
    """

    def __init__(self, session: ResponseSession, llm: LLM, send: Send, *, max_items: int = 2000) -> None:
        self.session = session
        self.llm = llm
        self.send = send
        self.conversation = Conversation(max_items)
        self.response: ResponseRunner | None = None
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
        }
        self._input_text: dict[str, list[str]] = {}

    @property
    def id(self) -> str:
        return self.session.id

    async def start(self) -> None:
        self.send(ServerEventSessionCreated(session=self.session.model_copy(deep=True)))

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

    def error(self, exc: ProtocolError, event_id: str | None = None) -> None:
        self.send(
            ServerEventError(
                error=ErrorDetails(
                    type=exc.type,
                    code=exc.code,
                    message=exc.message,
                    param=exc.param,
                    event_id=exc.event_id or event_id,
                )
            )
        )

    async def close(self) -> None:
        """Stop any response at once; nothing is sent after this."""
        if self.response is not None and self.response.task is not None:
            self.response.task.cancel()
            with contextlib.suppress(BaseException):  # its end is of no interest once the session is gone
                await self.response.task
            self.response = None

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
        check_tools(update, "session")
        changes = {name: getattr(update, name) for name in update.model_fields_set & RequestSession.model_fields.keys()}
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
        self.send(ServerEventSessionUpdated(session=self.session.model_copy(deep=True)))

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
        item.id = item.id or new_id("item")
        item.object = "realtime.item"
        if hasattr(item, "status"):
            item.status = getattr(item, "status", None) or "completed"
        previous = self.conversation.insert(item, event.previous_item_id)
        self.send(ServerEventConversationItemCreated(previous_item_id=previous, item=item.model_copy(deep=True)))

    async def _item_retrieve(self, event: ClientEventConversationItemRetrieve) -> None:
        item = self.conversation.get(event.item_id)
        self.send(ServerEventConversationItemRetrieved(item=item.model_copy(deep=True)))

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
        """Cut an assistant audio part at ``audio_end_ms``: what was not heard leaves the context."""
        part = item.content[content_index]
        part.transcript = ""  # type: ignore[union-attr]

    async def _input_text_delta(self, event: ClientEventInputTextDelta) -> None:
        """Text streamed into a user message that ``input_text.done`` then adds to the conversation."""
        if any(item.id == event.id for item in self.conversation):
            raise ProtocolError(f"Item with id '{event.id}' already exists.", code="duplicate_item_id", param="id")
        pieces = self._input_text.setdefault(event.id, [])
        if sum(map(len, pieces)) + len(event.delta) > MAX_INPUT_TEXT:
            raise ProtocolError(f"Input text is limited to {MAX_INPUT_TEXT} characters.", code="input_too_long")
        pieces.append(event.delta)

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

    # -- responses -------------------------------------------------------------------------------

    async def _response_create(self, event: ClientEventResponseCreate) -> None:
        params = event.response or ResponseCreateParams()
        active = self.response
        if active is not None and params.cancel_previous and active.task is not None:
            active.cancel("client_cancelled")
            await asyncio.wait([active.task])
            self._response_ended(active)
        if self.response is not None:
            raise ProtocolError(
                f"Conversation already has an active response in progress: {self.response.id}. "
                "Wait until the response is finished before creating a new one.",
                code="conversation_already_has_active_response",
            )
        plan = self.plan_response(params, event.additional_instructions)
        runner = ResponseRunner(plan, self.llm, self.conversation, self.send)
        self.response = runner
        runner.start().add_done_callback(lambda _: self._response_ended(runner))

    def _response_ended(self, runner: ResponseRunner) -> None:
        if self.response is runner:
            self.response = None

    async def _response_cancel(self, event: ClientEventResponseCancel) -> None:
        runner = self.response
        if runner is None:
            raise ProtocolError("Cancellation failed: no active response found.", code="response_cancel_not_active")
        if event.response_id is not None and event.response_id != runner.id:
            raise ProtocolError(
                f"Response '{event.response_id}' is not the active response ({runner.id}).",
                code="invalid_value",
                param="response_id",
            )
        runner.cancel("client_cancelled")

    def plan_response(self, params: ResponseCreateParams, additional_instructions: str | None) -> ResponsePlan:
        """Resolve one response's settings: the request's fields override the session's."""
        session = self.session
        check_modalities(params.modalities, "response.modalities")
        check_tools(params, "response")
        instructions = params.instructions if params.instructions is not None else session.instructions or ""
        if additional_instructions:
            instructions = f"{instructions}\n\n{additional_instructions}".strip()
        tools = params.tools if params.tools is not None else session.tools or []
        tool_choice = params.tool_choice if params.tool_choice is not None else session.tool_choice or "auto"
        max_tokens = params.max_output_tokens or params.max_response_output_tokens
        max_tokens = max_tokens or session.max_response_output_tokens or "inf"
        temperature = params.temperature if params.temperature is not None else session.temperature
        items = self._context_items(params)
        function_tools = [t for t in tools if isinstance(t, FunctionTool)]
        request = LLMRequest(
            messages=chat_messages(items, instructions),
            tools=[
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description or "",
                        "parameters": t.parameters or {"type": "object", "properties": {}},
                    },
                }
                for t in function_tools
            ],
            tool_choice=llm_tool_choice(tool_choice, [t.name for t in function_tools]),
            temperature=0.8 if temperature is None else temperature,
            max_tokens=None if max_tokens == "inf" else max_tokens,
        )
        fixed = params.pre_generated_assistant_message
        conversation = params.conversation or "auto"
        response = Response(
            id=new_id("resp"),
            status="in_progress",
            output=[],
            conversation_id=None if conversation == "none" else f"conv_{session.id}",
            voice=params.voice or session.voice,
            modalities=params.modalities or session.modalities,
            output_audio_format=params.output_audio_format or session.output_audio_format,
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
        )

    def _context_items(self, params: ResponseCreateParams) -> list[Item]:
        """What the model sees: the conversation, or the request's own input items."""
        replacement = params.input_items if params.input_items is not None else params.input
        items = list(replacement) if replacement is not None else list(self.conversation)
        items += params.append_input_items or []
        return [
            self.conversation.get(item.id, param="response.input") if isinstance(item, ItemReference) else item
            for item in items
        ]


def check_modalities(modalities: list[str] | None, param: str) -> None:
    if modalities is None:
        return
    if "audio" in modalities and "text" not in modalities:
        raise ProtocolError(
            f"Invalid modalities: {modalities}. Audio output always comes with its text: use ['text', 'audio'].",
            code="invalid_value",
            param=param,
        )


def check_tools(config: RequestSession | ResponseCreateParams, scope: str) -> None:
    names = [t.name for t in config.tools or [] if isinstance(t, FunctionTool)]
    for name in names:
        if names.count(name) > 1:
            raise ProtocolError(f"Duplicate tool name '{name}'.", code="invalid_value", param=f"{scope}.tools")
    choice = config.tool_choice
    chosen = choice.name if isinstance(choice, ToolChoiceFunctionSelection) else None
    if (
        isinstance(config, ResponseCreateParams)
        and isinstance(choice, str)
        and choice not in ("auto", "none", "required")
    ):
        chosen = choice
    if chosen is not None and config.tools is not None and chosen not in names:
        raise ProtocolError(
            f"tool_choice names the function '{chosen}', which is not among the tools.",
            code="invalid_value",
            param=f"{scope}.tool_choice",
        )


def llm_tool_choice(choice: Any, names: list[str]) -> str | dict[str, Any]:
    """A session/response ``tool_choice`` in the chat-completions shape."""
    if isinstance(choice, ToolChoiceFunctionSelection):
        choice = choice.name
    if choice in ("auto", "none", "required"):
        return str(choice)
    if isinstance(choice, str):
        if choice not in names:
            raise ProtocolError(
                f"tool_choice names the function '{choice}', which is not among the tools.",
                code="invalid_value",
                param="tool_choice",
            )
        return {"type": "function", "function": {"name": choice}}
    return "auto"
