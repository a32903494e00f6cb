"""Conversations that survive: resumed by id after a reconnect or a crash, read and deleted over HTTP, kept in
SQLite or in a shared Postgres, per API key."""

from __future__ import annotations

import asyncio
import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import websockets

from benchmarks.common import spoken
from conftest import Client, Server, start_server, stop_server, until_idle
from voxlive.protocol.items import AudioContentPart, MessageItem
from voxlive.realtime.journal import Archive
from voxlive.store import ConversationStore
from voxlive.store.postgres import PostgresStore
from voxlive.store.sqlite import SQLiteStore

VOICELIVE = "/voice-live/realtime?api-version=2025-10-01&model=m"
GA = "/v1/realtime?model=m"


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def connect(server: Server, path: str = VOICELIVE, resume: str | None = None, key: str | None = None) -> Client:
    query = f"&conversation-id={resume}" if resume else ""
    headers = {"api-key": key} if key else {}
    ws = await websockets.connect(f"{server.ws}{path}{query}", additional_headers=headers, max_size=None)
    return Client(ws)


async def opening(client: Client) -> tuple[str, list[dict[str, Any]]]:
    """The conversation id a session announces, and the events before it (``session.created``, errors)."""
    events = await client.until("conversation.created")
    return events[-1]["conversation"]["id"], events[:-1]


async def replayed(client: Client, count: int) -> list[dict[str, Any]]:
    return [await client.recv() for _ in range(count)]


async def text_turn(client: Client, text: str) -> dict[str, Any]:
    """A typed question answered in text; the ``response.done``'s response."""
    await client.send({"type": "conversation.item.create", "item": user_text(text)})
    await client.send({"type": "response.create", "response": {"modalities": ["text"]}})
    done = (await client.until("response.done"))[-1]["response"]
    assert done["status"] == "completed", done
    return done


def http(server: Server, path: str, method: str = "GET", key: str | None = None) -> tuple[int, bytes]:
    request = urllib.request.Request(f"{server.http}{path}", method=method, headers={"api-key": key} if key else {})
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.parametrize("path", [VOICELIVE, GA])
async def test_a_conversation_resumes_after_a_reconnect(server: Server, path: str) -> None:
    first = await connect(server, path)
    conversation_id, _ = await opening(first)
    assert conversation_id.startswith("conv_")
    done = await text_turn(first, "Say hello.")
    assert done["conversation_id"] == conversation_id
    created = "conversation.item.added" if path == GA else "conversation.item.created"
    seen = [e["item"] for e in first.received if e["type"] == created]
    await first.connection.close()

    again = await connect(server, path, resume=conversation_id)
    resumed_id, before = await opening(again)
    assert resumed_id == conversation_id and [e["type"] for e in before] == ["session.created"]
    items = await replayed(again, len(seen) * (2 if path == GA else 1))  # GA: each complete item added, then done
    items = [e for e in items if e["type"] != "conversation.item.done"]
    assert [e["type"] for e in items] == [created] * len(seen)
    assert [e["item"]["id"] for e in items] == [item["id"] for item in seen]
    assert [e["previous_item_id"] for e in items] == [None, *[item["id"] for item in seen[:-1]]]
    assert items[0]["item"]["content"][0]["text"] == "Say hello."
    assert items[-1]["item"]["status"] == "completed" and items[-1]["item"]["role"] == "assistant"
    done = await text_turn(again, "Thank you.")
    assert done["conversation_id"] == conversation_id and done["usage"]["input_tokens"] > 0
    await again.connection.close()


async def test_an_unknown_conversation_gets_an_error_and_a_new_one(server: Server) -> None:
    client = await connect(server, resume="conv_nosuchthing")
    conversation_id, before = await opening(client)
    error = before[-1]
    assert error["type"] == "error" and error["error"]["code"] == "conversation_not_found"
    assert "conv_nosuchthing" in error["error"]["message"]
    assert conversation_id != "conv_nosuchthing"
    await text_turn(client, "Hello.")  # the new conversation works
    await client.connection.close()


async def test_a_stored_conversation_is_read_and_deleted_over_http(server: Server) -> None:
    client = await connect(server)
    conversation_id, _ = await opening(client)
    done = await text_turn(client, "Name a colour.")
    await client.connection.close()

    status, body = await asyncio.to_thread(http, server, f"/conversations/{conversation_id}")
    assert status == 200
    stored = json.loads(body)
    assert stored["id"] == conversation_id
    assert [item["role"] for item in stored["items"]] == ["user", "assistant"]
    assert stored["items"][1]["id"] == done["output"][0]["id"]
    assert stored["turns"][-1]["response_id"] == done["id"] and stored["turns"][-1]["status"] == "completed"

    status, _ = await asyncio.to_thread(http, server, f"/conversations/{conversation_id}", "DELETE")
    assert status == 200
    for method in ("GET", "DELETE"):
        status, body = await asyncio.to_thread(http, server, f"/conversations/{conversation_id}", method)
        assert status == 404 and json.loads(body)["error"]["code"] == "conversation_not_found"


async def test_items_changed_in_the_session_are_stored_as_changed(server: Server) -> None:
    """Creating in the middle, deleting, and answering are each kept in the order the client sees."""
    client = await connect(server)
    conversation_id, _ = await opening(client)
    for text in ("one", "three"):
        await client.send({"type": "conversation.item.create", "item": user_text(text)})
    created = [(await client.until("conversation.item.created"))[-1]["item"]["id"] for _ in range(2)]
    await client.send(
        {"type": "conversation.item.create", "previous_item_id": created[0], "item": {**user_text("two"), "id": "two"}}
    )
    await client.until("conversation.item.created")
    await client.send({"type": "conversation.item.delete", "item_id": created[0]})
    await client.until("conversation.item.deleted")
    await client.connection.close()

    again = await connect(server, resume=conversation_id)
    await opening(again)
    items = await replayed(again, 2)
    assert [e["item"]["content"][0]["text"] for e in items] == ["two", "three"]
    assert items[0]["item"]["id"] == "two" and items[1]["previous_item_id"] == "two"
    await again.connection.close()


# --- a server that is killed and started again ------------------------------------------------------


@pytest.fixture(scope="module")
def store_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store")


async def test_a_conversation_survives_a_killed_server_with_its_recordings(store_dir: Path, piper: Any) -> None:
    """SIGKILL loses nothing already said: the restarted server resumes the conversation, its model sees the
    history, and each side's audio of the spoken turn was kept."""
    config = f'[store]\npath = "{store_dir / "conversations.db"}"\nkeep_audio = true\n[session]\ntemperature = 0.0\n'
    server = start_server(store_dir, config)
    try:
        client = await connect(server)
        conversation_id, _ = await opening(client)
        await client.send({"type": "session.update", "session": {"turn_detection": None}})
        await client.until("session.updated")
        audio = await spoken(piper, "My favourite colour is purple.")
        for start in range(0, len(audio), 24_000):
            chunk = audio[start : start + 24_000].astype("<i2").tobytes()
            await client.send({"type": "input_audio_buffer.append", "audio": _b64(chunk)})
        await client.send({"type": "input_audio_buffer.commit"})
        await client.send({"type": "response.create"})
        done = (await client.until("response.done"))[-1]["response"]
        assert done["status"] == "completed"
        said = [e["item"] for e in client.received if e["type"] == "conversation.item.created"]
    finally:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()

    server = start_server(store_dir, config)
    try:
        again = await connect(server, resume=conversation_id)
        await opening(again)
        items = [e["item"] for e in await replayed(again, len(said))]
        assert [item["id"] for item in items] == [item["id"] for item in said]
        user, answer = items
        assert "purple" in user["content"][0]["transcript"].lower()
        assert answer["content"][0]["type"] == "audio" and answer["content"][0]["transcript"]
        done = await text_turn(again, "What is my favourite colour? Answer in one word.")
        assert "purple" in done["output"][0]["content"][0]["text"].lower()
        await again.connection.close()
        for item in items:
            status, wav = await asyncio.to_thread(
                http, server, f"/conversations/{conversation_id}/items/{item['id']}/audio"
            )
            assert status == 200 and wav[:4] == b"RIFF" and len(wav) > 16_000, item["role"]
    finally:
        stop_server(server)


def _b64(data: bytes) -> str:
    import base64

    return base64.b64encode(data).decode()


# --- the stores themselves -------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[ConversationStore]:
    opened: ConversationStore
    if request.param == "sqlite":
        opened = SQLiteStore(tmp_path / "conversations.db")
    else:
        url = request.getfixturevalue("postgres")
        opened = PostgresStore(url)
    await opened.open()
    yield opened
    await opened.close()


async def test_a_store_keeps_items_in_order_per_owner(store: ConversationStore) -> None:
    conversation = f"conv_{time.monotonic_ns()}"
    await store.create(conversation, "alice")
    await store.save_item(conversation, "b", 2.0, {"id": "b", "text": "second"})
    await store.save_item(conversation, "a", 1.0, {"id": "a", "text": "first"})
    await store.save_item(conversation, "a2", 1.5, {"id": "a2", "text": "between"})
    await store.save_item(conversation, "b", 2.0, {"id": "b", "text": "second, completed"})
    await store.delete_item(conversation, "a")
    await store.save_turn(conversation, "resp_1", 1.0, {"response_id": "resp_1"})
    await store.save_recording(conversation, "b", b"RIFF....")
    loaded = await store.load(conversation, "alice")
    assert loaded is not None
    assert loaded.items == [{"id": "a2", "text": "between"}, {"id": "b", "text": "second, completed"}]
    assert loaded.places == [1.5, 2.0] and loaded.turns == [{"response_id": "resp_1"}] and loaded.recordings == ["b"]
    assert await store.load(conversation, "mallory") is None  # another owner's is as good as absent
    assert await store.recording(conversation, "mallory", "b") is None
    assert not await store.delete(conversation, "mallory")
    assert await store.recording(conversation, "alice", "b") == b"RIFF...."
    assert await store.delete(conversation, "alice")
    assert await store.load(conversation, "alice") is None


async def test_a_resume_reads_what_the_session_closing_before_it_stores(tmp_path: Path) -> None:
    """A client that drops mid-reply and resumes at once: the new session loads the conversation only once the old
    one (still closing) has stored the reply as far as it was said."""
    store = SQLiteStore(tmp_path / "conversations.db")
    await store.open()
    archive = Archive(store, owner="")
    journal = archive.open("conv_resumed", new=True)
    loading = asyncio.create_task(archive.load("conv_resumed"))
    await asyncio.sleep(0.2)  # the resume arrives while the old session is still closing
    reply = MessageItem(id="item_cut", role="assistant", status="incomplete",
                        content=[AudioContentPart(transcript="The capital of France")])  # fmt: skip
    journal.item(reply, 1.0)  # the cut reply, stored as the old session closes
    await journal.close()
    loaded = await loading
    assert loaded is not None and [item["id"] for item in loaded.items] == ["item_cut"]
    assert loaded.items[0]["content"][0]["transcript"] == "The capital of France"
    await store.close()


async def test_a_store_purges_what_is_past_its_retention(store: ConversationStore) -> None:
    old, new = f"conv_old{time.monotonic_ns()}", f"conv_new{time.monotonic_ns()}"
    await store.create(old, "")
    await store.save_item(old, "x", 1.0, {"id": "x"})
    cut = time.time()
    await store.create(new, "")
    assert await store.purge(cut) >= 1
    assert await store.load(old, "") is None and await store.load(new, "") is not None


@pytest.mark.models
async def test_two_servers_share_conversations_through_postgres(
    postgres: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A client that loses one server resumes its conversation on another."""
    config = f'[store]\nurl = "{postgres}"\n[session]\ntemperature = 0.0\n'
    first = start_server(tmp_path_factory.mktemp("pg-a"), config)
    second = start_server(tmp_path_factory.mktemp("pg-b"), config)
    try:
        client = await connect(first)
        conversation_id, _ = await opening(client)
        await text_turn(client, "Say hello.")
        await client.connection.close()
        again = await connect(second, resume=conversation_id)
        resumed, before = await opening(again)
        assert resumed == conversation_id and not [e for e in before if e["type"] == "error"]
        items = await replayed(again, 2)
        assert items[0]["item"]["content"][0]["text"] == "Say hello."
        await again.connection.close()
    finally:
        stop_server(first)
        stop_server(second)


async def test_what_was_said_before_a_client_left_is_stored(server: Server, piper: Any) -> None:
    """A client that leaves mid-reply, right after committing its next turn: the reply is stored as far as it was
    said, and the turn with its transcript."""
    client = await connect(server)
    conversation_id, _ = await opening(client)
    session = {"turn_detection": None, "input_audio_transcription": {"model": "whisper-1"}}
    await client.send({"type": "session.update", "session": session})
    await client.until("session.updated")
    await client.send({"type": "conversation.item.create", "item": user_text("Tell me a long story about the sea.")})
    await client.send({"type": "response.create"})
    await client.until("response.audio_transcript.delta")
    await client.until("response.audio.delta")
    audio = await spoken(piper, "Goodbye for now.", tail_ms=300)
    await client.send({"type": "input_audio_buffer.append", "audio": _b64(audio.astype("<i2").tobytes())})
    await client.send({"type": "input_audio_buffer.commit"})
    await client.until("input_audio_buffer.committed")
    await client.connection.close()
    await until_idle(server)

    status, body = await asyncio.to_thread(http, server, f"/conversations/{conversation_id}")
    items = json.loads(body)["items"]
    assert status == 200 and [item["role"] for item in items] == ["user", "assistant", "user"]
    answer, turn = items[1], items[2]
    assert answer["status"] == "incomplete" and answer["content"][0]["transcript"]
    assert "goodbye" in turn["content"][0]["transcript"].lower()
