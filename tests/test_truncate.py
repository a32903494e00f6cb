"""``conversation.item.truncate`` at every moment of an assistant's spoken message: while its audio streams, while
its response is being cancelled, after it was cancelled, after a barge-in the server already truncated it."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest
import websockets

from benchmarks.common import spoken
from conftest import Client, Server, stream_pcm

STORY = (
    "One two three four five. Six seven eight nine ten. Eleven twelve thirteen fourteen fifteen. "
    "Sixteen seventeen eighteen nineteen twenty."
)
AUDIO_DELTAS = ("response.audio.delta", "response.output_audio.delta")


def audio_ms(events: list[dict[str, Any]]) -> int:
    """How much assistant audio (pcm16 at 24 kHz) these events carried, as a client counts it."""
    return sum(len(base64.b64decode(e["delta"])) for e in events if e["type"] in AUDIO_DELTAS) // 48


def truncate(item_id: str, audio_end_ms: int, event_id: str = "") -> dict[str, Any]:
    event = {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": audio_end_ms}
    return {**event, "event_id": event_id} if event_id else event


def errors(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for e in events if e["type"] == "error"]


def cuts(events: list[dict[str, Any]]) -> list[int]:
    return [e["audio_end_ms"] for e in events if e["type"] == "conversation.item.truncated"]


async def configure(client: Client, **session: object) -> None:
    await client.send({"type": "session.update", "session": {"output_audio_timestamp_types": ["word"], **session}})
    await client.until("session.updated")


async def say(client: Client) -> None:
    """Ask for a response that says ``STORY`` (in several pieces)."""
    message = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": STORY}]}
    await client.send({"type": "response.create", "response": {"pre_generated_assistant_message": message}})


async def answers(client: Client, events: list[dict[str, Any]], count: int) -> None:
    """Receive into ``events`` until ``count`` truncations have been answered (truncated, or an error)."""
    while len(cuts(events)) + len(errors(events)) < count:
        events.append(await client.recv())


def words_by(events: list[dict[str, Any]], audio_end_ms: int) -> list[str]:
    """The words of the story whose middle is in the first ``audio_end_ms`` (by the word timestamps)."""
    stamps = [e for e in events if e["type"] == "response.audio_timestamp.delta"]
    return [s["text"].strip(".") for s in stamps if s["audio_offset_ms"] + s["audio_duration_ms"] / 2 <= audio_end_ms]


async def held(client: Client, item_id: str) -> tuple[list[str], int]:
    """The words and the milliseconds of audio the item holds now."""
    await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    part = (await client.until("conversation.item.retrieved"))[-1]["item"]["content"][0]
    return part["transcript"].replace(".", "").split(), len(base64.b64decode(part.get("audio") or "")) // 48


async def test_truncate_while_the_audio_streams_keeps_what_was_heard(client: Client) -> None:
    """A client that stops playing mid-message (push-to-talk) truncates while the audio still streams; a later,
    longer truncate within the audio sent is valid too, and the item holds what the latest one says was heard."""
    await configure(client, turn_detection=None)
    await say(client)
    events = await client.until("response.audio.delta")
    events += await client.until("response.audio.delta")
    item_id = events[-1]["item_id"]
    first = audio_ms(events)
    await client.send(truncate(item_id, first))
    await client.send({"type": "input_audio_buffer.clear"})
    events += await client.until("response.done")
    assert not errors(events) and cuts(events) == [first]
    done = events[-1]["response"]["output"][0]["content"][0]["transcript"]
    assert done.replace(".", "").split() == words_by(events, first) and "twenty" not in done
    assert await held(client, item_id) == (words_by(events, first), first)
    later = audio_ms(events) - 100  # more audio was sent after the first truncation
    await client.send(truncate(item_id, later))
    await answers(client, events, 2)
    assert not errors(events) and cuts(events) == [first, later]
    assert await held(client, item_id) == (words_by(events, later), later)


async def test_truncate_while_the_response_is_cancelled_and_after(client: Client) -> None:
    """A truncate sent right after ``response.cancel`` cuts the message; after ``response.done`` the client may
    truncate again anywhere in the audio sent (not only within the first cut); beyond it is an error."""
    await configure(client, turn_detection=None)
    await say(client)
    events = await client.until("response.audio.delta")
    item_id = events[-1]["item_id"]
    played = audio_ms(events)
    await client.send({"type": "response.cancel"})
    await client.send(truncate(item_id, played))
    events += await client.until("response.done")
    await answers(client, events, 1)
    done = next(e for e in events if e["type"] == "response.done")["response"]
    assert done["status"] == "cancelled" and not errors(events) and cuts(events) == [played]
    assert done["output"][0]["content"][0]["transcript"].replace(".", "").split() == words_by(events, played)
    sent = audio_ms(events)
    await client.send(truncate(item_id, sent + 1, "beyond"))
    await client.send(truncate(item_id, sent))
    await answers(client, events, 3)
    [error] = errors(events)
    assert error["error"]["event_id"] == "beyond" and error["error"]["param"] == "audio_end_ms"
    assert f"{sent} ms of audio sent" in error["error"]["message"]
    assert cuts(events) == [played, sent]
    assert await held(client, item_id) == (words_by(events, sent), sent)


async def test_truncate_after_a_barge_in_the_server_truncated(client: Client, piper) -> None:
    """With ``auto_truncate`` the server cuts the message at its estimate of what was played; the client then
    truncates at what it really played (here: all it received), which is not less than the server's estimate."""
    await configure(client, turn_detection={"type": "server_vad", "silence_duration_ms": 400, "auto_truncate": True})
    await say(client)
    events = await client.until("response.audio.delta")
    item_id = events[-1]["item_id"]
    interruption = await spoken(piper, "Please stop now.", lead_ms=100, tail_ms=900)
    sending = asyncio.create_task(stream_pcm(client.send, interruption, speed=4))
    events += await client.until("input_audio_buffer.speech_started")
    played = audio_ms(events)  # the server sends no audio of the reply after it heard the user
    await client.send(truncate(item_id, played))
    events += await client.until("response.done")
    await sending
    await answers(client, events, 2)
    assert not errors(events)
    estimate, ours = cuts(events)
    assert estimate <= ours == played
    assert await held(client, item_id) == (words_by(events, played), played)


async def test_an_assistant_audio_item_without_audio_sent_is_truncated_at_zero(client: Client) -> None:
    """An assistant audio message the client created has no audio sent by the server: truncating at 0 says
    nothing was heard; any later point is beyond the audio sent."""
    item = {"type": "message", "role": "assistant", "content": [{"type": "audio", "transcript": "Hello there."}]}
    await client.send({"type": "conversation.item.create", "item": item})
    item_id = (await client.until("conversation.item.created"))[-1]["item"]["id"]
    await client.send(truncate(item_id, 10, "late"))
    await client.send(truncate(item_id, 0))
    events: list[dict[str, Any]] = []
    await answers(client, events, 2)
    assert [e["error"]["event_id"] for e in errors(events)] == ["late"] and cuts(events) == [0]
    assert await held(client, item_id) == ([], 0)


@pytest.fixture
async def ga(server: Server) -> AsyncIterator[Client]:
    async with websockets.connect(f"{server.ws}/v1/realtime?model=m") as ws:
        connected = Client(ws)
        await connected.until("conversation.created")
        yield connected


async def test_truncate_on_the_ga_endpoint_while_cancelled_and_after(ga: Client) -> None:
    session = {"type": "realtime", "audio": {"input": {"turn_detection": None}}}
    await ga.send({"type": "session.update", "session": session})
    await ga.until("session.updated")
    await say(ga)
    events = await ga.until("response.output_audio.delta")
    item_id = events[-1]["item_id"]
    await ga.send({"type": "response.cancel"})
    played = audio_ms(events)
    await ga.send(truncate(item_id, played))
    events += await ga.until("response.done")
    assert events[-1]["response"]["status"] == "cancelled"
    sent = audio_ms(events)
    await ga.send(truncate(item_id, sent))
    await answers(ga, events, 2)
    assert not errors(events) and cuts(events) == [played, sent]


async def test_truncate_at_all_the_audio_received_of_a_completed_message(client: Client) -> None:
    """The audio sent is counted as the client counts it, from the bytes, not piece by piece."""
    await configure(client, turn_detection=None)
    await say(client)
    events = await client.until("response.done")
    item_id = events[-1]["response"]["output"][0]["id"]
    sent = audio_ms(events)
    await client.send(truncate(item_id, sent))
    await answers(client, events, 1)
    assert not errors(events) and cuts(events) == [sent]
    assert await held(client, item_id) == (words_by(events, sent), sent)
