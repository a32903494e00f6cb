"""``ConversationEdits``: the client's edits of the conversation — items created, retrieved, deleted, truncated,
and user text streamed in."""

from __future__ import annotations

import base64
from collections.abc import Callable

from ..protocol import (
    AudioContentPart,
    ClientEventConversationItemCreate,
    ClientEventConversationItemTruncate,
    ClientEventInputTextDelta,
    FunctionCallOutputItem,
    InputAudioContentPart,
    InputTextContentPart,
    ItemReference,
    MCPApprovalRequestItem,
    MCPApprovalResponseItem,
    MessageItem,
    ProtocolError,
    ServerEvent,
    ServerEventConversationItemCreated,
    ServerEventConversationItemDeleted,
    ServerEventConversationItemRetrieved,
    ServerEventConversationItemTruncated,
    new_id,
)
from ..tools.approvals import Approval, Approvals
from .conversation import Conversation

MAX_INPUT_TEXT = 256_000
"""Characters of input text streaming at once (``input_text.delta`` not yet done), all items together."""
MAX_INPUT_TEXTS = 16


class ConversationEdits:
    """Applies the client's conversation events; ``user_audio`` gives a committed item's audio (base64 in the
    session's input format) for ``conversation.item.retrieve``."""

    def __init__(
        self,
        conversation: Conversation,
        send: Callable[[ServerEvent], None],
        approvals: Approvals,
        user_audio: Callable[[str], str | None],
    ) -> None:
        self.conversation = conversation
        self.send = send
        self.approvals = approvals
        self.user_audio = user_audio
        self._input_text: dict[str, list[str]] = {}
        """The text streaming into each user message not done yet."""

    def create(self, event: ClientEventConversationItemCreate) -> None:
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
            self.approvals.answer(item.approval_request_id, Approval(item.approve, item.reason))

    def _check_approval(self, item: MCPApprovalResponseItem) -> None:
        """An answer must be to an approval request of this session, and the first one to it."""
        request_id = item.approval_request_id
        asked = any(isinstance(i, MCPApprovalRequestItem) and i.id == request_id for i in self.conversation)
        if not (asked or self.approvals.is_waiting(request_id)):
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

    def retrieve(self, item_id: str) -> None:
        item = self.conversation.get(item_id).model_copy(deep=True)
        spoken = self.conversation.spoken.get(item_id)
        if isinstance(item, MessageItem):
            for part in item.content:
                if isinstance(part, AudioContentPart) and spoken is not None:
                    part.audio = base64.b64encode(spoken.heard_audio).decode()
                elif isinstance(part, InputAudioContentPart) and part.audio is None:
                    part.audio = self.user_audio(item_id)
        self.send(ServerEventConversationItemRetrieved(item=item))

    def delete(self, item_id: str) -> None:
        self.conversation.delete(item_id)
        self.send(ServerEventConversationItemDeleted(item_id=item_id))

    def truncate(self, event: ClientEventConversationItemTruncate) -> None:
        item = self.conversation.get(event.item_id)
        if not (isinstance(item, MessageItem) and item.role == "assistant"):
            raise ProtocolError("Only assistant message items can be truncated.", code="invalid_value", param="item_id")
        if event.content_index >= len(item.content) or item.content[event.content_index].type != "audio":
            raise ProtocolError(
                f"Content part {event.content_index} of item '{event.item_id}' is not audio.",
                code="invalid_value",
                param="content_index",
            )
        self.conversation.truncate_audio(item, event.content_index, event.audio_end_ms)
        self.send(
            ServerEventConversationItemTruncated(
                item_id=event.item_id, content_index=event.content_index, audio_end_ms=event.audio_end_ms
            )
        )

    def input_text_delta(self, event: ClientEventInputTextDelta) -> None:
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

    def input_text_done(self, item_id: str) -> None:
        pieces = self._input_text.pop(item_id, None)
        if pieces is None:
            raise ProtocolError(f"No input text is streaming into item '{item_id}'.", code="item_not_found", param="id")
        item = MessageItem(
            id=item_id,
            object="realtime.item",
            role="user",
            status="completed",
            content=[InputTextContentPart(text="".join(pieces))],
        )
        previous = self.conversation.insert(item)
        self.send(ServerEventConversationItemCreated(previous_item_id=previous, item=item.model_copy(deep=True)))
