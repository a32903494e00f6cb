"""The recognizers side by side: milliseconds per turn and word error rate, in one run.

Every sentence of ``latency.py`` and ``turns.py`` spoken by Piper and by three espeak-ng voices, each clean
and with pink noise mixed in at 15 dB SNR, and the sentences of ``turns.py`` also with an 800 ms pause inside
(as a turn that goes on after a pause), transcribed whole (as a turn is at its pause) by each recognizer:
Whisper ``tiny.en`` and ``base`` (faster-whisper, int8) and Moonshine ``tiny`` (onnxruntime), each with a
beam search of the width named (1: greedy). The word error rate counts words after lowercasing, dropping
punctuation and spelling numbers out.

Run: ``.venv/bin/python benchmarks/recognizers.py [--recognizers "tiny.en/1,moonshine-tiny/3"]`` (about ten minutes).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import espeak, percentile_table, speech, summary, with_noise, word_errors, write_results
from make_questions import QUESTIONS
from turns import COMPLETE, PAUSE_MS, PAUSED

from voxlive.speech.audio import STAGE_RATE, resample, to_float
from voxlive.speech.prosody import Prosody
from voxlive.speech.stt import STT
from voxlive.speech.tts import PiperTTS

VOICES = ("piper", "en-us", "en-gb-scotland+m3", "en-us+f3")
NOISE_SNR_DB = 15
RECOGNIZERS = ("tiny.en/1", "tiny.en/5", "base/1", "moonshine-tiny/1", "moonshine-tiny/2", "moonshine-tiny/3")
"""Recognizer/beam width."""


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


def recognizer(spec: str) -> STT:
    name, beam = spec.split("/")
    if name == "moonshine-tiny":
        from voxlive.speech.moonshine import MoonshineSTT

        return MoonshineSTT(beam=int(beam))
    from voxlive.speech.stt import WhisperSTT

    return WhisperSTT(name, beam=int(beam))


async def measure(name: str, items: list[dict[str, object]]) -> list[dict[str, object]]:
    stt = recognizer(name)
    await stt.load()
    await stt.transcribe(np.zeros(STAGE_RATE, np.float32))
    results = []
    for item in items:
        audio = item["audio"]
        assert isinstance(audio, np.ndarray)
        began = time.perf_counter()
        transcript = await stt.transcribe(audio)
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
    parser.add_argument("--recognizers", default=",".join(RECOGNIZERS))
    args = parser.parse_args()
    names = [n for n in args.recognizers.split(",") if n]
    items = await utterances()
    report: dict[str, object] = {"utterances": len(items), "noise_snr_db": NOISE_SNR_DB, "voices": VOICES}
    timings: dict[str, list[float]] = {}
    print(f"{len(items)} utterances; word error rate (%) by condition and voice:")
    conditions = sorted({str(i["condition"]) for i in items})
    print(f"{'recognizer':<16} {'all':>6} " + " ".join(f"{c:>12}" for c in conditions)
          + " " + " ".join(f"{v[:12]:>12}" for v in VOICES))  # fmt: skip
    for name in names:
        results = await measure(name, items)
        timings[f"{name}: ms per turn"] = [float(r["ms"]) for r in results]  # type: ignore[arg-type]
        by_condition = {c: wer([r for r in results if r["condition"] == c]) for c in conditions}
        by_voice = {v: wer([r for r in results if r["voice"] == v]) for v in VOICES}
        print(f"{name:<16} {wer(results):>6.1f} " + " ".join(f"{by_condition[c]:>12.1f}" for c in conditions)
              + " " + " ".join(f"{by_voice[v]:>12.1f}" for v in VOICES))  # fmt: skip
        report[name] = {
            "wer_percent": wer(results),
            "wer_by_condition": by_condition,
            "wer_by_voice": by_voice,
            "ms_per_turn": summary(timings[f"{name}: ms per turn"]),
            "results": results,
        }
    print()
    print(percentile_table("Transcription time of a whole turn (audio 1-6 s)", timings))
    print("results:", write_results("recognizers", report))


if __name__ == "__main__":
    asyncio.run(main())
