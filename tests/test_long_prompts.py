"""Prompts longer than the local model's context: they are fitted to it, say so, and never hold up other sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import websockets

from conftest import Client, Server

PERSONA = "You are Captain Byte, a cheerful pirate who answers in one short sentence. "
FILLER = "Remember that the sea is wide and the wind is fair, and every sailor loves a good story. "


@asynccontextmanager
async def connected(server: Server) -> AsyncIterator[Client]:
    async with websockets.connect(f"{server.ws}/voice-live/realtime?api-version=2025-10-01&model=m") as ws:
        client = Client(ws)
        assert (await client.recv())["type"] == "session.created"
        await client.send({"type": "session.update", "session": {"modalities": ["text"], "turn_detection": None}})
        await client.until("session.updated")
        yield client


def message(role: str, text: str) -> dict[str, object]:
    kind = "input_text" if role == "user" else "text"
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": role, "content": [{"type": kind, "text": text}]},
    }


def reply_text(done: dict[str, object]) -> str:
    response = done["response"]
    assert isinstance(response, dict)
    return "".join(part.get("text", "") for item in response["output"] for part in item.get("content", []))


@pytest.mark.timeout(60, func_only=True)
async def test_a_cancelled_reply_to_huge_instructions_does_not_hold_up_another_session(server: Server) -> None:
    """One client's instructions longer than the context (the most a session may set), asked and cancelled, leave
    the model free for another client's question."""
    async with connected(server) as big, connected(server) as small:
        instructions = (PERSONA + FILLER * (32_000 // len(FILLER)))[:32_000]
        await big.send({"type": "session.update", "session": {"instructions": instructions}})
        await big.until("session.updated")
        await big.send(message("user", "Tell me a long story about the sea."))
        await big.send({"type": "response.create", "response": {"max_output_tokens": 16}})  # the longest prompt
        warned = (await big.until("warning"))[-1]["warning"]
        assert warned["code"] == "instructions_truncated"

        await small.send(message("user", "What is 2+2?"))
        await small.send({"type": "response.create", "response": {"max_output_tokens": 30}})
        await big.send({"type": "response.cancel"})
        cancelled, answered = await asyncio.gather(big.until("response.done"), small.until("response.done"))

    assert cancelled[-1]["response"]["status"] == "cancelled"
    assert answered[-1]["response"]["status"] == "completed"
    assert "4" in reply_text(answered[-1])
    assert not [e for e in answered if e["type"] in ("error", "warning")]


@pytest.mark.timeout(180, func_only=True)
async def test_a_conversation_longer_than_the_context_is_trimmed_with_a_warning(server: Server) -> None:
    """300 items of 4 KB: the reply reads what fits, the client is warned, and the response completes."""
    async with connected(server) as client:
        text = (FILLER * 50)[:4096]
        for n in range(300):
            await client.send(message("user" if n % 2 == 0 else "assistant", f"Note {n}. {text}"))
        await client.send(message("user", "What is 2+2?"))
        for _ in range(301):
            await client.until("conversation.item.created")
        await client.send({"type": "response.create"})
        events = await client.until("response.done")

    warnings = [e["warning"] for e in events if e["type"] == "warning"]
    assert [w["code"] for w in warnings] == ["conversation_trimmed"]
    assert "messages" in warnings[0]["message"]
    kinds = [e["type"] for e in events]
    assert kinds.index("warning") < kinds.index("response.done")
    assert events[-1]["response"]["status"] == "completed"
    assert "4" in reply_text(events[-1])
