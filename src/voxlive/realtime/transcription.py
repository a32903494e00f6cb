"""``Transcriber``: transcripts of the user's committed audio items, and the transcription events about them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

import numpy as np

from ..protocol import (
    AudioInputTranscriptionOptions,
    ErrorDetails,
    InputAudioContentPart,
    LogProbProperties,
    MessageItem,
    ResponseSession,
    ServerEvent,
    ServerEventConversationItemInputAudioTranscriptionCompleted,
    ServerEventConversationItemInputAudioTranscriptionDelta,
    ServerEventConversationItemInputAudioTranscriptionFailed,
)
from ..speech import audio as pcm
from ..speech.stt import STT, Transcript, word_logprobs
from .conversation import Conversation
from .tasks import succeeded

log = logging.getLogger(__name__)

TRANSCRIPTS_KEPT = 16
"""Finished transcriptions kept by item id, the newest (older items keep their transcript in the item)."""

_transcribing = 0
"""Transcriptions waiting or running, of every session."""


def transcribing() -> int:
    """How many transcriptions (of every session) are waiting or running."""
    return _transcribing


class Transcriber:
    """Transcribes each committed audio item the LLM or the client needs the words of, with the session's
    transcription settings; the transcription events are sent only when ``input_audio_transcription`` is on."""

    def __init__(
        self,
        stt: Callable[[AudioInputTranscriptionOptions | None], STT],
        conversation: Conversation,
        send: Callable[[ServerEvent], None],
    ) -> None:
        self.stt_for = stt
        self.conversation = conversation
        self.send = send
        self.session: ResponseSession | None = None
        self.transcripts: dict[str, asyncio.Task[Transcript]] = {}
        """Transcription of each committed audio item, by item id (the LLM waits for it)."""

    @property
    def options(self) -> AudioInputTranscriptionOptions | None:
        """The session's ``input_audio_transcription`` (``None``: no transcription events)."""
        return self.session.input_audio_transcription if self.session else None

    def transcript(self, item_id: str) -> asyncio.Task[Transcript] | None:
        """The transcription of a committed audio item; started now if nothing needed it before, or again if it
        did not succeed (the STT may be back)."""
        task = self.transcripts.get(item_id)
        failed = task is not None and task.done() and not succeeded(task)
        if (task is None or failed) and item_id in self.conversation.user_audio:
            item = self.conversation.get(item_id)
            assert isinstance(item, MessageItem)
            if task is None and all(getattr(part, "transcript", None) is not None for part in item.content):
                return None  # transcribed long ago
            task = self.start(item)
        return task

    def start(
        self,
        item: MessageItem,
        ready: asyncio.Task[Transcript] | None = None,
        ready_at: float | None = None,
        said: str = "",
    ) -> asyncio.Task[Transcript]:
        """Transcribe a committed item, or take the transcription its turn already has of all its speech (``ready``,
        finished at ``ready_at``); ``said`` is what the transcription deltas already sent of it."""
        assert item.id is not None
        task = ready or asyncio.ensure_future(self.transcribe(self.conversation.user_audio[item.id]))
        self.transcripts[item.id] = task
        finished = [key for key, kept in self.transcripts.items() if succeeded(kept)]
        for key in finished[:-TRANSCRIPTS_KEPT]:
            del self.transcripts[key]
        metrics = next((m for m in reversed(self.conversation.turns) if m.item_id == item.id), None)
        if metrics is not None and task.done() and ready is not None:
            metrics.transcript = ready_at  # ready at the pause, before the turn ended
        elif metrics is not None:
            task.add_done_callback(lambda _: setattr(metrics, "transcript", time.monotonic()))
        task.add_done_callback(lambda done: self._transcribed(item, done, said))
        return task

    async def transcribe(self, audio: np.ndarray, urgent: bool = False) -> Transcript:
        """The words of 16 kHz int16 audio, with the session's transcription settings."""
        options = self.options
        prompt = options.prompt if options else None
        if options and options.phrase_list:
            prompt = ", ".join(options.phrase_list) + (f". {prompt}" if prompt else "")
        stt = self.stt_for(options)
        language = options.language if options else None
        global _transcribing
        _transcribing += 1
        try:
            return await stt.transcribe(pcm.to_float(audio), language=language, prompt=prompt, urgent=urgent)
        finally:
            _transcribing -= 1

    def finished(self, item_id: str) -> bool:
        """Whether the item's whole transcript is done: words of it heard earlier would now follow it."""
        whole = self.transcripts.get(item_id)
        return whole is not None and whole.done()

    def delta(self, item_id: str, text: str) -> None:
        self.send(ServerEventConversationItemInputAudioTranscriptionDelta(item_id=item_id, content_index=0, delta=text))

    def _transcribed(self, item: MessageItem, task: asyncio.Task[Transcript], said: str) -> None:
        if task.cancelled():
            return
        assert item.id is not None
        part = item.content[0]
        assert isinstance(part, InputAudioContentPart)
        error = task.exception()
        part.transcript = "" if error is not None else task.result().text
        self.conversation.saved(item)
        if error is not None:
            log.error("transcription of %s failed: %s", item.id, error)
        if self.options is None:
            return
        if error is not None:
            self.send(
                ServerEventConversationItemInputAudioTranscriptionFailed(
                    item_id=item.id,
                    content_index=0,
                    error=ErrorDetails(type="server_error", code="transcription_failed", message=str(error)),
                )
            )
            return
        self._completed(item.id, task.result(), said)

    def _completed(self, item_id: str, transcript: Transcript, said: str) -> None:
        """The last words not sent as deltas yet, then the whole transcript."""
        include = self.session.include or [] if self.session else []
        logprobs = None
        if "item.input_audio_transcription.logprobs" in include:
            logprobs = [LogProbProperties.model_validate(p) for p in word_logprobs(transcript)]
        words, sent = transcript.text.split(), len(said.split())
        if len(words) > sent and len(common_word_prefix(said, transcript.text).split()) == sent:  # the deltas end it
            self.delta(item_id, " ".join(words[sent:]))
        self.send(
            ServerEventConversationItemInputAudioTranscriptionCompleted(
                item_id=item_id,
                content_index=0,
                transcript=transcript.text,
                logprobs=logprobs,
                usage={"type": "duration", "seconds": round(transcript.duration, 3)},
            )
        )

    async def close(self, wait: float) -> None:
        """Give the transcriptions still running ``wait`` seconds to finish (so the conversation keeps what was
        said), then stop them."""
        pending = [task for task in self.transcripts.values() if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=wait)
        for task in self.transcripts.values():
            task.cancel()
        for task in self.transcripts.values():
            with contextlib.suppress(BaseException):
                await task


def common_word_prefix(a: str, b: str) -> str:
    """The words two transcripts share from the start."""
    same: list[str] = []
    for x, y in zip(a.split(), b.split(), strict=False):
        if x.strip(",.?!").lower() != y.strip(",.?!").lower():
            break
        same.append(y)
    return " ".join(same) + (" " if same else "")
