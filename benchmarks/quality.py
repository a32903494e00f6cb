"""Quality of the whole path: whether spoken questions are heard and answered right, and tools called when needed.

Spoken questions (``benchmarks/data/quality.json``: facts, arithmetic, definitions, instructions to follow) are
voiced by Piper and by espeak-ng voices, each clean and with pink noise mixed into the recording at 10, 15 or
20 dB SNR (chosen by question), and streamed in real time to a real ``voxlive serve`` on
``/voice-live/realtime`` with ``server_vad`` (500 ms), one new session per question. Per question: the word
error rate of the server's transcript (``input_audio_transcription``), whether the spoken reply's transcript
holds an accepted answer (compared as words, numbers as digits: "4", "four" and "4.0" alike; ``max_words``
and ``reject`` where the question says), and voice-to-voice time (the last speech sample sent → the first
``response.audio.delta``). Then text requests with three function tools offered, half of which need one:
tool-call precision and recall and whether the arguments are the expected ones.

Each item has a ``split``: ``tune`` (may guide changes) or ``held_out`` (about a third, never tuned on).
The audio is made at run time and cached in ``benchmarks/data/quality-audio/``.

Run: ``.venv/bin/python benchmarks/quality.py [--limit N] [--voices piper,en-us] [--split tune|held_out]
[--conditions clean,noisy] [--parts questions,tools] [--config EXTRA.toml] [--llama-server] [--json PATH]
[--url ws://HOST:PORT]``
(everything: about an hour). ``--config`` is merged into the server's settings (another STT model or beam,
LLM decoding settings, a remote OpenAI-compatible LLM), so runs can be compared; ``--llama-server`` serves the
bundled model with ``python -m llama_cpp.server`` and points ``[llm]`` at it (the path to a stronger service).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import json
import re
import subprocess
import sys
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import websockets

sys.path.insert(0, str(Path(__file__).parent))
from common import (
    ONES,
    TENS,
    answering,
    free_port,
    percentile_table,
    read_wav,
    server,
    speech,
    summary,
    with_noise,
    word_errors,
    write_results,
    write_wav,
)
from latency import MODES
from live import RATE, Question, Session, turn_record, values
from make_questions import MARGIN_MS, trimmed

from voxlive.speech.assets import llm_model_path
from voxlive.speech.audio import STAGE_RATE, resample
from voxlive.speech.tts import PiperTTS

DATA = Path(__file__).parent / "data"
AUDIO = DATA / "quality-audio"
VOICES = ("piper", "en-us", "en-gb-scotland+m3", "en-us+f3")
CONDITIONS = ("clean", "noisy")
NOISE_SNR_DB = (10, 15, 20)
"""A noisy question's SNR: one of these, chosen by its id."""
REPLY_TIMEOUT_S = 30.0
TRANSCRIBED = "conversation.item.input_audio_transcription.completed"

_NUMBERS = {word: n for n, word in enumerate(ONES)} | {word: 20 + 10 * n for n, word in enumerate(TENS)}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}


def answer_words(text: str) -> list[str]:
    """Words to find answers in: lowercase, numbers as digits ("twenty-five", "25.0" → "25"), a plural's s dropped."""
    tokens = re.findall(r"\d+(?:\.\d+)?|\w+", re.sub(r"(?<=\d),(?=\d{3})", "", text.lower()).replace("-", " "))
    out: list[str] = []
    total, current, last = 0, 0, ""  # the number being read; last: "unit", "tens", "scale" or "" (none)

    def flush() -> None:
        nonlocal total, current, last
        if last:
            out.append(str(total + current))
        total, current, last = 0, 0, ""

    for index, token in enumerate(tokens):
        after = tokens[index + 1] if index + 1 < len(tokens) else ""
        value, scale = _NUMBERS.get(token), _SCALES.get(token)
        if token == "and" and last == "scale" and after in _NUMBERS:
            continue  # "one hundred and five"
        if token == "a" and not last and after in _SCALES:
            token, value = "one", 1  # "a hundred"
        if value is not None:
            if not (last == "scale" or (last == "tens" and 0 < value < 10)):
                flush()
            current += value
            last = "tens" if value >= 20 else "unit"
        elif scale is not None and (last in ("unit", "tens") or (last == "scale" and scale > 100)):
            if scale == 100:
                current *= 100
            else:
                total, current = total + current * scale, 0
            last = "scale"
        else:
            flush()
            if token[0].isdigit():
                number = float(token)
                out.append(str(int(number)) if number.is_integer() else str(number))
            else:
                out.append(token[:-1] if len(token) > 3 and token.endswith("s") and token.isalpha() else token)
    flush()
    return out


def contains(words: list[str], phrase: str) -> bool:
    """Whether ``phrase``'s words appear together, in order, in ``words``."""
    wanted = answer_words(phrase)
    return any(words[i : i + len(wanted)] == wanted for i in range(len(words) - len(wanted) + 1))


def correct(question: dict[str, Any], reply: str) -> bool:
    """Whether a reply holds an accepted answer, none rejected, within the words allowed."""
    words = answer_words(reply)
    return (
        any(contains(words, answer) for answer in question["accept"])
        and not any(contains(words, wrong) for wrong in question.get("reject", ()))
        and len(re.findall(r"\w+", reply)) <= question.get("max_words", 10**9)
    )


def spread(items: list[dict[str, Any]], key: str) -> list[dict[str, Any]]:
    """Items taken in turn from each value of ``key`` (so the first few cover every kind)."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for item in items:
        groups.setdefault(item[key], []).append(item)
    rounds = max((len(g) for g in groups.values()), default=0)
    return [g[i] for i in range(rounds) for g in groups.values() if i < len(g)]


async def recording(piper: PiperTTS, text: str, voice: str) -> tuple[np.ndarray, int]:
    """``text`` in ``voice``, trimmed to its speech with a margin (int16, 16 kHz; cached), and the speech's ms."""
    path = AUDIO / voice / f"{hashlib.sha1(text.encode()).hexdigest()[:16]}.wav"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        write_wav(path, trimmed(await speech(piper, text, voice))[0], STAGE_RATE)
    audio, _ = read_wav(path)
    return audio, (len(audio) * 1000 // STAGE_RATE) - 2 * MARGIN_MS


def items(
    questions: list[dict[str, Any]], voices: list[str], conditions: list[str]
) -> Iterator[tuple[dict[str, Any], str, str, int | None]]:
    """(question, voice, condition, SNR in dB or None) in the order asked (a question's SNR is the same each run)."""
    for question in questions:
        snr = NOISE_SNR_DB[zlib.crc32(question["id"].encode()) % len(NOISE_SNR_DB)]
        for voice in voices:
            for condition in conditions:
                yield question, voice, condition, None if condition == "clean" else snr


async def ask(url: str, question: Question) -> dict[str, Any]:
    """One question in a new session: the turn's record, with what the server heard."""
    transcription = {"input_audio_transcription": {"model": "whisper-1"}}
    session = await Session.open(url, MODES["server_vad"], extra=transcription)
    try:
        await session.silence(0.3)
        spoken = await session.speak(question)
        await session.silence_until(lambda: session.answered(spoken), REPLY_TIMEOUT_S)
        await session.silence(0.2)
        record = turn_record(session, spoken, time.monotonic())
        record["heard"] = " ".join(e["transcript"] for _, e in session.of(TRANSCRIBED, spoken.started))
    finally:
        await session.close()
    return record


async def spoken_questions(
    url: str, questions: list[dict[str, Any]], voices: list[str], conditions: list[str]
) -> list[dict[str, Any]]:
    """Ask every question in every voice and condition; a record each."""
    piper = PiperTTS()
    await piper.load()
    records = []
    for number, (entry, voice, condition, snr) in enumerate(items(questions, voices, conditions)):
        audio, speech_ms = await recording(piper, entry["text"], voice)
        if snr is not None:
            audio = with_noise(audio, snr, seed=zlib.crc32(f"{entry['id']} {voice}".encode()))
        audio = resample(audio, STAGE_RATE, RATE)
        question = Question(entry["text"], voice, speech_ms, audio, len(audio) - RATE * MARGIN_MS // 1000)
        try:
            if number == 0:
                await ask(url, question)  # warm-up, not counted
            turn = await ask(url, question)
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            turn = {"heard": "", "reply": "", "voice_to_voice_ms": None, "committed_ms": None, "turns": 0,
                    "status": None, "errors": [f"client: {exc!r}"]}  # fmt: skip
        errors, words = word_errors(entry["text"], turn["heard"])
        record = {key: entry[key] for key in ("id", "kind", "split", "text")}
        record |= {"voice": voice, "condition": condition, "snr_db": snr, "heard": turn["heard"],
                   "word_errors": errors, "words": words, "reply": turn["reply"],
                   "correct": correct(entry, turn["reply"]), "voice_to_voice_ms": turn["voice_to_voice_ms"],
                   "committed_ms": turn["committed_ms"], "turns": turn["turns"], "status": turn["status"],
                   "errors": turn["errors"]}  # fmt: skip
        records.append(record)
        mark = "ok " if record["correct"] else "BAD"
        v2v = f"{record['voice_to_voice_ms']:.0f} ms" if record["voice_to_voice_ms"] is not None else "no reply"
        heard = f"heard {turn['heard']!r} → {turn['reply']!r}"
        print(f"{mark} {entry['id']:<8} {voice:<18} {condition:<6} {v2v:>9}  {heard}", flush=True)
    return records


def question_groups(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The records by kind, voice, condition (and SNR) and split."""
    groups: dict[str, list[dict[str, Any]]] = {"all": records}
    for label, key in (("kind", "kind"), ("voice", "voice"), ("", "condition"), ("", "split")):
        for value in dict.fromkeys(r[key] for r in records):
            groups[f"{label}: {value}" if label else value] = [r for r in records if r[key] == value]
    for snr in NOISE_SNR_DB:
        if noisy := [r for r in records if r["snr_db"] == snr]:
            groups[f"noise {snr} dB"] = noisy
    return groups


def question_scores(records: list[dict[str, Any]]) -> dict[str, Any]:
    words = sum(r["words"] for r in records)
    return {
        "n": len(records),
        "correct_percent": 100 * sum(r["correct"] for r in records) / max(1, len(records)),
        "wer_percent": 100 * sum(r["word_errors"] for r in records) / max(1, words),
        "no_reply": sum(r["voice_to_voice_ms"] is None for r in records),
        "voice_to_voice_ms": summary(values(records, "voice_to_voice_ms")),
    }


def question_table(groups: dict[str, list[dict[str, Any]]]) -> str:
    lines = ["Spoken questions: answers correct and transcripts' word error rate",
             f"{'group':<28} {'n':>4} {'correct':>8} {'WER':>7} {'no reply':>9}"]  # fmt: skip
    for name, records in groups.items():
        s = question_scores(records)
        lines.append(
            f"{name:<28} {s['n']:>4} {s['correct_percent']:>7.1f}% {s['wer_percent']:>6.1f}% {s['no_reply']:>9}"
        )
    return "\n".join(lines)


async def tool_request(url: str, tools: list[dict[str, Any]], request: dict[str, Any]) -> dict[str, Any]:
    """One text request in a new text-only session with the tools offered: the calls made and the reply."""
    async with websockets.connect(f"{url}/voice-live/realtime", max_size=None, open_timeout=60) as ws:
        errors: list[str] = []

        async def until(kind: str) -> dict[str, Any]:
            while True:
                event: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), REPLY_TIMEOUT_S * 2))
                if event["type"] == "error":
                    errors.append(event["error"].get("message", ""))
                if event["type"] == kind:
                    return event

        await until("session.created")
        config = {"modalities": ["text"], "turn_detection": None, "tools": tools, "tool_choice": "auto"}
        await ws.send(json.dumps({"type": "session.update", "session": config}))
        await until("session.updated")
        content = [{"type": "input_text", "text": request["text"]}]
        item = {"type": "message", "role": "user", "content": content}
        await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
        began = time.monotonic()
        await ws.send(json.dumps({"type": "response.create"}))
        done = (await until("response.done"))["response"]
    output = done.get("output") or []
    calls = [{"name": i.get("name"), "arguments": i.get("arguments")} for i in output if i["type"] == "function_call"]
    text = "".join(c.get("text") or "" for i in output if i["type"] == "message" for c in i.get("content") or [])
    return {"ms": (time.monotonic() - began) * 1000, "status": done.get("status"), "calls": calls, "reply": text,
            "errors": errors}  # fmt: skip


def same_arguments(expected: dict[str, Any], arguments: str | None) -> bool:
    """Whether a call's JSON arguments hold the expected values (numbers equal, text with the expected words)."""
    try:
        given = json.loads(arguments or "{}")
    except ValueError:
        return False
    if not isinstance(given, dict):
        return False
    for name, value in expected.items():
        actual = given.get(name)
        if isinstance(value, int | float):
            try:
                if abs(float(actual) - value) > 1e-6:  # type: ignore[arg-type]
                    return False
            except (TypeError, ValueError):
                return False
        elif actual is None or not contains(answer_words(str(actual)), str(value)):
            return False
    return True


async def tool_requests(url: str, tools: list[dict[str, Any]], requests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records = []
    for request in requests:
        try:
            answer = await tool_request(url, tools, request)
        except (OSError, TimeoutError, websockets.WebSocketException) as exc:
            answer = {"ms": None, "status": None, "calls": [], "reply": "", "errors": [f"client: {exc!r}"]}
        right = [c for c in answer["calls"] if request["tool"] and c["name"] == request["tool"]]
        record = {key: request[key] for key in ("id", "split", "text", "tool")} | answer
        record["right_calls"] = len(right)
        record["arguments_ok"] = bool(right) and same_arguments(request["arguments"], right[0]["arguments"])
        records.append(record)
        made = ", ".join(f"{c['name']}({' '.join(str(c['arguments']).split())})" for c in answer["calls"])
        made = made or f"text {' '.join(answer['reply'].split())[:60]!r}"
        ok = record["arguments_ok"] if request["tool"] else not answer["calls"]
        print(
            f"{'ok ' if ok else 'BAD'} {request['id']:<16} expected {request['tool'] or 'no call'}: {made}", flush=True
        )
    return records


def tool_scores(records: list[dict[str, Any]]) -> dict[str, Any]:
    calls = sum(len(r["calls"]) for r in records)
    needed = [r for r in records if r["tool"]]
    called = [r for r in needed if r["right_calls"]]
    plain = [r for r in records if not r["tool"]]
    return {
        "n": len(records),
        "calls": calls,
        "precision_percent": 100 * sum(r["right_calls"] for r in records) / calls if calls else None,
        "recall_percent": 100 * len(called) / len(needed) if needed else None,
        "arguments_percent": 100 * sum(r["arguments_ok"] for r in called) / len(called) if called else None,
        "no_call_when_none_needed_percent": 100 * sum(not r["calls"] for r in plain) / len(plain) if plain else None,
        "ms": summary(values(records, "ms")),
    }


def tool_table(groups: dict[str, list[dict[str, Any]]]) -> str:
    def cell(value: float | None) -> str:
        return f"{value:.1f}%" if value is not None else "-"

    lines = [
        "Tool calls, 3 tools offered: precision, recall, arguments right (of right calls), no call when none needed",
        f"{'group':<28} {'n':>4} {'calls':>6} {'precision':>10} {'recall':>8} {'arguments':>10} {'no call':>8}",
    ]
    for name, records in groups.items():
        s = tool_scores(records)
        lines.append(f"{name:<28} {s['n']:>4} {s['calls']:>6} {cell(s['precision_percent']):>10} "
                     f"{cell(s['recall_percent']):>8} {cell(s['arguments_percent']):>10} "
                     f"{cell(s['no_call_when_none_needed_percent']):>8}")  # fmt: skip
    return "\n".join(lines)


@contextlib.contextmanager
def llama_cpp_server() -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server (``python -m llama_cpp.server``) serving the bundled model on a
    free loopback port; yields the ``[llm]`` settings that point voxlive at it."""
    port = free_port()
    command = [sys.executable, "-m", "llama_cpp.server", "--model", str(llm_model_path(progress=False)),
               "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096"]  # fmt: skip
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        if not answering(f"http://127.0.0.1:{port}/v1/models", process):
            raise RuntimeError("llama_cpp.server did not start")
        yield f'[llm]\nprovider = "openai"\nbase_url = "http://127.0.0.1:{port}/v1"\nmodel = "qwen"\n'
    finally:
        process.terminate()
        process.wait(timeout=15)


async def measure(url: str, args: argparse.Namespace, data: dict[str, Any]) -> dict[str, Any]:
    chosen = [s for s in ("tune", "held_out") if args.split in (s, "all")]
    questions = spread([q for q in data["questions"] if q["split"] in chosen], "kind")[: args.limit]
    requests = spread([r for r in data["tool_requests"] if r["split"] in chosen], "tool")[: args.limit]
    report: dict[str, Any] = {}
    if "questions" in args.parts:
        records = await spoken_questions(url, questions, args.voices, args.conditions)
        groups = question_groups(records)
        print()
        print(question_table(groups))
        print()
        v2v = {name: values(group, "voice_to_voice_ms") for name, group in groups.items()}
        print(percentile_table("Voice-to-voice (ms after the last speech sample sent)", v2v))
        report["questions"] = {"groups": {n: question_scores(g) for n, g in groups.items()}, "records": records}
    if "tools" in args.parts:
        records = await tool_requests(url, data["tools"], requests)
        groups = {"all": records} | {s: [r for r in records if r["split"] == s] for s in chosen}
        print()
        print(tool_table(groups))
        print()
        times = {name: values(group, "ms") for name, group in groups.items()}
        print(percentile_table("Tool requests: response.create → response.done", times))
        report["tools"] = {"groups": {n: tool_scores(g) for n, g in groups.items()}, "records": records}
    return report


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="at most this many questions and tool requests (every kind in turn)")
    parser.add_argument("--voices", default=",".join(VOICES), help="piper and espeak-ng voices, comma-separated")
    parser.add_argument("--conditions", default=",".join(CONDITIONS), help="clean, noisy or both")
    parser.add_argument("--split", default="all", choices=["all", "tune", "held_out"])
    parser.add_argument("--parts", default="questions,tools", help="questions, tools or both")
    parser.add_argument("--config", type=Path, help="a TOML file merged into the server's settings")
    parser.add_argument(
        "--json", type=Path, help="where to write the results (default benchmarks/results/quality.json)"
    )
    parser.add_argument("--url", help="an already-running server (ws://HOST:PORT) instead of starting one")
    parser.add_argument(
        "--llama-server",
        action="store_true",
        help="the LLM served by python -m llama_cpp.server (the bundled model) through the OpenAI-compatible provider",
    )
    args = parser.parse_args()
    args.voices = [v for v in args.voices.split(",") if v]
    args.conditions = [c for c in args.conditions.split(",") if c]
    args.parts = [p for p in args.parts.split(",") if p]
    if set(args.conditions) - set(CONDITIONS) or set(args.parts) - {"questions", "tools"}:
        parser.error("--conditions takes clean and noisy, --parts questions and tools")
    data = json.loads((DATA / "quality.json").read_text())
    config = args.config.read_text() if args.config else ""
    with contextlib.ExitStack() as stack:
        if args.llama_server:
            config = stack.enter_context(llama_cpp_server()) + config
        url = args.url.rstrip("/") if args.url else stack.enter_context(server(config))
        report = await measure(url, args, data)
    settings = {"config": config, "voices": args.voices, "conditions": args.conditions, "split": args.split,
                "limit": args.limit, "noise_snr_db": NOISE_SNR_DB}  # fmt: skip
    print("results:", write_results("quality", {**settings, **report}, args.json))


if __name__ == "__main__":
    asyncio.run(main())
