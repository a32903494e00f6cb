"""``Listener``: the session's ears — input audio in; turns, committed items and transcripts out."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..protocol import (
    AudioInputTranscriptionOptions,
    ErrorDetails,
    InputAudioContentPart,
    LogProbProperties,
    MessageItem,
    ProtocolError,
    ResponseSession,
    ServerEvent,
    ServerEventConversationItemCreated,
    ServerEventConversationItemInputAudioTranscriptionCompleted,
    ServerEventConversationItemInputAudioTranscriptionDelta,
    ServerEventConversationItemInputAudioTranscriptionFailed,
    ServerEventInputAudioBufferCleared,
    ServerEventInputAudioBufferCommitted,
    ServerEventInputAudioBufferSpeechStarted,
    ServerEventInputAudioBufferSpeechStopped,
    new_id,
)
from ..speech import audio as pcm
from ..speech.smart_turn import SmartTurn
from ..speech.stt import STT, Transcript, word_logprobs
from ..speech.vad import SileroVAD
from .conversation import Conversation
from .end_of_utterance import EndOfUtterance
from .input_audio import InputAudioBuffer
from .metrics import TurnMetrics
from .tasks import log_failure, succeeded
from .turn_detector import (
    GUARDED_LOOKBACK_MS,
    SilenceStarted,
    SpeechResumed,
    SpeechStarted,
    SpeechStopped,
    TurnDetector,
    ms_to_samples,
)
from .turn_settings import TurnSettings

log = logging.getLogger(__name__)

_transcribing = 0
"""Transcriptions waiting or running, of every session."""

MIN_COMMIT_MS = 100
ARRIVALS_KEPT = 500
PARTIAL_EVERY_MS = 700
PARTIALS_YIELD_AT = 2
"""Partial transcripts are skipped while this many transcriptions (of every session) are waiting or running:
they only show words early, and under load the transcripts that end turns come first."""
TRANSCRIPTS_KEPT = 16
"""Finished transcriptions kept by item id, the newest (older items keep their transcript in the item)."""
TRAILING_MS = 100
"""Silence kept after the speech in the transcription made at a pause."""
RESUMED_MS = 400
"""Speech this long after a pause means the user said more: the reply drafted at the pause is dropped."""


@dataclass
class HeardTurn:
    """The user turn being heard: the id its item will have, and where it began."""

    item_id: str
    start: int
    job: asyncio.Task[Transcript] | None = None
    """The latest transcription of the turn so far, and the clock position its audio ends at."""
    job_end: int = 0
    speculative: asyncio.Task[Transcript] | None = None
    """The transcription that covers all the speech before the current pause."""
    hearing: asyncio.Task[float] | None = None
    """The turn model's probability, at the current pause, that the turn is complete."""
    resumed: int | None = None
    """Where speech resumed after a pause (until it has lasted ``RESUMED_MS``)."""
    transcribed_at: float | None = None
    """When the transcript at the latest pause was ready (``time.monotonic()``)."""
    partial_text: str = ""
    said: str = ""


class Listener:
    """Decodes, cleans and buffers the user's audio, detects turns, commits them and transcribes them.

    ``respond`` is called when a detected turn should be answered; ``interrupt`` when the user
    starts speaking (barge-in); ``anticipate`` with the transcript at each pause (a reply can be drafted),
    ``prefill`` with a partial one now and then while the user speaks. Transcription runs for every
    committed item (the LLM reads the transcript); the transcription events are sent only when
    ``input_audio_transcription`` is on.
    """

    def __init__(
        self,
        *,
        vad: SileroVAD,
        turn_model: SmartTurn | None = None,
        stt: Callable[[AudioInputTranscriptionOptions | None], STT],
        conversation: Conversation,
        send: Callable[[ServerEvent], None],
        respond: Callable[[], Awaitable[None]],
        interrupt: Callable[[], None],
        anticipate: Callable[[str, Transcript | None], None] = lambda item_id, transcript: None,
        prefill: Callable[[str, Transcript], None] | None = None,
        max_buffer_seconds: float = 600.0,
        max_ahead_seconds: float = 60.0,
    ) -> None:
        self.vad = vad
        self.turn_model = turn_model
        self.stt_for = stt
        self.conversation = conversation
        self.send = send
        self.respond = respond
        self.interrupt = interrupt
        self.anticipate = anticipate
        self.prefill = prefill
        """Given the transcript of the turn so far while the user speaks (the reply's prompt can be read ahead)."""
        self.buffer = InputAudioBuffer(max_buffer_seconds)
        self.max_ahead_seconds = max_ahead_seconds
        self._clock_start: float | None = None
        """When the first audio arrived: the audio clock may not run further ahead of it than ``max_ahead_seconds``."""
        self.transcripts: dict[str, asyncio.Task[Transcript]] = {}
        """Transcription of each committed audio item, by item id (the LLM waits for it)."""
        self.session: ResponseSession | None = None
        self.settings: TurnSettings | None = None
        """The session's turn detection (``None``: the client commits turns)."""
        self.detector: TurnDetector | None = None
        self.end_of_utterance: EndOfUtterance | None = None
        self.turn: HeardTurn | None = None
        self.client_turn: str | None = None
        self._resampler: pcm.StreamResampler | None = None
        self._format: tuple[str, int] | None = None
        self.cleanup: Callable[[np.ndarray, float], np.ndarray] | None = None
        """Echo cancellation and noise suppression, when the session asks for them."""
        self.agent_audible: Callable[[], bool] | None = None
        """True while the agent's voice may be heard in the input (speech must then be clearer to count)."""
        self._arrivals: deque[tuple[int, float]] = deque(maxlen=ARRIVALS_KEPT)
        """(buffer position the audio reached, when it arrived), for the latest appends."""

    # -- configuration ---------------------------------------------------------------------------

    def configure(self, session: ResponseSession) -> None:
        """Follow a new session configuration (called at start and on every update)."""
        previous = self.session
        self.session = session
        fmt = (
            session.input_audio_format or "pcm16",
            pcm.input_rate(session.input_audio_format or "pcm16", session.input_audio_sampling_rate),
        )
        if fmt != self._format:
            self._format = fmt
            self._resampler = pcm.StreamResampler(fmt[1], pcm.STAGE_RATE)
        if previous is None or session.turn_detection != previous.turn_detection:
            self._drop_turn()
            self.settings = settings = TurnSettings.of(session.turn_detection)
            self.detector = None if settings is None else TurnDetector(
                self.vad.stream(),
                threshold=settings.threshold,
                prefix_padding_ms=settings.prefix_padding_ms,
                silence_duration_ms=settings.silence_ms,
                speech_duration_ms=settings.speech_duration_ms,
                guarded=lambda: self.agent_audible is not None and self.agent_audible(),
            )  # fmt: skip
            if self.detector is not None:
                self.detector.position = self.buffer.end
            self.end_of_utterance = EndOfUtterance(settings) if settings and settings.semantic else None

    @property
    def transcription(self) -> AudioInputTranscriptionOptions | None:
        return self.session.input_audio_transcription if self.session else None

    # -- client events ---------------------------------------------------------------------------

    async def append(self, data: str, turn_id: str | None = None) -> None:
        """``input_audio_buffer.append`` / ``input_audio.turn.append``: decode, clean, buffer, detect."""
        if turn_id is not None and turn_id != self.client_turn:
            raise ProtocolError(f"No audio turn '{turn_id}' is open.", code="invalid_value", param="turn_id")
        assert self._format is not None and self._resampler is not None
        try:
            samples = pcm.decode(pcm.decode_base64(data), self._format[0])
        except pcm.AudioFormatError as exc:
            raise ProtocolError(str(exc), code="invalid_audio", param="audio") from None
        samples = self._resampler.process(samples)
        self._check_pace(len(samples))
        if self.cleanup is not None:
            samples = self.cleanup(samples, time.monotonic())
        self.buffer.append(samples)
        self._arrivals.append((self.buffer.end, time.monotonic()))
        if self.detector is not None and turn_id is None:
            for event in self.detector.process(samples):
                await self._on_turn_event(event)
            if self.turn is None:  # listening: keep only what the start of a turn may reach back to
                self.buffer.drop_before(
                    self.detector.position - self.detector.prefix - ms_to_samples(GUARDED_LOOKBACK_MS)
                )
            else:
                self._said_more(self.turn)
                self._maybe_partial()

    def _check_pace(self, samples: int) -> None:
        """Refuse audio that would put the session's audio clock too far ahead of real time."""
        now = time.monotonic()
        if self._clock_start is None:
            self._clock_start = now
        ahead = (self.buffer.end + samples) / pcm.STAGE_RATE - (now - self._clock_start)
        if ahead > self.max_ahead_seconds:
            raise ProtocolError(
                f"Audio is arriving faster than real time ({ahead:.0f} s ahead; the limit is "
                f"{self.max_ahead_seconds:.0f} s): this audio was dropped. Send it at the pace it is spoken.",
                code="audio_too_fast",
                param="audio",
            )

    async def commit(self, event_id: str | None = None) -> None:
        """``input_audio_buffer.commit``: the buffer becomes a user audio item."""
        if len(self.buffer) < ms_to_samples(MIN_COMMIT_MS):
            raise ProtocolError(
                f"Error committing input audio buffer: buffer too small. Expected at least {MIN_COMMIT_MS}ms of "
                f"audio, but buffer only has {pcm.duration_ms(len(self.buffer), pcm.STAGE_RATE)}ms of audio.",
                code="input_audio_buffer_commit_empty",
            )
        turn, self.turn = self.turn, None
        self._commit(turn.item_id if turn else new_id("item"), self.buffer.take(), None, time.monotonic())
        if self.detector is not None:
            self.detector.reset()

    def clear(self) -> None:
        """``input_audio_buffer.clear`` / ``input_audio.clear``."""
        self.buffer.clear()
        self._drop_turn()
        if self.detector is not None:
            self.detector.reset()
        self.send(ServerEventInputAudioBufferCleared())

    def turn_start(self, turn_id: str) -> None:
        if self.client_turn is not None:
            raise ProtocolError(
                f"Audio turn '{self.client_turn}' is still open.", code="invalid_value", param="turn_id"
            )
        self.client_turn = turn_id
        self.buffer.clear()
        self._drop_turn()

    async def turn_end(self, turn_id: str) -> None:
        self._check_turn(turn_id)
        self.client_turn = None
        await self.commit()
        await self.respond()

    def turn_cancel(self, turn_id: str) -> None:
        self._check_turn(turn_id)
        self.client_turn = None
        self.buffer.clear()

    def _check_turn(self, turn_id: str) -> None:
        if turn_id != self.client_turn:
            raise ProtocolError(f"No audio turn '{turn_id}' is open.", code="invalid_value", param="turn_id")

    # -- turns -----------------------------------------------------------------------------------

    async def _on_turn_event(self, event: object) -> None:
        assert self.detector is not None and self.settings is not None
        settings = self.settings
        if isinstance(event, SpeechStarted):
            self._drop_turn()
            self.turn = HeardTurn(new_id("item"), event.start)
            self.buffer.drop_before(event.start)
            self.send(
                ServerEventInputAudioBufferSpeechStarted(
                    audio_start_ms=pcm.duration_ms(event.start, pcm.STAGE_RATE), item_id=self.turn.item_id
                )
            )
            if settings.interrupt_response:
                self.interrupt()
        elif isinstance(event, SilenceStarted) and self.turn is not None and self._needs_early_transcript():
            self._pause(self.turn, event.at)
        elif isinstance(event, SpeechResumed) and self.turn is not None:
            self.turn.speculative = self.turn.hearing = None
            self.turn.resumed = event.at
            self.detector.silence_limit = ms_to_samples(settings.silence_ms)
        elif isinstance(event, SpeechStopped) and self.turn is not None:
            turn, self.turn = self.turn, None
            self.send(
                ServerEventInputAudioBufferSpeechStopped(
                    audio_end_ms=pcm.duration_ms(event.end, pcm.STAGE_RATE), item_id=turn.item_id
                )
            )
            self.detector.silence_limit = ms_to_samples(settings.silence_ms)
            self._commit(turn.item_id, self.buffer.take(turn.start), turn, self._arrival(event.end))
            if settings.create_response:
                await self.respond()

    def _needs_early_transcript(self) -> bool:
        """Whether a pause's transcript has a use: judging the end of the turn, drafting the reply, partials."""
        creates = self.settings is not None and self.settings.create_response
        return self.end_of_utterance is not None or self.transcription is not None or creates

    def _pause(self, turn: HeardTurn, at: int) -> None:
        """A pause began: have the transcript of all the speech so far ready, in case the turn ends here, and in
        the semantic modes hear with the turn model whether it does (the transcript is urgent: the reply is drafted
        from it; the turn model hears alongside)."""
        end = min(self.buffer.end, at + ms_to_samples(TRAILING_MS))  # Whisper makes up words in long silence
        turn.resumed = None
        if turn.job is None or turn.job_end < at:
            self._transcribe_turn(turn, end, urgent=True)
        assert turn.job is not None
        speculative = turn.speculative = turn.job
        speculative.add_done_callback(lambda task: self._anticipate(turn, task))
        if self.end_of_utterance is None or self.detector is None:
            return
        self.detector.silence_limit = self.end_of_utterance.undecided  # until the pause is judged
        hearing: asyncio.Task[float] | None = None
        if self.turn_model is not None:
            audio = pcm.to_float(self.buffer.audio(turn.start, end))
            hearing = turn.hearing = asyncio.ensure_future(self.turn_model.probability(audio))
        judged = asyncio.gather(speculative, *([hearing] if hearing else []), return_exceptions=True)
        judged.add_done_callback(lambda _: self._judge(turn, speculative, hearing))

    def _transcribe_turn(self, turn: HeardTurn, end: int | None = None, urgent: bool = False) -> None:
        turn.job_end = self.buffer.end if end is None else end
        turn.job = asyncio.ensure_future(self._transcribe(self.buffer.audio(turn.start, turn.job_end), urgent))
        turn.job.add_done_callback(lambda task: self._partial(turn, task))

    def _said_more(self, turn: HeardTurn) -> None:
        """Speech that resumed after a pause has lasted: the user said more, and the reply drafted at the pause
        is dropped (a short sound keeps it; the next pause's transcript then decides)."""
        detector = self.detector
        if turn.resumed is None or detector is None or detector.silence_start is not None:
            return
        if detector.position - turn.resumed >= ms_to_samples(RESUMED_MS):
            turn.resumed = None
            self.anticipate(turn.item_id, None)

    def _arrival(self, position: int) -> float:
        """When the audio at ``position`` arrived (the oldest arrival known if it is older)."""
        for end, at in self._arrivals:
            if end >= position:
                return at
        return time.monotonic()

    def _anticipate(self, turn: HeardTurn, task: asyncio.Task[Transcript]) -> None:
        """The transcript up to a pause is ready and the user is still silent: the turn may end here."""
        if turn.speculative is task:
            turn.transcribed_at = time.monotonic()
        if self.turn is turn and turn.speculative is task and not task.cancelled() and task.exception() is None:
            self.anticipate(turn.item_id, task.result())

    def _judge(self, turn: HeardTurn, task: asyncio.Task[Transcript], hearing: asyncio.Task[float] | None) -> None:
        """Semantic end of utterance: a finished thought ends the turn sooner, an unfinished one holds it."""
        stale = self.turn is not turn or turn.speculative is not task or turn.hearing is not hearing
        if task.cancelled() or task.exception() is not None or stale or self.detector is None:
            return  # the user spoke again since: the next pause is judged
        assert self.end_of_utterance is not None
        probability = None
        if hearing is not None and not hearing.cancelled() and hearing.exception() is None:
            probability = hearing.result()
        self.detector.silence_limit = self.end_of_utterance.silence_limit(task.result(), probability)
        events = self.detector.check()
        if events:
            task_ = asyncio.ensure_future(self._apply(events))
            task_.add_done_callback(log_failure)

    async def _apply(self, events: Sequence[object]) -> None:
        for event in events:
            await self._on_turn_event(event)

    def _maybe_partial(self) -> None:
        """While the user speaks, transcribe the turn so far now and then, for partial transcripts (and to read the
        reply's prompt ahead)."""
        turn = self.turn
        if turn is None or (self.transcription is None and self.prefill is None) or self.detector is None:
            return
        if self.detector.silence_start is not None or (turn.job is not None and not turn.job.done()):
            return
        if _transcribing >= PARTIALS_YIELD_AT:
            return
        if self.buffer.end - turn.job_end >= ms_to_samples(PARTIAL_EVERY_MS):
            self._transcribe_turn(turn)

    def _partial(self, turn: HeardTurn, task: asyncio.Task[Transcript]) -> None:
        """Send the words two transcripts of the turn so far agree on and that were not sent yet; while the user
        speaks, let the reply's prompt be read ahead."""
        if task.cancelled() or task.exception() is not None:
            return
        speaking = self.turn is turn and self.detector is not None and self.detector.silence_start is None
        if self.prefill is not None and speaking and task.result().text:
            self.prefill(turn.item_id, task.result())
        if self.transcription is None:
            return
        text = task.result().text
        stable = _common_word_prefix(turn.partial_text, text)
        turn.partial_text = text
        if len(stable) > len(turn.said) and stable.startswith(turn.said):
            delta, turn.said = stable[len(turn.said) :], stable
            self._delta(turn.item_id, delta)

    def _delta(self, item_id: str, text: str) -> None:
        self.send(ServerEventConversationItemInputAudioTranscriptionDelta(item_id=item_id, content_index=0, delta=text))

    # -- commit and transcription ----------------------------------------------------------------

    def _commit(self, item_id: str, audio: np.ndarray, turn: HeardTurn | None, speech_end: float) -> None:
        previous = self.conversation.last_id()
        item = MessageItem(
            id=item_id,
            object="realtime.item",
            role="user",
            status="completed",
            content=[InputAudioContentPart(transcript=None)],
        )
        self.conversation.insert(item)
        self.conversation.hold_user_audio(item_id, audio)
        if self.conversation.journal is not None:
            self.conversation.journal.recording(item_id, audio, pcm.STAGE_RATE)
        self.send(ServerEventInputAudioBufferCommitted(item_id=item_id, previous_item_id=previous))
        self.send(ServerEventConversationItemCreated(previous_item_id=previous, item=item.model_copy(deep=True)))
        self.conversation.turns.append(TurnMetrics(item_id=item_id, speech_end=speech_end, turn_end=time.monotonic()))
        if turn is not None:
            self._cancel(turn.hearing)  # the turn has ended: whether it was complete no longer matters
            if turn.job is not turn.speculative:
                self._cancel(turn.job)  # a partial transcript nobody needs any more
        if (turn is not None and turn.speculative is not None) or self.transcription is not None:
            self._start_transcript(item, turn)

    def transcript(self, item_id: str) -> asyncio.Task[Transcript] | None:
        """The transcription of a committed audio item; started now if nothing needed it before, or again if it
        did not succeed (the STT may be back)."""
        task = self.transcripts.get(item_id)
        failed = task is not None and task.done() and (task.cancelled() or task.exception() is not None)
        if (task is None or failed) and item_id in self.conversation.user_audio:
            item = self.conversation.get(item_id)
            assert isinstance(item, MessageItem)
            if task is None and all(getattr(part, "transcript", None) is not None for part in item.content):
                return None  # transcribed long ago
            task = self._start_transcript(item)
        return task

    def _start_transcript(self, item: MessageItem, turn: HeardTurn | None = None) -> asyncio.Task[Transcript]:
        """Transcribe a committed item, or take the transcript its turn already has of all its speech."""
        assert item.id is not None
        task = turn.speculative if turn is not None else None
        task = task or asyncio.ensure_future(self._transcribe(self.conversation.user_audio[item.id]))
        self.transcripts[item.id] = task
        finished = [key for key, kept in self.transcripts.items() if succeeded(kept)]
        for key in finished[:-TRANSCRIPTS_KEPT]:
            del self.transcripts[key]
        metrics = next((m for m in reversed(self.conversation.turns) if m.item_id == item.id), None)
        if metrics is not None and task.done() and turn is not None:
            metrics.transcript = turn.transcribed_at  # ready at the pause, before the turn ended
        elif metrics is not None:
            task.add_done_callback(lambda _: setattr(metrics, "transcript", time.monotonic()))
        task.add_done_callback(lambda done: self._transcribed(item, done, turn.said if turn else ""))
        return task

    async def _transcribe(self, audio: np.ndarray, urgent: bool = False) -> Transcript:
        options = self.transcription
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

    def _transcribed(self, item: MessageItem, task: asyncio.Task[Transcript], said: str) -> None:
        if task.cancelled():
            return
        assert item.id is not None
        error = task.exception()
        part = item.content[0]
        assert isinstance(part, InputAudioContentPart)
        if error is not None:
            log.error("transcription of %s failed: %s", item.id, error)
            part.transcript = ""
            self.conversation.saved(item)
            if self.transcription is not None:
                self.send(
                    ServerEventConversationItemInputAudioTranscriptionFailed(
                        item_id=item.id,
                        content_index=0,
                        error=ErrorDetails(type="server_error", code="transcription_failed", message=str(error)),
                    )
                )
            return
        transcript = task.result()
        part.transcript = transcript.text
        self.conversation.saved(item)
        if self.transcription is None:
            return
        include = self.session.include or [] if self.session else []
        logprobs = None
        if "item.input_audio_transcription.logprobs" in include:
            logprobs = [LogProbProperties.model_validate(p) for p in word_logprobs(transcript)]
        words, sent = transcript.text.split(), len(said.split())
        if len(words) > sent and len(_common_word_prefix(said, transcript.text).split()) == sent:  # the deltas end it
            self._delta(item.id, " ".join(words[sent:]))
        self.send(
            ServerEventConversationItemInputAudioTranscriptionCompleted(
                item_id=item.id,
                content_index=0,
                transcript=transcript.text,
                logprobs=logprobs,
                usage={"type": "duration", "seconds": round(transcript.duration, 3)},
            )
        )

    def _drop_turn(self) -> None:
        if self.turn is not None:
            self._cancel(self.turn.job)
            self._cancel(self.turn.hearing)
            self.anticipate(self.turn.item_id, None)
            self.turn = None

    @staticmethod
    def _cancel(task: asyncio.Future[Any] | None) -> None:
        if task is not None and not task.done():
            task.cancel()

    async def close(self, wait: float = 10.0) -> None:
        """Stop listening. Transcriptions of committed turns still running get ``wait`` seconds to finish, so the
        conversation keeps what was said."""
        self._drop_turn()
        pending = [task for task in self.transcripts.values() if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=wait)
        for task in self.transcripts.values():
            task.cancel()
        for task in self.transcripts.values():
            with contextlib.suppress(BaseException):
                await task

    def stored_audio(self, item_id: str) -> str | None:
        """A committed item's audio, base64 in the session's input format (for ``conversation.item.retrieve``)."""
        audio = self.conversation.user_audio.get(item_id)
        if audio is None or self._format is None:
            return None
        fmt, rate = self._format
        return base64.b64encode(pcm.encode(pcm.resample(audio, pcm.STAGE_RATE, rate), fmt)).decode()


def _common_word_prefix(a: str, b: str) -> str:
    """The words two transcripts share from the start."""
    same: list[str] = []
    for x, y in zip(a.split(), b.split(), strict=False):
        if x.strip(",.?!").lower() != y.strip(",.?!").lower():
            break
        same.append(y)
    return " ".join(same) + (" " if same else "")
