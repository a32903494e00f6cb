"""``ResponseOutput``: a response's output items as the client is told of them, and as the conversation holds them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..protocol import (
    FunctionCallItem,
    Item,
    Response,
    ServerEvent,
    ServerEventConversationItemCreated,
    ServerEventResponseOutputItemAdded,
    ServerEventResponseOutputItemDone,
)
from .conversation import Conversation


class ResponseOutput:
    """Announces each output item (``response.output_item.added``, and ``conversation.item.created`` when the
    response adds to the conversation) and closes it (``response.output_item.done``)."""

    def __init__(
        self,
        response: Response,
        conversation: Conversation,
        send: Callable[[ServerEvent], None],
        add_to_conversation: bool,
    ) -> None:
        self.response = response
        self.conversation = conversation
        self.send = send
        self.add_to_conversation = add_to_conversation
        self._open: list[Item] = []
        """Output items announced and not done yet."""

    def add(self, item: Item) -> int:
        """Announce a new output item; its index in the output."""
        output_index = len(self.response.output)
        self.response.output.append(item)
        self._open.append(item)
        self.send(
            ServerEventResponseOutputItemAdded(
                response_id=self.response.id, output_index=output_index, item=item.model_copy(deep=True)
            )
        )
        if self.add_to_conversation:
            previous = self.conversation.insert(item)
            self.send(ServerEventConversationItemCreated(previous_item_id=previous, item=item.model_copy(deep=True)))
        return output_index

    def done(self, item: Item) -> None:
        self._open.remove(item)
        if self.add_to_conversation:
            self.conversation.saved(item)
        self.send(
            ServerEventResponseOutputItemDone(
                response_id=self.response.id,
                output_index=self.response.output.index(item),
                item=item.model_copy(deep=True),
            )
        )

    def close_open(self) -> None:
        """Close the items cut short (a function call still being written is ``incomplete``)."""
        for item in list(self._open):
            if isinstance(item, FunctionCallItem):
                item.status = "incomplete"
            self.done(item)

    def item_where(self, item: Item) -> dict[str, Any]:
        """Where an output item is: the fields of the events about it."""
        assert item.id is not None
        return {"response_id": self.response.id, "item_id": item.id, "output_index": self.response.output.index(item)}

    def where(self, item: Item) -> dict[str, Any]:
        """Where an item's (only) content part is."""
        return {**self.item_where(item), "content_index": 0}
