"""``Replies``: the assistant's replies — starting and stopping responses, and the client's playback of them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable

import numpy as np

from ..protocol import (
    MessageItem,
    ProtocolError,
    ResponseCreateParams,
    ServerEvent,
    ServerEventConversationItemTruncated,
    ServerEventOutputAudioBufferCleared,
)
from ..speech.audio import STAGE_RATE, duration_ms
from ..speech.tts import TTS
from .input_cleanup import InputCleanup
from .observer import ResponseObserver
from .response import ResponseRunner
from .response_plan import ResponsePlanner
from .turn import Turn


class Replies:
    """Holds the current ``Turn`` (the latest reply: its draft, its response, the client's playback of its audio)
    and is the one place responses start and stop. ``completed`` is called after each completed response."""

    def __init__(
        self,
        planner: ResponsePlanner,
        cleanup: InputCleanup,
        tts: TTS,
        send: Callable[[ServerEvent], None],
        completed: Callable[[], None],
        record: Callable[[ResponseRunner], None],
    ) -> None:
        self.planner = planner
        self.conversation = planner.conversation
        self.llm = planner.llm
        self.cleanup = cleanup
        self.tts = tts
        self.send = send
        self.completed = completed
        self.record = record
        """Given each response that ended, for its timings."""
        self.turn: Turn | None = None
        self.observer: ResponseObserver | None = None
        """An in-process face's view of each response (LLM text as written, spoken pieces)."""

    @property
    def response(self) -> ResponseRunner | None:
        """The response in progress, if any."""
        turn = self.turn
        return turn.runner if turn is not None and turn.answering else None

    async def create(self, params: ResponseCreateParams, additional_instructions: str | None = None) -> None:
        """Start a response (``response.create``, or the answer to a turn); one at a time."""
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
        plan = self.planner.plan(params, additional_instructions)
        plan.metrics = self.conversation.turn_to_answer()
        turn = self.turn_for(plan.metrics.item_id)
        runner = ResponseRunner(
            plan,
            self.llm,
            self.conversation,
            self.send,
            self.tts,
            lambda item_id, samples: self._audio_sent(turn, item_id, samples),
            self.observer,
        )
        turn.respond(runner).add_done_callback(lambda _: self._ended(runner))

    async def finish(self) -> None:
        """Wait for the response in progress, if any, to end."""
        active = self.response
        if active is not None and active.task is not None:
            await asyncio.wait([active.task])

    def _ended(self, runner: ResponseRunner) -> None:
        self.record(runner)
        if runner.response.status == "completed":
            self.completed()

    def cancel(self, response_id: str | None) -> None:
        """``response.cancel``: stop the response in progress (which must be ``response_id``, when given)."""
        runner = self.response
        if runner is None or self.turn is None:
            raise ProtocolError("Cancellation failed: no active response found.", code="response_cancel_not_active")
        if response_id is not None and response_id != runner.id:
            raise ProtocolError(
                f"Response '{response_id}' is not the active response ({runner.id}).",
                code="invalid_value",
                param="response_id",
            )
        self.turn.interrupt("client_cancelled")

    def turn_for(self, item_id: str | None) -> Turn:
        """The turn that answers ``item_id``: the current one when it is drafting that answer, else a new one
        (whose audio plays after the current one's)."""
        turn = self.turn
        if turn is not None and turn.drafting(item_id):
            return turn
        if turn is not None:
            turn.drop_draft()
        self.turn = Turn(item_id, turn.playing_until if turn is not None else 0.0)
        return self.turn

    # -- playback --------------------------------------------------------------------------------

    def _audio_sent(self, turn: Turn, item_id: str, samples: np.ndarray) -> None:
        """Assistant audio went out: the client plays it after what it is already playing."""
        now = time.monotonic()
        turn.audio_sent(item_id, duration_ms(len(samples), STAGE_RATE), now)
        self.cleanup.played(samples, now)

    def playback_cleared(self) -> None:
        """``output_audio_buffer.clear``: the client stopped playing the assistant's audio."""
        if self.turn is not None:
            self.turn.playback_cleared()
        self.cleanup.playback_cleared()
        self.send(ServerEventOutputAudioBufferCleared(response_id=self.response.id if self.response else None))

    def barge_in(self, truncate: bool) -> None:
        """The user started speaking: stop answering, and with ``truncate`` cut the answer to what was heard."""
        self.cleanup.playback_cleared()
        if self.turn is None:
            return
        heard = self.turn.interrupt("turn_detected")
        spoken = self.conversation.spoken.get(heard.item_id) if heard is not None else None
        if heard is None or spoken is None or not truncate:
            return  # nothing was playing, or the message is not in the conversation
        item = self.conversation.get(heard.item_id)
        assert isinstance(item, MessageItem)
        end = min(heard.audio_end_ms, spoken.duration_ms)
        self.conversation.truncate_audio(item, 0, end)
        self.send(ServerEventConversationItemTruncated(item_id=heard.item_id, content_index=0, audio_end_ms=end))

    async def close(self) -> None:
        """Stop the reply at once (the session is closing): nothing more of it is sent."""
        turn, self.turn = self.turn, None
        if turn is None:
            return
        turn.drop_draft()
        if turn.runner is not None and turn.runner.task is not None:
            turn.runner.task.cancel()
            with contextlib.suppress(BaseException):  # its end is of no interest once the session is gone
                await turn.runner.task
