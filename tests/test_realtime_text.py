"""Text conversations through ``/voice-live/realtime``, checked event by event on the wire."""

from __future__ import annotations

import json

from conftest import Client

WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Get the current weather for a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
}


def user_text(text: str, **extra: object) -> dict[str, object]:
    return {
        "type": "conversation.item.create",
        "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]},
        **extra,
    }


async def test_session_created_carries_the_full_config(server) -> None:
    import websockets

    async with websockets.connect(f"{server.ws}/voice-live/realtime?api-version=2025-10-01&model=my-model") as ws:
        created = json.loads(await ws.recv())
    session = created["session"]
    assert created["type"] == "session.created"
    assert session["id"].startswith("sess_") and session["model"] == "my-model"
    assert session["modalities"] == ["text", "audio"]
    assert session["turn_detection"]["type"] == "server_vad"
    assert session["tools"] == [] and session["tool_choice"] == "auto"


async def test_session_update_merges_and_invalid_update_keeps_the_old_config(client: Client) -> None:
    await client.send({"type": "session.update", "session": {"instructions": "Be brief.", "turn_detection": None}})
    updated = (await client.until("session.updated"))[-1]["session"]
    assert updated["instructions"] == "Be brief."
    assert updated["turn_detection"] is None
    assert updated["modalities"] == ["text", "audio"]

    await client.send({"type": "session.update", "event_id": "bad1", "session": {"temperature": "warm"}})
    error = await client.recv()
    assert error["type"] == "error"
    assert error["error"]["param"] == "session.temperature" and error["error"]["event_id"] == "bad1"

    await client.send({"type": "session.update", "event_id": "bad2", "session": {"modalities": ["audio"]}})
    error = await client.recv()
    assert error["error"]["param"] == "session.modalities"

    await client.send({"type": "session.update", "session": {"temperature": 0.5}})
    updated = (await client.until("session.updated"))[-1]["session"]
    assert updated["instructions"] == "Be brief." and updated["temperature"] == 0.5
    assert updated["turn_detection"] is None


async def test_items_create_retrieve_delete_and_order(client: Client) -> None:
    await client.send(user_text("first", event_id="c1"))
    first = (await client.until("conversation.item.created"))[-1]
    assert first["previous_item_id"] is None
    first_id = first["item"]["id"]
    assert first["item"]["status"] == "completed" and first["item"]["object"] == "realtime.item"

    await client.send(user_text("second"))
    second = (await client.until("conversation.item.created"))[-1]
    assert second["previous_item_id"] == first_id

    await client.send({**user_text("zeroth"), "previous_item_id": "root"})
    zeroth = (await client.until("conversation.item.created"))[-1]
    assert zeroth["previous_item_id"] is None

    await client.send({**user_text("custom id"), "item": {**user_text("x")["item"], "id": "my_item"}})
    custom = (await client.until("conversation.item.created"))[-1]
    assert custom["item"]["id"] == "my_item"

    await client.send({"type": "conversation.item.retrieve", "item_id": first_id})
    retrieved = (await client.until("conversation.item.retrieved"))[-1]
    assert retrieved["item"]["content"][0]["text"] == "first"

    await client.send({"type": "conversation.item.delete", "item_id": first_id})
    assert (await client.until("conversation.item.deleted"))[-1]["item_id"] == first_id

    for event in (
        {"type": "conversation.item.retrieve", "item_id": first_id, "event_id": "e1"},
        {"type": "conversation.item.delete", "item_id": "nope", "event_id": "e2"},
        {
            "type": "conversation.item.truncate",
            "item_id": "nope",
            "content_index": 0,
            "audio_end_ms": 10,
            "event_id": "e3",
        },
        {**user_text("after a missing item"), "previous_item_id": "nope", "event_id": "e4"},
        {**user_text("duplicate"), "item": {**user_text("x")["item"], "id": "my_item"}, "event_id": "e5"},
    ):
        await client.send(event)
        error = await client.recv()
        assert error["type"] == "error", error
        assert error["error"]["event_id"] == event["event_id"]
        assert error["error"]["code"] in ("item_not_found", "duplicate_item_id")

    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": "my_item",
            "content_index": 0,
            "audio_end_ms": 10,
            "event_id": "e6",
        }
    )
    error = await client.recv()
    assert error["error"]["event_id"] == "e6" and "assistant" in error["error"]["message"]

    await client.send(
        {
            "type": "conversation.item.create",
            "event_id": "e7",
            "item": {"type": "function_call_output", "call_id": "call_unknown", "output": "{}"},
        }
    )
    error = await client.recv()
    assert error["error"]["param"] == "item.call_id"


async def test_text_response_event_sequence(client: Client) -> None:
    await client.send({"type": "session.update", "session": {"modalities": ["text"]}})
    await client.until("session.updated")
    await client.send(user_text("What is the capital of France? Answer in one word."))
    user_item = (await client.until("conversation.item.created"))[-1]["item"]
    await client.send({"type": "response.create"})
    events = await client.until("response.done")
    kinds = [e["type"] for e in events]
    head = [
        "response.created",
        "response.output_item.added",
        "conversation.item.created",
        "response.content_part.added",
    ]
    tail = ["response.text.done", "response.content_part.done", "response.output_item.done", "response.done"]
    assert kinds[:4] == head and kinds[-4:] == tail
    deltas = [e for e in events if e["type"] == "response.text.delta"]
    assert deltas and set(kinds[4:-4]) == {"response.text.delta"}
    text = "".join(e["delta"] for e in deltas)
    assert "Paris" in text
    assert events[-4]["text"] == text
    created = events[2]
    assert created["previous_item_id"] == user_item["id"]
    done = events[-1]["response"]
    assert done["status"] == "completed" and done["status_details"] is None
    assert done["output"][0]["content"][0] == {"type": "text", "text": text}
    assert done["output"][0]["status"] == "completed"
    usage = done["usage"]
    assert usage["input_tokens"] > 10 and usage["output_tokens"] > 0
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    ids = {e.get("response_id") for e in events if "response_id" in e}
    assert ids == {done["id"]}

    # The next turn reuses the cached prompt prefix (system prompt and earlier turns).
    await client.send(user_text("And of Italy?"))
    await client.send({"type": "response.create"})
    second = (await client.until("response.done"))[-1]["response"]
    assert second["usage"]["input_token_details"]["cached_tokens"] >= usage["input_tokens"] - 2


async def test_only_one_response_at_a_time_and_cancel(client: Client) -> None:
    await client.send({"type": "session.update", "session": {"modalities": ["text"]}})
    await client.until("session.updated")
    await client.send(user_text("Tell me a long story about a lighthouse keeper and his cat."))
    await client.send({"type": "response.create", "response": {"max_output_tokens": 400}})
    await client.until("response.text.delta")
    await client.send({"type": "response.create", "event_id": "second"})
    await client.send({"type": "response.cancel", "event_id": "cancel"})
    events = await client.until("response.done")
    errors = [e for e in events if e["type"] == "error"]
    assert [e["error"]["event_id"] for e in errors] == ["second"]
    assert errors[0]["error"]["code"] == "conversation_already_has_active_response"
    done = events[-1]["response"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
    assert done["output"][0]["status"] == "incomplete"
    kinds = [e["type"] for e in events]
    assert kinds.index("response.output_item.done") < kinds.index("response.done")

    await client.send({"type": "response.cancel", "event_id": "nothing"})
    error = await client.recv()
    assert error["error"]["code"] == "response_cancel_not_active"

    # The session still answers.
    await client.send({"type": "response.create", "response": {"max_output_tokens": 5}})
    assert (await client.until("response.done"))[-1]["response"]["status"] in ("completed", "incomplete")


async def test_a_response_cancelled_as_soon_as_it_is_created_is_announced_and_closed(client: Client) -> None:
    await client.send({"type": "session.update", "session": {"modalities": ["text"]}})
    await client.until("session.updated")
    await client.send(user_text("Count from one to twenty."))
    for _ in range(3):
        await client.send({"type": "response.create"})
        await client.send({"type": "response.cancel"})
        events = await client.until("response.done")
        created = [e for e in events if e["type"] == "response.created"]
        done = events[-1]["response"]
        assert len(created) == 1 and created[0]["response"]["id"] == done["id"]
        assert done["status"] == "cancelled" and done["status_details"]["reason"] == "client_cancelled"
        assert not [e for e in events if e["type"] == "error"]
    await client.send({"type": "response.create", "response": {"max_output_tokens": 5}})
    assert (await client.until("response.done"))[-1]["response"]["status"] in ("completed", "incomplete")


async def test_max_output_tokens_gives_incomplete(client: Client) -> None:
    await client.send({"type": "session.update", "session": {"modalities": ["text"], "max_response_output_tokens": 3}})
    await client.until("session.updated")
    await client.send(user_text("Count slowly from one to fifty in words."))
    await client.send({"type": "response.create"})
    done = (await client.until("response.done"))[-1]["response"]
    assert done["status"] == "incomplete"
    assert done["status_details"] == {"type": "incomplete", "reason": "max_output_tokens"}
    assert done["usage"]["output_tokens"] <= 4
    assert done["max_output_tokens"] == 3


async def test_function_tool_round_trip(client: Client) -> None:
    instructions = "You are a helpful voice assistant. Use the tool results to answer the user in one short sentence."
    await client.send(
        {
            "type": "session.update",
            "session": {
                "modalities": ["text"],
                "tools": [WEATHER_TOOL],
                "tool_choice": "auto",
                "instructions": instructions,
            },
        }
    )
    await client.until("session.updated")
    await client.send(user_text("What is the weather in Paris right now?"))
    await client.send({"type": "response.create", "response": {"tool_choice": "get_weather"}})
    events = await client.until("response.done")
    kinds = [e["type"] for e in events]
    assert "response.text.delta" not in kinds
    added = next(e for e in events if e["type"] == "response.output_item.added")
    assert added["item"]["type"] == "function_call" and added["item"]["name"] == "get_weather"
    deltas = [e["delta"] for e in events if e["type"] == "response.function_call_arguments.delta"]
    done_args = next(e for e in events if e["type"] == "response.function_call_arguments.done")
    assert "".join(deltas) == done_args["arguments"]
    assert json.loads(done_args["arguments"])["city"].lower() == "paris"
    call = events[-1]["response"]["output"][0]
    assert call["call_id"] == done_args["call_id"] and call["status"] == "completed"

    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": call["call_id"],
                "output": json.dumps({"temperature_celsius": 31, "sky": "sunny"}),
            },
        }
    )
    await client.until("conversation.item.created")
    await client.send({"type": "response.create", "response": {"tool_choice": "none"}})
    events = await client.until("response.done")
    text = "".join(e["delta"] for e in events if e["type"] == "response.text.delta")
    assert "31" in text or "sunny" in text.lower(), text


async def test_response_overrides_and_out_of_band(client: Client) -> None:
    await client.send({"type": "session.update", "session": {"modalities": ["text"]}})
    await client.until("session.updated")
    await client.send(
        {
            "type": "response.create",
            "response": {
                "conversation": "none",
                "metadata": {"topic": "greeting"},
                "max_output_tokens": 20,
                "instructions": "Reply with exactly the word: banana.",
                "input": [{"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Go."}]}],
            },
            "additional_instructions": "Use lowercase.",
        }
    )
    events = await client.until("response.done")
    kinds = [e["type"] for e in events]
    assert "conversation.item.created" not in kinds
    done = events[-1]["response"]
    assert done["conversation_id"] is None and done["metadata"] == {"topic": "greeting"}
    assert "banana" in done["output"][0]["content"][0]["text"].lower()


async def test_pre_generated_message_and_cancel_previous(client: Client) -> None:
    await client.send({"type": "session.update", "session": {"modalities": ["text"]}})
    await client.until("session.updated")
    fixed = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": "Welcome to voxlive!"}]}
    await client.send({"type": "response.create", "response": {"pre_generated_assistant_message": fixed}})
    events = await client.until("response.done")
    assert "".join(e["delta"] for e in events if e["type"] == "response.text.delta") == "Welcome to voxlive!"
    assert events[-1]["response"]["output"][0]["content"][0]["text"] == "Welcome to voxlive!"

    await client.send(user_text("Tell me a very long story about the sea."))
    await client.send({"type": "response.create", "response": {"max_output_tokens": 300}})
    first = (await client.until("response.text.delta"))[-1]["response_id"]
    await client.send({"type": "response.create", "response": {"cancel_previous": True, "max_output_tokens": 5}})
    events = await client.until("response.done")
    assert events[-1]["response"]["id"] == first and events[-1]["response"]["status"] == "cancelled"
    events = await client.until("response.done")
    assert events[0]["type"] == "response.created" and events[-1]["response"]["id"] != first
    assert not [e for e in client.received if e["type"] == "error"]


async def test_streamed_input_text_becomes_a_user_item(client: Client) -> None:
    for piece in ("Hello ", "from ", "a stream."):
        await client.send({"type": "input_text.delta", "id": "item_typed", "delta": piece})
    await client.send({"type": "input_text.done", "id": "item_typed"})
    created = (await client.until("conversation.item.created"))[-1]
    assert created["item"]["id"] == "item_typed" and created["item"]["role"] == "user"
    assert created["item"]["content"] == [{"type": "input_text", "text": "Hello from a stream."}]
    await client.send({"type": "input_text.done", "id": "item_typed", "event_id": "again"})
    error = await client.recv()
    assert error["error"]["event_id"] == "again" and error["error"]["code"] == "item_not_found"


async def test_unknown_session_fields_get_a_warning_and_avatar_connect_an_error(client: Client) -> None:
    await client.send({"type": "session.update", "session": {"instructions": "Hi.", "flux_capacitor": True}})
    warning, updated = await client.recv(), await client.recv()
    assert warning["type"] == "warning" and "flux_capacitor" in warning["warning"]["message"]
    assert updated["type"] == "session.updated" and "flux_capacitor" not in updated["session"]
    await client.send({"type": "session.avatar.connect", "client_sdp": "v=0", "event_id": "av"})
    error = await client.recv()
    assert error["error"]["event_id"] == "av" and error["error"]["code"] == "avatar_unavailable"


async def test_item_references_pick_conversation_items_for_a_response(client: Client) -> None:
    await client.send({"type": "session.update", "session": {"modalities": ["text"]}})
    await client.until("session.updated")
    await client.send(user_text("What is the capital of France? One word."))
    item_id = (await client.until("conversation.item.created"))[-1]["item"]["id"]
    reference = {"type": "item_reference", "id": item_id}
    await client.send({"type": "response.create", "response": {"conversation": "none", "input": [reference]}})
    done = (await client.until("response.done"))[-1]["response"]
    assert "Paris" in done["output"][0]["content"][0]["text"]

    missing = {"type": "item_reference", "id": "item_missing"}
    await client.send({"type": "response.create", "event_id": "r1", "response": {"input": [missing]}})
    error = await client.recv()
    assert error["error"]["event_id"] == "r1" and error["error"]["code"] == "item_not_found"
    await client.send({"type": "conversation.item.create", "event_id": "r2", "item": reference})
    error = await client.recv()
    assert error["error"]["event_id"] == "r2" and error["error"]["param"] == "item.type"
