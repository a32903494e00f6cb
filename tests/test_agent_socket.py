"""The VoiceAgent WebSocket protocol end to end against ``voxlive serve`` (``/ws/voice``, ``/ws/video``)."""

from __future__ import annotations

import base64
import io
import json
import wave
from typing import Any

import pytest
import websockets

from benchmarks.common import spoken
from conftest import Server
from voxlive.speech import files


async def until(ws: websockets.ClientConnection, kind: str, timeout: float = 90) -> list[dict[str, Any]]:
    """Every message up to and including the first of type ``kind``."""
    import asyncio

    messages = []
    while True:
        message = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        messages.append(message)
        if message["type"] == kind:
            return messages


def before(types: list[str], *order: str) -> bool:
    positions = [types.index(kind) for kind in order]
    return positions == sorted(positions)


async def test_the_voice_agent_protocol_with_text_audio_and_an_interrupt(server: Server, piper) -> None:
    async with websockets.connect(f"{server.ws}/ws/voice", max_size=None) as ws:
        await ws.send("{not json")
        assert "not valid JSON" in (await until(ws, "error"))[-1]["error"]
        await ws.send('{"type": "transcript", "text": ' + "[" * 5000 + "]" * 5000 + "}")
        assert "deeper than" in (await until(ws, "error"))[-1]["error"]
        await ws.send(json.dumps({"type": "nonsense"}))
        assert "Unknown message type 'nonsense'" in (await until(ws, "error"))[-1]["error"]

        await ws.send(json.dumps({"type": "transcript", "text": "What is the capital of France?"}))
        messages = await until(ws, "response_complete")
        types = [m["type"] for m in messages]
        assert before(types, "stream_start", "text_start", "text_delta", "speech_stream_start", "audio_chunk")
        assert before(types, "audio_chunk", "stream_finish", "response_complete")
        assert before(types, "audio_chunk", "speech_stream_end", "response_complete")  # complete once spoken
        complete = messages[-1]
        assert "paris" in complete["text"].lower() and complete["toolCalls"] == []
        text = "".join(m["text"] for m in messages if m["type"] == "text_delta")
        assert text.strip() == complete["text"]
        chunk = next(m for m in messages if m["type"] == "audio_chunk")
        assert chunk["format"] == "wav" and chunk["chunkId"] >= 0 and chunk["text"]
        with wave.open(io.BytesIO(base64.b64decode(chunk["data"]))) as wav:
            assert wav.getnframes() > wav.getframerate() // 10

        question = await spoken(piper, "What is the capital of Spain?", rate=16_000)
        data = base64.b64encode(files.write(question, 16_000, "wav")).decode()
        await ws.send(json.dumps({"type": "audio", "data": data, "format": "audio/wav"}))
        messages = await until(ws, "response_complete")
        result = next(m for m in messages if m["type"] == "transcription_result")
        assert "spain" in result["text"].lower() and result["language"] == "en"
        assert "madrid" in messages[-1]["text"].lower()

        await ws.send(json.dumps({"type": "transcript", "text": "Tell me a long story about a robot and the sea."}))
        await until(ws, "audio_chunk")
        await ws.send(json.dumps({"type": "interrupt"}))
        messages = await until(ws, "response_complete")
        types = [m["type"] for m in messages]
        stop = types.index("speech_interrupted")
        assert messages[stop]["reason"] == "client_request"
        assert "audio_chunk" not in types[stop + 1 :] and "stream_abort" in types


async def test_the_video_agent_needs_a_vision_model(server: Server) -> None:
    async with websockets.connect(f"{server.ws}/ws/video") as ws:
        error = json.loads(await ws.recv())
        assert error["type"] == "error" and "reads images" in error["error"]
        with pytest.raises(websockets.ConnectionClosed):
            await ws.recv()


async def test_transcripts_in_quick_succession_do_not_wedge_the_agent(server: Server) -> None:
    async with websockets.connect(f"{server.ws}/ws/voice", max_size=None) as ws:
        for _ in range(3):
            await ws.send(json.dumps({"type": "transcript", "text": "What is two plus two?"}))
        await ws.send(json.dumps({"type": "transcript", "text": "What is the capital of Italy?"}))
        answers = [(await until(ws, "response_complete"))[-1]["text"] for _ in range(4)]
        assert "Rome" in answers[-1]  # each turn ends (interrupted ones with no text), in order
        await ws.send(json.dumps({"type": "transcript", "text": "And of France?"}))
        assert "Paris" in (await until(ws, "response_complete"))[-1]["text"]


async def test_the_agent_resumes_its_conversation_by_id(server: Server) -> None:
    """A client of ``/ws/voice`` learns its conversation's id and, reconnecting with it, goes on with it."""
    import asyncio
    import urllib.request

    async with websockets.connect(f"{server.ws}/ws/voice", max_size=None) as ws:
        opened = json.loads(await ws.recv())
        assert opened["type"] == "conversation" and opened["id"].startswith("conv_")
        await ws.send(json.dumps({"type": "transcript", "text": "What is the capital of Italy?"}))
        await until(ws, "response_complete")
    async with websockets.connect(f"{server.ws}/ws/voice?conversation-id={opened['id']}", max_size=None) as ws:
        assert json.loads(await ws.recv()) == {"type": "conversation", "id": opened["id"]}
        await ws.send(json.dumps({"type": "transcript", "text": "And of France?"}))
        assert "Paris" in (await until(ws, "response_complete"))[-1]["text"]

    def stored() -> dict[str, Any]:
        with urllib.request.urlopen(f"{server.http}/conversations/{opened['id']}") as answer:
            return json.loads(answer.read())

    items = (await asyncio.to_thread(stored))["items"]
    assert [item["role"] for item in items] == ["user", "assistant", "user", "assistant"]
    assert items[0]["content"][0]["text"] == "What is the capital of Italy?"
