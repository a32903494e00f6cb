"""Taking turns quickly: the turn model ends a finished question early, drafts, the first piece, barge-in in it."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from benchmarks.common import espeak, silence, spoken
from conftest import Client, stream_pcm
from voxlive.realtime.draft import same_request
from voxlive.speech.cpu import Priority
from voxlive.speech.llm import LLMRequest

SEMANTIC = {
    "type": "azure_semantic_vad",
    "silence_duration_ms": 1500,
    "create_response": False,
    "end_of_utterance_detection": {"model": "semantic_detection_v1", "timeout_ms": 1000},
}


async def configure(client: Client, **session: object) -> None:
    await client.send({"type": "session.update", "session": session})
    await client.until("session.updated")


async def test_a_finished_question_ends_the_turn_long_before_the_silence_would(client: Client, piper) -> None:
    """Only 700 ms of silence follow the question: plain VAD (1500 ms) never ends the turn, the turn model and
    the transcript together do (the silence is counted in audio, so this holds however busy the machine is)."""
    question = await spoken(piper, "What is the capital of France?", tail_ms=700)
    await configure(client, turn_detection={**SEMANTIC, "type": "server_vad", "end_of_utterance_detection": None})
    await stream_pcm(client.send, question, speed=4)
    kinds = [e["type"] for e in await client.processed()]
    assert "input_audio_buffer.speech_started" in kinds and "input_audio_buffer.committed" not in kinds
    await client.send({"type": "input_audio_buffer.clear"})
    await client.until("input_audio_buffer.cleared")

    await configure(client, turn_detection=SEMANTIC, input_audio_transcription={"model": "whisper-1"})
    await stream_pcm(client.send, question, speed=4)
    events = await client.until("input_audio_buffer.committed", timeout=60)
    started = next(e for e in events if e["type"] == "input_audio_buffer.speech_started")
    stopped = next(e for e in events if e["type"] == "input_audio_buffer.speech_stopped")
    speech_ms = len(question) // 24 - 300 - 700
    heard_ms = stopped["audio_end_ms"] - started["audio_start_ms"]  # with 300 ms of prefix padding
    assert speech_ms <= heard_ms <= speech_ms + 300 + 150  # the turn ends where the words end, not later
    completed = await client.until("conversation.item.input_audio_transcription.completed")
    assert "capital of france" in completed[-1]["transcript"].lower()


async def test_a_reply_is_drafted_from_the_same_words_however_they_are_written() -> None:
    """A draft answers the final request when the user's words differ only in case and punctuation."""
    system = {"role": "system", "content": "Be brief."}
    draft = LLMRequest([system, {"role": "user", "content": "What is the capital of France?"}])
    assert same_request(draft, LLMRequest([system, {"role": "user", "content": "what is the capital of France."}]))
    assert not same_request(draft, LLMRequest([system, {"role": "user", "content": "What is the capital of Spain?"}]))
    assert not same_request(draft, LLMRequest([{"role": "system", "content": "Be long."}, draft.messages[1]]))
    assert not same_request(draft, LLMRequest(draft.messages, temperature=0.1))


async def test_barge_in_during_the_first_piece_stops_it_and_truncates_what_was_heard(client: Client, piper) -> None:
    """The user speaks while the first piece plays: no audio of the reply follows, the item is cut at what was
    heard, and a client's own truncate sent during the cancellation works too."""
    await configure(client, turn_detection={"type": "server_vad", "silence_duration_ms": 400, "auto_truncate": True})
    story = "Tell me a long story about a dragon who learns to bake bread."
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": story}]},
        }
    )
    await client.send({"type": "response.create", "response": {"max_output_tokens": 300}})
    first = (await client.until("response.audio.delta"))[-1]
    interruption = await spoken(piper, "Please stop now.", lead_ms=100, tail_ms=900)
    sending = asyncio.create_task(stream_pcm(client.send, interruption, speed=4))
    events = await client.until("input_audio_buffer.speech_started")
    await client.send(
        {"type": "conversation.item.truncate", "item_id": first["item_id"], "content_index": 0, "audio_end_ms": 0}
    )
    events += await client.until("response.done")
    await sending
    started = next(i for i, e in enumerate(events) if e["type"] == "input_audio_buffer.speech_started")
    assert not [e for e in events[started:] if e["type"] == "response.audio.delta"]
    assert events[-1]["response"]["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    sent_ms = sum(len(e["delta"]) * 3 // 4 for e in events if e["type"] == "response.audio.delta") // 48
    ours = next(e for e in events if e["type"] == "conversation.item.truncated")  # what the server knows was played
    assert ours["item_id"] == first["item_id"] and 0 < ours["audio_end_ms"] < sent_ms
    if sum(e["type"] == "conversation.item.truncated" for e in events) < 2:
        events += await client.until("conversation.item.truncated")  # the client's, if it came after the end
    assert [e["audio_end_ms"] for e in events if e["type"] == "conversation.item.truncated"][1] == 0
    assert not [e for e in events if e["type"] == "error"]
    await client.send({"type": "conversation.item.retrieve", "item_id": first["item_id"]})
    item = (await client.until("conversation.item.retrieved"))[-1]["item"]
    assert item["content"][0]["transcript"] == "" and not item["content"][0].get("audio")  # the client heard nothing


def test_urgent_work_pauses_deferrable_work() -> None:
    priority = Priority()
    steps: list[float] = []

    def deferrable() -> None:
        for _ in range(20):
            priority.wait_turn()
            steps.append(time.monotonic())
            time.sleep(0.005)

    with priority.urgent():
        worker = threading.Thread(target=deferrable)
        worker.start()
        time.sleep(0.2)
        assert not steps  # it waits while urgent work runs
    worker.join(5)
    assert len(steps) == 20
    off = Priority(enabled=False)
    with off.urgent():
        waiting = threading.Thread(target=off.wait_turn)  # a disabled priority holds nothing back
        waiting.start()
        waiting.join(5)
        assert not waiting.is_alive()


@pytest.mark.models  # voxlive serve checking the model files
def test_a_missing_or_corrupt_turn_model_stops_the_server(tmp_path: Path) -> None:
    def serve() -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "VOXLIVE_CACHE_DIR": str(tmp_path)}
        command = [sys.executable, "-m", "voxlive", "serve", "--port", "9"]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    missing = serve()
    assert missing.returncode == 1 and "smart-turn-v3.2-cpu.onnx is missing" in missing.stderr
    assert "./scripts/setup.sh" in missing.stderr
    (tmp_path / "models").mkdir()
    (tmp_path / "models" / "smart-turn-v3.2-cpu.onnx").write_bytes(b"not a model")
    corrupt = serve()
    assert corrupt.returncode == 1 and "is corrupt" in corrupt.stderr, corrupt.stderr


async def test_espeak_voice_question_is_answered_with_the_turn_model(client: Client) -> None:
    """Another voice than the server's own: the fused judgement still ends the turn, and the reply follows."""
    question = np.concatenate([silence(300), espeak("How do I boil an egg?"), silence(1200)])
    await configure(client, modalities=["text"], turn_detection={**SEMANTIC, "create_response": True})
    await stream_pcm(client.send, question, speed=2)
    events = await client.until("response.done", timeout=90)
    assert [e["type"] for e in events].count("input_audio_buffer.committed") == 1
    assert events[-1]["response"]["status"] == "completed"
