"""How many simultaneous sessions one server holds on this machine.

On a real ``voxlive serve`` (or ``--url``), all sessions streaming audio paced in real time:

1. Memory per idle session: the server's RSS with no session vs with N idle sessions (connected,
   ``session.update`` done with ``server_vad``, sending nothing), after a settle; (delta) / N.
2. Listening: at each level, that many sessions each stream (100 ms chunks, staggered starts) a loop of
   [one question, 6 s of silence] with ``server_vad`` and ``create_response`` false. Per level: end-of-turn
   delay (last speech sample sent → ``speech_stopped``), turns detected vs spoken, whether the delay grows
   over the level (the server falling behind real time), server CPU % (100 = one core) and RSS, and how long
   the server stays busy once the level's sessions have closed (work it had queued: transcriptions).
3. Conversing: at each level, that many sessions each ask a question about every 6 s (wait for
   ``response.done``, then silence, then the next) with ``server_vad`` answering. Per level: voice-to-voice
   p50/p95 (client side), audio underruns of the replies as they would play, responses completed per minute.

The knee of each part is the first level whose p95 doubles against one session, or that misses turns, or
(listening) whose end-of-turn delay grows. Each level starts on an idle server (it waits for the previous
one's work to finish). Run: ``.venv/bin/python benchmarks/concurrency.py`` (about seven minutes);
``--listening-levels``, ``--conversing-levels`` (empty skips the part), ``--idle``, ``--seconds``, ``--url``,
``--config`` (the started server's settings: ``[llm] provider = "llama-server"``, say), ``--ray`` (that server
deployed by ``voxlive serve --ray`` on a local cluster of its own: a head and a worker node; the ray extra).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import glob
import os
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import ray_cluster, server, server_setting, summary, write_results
from live import RATE, Question, Session, Spoken, load_questions, problems, turn_records, values

LISTENING_LEVELS = [1, 10, 25, 50, 75, 100]
CONVERSING_LEVELS = [1, 2, 3, 4]
LISTENING_SECONDS = 20.0
CONVERSING_SECONDS = 30.0
GAP_S = 6.0
"""Silence after each question (listening); the period between questions (conversing)."""
LISTEN = {"type": "server_vad", "silence_duration_ms": 500, "create_response": False}
CONVERSE = {"type": "server_vad", "silence_duration_ms": 500}
REPLY_TIMEOUT_S = 30.0
OPENING = 16
"""Sessions opened at the same time."""
IDLE_CPU_PCT = 15.0
SETTLE_CAP_S = 90.0
BEHIND_S = 3.0
"""A server still busy this long after a level's sessions closed had fallen behind real time."""


class ServerProcess:
    """CPU time and resident memory of the process listening on a loopback port and its children (read from
    ``/proc``)."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.tick = os.sysconf("SC_CLK_TCK")

    @classmethod
    def find(cls, url: str) -> ServerProcess | None:
        address = urlparse(url)
        if address.hostname not in ("127.0.0.1", "localhost", "::1") or address.port is None:
            return None
        sockets = set()
        for table in ("/proc/net/tcp", "/proc/net/tcp6"):
            try:
                lines = Path(table).read_text().splitlines()[1:]
            except OSError:
                continue
            for line in lines:
                fields = line.split()
                if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == address.port:  # LISTEN
                    sockets.add(f"socket:[{fields[9]}]")
        for fd in glob.glob("/proc/[0-9]*/fd/*"):
            try:
                if os.readlink(fd) in sockets:
                    return cls(int(fd.split("/")[2]))
            except OSError:
                continue
        return None

    def processes(self) -> list[int]:
        """The server and its children (a ``llama-server`` it runs)."""
        children = []
        for task in glob.glob(f"/proc/{self.pid}/task/*/children"):
            with contextlib.suppress(OSError):
                children += [int(pid) for pid in Path(task).read_text().split()]
        return [self.pid, *children]

    def cpu_seconds(self) -> float:
        total = 0.0
        for pid in self.processes():
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += (int(fields[11]) + int(fields[12])) / self.tick  # utime, stime
        return total

    def rss_mb(self) -> float:
        total = 0.0
        for pid in self.processes():
            with contextlib.suppress(OSError):
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1]) / 1024
        return total or float("nan")


async def settle(process: ServerProcess | None, cap: float = SETTLE_CAP_S) -> float:
    """Wait until the server is idle (under 15 % CPU for a second): what a level left it to finish, in s."""
    began = time.monotonic()
    if process is None:
        await asyncio.sleep(2)
        return float("nan")
    while time.monotonic() - began < cap:
        used = process.cpu_seconds()
        await asyncio.sleep(1.0)
        if (process.cpu_seconds() - used) * 100 < IDLE_CPU_PCT:
            break
    return time.monotonic() - began - 1.0


class Meter:
    """Server and client CPU % (100 = one core) over a stretch of time, and the server's peak RSS."""

    def __init__(self, process: ServerProcess | None) -> None:
        self.process = process
        self.began = time.monotonic()
        self.client = time.process_time()
        self.server = process.cpu_seconds() if process else 0.0
        self.peak_rss = 0.0
        self._sampler = asyncio.create_task(self._sample())

    async def _sample(self) -> None:
        while self.process is not None:
            self.peak_rss = max(self.peak_rss, self.process.rss_mb())
            await asyncio.sleep(0.5)

    def stop(self) -> dict[str, float | None]:
        self._sampler.cancel()
        wall = time.monotonic() - self.began
        return {
            "server_cpu_pct": (self.process.cpu_seconds() - self.server) / wall * 100 if self.process else None,
            "server_rss_mb": max(self.peak_rss, self.process.rss_mb()) if self.process else None,
            "client_cpu_pct": (time.process_time() - self.client) / wall * 100,
        }


async def open_sessions(url: str, count: int, detection: dict[str, Any], chunk_ms: int = 100) -> list[Session]:
    gate = asyncio.Semaphore(OPENING)

    async def one() -> Session:
        async with gate:
            return await Session.open(url, detection, chunk_ms=chunk_ms)

    return list(await asyncio.gather(*(one() for _ in range(count))))


async def close_all(sessions: list[Session]) -> None:
    await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


def duration(question: Question) -> float:
    return len(question.audio) / RATE


async def listen(session: Session, index: int, level: int, stop: float, questions: list[Question]) -> list[Spoken]:
    """Staggered start, then [question, 6 s of silence] while a question still fits; silence to ``stop``."""
    await session.silence(GAP_S * index / level)
    asked = []
    turn = index
    while time.monotonic() + duration(question := questions[turn % len(questions)]) + 3.0 < stop:
        asked.append(await session.speak(question))
        await session.silence(min(GAP_S, max(0.1, stop - time.monotonic())))
        turn += 1
    await session.silence(max(0.1, stop - time.monotonic()))
    return asked


async def converse(session: Session, index: int, level: int, stop: float, questions: list[Question]) -> list[Spoken]:
    """Staggered start, then a question every ~6 s (at least 1 s after the previous reply is done)."""
    await session.silence(GAP_S * index / level)
    asked = []
    turn = index
    while time.monotonic() + duration(question := questions[turn % len(questions)]) < stop:
        began = time.monotonic()
        spoken = await session.speak(question)
        asked.append(spoken)
        await session.silence_until(lambda: session.answered(spoken), REPLY_TIMEOUT_S)  # noqa: B023
        await session.silence(max(1.0, began + GAP_S - time.monotonic()))
        turn += 1
    return asked


Talk = Callable[[Session, int, int, float, list[Question]], Awaitable[list[Spoken]]]


async def run_level(
    url: str, level: int, seconds: float, detection: dict[str, Any], talk: Talk, process: ServerProcess | None
) -> tuple[list[dict[str, Any]], list[Session], dict[str, Any]]:
    """Open ``level`` sessions, let each ``talk`` for ``seconds``; per-question records, sessions, load."""
    questions = load_questions()
    sessions = await open_sessions(url, level, detection)
    meter = Meter(process)
    stop = time.monotonic() + seconds
    asked = await asyncio.gather(*(talk(s, i, level, stop, questions) for i, s in enumerate(sessions)))
    await asyncio.sleep(0.3)  # the last events in flight
    load: dict[str, Any] = {"wall_s": time.monotonic() - meter.began, **meter.stop()}
    end = time.monotonic()
    records = []
    for session, spoken in zip(sessions, asked, strict=True):
        records += turn_records(session, spoken, end)
    lateness = [x * 1000 for s in sessions for x in s.lateness]
    load["client_send_late_ms"] = {"p95": float(np.percentile(lateness, 95)) if lateness else 0.0,
                                   "max": max(lateness, default=0.0)}  # fmt: skip
    await close_all(sessions)
    load["backlog_s"] = await settle(process)
    return records, sessions, load


def growth(records: list[dict[str, Any]], key: str) -> float | None:
    """Median of the later half of a level's delays minus the median of the earlier half (ms)."""
    timed = sorted((r["at_s"], r[key]) for r in records if r[key] is not None)
    if len(timed) < 4:
        return None
    half = len(timed) // 2
    return float(np.median([v for _, v in timed[half:]]) - np.median([v for _, v in timed[:half]]))


async def listening(url: str, levels: list[int], seconds: float, process: ServerProcess | None) -> list[dict]:
    out = []
    for level in levels:
        records, _, load = await run_level(url, level, seconds, LISTEN, listen, process)
        delays = values(records, "speech_stopped_ms")
        detected = len(delays)
        grew = growth(records, "speech_stopped_ms")
        keeps_up = detected == len(records) and (grew is None or grew < 250)
        out.append({"sessions": level, "end_of_turn_ms": summary(delays), "turns_spoken": len(records),
                    "turns_detected": detected, "cut": problems(records)[1], "delay_growth_ms": grew,
                    "keeps_up": keeps_up, "errors": sorted({e for r in records for e in r["errors"] if e}),
                    **load, "turns": records})  # fmt: skip
        print(f"  listening {level:>3} sessions: {detected}/{len(records)} turns, "
              f"p95 {summary(delays).get('p95', float('nan')):.0f} ms, cpu {_pct(load['server_cpu_pct'])}")  # fmt: skip
    return out


async def conversing(url: str, levels: list[int], seconds: float, process: ServerProcess | None) -> list[dict]:
    out = []
    for level in levels:
        records, sessions, load = await run_level(url, level, seconds, CONVERSE, converse, process)
        completed = sum(e["response"]["status"] == "completed" for s in sessions for _, e in s.of("response.done"))
        missing, cut = problems(records)
        v2v = values(records, "voice_to_voice_ms")
        out.append({"sessions": level, "voice_to_voice_ms": summary(v2v), "questions": len(records),
                    "missing": missing, "cut": cut, "underruns": sum(r["underruns"] for r in records),
                    "underrun_gap_ms": sum(r["underrun_gap_ms"] for r in records),
                    "responses_per_minute": completed / load["wall_s"] * 60,
                    "errors": sorted({e for r in records for e in r["errors"] if e}), **load,
                    "turns": records})  # fmt: skip
        print(f"  conversing {level:>2} sessions: {len(v2v)}/{len(records)} answered, "
              f"p95 {summary(v2v).get('p95', float('nan')):.0f} ms, cpu {_pct(load['server_cpu_pct'])}")  # fmt: skip
    return out


async def idle_memory(url: str, count: int, process: ServerProcess | None) -> dict[str, Any]:
    """RSS with no session, then with ``count`` idle sessions (after one warm-up conversation)."""
    if process is None:
        return {"note": "server process not found: no memory measurement"}
    warm = await Session.open(url, CONVERSE)
    await warm.silence(0.3)
    spoken = await warm.speak(load_questions(1)[0])
    await warm.silence_until(lambda: warm.answered(spoken), REPLY_TIMEOUT_S)
    await warm.close()
    await asyncio.sleep(3)
    before = process.rss_mb()
    sessions = await open_sessions(url, count, {"type": "server_vad"})
    await asyncio.sleep(5)
    after = process.rss_mb()
    await close_all(sessions)
    per_session = (after - before) / count
    return {"sessions": count, "rss_before_mb": before, "rss_after_mb": after, "mb_per_session": per_session}


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _ms(stats: dict[str, Any], key: str) -> str:
    return f"{stats[key]:.0f}" if key in stats else "-"


def knee(levels: list[dict], key: str, broken: Callable[[dict], str | None]) -> str:
    """The first level that doubles the one-session p95 of ``key`` or that ``broken`` names a reason for."""
    base = levels[0][key].get("p95") if levels and levels[0]["sessions"] == 1 else None
    for level in levels:
        reason = broken(level)
        if reason is None and base and level[key].get("p95", 0) >= 2 * base:
            reason = f"p95 {level[key]['p95']:.0f} ms ≥ twice {base:.0f} ms (one session)"
        if reason:
            return f"{level['sessions']} sessions: {reason}"
    return f"none up to {levels[-1]['sessions']} sessions" if levels else "not measured"


def listening_table(levels: list[dict]) -> str:
    lines = ["Listening (server_vad, no responses): end of turn = last speech sample sent → speech_stopped",
             f"{'sessions':>8} {'turns':>9} {'p50 ms':>7} {'p95 ms':>7} {'growth':>7} {'real time':>9} "
             f"{'cpu %':>6} {'rss MB':>7} {'busy after s':>12} {'client %':>8} {'send late p95 ms':>16}"]  # fmt: skip
    for x in levels:
        grew = "-" if x["delay_growth_ms"] is None else f"{x['delay_growth_ms']:+.0f}"
        lines.append(f"{x['sessions']:>8} {x['turns_detected']:>4}/{x['turns_spoken']:<4} "
                     f"{_ms(x['end_of_turn_ms'], 'p50'):>7} {_ms(x['end_of_turn_ms'], 'p95'):>7} {grew:>7} "
                     f"{'yes' if x['keeps_up'] else 'NO':>9} {_pct(x['server_cpu_pct']):>6} "
                     f"{x['server_rss_mb'] or 0:>7.0f} {x['backlog_s']:>12.1f} "
                     f"{_pct(x['client_cpu_pct']):>8} {x['client_send_late_ms']['p95']:>16.1f}")  # fmt: skip
    return "\n".join(lines)


def conversing_table(levels: list[dict]) -> str:
    lines = ["Conversing (server_vad, spoken replies): voice-to-voice = last speech sample sent → first audio delta",
             f"{'sessions':>8} {'answered':>9} {'cut':>4} {'p50 ms':>7} {'p95 ms':>7} {'underruns':>9} "
             f"{'gap ms':>7} {'resp/min':>8} {'cpu %':>6} {'rss MB':>7} {'busy after s':>12}"]  # fmt: skip
    for x in levels:
        answered = f"{x['questions'] - x['missing']}/{x['questions']}"
        lines.append(f"{x['sessions']:>8} {answered:>9} {x['cut']:>4} {_ms(x['voice_to_voice_ms'], 'p50'):>7} "
                     f"{_ms(x['voice_to_voice_ms'], 'p95'):>7} {x['underruns']:>9} {x['underrun_gap_ms']:>7.0f} "
                     f"{x['responses_per_minute']:>8.1f} {_pct(x['server_cpu_pct']):>6} "
                     f"{x['server_rss_mb'] or 0:>7.0f} {x['backlog_s']:>12.1f}")  # fmt: skip
    return "\n".join(lines)


def listening_broken(level: dict) -> str | None:
    if level["turns_detected"] < level["turns_spoken"]:
        return f"{level['turns_spoken'] - level['turns_detected']} turns missed"
    if not level["keeps_up"]:
        return f"end-of-turn delay grew by {level['delay_growth_ms']:.0f} ms"
    return None


def conversing_broken(level: dict) -> str | None:
    return f"{level['missing']} questions without a reply" if level["missing"] else None


async def measure(url: str, args: argparse.Namespace) -> dict[str, Any]:
    process = None if args.ray else ServerProcess.find(url)
    if process is None:
        print("note: no single server process on this machine (--url elsewhere, or --ray): no CPU or memory figures")
    await settle(process)
    report: dict[str, Any] = {}
    if args.idle:
        memory = report["idle_memory"] = await idle_memory(url, args.idle, process)
        if "mb_per_session" in memory:
            print(f"Memory per idle session: server RSS {memory['rss_before_mb']:.0f} MB → "
                  f"{memory['rss_after_mb']:.0f} MB with {args.idle} idle sessions: "
                  f"{memory['mb_per_session']:.2f} MB each (target ≤ 5 MB)")  # fmt: skip
    if args.listening_levels:
        seconds = args.seconds or LISTENING_SECONDS
        levels = report["listening"] = await listening(url, args.listening_levels, seconds, process)
        print(listening_table(levels))
        real_time = [x["sessions"] for x in levels if x["keeps_up"]]
        report["listening_knee"] = knee(levels, "end_of_turn_ms", listening_broken)
        print(f"listening knee: {report['listening_knee']}; most sessions in real time: "
              f"{max(real_time, default=0)} (target ≥ 50)")  # fmt: skip
        for error in sorted({e for x in levels for e in x["errors"]}):
            print(f"  error event: {error}")
        behind = [x["sessions"] for x in levels if x["backlog_s"] > BEHIND_S]
        if behind:
            print(f"note: from {behind[0]} sessions the server was still busy more than {BEHIND_S:.0f} s after the "
                  "level ended (work queued behind real time: transcribing the turns)")  # fmt: skip
    if args.conversing_levels:
        seconds = args.seconds or CONVERSING_SECONDS
        levels = report["conversing"] = await conversing(url, args.conversing_levels, seconds, process)
        print(conversing_table(levels))
        report["conversing_knee"] = knee(levels, "voice_to_voice_ms", conversing_broken)
        print(f"conversing knee: {report['conversing_knee']}")
        for error in sorted({e for x in levels for e in x["errors"]}):
            print(f"  error event: {error}")
    return report


def _levels(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listening-levels", type=_levels, default=LISTENING_LEVELS, help="e.g. 1,10,50")
    parser.add_argument("--conversing-levels", type=_levels, default=CONVERSING_LEVELS, help="e.g. 1,2,4")
    parser.add_argument("--idle", type=int, default=50, help="idle sessions for the memory figure (0: skip)")
    parser.add_argument("--seconds", type=float, help="seconds per level (default: 20 listening, 30 conversing)")
    parser.add_argument("--url", help="an already-running server (ws://HOST:PORT); else one is started")
    parser.add_argument("--config", type=Path, help="a TOML settings file for the server started (not with --url)")
    parser.add_argument("--ray", action="store_true", help="start the server on a local Ray cluster of its own")
    args = parser.parse_args()
    started = time.monotonic()
    if args.url:
        report = await measure(args.url.rstrip("/"), args)
    else:
        most = max([*args.listening_levels, *args.conversing_levels, args.idle, 1])
        config = args.config.read_text() if args.config else ""
        settings = server_setting(config, f"max_sessions = {most + 10}")  # the config sets none
        with contextlib.ExitStack() as stack:
            ray = ("--ray", stack.enter_context(ray_cluster())) if args.ray else ()
            url = stack.enter_context(server(settings, args=ray))
            report = await measure(url, args)
    report["run_seconds"] = time.monotonic() - started
    print("results:", write_results("concurrency", report))


if __name__ == "__main__":
    asyncio.run(main())
