"""A real-time client for the benchmarks that talk to ``/voice-live/realtime`` like a person at a microphone.

Shared by ``latency.py`` and ``concurrency.py``: the recorded questions (``benchmarks/data``, made by
``make_questions.py``), a session that streams audio paced in real time (silence between questions, as a
microphone never stops) while a receiver timestamps every server event, one record per question asked
(client-side delays from the last speech sample sent) and a playback model that counts audio underruns.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import websockets
from common import read_wav

from voxlive.speech.audio import resample

RATE = 24_000
"""Input and output audio: pcm16 at 24 kHz."""
DATA = Path(__file__).parent / "data"

Event = tuple[float, dict[str, Any]]
"""(time.monotonic() at arrival, the server event)."""


@dataclass(frozen=True)
class Question:
    text: str
    voice: str
    speech_ms: int
    audio: np.ndarray
    """int16 at 24 kHz: the speech with a short margin each side."""
    speech_end: int
    """The sample after the last speech sample."""


def load_questions(count: int | None = None) -> list[Question]:
    """The recorded questions, in order (Piper and espeak alternate)."""
    listing = json.loads((DATA / "questions.json").read_text())
    out = []
    for entry in listing[:count]:
        audio, rate = read_wav(DATA / entry["file"])
        audio = resample(audio, rate, RATE)
        end = len(audio) - RATE * entry["margin_ms"] // 1000
        out.append(Question(entry["text"], entry["voice"], entry["speech_ms"], audio, end))
    return out


def _append(samples: np.ndarray) -> str:
    return json.dumps({"type": "input_audio_buffer.append", "audio": base64.b64encode(samples.tobytes()).decode()})


_MESSAGES: dict[tuple[str, str, int, int], list[str]] = {}  # (text, voice, audio hash, chunk) → append messages


@dataclass
class Spoken:
    """One question as it was streamed."""

    question: Question
    started: float
    """When its first chunk was sent."""
    last_speech: float
    """When the chunk holding its last speech sample was sent."""


@dataclass
class Session:
    """An open realtime session: audio goes out paced by absolute deadlines, events come in timestamped."""

    ws: websockets.ClientConnection
    chunk: int
    """Samples per ``input_audio_buffer.append``."""
    id: str = ""
    events: list[Event] = field(default_factory=list)
    by_type: dict[str, list[Event]] = field(default_factory=dict)
    lateness: list[float] = field(default_factory=list)
    """How late each chunk left after its deadline, in seconds (timer overshoot, the client falling behind)."""
    clock: float | None = None
    """When the audio stream began."""
    _sent: int = 0
    _receiver: asyncio.Task[None] | None = None

    @classmethod
    async def open(
        cls,
        url: str,
        turn_detection: dict[str, Any],
        *,
        chunk_ms: int = 40,
        instructions: str | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Session:
        """Connect, read ``session.created``, configure pcm16 at 24 kHz in and out (and ``extra`` session
        fields), wait for ``session.updated``."""
        ws = await websockets.connect(f"{url}/voice-live/realtime", max_size=None, open_timeout=60)
        session = cls(ws, RATE * chunk_ms // 1000)
        created = json.loads(await ws.recv())
        if created["type"] != "session.created":
            raise RuntimeError(f"expected session.created, got {created}")
        session.id = created["session"]["id"]
        config: dict[str, Any] = {"turn_detection": turn_detection, "input_audio_format": "pcm16",
                                  "input_audio_sampling_rate": RATE, "output_audio_format": "pcm16"}  # fmt: skip
        if instructions is not None:
            config["instructions"] = instructions
        config.update(extra or {})
        await ws.send(json.dumps({"type": "session.update", "session": config}))
        while (event := json.loads(await ws.recv()))["type"] != "session.updated":
            if event["type"] == "error":
                raise RuntimeError(f"session.update refused: {event['error']}")
        session._receiver = asyncio.create_task(session._receive())
        return session

    async def _receive(self) -> None:
        with_audio = "response.audio.delta"
        try:
            async for message in self.ws:
                now = time.monotonic()
                event = json.loads(message)
                if event["type"] == with_audio:  # keep the size, not the audio
                    delta = event.pop("delta")
                    event["bytes"] = len(delta) * 3 // 4 - delta[-2:].count("=")
                self.events.append((now, event))
                self.by_type.setdefault(event["type"], []).append((now, event))
        except websockets.ConnectionClosed:
            pass

    def of(self, kind: str, after: float = 0.0, before: float = float("inf")) -> list[Event]:
        return [(t, e) for t, e in self.by_type.get(kind, ()) if after < t < before]

    async def _send(self, messages: list[str]) -> list[float]:
        """Send chunks each once its audio is 'recorded' (absolute deadlines: no drift); the send times."""
        if self.clock is None:
            self.clock = time.monotonic()
        times = []
        for message in messages:
            self._sent += self.chunk
            deadline = self.clock + self._sent / RATE
            delay = deadline - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.ws.send(message)
            times.append(time.monotonic())
            self.lateness.append(max(0.0, times[-1] - deadline))
        return times

    def _messages(self, question: Question) -> list[str]:
        key = (question.text, question.voice, hash(question.audio.tobytes()), self.chunk)
        if key not in _MESSAGES:
            padded = np.pad(question.audio, (0, -len(question.audio) % self.chunk))
            _MESSAGES[key] = [_append(padded[i : i + self.chunk]) for i in range(0, len(padded), self.chunk)]
        return _MESSAGES[key]

    def _silence(self) -> str:
        key = ("", "", 0, self.chunk)
        if key not in _MESSAGES:
            _MESSAGES[key] = [_append(np.zeros(self.chunk, np.int16))]
        return _MESSAGES[key][0]

    async def speak(self, question: Question) -> Spoken:
        """Stream one question (its last chunk padded with silence)."""
        times = await self._send(self._messages(question))
        return Spoken(question, times[0], times[(question.speech_end - 1) // self.chunk])

    async def silence(self, seconds: float) -> None:
        chunks = max(1, round(seconds * RATE / self.chunk))
        await self._send([self._silence()] * chunks)

    async def silence_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Stream silence until ``done()`` (checked every chunk) or the timeout; whether it was done."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() >= deadline:
                return False
            await self._send([self._silence()])
        return True

    def answered(self, spoken: Spoken) -> bool:
        """A response created after the question's last speech is done."""
        created = {e["response"]["id"] for _, e in self.of("response.created", spoken.last_speech)}
        return any(e["response"]["id"] in created for _, e in self.of("response.done", spoken.last_speech))

    async def close(self) -> None:
        await self.ws.close()
        if self._receiver is not None:
            await self._receiver


def playback(deltas: list[tuple[float, int]]) -> tuple[int, float, float]:
    """(underruns, total gap ms, audio ms) of a reply that plays from its first delta's arrival.

    An underrun is a delta that arrives after everything received before it would have finished playing.
    """
    underruns, gap, end, audio = 0, 0.0, None, 0.0
    for arrival, size in deltas:
        duration = size / 2 / RATE
        if end is None:
            end = arrival
        elif arrival > end:
            underruns += 1
            gap += arrival - end
            end = arrival
        end += duration
        audio += duration
    return underruns, gap * 1000, audio * 1000


def turn_record(session: Session, spoken: Spoken, until: float) -> dict[str, Any]:
    """What happened to one question, from its first chunk to ``until`` (the next question's first chunk).

    Delays are in ms from the last speech sample sent. The answer is the first response created after it
    (a response begun earlier belongs to a turn cut inside the question).
    """
    last = spoken.last_speech

    def delay(kind: str, match: Callable[[dict[str, Any]], bool] = lambda _: True) -> float | None:
        hits = [t for t, e in session.of(kind, last, until) if match(e)]
        return (hits[0] - last) * 1000 if hits else None

    created = session.of("response.created", last, until)
    answer = created[0][1]["response"]["id"] if created else None
    own: Callable[[dict[str, Any]], bool] = lambda e: e.get("response_id") == answer  # noqa: E731
    deltas = [(t, e["bytes"]) for t, e in session.of("response.audio.delta", last, until) if own(e)]
    done = [e["response"] for _, e in session.of("response.done", last, until) if e["response"]["id"] == answer]
    underruns, gap_ms, audio_ms = playback(deltas)
    transcript = "".join(e["delta"] for _, e in session.of("response.audio_transcript.delta", last, until) if own(e))
    return {
        "question": spoken.question.text,
        "voice": spoken.question.voice,
        "session_id": session.id,
        "at_s": round(spoken.started - (session.clock or spoken.started), 3),
        "turns": len(session.of("input_audio_buffer.committed", spoken.started, until)),
        "response_id": answer,
        "status": done[0]["status"] if done else None,
        "speech_stopped_ms": delay("input_audio_buffer.speech_stopped"),
        "committed_ms": delay("input_audio_buffer.committed"),
        "response_created_ms": delay("response.created"),
        "first_transcript_ms": delay("response.audio_transcript.delta", own),
        "voice_to_voice_ms": (deltas[0][0] - last) * 1000 if deltas else None,
        "reply_audio_ms": audio_ms,
        "underruns": underruns,
        "underrun_gap_ms": gap_ms,
        "reply": transcript,
        "errors": [e.get("error", {}).get("message") for _, e in session.of("error", spoken.started, until)],
    }


def turn_records(session: Session, asked: list[Spoken], end: float) -> list[dict[str, Any]]:
    """A record per question asked in a session, each up to the next question (the last up to ``end``)."""
    ends = [spoken.started for spoken in asked[1:]] + [end]
    return [turn_record(session, spoken, until) for spoken, until in zip(asked, ends, strict=False)]


def problems(records: list[dict[str, Any]]) -> tuple[int, int]:
    """(missing: questions no reply audio answered, cut: questions split into two or more turns)."""
    missing = sum(r["voice_to_voice_ms"] is None for r in records)
    cut = sum(r["turns"] > 1 for r in records)
    return missing, cut


def values(records: list[dict[str, Any]], key: str) -> list[float]:
    return [r[key] for r in records if r.get(key) is not None]
