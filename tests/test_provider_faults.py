"""A speech provider that fails ends the response as ``failed``, with an error that names the stage; the session
goes on."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import websockets

from conftest import Client, Server, start_server, stop_server


@pytest.fixture(scope="module")
def remote_tts(server: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose TTS is the other server's speech API; its voice ``broken`` is one that API does not have."""
    config = f"""
[session]
voice = "alloy"

[tts]
provider = "openai"
base_url = "{server.http}/v1"
api_key = "k"
voices = {{ alloy = "alloy", broken = "no-such-voice" }}
"""
    running = start_server(tmp_path_factory.mktemp("remote-tts"), config)
    yield running
    stop_server(running)


async def test_a_failing_tts_fails_the_response_and_the_session_goes_on(remote_tts: Server) -> None:
    async with websockets.connect(f"{remote_tts.ws}/voice-live/realtime?api-version=2025-10-01&model=m") as ws:
        client = Client(ws)
        await client.until("conversation.created")
        await client.send({"type": "session.update", "session": {"voice": {"name": "broken", "type": "openai"}}})
        await client.until("session.updated")
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hello."}]},
            }
        )
        await client.send({"type": "response.create"})
        events = await client.until("response.done")
        done = events[-1]["response"]
        assert done["status"] == "failed"
        assert done["status_details"]["error"]["message"].startswith("Speech synthesis failed")
        assert [e["type"] for e in events].count("response.created") == 1

        await client.send({"type": "session.update", "session": {"voice": {"name": "alloy", "type": "openai"}}})
        await client.until("session.updated")
        await client.send({"type": "response.create", "response": {"max_output_tokens": 20}})
        events = await client.until("response.done")
        assert events[-1]["response"]["status"] in ("completed", "incomplete")
        assert any(e["type"] == "response.audio.delta" for e in events)


@pytest.fixture(scope="module")
def chained_tts(remote_tts: Server, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose TTS is ``remote_tts``'s speech API (which offers only ``alloy`` and ``broken``), with no voice
    configured for its sessions."""
    config = f"""
[tts]
provider = "openai"
base_url = "{remote_tts.http}/v1"
api_key = "k"
"""
    running = start_server(tmp_path_factory.mktemp("chained-tts"), config)
    yield running
    stop_server(running)


async def test_the_default_voice_is_one_the_remote_tts_offers(chained_tts: Server) -> None:
    async with websockets.connect(f"{chained_tts.ws}/voice-live/realtime?api-version=2025-10-01&model=m") as ws:
        client = Client(ws)
        created = await client.recv()
        assert created["session"]["voice"] == "alloy", created
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Say hello."}]},
            }
        )
        await client.send({"type": "response.create", "response": {"max_output_tokens": 20}})
        events = await client.until("response.done")
        assert events[-1]["response"]["status"] in ("completed", "incomplete"), events[-1]
        assert any(e["type"] == "response.audio.delta" for e in events)
