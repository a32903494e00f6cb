"""``ResponsePlanner``: one response's settings resolved from the session and its ``response.create``."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from ..protocol import (
    FunctionTool,
    InputAudioContentPart,
    Item,
    ItemReference,
    MCPServer,
    MessageItem,
    Response,
    ResponseCreateParams,
    new_id,
)
from ..speech.llm import LLM, LLMRequest, Message
from ..speech.stt import Transcript
from ..tools.approvals import Approvals
from .conversation import Conversation, chat_messages
from .draft import Draft
from .mcp_servers import MCPServers, MCPTool
from .metrics import TurnMetrics
from .session_config import SessionConfig, check_modalities
from .speaker import SpeakOptions, StageFailed
from .tool_choice import check_tools, mcp_servers, offered_tools


@dataclass
class ResponsePlan:
    """Everything one response needs, resolved from the session and the ``response.create``."""

    request: LLMRequest
    response: Response
    add_to_conversation: bool = True
    fixed_text: str | None = None
    """Say this instead of asking the LLM (``pre_generated_assistant_message``)."""
    speak: SpeakOptions | None = None
    """How to speak the answer; ``None`` answers in text only."""
    prepare: Callable[[], Awaitable[tuple[LLMRequest, dict[str, MCPTool]]]] | None = None
    """The request, once it can be known (audio items are transcribed, MCP servers listed), and the MCP tools
    it offers by name."""
    approvals: Approvals = dataclasses.field(default_factory=Approvals)
    """Where the client's answers to ``mcp_approval_request`` items arrive."""
    approval_timeout: float = 300.0
    max_tool_calls: int = 8
    """The most MCP calls the response makes; then the model must answer."""
    draft: Draft | None = None
    """A reply generated ahead (during the user's pause): used if it was asked exactly this request."""
    metrics: TurnMetrics = dataclasses.field(default_factory=TurnMetrics)


@dataclass(frozen=True)
class _Tools:
    """The tools a response offers and its ``tool_choice``."""

    functions: list[FunctionTool]
    servers: list[MCPServer]
    choice: Any


class ResponsePlanner:
    """Plans responses: the request's fields override the session's; the context is the conversation (or the
    request's own input items), its audio items transcribed by ``transcript`` before the model reads them."""

    def __init__(
        self,
        config: SessionConfig,
        conversation: Conversation,
        llm: LLM,
        mcp: MCPServers,
        transcript: Callable[[str], asyncio.Task[Transcript] | None],
        first_words: int | None,
    ) -> None:
        self.config = config
        self.conversation = conversation
        self.llm = llm
        self.mcp = mcp
        self.transcript = transcript
        self.first_words = first_words
        self.speak_overrides: dict[str, Any] = {}
        """``SpeakOptions`` fields an in-process face sets for every response (piece sizes, synthesis ahead)."""

    def plan(self, params: ResponseCreateParams, additional_instructions: str | None = None) -> ResponsePlan:
        """Check a response's request and resolve its settings."""
        session = self.config.session
        check_modalities(params.modalities, "response.modalities")
        self.config.check_instructions(params.instructions, "response.instructions")
        self.config.check_instructions(additional_instructions, "additional_instructions")
        check_tools(params, "response", session.tools)
        self.mcp.check(mcp_servers(params.tools), "response.tools")
        tools = self._tools(params)
        items = self._context_items(params)
        instructions = self.instructions(params, additional_instructions)
        request = self._request(params, tools)
        fixed = params.pre_generated_assistant_message
        conversation = params.conversation or "auto"
        modalities = params.modalities or session.modalities or ["text", "audio"]
        speak = self._speak(params)
        response = Response(
            id=new_id("resp"),
            status="in_progress",
            output=[],
            conversation_id=None if conversation == "none" else self.conversation.id,
            voice=params.voice or self.config.voice.voice,
            modalities=modalities,
            output_audio_format=speak.output_format,
            temperature=request.temperature,
            max_output_tokens=_max_tokens(params, self.config) or "inf",
            metadata=params.metadata,
            usage=None,
        )
        return ResponsePlan(
            request=request,
            response=response,
            add_to_conversation=conversation != "none",
            fixed_text=None if fixed is None else "".join(getattr(p, "text", "") or "" for p in fixed.content),
            speak=speak if "audio" in modalities else None,
            prepare=lambda: self._prepare(request, items, instructions, tools),
            approvals=self.mcp.approvals,
            approval_timeout=self.mcp.settings.approval_timeout,
            max_tool_calls=self.mcp.settings.max_calls,
        )

    def instructions(self, params: ResponseCreateParams, additional_instructions: str | None) -> str:
        session_instructions = self.config.session.instructions or ""
        instructions = params.instructions if params.instructions is not None else session_instructions
        if additional_instructions:
            instructions = f"{instructions}\n\n{additional_instructions}".strip()
        return instructions

    def _tools(self, params: ResponseCreateParams) -> _Tools:
        session = self.config.session
        tools = params.tools if params.tools is not None else session.tools or []
        choice = params.tool_choice if params.tool_choice is not None else session.tool_choice or "auto"
        return _Tools([t for t in tools if isinstance(t, FunctionTool)], mcp_servers(tools), choice)

    def _request(self, params: ResponseCreateParams, tools: _Tools) -> LLMRequest:
        """The LLM request, but for its messages (and the MCP tools still being listed)."""
        mcp = self.mcp.tools_now(tools.servers) if tools.servers else {}
        schemas, _, choice = offered_tools(tools.functions, mcp, tools.choice)
        max_tokens = _max_tokens(params, self.config)
        return LLMRequest(
            messages=[],
            tools=schemas,
            tool_choice=choice,
            temperature=params.temperature if params.temperature is not None else self.config.temperature,
            max_tokens=max_tokens if isinstance(max_tokens, int) else None,
        )

    def _speak(self, params: ResponseCreateParams) -> SpeakOptions:
        """How the response speaks: the session's voice (resolved once), or the one the response names."""
        session = self.config.session
        voice = self.config.voice
        if params.voice is not None:
            voice = self.config.resolve_voice(params.voice, session.speed, "response.voice")
        animation = session.animation.outputs if session.animation else []
        speak = SpeakOptions(
            voice=voice.name,
            output_format=params.output_audio_format or session.output_audio_format or "pcm16",
            timestamps="word" in (session.output_audio_timestamp_types or []),
            visemes="viseme_id" in animation,
            blendshapes="blendshapes" in animation,
            prosody=voice.prosody,
            first_words=self.first_words,
        )
        return dataclasses.replace(speak, **self.speak_overrides)

    async def _prepare(
        self, request: LLMRequest, items: list[Item], instructions: str, tools: _Tools
    ) -> tuple[LLMRequest, dict[str, MCPTool]]:
        """A response's request once its context is transcribed and its MCP servers listed."""
        messages = await self._context_messages(items, instructions)
        if not tools.servers:
            return dataclasses.replace(request, messages=messages), {}
        mcp = await self.mcp.tools(tools.servers)
        schemas, offered, choice = offered_tools(tools.functions, mcp, tools.choice)
        return dataclasses.replace(request, messages=messages, tools=schemas, tool_choice=choice), offered

    def _context_items(self, params: ResponseCreateParams) -> list[Item]:
        """What the model sees: the conversation, or the request's own input items."""
        replacement = params.input_items if params.input_items is not None else params.input
        items = list(replacement) if replacement is not None else list(self.conversation)
        items += params.append_input_items or []
        return [
            self.conversation.get(item.id, param="response.input") if isinstance(item, ItemReference) else item
            for item in items
        ]

    async def _context_messages(self, items: list[Item], instructions: str) -> list[Message]:
        """The chat messages of a response's context, once every audio item in it is transcribed."""
        for item in items:
            task = self.transcript(item.id or "")
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


def _max_tokens(params: ResponseCreateParams, config: SessionConfig) -> int | str | None:
    """The response's output token limit (``"inf"``: none), if the response or the session sets one."""
    return params.max_output_tokens or params.max_response_output_tokens or config.session.max_response_output_tokens
