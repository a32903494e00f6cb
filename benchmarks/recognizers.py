"""The recognizers side by side: milliseconds per turn and word error rate, in one run.

Two sets of turns. ``sentences``: every sentence of ``latency.py`` and ``turns.py`` spoken by Piper and by
three espeak-ng voices, each clean and with pink noise mixed in at 15 dB SNR, and the sentences of ``turns.py``
also with an 800 ms pause inside (as a turn that goes on after a pause). ``quality``: the spoken questions of
``quality.py`` in the same voices, clean and noisy as that benchmark makes them (10-20 dB SNR), with their
``tune`` and ``held_out`` splits reported apart. Each turn is transcribed whole (as a turn is at its pause).

A recognizer is ``NAME/BEAM`` and options after further slashes: Whisper ``tiny.en`` or ``base``
(faster-whisper, int8; ``f32``: float32; ``trim``: faster-whisper's voice-activity trimming first;
``prompt``: the default instructions as the initial prompt, the conversation's context on a first turn;
``hotwords``: the words of the quality set's tool names and descriptions as a phrase list, as a session with
those tools would give), or Moonshine ``moonshine-tiny`` (onnxruntime); BEAM 1 is greedy. The word error
rate counts words after lowercasing, dropping punctuation and spelling numbers out.

Run: ``.venv/bin/python benchmarks/recognizers.py [--set sentences|quality] [--recognizers "tiny.en/1,tiny.en/1/f32"]``
(about ten minutes for the sentences, twenty for the quality set).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
import zlib
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import espeak, percentile_table, speech, summary, with_noise, word_errors, write_results
from make_questions import QUESTIONS
from quality import DATA, items, recording
from turns import COMPLETE, PAUSE_MS, PAUSED

from voxlive.config import SessionDefaults
from voxlive.speech.audio import STAGE_RATE, resample, to_float
from voxlive.speech.prosody import Prosody
from voxlive.speech.stt import STT
from voxlive.speech.tts import PiperTTS

VOICES = ("piper", "en-us", "en-gb-scotland+m3", "en-us+f3")
NOISE_SNR_DB = 15
RECOGNIZERS = ("tiny.en/1", "tiny.en/5", "base/1", "moonshine-tiny/1", "moonshine-tiny/2", "moonshine-tiny/3")
"""Recognizer/beam width[/options]."""
QUALITY_RECOGNIZERS = ("moonshine-tiny/3", "moonshine-tiny/1", "tiny.en/1", "tiny.en/5", "tiny.en/1/f32",
                       "tiny.en/1/trim", "tiny.en/1/prompt", "tiny.en/1/hotwords", "base/1")  # fmt: skip


async def quality_utterances() -> list[dict[str, object]]:
    """The quality benchmark's spoken questions in every voice, clean and noisy, with their split."""
    piper = PiperTTS()
    await piper.load()
    questions = json.loads((DATA / "quality.json").read_text())["questions"]
    out: list[dict[str, object]] = []
    for question, voice, condition, snr in items(questions, list(VOICES), ["clean", "noisy"]):
        audio, _ = await recording(piper, question["text"], voice)
        if snr is not None:
            audio = with_noise(audio, snr, seed=zlib.crc32(f"{question['id']} {voice}".encode()))
        out.append({"text": question["text"], "voice": voice, "condition": condition, "split": question["split"],
                    "audio": to_float(audio)})  # fmt: skip
    return out


def hotwords() -> str:
    """The phrase list a session offering the quality set's tools would give: their names' and descriptions' words."""
    tools = json.loads((DATA / "quality.json").read_text())["tools"]
    text = " ".join(f"{t['name']} {t['description']}" for t in tools).replace("_", " ").lower()
    words = re.findall(r"[a-z]{4,}", text)
    return ", ".join(dict.fromkeys(w for w in words if w not in {"current", "with", "that", "from", "this"}))


async def utterances() -> list[dict[str, object]]:
    """Each sentence in each voice, clean and noisy: text, voice, condition, 16 kHz float32 audio."""
    piper = PiperTTS()
    await piper.load()
    texts = list(dict.fromkeys([*QUESTIONS, *COMPLETE, *(f"{a} {b}" for a, b in PAUSED)]))
    out: list[dict[str, object]] = []
    for index, text in enumerate(texts):
        for voice in VOICES:
            audio = await speech(piper, text, voice)
            for condition in ("clean", f"noise {NOISE_SNR_DB} dB"):
                noisy = audio if condition == "clean" else with_noise(audio, NOISE_SNR_DB, index)
                out.append({"text": text, "voice": voice, "condition": condition, "audio": to_float(noisy)})
    pause = np.zeros(STAGE_RATE * PAUSE_MS // 1000, np.int16)
    for first, second in PAUSED:
        for voice in VOICES:
            if voice == "piper":  # one take cut after the first part's last word (the tone stays up)
                spoken = await piper.synthesize(f"{first} {second}", prosody=Prosody(variation=0))
                last = [w for w in spoken.words if w.char_end <= len(first)][-1]
                cut = (last.start_ms + last.duration_ms) * STAGE_RATE // 1000
                whole = resample(spoken.audio, spoken.sample_rate, STAGE_RATE)
                audio = np.concatenate([whole[:cut], pause, whole[cut:]])
            else:
                audio = np.concatenate([espeak(first, STAGE_RATE, voice), pause, espeak(second, STAGE_RATE, voice)])
            out.append(
                {"text": f"{first} {second}", "voice": voice, "condition": "pause inside", "audio": to_float(audio)}
            )
    return out


def recognizer(spec: str) -> tuple[STT, str | None]:
    """The recognizer a spec names, and the prompt it is given."""
    name, beam, *options = spec.split("/")
    if name == "moonshine-tiny":
        from voxlive.speech.moonshine import MoonshineSTT

        return MoonshineSTT(beam=int(beam)), None
    from voxlive.speech.stt import WhisperSTT

    compute = "float32" if "f32" in options else "int8"
    stt = WhisperSTT(name, beam=int(beam), compute_type=compute, trim="trim" in options)
    prompt = SessionDefaults().instructions if "prompt" in options else hotwords() if "hotwords" in options else None
    return stt, prompt


async def measure(name: str, items: list[dict[str, object]]) -> list[dict[str, object]]:
    stt, prompt = recognizer(name)
    await stt.load()
    await stt.transcribe(np.zeros(STAGE_RATE, np.float32))
    results = []
    for item in items:
        audio = item["audio"]
        assert isinstance(audio, np.ndarray)
        began = time.perf_counter()
        transcript = await stt.transcribe(audio, prompt=prompt)
        elapsed = (time.perf_counter() - began) * 1000
        errors, words = word_errors(str(item["text"]), transcript.text)
        results.append({**{k: v for k, v in item.items() if k != "audio"}, "heard": transcript.text, "ms": elapsed,
                        "audio_s": len(audio) / STAGE_RATE, "errors": errors, "words": words})  # fmt: skip
    return results


def wer(results: list[dict[str, object]]) -> float:
    errors = sum(int(r["errors"]) for r in results)  # type: ignore[call-overload]
    return 100 * errors / max(1, sum(int(r["words"]) for r in results))  # type: ignore[call-overload]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="sentences", choices=["sentences", "quality"], dest="turns")
    chosen = f"default: {','.join(RECOGNIZERS)} (quality: {','.join(QUALITY_RECOGNIZERS)})"
    parser.add_argument("--recognizers", help=chosen)
    args = parser.parse_args()
    default = QUALITY_RECOGNIZERS if args.turns == "quality" else RECOGNIZERS
    names = [n for n in (args.recognizers or ",".join(default)).split(",") if n]
    items = await (quality_utterances() if args.turns == "quality" else utterances())
    report: dict[str, object] = {"set": args.turns, "utterances": len(items), "voices": VOICES}
    timings: dict[str, list[float]] = {}
    print(f"{len(items)} utterances; word error rate (%) by condition, split and voice:")
    conditions = sorted({str(i["condition"]) for i in items})
    splits = sorted({str(i["split"]) for i in items if "split" in i})
    columns = [*conditions, *splits]
    print(f"{'recognizer':<20} {'all':>6} " + " ".join(f"{c[:12]:>12}" for c in [*columns, *VOICES]))
    for name in names:
        results = await measure(name, items)
        timings[f"{name}: ms per turn"] = [float(r["ms"]) for r in results]  # type: ignore[arg-type]
        by_condition = {c: wer([r for r in results if r["condition"] == c]) for c in conditions}
        by_split = {s: wer([r for r in results if r.get("split") == s]) for s in splits}
        by_voice = {v: wer([r for r in results if r["voice"] == v]) for v in VOICES}
        cells = [*by_condition.values(), *by_split.values(), *by_voice.values()]
        print(f"{name:<20} {wer(results):>6.1f} " + " ".join(f"{c:>12.1f}" for c in cells))
        report[name] = {
            "wer_percent": wer(results),
            "wer_by_condition": by_condition,
            "wer_by_split": by_split,
            "wer_by_voice": by_voice,
            "ms_per_turn": summary(timings[f"{name}: ms per turn"]),
            "results": results,
        }
    print()
    print(percentile_table("Transcription time of a whole turn (audio 1-6 s)", timings))
    print("results:", write_results(f"recognizers-{args.turns}", report))


if __name__ == "__main__":
    asyncio.run(main())
