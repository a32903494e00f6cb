"""``ResponseRunner``: one response, from the LLM stream to the protocol's response events."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, Literal

import numpy as np

from ..protocol import (
    AudioContentPart,
    ErrorDetails,
    InputTokenDetails,
    MessageItem,
    OutputTokenDetails,
    ResponseCancelledDetails,
    ResponseFailedDetails,
    ResponseFailedError,
    ResponseIncompleteDetails,
    ServerEvent,
    ServerEventError,
    ServerEventResponseContentPartAdded,
    ServerEventResponseContentPartDone,
    ServerEventResponseCreated,
    ServerEventResponseDone,
    ServerEventResponseTextDelta,
    ServerEventResponseTextDone,
    ServerEventWarning,
    TextContentPart,
    TokenUsage,
    WarningDetails,
    new_id,
)
from ..speech.audio import OUTPUT_RATES, decode
from ..speech.llm import (
    LLM,
    Finished,
    FinishReason,
    LLMEvent,
    LLMRequest,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStarted,
    Trimmed,
    Usage,
)
from ..speech.tts import TTS, Speech
from .conversation import Conversation, chat_messages
from .draft import Draft, same_request
from .observer import ResponseObserver
from .response_output import ResponseOutput
from .response_plan import ResponsePlan
from .speaker import Speaker
from .tool_calls import ToolCalls

log = logging.getLogger(__name__)

CancelReason = Literal["client_cancelled", "turn_detected"]

FAILED = "generation_error"
"""The code of a failed response's error (in ``response.done`` and in the ``error`` event sent before it)."""


class ResponseRunner:
    """Streams one response. ``cancel`` stops the LLM at once and closes the response as cancelled."""

    def __init__(
        self,
        plan: ResponsePlan,
        llm: LLM,
        conversation: Conversation,
        send: Callable[[ServerEvent], None],
        tts: TTS | None = None,
        on_audio: Callable[[str, np.ndarray], None] | None = None,
        observer: ResponseObserver | None = None,
    ) -> None:
        self.plan = plan
        self.observer = observer
        self._muted = False
        self.response = plan.response
        self.llm = llm
        self.tts = tts
        self.on_audio = on_audio
        self._speaker: Speaker | None = None
        self.conversation = conversation
        self.send = send
        self.cancel_reason: CancelReason | None = None
        self._message: MessageItem | None = None
        self.output = ResponseOutput(plan.response, conversation, send, plan.add_to_conversation)
        self.calls = ToolCalls(plan, self.output, send)
        self._request: LLMRequest | None = None
        self._step_start = 0
        self._usage: Usage | None = None
        self._warned: set[str | None] = set()
        """The codes of the warnings sent about this response."""
        self._draft: Draft | None = None
        self._prepared: tuple[str, asyncio.Task[Speech]] | None = None
        """The first piece of speech, synthesized ahead by the draft this response uses."""
        self.metrics = plan.metrics
        self.metrics.response_id = plan.response.id
        self.task: asyncio.Task[None] | None = None
        self._started = False

    @property
    def id(self) -> str:
        return self.response.id

    def start(self) -> asyncio.Task[None]:
        self.task = asyncio.create_task(self.run(), name=f"response {self.id}")
        return self.task

    def cancel(self, reason: CancelReason) -> None:
        """Stop the response: no audio is sent from now on; it ends as cancelled (a response cancelled before it
        began is still announced, then closed at once)."""
        self.cancel_reason = reason
        if self._speaker is not None:
            self._speaker.halt()
        if self.task is not None and self._started:
            self.task.cancel()

    async def run(self) -> None:
        self._started = True
        self.send(ServerEventResponseCreated(response=self.response.model_copy(deep=True)))
        if self.cancel_reason is not None:
            self._stop_drafts()
            await self._finish("cancelled", ResponseCancelledDetails(reason=self.cancel_reason))
            return
        finish: FinishReason = "stop"
        try:
            events = self._llm_events()
            while True:
                finish = await self._step(events)
                await self._close_message("incomplete" if finish == "length" else "completed")
                if finish == "length" or not await self.calls.call_mcp_tools():
                    break
                events = self._next_step()
        except asyncio.CancelledError:
            self._stop_drafts()
            # no reason: the session is closing (the client is gone), and what was said is stored all the same
            await self._finish("cancelled", ResponseCancelledDetails(reason=self.cancel_reason or "client_cancelled"))
            return
        except Exception as exc:
            self._stop_drafts()
            log.exception("response %s failed", self.id)
            error = ResponseFailedError(type="server_error", code=FAILED, message=str(exc))
            self.send(ServerEventError(error=ErrorDetails(type="server_error", code=FAILED, message=str(exc))))
            await self._finish("failed", ResponseFailedDetails(error=error))
            return
        if finish == "length":
            await self._finish("incomplete", ResponseIncompleteDetails(reason="max_output_tokens"))
        else:
            await self._finish("completed", None)

    async def _step(self, events: AsyncIterator[tuple[float, LLMEvent]]) -> FinishReason:
        """Stream one LLM reply into the response's items; how it finished."""
        finish: FinishReason = "stop"
        async for at, event in events:
            if isinstance(event, Trimmed):
                self._warn_trimmed(event)
                continue
            if self.metrics.first_token is None:
                self.metrics.first_token = at
            if isinstance(event, TextDelta):
                self._text(event.text, at)
            elif isinstance(event, ToolCallStarted):
                await self._close_message("completed")
                self.calls.started(event)
            elif isinstance(event, ToolCallDelta):
                self.calls.delta(event)
            elif isinstance(event, ToolCallDone):
                self.calls.done(event)
            elif isinstance(event, ReasoningDelta) and self.observer is not None:
                self.observer.reasoning(self.id, event.text)
            elif isinstance(event, Usage):
                self._add_usage(event)
            elif isinstance(event, Finished):
                finish = event.reason
        return finish

    async def _llm_events(self) -> AsyncIterator[tuple[float, LLMEvent]]:
        """The reply's events with their arrival times: from a draft made for this very request, or a new one."""
        if self.plan.fixed_text is not None:
            self.metrics.request = time.monotonic()
            if self.plan.fixed_text:
                yield self.metrics.request, TextDelta(self.plan.fixed_text)
            return
        request = self.plan.request
        if self.plan.prepare is not None:
            request, self.calls.mcp_tools = await self.plan.prepare()
        self._request = request
        draft, self.plan.draft = self.plan.draft, None
        if draft is not None and same_request(draft.request, request):
            self.metrics.speculative = True
            prepared = draft.take_first_piece()
            if draft.speak == self.plan.speak:
                self._prepared = prepared
            elif prepared is not None:
                prepared[1].cancel()
        else:
            if draft is not None:
                draft.cancel()
            draft = Draft(self.llm, request)
        self._draft = draft
        self.metrics.request = draft.started
        async for timed in draft.events():
            yield timed

    def _warn_trimmed(self, trimmed: Trimmed) -> None:
        """Tell the client what the model could not read of a prompt longer than its context (once a response)."""
        warnings = []
        if trimmed.messages:
            message = (
                f"The conversation is longer than the model's context: its {trimmed.messages} oldest messages were "
                "left out of this response."
            )
            warnings.append(WarningDetails(code="conversation_trimmed", message=message))
        if trimmed.instructions_cut:
            message = "The instructions are longer than the model's context: only their start was used."
            warnings.append(WarningDetails(code="instructions_truncated", message=message))
        for warning in warnings:
            if warning.code not in self._warned:
                self._warned.add(warning.code)
                self.send(ServerEventWarning(warning=warning))

    def _next_step(self) -> AsyncIterator[tuple[float, LLMEvent]]:
        """The model goes on from the results of the MCP calls it made (after enough calls, without tools)."""
        assert self._request is not None
        done = self.response.output[self._step_start :]
        self._step_start = len(self.response.output)
        choice = "auto" if self.calls.made < self.plan.max_tool_calls else "none"
        messages = [*self._request.messages, *chat_messages([*done, *self.calls.answers], "")]
        self.calls.answers = []
        self._request = dataclasses.replace(self._request, messages=messages, tool_choice=choice)
        self._draft = Draft(self.llm, self._request)
        return self._draft.events()

    def _stop_drafts(self) -> None:
        for draft in (self._draft, self.plan.draft):
            if draft is not None:
                draft.cancel()

    def _text(self, delta: str, at: float) -> None:
        message = self._message
        if message is None:
            message = MessageItem(
                id=new_id("item"), object="realtime.item", role="assistant", status="in_progress", content=[]
            )
            self._message = message
            self.output.add(message)
            speak = self.plan.speak
            part: TextContentPart | AudioContentPart = (
                AudioContentPart(transcript="") if speak else TextContentPart(text="")
            )
            message.content.append(part)
            self.send(ServerEventResponseContentPartAdded(**self.output.where(message), part=part.model_copy()))
            if speak is not None and not self._muted:
                assert self.tts is not None and message.id is not None
                self._speaker = Speaker(
                    self.tts,
                    speak,
                    self.output.where(message),
                    self.send,
                    self.on_audio,
                    self.metrics,
                    self._prepared,
                    self.observer,
                )
                if self.plan.add_to_conversation:  # what was sent is known at every moment (for truncation)
                    self.conversation.hold_spoken(message.id, self._speaker.spoken)
        assert message.id is not None
        if self.observer is not None:
            self.observer.text(message.id, delta)
        first = message.content[0]
        if isinstance(first, AudioContentPart):
            if self._speaker is not None and not self._muted:
                self._speaker.feed(delta, at)
            return  # muted: the rest is not spoken
        assert isinstance(first, TextContentPart)
        first.text += delta
        self.send(ServerEventResponseTextDelta(**self.output.where(message), delta=delta))

    def mute(self) -> None:
        """Stop speaking at once and say nothing more in this response; the LLM goes on. The message keeps the
        transcript of what was spoken, and the text written after reaches only the observer."""
        self._muted = True
        if self._speaker is not None:
            self._speaker.halt()

    def _add_usage(self, usage: Usage) -> None:
        total = self._usage or Usage(0, 0, 0)
        self._usage = Usage(
            total.input_tokens + usage.input_tokens,
            total.output_tokens + usage.output_tokens,
            total.cached_tokens + usage.cached_tokens,
        )

    async def _close_message(self, status: Literal["completed", "incomplete"], stop: bool = False) -> None:
        """Close the assistant message: speak the rest of it, or with ``stop`` cut the speech short."""
        message, speaker = self._message, self._speaker
        if message is None:
            return
        part = message.content[0]
        if speaker is not None:
            spoken = await (speaker.cancel() if stop or self._muted else speaker.finish())
            assert isinstance(part, AudioContentPart)
            part.transcript = spoken.heard_transcript  # (cut where a truncation said the client stopped playing)
        elif isinstance(part, TextContentPart):
            self.send(ServerEventResponseTextDone(**self.output.where(message), text=part.text))
        self._message = self._speaker = None
        self.send(ServerEventResponseContentPartDone(**self.output.where(message), part=part.model_copy()))
        message.status = status
        self.output.done(message)

    # -- the end ---------------------------------------------------------------------------------

    async def _finish(self, status: Literal["completed", "cancelled", "failed", "incomplete"], details: Any) -> None:
        stop = status in ("cancelled", "failed")
        self.metrics.status = status
        await self._close_message("completed" if status == "completed" else "incomplete", stop)
        self.output.close_open()
        self.calls.clear()
        response = self.response
        response.status = status
        response.status_details = details
        usage = self._usage or Usage(0, 0, 0)
        response.usage = TokenUsage(
            total_tokens=usage.input_tokens + usage.output_tokens,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            input_token_details=InputTokenDetails(cached_tokens=usage.cached_tokens, text_tokens=usage.input_tokens),
            output_token_details=OutputTokenDetails(text_tokens=usage.output_tokens),
        )
        response.usage.input_token_details.cached_tokens_details.text_tokens = usage.cached_tokens
        self.metrics.done = time.monotonic()
        await self._store()
        self.send(ServerEventResponseDone(response=response.model_copy(deep=True)))

    async def _store(self) -> None:
        """Store the turn's timings and recordings; what the client was told is stored before it hears the end."""
        journal = self.conversation.journal
        if journal is None or not self.plan.add_to_conversation:
            return
        journal.turn(self.metrics, time.time())
        fmt = self.response.output_audio_format or "pcm16"
        for item in self.response.output:
            spoken = self.conversation.spoken.get(item.id or "")
            audio = spoken.heard_audio if spoken is not None else b""
            if audio:
                journal.recording(item.id or "", decode(audio, fmt), OUTPUT_RATES[fmt])
        await journal.flush()
