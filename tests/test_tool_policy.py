"""The embedded model's tool-use policy, through the server with its default settings: a question the tools do not
serve is answered, a request that needs a tool calls it with the right arguments."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import Client

TOOLS = [
    {"type": "function", "name": "get_weather", "description": "Get the current weather in a city.",
     "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}},
    {"type": "function", "name": "set_timer", "description": "Start a countdown timer.",
     "parameters": {"type": "object", "properties": {"minutes": {"type": "number"}}, "required": ["minutes"]}},
    {"type": "function", "name": "convert_currency", "description": "Convert an amount of money to another currency.",
     "parameters": {"type": "object", "properties": {"amount": {"type": "number"}, "from": {"type": "string"},
                                                    "to": {"type": "string"}}, "required": ["amount", "from", "to"]}},
]  # fmt: skip


async def reply_to(client: Client, text: str) -> dict[str, Any]:
    """The finished response to ``text`` in a text session offering the tools (``tool_choice`` ``auto``)."""
    session = {"modalities": ["text"], "turn_detection": None, "tools": TOOLS, "tool_choice": "auto"}
    await client.send({"type": "session.update", "session": session})
    await client.until("session.updated")
    item = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}
    await client.send({"type": "conversation.item.create", "item": item})
    await client.send({"type": "response.create"})
    [done] = [e for e in await client.until("response.done") if e["type"] == "response.done"]
    assert done["response"]["status"] == "completed"
    return done["response"]


async def test_a_question_the_tools_do_not_serve_is_answered(client: Client) -> None:
    response = await reply_to(client, "What is the capital of France?")
    assert [item["type"] for item in response["output"]] == ["message"]
    text = "".join(part.get("text") or "" for part in response["output"][0]["content"])
    assert "paris" in text.lower()


@pytest.mark.parametrize(
    "request_text, tool, arguments",
    [("What's the weather in Paris?", "get_weather", {"city": "Paris"}),
     ("Set a timer for ten minutes.", "set_timer", {"minutes": 10})],
)  # fmt: skip
async def test_a_request_that_needs_a_tool_calls_it_with_the_right_arguments(
    client: Client, request_text: str, tool: str, arguments: dict[str, Any]
) -> None:
    response = await reply_to(client, request_text)
    calls = [item for item in response["output"] if item["type"] == "function_call"]
    assert [call["name"] for call in calls] == [tool]
    given = json.loads(calls[0]["arguments"])
    for name, value in arguments.items():
        assert given[name] == value or str(given[name]).lower() == str(value).lower()
