"""Bad client input gets a clear ``error`` event naming the offending event, and the session goes on."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import itertools
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
import pytest
import websockets
from websockets.exceptions import InvalidStatus

from conftest import Client, Server
from voxlive.config import Settings
from voxlive.protocol import (
    ClientEventConversationItemDelete,
    ClientEventSessionUpdate,
    ServerEvent,
    ServerEventError,
    ServerEventSessionUpdated,
)
from voxlive.realtime.engine import Engine
from voxlive.speech import files
from voxlive.speech.vad import SileroVAD


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


def event(kind: str, **fields: object) -> str:
    return json.dumps({"type": kind, "event_id": "e1", **fields})


def tool(name: str, parameters: dict | None = None) -> dict:
    return {"type": "function", "name": name, "parameters": parameters or {"type": "object", "properties": {}}}


BIG_SCHEMA = {"type": "object", "properties": {f"p{n}": {"type": "string", "description": "x" * 40} for n in range(30)}}
"""A tool schema of ~2 KB of JSON."""


@pytest.mark.parametrize(
    ("frame", "code", "param"),
    [
        ("this is not json", "invalid_json", None),
        ('{"type": "session.update", "session": {"tools": ' + "[" * 5000 + "]" * 5000 + "}}", "invalid_json", None),
        ('{"type": "session.update", "session": {"tools": ' + "[" * 500 + "]" * 500 + "}}", "invalid_json", None),
        (  # too deep, but decoded: its event_id is named
            '{"type": "session.update", "event_id": "e1", "session": {"tools": ' + "[" * 150 + "]" * 150 + "}}",
            "invalid_json",
            None,
        ),
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
        # turn-detection durations are bounded: a turn that would never end (or start) is refused
        (
            '{"type": "session.update", "event_id": "e1", "session": {"turn_detection": {"type": "server_vad", '
            '"silence_duration_ms": 1000000000}}}',
            "invalid_value",
            "session.turn_detection.silence_duration_ms",
        ),
        (
            '{"type": "session.update", "event_id": "e1", "session": {"turn_detection": {"type": "azure_semantic_vad", '
            '"prefix_padding_ms": 60000}}}',
            "invalid_value",
            "session.turn_detection.prefix_padding_ms",
        ),
        (
            '{"type": "session.update", "event_id": "e1", "session": {"turn_detection": {"type": "server_vad", '
            '"speech_duration_ms": 3600000}}}',
            "invalid_value",
            "session.turn_detection.speech_duration_ms",
        ),
        (
            '{"type": "session.update", "event_id": "e1", "session": {"turn_detection": {"type": "server_vad", '
            '"end_of_utterance_detection": {"model": "semantic_detection_v1", "timeout_ms": 86400000}}}}',
            "invalid_value",
            "session.turn_detection.end_of_utterance_detection.timeout_ms",
        ),
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
        # a function's parameters are a JSON schema of an object; instructions and tools have a size limit
        (
            event("session.update", session={"tools": [tool("f", {"type": "objekt"})]}),
            "invalid_value",
            "session.tools[0].parameters",
        ),
        (
            event(
                "session.update", session={"tools": [tool("f"), tool("g", {"type": "object", "properties": {"a": 5}})]}
            ),
            "invalid_value",
            "session.tools[1].parameters",
        ),
        (
            event("response.create", response={"tools": [tool("f", {"type": "object", "properties": "a"})]}),
            "invalid_value",
            "response.tools[0].parameters",
        ),
        (
            event("session.update", session={"tools": [tool("f", {"type": "object", "$schema": {}})]}),
            "invalid_value",
            "session.tools[0].parameters",
        ),
        (
            event("session.update", session={"tools": [tool(f"f{n}", BIG_SCHEMA) for n in range(40)]}),
            "invalid_value",
            "session.tools",
        ),
        (
            event("session.update", session={"instructions": "Be brief. " * 4000}),
            "invalid_value",
            "session.instructions",
        ),
        (
            event("response.create", response={"instructions": "Be brief. " * 4000}),
            "invalid_value",
            "response.instructions",
        ),
        # clients name models and voices, never files
        (
            event("session.update", session={"input_audio_transcription": {"model": "/etc/passwd"}}),
            "invalid_value",
            "session.input_audio_transcription.model",
        ),
        (
            event("session.update", session={"input_audio_transcription": {"model": "../x.onnx"}}),
            "invalid_value",
            "session.input_audio_transcription.model",
        ),
        (event("session.update", session={"voice": "/etc/passwd"}), "invalid_value", "session.voice"),
        (event("response.create", response={"voice": "../x.onnx"}), "invalid_value", "response.voice"),
        # a lone UTF-16 surrogate (a JSON escape not part of a pair) is no text: it would poison every later event
        (
            '{"type": "session.update", "event_id": "e1", "session": {"instructions": "Be brief.\\udfff"}}',
            "invalid_value",
            "session.instructions",
        ),
        (
            '{"type": "conversation.item.create", "event_id": "e1", "item": {"type": "message", "role": "user", '
            '"content": [{"type": "input_text", "text": "\\ud800hi"}]}}',
            "invalid_value",
            "item.content[0].text",
        ),
        ('{"type": "input_text.delta", "event_id": "e1", "id": "t1", "delta": "\\udfff"}', "invalid_value", "delta"),
        ('{"type": "session.update", "event_id": "e1", "session": {"\\udfff": 1}}', "invalid_value", "session"),
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


async def test_an_empty_event_id_is_named_too(client: Client) -> None:
    await client.send('{"type": "conversation.item.create", "event_id": ""}')
    error = await client.recv()
    assert error["type"] == "error" and error["error"]["event_id"] == "", error
    await assert_session_still_works(client)


async def test_a_null_model_leaves_the_session_its_model(client: Client) -> None:
    await client.send({"type": "session.update", "session": {"model": None}})
    updated = await client.recv()
    assert updated["type"] == "session.updated" and updated["session"]["model"] == "m", updated
    await client.send({"type": "session.update", "session": {"model": "m"}})
    assert (await client.recv())["type"] == "session.updated"


async def test_a_flood_of_bad_events_loses_nothing(client: Client) -> None:
    for n in range(50):
        await client.send({"type": "nope", "event_id": f"bad{n}"})
    ids = [(await client.recv())["error"]["event_id"] for _ in range(50)]
    assert ids == [f"bad{n}" for n in range(50)]
    await assert_session_still_works(client)


@pytest.mark.parametrize(
    ("event", "param"),
    [
        ({"type": "session.update", "session": {"type": "realtime", "audio": "x"}}, "session.audio"),
        ({"type": "session.update", "session": {"type": "realtime", "audio": {"input": 3}}}, "session.audio.input"),
        (
            {"type": "session.update", "session": {"type": "realtime", "output_modalities": None}},
            "session.output_modalities",
        ),
        ({"type": "response.create", "response": {"audio": "x"}}, "response.audio"),
        ({"type": "response.create", "response": {"audio": {"output": []}}}, "response.audio.output"),
        (
            {"type": "session.update", "session": {"audio": {"output": {"format": {"rate": [24000]}}}}},
            "session.audio.output.format.rate",
        ),
        (
            {"type": "response.create", "response": {"audio": {"output": {"format": {"rate": {"hz": 8000}}}}}},
            "response.audio.output.format.rate",
        ),
    ],
)
async def test_ga_events_of_the_wrong_shape_get_an_error(server: Server, event: dict, param: str) -> None:
    async with websockets.connect(f"{server.ws}/v1/realtime?model=m") as ws:
        client = Client(ws)
        await client.until("conversation.created")
        await client.send({**event, "event_id": "e1"})
        error = await client.recv()
        assert error["type"] == "error", error
        assert error["error"]["param"] == param and error["error"]["event_id"] == "e1", error
        assert error["error"]["code"] == "invalid_type"
        await client.send({"type": "session.update", "session": {"type": "realtime", "instructions": "Be brief."}})
        assert (await client.recv())["type"] == "session.updated"


async def post(url: str, body: bytes | str, content_type: str = "application/json") -> tuple[int, bytes]:
    """POST ``body`` (urllib, in a thread): the status and the body of the answer."""

    def send() -> tuple[int, bytes]:
        data = body.encode() if isinstance(body, str) else body
        request = urllib.request.Request(url, data, {"content-type": content_type})
        try:
            with urllib.request.urlopen(request) as answer:
                return answer.status, answer.read()
        except urllib.error.HTTPError as error:
            return error.code, error.read()

    return await asyncio.to_thread(send)


async def test_the_speech_api_refuses_json_nested_too_deep(server: Server) -> None:
    speech = f"{server.http}/v1/audio/speech"
    status, body = await post(speech, '{"voice": "alloy", "input": ' + "[" * 5000 + "]" * 5000 + "}")
    assert status == 400 and "deeper than" in json.loads(body)["error"]["message"]
    status, body = await post(speech, json.dumps({"model": "tts-1", "voice": "alloy", "input": "Hi."}))
    assert status == 200 and body


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav"])
async def test_speech_of_no_speakable_words_is_a_valid_file(server: Server, fmt: str) -> None:
    status, body = await post(
        f"{server.http}/v1/audio/speech", json.dumps({"voice": "alloy", "input": "...!?", "response_format": fmt})
    )
    assert status == 200 and body
    files.read(body)  # decodes


async def test_text_escaped_as_a_surrogate_pair_is_accepted(client: Client) -> None:
    await client.send('{"type": "session.update", "session": {"instructions": "Smile \\ud83d\\ude00"}}')
    updated = await client.recv()
    assert updated["type"] == "session.updated" and updated["session"]["instructions"] == "Smile \N{GRINNING FACE}"


async def test_a_forced_call_whose_schema_the_local_model_cannot_enforce_still_gets_an_answer(client: Client) -> None:
    # a valid JSON schema that llama.cpp cannot turn into a grammar (a pattern without ^ and $)
    city = {"type": "object", "properties": {"city": {"type": "string", "pattern": "[A-Z][a-z]+"}}}
    await client.send(
        {"type": "session.update", "session": {"tools": [tool("weather", city)], "tool_choice": "required"}}
    )
    assert (await client.recv())["type"] == "session.updated"
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Weather in Oslo?"}],
            },
        }
    )
    await client.send({"type": "response.create", "response": {"modalities": ["text"], "max_output_tokens": 40}})
    done = (await client.until("response.done"))[-1]["response"]
    assert done["status"] == "completed", done


def multipart(audio: bytes, **fields: str) -> tuple[bytes, str]:
    """A multipart form of an audio ``file`` and text fields: the body and its content type."""
    boundary = "voxlive-test-boundary"
    parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n' for k, v in fields.items()]
    head = f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.flac"\r\n\r\n'
    body = "".join(parts).encode() + head.encode() + audio + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def raw_post(server: Server, path: str, headers: dict[str, str], chunks: Iterable[bytes]) -> tuple[int, bytes]:
    """POST a body sent piece by piece, until the server answers (it may answer before the body is sent)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=60)
    connection.putrequest("POST", path)
    for name, value in headers.items():
        connection.putheader(name, value)
    connection.endheaders()
    with contextlib.suppress(BrokenPipeError, ConnectionResetError):
        for chunk in chunks:
            connection.send(chunk)
    answer = connection.getresponse()
    return answer.status, answer.read()


def silent_flac(seconds: int, total_in_header: bool = True) -> bytes:
    """A small FLAC file of ``seconds`` of silence at 8 kHz; without its length in the header, if asked."""
    data = bytearray(files.write(np.zeros(8000 * seconds, np.int16), 8000, "flac"))
    if not total_in_header:  # STREAMINFO's total samples (the low 36 bits of bytes 18-25): 0 is "unknown"
        field = int.from_bytes(data[18:26], "big")
        data[18:26] = (field & ~((1 << 36) - 1)).to_bytes(8, "big")
    return bytes(data)


@pytest.mark.parametrize("total_in_header", [True, False])
async def test_a_small_file_of_long_audio_is_refused_before_it_is_decoded(server: Server, total_in_header) -> None:
    audio = silent_flac(11 * 60, total_in_header)  # 11 minutes: longer than [server] max_audio_seconds
    assert len(audio) < 200_000
    status, body = await post(f"{server.http}/v1/audio/transcriptions", *multipart(audio, model="whisper-1"))
    error = json.loads(body)["error"]
    assert status == 400 and error["code"] == "audio_too_long" and error["param"] == "file", error
    status, body = await post(f"{server.http}/v1/audio/transcriptions", *multipart(silent_flac(1)))
    assert status == 200 and "text" in json.loads(body)


async def test_bodies_over_the_limit_are_refused_as_they_come(server: Server) -> None:
    upload = 25 * 1024 * 1024  # [server] max_upload_bytes

    def chunked(total: int, size: int = 1024 * 1024) -> Iterator[bytes]:
        for _ in range(total // size):
            yield f"{size:x}\r\n".encode() + b"\0" * size + b"\r\n"
        yield b"0\r\n\r\n"

    form = "multipart/form-data; boundary=voxlive-test-boundary"
    head = b'--voxlive-test-boundary\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
    for headers, chunks in [
        ({"content-type": form, "transfer-encoding": "chunked"}, [f"{len(head):x}\r\n".encode() + head + b"\r\n"]),
        ({"content-type": form, "content-length": str(200 * 1024 * 1024)}, [head]),  # only announced
    ]:
        if "transfer-encoding" in headers:
            chunks = itertools.chain(chunks, chunked(upload + 2 * 1024 * 1024))
        status, body = await asyncio.to_thread(raw_post, server, "/v1/audio/transcriptions", headers, chunks)
        assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large", body

    status, body = await post(f"{server.http}/v1/audio/speech", json.dumps({"input": "Hi.", "x": "y" * 100_000}))
    assert status == 413 and json.loads(body)["error"]["code"] == "request_too_large", body


@pytest.mark.parametrize("path", ["/etc/passwd", "../x.onnx", "..\\x.onnx", "~/model"])
async def test_paths_are_no_model_or_voice_names(server: Server, path: str) -> None:
    status, body = await post(f"{server.http}/v1/audio/transcriptions", *multipart(silent_flac(1), model=path))
    error = json.loads(body)["error"]
    assert status == 400 and error["param"] == "model" and error["code"] == "invalid_value", error
    status, body = await post(f"{server.http}/v1/audio/speech", json.dumps({"input": "Hi.", "voice": path}))
    error = json.loads(body)["error"]
    assert status == 400 and error["param"] == "voice" and "Unknown voice" in error["message"], error
    with pytest.raises(InvalidStatus) as refused:
        async with websockets.connect(f"{server.ws}/voice-live/realtime?{urllib.parse.urlencode({'model': path})}"):
            pass
    assert refused.value.response.status_code == 400


@pytest.mark.models
async def test_a_handler_that_fails_is_answered_with_a_server_error_and_the_session_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A handler that raises stands for a bug no client event can cause today: the fault is made by replacing
    the ``conversation.item.delete`` handler of an in-process session."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    engine = Engine(Settings())  # its LLM is never loaded: no reply is asked for
    engine.vad = SileroVAD()
    sent: list[ServerEvent] = []
    session = engine.create_session(sent.append)

    def broken(item_id: str) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(session.edits, "delete", broken)
    await session.handle(ClientEventConversationItemDelete(event_id="evt_1", item_id="item_x"))
    await session.handle(ClientEventSessionUpdate(event_id="evt_2", session={"instructions": "Be brief."}))
    error, updated = sent[-2:]
    assert isinstance(error, ServerEventError) and error.error.code == "server_error"
    assert error.error.event_id == "evt_1" and "conversation.item.delete" in error.error.message
    assert isinstance(updated, ServerEventSessionUpdated) and updated.session.instructions == "Be brief."
    await session.close()
    await engine.close()
