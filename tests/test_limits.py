"""Limits that hold: each is refused with a clear error (or, for a client that reads nothing, a clear close) and
the session goes on."""

from __future__ import annotations

import asyncio
import base64
import json
import math
import socket
import time

import numpy as np
from websockets.client import ClientProtocol
from websockets.frames import Frame
from websockets.uri import parse_uri

from conftest import Client, Server
from voxlive.protocol import InputAudioContentPart, MessageItem
from voxlive.realtime.conversation import SPOKEN_KEPT, UNHEARD_AUDIO_SECONDS, USER_AUDIO_SECONDS, Conversation
from voxlive.realtime.speaker import SpokenAudio


def user_text(text: str) -> dict[str, object]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def still_works(client: Client) -> None:
    await client.send({"type": "conversation.item.create", "item": user_text("Still there?")})
    assert (await client.until("conversation.item.created"))[-1]["item"]["content"][0]["text"] == "Still there?"


async def test_audio_sent_faster_than_real_time_is_refused_past_a_minute_ahead(client: Client) -> None:
    second = base64.b64encode(np.zeros(24_000, "<i2").tobytes()).decode()
    began = time.monotonic()
    for _ in range(70):  # 70 s of audio, sent at once
        await client.send({"type": "input_audio_buffer.append", "audio": second})
    await client.send({"type": "input_audio_buffer.clear"})
    events = await client.until("input_audio_buffer.cleared")
    taking = time.monotonic() - began  # the limit is a minute ahead of real time: it moves on while the server reads
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert errors and {e["code"] for e in errors} == {"audio_too_fast"}
    assert 10 - math.ceil(taking) <= len(errors) <= 10  # the first sixty seconds taken, and one more per second
    assert "faster than real time" in errors[0]["message"]
    await still_works(client)


async def test_input_texts_streaming_at_once_are_bounded(client: Client) -> None:
    for index in range(17):
        await client.send({"type": "input_text.delta", "id": f"text_{index}", "delta": "word "})
    await client.send({"type": "input_text.done", "id": "text_0"})
    events = await client.until("conversation.item.created")
    errors = [e["error"] for e in events if e["type"] == "error"]
    assert [e["code"] for e in errors] == ["too_many_input_texts"]
    await client.send({"type": "input_text.delta", "id": "text_16", "delta": "now there is room"})
    await client.send({"type": "input_text.done", "id": "text_16"})
    assert (await client.until("conversation.item.created"))[-1]["item"]["id"] == "text_16"


async def test_a_client_that_reads_nothing_is_closed_not_buffered_for_ever(server: Server) -> None:
    """Each retrieve of a 400 kB item is 400 kB out; a client that stops reading its socket is closed with 1008
    once more than the unread bound (16 MB) waits, instead of the server holding it all."""
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port, limit=2**24)
    writer.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65_536)
    protocol = ClientProtocol(parse_uri(f"{server.ws}/voice-live/realtime?api-version=2025-10-01"), max_size=None)
    protocol.send_request(protocol.connect())

    async def flush() -> None:
        writer.write(b"".join(protocol.data_to_send()))
        await writer.drain()

    async def read_until(kind: str) -> None:
        while True:
            protocol.receive_data(await asyncio.wait_for(reader.read(65_536), 60))
            if any(isinstance(e, Frame) and kind.encode() in e.data for e in protocol.events_received()):
                return

    await flush()
    await read_until("conversation.created")
    item = {"type": "conversation.item.create", "item": {**user_text("x" * 400_000), "id": "big"}}
    protocol.send_text(json.dumps(item).encode())
    await flush()
    await read_until("conversation.item.created")
    for _ in range(200):  # and from now on nothing is read
        protocol.send_text(json.dumps({"type": "conversation.item.retrieve", "item_id": "big"}).encode())
        await flush()
    # Time for the server to find the unread backlog over its bound. Reading cannot wait until the session has
    # ended: the server may by then have given up its closing handshake and dropped the socket, close frame unsent.
    await asyncio.sleep(5)
    retrieved = 0
    while protocol.close_rcvd is None:
        data = await asyncio.wait_for(reader.read(2**20), 60)
        assert data, "the server closed the socket without a close frame"
        protocol.receive_data(data)
        retrieved += sum(b"conversation.item.retrieved" in e.data for e in protocol.events_received())
    writer.close()
    assert protocol.close_rcvd.code == 1008 and "did not read" in protocol.close_rcvd.reason
    assert 0 < retrieved < 200


def test_a_session_keeps_a_bounded_amount_of_audio() -> None:
    """A minute of transcribed audio; ten minutes at most of audio not transcribed yet."""
    conversation = Conversation()
    third = np.zeros(USER_AUDIO_SECONDS * 16_000 // 3, np.int16)
    for index in range(6):
        item = MessageItem(id=f"heard_{index}", role="user", content=[InputAudioContentPart(transcript="words")])
        conversation.insert(item)
        conversation.hold_user_audio(item.id or "", third)
    assert list(conversation.user_audio) == ["heard_3", "heard_4", "heard_5"]  # the latest turns' audio
    unheard = np.zeros(UNHEARD_AUDIO_SECONDS * 16_000 // 4, np.int16)
    for index in range(6):
        item = MessageItem(id=f"unheard_{index}", role="user", content=[InputAudioContentPart(transcript=None)])
        conversation.insert(item)
        conversation.hold_user_audio(item.id or "", unheard)
    assert list(conversation.user_audio) == ["unheard_2", "unheard_3", "unheard_4", "unheard_5"]
    for index in range(SPOKEN_KEPT + 5):
        conversation.hold_spoken(f"said_{index}", SpokenAudio(audio=bytearray(100)))
    assert len(conversation.spoken) == SPOKEN_KEPT and f"said_{SPOKEN_KEPT + 4}" in conversation.spoken
    assert "said_0" not in conversation.spoken
