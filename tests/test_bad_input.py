"""Bad client input gets a clear ``error`` event naming the offending event, and the session goes on."""

from __future__ import annotations

import json

import pytest

from conftest import Client


async def assert_session_still_works(client: Client) -> None:
    await client.send(
        {
            "type": "conversation.item.create",
            "event_id": "alive",
            "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "ok"}]},
        }
    )
    created = await client.recv()
    assert created["type"] == "conversation.item.created", created


@pytest.mark.parametrize(
    ("frame", "code", "param"),
    [
        ("this is not json", "invalid_json", None),
        ("[1, 2, 3]", "invalid_event", None),
        ('{"event_id": "e1"}', "missing_required_parameter", "type"),
        ('{"type": "session.explode", "event_id": "e1"}', "unknown_event_type", "type"),
        (
            '{"type": "session.update", "event_id": "e1", "session": {"temperature": "hot"}}',
            "invalid_type",
            "session.temperature",
        ),
        (
            '{"type": "session.update", "event_id": "e1", "session": {"tools": [{"type": "function"}]}}',
            "missing_required_parameter",
            "session.tools[0].name",
        ),
        (
            '{"type": "session.update", "event_id": "e1", "session": {"turn_detection": {"type": "loud_vad"}}}',
            "invalid_value",
            "session.turn_detection",
        ),
        ('{"type": "session.update", "event_id": "e1", "session": {"voice": 7}}', "invalid_type", "session.voice"),
        (
            '{"type": "session.update", "event_id": "e1", "session": {"voice": {"type": "azure-standard", '
            '"name": "alloy", "pitch": "loud"}}}',
            "invalid_value",
            "session.voice.pitch",
        ),
        (
            '{"type": "session.update", "event_id": "e1", "session": {"voice": {"type": "azure-standard", '
            '"name": "alloy", "rate": "+300%"}}}',
            "invalid_value",
            "session.voice.rate",
        ),
        (
            '{"type": "response.create", "event_id": "e1", "response": {"voice": {"type": "azure-standard", '
            '"name": "alloy", "volume": "-120"}}}',
            "invalid_value",
            "response.voice.volume",
        ),
        ('{"type": "session.update", "event_id": "e1", "session": {"speed": 9}}', "invalid_value", "session.speed"),
        (
            '{"type": "conversation.item.create", "event_id": "e1", "item": {"type": "message", "role": "user", '
            '"content": [{"type": "text", "text": "I am not the assistant"}]}}',
            "invalid_value",
            "item",
        ),
        (
            '{"type": "conversation.item.truncate", "event_id": "e1", "item_id": "x", "content_index": -1, '
            '"audio_end_ms": 0}',
            "invalid_value",
            "content_index",
        ),
        (
            '{"type": "response.create", "event_id": "e1", "response": {"max_output_tokens": "lots"}}',
            "invalid_type",
            "response.max_output_tokens",
        ),
        ('{"type": "conversation.item.retrieve", "event_id": "e1"}', "missing_required_parameter", "item_id"),
        (
            '{"type": "conversation.item.delete", "event_id": "e1", "item_id": "item_missing"}',
            "item_not_found",
            "item_id",
        ),
    ],
)
async def test_malformed_or_invalid_events_get_an_error(client: Client, frame: str, code: str, param: str) -> None:
    await client.send(frame)
    error = await client.recv()
    assert error["type"] == "error"
    details = error["error"]
    assert details["code"] == code, details
    assert details.get("param") == param, details
    assert details["message"]
    assert details["type"] == "invalid_request_error"
    if '"event_id": "e1"' in frame:
        assert details["event_id"] == "e1"
    await assert_session_still_works(client)


async def test_oversized_and_binary_frames(client: Client, server) -> None:
    big = json.dumps({"type": "input_audio_buffer.append", "event_id": "big", "audio": "A" * (2 * 1024 * 1024)})
    await client.send(big)
    error = await client.recv()
    assert error["error"]["code"] == "message_too_large"
    await client.send(b"\x00\x01binary")
    error = await client.recv()
    assert error["error"]["code"] == "invalid_frame"
    await assert_session_still_works(client)


async def test_a_flood_of_bad_events_loses_nothing(client: Client) -> None:
    for n in range(50):
        await client.send({"type": "nope", "event_id": f"bad{n}"})
    ids = [(await client.recv())["error"]["event_id"] for _ in range(50)]
    assert ids == [f"bad{n}" for n in range(50)]
    await assert_session_still_works(client)
