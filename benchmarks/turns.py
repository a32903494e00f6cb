"""Turn detection and transcription: end-of-turn delay, transcript delay, false cut-offs, word errors.

Streams spoken utterances in real time through ``/voice-live/realtime`` (a real ``voxlive serve``) with
``server_vad``, ``azure_semantic_vad`` and ``semantic_vad``, for each server configuration (the default, and
without the turn model), and measures on the client side:

- end-of-turn delay: last speech sample sent → ``input_audio_buffer.committed`` received;
- transcript delay: last speech sample sent → ``…input_audio_transcription.completed`` received;
- false cut-offs: utterances with a pause inside an unfinished sentence that were split into two turns;
- the word error rate of the turns' transcripts (what the model will read).

The recognizers alone are compared by ``recognizers.py``.
Run: ``.venv/bin/python benchmarks/turns.py [--configs ...] [--baseline CHECKOUT]`` (about three minutes a
configuration); ``--baseline`` also measures an earlier version (a ``git worktree``) with its own defaults.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import time
from pathlib import Path

import numpy as np
import websockets

sys.path.insert(0, str(Path(__file__).parent))
from common import espeak, percentile_table, piper_speech, server, summary, word_errors, write_results

from voxlive.speech.audio import resample
from voxlive.speech.tts import PiperTTS

RATE = 24_000
COMPLETE = [
    "What is the capital of France?",
    "How far away is the moon?",
    "Can you recommend a good book about history?",
    "Please set a timer for ten minutes.",
    "What is the weather going to be like tomorrow?",
    "Tell me a joke about computers.",
    "How do I make a cup of green tea?",
    "Who wrote the play Romeo and Juliet?",
]
PAUSED = [  # an unfinished sentence, a pause, then the rest
    ("I would like to book a table for", "two people at seven tonight."),
    ("Could you tell me the way to", "the nearest train station?"),
    ("My favourite kind of music is", "jazz from the nineteen fifties."),
    ("I need to buy some milk and", "a loaf of bread on the way home."),
    ("Remind me tomorrow morning to", "call my sister about the party."),
    ("The thing I really want to know is", "how long the flight takes."),
    ("Can you add eggs, butter and", "flour to my shopping list?"),
    ("What I was going to ask you is", "whether the museum is open on Sunday."),
]
PAUSE_MS = 800
MODES = {
    "server_vad": {"type": "server_vad", "silence_duration_ms": 500, "create_response": False},
    "azure_semantic_vad": {
        "type": "azure_semantic_vad",
        "silence_duration_ms": 500,
        "create_response": False,
        "end_of_utterance_detection": {"model": "semantic_detection_v1", "timeout_ms": 1000},
    },
    "semantic_vad": {"type": "semantic_vad", "eagerness": "auto", "create_response": False},
}
CONFIGS = {"default": "", "no turn model": "[turn]\nsmart_turn = false\n"}
BASELINE = "baseline"


async def utterances(piper: PiperTTS) -> list[tuple[str, np.ndarray, bool]]:
    """(text, audio with 300 ms of silence before and 1.5 s after, has an inner pause)."""
    out = []
    for index, text in enumerate(COMPLETE):
        audio = espeak(text, RATE) if index % 2 else await piper_speech(piper, text, RATE, vary=True)
        out.append((text, audio, False))
    pause = np.zeros(RATE * PAUSE_MS // 1000, np.int16)
    for index, (first, second) in enumerate(PAUSED):
        if index % 2:  # espeak: two takes joined by the pause (the first ends with a falling tone)
            audio = np.concatenate([espeak(first, RATE), pause, espeak(second, RATE)])
        else:  # Piper: one take cut after the last word of the first part (the tone stays up)
            spoken = await piper.synthesize(f"{first} {second}")
            last = [w for w in spoken.words if w.char_end <= len(first)][-1]
            cut = (last.start_ms + last.duration_ms) * spoken.sample_rate // 1000
            audio = resample(spoken.audio, spoken.sample_rate, RATE)
            cut = cut * RATE // spoken.sample_rate
            audio = np.concatenate([audio[:cut], pause, audio[cut:]])
        out.append((f"{first} {second}", audio, True))
    lead, tail = np.zeros(RATE * 3 // 10, np.int16), np.zeros(RATE * 3 // 2, np.int16)
    return [(text, np.concatenate([lead, audio, tail]), paused) for text, audio, paused in out]


def speech_end(audio: np.ndarray) -> int:
    """The sample after the last one above a speech level."""
    loud = np.flatnonzero(np.abs(audio.astype(np.int32)) > 600)
    return int(loud[-1]) + 1 if len(loud) else 0


async def collect(ws: websockets.ClientConnection, received: list[tuple[float, dict]]) -> None:
    while True:
        received.append((time.monotonic(), json.loads(await ws.recv())))


async def run_mode(url: str, detection: dict, items: list[tuple[str, np.ndarray, bool]]) -> list[dict]:
    results = []
    async with websockets.connect(f"{url}/voice-live/realtime", max_size=None) as ws:
        await ws.recv()
        session = {"turn_detection": detection, "input_audio_transcription": {"model": "whisper-1"}}
        await ws.send(json.dumps({"type": "session.update", "session": session}))
        while json.loads(await ws.recv())["type"] != "session.updated":
            pass
        for text, audio, paused in items:
            end = speech_end(audio)
            received: list[tuple[float, dict]] = []
            spoke_last_at = 0.0

            reader = asyncio.create_task(collect(ws, received))
            step = RATE // 10
            started = time.monotonic()
            for chunk_start in range(0, len(audio), step):
                chunk = audio[chunk_start : chunk_start + step]
                await ws.send(
                    json.dumps(
                        {"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk.tobytes()).decode()}
                    )
                )
                if chunk_start <= end < chunk_start + step:
                    spoke_last_at = time.monotonic() - (chunk_start + step - end) / RATE
                await asyncio.sleep(max(0.0, started + (chunk_start + step) / RATE - time.monotonic()))
            await asyncio.sleep(1.0)
            reader.cancel()
            commits = [t for t, e in received if e["type"] == "input_audio_buffer.committed"]
            transcripts = [(t, e) for t, e in received if e["type"].endswith("input_audio_transcription.completed")]
            results.append({
                "text": text,
                "paused": paused,
                "turns": len(commits),
                "end_of_turn_ms": (commits[-1] - spoke_last_at) * 1000 if commits else None,
                "transcript_ms": (transcripts[-1][0] - spoke_last_at) * 1000 if transcripts else None,
                "transcript": " | ".join(e["transcript"] for _, e in transcripts),
            })  # fmt: skip
            await ws.send(json.dumps({"type": "input_audio_buffer.clear"}))
    return results


def wer(results: list[dict]) -> float:
    counts = [word_errors(r["text"], r["transcript"].replace(" | ", " ")) for r in results]
    return 100 * sum(e for e, _ in counts) / max(1, sum(n for _, n in counts))


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(MODES), help="comma-separated turn-detection modes")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated server configurations")
    parser.add_argument("--baseline", help="a checkout of an earlier version to measure first, with its defaults")
    args = parser.parse_args()
    modes = [m for m in args.modes.split(",") if m]
    runs = [(BASELINE, "", args.baseline)] if args.baseline else []
    runs += [(name, CONFIGS[name], None) for name in args.configs.split(",") if name]
    piper = PiperTTS()
    await piper.load()
    items = await utterances(piper)
    rows: dict[str, list[float]] = {}
    report: dict[str, object] = {}
    lines = [f"{'configuration':<16} {'mode':<19} {'cut in two':>10} {'missed':>7} {'WER %':>6}"]
    for config, toml, source in runs:
        with server(toml, source) as url:
            for mode in modes:
                results = await run_mode(url, MODES[mode], items)
                name = f"{config}, {mode}"
                complete = [r for r in results if not r["paused"]]
                paused = [r for r in results if r["paused"]]
                rows[f"{name}: end of turn"] = [r["end_of_turn_ms"] for r in complete if r["end_of_turn_ms"]]
                rows[f"{name}: transcript"] = [r["transcript_ms"] for r in complete if r["transcript_ms"]]
                cut = sum(r["turns"] > 1 for r in paused)
                missed = sum(r["turns"] == 0 for r in results)
                report[name] = {
                    "end_of_turn_ms": summary(rows[f"{name}: end of turn"]),
                    "transcript_ms": summary(rows[f"{name}: transcript"]),
                    "false_cutoffs": f"{cut}/{len(paused)}",
                    "missed_turns": missed,
                    "wer_percent": wer(results),
                    "utterances": results,
                }
                lines.append(f"{config:<16} {mode:<19} {cut:>6}/{len(paused):<3} {missed:>7} {wer(results):>6.1f}")
    print(percentile_table("Turn detection and transcription, complete questions (client side, real time)", rows))
    print("\n".join(lines))
    print("results:", write_results("turns", report))


if __name__ == "__main__":
    asyncio.run(main())
