"""``Speaker``: speaks one assistant message as it is generated, with everything an avatar needs."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..protocol import (
    ProtocolError,
    ServerEvent,
    ServerEventResponseAnimationBlendshapesDelta,
    ServerEventResponseAnimationBlendshapesDone,
    ServerEventResponseAnimationVisemeDelta,
    ServerEventResponseAnimationVisemeDone,
    ServerEventResponseAudioDelta,
    ServerEventResponseAudioDone,
    ServerEventResponseAudioTimestampDelta,
    ServerEventResponseAudioTimestampDone,
    ServerEventResponseAudioTranscriptDelta,
    ServerEventResponseAudioTranscriptDone,
    Voice,
)
from ..speech import audio as pcm
from ..speech.alignment import BlendshapeAnimator, Viseme, WordTiming
from ..speech.chunker import SentenceChunker
from ..speech.prosody import NORMAL, PITCH, RATE, VOLUME, Prosody
from ..speech.tts import TTS, Speech
from .metrics import TurnMetrics
from .observer import ResponseObserver

SLICE_MS = 160
"""The audio of one ``response.audio.delta``."""


@dataclass(frozen=True)
class SpeakOptions:
    voice: str
    output_format: str
    timestamps: bool = False
    visemes: bool = False
    blendshapes: bool = False
    prosody: Prosody = NORMAL
    min_chars: int = 40
    """A piece after the first ends at the first sentence end once it has this many characters."""
    max_chars: int = 220
    """No piece is longer (it is cut at a clause, else at a space)."""
    ahead: int = 3
    """At most this many pieces are being synthesized or waiting to be sent at once (1: one at a time)."""
    first_words: int | None = 4
    """The first piece ends after this many words (or at the first comma, whichever comes first)."""


def voice_prosody(voice: Voice | None, speed: float | None, param: str) -> Prosody:
    """How a voice's settings (Azure's SSML ``rate``, ``pitch``, ``volume``, ``temperature``) and OpenAI's
    ``speed`` ask it to speak; a value that cannot be read is a ``ProtocolError`` on ``param``."""
    factors = {}
    for scale in (RATE, PITCH, VOLUME):
        value = getattr(voice, scale.name, None)
        try:
            factors[scale.name] = 1.0 if value is None else scale.read(value)
        except ValueError as error:
            raise ProtocolError(str(error), code="invalid_value", param=f"{param}.{scale.name}") from None
    return Prosody(
        speed=(speed or 1.0) * factors["rate"],
        pitch=factors["pitch"],
        volume=factors["volume"],
        variation=getattr(voice, "temperature", None),
    )


@dataclass
class SpokenAudio:
    """What a message said aloud, as it was sent: its transcript, when each word was heard, its audio; and where
    the client stopped playing it (``end_ms``, set by a truncation), which cuts what the message holds."""

    output_format: str = "pcm16"
    transcript: str = ""
    """Everything sent (the transcript deltas together)."""
    words: list[WordTiming] = field(default_factory=list)
    """Offsets from the start of the message's audio; ``char_end`` indexes ``transcript``."""
    audio: bytearray = field(default_factory=bytearray)
    """The audio sent, in the output format."""
    end_ms: int | None = None
    """Where the client stopped playing (``None``: it heard all that was sent)."""

    @property
    def duration_ms(self) -> int:
        """How much audio was sent, to the millisecond (as the client counts it from the bytes it received)."""
        samples = len(self.audio) // _sample_bytes(self.output_format)
        return samples * 1000 // pcm.OUTPUT_RATES[self.output_format]

    @property
    def heard_transcript(self) -> str:
        """The transcript of what was heard: all of it, or the words before ``end_ms`` (by their middle)."""
        if self.end_ms is None:
            return self.transcript
        heard = [w for w in self.words if w.start_ms + w.duration_ms / 2 <= self.end_ms]
        return self.transcript[: heard[-1].char_end] if heard else ""

    @property
    def heard_audio(self) -> bytes:
        """The audio that was heard: all of it, or up to ``end_ms``."""
        if self.end_ms is None:
            return bytes(self.audio)
        samples = pcm.OUTPUT_RATES[self.output_format] * self.end_ms // 1000
        return bytes(self.audio[: samples * _sample_bytes(self.output_format)])


def _sample_bytes(output_format: str) -> int:
    return 1 if output_format.startswith("g711") else 2


_MARKUP = re.compile(r"(\*\*|__|(?<!\s)\*|\*(?!\s)|`+|^#{1,6}\s+|^\s*[-*•]\s+|^\s*>\s?)", re.MULTILINE)


def speakable(text: str) -> str:
    """A piece of an answer as it should be said: without Markdown emphasis, code ticks, headings or bullets."""
    return _MARKUP.sub("", text).strip()


def is_spoken(piece: str) -> bool:
    """Whether a piece has words to say (else its text is only passed on in the transcript)."""
    return any(ch.isalnum() for ch in speakable(piece))


def chunker_for(options: SpeakOptions) -> SentenceChunker:
    """The chunker that cuts an answer into the pieces ``options`` ask for (the first is a few words or a clause)."""
    return SentenceChunker(min(12, options.min_chars), options.min_chars, options.max_chars, options.first_words)


class StageFailed(RuntimeError):
    """A stage of a response (transcription, the language model, speech synthesis) failed; the message names the
    stage, and the response fails with it."""


async def synthesize(tts: TTS, options: SpeakOptions, piece: str, first: bool = False) -> Speech:
    """A piece spoken; the ``first`` of a reply is urgent (the user is waiting for it)."""
    try:
        return await tts.synthesize(speakable(piece), options.voice, options.prosody, urgent=first)
    except Exception as exc:
        raise StageFailed(f"Speech synthesis failed: {exc}") from exc


@dataclass
class _Piece:
    text: str
    spoken: bool
    speech: asyncio.Task[Speech] | None = None
    """Its synthesis, once started."""


class Speaker:
    """Turns streamed text into audio events for one audio content part.

    ``feed`` takes text as the LLM writes it; a ``SentenceChunker`` cuts it into pieces, the TTS
    speaks the next pieces (up to ``options.ahead``) while one is sent, and each goes out in ``SLICE_MS`` slices
    with the transcript of the words that start in it, word timestamps, visemes and blendshape
    frames, all timed from the start of the message's audio. ``on_audio(item_id, samples)`` receives
    each slice as 16 kHz int16 (the reference for echo cancellation).
    """

    def __init__(
        self,
        tts: TTS,
        options: SpeakOptions,
        where: dict[str, Any],
        send: Callable[[ServerEvent], None],
        on_audio: Callable[[str, np.ndarray], None] | None = None,
        metrics: TurnMetrics | None = None,
        prepared: tuple[str, asyncio.Task[Speech]] | None = None,
        observer: ResponseObserver | None = None,
    ) -> None:
        self.tts = tts
        self.metrics = metrics
        self._prepared = prepared
        """The first piece, already being synthesized (by a ``Draft``)."""
        self.observer = observer
        self.options = options
        self.where = where
        self.send = send
        self.on_audio = on_audio
        self.spoken = SpokenAudio(options.output_format)
        self._chunker = chunker_for(options)
        self._pieces: deque[_Piece] = deque()
        self._arrived = asyncio.Event()
        self._closed = False
        self._first = True
        """No spoken piece has been handed to the TTS yet."""
        self._done = False
        """The part's closing events are sent."""
        self._rate = pcm.OUTPUT_RATES[options.output_format]
        self._animator = BlendshapeAnimator()
        self._visemes: list[Viseme] = []
        self._worker = asyncio.create_task(self._send_loop())

    def feed(self, text: str, at: float | None = None) -> None:
        """More of the answer; ``at`` is when the LLM wrote it (``time.monotonic()``)."""
        for piece in self._chunker.feed(text):
            self._queue(piece, at)

    async def finish(self) -> SpokenAudio:
        """Speak what is left, wait until all of it is sent, and close the part's streams."""
        for piece in self._chunker.flush():
            self._queue(piece)
        self._closed = True
        self._arrived.set()
        await self._worker
        self._close()
        return self.spoken

    def halt(self) -> None:
        """Send no more audio, from now on (the closing events come with ``cancel``)."""
        self._worker.cancel()
        for piece in self._pieces:
            if piece.speech is not None:
                piece.speech.cancel()
        self._pieces.clear()
        if self._prepared is not None:
            self._prepared[1].cancel()

    async def cancel(self) -> SpokenAudio:
        """Stop at once: nothing more is sent but the closing events of what was sent. (A synthesis that failed
        is reported by ``finish``; after a cancel it no longer matters.)"""
        self.halt()
        await asyncio.wait([self._worker])
        if not self._worker.cancelled():
            self._worker.exception()
        self._close()
        return self.spoken

    # -- inside ----------------------------------------------------------------------------------

    def _queue(self, piece: str, at: float | None = None) -> None:
        """Start speaking a piece now (the TTS takes pieces in turn), or pass on text with no words."""
        if self.metrics is not None and self.metrics.first_chunk is None:
            self.metrics.first_chunk = time.monotonic() if at is None else at
        entry = _Piece(piece, is_spoken(piece))
        prepared, self._prepared = self._prepared, None
        if prepared is not None and prepared[0] == piece and entry.spoken:
            entry.speech = prepared[1]
            self._first = False
        elif prepared is not None:
            prepared[1].cancel()
        self._pieces.append(entry)
        if entry.spoken and self.observer is not None:
            self.observer.piece_queued(self.where["item_id"], piece)
        self._start_ahead()
        self._arrived.set()

    def _start_ahead(self) -> None:
        """Start synthesizing queued pieces, in order, while fewer than ``ahead`` are started and unsent."""
        started = sum(1 for piece in self._pieces if piece.speech is not None)
        for piece in self._pieces:
            if started >= self.options.ahead:
                return
            if piece.spoken and piece.speech is None:
                piece.speech = self._synthesize(piece.text)
                started += 1

    async def _send_loop(self) -> None:
        while True:
            while not self._pieces:
                if self._closed:
                    return
                self._arrived.clear()
                await self._arrived.wait()
            piece = self._pieces[0]
            if not piece.spoken:
                self._pieces.popleft()
                self._transcript(piece.text)
                continue
            if piece.speech is None:
                piece.speech = self._synthesize(piece.text)
            speech = await piece.speech
            self._pieces.popleft()
            self._send_speech(speech)
            if self.observer is not None:
                self.observer.piece_sent(self.where["item_id"], piece.text, speech)
            self._start_ahead()

    def _synthesize(self, piece: str) -> asyncio.Task[Speech]:
        first, self._first = self._first, False
        return asyncio.create_task(synthesize(self.tts, self.options, piece, first))

    def _send_speech(self, speech: Speech) -> None:
        start_ms = self.spoken.duration_ms
        base = len(self.spoken.transcript)
        separator = " " if self.spoken.transcript and not self.spoken.transcript.endswith((" ", "\n")) else ""
        base += len(separator)
        audio = pcm.resample(speech.audio, speech.sample_rate, self._rate)
        slice_samples = self._rate * SLICE_MS // 1000
        words = list(speech.words)
        text_sent = 0
        self._transcript(separator)
        for offset in range(0, max(len(audio), 1), slice_samples):
            block = audio[offset : offset + slice_samples]
            block_end_ms = (offset + len(block)) * 1000 // self._rate
            last = offset + slice_samples >= len(audio)
            heard = [w for w in words if w.start_ms < block_end_ms] if not last else words
            if heard:
                upto = len(speech.text) if last else heard[-1].char_end
                self._transcript(speech.text[text_sent:upto])
                text_sent = upto
                for word in heard:
                    at = start_ms + word.start_ms
                    self.spoken.words.append(WordTiming(word.text, at, word.duration_ms, base + word.char_end))
                    if self.options.timestamps:
                        self.send(
                            ServerEventResponseAudioTimestampDelta(
                                **self.where, audio_offset_ms=at, audio_duration_ms=word.duration_ms, text=word.text
                            )
                        )
                words = words[len(heard) :]
            elif last and text_sent < len(speech.text):
                self._transcript(speech.text[text_sent:])
            self._audio(block, start_ms, offset, speech)

    def _audio(self, block: np.ndarray, start_ms: int, offset: int, speech: Speech) -> None:
        data = pcm.encode(block, self.options.output_format)
        self.spoken.audio += data
        self.send(ServerEventResponseAudioDelta(**self.where, delta=base64.b64encode(data).decode()))
        if self.metrics is not None and self.metrics.first_audio is None:
            self.metrics.first_audio = time.monotonic()
        block_start_ms = start_ms + offset * 1000 // self._rate
        block_end_ms = start_ms + (offset + len(block)) * 1000 // self._rate
        if self.options.visemes or self.options.blendshapes:
            for viseme in speech.visemes:
                at = start_ms + viseme.offset_ms
                if block_start_ms <= at < block_end_ms:
                    self._viseme(Viseme(at, viseme.viseme_id))
        if self.options.blendshapes:
            first = self._animator.frame_index
            frames = self._animator.frames(self._visemes, block_end_ms)
            if len(frames):
                self.send(
                    ServerEventResponseAnimationBlendshapesDelta(
                        **self.where, frames=frames.tolist(), frame_index=first
                    )
                )
        if self.on_audio is not None:
            self.on_audio(self.where["item_id"], pcm.resample(block, self._rate, pcm.STAGE_RATE))

    def _viseme(self, viseme: Viseme) -> None:
        if self._visemes and self._visemes[-1].viseme_id == viseme.viseme_id:
            return
        self._visemes.append(viseme)
        if self.options.visemes:
            self.send(
                ServerEventResponseAnimationVisemeDelta(
                    **self.where, audio_offset_ms=viseme.offset_ms, viseme_id=viseme.viseme_id
                )
            )

    def _transcript(self, text: str) -> None:
        if text:
            self.spoken.transcript += text
            self.send(ServerEventResponseAudioTranscriptDelta(**self.where, delta=text))

    def _close(self) -> None:
        if self._done:
            return
        self._done = True
        where = self.where
        self.send(ServerEventResponseAudioDone(**where))
        self.send(ServerEventResponseAudioTranscriptDone(**where, transcript=self.spoken.transcript))
        if self.options.timestamps:
            self.send(ServerEventResponseAudioTimestampDone(**where))
        if self.options.visemes:
            self.send(ServerEventResponseAnimationVisemeDone(**where))
        if self.options.blendshapes:
            item = {k: where[k] for k in ("response_id", "item_id", "output_index")}
            self.send(ServerEventResponseAnimationBlendshapesDone(**item))
