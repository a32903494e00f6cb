"""Conversation items and their content parts."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, model_validator

from .base import WireModel

ItemStatus = Literal["in_progress", "completed", "incomplete"]
Role = Literal["system", "user", "assistant"]

# --- content parts --------------------------------------------------------------------------------


class InputTextContentPart(WireModel):
    type: Literal["input_text"] = "input_text"
    text: str


class InputAudioContentPart(WireModel):
    type: Literal["input_audio"] = "input_audio"
    audio: str | None = None
    """Base64 audio in the session's input format."""
    transcript: str | None = None


class InputImageContentPart(WireModel):
    type: Literal["input_image"] = "input_image"
    image_url: str | None = None
    url: str | None = None
    detail: Literal["auto", "low", "high"] | None = None


class TextContentPart(WireModel):
    type: Literal["text"] = "text"
    text: str = ""


class AudioContentPart(WireModel):
    type: Literal["audio"] = "audio"
    audio: str | None = None
    transcript: str | None = None


ContentPart = Annotated[
    InputTextContentPart | InputAudioContentPart | InputImageContentPart | TextContentPart | AudioContentPart,
    Field(discriminator="type"),
]

_PARTS_BY_ROLE: dict[str, tuple[str, ...]] = {
    "system": ("input_text",),
    "user": ("input_text", "input_audio", "input_image"),
    "assistant": ("text", "audio"),
}

# --- items ----------------------------------------------------------------------------------------


class _Item(WireModel):
    id: str | None = None
    object: str | None = None
    """``realtime.item`` (services differ on the value; kept as sent)."""


class MessageItem(_Item):
    type: Literal["message"] = "message"
    role: Role
    content: list[ContentPart] = Field(default_factory=list)
    status: ItemStatus | None = None

    @model_validator(mode="after")
    def _parts_fit_role(self) -> MessageItem:
        allowed = _PARTS_BY_ROLE[self.role]
        for part in self.content:
            if part.type not in allowed:
                raise ValueError(f"{self.role} messages may only hold {' or '.join(allowed)} content, not {part.type}")
        return self


class FunctionCallItem(_Item):
    type: Literal["function_call"] = "function_call"
    name: str
    call_id: str
    arguments: str = ""
    status: ItemStatus | None = None


class FunctionCallOutputItem(_Item):
    type: Literal["function_call_output"] = "function_call_output"
    call_id: str
    output: str
    status: ItemStatus | None = None


class MCPToolInfo(WireModel):
    name: str
    input_schema: dict[str, Any] = Field(default_factory=dict)
    description: str | None = None
    annotations: dict[str, Any] | None = None


class MCPListToolsItem(_Item):
    type: Literal["mcp_list_tools"] = "mcp_list_tools"
    server_label: str
    tools: list[MCPToolInfo] = Field(default_factory=list)


class MCPCallItem(_Item):
    type: Literal["mcp_call"] = "mcp_call"
    server_label: str
    name: str
    arguments: str = ""
    approval_request_id: str | None = None
    output: str | None = None
    error: dict[str, Any] | None = None


class MCPApprovalRequestItem(_Item):
    type: Literal["mcp_approval_request"] = "mcp_approval_request"
    server_label: str
    name: str
    arguments: str | None = None


class MCPApprovalResponseItem(_Item):
    type: Literal["mcp_approval_response"] = "mcp_approval_response"
    approval_request_id: str
    approve: bool
    reason: str | None = None


class FoundryAgentCallItem(_Item):
    type: Literal["foundry_agent_call"] = "foundry_agent_call"
    name: str
    call_id: str
    arguments: str = ""
    agent_response_id: str | None = None
    output: str | None = None
    error: dict[str, Any] | None = None


class WebSearchCallItem(_Item):
    type: Literal["web_search_call"] = "web_search_call"
    status: Literal["in_progress", "searching", "completed", "failed"] | None = None
    action: dict[str, Any] | None = None


class FileSearchResult(WireModel):
    file_id: str | None = None
    filename: str | None = None
    score: float | None = None
    text: str | None = None
    attributes: dict[str, Any] | None = None


class FileSearchCallItem(_Item):
    type: Literal["file_search_call"] = "file_search_call"
    queries: list[str] | None = None
    status: Literal["in_progress", "searching", "completed", "incomplete", "failed"] | None = None
    results: list[FileSearchResult] | None = None


class ItemReference(WireModel):
    """A conversation item named by id, in the input of a ``response.create``."""

    type: Literal["item_reference"] = "item_reference"
    id: str


Item = Annotated[
    MessageItem
    | FunctionCallItem
    | FunctionCallOutputItem
    | MCPListToolsItem
    | MCPCallItem
    | MCPApprovalRequestItem
    | MCPApprovalResponseItem
    | FoundryAgentCallItem
    | WebSearchCallItem
    | FileSearchCallItem
    | ItemReference,
    Field(discriminator="type"),
]

ITEM: TypeAdapter[Item] = TypeAdapter(Item)
"""Reads an item from its wire form."""
