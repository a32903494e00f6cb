"""VoiceAgent and VideoAgent in process, on the embedded local stack: events, methods, tools, barge-in, history."""

from __future__ import annotations

import asyncio
import base64
import io
import re
import wave
from typing import Any

import numpy as np
import pytest

from benchmarks.common import espeak, spoken
from voxlive.agent import (
    AgentDestroyedError,
    AgentError,
    AudioChunk,
    EventEmitter,
    HistoryCleared,
    HistoryOptions,
    SpeechOptions,
    TextDelta,
    Tool,
    ToolResult,
    VideoAgent,
    VoiceAgent,
)
from voxlive.agent.connection import wire_message
from voxlive.realtime.conversation import chat_messages
from voxlive.speech import files
from voxlive.speech.openai_compatible_llm import OpenAICompatibleLLM


def get_weather(city: str, unit: str = "celsius") -> str:
    """The weather now in a city.

    Args:
        city: The city's name, e.g. Paris.
        unit: celsius or fahrenheit.
    """
    return f"It is 21 degrees {unit} and sunny in {city}."


def record(agent: EventEmitter, *names: str) -> list[tuple[str, Any]]:
    """Every event of ``names``, in order, with its payload."""
    seen: list[tuple[str, Any]] = []
    for name in names:
        agent.on(name, lambda *payload, name=name: seen.append((name, payload[0] if payload else None)))
    return seen


async def wav_words(data: bytes, whisper_stt: Any) -> str:
    from voxlive.speech.audio import resample, to_float

    with wave.open(io.BytesIO(data)) as wav:
        audio = np.frombuffer(wav.readframes(wav.getnframes()), "<i2")
        rate = wav.getframerate()
    return (await whisper_stt.transcribe(to_float(resample(audio, rate, 16_000)))).text


def words(text: str) -> str:
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


@pytest.fixture
async def agent():
    made = VoiceAgent(temperature=0)
    yield made
    await made.destroy()


# --- the parts -------------------------------------------------------------------------------------


def test_a_tool_schema_comes_from_type_hints_and_the_docstring() -> None:
    schema = Tool.from_function(get_weather).schema()["function"]
    assert schema["name"] == "get_weather" and schema["description"] == "The weather now in a city."
    parameters = schema["parameters"]
    assert parameters["required"] == ["city"]
    assert parameters["properties"]["city"] == {"type": "string", "description": "The city's name, e.g. Paris."}
    assert parameters["properties"]["unit"]["default"] == "celsius"
    assert parameters["additionalProperties"] is False


async def test_a_tool_call_validates_its_arguments_and_runs_sync_or_async() -> None:
    async def add(a: int, b: int) -> int:
        """Add two numbers."""
        return a + b

    assert await Tool.from_function(add).call('{"a": 2, "b": "3"}') == 5
    assert await Tool.from_function(get_weather).call({"city": "Oslo"}) == "It is 21 degrees celsius and sunny in Oslo."
    with pytest.raises(ValueError):
        await Tool.from_function(add).call('{"a": 2}')


async def test_listeners_sync_async_once_off_decorator_and_failures() -> None:
    emitter = EventEmitter()
    got: list[Any] = []

    @emitter.on("text")
    def sync(payload: Any) -> None:
        got.append(("sync", payload))

    async def later(payload: Any) -> None:
        got.append(("async", payload))

    emitter.on("text", later)
    emitter.once("text", lambda payload: got.append(("once", payload)))
    emitter.emit("text", 1)
    emitter.emit("text", 2)
    await emitter.drain()
    assert got == [("sync", 1), ("once", 1), ("sync", 2), ("async", 1), ("async", 2)]  # async ones as tasks

    emitter.off("text", sync)
    errors: list[Any] = []
    emitter.on("error", errors.append)
    emitter.on("text", lambda payload: 1 / 0)
    emitter.emit("text", 3)
    await emitter.drain()
    assert isinstance(errors[0], ZeroDivisionError) and ("sync", 3) not in got


async def test_listeners_by_class_get_the_event_and_by_name_the_seed_payload() -> None:
    emitter = EventEmitter()
    got: list[Any] = []
    emitter.on(TextDelta, got.append)
    emitter.on("chunk:text_delta", got.append)
    emitter.once(HistoryCleared, got.append)
    emitter.on("history_cleared", lambda: got.append("cleared"))
    emitter.emit(TextDelta(id="item_1", text="Hi"))
    emitter.emit(HistoryCleared())
    emitter.emit(HistoryCleared())
    assert got == [
        TextDelta(id="item_1", text="Hi"),
        {"id": "item_1", "text": "Hi"},
        HistoryCleared(),
        "cleared",
        "cleared",
    ]

    result = ToolResult(name="get_weather", tool_call_id="call_1", result="Sunny.")
    assert result.payload() == ({"name": "get_weather", "toolCallId": "call_1", "result": "Sunny."},)
    assert wire_message(result) == {"type": "tool_result", "toolName": "get_weather", "toolCallId": "call_1",
                                    "result": "Sunny."}  # fmt: skip
    chunk = AudioChunk(chunk_id=0, data="AAA=", format="wav", text="Hello.", uint8_array=b"\0\0")
    assert chunk.payload()[0]["uint8Array"] == b"\0\0" and "uint8Array" not in (wire_message(chunk) or {})
    error = ValueError("bad")
    assert AgentError(error=error).payload() == (error,)
    assert wire_message(AgentError(error=error)) == {"type": "error", "error": "bad"}


def fake_engine() -> Any:
    """Enough of an engine to construct an agent on: no model is loaded."""
    from types import SimpleNamespace

    from voxlive.agent.setup import AGENT_SETTINGS

    voices = SimpleNamespace(voice_names=lambda: ["alloy"])
    return SimpleNamespace(settings=AGENT_SETTINGS, default_voice="alloy", tts=voices)


def test_the_options_are_taken_as_mappings_with_the_seed_keys() -> None:
    agent = VoiceAgent(engine=fake_engine(), history={"max_messages": 2}, streaming_speech={"minChunkSize": 30})
    assert agent.history_options == HistoryOptions(max_messages=2)
    assert agent.streaming_speech == SpeechOptions(min_chunk_size=30)
    agent = VoiceAgent(engine=fake_engine(), history={"maxMessages": 4, "maxTotalChars": 500})
    assert agent.history_options == HistoryOptions(max_messages=4, max_total_chars=500)
    assert VoiceAgent(engine=fake_engine(), history=None).history_options == HistoryOptions()


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"history": {"max_message": 2}}, "Unknown history option"),
        ({"history": {"maxMessages": "2"}}, "max_messages must be int"),
        ({"history": {"maxMessages": 2, "max_messages": 3}}, "twice"),
        ({"history": 5}, "history must be HistoryOptions or a mapping"),
        ({"streaming_speech": {"parallelGeneration": 1}}, "parallel_generation must be bool"),
        ({"streaming_speech": {"chunkSize": 10}}, "Unknown streaming_speech option"),
    ],
)
def test_options_that_are_not_the_seeds_are_refused_at_once(options: dict[str, Any], problem: str) -> None:
    with pytest.raises(TypeError, match=problem):
        VoiceAgent(engine=fake_engine(), **options)
    with pytest.raises(TypeError, match="max_total_chars must be int"):
        HistoryOptions(max_total_chars=1.5)  # type: ignore[arg-type]


# --- VoiceAgent on the local stack -----------------------------------------------------------------


async def test_text_in_spoken_answer_out_in_the_seed_order(agent: VoiceAgent, whisper) -> None:
    seen = record(
        agent,
        "text",
        "chunk:text_delta",
        "speech_chunk_queued",
        "speech_start",
        "audio_chunk",
        "speech_complete",
    )
    reply = await agent.send_text("What is the capital of France?")
    assert "paris" in reply.lower()
    names = [name for name, _ in seen]
    assert seen[0] == ("text", {"role": "user", "text": "What is the capital of France?"})
    assert seen[-1] == ("text", {"role": "assistant", "text": reply})
    assert names.index("chunk:text_delta") < names.index("speech_chunk_queued") < names.index("speech_start")
    assert names.index("speech_start") < names.index("audio_chunk") < names.index("speech_complete")
    assert names.count("speech_start") == names.count("speech_complete") == 1
    deltas = "".join(p["text"] for n, p in seen if n == "chunk:text_delta")
    assert deltas.strip() == reply
    chunks = [p for n, p in seen if n == "audio_chunk"]
    queued = [p for n, p in seen if n == "speech_chunk_queued"]
    assert [c["chunkId"] for c in chunks] == [q["id"] for q in queued]
    assert all(c["format"] == "wav" and base64.b64decode(c["data"]) == c["uint8Array"] for c in chunks)
    heard = " ".join([await wav_words(c["uint8Array"], whisper) for c in chunks])
    assert "paris" in words(heard)
    assert not agent.speaking and not agent.processing and agent.pending_speech_chunks == 0


@pytest.mark.models
async def test_a_tool_is_called_and_the_call_and_result_stay_in_history() -> None:
    agent = VoiceAgent(tools=[get_weather], temperature=0, output_format="pcm16")
    seen = record(agent, "chunk:tool_call", "tool_result", "text")
    try:
        reply = await agent.send_text("What's the weather like in Paris?")
    finally:
        history = agent.history
        await agent.destroy()
    [call] = [p for n, p in seen if n == "chunk:tool_call"]
    assert call["toolName"] == "get_weather" and call["input"]["city"] == "Paris"
    [result] = [p for n, p in seen if n == "tool_result"]
    assert result == {"name": "get_weather", "toolCallId": call["toolCallId"], "result": get_weather("Paris")}
    assert "21" in reply or "sunny" in reply.lower()
    roles = [m["role"] for m in history]
    assert roles[0] == "user" and "tool" in roles and roles[-1] == "assistant"
    calls = [m for m in history if m.get("tool_calls")]
    assert calls[0]["tool_calls"][0]["id"] == call["toolCallId"]


async def test_audio_in_is_transcribed_then_answered(agent: VoiceAgent, piper) -> None:
    seen = record(agent, "audio_received", "transcription", "text")
    question = await spoken(piper, "What is the capital of Italy?", rate=16_000)
    data = files.write(question, 16_000, "wav")
    reply = await agent.send_audio(base64.b64encode(data).decode(), "audio/wav")
    names = [n for n, _ in seen]
    assert names[:3] == ["audio_received", "transcription", "text"]
    assert seen[0][1] == {"size": len(data), "format": "audio/wav"}
    assert "capital of italy" in words(seen[1][1]["text"]) and seen[1][1]["language"] == "en"
    assert seen[2][1]["role"] == "user"
    assert "rome" in reply.lower()


@pytest.mark.models
async def test_interrupting_the_response_stops_the_speech_at_once(agent: VoiceAgent) -> None:
    seen = record(agent, "audio_chunk", "speech_interrupted", "speech_complete", "chunk:text_delta")
    agent.once("audio_chunk", lambda chunk: agent.interrupt_current_response())
    await agent.send_text("Tell me a long story about a robot who lives in a lighthouse.")
    names = [n for n, _ in seen]
    assert ("speech_interrupted", {"reason": "interrupted"}) in seen
    cut = names.index("speech_interrupted")
    assert "audio_chunk" not in names[cut + 1 :] and "speech_complete" not in names
    assert not agent.speaking and agent.pending_speech_chunks == 0
    # the next turn speaks again
    seen.clear()
    await agent.send_text("Say hello.")
    assert "audio_chunk" in [n for n, _ in seen]


@pytest.mark.models
async def test_interrupting_the_speech_lets_the_text_go_on(agent: VoiceAgent) -> None:
    seen = record(agent, "audio_chunk", "speech_interrupted", "chunk:text_delta", "text")
    agent.once("audio_chunk", lambda chunk: agent.interrupt_speech("client_request"))
    reply = await agent.send_text("Tell me a long story about a robot who lives in a lighthouse.")
    names = [n for n, _ in seen]
    cut = names.index("speech_interrupted")
    assert seen[cut][1] == {"reason": "client_request"}
    assert "audio_chunk" not in names[cut + 1 :]
    assert "chunk:text_delta" in names[cut + 1 :]  # the model went on writing
    assert seen[-1] == ("text", {"role": "assistant", "text": reply}) and len(reply) > 80


@pytest.mark.models
async def test_history_is_trimmed_by_whole_turns_by_both_limits() -> None:
    agent = VoiceAgent(temperature=0, history=HistoryOptions(max_messages=4), output_format="pcm16")
    seen = record(agent, "history_trimmed")
    for question in ["Say one.", "Say two.", "Say three."]:
        await agent.send_text(question)
    assert seen == [("history_trimmed", {"removedCount": 2, "reason": "max_messages"})]
    assert [m["content"] for m in agent.history if m["role"] == "user"] == ["Say two.", "Say three."]
    await agent.destroy()

    agent = VoiceAgent(temperature=0, history=HistoryOptions(max_total_chars=120), output_format="pcm16")
    seen = record(agent, "history_trimmed")
    for question in ["What is the capital of France?", "What is the capital of Spain?"]:
        await agent.send_text(question)
    assert seen and all(p["reason"] == "max_chars" and p["removedCount"] >= 2 for _, p in seen)
    assert agent.history[0] == {"role": "user", "content": "What is the capital of Spain?"}
    await agent.destroy()


async def test_the_stages_alone_history_and_lifecycle(agent: VoiceAgent, whisper) -> None:
    seen = record(agent, "transcription", "speech_start", "audio", "speech_complete", "history_cleared", "error")
    wav = files.write(espeak("Good morning everyone", 16_000), 16_000, "wav")
    assert "good morning" in words(await agent.transcribe_audio(wav))
    mp3 = await VoiceAgent(temperature=0, output_format="mp3").generate_speech_full("Hello there.")
    speech = await agent.generate_speech_full("Hello there, how are you?")
    assert "there how are you" in words(await wav_words(speech, whisper))  # "Hello" is sometimes heard as "Oh"
    assert mp3[:3] == b"ID3" or mp3[0] == 0xFF
    assert [n for n, _ in seen][1:4] == ["speech_start", "audio", "speech_complete"]
    assert seen[1][1] == {"text": "Hello there, how are you?", "streaming": False}

    agent.set_history([{"role": "user", "content": "My name is Ada."}, {"role": "assistant", "content": "Hi Ada!"}])
    copy = agent.history
    copy.append({"role": "user", "content": "changed"})
    assert len(agent.history) == 2
    assert "ada" in (await agent.send_text("What is my name?")).lower()
    agent.clear_history()
    assert agent.history == [] and ("history_cleared", None) in seen

    agent.register_tools([get_weather])
    assert "get_weather" in agent.tools
    with pytest.raises(ValueError, match="empty"):
        await agent.send_text("   ")
    small = VoiceAgent(max_audio_input_size=10)
    errors = record(small, "error")
    assert await small.send_audio(b"x" * 11) == ""
    assert len(errors) == 1 and "too large" in str(errors[0][1])
    await agent.destroy()
    with pytest.raises(AgentDestroyedError):
        await agent.send_text("Hello?")
    assert agent.destroyed and not agent.connected


# --- VideoAgent ------------------------------------------------------------------------------------


def image(color: tuple[int, int, int], box: tuple[int, int, int, int] = (40, 40, 160, 200)) -> str:
    """A WebP picture: a plain background with a box of the opposite colour."""
    from PIL import Image, ImageDraw

    picture = Image.new("RGB", (320, 240), color)
    ImageDraw.Draw(picture).rectangle(box, fill=(255 - color[0], 255 - color[1], 255 - color[2]))
    out = io.BytesIO()
    picture.save(out, "WEBP")
    return base64.b64encode(out.getvalue()).decode()


def frame(data: str, sequence: int, trigger: str = "timer") -> dict[str, Any]:
    return {"type": "video_frame", "sequence": sequence, "timestamp": 1000 + sequence, "triggerReason": trigger,
            "image": {"data": data, "format": "webp", "width": 320, "height": 240}}  # fmt: skip


def test_a_video_agent_without_a_vision_model_says_so() -> None:
    with pytest.raises(ValueError, match="reads images"):
        VideoAgent()


def vision_agent(**options: Any) -> VideoAgent:
    """A VideoAgent whose LLM is declared vision-capable; these tests never call it."""
    llm = OpenAICompatibleLLM(base_url="http://127.0.0.1:9/v1", api_key=None, model="vision", vision=True)
    return VideoAgent(llm=llm, **options)


async def test_frames_initial_scene_change_and_a_bounded_context() -> None:
    agent = vision_agent(max_context_frames=2)
    seen = record(agent, "frame_received", "config_changed", "frame_requested", "error")
    first, same = image((200, 30, 30)), image((200, 30, 30))
    other, third = image((30, 30, 200), (180, 10, 310, 120)), image((20, 200, 20), (0, 150, 320, 240))
    agent.take_frame(frame(first, 1))
    agent.take_frame(frame(same, 2))
    agent.take_frame(frame(other, 3))
    triggers = [p["triggerReason"] for n, p in seen if n == "frame_received"]
    assert triggers == ["initial", "timer", "scene_change"]
    assert [f["sequence"] for f in agent.frame_context] == [2, 3]  # the timer frame replaced its twin
    assert seen[0][1]["dimensions"] == {"width": 320, "height": 240} and seen[0][1]["size"] > 0
    agent.take_frame(frame(third, 4, "user_request"))
    assert [f["sequence"] for f in agent.frame_context] == [3, 4]
    agent.update_config(max_context_frames=1)
    assert [f["sequence"] for f in agent.frame_context] == [4]
    assert ("config_changed", {"maxContextFrames": 1}) in seen

    big = vision_agent(max_frame_input_size=100)
    errors = record(big, "error")
    assert big.take_frame(frame(first, 1)) is None and "too large" in str(errors[0][1])

    from voxlive.protocol import InputTextContentPart, MessageItem

    item = MessageItem(id="item_1", role="user", content=[InputTextContentPart(text="What do you see?")])
    agent.request_frame_capture("user_request")
    waiting = asyncio.ensure_future(agent._with_frames(item))
    await asyncio.sleep(0.05)
    assert not waiting.done()  # the turn waits for the requested frame
    agent.take_frame(frame(other, 5, "user_request"))
    assert await asyncio.wait_for(waiting, 2) is True
    [message] = chat_messages([item], "", images=True)
    assert message["content"][0] == {"type": "text", "text": "What do you see?"}
    assert [p["type"] for p in message["content"]] == ["text", "image_url"]
    assert message["content"][1]["image_url"]["url"].startswith("data:image/webp;base64,")
    assert chat_messages([item], "") == [{"role": "user", "content": "What do you see?"}]
    assert ("frame_requested", {"reason": "user_request"}) in seen


@pytest.mark.models
async def test_the_example_agent_runs_its_tool_and_speaks(tmp_path) -> None:
    import subprocess
    import sys
    from pathlib import Path

    example = Path(__file__).parent.parent / "examples" / "voice_agent.py"
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(example), "What's the weather in Paris?"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert run.returncode == 0, run.stderr[-2000:]
    assert "[tool] get_weather({'city': 'Paris'})" in run.stdout
    assert (tmp_path / "reply-0.wav").stat().st_size > 10_000


@pytest.mark.models
async def test_connect_takes_a_servers_messages_as_the_clients_and_disconnect_cleans_up() -> None:
    """``connect(url)``: the agent dials a WebSocket server, which then talks to it like a client."""
    import json

    import websockets

    replies: list[dict[str, Any]] = []
    finished = asyncio.Event()

    async def client_side(ws: Any) -> None:
        await ws.send(json.dumps({"type": "transcript", "text": "What is the capital of France?"}))
        async for message in ws:
            replies.append(json.loads(message))
            if replies[-1]["type"] == "response_complete":
                finished.set()

    async with websockets.serve(client_side, "127.0.0.1", 0) as relay:
        port = relay.sockets[0].getsockname()[1]
        agent = VoiceAgent(temperature=0, output_format="pcm16")
        seen = record(agent, "connected", "disconnected", "speech_interrupted")
        await agent.connect(f"ws://127.0.0.1:{port}")
        assert agent.connected and seen[0] == ("connected", None)
        await asyncio.wait_for(finished.wait(), 120)
        assert "paris" in replies[-1]["text"].lower()
        chunk = next(m for m in replies if m["type"] == "audio_chunk")
        assert chunk["format"] == "pcm16" and len(base64.b64decode(chunk["data"])) % 2 == 0
        await agent.disconnect()
        assert not agent.connected and ("disconnected", None) in seen
        await agent.destroy()


async def test_a_video_client_gets_its_session_and_frame_acks() -> None:
    import json

    import websockets

    got: list[dict[str, Any]] = []
    done = asyncio.Event()

    async def client_side(ws: Any) -> None:
        await ws.send(json.dumps({"type": "client_ready", "capabilities": {"camera": True}}))
        await ws.send(json.dumps(frame(image((200, 30, 30)), 7)))
        await ws.send(json.dumps({"type": "video_frame", "sequence": 8, "image": {}}))
        async for message in ws:
            got.append(json.loads(message))
            if len(got) == 3:
                done.set()

    async with websockets.serve(client_side, "127.0.0.1", 0) as relay:
        agent = vision_agent(session_id="vs_test")
        ready = record(agent, "client_ready", "frame_received", "warning")
        await agent.connect(f"ws://127.0.0.1:{relay.sockets[0].getsockname()[1]}")
        await asyncio.wait_for(done.wait(), 10)
        await agent.destroy()
    assert got[0] == {"type": "session_init", "sessionId": "vs_test"}
    assert got[1] == {"type": "frame_ack", "sequence": 7, "timestamp": 1007}
    assert got[2]["type"] == "error" and "image.data" in got[2]["error"]
    assert ready[0] == ("client_ready", {"camera": True}) and ready[1][1]["triggerReason"] == "initial"
    assert ready[2][0] == "warning"
