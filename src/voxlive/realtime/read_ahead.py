"""``ReadAhead``: work on the next reply before it is asked for — drafting it at the user's pause, and reading its
prompt into the LLM's cache."""

from __future__ import annotations

import asyncio
import dataclasses

from ..protocol import InputAudioContentPart, Item, MessageItem, ProtocolError, ResponseCreateParams
from ..speech.llm import LLMRequest
from ..speech.stt import Transcript
from ..speech.tts import TTS
from .conversation import chat_messages
from .draft import Draft
from .listener import Listener
from .metrics import Telemetry
from .replies import Replies
from .response_plan import ResponsePlan, ResponsePlanner
from .tasks import log_failure
from .tool_choice import mcp_servers


class ReadAhead:
    """Drafts the reply at each pause in the user's speech (``anticipate``, when ``draft_replies``) and prefills
    the LLM with the next reply's prompt (``prefill``), whenever a reply may be prepared now."""

    def __init__(
        self,
        planner: ResponsePlanner,
        replies: Replies,
        listener: Listener,
        tts: TTS,
        telemetry: Telemetry | None,
        draft_replies: bool,
    ) -> None:
        self.planner = planner
        self.config = planner.config
        self.conversation = planner.conversation
        self.mcp = planner.mcp
        self.llm = planner.llm
        self.replies = replies
        self.listener = listener
        self.tts = tts
        self.telemetry = telemetry
        self.draft_replies = draft_replies

    def anticipate(self, item_id: str, transcript: Transcript | None) -> None:
        """Start the reply at a pause in the user's speech, from the transcript so far; it is used if the
        turn ends there with the same words, dropped if the user said more (``transcript`` is then ``None``)."""
        turn = self.replies.turn
        drafting = turn if turn is not None and turn.drafting(item_id) else None
        if transcript is not None and drafting is not None and drafting.drafted(transcript.text):
            return  # the same words again: the draft stands
        if drafting is not None and drafting.drop_draft() and self.telemetry is not None:
            self.telemetry.speculative.labels("dropped").inc()
        if transcript is None or not transcript.text.strip() or not self.draft_replies:
            return
        ahead = self._reply_ahead(_heard(item_id, transcript.text))
        if ahead is not None:
            plan, request = ahead
            draft = Draft(self.llm, request, self.tts, plan.speak)
            self.replies.turn_for(item_id).keep_draft(draft, transcript.text)

    def prefill(self, item_id: str | None = None, transcript: Transcript | None = None) -> None:
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
        if self.config.transcription_only or self.replies.response is not None:
            return None
        if settings is None or not settings.create_response:
            return None
        items = [*self.conversation, *([user] if user is not None else [])]
        if any(_untranscribed(item) for item in items):
            return None
        if self.mcp.tools_now(mcp_servers(self.config.session.tools)) is None:
            return None  # the tools the reply may use are still being listed
        try:
            plan = self.planner.plan(ResponseCreateParams())
        except ProtocolError:
            return None  # the response itself will say what is wrong
        messages = chat_messages(items, self.planner.instructions(ResponseCreateParams(), None), self.llm.vision)
        return plan, dataclasses.replace(plan.request, messages=messages)


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
