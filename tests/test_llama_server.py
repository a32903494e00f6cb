"""The llama-server provider: llama.cpp's server on the bundled GGUF, started, restarted and stopped by voxlive."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import websockets

from conftest import Client, collect, start_server, stop_server, text_of
from voxlive.speech.llama_server import LlamaServerLLM
from voxlive.speech.llm import Finished, LLMRequest, TextDelta, ToolCallDone, Trimmed, Usage

pytestmark = pytest.mark.models

SYSTEM = {"role": "system", "content": "You are a helpful assistant. Answer in one short sentence."}
WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    },
}


def question(text: str, max_tokens: int = 40) -> LLMRequest:
    return LLMRequest([SYSTEM, {"role": "user", "content": text}], temperature=0.0, max_tokens=max_tokens)


@pytest.fixture(scope="module")
async def served() -> AsyncIterator[LlamaServerLLM]:
    llm = LlamaServerLLM(slots=2, context_tokens=2048, threads=2)
    await llm.load()
    yield llm
    await llm.close()


async def test_a_question_is_answered_as_a_stream(served: LlamaServerLLM) -> None:
    events = await collect(served, question("What is the capital of France?"))
    assert "Paris" in text_of(events)
    assert len([e for e in events if isinstance(e, TextDelta)]) > 1
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.input_tokens > 10 and usage.output_tokens > 0
    assert events[-1] == Finished("stop")
    # it yields the cores to the speech a user waits for: a lower CPU priority than this process's
    assert served.server is not None and served.server.process is not None
    own = os.getpriority(os.PRIO_PROCESS, 0)
    assert os.getpriority(os.PRIO_PROCESS, served.server.process.pid) == min(own + 10, 19)


async def test_two_replies_are_generated_at_once(served: LlamaServerLLM) -> None:
    order: list[tuple[str, str]] = []

    async def reply(name: str) -> None:
        request = question("Count from one to forty in words, separated by commas.", max_tokens=120)
        async for event in served.stream(request):
            if isinstance(event, TextDelta) and (name, "first") not in order:
                order.append((name, "first"))
            if isinstance(event, Finished):
                order.append((name, "done"))

    await asyncio.gather(reply("a"), reply("b"))
    firsts = [i for i, (_, what) in enumerate(order) if what == "first"]
    dones = [i for i, (_, what) in enumerate(order) if what == "done"]
    assert len(firsts) == 2 and len(dones) == 2
    assert max(firsts) < min(dones), f"one reply ended before the other began: {order}"


async def test_a_conversation_longer_than_a_slot_drops_its_oldest_turns_and_is_answered(
    served: LlamaServerLLM,
) -> None:
    story = "The lighthouse keeper climbed the stairs again and looked at the grey sea for a long while. " * 12
    turns = [
        message
        for n in range(24)  # about 3,500 tokens: more than the slot's 2,048
        for message in ({"role": "user", "content": f"Part {n}: {story}"}, {"role": "assistant", "content": "Noted."})
    ]
    request = LLMRequest(
        [SYSTEM, *turns, {"role": "user", "content": "What is the capital of France?"}],
        temperature=0.0,
        max_tokens=40,
    )
    events = await collect(served, request)
    trimmed = events[0]
    assert isinstance(trimmed, Trimmed) and 0 < trimmed.messages < len(turns) and not trimmed.instructions_cut
    assert "Paris" in text_of(events) and events[-1] == Finished("stop")
    usage = next(e for e in events if isinstance(e, Usage))
    assert usage.input_tokens + usage.output_tokens <= 2048


async def test_a_tool_call_comes_back_as_a_call(served: LlamaServerLLM) -> None:
    messages = [SYSTEM, {"role": "user", "content": "What's the weather in Paris?"}]
    events = await collect(served, LLMRequest(messages, [WEATHER_TOOL], "auto", temperature=0.0, max_tokens=60))
    calls = [e for e in events if isinstance(e, ToolCallDone)]
    assert [c.name for c in calls] == ["get_weather"]
    assert "Paris" in calls[0].arguments
    assert "get_weather" not in text_of(events)
    assert events[-1] == Finished("tool_calls")

    greeting = [SYSTEM, {"role": "user", "content": "Hello, how are you?"}]
    for choice in ("required", {"type": "function", "function": {"name": "get_weather"}}):
        events = await collect(served, LLMRequest(greeting, [WEATHER_TOOL], choice, temperature=0.0, max_tokens=60))
        assert [e.name for e in events if isinstance(e, ToolCallDone)] == ["get_weather"], choice
        assert text_of(events) == "" and events[-1] == Finished("tool_calls")


async def test_a_killed_server_fails_its_reply_and_is_restarted(served: LlamaServerLLM) -> None:
    assert served.server is not None and served.server.process is not None
    killed = served.server.process.pid
    dead: set[int] = set()
    with pytest.raises(ConnectionError, match="llama-server"):
        async for event in served.stream(question("Write a long story about a lighthouse keeper.", 400)):
            if isinstance(event, TextDelta) and killed not in dead:
                os.kill(killed, signal.SIGKILL)
                dead.add(killed)
            assert not isinstance(event, Finished), "the reply went on after its server was killed"

    with pytest.raises(ConnectionError, match="llama-server"):  # until it is back, a reply fails at once
        await collect(served, question("What is the capital of France?"))
    deadline = time.monotonic() + 180
    while not served.server.running:
        assert time.monotonic() < deadline, "llama-server was not restarted"
        await asyncio.sleep(0.1)
    events = await collect(served, question("What is the capital of France?"))
    assert "Paris" in text_of(events)
    assert served.server.process.pid != killed


async def test_voxlive_serve_answers_a_text_turn_through_llama_server(tmp_path: Path) -> None:
    config = '[llm]\nprovider = "llama-server"\nslots = 2\ncontext_tokens = 2048\n[session]\ntemperature = 0.0\n'
    server = start_server(tmp_path, config)
    try:
        children = Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
        llama_servers = [pid for pid in children if "llama-server" in Path(f"/proc/{pid}/cmdline").read_text()]
        assert len(llama_servers) == 1
        async with websockets.connect(f"{server.ws}/voice-live/realtime?api-version=2025-10-01&model=m") as ws:
            client = Client(ws)
            await client.until("conversation.created")
            await client.send({"type": "session.update", "session": {"modalities": ["text"]}})
            await client.until("session.updated")
            text = {"type": "input_text", "text": "What is the capital of France? Answer in one word."}
            await client.send(
                {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": [text]}}
            )
            await client.send({"type": "response.create"})
            done = (await client.until("response.done"))[-1]["response"]
        assert done["status"] == "completed"
        assert "Paris" in done["output"][0]["content"][0]["text"]
    finally:
        stop_server(server)
    assert server.process.returncode == 0
    assert not Path(f"/proc/{llama_servers[0]}").exists(), "llama-server outlived voxlive serve"
