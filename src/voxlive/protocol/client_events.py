"""Every event a client sends (VoiceLive classic dialect)."""

from __future__ import annotations

from typing import Annotated, Any, Literal, get_args

from pydantic import Field, TypeAdapter

from .base import WireModel
from .items import Item
from .responses import ResponseCreateParams
from .session import RequestSession


class ClientEvent(WireModel):
    """What every client event has: its ``type``, and the client's ``event_id`` that errors about it name."""

    type: str
    event_id: str | None = None


class ClientEventSessionUpdate(ClientEvent):
    type: Literal["session.update"] = "session.update"
    session: RequestSession


class ClientEventInputAudioBufferAppend(ClientEvent):
    type: Literal["input_audio_buffer.append"] = "input_audio_buffer.append"
    audio: str
    """Base64 audio in the session's input format."""


class ClientEventInputAudioBufferCommit(ClientEvent):
    type: Literal["input_audio_buffer.commit"] = "input_audio_buffer.commit"


class ClientEventInputAudioBufferClear(ClientEvent):
    type: Literal["input_audio_buffer.clear"] = "input_audio_buffer.clear"


class ClientEventConversationItemCreate(ClientEvent):
    type: Literal["conversation.item.create"] = "conversation.item.create"
    previous_item_id: str | None = None
    """Insert after this item; ``"root"`` inserts at the beginning; absent appends."""
    item: Item


class ClientEventConversationItemRetrieve(ClientEvent):
    type: Literal["conversation.item.retrieve"] = "conversation.item.retrieve"
    item_id: str


class ClientEventConversationItemTruncate(ClientEvent):
    type: Literal["conversation.item.truncate"] = "conversation.item.truncate"
    item_id: str
    content_index: int = Field(ge=0)
    audio_end_ms: int = Field(ge=0)


class ClientEventConversationItemDelete(ClientEvent):
    type: Literal["conversation.item.delete"] = "conversation.item.delete"
    item_id: str


class ClientEventResponseCreate(ClientEvent):
    type: Literal["response.create"] = "response.create"
    response: ResponseCreateParams | None = None
    additional_instructions: str | None = None


class ClientEventResponseCancel(ClientEvent):
    type: Literal["response.cancel"] = "response.cancel"
    response_id: str | None = None


class ClientEventOutputAudioBufferClear(ClientEvent):
    type: Literal["output_audio_buffer.clear"] = "output_audio_buffer.clear"


class ClientEventSessionAvatarConnect(ClientEvent):
    type: Literal["session.avatar.connect"] = "session.avatar.connect"
    client_sdp: str


class ClientEventInputAudioTurnStart(ClientEvent):
    type: Literal["input_audio.turn.start"] = "input_audio.turn.start"
    turn_id: str


class ClientEventInputAudioTurnAppend(ClientEvent):
    type: Literal["input_audio.turn.append"] = "input_audio.turn.append"
    turn_id: str
    audio: str


class ClientEventInputAudioTurnEnd(ClientEvent):
    type: Literal["input_audio.turn.end"] = "input_audio.turn.end"
    turn_id: str


class ClientEventInputAudioTurnCancel(ClientEvent):
    type: Literal["input_audio.turn.cancel"] = "input_audio.turn.cancel"
    turn_id: str


class ClientEventInputAudioClear(ClientEvent):
    type: Literal["input_audio.clear"] = "input_audio.clear"


class ClientEventInputTextDelta(ClientEvent):
    type: Literal["input_text.delta"] = "input_text.delta"
    id: str
    """The id of the user message item the text streams into."""
    delta: str
    content_index: int | None = Field(default=None, ge=0)


class ClientEventInputTextDone(ClientEvent):
    type: Literal["input_text.done"] = "input_text.done"
    id: str
    content_index: int | None = Field(default=None, ge=0)


class ClientEventTranscriptionSessionUpdate(ClientEvent):
    type: Literal["transcription_session.update"] = "transcription_session.update"
    session: dict[str, Any]


AnyClientEvent = Annotated[
    ClientEventSessionUpdate
    | ClientEventInputAudioBufferAppend
    | ClientEventInputAudioBufferCommit
    | ClientEventInputAudioBufferClear
    | ClientEventConversationItemCreate
    | ClientEventConversationItemRetrieve
    | ClientEventConversationItemTruncate
    | ClientEventConversationItemDelete
    | ClientEventResponseCreate
    | ClientEventResponseCancel
    | ClientEventOutputAudioBufferClear
    | ClientEventSessionAvatarConnect
    | ClientEventInputAudioTurnStart
    | ClientEventInputAudioTurnAppend
    | ClientEventInputAudioTurnEnd
    | ClientEventInputAudioTurnCancel
    | ClientEventInputAudioClear
    | ClientEventInputTextDelta
    | ClientEventInputTextDone
    | ClientEventTranscriptionSessionUpdate,
    Field(discriminator="type"),
]
"""Every client event, told apart by its ``type``."""

CLIENT_EVENT: TypeAdapter[AnyClientEvent] = TypeAdapter(AnyClientEvent)
"""Validates a decoded client event into its class."""

CLIENT_EVENTS: dict[str, type[ClientEvent]] = {
    cls.model_fields["type"].default: cls for cls in get_args(get_args(AnyClientEvent)[0])
}
"""Client event classes by wire ``type``."""
