"""``MoonshineSTT``: Moonshine tiny (English, MIT licence) on onnxruntime, from the ``moonshine-voice`` wheel.

Whisper always encodes a 30 s window; Moonshine's encoder takes the audio as long as it is, so a spoken
turn of a few seconds is transcribed in tens of milliseconds. The decoder, with its key/value
cache carried from step to step, searches the ``beam`` likeliest transcripts (three by default: a fifth fewer
word errors than one, for ~40 % more time); each word's probability is the product of its tokens' probabilities.
The model gives no word timings. It tends to stop at a long pause, and to end without punctuation when the
audio ends right after the last word: so the pauses inside the speech are shortened (Silero VAD finds them)
and silence is added at the end; audio without speech gives no words. Turns are not transcribed in batches:
the exported decoder ignores its mask over the encoder's frames (a turn padded to a longer one's length is
heard differently) and a turn's scores change with the other turns beside it, so each turn runs alone, the
beams of its search being the rows of its batch.
"""

from __future__ import annotations

import asyncio
import itertools
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .assets import moonshine_dir
from .audio import STAGE_RATE
from .cpu import PRIORITY
from .offload import run_in_slot
from .scheduling import Slots
from .stt import TranscribedWord, Transcript
from .vad import FRAME_SAMPLES, SileroVAD

START, END = 1, 2
TOKENS_PER_SECOND = 13
"""The most tokens one second of speech can need (more means the decoder is repeating itself)."""
WINDOW_SECONDS = 20
"""Longer speech without a pause is transcribed in windows of at most this long, cut at the quietest moment."""
PAUSE_MS = 300
"""Pauses inside the speech are shortened to this (Moonshine tends to stop at a long one)."""
KEPT_MS = PAUSE_MS // 2
"""Silence kept each side of a piece of speech."""
ENDING_MS = 400
"""Silence after each piece: Moonshine ends a sentence (with its punctuation) when it hears one this long."""
SPEECH = 0.5
"""Silero's speech probability at or above which a frame holds speech."""
WORD_START = "\u2581"


def read_vocabulary(path: Path) -> list[str]:
    """The tokenizer's pieces by token id: each is a length (one byte, or two when the first is ≥ 128)
    followed by that many bytes of UTF-8; a zero length is an unused id."""
    data = path.read_bytes()
    pieces: list[str] = []
    at = 0
    while at < len(data):
        length = data[at]
        at += 1
        if length >= 128:
            length = data[at] * 128 + length - 128
            at += 1
        pieces.append(data[at : at + length].decode("utf-8", "replace"))
        at += length
    return pieces


class MoonshineSTT:
    """English speech to text with Moonshine tiny; one model shared by every session, calls off the event loop.

    Two transcriptions may run at once (one core each, by default); one that is not urgent (a partial
    transcript while the user speaks) pauses between decoding steps while urgent work runs."""

    multilingual = False

    def __init__(
        self, model_dir: str | Path | None = None, *, beam: int = 3, threads: int = 1, max_concurrency: int = 2
    ) -> None:
        self.model_dir = Path(model_dir) if model_dir else None
        self.beam = beam
        self.threads = threads
        self.slots = Slots(max_concurrency)
        self._loading: asyncio.Future[None] | None = None
        self._encoder: Any = None
        self._decoder: Any = None
        self._vocabulary: list[str] = []
        self._vad: SileroVAD | None = None
        self._layers: list[str] = []
        """The names of the decoder's cache tensors, without their ``past_key_values.`` prefix."""

    async def load(self) -> None:
        if self._loading is None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._load))
        await asyncio.shield(self._loading)

    def _load(self) -> None:
        import onnxruntime

        folder = self.model_dir or moonshine_dir()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        options.enable_mem_pattern = False  # a plan is kept per input shape: memory grew with every new length
        cpu = ["CPUExecutionProvider"]
        self._encoder = onnxruntime.InferenceSession(str(folder / "encoder_model.ort"), options, providers=cpu)
        self._decoder = onnxruntime.InferenceSession(str(folder / "decoder_model_merged.ort"), options, providers=cpu)
        self._vocabulary = read_vocabulary(folder / "tokenizer.bin")
        self._vad = SileroVAD()
        prefix = "past_key_values."
        self._layers = [i.name[len(prefix) :] for i in self._decoder.get_inputs() if i.name.startswith(prefix)]

    async def transcribe(
        self, audio: np.ndarray, *, language: str | None = None, prompt: str | None = None, urgent: bool = False
    ) -> Transcript:
        """``language`` must be English (or unset); Moonshine takes no prompt."""
        await self.load()
        return await run_in_slot(self.slots, self._transcribe_all, np.asarray(audio, np.float32), urgent, urgent=urgent)

    def _transcribe_all(self, audio: np.ndarray, urgent: bool) -> Transcript:
        words: list[TranscribedWord] = []
        texts: list[str] = []
        ending = np.zeros(STAGE_RATE * ENDING_MS // 1000, np.float32)
        speech = self._speech(audio)
        for window in _windows(speech) if len(speech) else []:
            text, window_words = self._transcribe(np.concatenate([window, ending]), urgent)
            texts.append(text)
            words += window_words
        return Transcript(" ".join(t for t in texts if t), "en", tuple(words), len(audio) / STAGE_RATE)

    def _speech(self, audio: np.ndarray) -> np.ndarray:
        """The speech in the audio, every pause longer than ``PAUSE_MS`` shortened to it (``KEPT_MS`` of silence
        each side of a piece of speech); nothing when no frame (Silero's 32 ms) holds speech."""
        assert self._vad is not None
        stream = self._vad.stream()
        speech = [
            stream.process(audio[i : i + FRAME_SAMPLES]) >= SPEECH
            for i in range(0, len(audio) - FRAME_SAMPLES + 1, FRAME_SAMPLES)
        ]
        frames = np.flatnonzero(speech)
        if not len(frames):
            return np.zeros(0, np.float32)
        pause = PAUSE_MS * STAGE_RATE // 1000 // FRAME_SAMPLES
        kept = KEPT_MS * STAGE_RATE // 1000
        pieces, first = [], frames[0]
        for before, after in itertools.pairwise(frames):
            if after - before > pause:
                pieces.append((first, before))
                first = after
        pieces.append((first, frames[-1]))
        kept_pieces = [audio[max(0, a * FRAME_SAMPLES - kept) : (b + 1) * FRAME_SAMPLES + kept] for a, b in pieces]
        return np.concatenate(kept_pieces)

    def _transcribe(self, audio: np.ndarray, urgent: bool) -> tuple[str, list[TranscribedWord]]:
        samples = audio[None, :]
        mask = np.ones(samples.shape, np.int64)
        (hidden,) = self._encoder.run(None, {"input_values": samples, "attention_mask": mask})
        max_tokens = math.ceil(len(audio) / STAGE_RATE * TOKENS_PER_SECOND)
        best = self._beam_search(hidden, mask, max_tokens, urgent)
        return _words([(self._vocabulary[token], logprob) for token, logprob in best])

    def _beam_search(
        self, hidden: np.ndarray, mask: np.ndarray, max_tokens: int, urgent: bool = True
    ) -> list[tuple[int, float]]:
        """The likeliest token sequence (with each token's log-probability) that ends before ``max_tokens``.

        The ``beam`` likeliest sequences go on at each step, as one batch. The search stops when the likeliest
        one still going is less likely than the ``beam`` best that ended (a sequence only loses probability as it
        grows); a sequence that never ends is taken as it is.
        """
        empty = np.zeros((1, 8, 1, 36), np.float32)
        cache = {name: empty for name in self._layers}
        live: list[_Hypothesis] = [_Hypothesis()]
        ended: list[_Hypothesis] = []
        for step in range(max_tokens):
            if not urgent:
                PRIORITY.wait_turn()
            count = len(live)
            feed = {
                "input_ids": np.array([[h.tokens[-1] if h.tokens else START] for h in live], np.int64),
                "encoder_hidden_states": np.repeat(hidden, count, 0),
                "encoder_attention_mask": np.repeat(mask, count, 0),
                "use_cache_branch": np.array([step > 0]),
                **{f"past_key_values.{name}": value for name, value in cache.items()},
            }
            logits, *present = self._decoder.run(None, feed)
            scores = logits[:, -1].astype(np.float64)
            top = scores.max(axis=1, keepdims=True)
            scores -= top + np.log(np.exp(scores - top).sum(axis=1, keepdims=True))  # log-softmax
            candidates = []
            for index, hypothesis in enumerate(live):
                for token in np.argpartition(-scores[index], self.beam)[: self.beam]:
                    candidates.append((hypothesis.score + scores[index, token], index, int(token)))
            candidates.sort(reverse=True)
            kept: list[_Hypothesis] = []
            origins: list[int] = []
            for score, index, token in candidates:
                if token == END:
                    ended.append(_Hypothesis(live[index].tokens, live[index].logprobs, score))
                elif len(kept) < self.beam:
                    parent = live[index]
                    kept.append(_Hypothesis([*parent.tokens, token], [*parent.logprobs, score - parent.score], score))
                    origins.append(index)
            ended = sorted(ended, key=_score, reverse=True)[: self.beam]
            if not kept or (len(ended) == self.beam and kept[0].score < ended[-1].score):
                break
            rows = np.array(origins)
            for name, value in zip(self._layers, present, strict=True):
                # the encoder's part of the cache is computed at the first step, the same for every sequence
                cache[name] = (value if step == 0 or ".decoder." in name else cache[name])[rows]
            live = kept
        best = max(ended or live, key=_score)
        return list(zip(best.tokens, best.logprobs, strict=True))


@dataclass
class _Hypothesis:
    tokens: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    score: float = 0.0
    """The sum of ``logprobs`` (and of the end token's, once ended)."""


def _score(hypothesis: _Hypothesis) -> float:
    return hypothesis.score


def _words(pieces: list[tuple[str, float]]) -> tuple[str, list[TranscribedWord]]:
    """The text of decoded pieces, and its words with their probabilities (no timings)."""
    words: list[tuple[str, float]] = []
    for piece, logprob in pieces:
        if piece.startswith("<") and piece.endswith(">"):
            continue
        if piece.startswith(WORD_START) or not words:
            words.append((piece.lstrip(WORD_START), logprob))
        else:
            text, total = words[-1]
            words[-1] = (text + piece, total + logprob)
    words = [(text, logprob) for text, logprob in words if text]
    return " ".join(text for text, _ in words), [TranscribedWord(t, None, None, math.exp(lp)) for t, lp in words]


def _windows(audio: np.ndarray) -> list[np.ndarray]:
    """Audio in pieces of at most ``WINDOW_SECONDS``, each cut at the quietest 100 ms of its last quarter."""
    window = WINDOW_SECONDS * STAGE_RATE
    out: list[np.ndarray] = []
    while len(audio) > window:
        tail = audio[window * 3 // 4 : window]
        step = STAGE_RATE // 10
        energy = np.convolve(tail**2, np.ones(step), "valid")[:: step // 4]
        cut = window * 3 // 4 + int(energy.argmin()) * (step // 4) + step // 2
        out.append(audio[:cut])
        audio = audio[cut:]
    out.append(audio)
    return out
