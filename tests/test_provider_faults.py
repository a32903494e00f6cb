"""A speech provider that fails ends the response as ``failed``, with an error that names the stage; the session
goes on."""

from __future__ import annotations

import base64
import io
import json
import threading
import urllib.request
import wave
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np
import pytest
import websockets

from conftest import Client, Server, free_port, start_server, stop_server

pytestmark = pytest.mark.models  # every server here loads the local models it does not replace


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


async def test_voices_of_an_openai_compatible_tts_are_the_configured_ones(remote_tts: Server) -> None:
    with urllib.request.urlopen(f"{remote_tts.http}/voices", timeout=10) as answer:
        listed = json.loads(answer.read())
    assert listed == {
        "default": "alloy",
        "voices": [{"name": "alloy", "language": None}, {"name": "broken", "language": None}],
    }


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


# --- OpenAI-compatible providers that hang, answer garbage, stream forever or refuse connections -------------------


def _tone_wav(seconds: float = 0.3, rate: int = 24_000) -> bytes:
    samples = (3000 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * rate)) / rate)).astype("<i2")
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return out.getvalue()


def _chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
    body = {"id": "c", "object": "chat.completion.chunk", "created": 0, "model": "fake"}
    body["choices"] = [{"index": 0, "delta": delta, "finish_reason": finish}]
    return b"data: " + json.dumps(body).encode() + b"\n\n"


HEARD = "Hello there."
"""What the fake transcribes, whatever it is sent."""


class FakeProvider:
    """A FAKE OpenAI-compatible provider, for the faults a real one cannot be made to have on demand.

    It serves ``/v1/chat/completions`` (streamed), ``/v1/audio/speech`` and ``/v1/audio/transcriptions`` on loopback;
    ``modes`` sets each one's behaviour by the path's last word (``completions``, ``speech``, ``transcriptions``):
    ``good`` (the default: a short answer), ``hang`` (never answers), ``stall`` (a first token, then nothing),
    ``garbage`` (200 with a body that is no answer), ``endless`` (tokens forever). ``down()`` closes its port until
    ``up()``, so connections are refused.
    """

    def __init__(self) -> None:
        self.port = free_port()
        self.modes: dict[str, str] = {}
        self.released = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self.up()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def up(self) -> None:
        self._httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()

    def down(self) -> None:
        assert self._httpd is not None
        self._httpd.shutdown()
        self._httpd.server_close()

    def close(self) -> None:
        self.released.set()
        self.down()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                stage = self.path.rstrip("/").rsplit("/", 1)[-1]
                mode = fake.modes.get(stage, "good")
                if mode == "hang":
                    fake.released.wait(120)
                    return
                if mode == "garbage":
                    self.answer("text/html", b"<html><body>Service busy, try later</body></html>")
                elif stage == "completions":
                    self.stream(mode)
                elif stage == "speech":
                    self.answer("audio/wav", _tone_wav())
                else:
                    words = [
                        {"word": word, "start": i * 0.4, "end": i * 0.4 + 0.4} for i, word in enumerate(HEARD.split())
                    ]
                    body = {"task": "transcribe", "language": "english", "duration": 1.0, "text": HEARD, "words": words}
                    self.answer("application/json", json.dumps(body).encode())

            def answer(self, kind: str, body: bytes) -> None:
                self.send_response(200)
                self.send_header("content-type", kind)
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def stream(self, mode: str) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/event-stream")
                self.end_headers()
                try:
                    self.wfile.write(_chunk({"role": "assistant", "content": "Hello"}))
                    self.wfile.flush()
                    if mode == "stall":
                        fake.released.wait(120)
                        return
                    while mode == "endless":
                        self.wfile.write(_chunk({"content": " and"}))
                        self.wfile.flush()
                    self.wfile.write(_chunk({"content": " there."}) + _chunk({}, "stop") + b"data: [DONE]\n\n")
                except OSError:
                    pass  # the client went away

            def log_message(self, *args: Any) -> None:
                pass

        return Handler


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeProvider]:
    provider = FakeProvider()
    yield provider
    provider.close()


@pytest.fixture(scope="module")
def on_fake(fake: FakeProvider, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose LLM, STT and TTS are the fake, with a 2 s stage timeout and replies of at most 50 tokens."""
    config = f"""
[server]
stage_timeout = 2.0
[session]
voice = "alloy"
[llm]
provider = "openai"
base_url = "{fake.url}"
max_output_tokens = 50
[stt]
provider = "openai"
base_url = "{fake.url}"
[tts]
provider = "openai"
base_url = "{fake.url}"
voices = {{ alloy = "alloy" }}
"""
    running = start_server(tmp_path_factory.mktemp("on-fake"), config)
    yield running
    stop_server(running)


async def turn(client: Client, spoken: bool) -> list[dict[str, Any]]:
    """A user turn (a second of audio when ``spoken``, else text) and a spoken response: its events to the end."""
    if spoken:
        audio = base64.b64encode(_tone_wav(1.0)[44:]).decode()
        await client.send({"type": "input_audio_buffer.append", "audio": audio})
        await client.send({"type": "input_audio_buffer.commit"})
    else:
        content = [{"type": "input_text", "text": "Say hello."}]
        await client.send(
            {"type": "conversation.item.create", "item": {"type": "message", "role": "user", "content": content}}
        )
    await client.send({"type": "response.create"})
    return await client.until("response.done")


FAULTS = [
    ("completions", "hang", "The language model failed: the service did not answer within 2 s"),
    ("completions", "stall", "The language model failed: the service did not answer within 2 s"),
    ("completions", "garbage", "The language model failed: the service's answer is not a chat completion stream"),
    ("completions", "down", "The language model failed: Connection error."),
    ("speech", "hang", "Speech synthesis failed: the service did not answer within 2 s"),
    ("speech", "garbage", "Speech synthesis failed: the service's answer is not WAV audio"),
    ("transcriptions", "hang", "Transcription failed: the service did not answer within 2 s"),
    ("transcriptions", "garbage", "Transcription failed: the service's answer is not a transcription"),
    ("transcriptions", "down", "Transcription failed: Connection error."),
]


@pytest.mark.parametrize(("stage", "mode", "message"), FAULTS, ids=[f"{s}-{m}" for s, m, _ in FAULTS])
async def test_a_provider_fault_fails_the_response_naming_the_stage_and_the_next_turn_works(
    on_fake: Server, fake: FakeProvider, stage: str, mode: str, message: str
) -> None:
    async with websockets.connect(f"{on_fake.ws}/voice-live/realtime?api-version=2025-10-01&model=m") as ws:
        client = Client(ws)
        await client.until("session.created")
        spoken = stage == "transcriptions"
        transcription = {"model": "whisper-1"} if spoken else None
        session = {"turn_detection": None, "input_audio_transcription": transcription}
        await client.send({"type": "session.update", "session": session})
        await client.until("session.updated")
        if mode == "down":
            fake.down()
        else:
            fake.modes[stage] = mode
        try:
            events = await turn(client, spoken)
        finally:
            if mode == "down":
                fake.up()
            fake.modes.clear()
        done = events[-1]["response"]
        assert done["status"] == "failed" and done["status_details"]["error"]["message"].startswith(message)
        errors = [e["error"] for e in events if e["type"] == "error"]
        assert [e["message"] for e in errors] == [done["status_details"]["error"]["message"]]

        events = await turn(client, spoken)
        assert events[-1]["response"]["status"] == "completed"
        assert events[-1]["response"]["output"][-1]["content"][0]["transcript"] == "Hello there."
        assert any(e["type"] == "response.audio.delta" for e in events)
        if spoken:  # the turn whose transcription failed is transcribed again
            heard = [e for e in client.received if e["type"].endswith("input_audio_transcription.completed")]
            assert len({e["item_id"] for e in heard}) == 2 and {e["transcript"] for e in heard} == {HEARD}


async def test_an_endless_stream_is_cut_at_max_output_tokens(on_fake: Server, fake: FakeProvider) -> None:
    async with websockets.connect(f"{on_fake.ws}/voice-live/realtime?api-version=2025-10-01&model=m") as ws:
        client = Client(ws)
        await client.until("session.created")
        await client.send({"type": "session.update", "session": {"turn_detection": None, "modalities": ["text"]}})
        await client.until("session.updated")
        fake.modes["completions"] = "endless"
        try:
            events = await turn(client, spoken=False)
        finally:
            fake.modes.clear()
        done = events[-1]["response"]
        assert done["status"] == "incomplete" and done["status_details"]["reason"] == "max_output_tokens"
        assert 40 <= len([e for e in events if e["type"] == "response.text.delta"]) <= 55

        events = await turn(client, spoken=False)
        assert events[-1]["response"]["status"] == "completed"
