"""voxlive on a Ray Serve cluster of its own (a head and a worker node on loopback): ``voxlive serve --ray`` with two
``Gateway`` replicas, one replica of each stage and conversations in Postgres. A spoken turn through the official
Azure SDK; a stage replica lost mid-reply fails that response cleanly and the next turn works; a conversation
resumes on the other gateway when its own is lost; stopping the deployment drains the sockets (1012).

The tests run in this order on one deployment, and the last one stops it."""

from __future__ import annotations

import asyncio
import base64
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import websockets
from azure.ai.voicelive.aio import connect
from azure.ai.voicelive.models import AudioInputTranscriptionOptions, RequestSession
from azure.core.credentials import AzureKeyCredential

from benchmarks.common import ray_cluster, spoken
from conftest import Client, Server, start_server, stop_server

ray = pytest.importorskip("ray", reason="the ray extra is not installed")
serve = pytest.importorskip("ray.serve")

pytestmark = [pytest.mark.models, pytest.mark.cluster]

VOICELIVE = "/voice-live/realtime?api-version=2025-10-01&model=m"


@dataclass
class Deployed:
    server: Server
    """``voxlive serve --ray``: the process that deployed the application (Serve's proxy answers on its port)."""
    address: str


@pytest.fixture(scope="module")
def deployed(postgres: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Deployed]:
    config = f"""
[server]
drain_seconds = 5.0
[store]
url = "{postgres}"
[cluster]
gateway_replicas = 2
max_stage_replicas = 1
"""
    with ray_cluster(workers=1) as address:
        running = start_server(tmp_path_factory.mktemp("cluster"), config, args=("--ray", address))
        ray.init(address=address, namespace="voxlive-tests", log_to_driver=False)
        try:
            wait_running("voxlive")
            yield Deployed(running, address)
        finally:
            stop_server(running)
            ray.shutdown()


def wait_running(app: str, timeout: float = 300) -> None:
    """Wait until every replica of the application is up (Serve's proxy answers as soon as one gateway is)."""
    deadline = time.monotonic() + timeout
    while (status := serve.status().applications[app].status) != "RUNNING":
        assert status == "DEPLOYING" and time.monotonic() < deadline, serve.status().applications[app]
        time.sleep(0.5)


def replicas(deployment: str) -> list[Any]:
    """The actors of a deployment's replicas."""
    names = [a["name"] for a in ray.util.list_named_actors(all_namespaces=True) if f"#{deployment}#" in a["name"]]
    return [ray.get_actor(name, namespace="serve") for name in names]


def until_busy(replica: Any, timeout: float = 60) -> None:
    """Wait until the replica has taken a call."""
    deadline = time.monotonic() + timeout
    while not ray.get(replica.get_num_ongoing_requests.remote()):
        assert time.monotonic() < deadline, "the replica took no call"
        time.sleep(0.05)


def user_text(text: str) -> dict[str, Any]:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def text_turn(client: Client, text: str) -> list[dict[str, Any]]:
    """A typed question answered in text: its events up to ``response.done``."""
    await client.send({"type": "conversation.item.create", "item": user_text(text)})
    await client.send({"type": "response.create", "response": {"modalities": ["text"]}})
    return await client.until("response.done")


async def test_a_spoken_turn_through_the_azure_sdk(deployed: Deployed, piper: Any) -> None:
    audio = await spoken(piper, "What is the capital of France?")
    transcription = AudioInputTranscriptionOptions(model="whisper-1")
    async with connect(
        endpoint=deployed.server.http, credential=AzureKeyCredential("k"), model="voxlive-local"
    ) as conn:
        await conn.session.update(session=RequestSession(input_audio_transcription=transcription))
        async for event in conn:
            if event.type == "session.updated":
                break
        step = 2400  # 100 ms at 24 kHz
        for start in range(0, len(audio), step):
            await conn.input_audio_buffer.append(audio=base64.b64encode(audio[start : start + step].tobytes()).decode())
        heard, audio_bytes = "", 0
        async for event in conn:
            assert event.type != "error", event
            if event.type == "conversation.item.input_audio_transcription.completed":
                heard = event.transcript
            if event.type == "response.audio.delta":
                audio_bytes += len(event.delta)
            if event.type == "response.done":
                assert event.response.status == "completed", event.response
                break
    assert "capital" in heard.lower() and "france" in heard.lower(), heard
    assert audio_bytes > 24_000  # more than half a second of reply


async def test_an_llm_replica_lost_mid_reply_fails_the_response_and_the_next_turn_works(deployed: Deployed) -> None:
    async with websockets.connect(f"{deployed.server.ws}{VOICELIVE}") as ws:
        client = Client(ws)
        await client.until("conversation.created")
        await client.send({"type": "session.update", "session": {"turn_detection": None}})
        await client.until("session.updated")
        await client.send({"type": "conversation.item.create", "item": user_text("Count from one to three hundred.")})
        await client.send({"type": "response.create", "response": {"modalities": ["text"]}})
        events = await client.until("response.text.delta")
        [llm] = await asyncio.to_thread(replicas, "LLM")
        await asyncio.to_thread(ray.kill, llm)
        events += await client.until("response.done")
        done = events[-1]["response"]
        assert done["status"] == "failed", done
        message = done["status_details"]["error"]["message"]
        assert message.startswith("The language model failed: the LLM replica stopped during the call"), message
        assert [e["error"]["message"] for e in events if e["type"] == "error"] == [message]

        events = await text_turn(client, "Say hello.")
        assert events[-1]["response"]["status"] == "completed", events[-1]
        assert any(e["type"] == "response.text.delta" for e in events)


async def test_an_llm_replica_lost_before_it_answered_is_asked_again_and_the_reply_completes(
    deployed: Deployed,
) -> None:
    """A long prompt keeps the replica reading it when it is lost: it gave nothing yet, so the request goes to the
    replica that replaces it."""
    note = " ".join(f"Item {i} on the list is a {('red', 'blue', 'green')[i % 3]} box." for i in range(250))
    async with websockets.connect(f"{deployed.server.ws}{VOICELIVE}") as ws:
        client = Client(ws)
        await client.until("conversation.created")
        await client.send({"type": "session.update", "session": {"turn_detection": None}})
        await client.until("session.updated")
        question = f"{note} What colour is item 7? Answer in one word."
        await client.send({"type": "conversation.item.create", "item": user_text(question)})
        await client.send({"type": "response.create", "response": {"modalities": ["text"], "max_output_tokens": 10}})
        events = await client.until("response.created")
        [llm] = await asyncio.to_thread(replicas, "LLM")
        await asyncio.to_thread(until_busy, llm)
        await asyncio.to_thread(ray.kill, llm)
        events += await client.until("response.done")
        done = events[-1]["response"]
        assert done["status"] in ("completed", "incomplete"), done
        assert done["output"][0]["content"][0]["text"]
        [replacement] = await asyncio.to_thread(replicas, "LLM")
        assert replacement._actor_id != llm._actor_id


async def test_a_conversation_resumes_on_the_other_gateway_when_its_own_is_lost(deployed: Deployed) -> None:
    first = Client(await websockets.connect(f"{deployed.server.ws}{VOICELIVE}"))
    conversation_id = (await first.until("conversation.created"))[-1]["conversation"]["id"]
    events = await text_turn(first, "Say hello.")
    assert events[-1]["response"]["status"] == "completed", events[-1]
    seen = [e["item"]["id"] for e in first.received if e["type"] == "conversation.item.created"]

    gateways = await asyncio.to_thread(replicas, "Gateway")
    ongoing = await asyncio.to_thread(ray.get, [g.get_num_ongoing_requests.remote() for g in gateways])
    assert sorted(ongoing) == [0, 1], ongoing  # the socket is the one request, on one of the two
    await asyncio.to_thread(ray.kill, gateways[ongoing.index(1)])
    with pytest.raises(websockets.ConnectionClosed):
        await first.until("never sent")

    async with websockets.connect(f"{deployed.server.ws}{VOICELIVE}&conversation-id={conversation_id}") as ws:
        again = Client(ws)
        opening = await again.until("conversation.created")
        assert opening[-1]["conversation"]["id"] == conversation_id
        replayed = [await again.recv() for _ in seen]
        assert [e["item"]["id"] for e in replayed] == seen
        events = await text_turn(again, "Thank you.")
        assert events[-1]["response"]["status"] == "completed", events[-1]
        assert events[-1]["response"]["conversation_id"] == conversation_id


async def test_stopping_the_deployment_closes_the_sockets_for_a_resume_elsewhere(deployed: Deployed) -> None:
    async with websockets.connect(f"{deployed.server.ws}{VOICELIVE}") as ws:
        client = Client(ws)
        await client.until("conversation.created")
        deployed.server.process.send_signal(signal.SIGTERM)
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await client.until("never sent")
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1012
    assert await asyncio.to_thread(deployed.server.process.wait, 60) == 0
