"""``Listener``: the session's ears — input audio in; turns, committed items and transcripts out."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

import numpy as np

from ..protocol import (
    AudioInputTranscriptionOptions,
    ProtocolError,
    ResponseSession,
    ServerEvent,
    ServerEventConversationItemCreated,
    ServerEventInputAudioBufferCleared,
    ServerEventInputAudioBufferCommitted,
    ServerEventInputAudioBufferSpeechStarted,
    ServerEventInputAudioBufferSpeechStopped,
    new_id,
)
from ..speech import audio as pcm
from ..speech.smart_turn import SmartTurn
from ..speech.stt import STT, Transcript
from ..speech.vad import SileroVAD
from .audio_intake import AudioIntake
from .conversation import Conversation
from .end_of_utterance import EndOfUtterance
from .heard_turn import HeardTurn
from .input_audio import InputAudioBuffer
from .metrics import TurnMetrics
from .tasks import cancel, log_failure, succeeded
from .transcription import Transcriber, transcribing
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

MIN_COMMIT_MS = 100
PARTIAL_EVERY_MS = 700
PARTIALS_YIELD_AT = 2
"""Partial transcripts are skipped while this many transcriptions (of every session) are waiting or running:
they only show words early, and under load the transcripts that end turns come first."""
TRAILING_MS = 100
"""Silence kept after the speech in the transcription made at a pause."""
RESUMED_MS = 400
"""Speech this long after a pause means the user said more: the reply drafted at the pause is dropped."""


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
        self.conversation = conversation
        self.send = send
        self.respond = respond
        self.interrupt = interrupt
        self.anticipate = anticipate
        self.prefill = prefill
        """Given the transcript of the turn so far while the user speaks (the reply's prompt can be read ahead)."""
        self.buffer = InputAudioBuffer(max_buffer_seconds)
        self.intake = AudioIntake(max_ahead_seconds)
        self.transcriber = Transcriber(stt, conversation, send)
        self.session: ResponseSession | None = None
        self.settings: TurnSettings | None = None
        """The session's turn detection (``None``: the client commits turns)."""
        self.detector: TurnDetector | None = None
        self.end_of_utterance: EndOfUtterance | None = None
        self.turn: HeardTurn | None = None
        self.client_turn: str | None = None
        self.cleanup: Callable[[np.ndarray, float], np.ndarray] | None = None
        """Echo cancellation and noise suppression, when the session asks for them."""
        self.agent_audible: Callable[[], bool] | None = None
        """True while the agent's voice may be heard in the input (speech must then be clearer to count)."""

    # -- configuration ---------------------------------------------------------------------------

    def configure(self, session: ResponseSession) -> None:
        """Follow a new session configuration (called at start and on every update)."""
        previous = self.session
        self.session = self.transcriber.session = session
        self.intake.configure(session)
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

    # -- client events ---------------------------------------------------------------------------

    async def append(self, data: str, turn_id: str | None = None) -> None:
        """``input_audio_buffer.append`` / ``input_audio.turn.append``: decode, clean, buffer, detect."""
        if turn_id is not None:
            self._check_turn(turn_id)
        samples = self.intake.decode(data, self.buffer.end)
        if self.cleanup is not None:
            samples = self.cleanup(samples, time.monotonic())
        self.buffer.append(samples)
        self.intake.arrived(self.buffer.end)
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
            self._commit(turn.item_id, self.buffer.take(turn.start), turn, self.intake.arrival(event.end))
            if settings.create_response:
                await self.respond()

    def _needs_early_transcript(self) -> bool:
        """Whether a pause's transcript has a use: judging the end of the turn, drafting the reply, partials."""
        creates = self.settings is not None and self.settings.create_response
        return self.end_of_utterance is not None or self.transcriber.options is not None or creates

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
        turn.job = asyncio.ensure_future(
            self.transcriber.transcribe(self.buffer.audio(turn.start, turn.job_end), urgent)
        )
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

    def _anticipate(self, turn: HeardTurn, task: asyncio.Task[Transcript]) -> None:
        """The transcript up to a pause is ready and the user is still silent: the turn may end here."""
        if turn.speculative is task:
            turn.transcribed_at = time.monotonic()
        if self.turn is turn and turn.speculative is task and succeeded(task):
            self.anticipate(turn.item_id, task.result())

    def _judge(self, turn: HeardTurn, task: asyncio.Task[Transcript], hearing: asyncio.Task[float] | None) -> None:
        """Semantic end of utterance: a finished thought ends the turn sooner, an unfinished one holds it."""
        stale = self.turn is not turn or turn.speculative is not task or turn.hearing is not hearing
        if not succeeded(task) or stale or self.detector is None:
            return  # the user spoke again since: the next pause is judged
        assert self.end_of_utterance is not None
        probability = hearing.result() if hearing is not None and succeeded(hearing) else None
        self.detector.silence_limit = self.end_of_utterance.silence_limit(task.result(), probability)
        events = self.detector.check()
        if events:
            asyncio.ensure_future(self._apply(events)).add_done_callback(log_failure)

    async def _apply(self, events: Sequence[object]) -> None:
        for event in events:
            await self._on_turn_event(event)

    def _maybe_partial(self) -> None:
        """While the user speaks, transcribe the turn so far now and then, for partial transcripts (and to read the
        reply's prompt ahead)."""
        turn = self.turn
        if turn is None or (self.transcriber.options is None and self.prefill is None) or self.detector is None:
            return
        if self.detector.silence_start is not None or (turn.job is not None and not turn.job.done()):
            return
        if transcribing() >= PARTIALS_YIELD_AT:
            return
        if self.buffer.end - turn.job_end >= ms_to_samples(PARTIAL_EVERY_MS):
            self._transcribe_turn(turn)

    def _partial(self, turn: HeardTurn, task: asyncio.Task[Transcript]) -> None:
        """Send the words two transcripts of the turn so far agree on and that were not sent yet; while the user
        speaks, let the reply's prompt be read ahead."""
        if not succeeded(task):
            return
        speaking = self.turn is turn and self.detector is not None and self.detector.silence_start is None
        if self.prefill is not None and speaking and task.result().text:
            self.prefill(turn.item_id, task.result())
        if self.transcriber.options is None or self.transcriber.finished(turn.item_id):
            return  # the whole transcript's own event sends what no delta did
        delta = turn.new_words(task.result().text)
        if delta:
            self.transcriber.delta(turn.item_id, delta)

    # -- commit and transcription ----------------------------------------------------------------

    def _commit(self, item_id: str, audio: np.ndarray, turn: HeardTurn | None, speech_end: float) -> None:
        previous = self.conversation.last_id()
        item = self.conversation.add_user_audio(item_id, audio)
        self.send(ServerEventInputAudioBufferCommitted(item_id=item_id, previous_item_id=previous))
        self.send(ServerEventConversationItemCreated(previous_item_id=previous, item=item.model_copy(deep=True)))
        self.conversation.turns.append(TurnMetrics(item_id=item_id, speech_end=speech_end, turn_end=time.monotonic()))
        if turn is not None:
            cancel(turn.hearing)  # the turn has ended: whether it was complete no longer matters
            if turn.job is not turn.speculative:
                cancel(turn.job)  # a partial transcript nobody needs any more
        if turn is not None and turn.speculative is not None:
            self.transcriber.start(item, turn.speculative, turn.transcribed_at, turn.said)
        elif self.transcriber.options is not None:
            self.transcriber.start(item, said=turn.said if turn else "")

    def _drop_turn(self) -> None:
        if self.turn is not None:
            cancel(self.turn.job)
            cancel(self.turn.hearing)
            self.anticipate(self.turn.item_id, None)
            self.turn = None

    async def close(self, wait: float = 10.0) -> None:
        """Stop listening. Transcriptions of committed turns still running get ``wait`` seconds to finish, so the
        conversation keeps what was said."""
        self._drop_turn()
        await self.transcriber.close(wait)

    def stored_audio(self, item_id: str) -> str | None:
        """A committed item's audio, base64 in the session's input format (for ``conversation.item.retrieve``)."""
        audio = self.conversation.user_audio.get(item_id)
        return None if audio is None else self.intake.encode(audio)
