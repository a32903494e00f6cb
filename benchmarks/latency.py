"""Voice-to-voice latency of spoken questions streamed in real time, per turn-detection mode.

One session per mode (``server_vad``; ``azure_semantic_vad`` with semantic end-of-utterance detection, both
with 500 ms of silence) on a real ``voxlive serve``. The recorded questions (``benchmarks/data``) are streamed
one after the other at real-time pace in 40 ms chunks: 300 ms of silence, the question, silence until its
``response.done``, 500 ms more. Measured on the client, from the chunk holding the last speech sample:
``speech_stopped``, ``committed``, ``response.created``, the first transcript delta and the first audio
delta (voice-to-voice). Also the server's own stage breakdown per turn (``GET /sessions/{id}/turns``), and
questions that got no reply or were cut into two turns.

Run: ``.venv/bin/python benchmarks/latency.py [--questions N] [--modes server_vad,...] [--url ws://HOST:PORT]``
(about two minutes with all 16 questions).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from common import percentile_table, server, summary, write_results
from live import Session, load_questions, problems, turn_records, values

MODES: dict[str, dict[str, Any]] = {
    "server_vad": {"type": "server_vad", "silence_duration_ms": 500},
    "azure_semantic_vad": {
        "type": "azure_semantic_vad",
        "silence_duration_ms": 500,
        "end_of_utterance_detection": {"model": "semantic_detection_v1", "timeout_ms": 1000},
    },
}
TARGETS = {"server_vad": {"p50": 1000.0, "p95": 1500.0}, "azure_semantic_vad": {"p50": 800.0}}
REPLY_TIMEOUT_S = 30.0
CLIENT = {  # record key → table label
    "speech_stopped_ms": "→ speech_stopped",
    "committed_ms": "→ committed",
    "response_created_ms": "→ response.created",
    "first_transcript_ms": "→ first audio_transcript.delta",
    "voice_to_voice_ms": "→ first audio.delta (v2v)",
}
STAGES = ["end_of_turn", "stt", "llm_ttft", "first_chunk", "tts_first_audio", "voice_to_voice"]


def server_turns(url: str, session_id: str) -> list[dict[str, Any]] | str:
    """The server's stage timings of a session's turns, or why there are none."""
    address = url.replace("ws://", "http://", 1).replace("wss://", "https://", 1)
    try:
        with urllib.request.urlopen(f"{address}/sessions/{session_id}/turns", timeout=10) as answer:
            return json.loads(answer.read())["turns"]
    except urllib.error.HTTPError as exc:
        return f"GET /sessions/{{id}}/turns answered {exc.code}: no server-side breakdown"
    except (OSError, ValueError, KeyError) as exc:
        return f"GET /sessions/{{id}}/turns failed ({exc}): no server-side breakdown"


async def run_mode(url: str, detection: dict[str, Any], count: int | None) -> tuple[list[dict[str, Any]], Any]:
    """Stream the questions through one session; per-question records and the server's turns."""
    questions = load_questions(count)
    session = await Session.open(url, detection, chunk_ms=40)
    asked = []
    for question in questions:
        await session.silence(0.3)
        spoken = await session.speak(question)
        await session.silence_until(lambda: session.answered(spoken), REPLY_TIMEOUT_S)  # noqa: B023
        await session.silence(0.5)
        asked.append(spoken)
    records = turn_records(session, asked, time.monotonic())
    turns = await asyncio.to_thread(server_turns, url, session.id)
    await session.close()
    if isinstance(turns, list):
        by_response = {t["response_id"]: t for t in turns}
        for record in records:
            record["server_stages_ms"] = by_response.get(record["response_id"], {}).get("stages_ms")
    return records, turns


def target_line(mode: str, v2v: list[float]) -> str:
    if not v2v:
        return f"{mode}: no voice-to-voice measurement"
    measured = summary(v2v)
    parts = [
        f"{p} {measured[p]:.0f} ms (target ≤ {target:.0f}: {'met' if measured[p] <= target else 'MISSED'})"
        for p, target in TARGETS.get(mode, {}).items()
    ]
    return f"{mode} voice-to-voice: " + ", ".join(parts)


async def measure(url: str, modes: list[str], count: int | None) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for mode in modes:
        records, turns = await run_mode(url, MODES[mode], count)
        client = {label: values(records, key) for key, label in CLIENT.items()}
        print()
        print(percentile_table(f"{mode}: client side, ms after the last speech sample was sent", client))
        server_ms: dict[str, Any] | None = None
        if isinstance(turns, str):
            print(f"note: {turns}")
        else:
            stages = {s: [r["server_stages_ms"][s] for r in records if s in (r.get("server_stages_ms") or {})]
                      for s in STAGES}  # fmt: skip
            print(percentile_table(f"{mode}: server stages (GET /sessions/{{id}}/turns)", stages))
            server_ms = {s: summary(v) for s, v in stages.items()}
            speculative = sum(bool(t.get("speculative")) for t in turns)
            joined = sum(r.get("server_stages_ms") is not None for r in records)
            print(f"server turns: {len(turns)} ({speculative} speculative), joined to {joined}/{len(records)}")
        missing, cut = problems(records)
        underruns = sum(r["underruns"] for r in records)
        errors = [e for r in records for e in r["errors"]]
        print(target_line(mode, client[CLIENT["voice_to_voice_ms"]]))
        print(f"{mode}: {len(records)} questions, {missing} without a reply, {cut} cut into two turns, "
              f"{underruns} audio underruns, {len(errors)} error events")  # fmt: skip
        for error in sorted(set(errors)):
            print(f"  error: {error}")
        report[mode] = {
            "client_ms": {key: summary(values(records, key)) for key in CLIENT},
            "server_ms": server_ms,
            "server_note": turns if isinstance(turns, str) else None,
            "missing": missing,
            "cut": cut,
            "underruns": underruns,
            "targets_ms": TARGETS.get(mode, {}),
            "turns": records,
        }
    return report


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=None, help="how many questions (default: all 16)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated turn-detection modes")
    parser.add_argument("--url", help="an already-running server (ws://HOST:PORT); else one is started")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    unknown = set(modes) - set(MODES)
    if unknown:
        parser.error(f"unknown modes {sorted(unknown)}; choose from {list(MODES)}")
    if args.url:
        report = await measure(args.url.rstrip("/"), modes, args.questions)
    else:
        with server() as url:
            report = await measure(url, modes, args.questions)
    count = len(load_questions(args.questions))
    print("results:", write_results("latency", {"questions": count, "modes": report}))


if __name__ == "__main__":
    asyncio.run(main())
