"""The STT stage: ``WhisperSTT`` (faster-whisper, local) and ``OpenAICompatibleSTT`` (any ``/audio/transcriptions``)."""

from __future__ import annotations

import asyncio
import itertools
import math
import os
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from . import files
from .assets import whisper_model_dir
from .audio import STAGE_RATE, to_int16
from .batching import Batches
from .offload import run_in_slot
from .remote import STAGE_TIMEOUT, Deadline, openai_client
from .scheduling import Slots


@dataclass(frozen=True, slots=True)
class TranscribedWord:
    text: str
    start: float | None
    """Seconds from the start of the audio (``None``: the recognizer gives no timings)."""
    end: float | None
    probability: float


@dataclass(frozen=True, slots=True)
class Transcript:
    text: str
    language: str | None = None
    words: tuple[TranscribedWord, ...] = field(default_factory=tuple)
    duration: float = 0.0
    """Seconds of audio transcribed."""


class STT(Protocol):
    """Speech to text for one utterance of 16 kHz float32 mono audio; ``urgent`` when the user waits for it."""

    async def load(self) -> None: ...

    async def transcribe(
        self, audio: np.ndarray, *, language: str | None = None, prompt: str | None = None, urgent: bool = False
    ) -> Transcript: ...


BATCHED_SECONDS = (0.1, 30)
"""The shortest and longest turn transcribed in a batch (the longest: Whisper's window); others run alone."""
NO_SPEECH, LOW_LOGPROB = 0.6, -1.0
"""A segment of a batch is dropped as silence when Whisper thinks it holds no speech this surely and its words
are this unlikely (faster-whisper's thresholds when it transcribes one turn)."""


@dataclass(frozen=True)
class _Turn:
    audio: np.ndarray
    language: str | None
    prompt: str | None


class WhisperSTT:
    """faster-whisper on the CPU, one model shared by every session.

    ``compute_type`` is CTranslate2's (``int8``, ``float32``); ``trim`` lets faster-whisper's Silero VAD cut the
    silence out before decoding. ``max_concurrency`` bounds the transcriptions running at once; the turns that
    arrive meanwhile wait, and the next run transcribes those with the same language and prompt as one batch
    (up to ``max_batch``, each turn in its own row; ``batches.sizes`` counts them). A turn that finds the model
    idle runs at once, alone, as does one outside ``BATCHED_SECONDS`` or of a language still to detect.
    """

    def __init__(
        self,
        model: str = "tiny.en",
        *,
        beam: int = 1,
        compute_type: str = "int8",
        trim: bool = False,
        threads: int | None = None,
        max_concurrency: int = 1,
        max_batch: int = 8,
    ) -> None:
        self.model_name = model
        self.beam = beam
        self.compute_type = compute_type
        self.trim = trim
        self.threads = threads or os.cpu_count() or 1
        self._model: Any = None
        self._pipeline: Any = None
        self.slots = Slots(max_concurrency)
        self.batches: Batches[_Turn, Transcript] = Batches(self.slots, self._transcribe_batch, max_batch)
        self._loading: asyncio.Future[None] | None = None

    @property
    def multilingual(self) -> bool:
        return not self.model_name.endswith(".en")

    async def load(self) -> None:
        if self._loading is None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._load))
        await asyncio.shield(self._loading)

    def _load(self) -> None:
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        path = whisper_model_dir(self.model_name)
        self._model = WhisperModel(str(path), device="cpu", compute_type=self.compute_type, cpu_threads=self.threads)
        self._pipeline = BatchedInferencePipeline(self._model)

    async def transcribe(
        self, audio: np.ndarray, *, language: str | None = None, prompt: str | None = None, urgent: bool = False
    ) -> Transcript:
        await self.load()
        audio = np.asarray(audio, np.float32)
        language = self._language(language)
        shortest, longest = BATCHED_SECONDS
        if self.trim or language is None or not shortest * STAGE_RATE <= len(audio) <= longest * STAGE_RATE:
            return await run_in_slot(self.slots, self._transcribe, audio, language, prompt, urgent=urgent)
        return await self.batches.submit(_Turn(audio, language, prompt or None), (language, prompt or None), urgent)

    def _language(self, language: str | None) -> str | None:
        """The language to transcribe in (``en`` for an English model), or ``None``: Whisper detects it."""
        if not self.multilingual:
            return "en"
        return language.split(",")[0].split("-")[0].lower() if language else None

    def _transcribe_batch(self, turns: list[_Turn]) -> list[Transcript]:
        """Turns of one language and prompt, each within ``BATCHED_SECONDS``: one alone as ``_transcribe`` does
        it, several as one batch of Whisper windows (one turn each)."""
        if len(turns) == 1:
            return [self._transcribe(turns[0].audio, turns[0].language, turns[0].prompt)]
        starts = np.cumsum([0, *(len(turn.audio) for turn in turns)])
        clips = [{"start": a / STAGE_RATE, "end": b / STAGE_RATE} for a, b in itertools.pairwise(starts)]
        segments, _ = self._pipeline.transcribe(
            np.concatenate([turn.audio for turn in turns]),
            language=turns[0].language,
            initial_prompt=turns[0].prompt,
            beam_size=self.beam,
            word_timestamps=True,
            clip_timestamps=clips,
            batch_size=len(turns),
        )
        frames = starts[:-1] * self._model.frames_per_second // STAGE_RATE
        parts: list[list[str]] = [[] for _ in turns]
        words: list[list[TranscribedWord]] = [[] for _ in turns]
        for segment in segments:
            if segment.no_speech_prob > NO_SPEECH and segment.avg_logprob < LOW_LOGPROB:
                continue
            index = int(np.abs(frames - segment.seek).argmin())  # the turn whose window the segment is of
            offset = clips[index]["start"]
            parts[index].append(segment.text)
            words[index] += [
                TranscribedWord(w.word.strip(), _since(w.start, offset), _since(w.end, offset), w.probability)
                for w in segment.words or []
            ]
        return [
            Transcript("".join(part).strip(), turn.language, tuple(said), len(turn.audio) / STAGE_RATE)
            for turn, part, said in zip(turns, parts, words, strict=True)
        ]

    def _transcribe(self, audio: np.ndarray, language: str | None, prompt: str | None) -> Transcript:
        segments, info = self._model.transcribe(
            audio,
            language=language or None,
            initial_prompt=prompt or None,
            beam_size=self.beam,
            word_timestamps=True,
            condition_on_previous_text=False,
            vad_filter=self.trim,
        )
        words: list[TranscribedWord] = []
        parts: list[str] = []
        for segment in segments:
            parts.append(segment.text)
            words += [TranscribedWord(w.word.strip(), w.start, w.end, w.probability) for w in segment.words or []]
        return Transcript(
            text="".join(parts).strip(),
            language=info.language,
            words=tuple(words),
            duration=len(audio) / STAGE_RATE,
        )


def _since(at: float, start: float) -> float:
    """A time of the batch's audio as seconds from the start of its turn (at ``start``)."""
    return max(0.0, round(at - start, 3))


class OpenAICompatibleSTT:
    """Transcribes through ``POST {base_url}/audio/transcriptions`` (OpenAI, a faster-whisper server, voxlive); a
    transcription gives up after ``timeout`` seconds."""

    def __init__(
        self, *, base_url: str | None, api_key: str | None, model: str = "whisper-1", timeout: float = STAGE_TIMEOUT
    ) -> None:
        self.client = openai_client(base_url, api_key, timeout)
        self.model = model
        self.timeout = timeout

    async def load(self) -> None:
        """Nothing to load: the service holds the weights."""

    async def transcribe(
        self, audio: np.ndarray, *, language: str | None = None, prompt: str | None = None, urgent: bool = False
    ) -> Transcript:
        options: dict[str, Any] = {}
        if language:
            options["language"] = language
        if prompt:
            options["prompt"] = prompt
        result = await Deadline(self.timeout).wait(
            self.client.audio.transcriptions.create(
                model=self.model,
                file=("audio.wav", files.write(to_int16(audio), STAGE_RATE, "wav")),
                response_format="verbose_json",
                timestamp_granularities=["word"],
                **options,
            )
        )
        if not isinstance(getattr(result, "text", None), str):
            raise ValueError("the service's answer is not a transcription")
        words = tuple(
            TranscribedWord(w.word.strip(), w.start, w.end, getattr(w, "probability", 1.0) or 1.0)
            for w in getattr(result, "words", None) or []
        )
        return Transcript(result.text.strip(), getattr(result, "language", None), words, len(audio) / STAGE_RATE)


def word_logprobs(transcript: Transcript) -> list[dict[str, Any]]:
    """The transcript's words as protocol log-probabilities (``token``, ``logprob``, ``bytes``)."""
    return [
        {"token": w.text, "logprob": math.log(max(w.probability, 1e-9)), "bytes": list(w.text.encode())}
        for w in transcript.words
    ]
