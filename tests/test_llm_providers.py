"""The LLM stage: the local llama.cpp model, and a real OpenAI-compatible server on the same weights."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator

import pytest

from conftest import collect, free_port, text_of, wait_healthy
from voxlive.speech.assets import llm_model_path
from voxlive.speech.llama_cpp_llm import FittingStopped, LlamaCppLLM
from voxlive.speech.llm import Finished, LLMRequest, ToolCallDone, Usage
from voxlive.speech.openai_compatible_llm import OpenAICompatibleLLM

pytestmark = pytest.mark.models

SYSTEM = {"role": "system", "content": "You are a helpful assistant. Answer in one short sentence."}
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Get the current weather for a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
        },
    }
]


@pytest.fixture(scope="module")
async def local() -> AsyncIterator[LlamaCppLLM]:
    llm = LlamaCppLLM(seed=1)
    await llm.load()
    yield llm


@pytest.fixture(scope="module")
def llama_server() -> Iterator[str]:
    """llama-cpp-python's own OpenAI-compatible server on the bundled GGUF."""
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(llm_model_path(progress=False)),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}/v1/models", process)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(timeout=15)


async def test_local_model_answers_and_reuses_the_prompt_cache(local: LlamaCppLLM) -> None:
    first = [SYSTEM, {"role": "user", "content": "What is the capital of France?"}]
    events = await collect(local, LLMRequest(first, temperature=0.0, max_tokens=30))
    assert "Paris" in text_of(events)
    usage = next(e for e in events if isinstance(e, Usage))
    assert isinstance(events[-1], Finished) and events[-1].reason == "stop"
    second = [*first, {"role": "assistant", "content": text_of(events)}, {"role": "user", "content": "And Italy?"}]
    events = await collect(local, LLMRequest(second, temperature=0.0, max_tokens=30))
    again = next(e for e in events if isinstance(e, Usage))
    assert again.cached_tokens >= usage.input_tokens - 1
    assert again.input_tokens > usage.input_tokens


async def test_a_prompt_read_ahead_is_found_in_the_cache(local: LlamaCppLLM) -> None:
    """The user's words so far are read ahead: the whole question then finds all but its last words cached."""
    history = [
        SYSTEM,
        {"role": "user", "content": "Hi there."},
        {"role": "assistant", "content": "Hello! How can I help?"},
    ]
    await collect(local, LLMRequest([SYSTEM, {"role": "user", "content": "Say yes."}], max_tokens=2))  # another prompt
    partial = LLMRequest([*history, {"role": "user", "content": "What is the capital"}], max_tokens=8)
    await local.prefill(partial)
    whole = LLMRequest([*history, {"role": "user", "content": "What is the capital of Italy?"}], max_tokens=8)
    usage = next(e for e in await collect(local, whole) if isinstance(e, Usage))
    assert usage.input_tokens - 12 <= usage.cached_tokens < usage.input_tokens  # without it: the system prompt only


async def test_local_model_forced_tool_call_and_length_limit(local: LlamaCppLLM) -> None:
    messages = [SYSTEM, {"role": "user", "content": "How warm is it in Oslo?"}]
    forced = {"type": "function", "function": {"name": "get_weather"}}
    events = await collect(local, LLMRequest(messages, TOOLS, forced, temperature=0.0))
    calls = [e for e in events if isinstance(e, ToolCallDone)]
    assert [c.name for c in calls] == ["get_weather"] and "Oslo" in calls[0].arguments
    assert text_of(events) == ""
    assert events[-1] == Finished("tool_calls")

    events = await collect(local, LLMRequest(messages, temperature=0.0, max_tokens=2))
    assert events[-1] == Finished("length")
    assert next(e for e in events if isinstance(e, Usage)).output_tokens == 2


async def test_tool_choice_none_never_calls(local: LlamaCppLLM) -> None:
    messages = [SYSTEM, {"role": "user", "content": "What is the weather in Paris?"}]
    events = await collect(local, LLMRequest(messages, TOOLS, "none", temperature=0.0, max_tokens=40))
    assert not [e for e in events if isinstance(e, ToolCallDone)]
    assert text_of(events).strip() and not text_of(events).lstrip().startswith("{")


async def test_an_answered_call_is_not_made_again_and_allowed_tools_are_enforced(local: LlamaCppLLM) -> None:
    asked = [SYSTEM, {"role": "user", "content": "How warm is it in Oslo?"}]
    call = {"id": "c1", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    answered = [
        *asked,
        {"role": "assistant", "content": "", "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "c1", "content": "It is 21 degrees and sunny in Oslo."},
    ]
    for choice in ("auto", "required"):
        events = await collect(local, LLMRequest(answered, TOOLS, choice, temperature=0.0, max_tokens=60))
        again = [e for e in events if isinstance(e, ToolCallDone) and json.loads(e.arguments) == {"city": "Oslo"}]
        assert again == [] and isinstance(events[-1], Finished)

    only = {"type": "function", "function": {"name": "get_weather"}}
    allowed = {"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [only]}}
    events = await collect(local, LLMRequest(asked, TOOLS, allowed, temperature=0.0))
    assert [e.name for e in events if isinstance(e, ToolCallDone)] == ["get_weather"]


def prompt_text(llm: LlamaCppLLM, tokens: list[int]) -> str:
    return llm._llama.detokenize(tokens, special=True).decode()


async def test_a_long_conversation_loses_whole_turns_oldest_first(local: LlamaCppLLM) -> None:
    filler = "The sea was calm and the crew sang songs all night long. " * 8
    call = {"id": "c2", "type": "function", "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}
    messages = [SYSTEM]
    for n in range(6):
        messages.append({"role": "user", "content": f"Question {n}. {filler}"})
        if n == 2:  # a turn with a tool call: the call, its result and the answer go with the question
            messages.append({"role": "assistant", "content": "", "tool_calls": [call]})
            messages.append({"role": "tool", "tool_call_id": "c2", "content": f"Result 2. {filler}"})
        messages.append({"role": "assistant", "content": f"Answer {n}. {filler}"})
    messages.append({"role": "user", "content": "Question 6. Which song did they sing?"})
    request = LLMRequest(messages, TOOLS)
    questions = [i for i, m in enumerate(messages) if m["role"] == "user"]
    kept_before = 8
    for budget in (2000, 1600, 1300, 1000, 700, 400):
        fitted = local.fit_prompt(request, budget)
        text = prompt_text(local, fitted.tokens)
        kept = [n for n in range(7) if f"Question {n}." in text]
        assert kept == list(range(7 - len(kept), 7)) and len(kept) <= kept_before  # the newest turns, fewer each time
        assert all((f"Answer {n}." in text) == (n in kept) for n in range(6))
        assert ("Result 2." in text) == (2 in kept)
        assert fitted.dropped == questions[kept[0]] - 1
        assert text.startswith(f"<|im_start|>system\n{SYSTEM['content']}") and not fitted.instructions_cut
        assert text.endswith("Which song did they sing?<|im_end|>\n<|im_start|>assistant\n")
        assert len(fitted.tokens) <= budget
        kept_before = len(kept)
    assert kept_before == 1 and fitted.dropped == len(messages) - 2


async def test_instructions_longer_than_the_context_keep_their_start(local: LlamaCppLLM) -> None:
    persona = "You are Captain Byte, a cheerful pirate. "
    instructions = persona + "Every sailor loves a good story about the wide sea. " * 20_000  # 1 MB
    messages = [
        {"role": "system", "content": instructions},
        {"role": "user", "content": "Hello."},
        {"role": "assistant", "content": "Ahoy!"},
        {"role": "user", "content": "What is 2+2?"},
    ]
    fitted = local.fit_prompt(LLMRequest(messages), 2048)
    text = prompt_text(local, fitted.tokens)
    assert fitted.instructions_cut and fitted.dropped == 2
    assert text.startswith(f"<|im_start|>system\n{persona}") and "Ahoy" not in text
    assert text.endswith("What is 2+2?<|im_end|>\n<|im_start|>assistant\n") and len(fitted.tokens) <= 2048
    with pytest.raises(FittingStopped):  # a cancelled reply's fitting stops
        local.fit_prompt(LLMRequest(messages), 2048, lambda: True)


async def test_openai_compatible_llm_against_llama_cpp_server(llama_server: str) -> None:
    llm = OpenAICompatibleLLM(base_url=llama_server, api_key="none", model="qwen")
    messages = [SYSTEM, {"role": "user", "content": "What is the capital of France?"}]
    events = await collect(llm, LLMRequest(messages, temperature=0.0, max_tokens=30))
    assert "Paris" in text_of(events)
    assert isinstance(events[-1], Finished)

    weather = [SYSTEM, {"role": "user", "content": "What is the weather in Paris right now?"}]
    events = await collect(llm, LLMRequest(weather, TOOLS, "auto", temperature=0.0, max_tokens=60))
    calls = [e for e in events if isinstance(e, ToolCallDone)]
    assert [c.name for c in calls] == ["get_weather"]
    assert "Paris" in calls[0].arguments
    assert "get_weather" not in text_of(events)
    assert events[-1] == Finished("tool_calls")
