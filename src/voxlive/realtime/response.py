"""``ResponseRunner``: one response, from the LLM stream to the protocol's response events."""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ..protocol import (
    AudioContentPart,
    FunctionCallItem,
    InputTokenDetails,
    Item,
    MessageItem,
    OutputTokenDetails,
    Response,
    ResponseCancelledDetails,
    ResponseFailedDetails,
    ResponseFailedError,
    ResponseIncompleteDetails,
    ServerEvent,
    ServerEventConversationItemCreated,
    ServerEventResponseContentPartAdded,
    ServerEventResponseContentPartDone,
    ServerEventResponseCreated,
    ServerEventResponseDone,
    ServerEventResponseFunctionCallArgumentsDelta,
    ServerEventResponseFunctionCallArgumentsDone,
    ServerEventResponseOutputItemAdded,
    ServerEventResponseOutputItemDone,
    ServerEventResponseTextDelta,
    ServerEventResponseTextDone,
    TextContentPart,
    TokenUsage,
    new_id,
)
from ..speech.llm import (
    LLM,
    Finished,
    LLMEvent,
    LLMRequest,
    Message,
    ReasoningDelta,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStarted,
    Usage,
)
from ..speech.tts import TTS, Speech
from .conversation import Conversation
from .draft import Draft
from .metrics import TurnMetrics
from .observer import ResponseObserver
from .speaker import Speaker, SpeakOptions

log = logging.getLogger(__name__)

CancelReason = Literal["client_cancelled", "turn_detected"]


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
    prepare: Callable[[], Awaitable[list[Message]]] | None = None
    """The messages of the request, once they can be known (audio items are transcribed first)."""
    draft: Draft | None = None
    """A reply generated ahead (during the user's pause): used if it was asked exactly this request."""
    metrics: TurnMetrics = dataclasses.field(default_factory=TurnMetrics)


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
        self._calls: dict[int, FunctionCallItem] = {}
        self._usage: Usage | None = None
        self._draft: Draft | None = None
        self._prepared: tuple[str, asyncio.Task[Speech]] | None = None
        """The first piece of speech, synthesized ahead by the draft this response uses."""
        self.metrics = plan.metrics
        self.metrics.response_id = plan.response.id
        self.task: asyncio.Task[None] | None = None

    @property
    def id(self) -> str:
        return self.response.id

    def start(self) -> asyncio.Task[None]:
        self.task = asyncio.create_task(self.run(), name=f"response {self.id}")
        return self.task

    def cancel(self, reason: CancelReason) -> None:
        self.cancel_reason = reason
        if self.task is not None:
            self.task.cancel()

    async def run(self) -> None:
        self.send(ServerEventResponseCreated(response=self.response.model_copy(deep=True)))
        finish = "stop"
        try:
            async for at, event in self._llm_events():
                if self.metrics.first_token is None:
                    self.metrics.first_token = at
                if isinstance(event, TextDelta):
                    self._text(event.text, at)
                elif isinstance(event, ToolCallStarted):
                    await self._close_message("completed")
                    self._start_call(event)
                elif isinstance(event, ToolCallDelta):
                    self._call_delta(event)
                elif isinstance(event, ToolCallDone):
                    self._finish_call(event)
                elif isinstance(event, ReasoningDelta) and self.observer is not None:
                    self.observer.reasoning(self.id, event.text)
                elif isinstance(event, Usage):
                    self._usage = event
                elif isinstance(event, Finished):
                    finish = event.reason
            await self._close_message("incomplete" if finish == "length" else "completed")
        except asyncio.CancelledError:
            self._stop_drafts()
            if self.cancel_reason is None:
                if self._speaker is not None:
                    await self._speaker.cancel()
                raise  # the session is closing: nobody is listening
            await self._finish("cancelled", ResponseCancelledDetails(reason=self.cancel_reason))
            return
        except Exception as exc:
            self._stop_drafts()
            log.exception("response %s failed", self.id)
            error = ResponseFailedError(type="server_error", code="generation_error", message=str(exc))
            await self._finish("failed", ResponseFailedDetails(error=error))
            return
        if finish == "length":
            await self._finish("incomplete", ResponseIncompleteDetails(reason="max_output_tokens"))
        else:
            await self._finish("completed", None)

    async def _llm_events(self) -> AsyncIterator[tuple[float, LLMEvent]]:
        """The reply's events with their arrival times: from a draft made for this very request, or a new one."""
        if self.plan.fixed_text is not None:
            self.metrics.request = time.monotonic()
            if self.plan.fixed_text:
                yield self.metrics.request, TextDelta(self.plan.fixed_text)
            return
        request = self.plan.request
        if self.plan.prepare is not None:
            request = dataclasses.replace(request, messages=await self.plan.prepare())
        draft, self.plan.draft = self.plan.draft, None
        if draft is not None and draft.request == request:
            self.metrics.speculative = True
            if draft.speak == self.plan.speak:
                self._prepared = draft.first_piece
        else:
            if draft is not None:
                draft.cancel()
            draft = Draft(self.llm, request)
        self._draft = draft
        self.metrics.request = draft.started
        async for timed in draft.events():
            yield timed

    def _stop_drafts(self) -> None:
        for draft in (self._draft, self.plan.draft):
            if draft is not None:
                draft.cancel()

    # -- output items ----------------------------------------------------------------------------

    def _add_item(self, item: Item) -> int:
        output_index = len(self.response.output)
        self.response.output.append(item)
        self.send(
            ServerEventResponseOutputItemAdded(
                response_id=self.id, output_index=output_index, item=item.model_copy(deep=True)
            )
        )
        if self.plan.add_to_conversation:
            previous = self.conversation.insert(item)
            self.send(ServerEventConversationItemCreated(previous_item_id=previous, item=item.model_copy(deep=True)))
        return output_index

    def _item_done(self, item: Item) -> None:
        self.send(
            ServerEventResponseOutputItemDone(
                response_id=self.id, output_index=self.response.output.index(item), item=item.model_copy(deep=True)
            )
        )

    def _text(self, delta: str, at: float) -> None:
        message = self._message
        if message is None:
            message = MessageItem(
                id=new_id("item"), object="realtime.item", role="assistant", status="in_progress", content=[]
            )
            self._message = message
            self._add_item(message)
            speak = self.plan.speak
            part: TextContentPart | AudioContentPart = (
                AudioContentPart(transcript="") if speak else TextContentPart(text="")
            )
            message.content.append(part)
            self.send(ServerEventResponseContentPartAdded(**self._where(message), part=part.model_copy()))
            if speak is not None and not self._muted:
                assert self.tts is not None
                self._speaker = Speaker(
                    self.tts,
                    speak,
                    self._where(message),
                    self.send,
                    self.on_audio,
                    self.metrics,
                    self._prepared,
                    self.observer,
                )
        assert message.id is not None
        if self.observer is not None:
            self.observer.text(message.id, delta)
        if self._speaker is not None:
            self._speaker.feed(delta, at)
            return
        part = message.content[0]
        if isinstance(part, AudioContentPart):
            return  # muted: the rest is not spoken
        assert isinstance(part, TextContentPart)
        part.text += delta
        self.send(ServerEventResponseTextDelta(**self._where(message), delta=delta))

    async def mute(self) -> None:
        """Stop speaking at once and say nothing more in this response; the LLM goes on. The message keeps the
        transcript of what was spoken, and the text written after reaches only the observer."""
        speaker, message = self._speaker, self._message
        self._muted = True
        if speaker is None or message is None:
            return
        self._speaker = None
        spoken = await speaker.cancel()
        part = message.content[0]
        assert isinstance(part, AudioContentPart) and message.id is not None
        part.transcript = spoken.transcript
        if self.plan.add_to_conversation:
            self.conversation.spoken[message.id] = spoken

    def _where(self, item: Item) -> dict[str, Any]:
        assert item.id is not None
        return {
            "response_id": self.id,
            "item_id": item.id,
            "output_index": self.response.output.index(item),
            "content_index": 0,
        }

    async def _close_message(self, status: Literal["completed", "incomplete"], stop: bool = False) -> None:
        """Close the assistant message: speak the rest of it, or with ``stop`` cut the speech short."""
        message, speaker = self._message, self._speaker
        if message is None:
            return
        part = message.content[0]
        if speaker is not None:
            spoken = await (speaker.cancel() if stop else speaker.finish())
            assert isinstance(part, AudioContentPart) and message.id is not None
            part.transcript = spoken.transcript
            if self.plan.add_to_conversation:
                self.conversation.spoken[message.id] = spoken
        elif isinstance(part, TextContentPart):
            self.send(ServerEventResponseTextDone(**self._where(message), text=part.text))
        self._message = self._speaker = None
        self.send(ServerEventResponseContentPartDone(**self._where(message), part=part.model_copy()))
        message.status = status
        self._item_done(message)

    def _start_call(self, event: ToolCallStarted) -> None:
        item = FunctionCallItem(
            id=new_id("item"),
            object="realtime.item",
            name=event.name,
            call_id=event.call_id,
            arguments="",
            status="in_progress",
        )
        self._calls[event.index] = item
        self._add_item(item)

    def _call_delta(self, event: ToolCallDelta) -> None:
        item = self._calls[event.index]
        item.arguments += event.arguments
        self.send(
            ServerEventResponseFunctionCallArgumentsDelta(
                response_id=self.id,
                item_id=item.id or "",
                output_index=self.response.output.index(item),
                call_id=item.call_id,
                delta=event.arguments,
            )
        )

    def _finish_call(self, event: ToolCallDone) -> None:
        item = self._calls.pop(event.index)
        item.arguments = event.arguments
        item.status = "completed"
        self.send(
            ServerEventResponseFunctionCallArgumentsDone(
                response_id=self.id,
                item_id=item.id or "",
                output_index=self.response.output.index(item),
                call_id=item.call_id,
                name=item.name,
                arguments=item.arguments,
            )
        )
        self._item_done(item)

    # -- the end ---------------------------------------------------------------------------------

    async def _finish(self, status: Literal["completed", "cancelled", "failed", "incomplete"], details: Any) -> None:
        stop = status in ("cancelled", "failed")
        self.metrics.status = status
        await self._close_message("completed" if status == "completed" else "incomplete", stop)
        for item in list(self._calls.values()):
            item.status = "incomplete"
            self._item_done(item)
        self._calls.clear()
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
        self.send(ServerEventResponseDone(response=response.model_copy(deep=True)))
