"""Voice-to-voice latency of spoken questions streamed in real time, per turn-detection mode and configuration.

One session per mode (``server_vad`` with 500 ms of silence; ``azure_semantic_vad`` with semantic
end-of-utterance detection; OpenAI's ``semantic_vad``) on a real ``voxlive serve``, for each configuration of
the server: the default, and each with one lever turned off (so each row shows what that lever is worth, in
the same run). The recorded questions (``benchmarks/data``) are streamed one after the other at real-time
pace in 40 ms chunks: 300 ms of silence, the question, silence until its ``response.done``, 500 ms more.
Measured on the client, from the chunk holding the last speech sample: ``speech_stopped``, ``committed``,
``response.created``, the first transcript delta and the first audio delta (voice-to-voice); the reply chain
is voice-to-voice minus ``committed``. Also the server's own stage breakdown per turn
(``GET /sessions/{id}/turns``): when the transcript was ready, whether the reply drafted at the pause was used.

Run: ``.venv/bin/python benchmarks/latency.py [--configs default,whisper] [--modes server_vad,...]
[--questions N] [--baseline CHECKOUT] [--url ws://HOST:PORT]`` (about two minutes per configuration);
``--baseline`` also measures an earlier version (a ``git worktree``) with its own defaults, first.
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
    "semantic_vad": {"type": "semantic_vad", "eagerness": "auto"},
}
CONFIGS: dict[str, str] = {
    "default": "",
    "whisper tiny.en": '[stt]\nmodel = "tiny.en"\n',
    "no turn model": "[turn]\nsmart_turn = false\n",
    "no drafts": "[turn]\ndraft_replies = false\n",
    "no read-ahead": "[llm]\nread_ahead = false\n",
    "first sentence": "[tts]\nfirst_words = 0\n",
    "first 3 words": "[tts]\nfirst_words = 3\n",
    "llm not paused": "[llm]\nyield_to_speech = false\n",
    "tts 1 thread": "[tts]\nthreads = 1\n",
}
"""Server configurations: the default, and each lever changed (the recognizer, the turn model, drafting at the
pause, reading the next prompt ahead, the first piece's size, pausing the LLM while the first piece is
synthesized, the TTS's threads)."""
BASELINE = "baseline"
TARGETS = {
    "server_vad": {"p50": 900.0, "p95": 1200.0},
    "azure_semantic_vad": {"p50": 700.0, "p95": 1000.0},
    "semantic_vad": {"p50": 700.0, "p95": 1000.0},
}
REPLY_CHAIN_TARGET_MS = 250.0
"""Voice-to-voice minus the end of turn, when the reply drafted at the pause is used."""
REPLY_TIMEOUT_S = 30.0
CLIENT = {  # record key → table label
    "speech_stopped_ms": "→ speech_stopped",
    "committed_ms": "→ committed",
    "response_created_ms": "→ response.created",
    "first_transcript_ms": "→ first audio_transcript.delta",
    "voice_to_voice_ms": "→ first audio.delta (v2v)",
}
STAGES = ["end_of_turn", "transcript", "stt", "llm_ttft", "first_chunk", "tts_first_audio", "voice_to_voice"]


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
    for record in records:
        if record["voice_to_voice_ms"] is not None and record["committed_ms"] is not None:
            record["reply_chain_ms"] = record["voice_to_voice_ms"] - record["committed_ms"]
    if isinstance(turns, list):
        by_response = {t["response_id"]: t for t in turns}
        for record in records:
            turn = by_response.get(record["response_id"], {})
            record["server_stages_ms"] = turn.get("stages_ms")
            record["drafted"] = turn.get("speculative")
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


async def measure(url: str, name: str, modes: list[str], count: int | None) -> dict[str, Any]:
    report: dict[str, Any] = {}
    for mode in modes:
        records, turns = await run_mode(url, MODES[mode], count)
        client = {label: values(records, key) for key, label in CLIENT.items()}
        client["reply chain (v2v - committed)"] = values(records, "reply_chain_ms")
        print()
        print(percentile_table(f"{name}, {mode}: client side, ms after the last speech sample was sent", client))
        server_ms: dict[str, Any] | None = None
        if isinstance(turns, str):
            print(f"note: {turns}")
        else:
            stages = {s: [r["server_stages_ms"][s] for r in records if s in (r.get("server_stages_ms") or {})]
                      for s in STAGES}  # fmt: skip
            print(percentile_table(f"{name}, {mode}: server stages (GET /sessions/{{id}}/turns)", stages))
            server_ms = {s: summary(v) for s, v in stages.items()}
        missing, cut = problems(records)
        drafted = sum(bool(r.get("drafted")) for r in records)
        underruns = sum(r["underruns"] for r in records)
        errors = [e for r in records for e in r["errors"]]
        print(target_line(mode, client[CLIENT["voice_to_voice_ms"]]))
        print(f"{name}, {mode}: {len(records)} questions, {drafted} answered by the draft made at the pause, "
              f"{missing} without a reply, {cut} cut into two turns, {underruns} audio underruns, "
              f"{len(errors)} error events")  # fmt: skip
        for error in sorted(set(errors)):
            print(f"  error: {error}")
        report[mode] = {
            "client_ms": {key: summary(values(records, key)) for key in [*CLIENT, "reply_chain_ms"]},
            "server_ms": server_ms,
            "server_note": turns if isinstance(turns, str) else None,
            "drafted": drafted,
            "missing": missing,
            "cut": cut,
            "underruns": underruns,
            "targets_ms": TARGETS.get(mode, {}),
            "turns": records,
        }
    return report


def summary_table(results: dict[str, dict[str, Any]]) -> str:
    """One line per configuration and mode: what each lever is worth, side by side."""
    lines = [
        "Summary (ms after the last speech sample; reply chain = v2v - committed, on drafted turns)",
        f"{'configuration':<18} {'mode':<19} {'v2v p50':>8} {'p95':>6} {'end p50':>8} {'transcript':>10} "
        f"{'chain':>6} {'drafted':>8} {'cut':>4}",
    ]
    for name, modes in results.items():
        for mode, report in modes.items():
            turns = report["turns"]
            v2v = summary(values(turns, "voice_to_voice_ms"))
            end = summary(values(turns, "committed_ms"))
            transcript = summary([r["server_stages_ms"]["transcript"] for r in turns
                                  if "transcript" in (r.get("server_stages_ms") or {})])  # fmt: skip
            chain = summary([r["reply_chain_ms"] for r in turns if r.get("drafted") and "reply_chain_ms" in r])

            def cell(measure: dict[str, Any], key: str = "p50") -> str:
                return f"{measure[key]:.0f}" if measure.get("n") else "-"

            lines.append(
                f"{name:<18} {mode:<19} {cell(v2v):>8} {cell(v2v, 'p95'):>6} {cell(end):>8} {cell(transcript):>10} "
                f"{cell(chain):>6} {report['drafted']:>4}/{len(turns):<3} {report['cut']:>4}"
            )
    return "\n".join(lines)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=None, help="how many questions (default: all 16)")
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated turn-detection modes")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated server configurations")
    parser.add_argument("--baseline", help="a checkout of an earlier version to measure first, with its defaults")
    parser.add_argument("--url", help="an already-running server (ws://HOST:PORT); else one is started per config")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    configs = [c for c in args.configs.split(",") if c]
    unknown = set(modes) - set(MODES) | set(configs) - set(CONFIGS)
    if unknown:
        parser.error(f"unknown modes or configurations {sorted(unknown)}; choose from {list(MODES)}, {list(CONFIGS)}")
    results: dict[str, dict[str, Any]] = {}
    if args.url:
        results["given server"] = await measure(args.url.rstrip("/"), "given server", modes, args.questions)
    else:
        runs = [(BASELINE, "", args.baseline)] if args.baseline else []
        runs += [(name, CONFIGS[name], None) for name in configs]
        for name, config, source in runs:
            with server(config, source) as url:
                results[name] = await measure(url, name, modes, args.questions)
    print()
    print(summary_table(results))
    count = len(load_questions(args.questions))
    print("results:", write_results("latency", {"questions": count, "configs": CONFIGS, "results": results}))


if __name__ == "__main__":
    asyncio.run(main())
