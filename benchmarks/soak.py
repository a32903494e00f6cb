"""Soak: a real ``voxlive serve`` under listening and conversing sessions for a long stretch, audio in real time.

The script starts ``voxlive serve`` on loopback with its own configuration and SQLite store (in a temporary
directory it keeps, with the server's log), and for ``--minutes``:

- ``--listening`` sessions (``server_vad``, transcription on, ``create_response`` false) stream quiet noise and,
  every 10-30 s, a spoken sentence; nothing answers them.
- ``--conversing`` sessions ask spoken questions (made at start by Piper, the project's TTS, and Debian's
  espeak-ng) and hear spoken replies. Sometimes they barge in (ask again while the reply plays), disconnect and
  resume with ``?conversation-id=`` (mid-reply or between turns; the items the server replays are checked
  against what the client had seen), or send a bad message (malformed JSON, an unknown type, a bad value),
  each of which must get an ``error`` event with the expected code.
- A third of the sessions of each kind read slowly: every 15-30 s they stop reading for 2-5 s.

Every session streams 24 kHz pcm16 in 100 ms ``input_audio_buffer.append`` chunks on its own audio clock: a
chunk leaves once its audio has been "recorded" (its deadline follows from the audio already sent), never a
fixed sleep after a send.

Reported: the server's RSS and open file descriptors every 10 s, and their slope after the warm-up (the first
20 % of the run); open sessions (``/health``) once every client has closed; errors by kind (error events nobody
provoked, bad messages unanswered, unexpected closes and their codes, responses failed or incomplete, client
tasks that failed, the server log's warnings); turns, voice-to-voice p50/p95 (end of the user's speech as sent →
first ``response.audio.delta``), reconnects, barge-ins; and whether anything was lost: every conversation read
back with ``GET /conversations/{id}`` and compared with what its client saw (item ids in order, roles, the
transcripts of completed assistant messages and of transcribed user turns).

Run: ``.venv/bin/python benchmarks/soak.py --minutes 60`` (``--listening 50``, ``--conversing 3``, ``--port``,
``--json PATH``, ``--config EXTRA.toml`` merged over the soak's own configuration, ``--seed``).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import logging
import math
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import websockets

sys.path.insert(0, str(Path(__file__).parent))
from common import RESULTS, espeak, free_port, percentile_table, piper_speech, summary

log = logging.getLogger("soak")

RATE = 24_000
CHUNK = RATE // 10
"""Samples per ``input_audio_buffer.append``: 100 ms."""
SAMPLE_EVERY_S = 10.0
WARM_UP = 0.2
"""The first fifth of the run is left out of the growth figures."""
AFTER_CLOSE_S = 75.0
"""The wait before the last sample: the server gives freed memory back a few seconds after sessions end, at most
once a minute."""
LISTEN = {"type": "server_vad", "silence_duration_ms": 500, "create_response": False}
CONVERSE = {"type": "server_vad", "silence_duration_ms": 500}
REPLY_TIMEOUT_S = 45.0
ERROR_TIMEOUT_S = 15.0
"""How long a bad message may wait for its ``error`` (a slow reader may hold it up to 5 s)."""
P_BARGE_IN, P_DROP_MID_REPLY, P_RECONNECT, P_BAD, P_BAD_LISTENING = 0.2, 0.07, 0.1, 0.2, 0.05
"""Per question (conversing) or sentence (listening)."""
QUESTIONS = [
    "What is the capital of France?",
    "How many legs does a spider have?",
    "Can you name a fruit that is yellow?",
    "What colour is the sky on a clear day?",
    "How many days are there in a week?",
    "What do bees make?",
    "Which planet is closest to the sun?",
    "What is the opposite of hot?",
]
LONG_QUESTIONS = [
    "Can you tell me a story about a dragon who learns to bake bread?",
    "Please describe a walk through a busy market early in the morning.",
]
"""Asked before a barge-in: a long reply is still being made when the user speaks over it."""
STATEMENTS = [
    "I think we should move the meeting to Thursday afternoon.",
    "The delivery arrived this morning, two boxes, both intact.",
    "Remind me to call the plumber about the kitchen sink.",
    "We sold forty tickets yesterday and expect more today.",
    "The train was ten minutes late again this morning.",
    "Please add milk, eggs and bread to the shopping list.",
]
BAD_MESSAGES: list[tuple[str, str]] = [  # (frame with {id} for its event id, the error code it must get)
    ("this is not json", "invalid_json"),
    ('{"type": "input_audio_buffer.append", "audio": ', "invalid_json"),
    ('{"type": "session.explode", "event_id": "{id}"}', "unknown_event_type"),
    ('{"type": "session.update", "event_id": "{id}", "session": {"temperature": "hot"}}', "invalid_type"),
    (
        '{"type": "session.update", "event_id": "{id}", "session": {"turn_detection": {"type": "loud"}}}',
        "invalid_value",
    ),
    ('{"type": "session.update", "event_id": "{id}", "session": {"voice": "/etc/passwd"}}', "invalid_value"),
    ('{"type": "conversation.item.delete", "event_id": "{id}", "item_id": "item_missing"}', "item_not_found"),
    (
        '{"type": "conversation.item.truncate", "event_id": "{id}", "item_id": "x", "content_index": -1, '
        '"audio_end_ms": 0}',
        "invalid_value",
    ),
    ('{"type": "response.create", "event_id": "{id}", "response": {"max_output_tokens": "lots"}}', "invalid_type"),
    ('{"type": "input_audio_buffer.append", "event_id": "{id}", "audio": "%%% not base64 %%%"}', "invalid_audio"),
]


# --- audio ------------------------------------------------------------------------------------------


def append_event(samples: np.ndarray) -> str:
    audio = base64.b64encode(samples.astype("<i2").tobytes()).decode()
    return json.dumps({"type": "input_audio_buffer.append", "audio": audio})


@dataclass(frozen=True)
class Utterance:
    """Something said, as the append events that carry it (300 ms of lead, the speech, its last chunk padded)."""

    text: str
    voice: str
    messages: tuple[str, ...]
    speech_end: int
    """The index of the message holding the last speech sample."""


def utterance(text: str, voice: str, speech: np.ndarray, noise: float, rng: np.random.Generator) -> Utterance:
    loud = np.flatnonzero(np.abs(speech.astype(np.int32)) > 500)
    speech = speech[: loud[-1] + 1] if len(loud) else speech  # the speech ends at its last audible sample
    lead = RATE * 3 // 10
    audio = np.concatenate([np.zeros(lead, np.int16), speech]).astype(np.float64)
    audio = np.pad(audio, (0, -len(audio) % CHUNK)) + rng.normal(0, noise, len(audio) + -len(audio) % CHUNK)
    samples = np.clip(audio, -32768, 32767).astype(np.int16)
    messages = tuple(append_event(samples[i : i + CHUNK]) for i in range(0, len(samples), CHUNK))
    return Utterance(text, voice, messages, (lead + len(speech) - 1) // CHUNK)


@dataclass(frozen=True)
class Material:
    questions: list[Utterance]
    long_questions: list[Utterance]
    statements: list[Utterance]
    quiet: list[str]
    """Append events of silence and faint noise (what a microphone hears in a quiet room)."""


async def make_material(seed: int) -> Material:
    """Questions and statements spoken alternately by Piper and espeak-ng (either alone if the other fails)."""
    from voxlive.speech.tts import PiperTTS

    rng = np.random.default_rng(seed)
    piper: PiperTTS | None = None
    try:
        piper = PiperTTS()
        await piper.load()
    except Exception as exc:
        log.warning("Piper is not available (%s): espeak-ng speaks every utterance", exc)
        piper = None
    has_espeak = shutil.which("espeak-ng") is not None
    if piper is None and not has_espeak:
        raise RuntimeError("neither Piper nor espeak-ng can speak the questions")

    async def say(text: str, index: int, noise: float) -> Utterance:
        if piper is not None and (index % 2 == 0 or not has_espeak):
            return utterance(text, "piper", await piper_speech(piper, text, RATE), noise, rng)
        return utterance(text, "espeak-ng", await asyncio.to_thread(espeak, text, RATE), noise, rng)

    questions = [await say(text, i, 0.0) for i, text in enumerate(QUESTIONS)]
    long_questions = [await say(text, i, 0.0) for i, text in enumerate(LONG_QUESTIONS)]
    statements = [await say(text, i, 20.0) for i, text in enumerate(STATEMENTS)]
    quiet = [append_event(np.zeros(CHUNK, np.int16))] * 4
    quiet += [append_event(np.clip(rng.normal(0, rng.uniform(5, 40), CHUNK), -32768, 32767)) for _ in range(28)]
    return Material(questions, long_questions, statements, quiet)


# --- the server -------------------------------------------------------------------------------------


def merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            merge(base[key], value)
        else:
            base[key] = value
    return base


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, float, str)):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
    raise TypeError(f"no TOML for {value!r}")


def server_config(store: Path, sessions: int, extra: str) -> str:
    """The soak's configuration (its own store, room for every session), with ``extra`` merged over it."""
    server = {"max_sessions": sessions, "max_load": 2.0}  # every session admitted, whatever the load
    config = merge({"server": server, "store": {"path": str(store)}}, tomllib.loads(extra))
    return "".join(
        f"[{section}]\n" + "".join(f"{json.dumps(k)} = {toml_value(v)}\n" for k, v in table.items())
        for section, table in config.items()
    )


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    workdir: Path

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def rss_mb(self) -> float:
        """Resident memory (NaN once the process is gone)."""
        with contextlib.suppress(OSError):
            for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def fds(self) -> int:
        """Open file descriptors (-1 once the process is gone)."""
        try:
            return len(os.listdir(f"/proc/{self.process.pid}/fd"))
        except OSError:
            return -1

    def health(self) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"{self.http}/health", timeout=10) as answer:
                return dict(json.loads(answer.read()))
        except urllib.error.HTTPError as error:
            return {"status": f"HTTP {error.code}", **json.loads(error.read() or b"{}")}

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(f"{self.http}{path}", timeout=30) as answer:
                return answer.status, json.loads(answer.read())
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode(errors="replace")
        except (OSError, ValueError) as error:
            return 0, repr(error)


def start_server(workdir: Path, config: str, port: int) -> Server:
    (workdir / "voxlive.toml").write_text(config)
    command = [sys.executable, "-m", "voxlive", "serve", "--port", str(port), "--config", str(workdir / "voxlive.toml")]
    with (workdir / "server.log").open("wb") as out:
        process = subprocess.Popen([*command, "--log-level", "warning"], stdout=out, stderr=subprocess.STDOUT)
    return Server(process, port, workdir)


def wait_healthy(server: Server, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"the server exited with {server.process.returncode}: see {server.workdir}/server.log")
        with contextlib.suppress(OSError, ValueError):
            state = server.health()
            if state.get("status") == "ready":
                return
            if state.get("status") == "failed":
                raise RuntimeError(f"the server failed to start: {state.get('error')}")
        time.sleep(0.5)
    raise TimeoutError("the server did not become healthy")


def stop_server(server: Server) -> int | None:
    server.process.terminate()
    try:
        return server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        server.process.kill()
        server.process.wait()
        return None


def server_log(path: Path) -> dict[str, Any]:
    """The warnings, errors and tracebacks the server logged, counted by message (numbers and ids masked)."""
    kinds: Counter[str] = Counter()
    for line in path.read_text(errors="replace").splitlines():
        if re.search(r"\b(WARNING|ERROR|CRITICAL)\b|Traceback", line):
            kinds[re.sub(r"\b(\w+_)?[0-9a-f]{8,}\b|\d+(\.\d+)?", "#", line.strip())[:200]] += 1
    return {"path": str(path), "lines": sum(kinds.values()), "kinds": dict(kinds.most_common(20))}


@dataclass
class Sample:
    t: float
    rss_mb: float
    fds: int
    sessions: int | None


def sample(server: Server, t: float) -> Sample:
    try:
        sessions = server.health().get("sessions")
    except (OSError, ValueError):
        sessions = None
    return Sample(round(t, 1), server.rss_mb(), server.fds(), sessions)


def growth(samples: list[Sample], warm_up_s: float) -> dict[str, Any]:
    """Least-squares slope of RSS and descriptors after the warm-up, per hour, and the change over that stretch."""
    later = [s for s in samples if s.t >= warm_up_s]
    if len(later) < 3:
        return {"after_s": warm_up_s, "samples": len(later), "note": "too few samples after the warm-up"}
    hours = np.array([s.t for s in later]) / 3600
    rss = np.array([s.rss_mb for s in later])
    fds = np.array([s.fds for s in later], float)
    return {
        "after_s": warm_up_s,
        "samples": len(later),
        "stretch_s": later[-1].t - later[0].t,
        "rss_mb": [float(rss[0]), float(rss[-1])],
        "rss_mb_per_hour": float(np.polyfit(hours, rss, 1)[0]),
        "fds": [int(fds[0]), int(fds[-1])],
        "fds_per_hour": float(np.polyfit(hours, fds, 1)[0]),
    }


# --- what the clients saw ---------------------------------------------------------------------------


def transcript_of(item: dict[str, Any]) -> str | None:
    parts = [part.get("transcript") or part.get("text") for part in item.get("content") or []]
    said = [p for p in parts if isinstance(p, str)]
    return "".join(said) if said else None


@dataclass
class Seen:
    """One item as a client knows it."""

    role: str | None
    status: str | None
    transcript: str | None = None
    final: bool = False
    """The client saw it finished: a completed assistant message in ``response.done``, a user turn's transcript."""
    heard: str = ""
    """The ``response.audio_transcript.delta`` text received for it (what the user heard, or will)."""


@dataclass
class View:
    """A conversation as its client saw it: ``conversation.item.created`` (placed after ``previous_item_id``),
    ``.deleted``, transcriptions and ``response.done``."""

    id: str | None = None
    order: list[str] = field(default_factory=list)
    items: dict[str, Seen] = field(default_factory=dict)
    anomalies: list[str] = field(default_factory=list)

    def created(self, item: dict[str, Any], previous: str | None) -> None:
        item_id = item["id"]
        if item_id in self.items:
            self.anomalies.append(f"client view: item {item_id} created twice")
            self.order.remove(item_id)
        if previous is None:
            place = 0
        elif previous in self.items:
            place = self.order.index(previous) + 1
        else:
            self.anomalies.append(f"client view: item {item_id} placed after unknown item {previous}")
            place = len(self.order)
        self.order.insert(place, item_id)
        self.items[item_id] = Seen(item.get("role"), item.get("status"), transcript_of(item))

    def deleted(self, item_id: str) -> None:
        if self.items.pop(item_id, None) is not None:
            self.order.remove(item_id)

    def heard(self, item_id: str, delta: str) -> None:
        if (seen := self.items.get(item_id)) is not None:
            seen.heard += delta

    def transcribed(self, item_id: str, transcript: str) -> None:
        if (seen := self.items.get(item_id)) is not None:
            seen.transcript, seen.final = transcript, True

    def response_done(self, response: dict[str, Any]) -> None:
        for item in response.get("output") or []:
            seen = self.items.get(item.get("id", ""))
            if seen is not None and item.get("type") == "message":
                seen.status, seen.transcript = item.get("status"), transcript_of(item)
                seen.final = item.get("status") == "completed" and response.get("status") == "completed"

    def absorb(self, replayed: list[dict[str, Any]]) -> None:
        """After a resume: the replayed items, with what the client already knew of them."""
        known = self.items
        self.order = [item["id"] for item in replayed]
        self.items = {}
        for item in replayed:
            seen = known.get(item["id"])
            if seen is None or not seen.final:
                heard = seen.heard if seen is not None else ""
                seen = Seen(item.get("role"), item.get("status"), transcript_of(item), heard=heard)
            self.items[item["id"]] = seen


def differences(view: View, stored: list[dict[str, Any]], closed: bool = True, away: bool = False) -> list[str]:
    """How ``stored`` items (the server's) differ from what the client saw, each as ``kind: detail``: items lost,
    never announced, out of order, another role or transcript; a message the client heard part of stored without
    it; and (``closed``: every session has ended) a message still ``in_progress``. ``away``: the client is
    resuming, and items after all it knew are news it missed while it was away (a reply begun as it left)."""
    ids = [item["id"] for item in stored]
    known = [n for n, i in enumerate(ids) if i in view.items]
    news = set(ids[known[-1] + 1 :] if known else ids) if away else set()
    problems = [f"lost: {i} ({view.items[i].role})" for i in view.order if i not in set(ids)]
    problems += [f"never announced: {i['id']} ({i.get('role')})" for i in stored
                 if i["id"] not in view.items and i["id"] not in news]  # fmt: skip
    common = [i for i in view.order if i in set(ids)]
    if common != [i for i in ids if i in view.items]:
        problems.append(f"order: client {common} server {[i for i in ids if i in view.items]}")
    for item in stored:
        seen, said, status = view.items.get(item["id"]), transcript_of(item), item.get("status")
        if seen is None:
            continue
        if seen.role != item.get("role"):
            problems.append(f"role: {item['id']} is {item.get('role')!r}, the client saw {seen.role!r}")
        if seen.final and seen.role == "assistant" and status != "completed":
            problems.append(f"status: {item['id']} is {status!r}, the client saw it completed")
        if seen.final and said != seen.transcript:
            problems.append(f"transcript: {item['id']} ({seen.role}) {said!r}, the client saw {seen.transcript!r}")
        if not seen.final and seen.heard and not said:
            problems.append(f"said but not stored: {item['id']} ({status}) has no transcript; the client heard "
                            f"{seen.heard[:60]!r}")  # fmt: skip
        if closed and status == "in_progress":
            problems.append(f"still in_progress: {item['id']} ({seen.role}) after its session closed")
    return problems


# --- counts -----------------------------------------------------------------------------------------


@dataclass
class Tally:
    """Everything counted over the run, by every client."""

    unprovoked_errors: Counter[str] = field(default_factory=Counter)
    error_samples: list[str] = field(default_factory=list)
    bad_sent: int = 0
    bad_answered: int = 0
    bad_wrong: Counter[str] = field(default_factory=Counter)
    bad_unanswered: int = 0
    closes: Counter[str] = field(default_factory=Counter)
    responses: Counter[str] = field(default_factory=Counter)
    """``status`` or ``status/reason`` of every ``response.done``."""
    unexpected_responses: int = 0
    """Responses in listening sessions (``create_response`` is false there)."""
    failures: Counter[str] = field(default_factory=Counter)
    failure_samples: list[str] = field(default_factory=list)
    questions: int = 0
    unanswered: int = 0
    turns: list[dict[str, Any]] = field(default_factory=list)
    v2v_ms: list[float] = field(default_factory=list)
    v2v_slow_read: int = 0
    listening_spoken: int = 0
    listening_committed: int = 0
    transcriptions: Counter[str] = field(default_factory=Counter)
    reconnects: Counter[str] = field(default_factory=Counter)
    barge_ins: int = 0
    barge_outcomes: Counter[str] = field(default_factory=Counter)
    barge_too_late: int = 0
    replay_problems: list[dict[str, Any]] = field(default_factory=list)
    slow_pauses: int = 0
    chunks: int = 0
    late_chunks: int = 0
    """Chunks sent more than 50 ms after their deadline (the client falling behind real time)."""
    latest_chunk_ms: float = 0.0
    began: float = field(default_factory=time.monotonic)
    """When the run began (the turns' ``t_s`` count from it)."""

    def failure(self, where: str, exc: BaseException) -> None:
        kind = f"{where}: {type(exc).__name__}"
        self.failures[kind] += 1
        if len(self.failure_samples) < 20:
            self.failure_samples.append(f"{kind}: {exc}"[:300])
        trace = self.failures[kind] <= 3 and not isinstance(exc, (OSError, websockets.ConnectionClosed))
        log.warning("%s failed: %r", where, exc, exc_info=exc if trace else None)  # the first few with a traceback

    def chunk_sent(self, late_s: float) -> None:
        self.chunks += 1
        self.late_chunks += late_s > 0.05
        self.latest_chunk_ms = max(self.latest_chunk_ms, late_s * 1000)


# --- one connection ---------------------------------------------------------------------------------


@dataclass
class Reply:
    id: str
    created: float
    first_audio: float | None = None
    played_until: float | None = None
    """When its audio, played from its first delta at real time, would end."""
    status: str | None = None


class Link:
    """One WebSocket connection of a client: audio out on its own clock, events in (paused while reading slowly)."""

    def __init__(self, ws: websockets.ClientConnection, client: Client) -> None:
        self.ws = ws
        self.client = client
        self.tally = client.tally
        self.conversation_id: str | None = None
        self.replay: list[dict[str, Any]] = []
        self.ready: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.replies: dict[str, Reply] = {}
        self.interrupted: dict[str, float] = {}
        """Replies the user spoke over, and when that speech began to be sent."""
        self.speech_started: list[float] = []
        self.expected: dict[str, asyncio.Future[str]] = {}
        """Bad messages waiting for their error, by event id (``""``: malformed JSON, which has none)."""
        self.reading = asyncio.Event()
        self.reading.set()
        self.pauses: list[tuple[float, float]] = []
        self.closing = False
        self.dropped: str | None = None
        self.clock: float | None = None
        self.sent = 0
        self.receiver = asyncio.create_task(self._receive())
        self.slow: asyncio.Task[None] | None = None

    async def _receive(self) -> None:
        try:
            while True:
                await self.reading.wait()
                message = await self.ws.recv()
                try:
                    self._handle(time.monotonic(), json.loads(message))
                except Exception as exc:
                    self.tally.failure(f"{self.client.name} event handling", exc)
        except websockets.ConnectionClosed as exc:
            if not self.closing:
                code = exc.rcvd.code if exc.rcvd is not None else 1006
                self.dropped = f"{code} {exc.rcvd.reason if exc.rcvd is not None else '(no close frame)'}".strip()
                self.tally.closes[self.dropped] += 1
                log.warning("%s: the server closed the connection: %s", self.client.name, self.dropped)
        finally:
            if not self.ready.done():
                self.ready.set_exception(ConnectionError(f"closed before session.updated ({self.dropped})"))
            for waiting in self.expected.values():
                waiting.cancel()

    def _handle(self, now: float, event: dict[str, Any]) -> None:
        kind, view = event.get("type"), self.client.view
        if kind == "conversation.created":
            self.conversation_id = event["conversation"]["id"]
        elif kind == "conversation.item.created":
            if not self.ready.done():
                self.replay.append(event["item"])
            else:
                view.created(event["item"], event.get("previous_item_id"))
        elif kind == "session.updated" and not self.ready.done():
            self.client.opened(self)
            self.ready.set_result(None)
        elif kind == "response.audio_transcript.delta":
            view.heard(event.get("item_id", ""), event.get("delta", ""))
        elif kind == "conversation.item.deleted":
            view.deleted(event["item_id"])
        elif kind == "conversation.item.input_audio_transcription.completed":
            view.transcribed(event["item_id"], event.get("transcript") or "")
            self.tally.transcriptions["completed"] += 1
        elif kind == "conversation.item.input_audio_transcription.failed":
            self.tally.transcriptions["failed"] += 1
        elif kind == "input_audio_buffer.committed" and not self.client.conversing:
            self.tally.listening_committed += 1
        elif kind == "input_audio_buffer.speech_started" and self.client.conversing:
            self.speech_started = [*self.speech_started[-9:], now]
        elif kind == "response.created":
            self.replies[event["response"]["id"]] = Reply(event["response"]["id"], now)
            self.tally.unexpected_responses += not self.client.conversing
        elif kind == "response.audio.delta" and (reply := self.replies.get(event.get("response_id", ""))):
            seconds = len(event.get("delta", "")) * 3 / 4 / 2 / RATE
            reply.first_audio = reply.first_audio or now
            reply.played_until = max(reply.played_until or now, now) + seconds
        elif kind == "response.done":
            response = event["response"]
            status = response.get("status") or "?"
            reason = (response.get("status_details") or {}).get("reason")
            self.tally.responses[f"{status}/{reason}" if reason else status] += 1
            if (reply := self.replies.get(response.get("id", ""))) is not None:
                reply.status = status
                if (spoke := self.interrupted.get(reply.id)) is not None:
                    self.tally.barge_outcomes[self._barge_outcome(status, reason, spoke)] += 1
            view.response_done(response)
        elif kind == "error":
            self._error(event.get("error") or {})

    def _barge_outcome(self, status: str, reason: str | None, spoke: float) -> str:
        if status != "completed":
            return f"{status}/{reason}" if reason else status
        if any(t > spoke for t in self.speech_started):  # events arrive in order: the server had heard it
            return "completed though the barge-in was heard first"
        return "completed before the barge-in was heard"

    def _error(self, error: dict[str, Any]) -> None:
        code, event_id = error.get("code") or error.get("type") or "?", error.get("event_id")
        waiting = self.expected.pop(event_id, None) if event_id else None
        if waiting is None and code == "invalid_json":
            waiting = self.expected.pop("", None)
        if waiting is not None and not waiting.done():
            waiting.set_result(code)
            return
        self.tally.unprovoked_errors[code] += 1
        if len(self.tally.error_samples) < 20:
            self.tally.error_samples.append(f"{self.client.name}: {code}: {error.get('message')}"[:300])

    async def send_audio(self, messages: Sequence[str]) -> list[float]:
        """Send each chunk once its audio is 'recorded' (absolute deadlines: no drift); when each left."""
        if self.clock is None:
            self.clock = time.monotonic()
        times = []
        for message in messages:
            self.sent += CHUNK
            deadline = self.clock + self.sent / RATE
            if (delay := deadline - time.monotonic()) > 0:
                await asyncio.sleep(delay)
            await self.ws.send(message)
            times.append(time.monotonic())
            self.tally.chunk_sent(times[-1] - deadline)
        return times

    async def speak(self, said: Utterance) -> float:
        """Stream an utterance; when the chunk holding its last speech sample left."""
        return (await self.send_audio(said.messages))[said.speech_end]

    async def idle(self, seconds: float) -> None:
        quiet = self.client.material.quiet
        await self.send_audio([self.client.rng.choice(quiet) for _ in range(max(1, round(seconds * 10)))])

    async def idle_until(self, done: Callable[[], bool], timeout: float) -> bool:
        """Stream quiet until ``done()`` (checked every chunk) or the timeout; whether it was done."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() >= deadline or self.dropped:
                return False
            await self.idle(0.1)
        return True

    def reply_to(self, last_speech: float) -> Reply | None:
        """The first response created after the user's last speech sample was sent."""
        return next((r for r in self.replies.values() if r.created > last_speech), None)

    async def send_bad(self) -> None:
        """A bad message; it must get an ``error`` with the expected code while the audio goes on."""
        frame, code = self.client.rng.choice(BAD_MESSAGES)
        event_id = f"bad_{self.client.name}_{self.tally.bad_sent}" if "{id}" in frame else ""
        waiting = self.expected[event_id] = asyncio.get_running_loop().create_future()
        self.tally.bad_sent += 1
        await self.ws.send(frame.replace("{id}", event_id))
        await self.idle_until(waiting.done, ERROR_TIMEOUT_S)
        if not waiting.done() or waiting.cancelled():
            self.expected.pop(event_id, None)
            self.tally.bad_unanswered += not self.dropped
        elif waiting.result() == code:
            self.tally.bad_answered += 1
        else:
            self.tally.bad_wrong[f"{frame[:60]} → {waiting.result()} (expected {code})"] += 1

    async def read_slowly(self) -> None:
        rng = self.client.rng
        while True:
            await asyncio.sleep(rng.uniform(15, 30))
            began = time.monotonic()
            self.reading.clear()
            try:
                await asyncio.sleep(rng.uniform(2, 5))
            finally:
                self.reading.set()
                self.pauses.append((began, time.monotonic()))
                self.tally.slow_pauses += 1

    def paused_between(self, start: float, end: float) -> bool:
        return any(began < end and ended > start for began, ended in self.pauses)

    async def close(self) -> None:
        if self.closing:
            return
        self.closing = True
        if self.slow is not None:
            self.slow.cancel()
        self.reading.set()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.ws.close(), 10)
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.receiver, 10)


# --- one client -------------------------------------------------------------------------------------


class Client:
    """A listening or conversing user: one conversation, over as many connections as it takes."""

    def __init__(self, name: str, conversing: bool, slow: bool, server: Server, material: Material, tally: Tally,
                 seed: int) -> None:  # fmt: skip
        self.name, self.conversing, self.slow = name, conversing, slow
        self.server, self.material, self.tally = server, material, tally
        self.rng = random.Random(seed)
        self.view = View()
        self.abandoned: list[View] = []
        """Conversations a resume did not continue (checked at the end like the current one)."""
        self.spoken = self.rng.randrange(100)

    def next_question(self, long: bool = False) -> Utterance:
        self.spoken += 1
        asked = self.material.long_questions if long else self.material.questions
        return asked[self.spoken % len(asked)]

    def next_statement(self) -> Utterance:
        self.spoken += 1
        return self.material.statements[self.spoken % len(self.material.statements)]

    def session(self) -> dict[str, Any]:
        config: dict[str, Any] = {"input_audio_format": "pcm16", "input_audio_sampling_rate": RATE,
                                  "output_audio_format": "pcm16", "turn_detection": CONVERSE}  # fmt: skip
        if not self.conversing:
            config |= {"turn_detection": LISTEN, "input_audio_transcription": {"model": "whisper-1"}}
        return config

    async def connect(self) -> Link:
        resume = self.view.id
        query = f"?conversation-id={resume}" if resume else ""
        ws = await websockets.connect(f"{self.server.ws}/voice-live/realtime{query}", max_size=None, open_timeout=60)
        link = Link(ws, self)
        try:
            await ws.send(json.dumps({"type": "session.update", "event_id": "setup", "session": self.session()}))
            await asyncio.wait_for(asyncio.shield(link.ready), 60)
        except BaseException:
            await link.close()
            raise
        if self.slow:
            link.slow = asyncio.create_task(link.read_slowly())
        return link

    def opened(self, link: Link) -> None:
        """The session is configured: on a resume, check the replayed items against what this client saw."""
        resume = self.view.id
        if resume is None:
            self.view.id = link.conversation_id
            if link.replay:
                self.view.anomalies.append(f"client view: a new conversation replayed {len(link.replay)} items")
            return
        if link.conversation_id != resume:
            problems = [f"not resumed: a new conversation {link.conversation_id}"]
            self.abandoned.append(self.view)
            self.view = View(link.conversation_id)
        else:
            problems = differences(self.view, link.replay, away=True)
        if problems:
            self.tally.replay_problems.append({"client": self.name, "conversation": resume, "problems": problems})
            log.warning("%s: the replay of %s differs: %s", self.name, resume, problems)
        self.view.absorb(link.replay)

    def record_turn(self, link: Link, last_speech: float, interrupted: bool = False) -> None:
        """A question's reply: its voice-to-voice delay (unless a slow read held the events up)."""
        reply = link.reply_to(last_speech)
        record: dict[str, Any] = {"client": self.name, "t_s": round(last_speech - self.tally.began, 1),
                                  "interrupted": interrupted, "response_id": reply.id if reply else None,
                                  "v2v_ms": None, "slow_read": False}  # fmt: skip
        if reply is not None and reply.first_audio is not None:
            record["v2v_ms"] = round((reply.first_audio - last_speech) * 1000, 1)
            record["slow_read"] = link.paused_between(last_speech, reply.first_audio)
            if record["slow_read"]:
                self.tally.v2v_slow_read += 1
            else:
                self.tally.v2v_ms.append(record["v2v_ms"])
        else:
            self.tally.unanswered += 1
        self.tally.turns.append(record)


async def listen(client: Client, link: Link, stop: float) -> bool:
    """Quiet for 10-30 s, then a sentence; again until the end. Never asks for a new connection."""
    while True:
        gap, said = client.rng.uniform(10, 30), client.next_statement()
        if time.monotonic() + gap + len(said.messages) / 10 + 3 > stop:
            await link.idle(max(0.1, stop - time.monotonic()))
            return False
        await link.idle(gap)
        if client.rng.random() < P_BAD_LISTENING:
            await link.send_bad()
        await link.speak(said)
        client.tally.listening_spoken += 1


async def converse(client: Client, link: Link, stop: float) -> bool:
    """Ask, hear the reply, pause; now and then barge in, send a bad message, or leave (True: reconnect)."""
    rng, tally = client.rng, client.tally
    while True:
        roll = rng.random()
        barging = P_DROP_MID_REPLY <= roll < P_DROP_MID_REPLY + P_BARGE_IN
        question = client.next_question(long=barging)
        if time.monotonic() + len(question.messages) / 10 + 10 > stop:
            await link.idle(max(0.1, stop - time.monotonic()))
            return False
        last = await link.speak(question)
        tally.questions += 1
        if roll < P_DROP_MID_REPLY:  # leave as soon as the reply starts to play
            await link.idle_until(lambda: bool((r := link.reply_to(last)) and r.first_audio), REPLY_TIMEOUT_S)  # noqa: B023
            client.record_turn(link, last)
            tally.reconnects["mid-reply"] += 1
            return True
        if barging:
            last = await barge_in(client, link, last)
        timeout = min(REPLY_TIMEOUT_S, max(5.0, stop + 30 - time.monotonic()))
        await link.idle_until(lambda: bool((r := link.reply_to(last)) and r.status), timeout)  # noqa: B023
        client.record_turn(link, last)
        await link.idle(rng.uniform(1.0, 3.0))
        if rng.random() < P_BAD:
            await link.send_bad()
        if rng.random() < P_RECONNECT:
            tally.reconnects["between turns"] += 1
            return True


async def barge_in(client: Client, link: Link, last: float) -> float:
    """Once the reply plays, speak again over it; the last speech of what was said last."""
    started = await link.idle_until(lambda: bool((r := link.reply_to(last)) and r.first_audio), REPLY_TIMEOUT_S)
    reply = link.reply_to(last)
    if not started or reply is None:
        return last
    await link.idle(client.rng.uniform(0.0, 0.5))
    if reply.status is not None and (reply.played_until or 0) < time.monotonic() + 0.5:
        client.tally.barge_too_late += 1  # the reply was short: it was over before the user spoke
        return last
    client.record_turn(link, last, interrupted=True)
    client.tally.questions += 1
    client.tally.barge_ins += 1
    link.interrupted[reply.id] = time.monotonic()
    if reply.status is not None:  # the server had sent it all; it still plays on the client
        client.tally.barge_outcomes[f"{reply.status} (all sent before the barge-in)"] += 1
    return await link.speak(client.next_question())


async def run_client(client: Client, stop: float) -> None:
    """The client's sessions until ``stop``; a failure is logged and counted, and the client goes on."""
    behave = converse if client.conversing else listen
    await asyncio.sleep(client.rng.uniform(0, 5))
    while time.monotonic() < stop:
        link: Link | None = None
        try:
            link = await client.connect()
            again = await behave(client, link, stop)
            await link.close()
            if not again:
                return
            await asyncio.sleep(client.rng.uniform(0.5, 2.0))
        except websockets.ConnectionClosed as exc:
            if link is not None and link.dropped:
                client.tally.reconnects["after the server closed"] += 1
            else:
                client.tally.failure(client.name, exc)
            await asyncio.sleep(1)
        except Exception as exc:
            client.tally.failure(client.name, exc)
            await asyncio.sleep(2)
        finally:
            if link is not None:
                await link.close()


# --- the run ----------------------------------------------------------------------------------------


async def sessions_closed(server: Server, timeout: float) -> tuple[int | None, float]:
    """Open sessions once every client has closed (polling ``/health``), and how long they took to reach zero."""
    began = time.monotonic()
    left: int | None = None
    while time.monotonic() - began < timeout:
        with contextlib.suppress(OSError, ValueError):
            left = (await asyncio.to_thread(server.health)).get("sessions")
        if left == 0:
            break
        await asyncio.sleep(0.2)
    return left, time.monotonic() - began


def check_conversations(server: Server, clients: list[Client]) -> list[dict[str, Any]]:
    """Every conversation read back over HTTP and compared with what its client saw."""
    out = []
    for client in clients:
        for view in [*client.abandoned, client.view]:
            if view.id is None:
                continue
            status, stored = server.get(f"/conversations/{view.id}")
            if status != 200:
                problems = [f"not readable: GET /conversations/{view.id} answered {status}: {str(stored)[:200]}"]
                items: list[dict[str, Any]] = []
            else:
                items = stored["items"]
                problems = differences(view, items)
            untranscribed = [i["id"] for i in items if i.get("role") == "user" and transcript_of(i) is None]
            out.append({"client": client.name, "conversation": view.id, "items_seen": len(view.order),
                        "items_stored": len(items), "problems": problems + view.anomalies,
                        "untranscribed": untranscribed})  # fmt: skip
    return out


async def run(server: Server, material: Material, args: argparse.Namespace) -> dict[str, Any]:
    tally = Tally()
    began = tally.began
    samples = [await asyncio.to_thread(sample, server, 0.0)]
    stop = began + args.minutes * 60

    async def sampling() -> None:
        while True:
            await asyncio.sleep(SAMPLE_EVERY_S - (time.monotonic() - began) % SAMPLE_EVERY_S)
            samples.append(await asyncio.to_thread(sample, server, time.monotonic() - began))
            if round(samples[-1].t) % 60 == 0:
                last = samples[-1]
                print(f"  {last.t:>6.0f} s: rss {last.rss_mb:.0f} MB, {last.fds} fds, {last.sessions} sessions, "
                      f"{len(tally.turns)} turns, {sum(tally.unprovoked_errors.values())} errors, "
                      f"{sum(tally.failures.values())} failures", flush=True)  # fmt: skip

    seeds = random.Random(args.seed)
    clients = [Client(f"listen{i}", False, i % 3 == 1, server, material, tally, seeds.randrange(2**32))
               for i in range(args.listening)]  # fmt: skip
    clients += [Client(f"talk{i}", True, i % 3 == 1, server, material, tally, seeds.randrange(2**32))
                for i in range(args.conversing)]  # fmt: skip
    sampler = asyncio.create_task(sampling())
    results = await asyncio.gather(*(run_client(c, stop) for c in clients), return_exceptions=True)
    for client, result in zip(clients, results, strict=True):
        if isinstance(result, BaseException):
            tally.failure(client.name, result)
    sampler.cancel()
    ended = time.monotonic() - began
    died = server.process.poll()
    left, to_zero = await sessions_closed(server, 30.0)
    checks = await asyncio.to_thread(check_conversations, server, clients)
    await asyncio.sleep(AFTER_CLOSE_S)
    after = await asyncio.to_thread(sample, server, time.monotonic() - began)
    return {"samples": samples, "after": after, "growth": growth(samples, args.minutes * 60 * WARM_UP),
            "sessions_after_close": left, "seconds_to_zero_sessions": to_zero, "run_s": ended, "tally": tally,
            "conversations": checks, "clients": len(clients), "server_exited": died}  # fmt: skip


# --- report -----------------------------------------------------------------------------------------


def resource_table(samples: list[Sample], after: Sample, most: int = 30) -> str:
    step = max(1, math.ceil(len(samples) / most))
    shown = samples[::step] + ([samples[-1]] if (len(samples) - 1) % step else [])
    lines = ["Server resources (every 10 s; first line before any session)",
             f"{'t s':>7} {'RSS MB':>8} {'fds':>5} {'sessions':>8}"]  # fmt: skip
    for s in [*shown, after]:
        label = f"{s.t:>7.0f}" if s is not after else f"{'closed':>7}"
        lines.append(f"{label} {s.rss_mb:>8.1f} {s.fds:>5} {s.sessions if s.sessions is not None else '-':>8}")
    return "\n".join(lines)


def counts(name: str, counter: Counter[str]) -> str:
    return f"{name}: " + (", ".join(f"{k} x {v}" for k, v in counter.most_common()) or "none")


def report(result: dict[str, Any]) -> list[str]:
    tally: Tally = result["tally"]
    grew = result["growth"]
    lines = ["", resource_table(result["samples"], result["after"])]
    if "rss_mb_per_hour" in grew:
        lines.append(f"after the warm-up (t ≥ {grew['after_s']:.0f} s, {grew['samples']} samples): RSS "
                     f"{grew['rss_mb'][0]:.1f} → {grew['rss_mb'][1]:.1f} MB, slope {grew['rss_mb_per_hour']:+.1f} "
                     f"MB/hour; fds {grew['fds'][0]} → {grew['fds'][1]}, {grew['fds_per_hour']:+.1f}/hour")  # fmt: skip
        if grew["stretch_s"] < 600:
            lines.append(f"  (over {grew['stretch_s']:.0f} s the slope is mostly start-up and noise: run 30+ minutes)")
    else:
        lines.append(f"growth: {grew['note']}")
    first, after = result["samples"][0], result["after"]
    lines.append(f"before any session → after all closed: RSS {first.rss_mb:.1f} → {after.rss_mb:.1f} MB, "
                 f"fds {first.fds} → {after.fds}")  # fmt: skip
    left = result["sessions_after_close"]
    waited = f"{'zero after' if left == 0 else 'NOT zero after'} {result['seconds_to_zero_sessions']:.1f} s"
    lines.append(f"open sessions after every client closed: {left} ({waited})")
    lines += ["", percentile_table("Voice-to-voice (end of the user's speech as sent → first response.audio.delta)",
                                   {"voice-to-voice": tally.v2v_ms})]  # fmt: skip
    answered = tally.responses.get("completed", 0)
    lines.append(f"conversing: {tally.questions} questions, {answered} responses completed, {tally.unanswered} "
                 f"without reply audio, {tally.v2v_slow_read} measured during a slow read (left out)")  # fmt: skip
    lines.append(f"barge-ins: {tally.barge_ins} ({counts('outcome', tally.barge_outcomes)}); "
                 f"{tally.barge_too_late} not tried (the reply was over)")  # fmt: skip
    lines.append(f"reconnects: {sum(tally.reconnects.values())} ({counts('why', tally.reconnects)})")
    lines.append(f"listening: {tally.listening_spoken} sentences spoken, {tally.listening_committed} turns committed, "
                 f"{counts('transcriptions', tally.transcriptions)}; {tally.unexpected_responses} responses "
                 f"(expected none)")  # fmt: skip
    lines.append(f"slow reads: {tally.slow_pauses} pauses; audio chunks: {tally.chunks}, {tally.late_chunks} more "
                 f"than 50 ms late (latest {tally.latest_chunk_ms:.0f} ms)")  # fmt: skip
    lines += ["", "Errors"]
    lines.append(f"bad messages: {tally.bad_sent} sent, {tally.bad_answered} answered with the expected error, "
                 f"{tally.bad_unanswered} unanswered, {sum(tally.bad_wrong.values())} with another code")  # fmt: skip
    lines += [f"  {k} x {v}" for k, v in tally.bad_wrong.items()]
    lines.append(counts("error events nobody provoked", tally.unprovoked_errors))
    lines += [f"  {sample}" for sample in tally.error_samples[:10]]
    lines.append(counts("unexpected closes", tally.closes))
    lines.append(counts("responses", tally.responses))
    failed = sum(v for k, v in tally.responses.items() if k.split("/")[0] in ("failed", "incomplete"))
    lines.append(f"responses failed or incomplete: {failed}")
    lines.append(counts("client failures", tally.failures))
    lines += [f"  {sample}" for sample in tally.failure_samples[:10]]
    if result["server_exited"] is not None:
        lines.append(f"THE SERVER EXITED during the run, with code {result['server_exited']}")
    logged = result["server_log"]
    lines.append(f"server log: {logged['lines']} warning/error lines ({logged['path']})")
    lines += [f"  {v} x {k}" for k, v in list(logged["kinds"].items())[:10]]
    lines += ["", "Nothing lost"]
    checked = result["conversations"]
    kinds = Counter(p.split(":")[0] for c in checked for p in c["problems"])
    differ = sum(bool(c["problems"]) for c in checked)
    lines.append(f"conversations compared with GET /conversations/{{id}}: {len(checked)} "
                 f"({sum(c['items_stored'] for c in checked)} items stored), {differ} with differences; "
                 f"{counts('by kind', kinds)}")  # fmt: skip
    untranscribed = {c["client"]: len(c["untranscribed"]) for c in checked if c["untranscribed"]}
    lines.append(f"user turns stored without a transcript: {sum(untranscribed.values())} "
                 f"({', '.join(f'{k} x {v}' for k, v in untranscribed.items()) or 'none'})")  # fmt: skip
    for c in [c for c in checked if c["problems"]][:10]:
        lines += [f"  {c['client']} {c['conversation']}: {p}" for p in c["problems"][:5]]
    kinds = Counter(p.split(":")[0] for r in tally.replay_problems for p in r["problems"])
    lines.append(f"replays on resume that differed from what the client saw: {len(tally.replay_problems)}; "
                 f"{counts('by kind', kinds)}")  # fmt: skip
    for problem in tally.replay_problems[:10]:
        lines += [f"  {problem['client']} {problem['conversation']}: {p}" for p in problem["problems"][:5]]
    return lines


def as_json(result: dict[str, Any], args: argparse.Namespace, config: str) -> dict[str, Any]:
    tally: Tally = result["tally"]
    counted = {k: (dict(v) if isinstance(v, Counter) else v) for k, v in vars(tally).items() if k != "v2v_ms"}
    return {
        "machine": {"cpus": os.cpu_count()},
        "args": {k: v for k, v in vars(args).items() if k != "json"},
        "server_config": config,
        "run_s": result["run_s"],
        "resources": {"samples": [vars(s) for s in result["samples"]], "after_close": vars(result["after"])},
        "growth": result["growth"],
        "sessions_after_close": result["sessions_after_close"],
        "server_exited": result["server_exited"],
        "seconds_to_zero_sessions": result["seconds_to_zero_sessions"],
        "voice_to_voice_ms": summary(tally.v2v_ms),
        "counts": counted,
        "conversations": result["conversations"],
        "server_log": result["server_log"],
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0, help="how long the sessions run (default 10)")
    parser.add_argument("--listening", type=int, default=50, help="listening sessions (default 50)")
    parser.add_argument("--conversing", type=int, default=3, help="conversing sessions (default 3)")
    parser.add_argument("--port", type=int, help="the server's port (default: a free one)")
    parser.add_argument("--json", type=Path, help="where the results go (default benchmarks/results/soak-<time>.json)")
    parser.add_argument("--config", type=Path, help="extra TOML for the server, merged over the soak's own")
    parser.add_argument("--seed", type=int, default=1, help="the clients' random choices")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    extra = args.config.read_text() if args.config else ""
    workdir = Path(tempfile.mkdtemp(prefix="voxlive-soak-"))
    config = server_config(workdir / "conversations.db", args.listening + args.conversing + 10, extra)
    print(f"soak: {args.listening} listening + {args.conversing} conversing sessions for {args.minutes:g} min; "
          f"server files in {workdir}", flush=True)  # fmt: skip
    server = start_server(workdir, config, args.port or free_port())
    try:
        material = await make_material(args.seed)  # while the server loads its models
        await asyncio.to_thread(wait_healthy, server)
        print(f"server ready on {server.http} (pid {server.process.pid}); running", flush=True)
        result = await run(server, material, args)
    finally:
        code = stop_server(server)
    result["server_log"] = server_log(workdir / "server.log") | {"exit_code": code}
    for line in report(result):
        print(line)
    path = args.json or RESULTS / f"soak-{datetime.now():%Y%m%d-%H%M%S}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(as_json(result, args, config), indent=2, default=str))
    print("results:", path)


if __name__ == "__main__":
    asyncio.run(main())
