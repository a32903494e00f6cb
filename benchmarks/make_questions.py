"""Records the spoken questions the real-time benchmarks play (``latency.py``, ``concurrency.py``).

Sixteen short questions a person asks a voice assistant, alternately spoken by Piper (voxlive's bundled
voice) and by espeak-ng (en-us, 150 words per minute), trimmed to the speech with a 30 ms margin each side
and stored as 16 kHz mono 16-bit WAV files in ``benchmarks/data/``, listed with their text, voice and
speech duration in ``benchmarks/data/questions.json``. Run once: ``.venv/bin/python benchmarks/make_questions.py``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))
from common import espeak, piper_speech, write_wav

from voxlive.speech.tts import PiperTTS

DATA = Path(__file__).parent / "data"
RATE = 16_000
MARGIN_MS = 30
QUESTIONS = [
    "What is the capital of France?",
    "How far away is the moon?",
    "Who painted the Mona Lisa?",
    "Can you tell me a fun fact about dolphins?",
    "How do I boil an egg?",
    "What's the weather usually like in London in spring?",
    "How many days are there in a leap year?",
    "What is the tallest mountain in the world?",
    "Can you recommend a good movie for tonight?",
    "How do you say hello in Japanese?",
    "Why is the sky blue?",
    "What should I cook for dinner tonight?",
    "How long does it take to walk a mile?",
    "What is the biggest animal on Earth?",
    "Could you explain what a black hole is?",
    "What's a good name for a puppy?",
]


def speech_bounds(audio: np.ndarray, frame: int = RATE // 100) -> tuple[int, int]:
    """First and one-past-last sample of the 10 ms frames louder than 40 dB below the loudest frame."""
    frames = audio[: len(audio) // frame * frame].astype(np.float64).reshape(-1, frame)
    level = np.sqrt(np.mean(frames**2, axis=1))
    loud = np.flatnonzero(level > max(level.max() / 100, 30.0))
    return int(loud[0]) * frame, (int(loud[-1]) + 1) * frame


def trimmed(audio: np.ndarray) -> tuple[np.ndarray, int]:
    """16 kHz ``audio`` cut to its speech with ``MARGIN_MS`` each side (silence where the recording had none),
    and the speech's duration in ms."""
    margin = RATE * MARGIN_MS // 1000
    start, end = speech_bounds(audio)
    padded = np.concatenate([np.zeros(margin, np.int16), audio, np.zeros(margin, np.int16)])
    return padded[start : end + 2 * margin], (end - start) * 1000 // RATE  # [start - margin, end + margin)


async def main() -> None:
    DATA.mkdir(exist_ok=True)
    piper = PiperTTS()
    await piper.load()
    listing = []
    for index, text in enumerate(QUESTIONS):
        voice = "espeak" if index % 2 else "piper"
        audio = await piper_speech(piper, text, RATE, vary=True) if voice == "piper" else espeak(text, RATE)
        clip, speech_ms = trimmed(audio)
        name = f"q{index + 1:02d}_{voice}.wav"
        write_wav(DATA / name, clip, RATE)
        listing.append({"file": name, "text": text, "voice": voice, "speech_ms": speech_ms, "margin_ms": MARGIN_MS})
        print(f"{name:<18} {speech_ms:>5} ms  {text}")
    (DATA / "questions.json").write_text(json.dumps(listing, indent=2) + "\n")


if __name__ == "__main__":
    asyncio.run(main())
