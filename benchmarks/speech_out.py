"""Speech out: from the LLM's first token to the first audio delta, and the TTS alone.

Through ``/voice-live/realtime`` (a real ``voxlive serve``), asks N text questions with audio output and
measures on the client: ``response.created`` → ``response.output_item.added`` (sent when the LLM's first
text token arrives) → first ``response.audio.delta``. Then times Piper alone: first audio of a sentence
and the real-time factor. Run: ``.venv/bin/python benchmarks/speech_out.py``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

import websockets

sys.path.insert(0, str(Path(__file__).parent))
from common import percentile_table, server, summary, write_results

from voxlive.speech.tts import PiperTTS

QUESTIONS = [
    "What is the capital of France?",
    "Give me one tip for sleeping better.",
    "Why is the sky blue?",
    "What should I cook for dinner tonight?",
    "How many legs does a spider have?",
    "Tell me something interesting about octopuses.",
    "What is a good name for a cat?",
    "How do I say thank you in Spanish?",
    "Describe the sea in one sentence.",
    "What is two plus two?",
    "Recommend a board game for four people.",
    "What is the tallest mountain in the world?",
]


async def ask(url: str) -> dict[str, list[float]]:
    rows: dict[str, list[float]] = {"first token (response.create → first text)": [],
                                    "first token → first audio delta": [],
                                    "response.create → first audio delta": []}  # fmt: skip
    async with websockets.connect(f"{url}/voice-live/realtime", max_size=None) as ws:
        await ws.recv()
        for question in QUESTIONS:
            item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": question}]}
            await ws.send(json.dumps({"type": "conversation.item.create", "item": item}))
            sent = time.monotonic()
            await ws.send(json.dumps({"type": "response.create"}))
            first_text = first_audio = None
            while True:
                event = json.loads(await ws.recv())
                now = time.monotonic()
                if event["type"] == "response.output_item.added" and first_text is None:
                    first_text = now
                if event["type"] == "response.audio.delta" and first_audio is None:
                    first_audio = now
                if event["type"] == "response.done":
                    break
            if first_text and first_audio:
                rows["first token (response.create → first text)"].append((first_text - sent) * 1000)
                rows["first token → first audio delta"].append((first_audio - first_text) * 1000)
                rows["response.create → first audio delta"].append((first_audio - sent) * 1000)
    return rows


async def piper_alone() -> dict[str, list[float]]:
    tts = PiperTTS()
    await tts.load()
    await tts.synthesize("Warming up.")
    first, factor = [], []
    for question in QUESTIONS:
        began = time.perf_counter()
        speech = await tts.synthesize(question)
        elapsed = time.perf_counter() - began
        first.append(elapsed * 1000)
        factor.append(elapsed / (speech.duration_ms / 1000) * 1000)
    return {"Piper: one sentence, start → audio": first, "Piper: real-time factor (x1000)": factor}


async def main() -> None:
    with server() as url:
        rows = await ask(url)
    rows.update(await piper_alone())
    print(percentile_table("Speech out (client side; Piper alone in-process)", rows))
    print("results:", write_results("speech_out", {name: summary(values) for name, values in rows.items()}))


if __name__ == "__main__":
    asyncio.run(main())
