"""The client SDK against a real ``voxlive serve``: every handler, both dialects, fail-fast, reconnect."""

from __future__ import annotations

import asyncio
import inspect
import re
import time
from collections.abc import Iterator

import numpy as np
import pytest

from benchmarks.common import spoken
from conftest import Server, start_server, stop_server
from voxlive.client import (
    AudioPlayback,
    ConnectedEventArgs,
    DisconnectedEventArgs,
    ErrorEventArgs,
    Reconnect,
    SessionContext,
    SessionDeadError,
    SessionHandlers,
    VoiceLiveClient,
)
from voxlive.client.handlers import EVENT_HANDLERS
from voxlive.protocol import (
    SERVER_EVENTS,
    FunctionTool,
    RequestSession,
    ServerEvent,
    ServerEventResponseTextDelta,
    ServerEventSessionCreated,
)

WEATHER = FunctionTool(
    name="get_weather",
    description="Get the current weather for a city.",
    parameters={"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


class Recorder(SessionHandlers):
    """Overrides every handler; records (handler, event) — half of them as ``async def``."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, object, object]] = []
        self.seen: list[ServerEvent] = []

    def on_server_event(self, event: ServerEvent, context: SessionContext) -> None:
        self.seen.append(event)


def _recorder(name: str, asynchronous: bool):  # type: ignore[no-untyped-def]
    if asynchronous:

        async def handler(self: Recorder, event: object, context: object) -> None:
            await asyncio.sleep(0)
            self.calls.append((name, event, context))
    else:

        def handler(self: Recorder, event: object, context: object) -> None:
            self.calls.append((name, event, context))

    return handler


for _index, _name in enumerate(["on_connected", "on_disconnected", "on_error", *EVENT_HANDLERS.values()]):
    setattr(Recorder, _name, _recorder(_name, _index % 2 == 0))


def called(recorder: Recorder, name: str) -> list[object]:
    return [event for handler, event, _ in recorder.calls if handler == name]


async def until(recorder: Recorder, kind: str, count: int = 1, timeout: float = 90) -> None:
    async def wait() -> None:
        while sum(e.type == kind for e in recorder.seen) < count:
            await asyncio.sleep(0.02)

    await asyncio.wait_for(wait(), timeout)


async def test_every_handler_the_server_can_cause(server: Server, piper) -> None:
    recorder = Recorder()
    client = VoiceLiveClient(server.http, "any-key")
    session = await client.start_session(
        "voxlive-local",
        handlers=recorder,
        session=RequestSession(
            modalities=["text", "audio"],
            instructions="You are a helpful assistant. Use the tool results to answer in one short sentence.",
            input_audio_transcription={"model": "whisper-1"},
            turn_detection={"type": "server_vad", "silence_duration_ms": 400},
            output_audio_timestamp_types=["word"],
            animation={"outputs": ["viseme_id", "blendshapes"]},
            tools=[WEATHER],
            temperature=0.0,
        ),
    )
    everything: list[ServerEvent] = []

    async def iterate() -> None:
        async for event in session:
            everything.append(event)

    iterating = asyncio.create_task(iterate())
    assert called(recorder, "on_connected") and isinstance(called(recorder, "on_connected")[0], ConnectedEventArgs)
    await until(recorder, "session.updated")

    # text in, speech out
    await session.add_user_text("What is the capital of France?")
    await session.create_response(additional_instructions="Answer in one sentence.")
    await until(recorder, "response.done")

    # a function call and its result
    await session.add_user_text("What is the weather in Paris?")
    await session.create_response({"tool_choice": "get_weather", "modalities": ["text"]})
    await until(recorder, "response.done", 2)
    call = called(recorder, "on_response_function_call_arguments_done")[-1]
    await session.send_function_result(call.call_id, {"temperature_celsius": 21})
    await session.create_response({"modalities": ["text"], "tool_choice": "none"})
    await until(recorder, "response.done", 3)

    # speech in, with an interruption of the spoken answer
    await session.add_user_text("Tell me a long story about a lighthouse.")
    await session.create_response({"max_output_tokens": 200})
    await until(
        recorder, "response.audio.delta", len([e for e in recorder.seen if e.type == "response.audio.delta"]) + 1
    )
    question = await spoken(piper, "Stop, what time is it?", lead_ms=100, tail_ms=800)
    for start in range(0, len(question), 4800):
        await session.send_audio(question[start : start + 4800])
        await asyncio.sleep(0.05)
    await until(recorder, "response.done", 5)
    await until(recorder, "conversation.item.input_audio_transcription.completed")

    # conversation items, the buffer, a warning, an error
    item_id = called(recorder, "on_conversation_item_created")[0].item.id
    await session.retrieve_item(item_id)
    spoken_item = next(e.item.id for e in called(recorder, "on_response_output_item_done") if e.item.type == "message"
                       and e.item.content and e.item.content[0].type == "audio")  # fmt: skip
    await session.truncate_item(spoken_item, audio_end_ms=200)
    await session.delete_item(item_id)
    await session.clear_audio()
    await session.update_session({"flux_capacitor": True})
    await session.retrieve_item("item_missing")
    await until(recorder, "error")

    def delivered() -> bool:  # every error has reached its own handler (maybe async), and the iterator too
        errors = [e for e in recorder.seen if e.type == "error"]
        return len(called(recorder, "on_server_error")) == len(errors) == sum(e.type == "error" for e in everything)

    await asyncio.wait_for(_wait_for(delivered), 30)
    await session.close()
    await iterating

    expected = set(EVENT_HANDLERS.values()) - {
        "on_session_avatar_connecting",  # no avatar service behind this server
        "on_conversation_item_input_audio_transcription_failed",  # needs a broken recognizer
        *[name for name in EVENT_HANDLERS.values() if "mcp" in name],  # MCP tools: not in these sessions
    }
    names = {name for name, _, _ in recorder.calls}
    assert expected <= names, expected - names
    for name, event, context in recorder.calls:
        if name in ("on_connected", "on_disconnected", "on_error"):
            continue
        event_type = next(t for t, handler in EVENT_HANDLERS.items() if handler == name)
        assert isinstance(event, SERVER_EVENTS[event_type]), (name, event)
        assert isinstance(context, SessionContext) and context.session_id.startswith("sess_")
    # every event, in order, both ways (the iterator began after session.created, maybe after session.updated)
    assert [e.type for e in recorder.seen][-len(everything) :] == [e.type for e in everything]
    assert len(everything) >= len(recorder.seen) - 2
    assert len(recorder.seen) == sum(1 for name, _, _ in recorder.calls if name not in
                                     ("on_connected", "on_disconnected", "on_error"))  # fmt: skip
    assert not called(recorder, "on_disconnected") and not called(recorder, "on_error")  # close() is intentional
    cancelled = [e.response for e in called(recorder, "on_response_done") if e.response.status == "cancelled"]
    assert cancelled and cancelled[0].status_details.reason == "turn_detected"


async def test_the_same_handlers_against_the_openai_endpoint(server: Server) -> None:
    recorder = Recorder()
    client = VoiceLiveClient(f"{server.http}/v1", "any-key")
    assert client.url("m").endswith("/v1/realtime?model=m")
    async with client.connect("voxlive-local", handlers=recorder, session={"modalities": ["text"]}) as session:
        await until(recorder, "session.updated")
        await session.add_user_text("What is the capital of Italy? One word.")
        await session.create_response()
        await until(recorder, "response.done")
    text = "".join(e.delta for e in called(recorder, "on_response_text_delta"))
    assert "rome" in text.lower()
    assert called(recorder, "on_response_text_done")[0].text == text
    assert called(recorder, "on_session_updated")[0].session.modalities == ["text"]
    assert all(isinstance(e, ServerEventResponseTextDelta) for e in called(recorder, "on_response_text_delta"))


async def test_handler_failures_are_isolated_and_listeners_are_typed(server: Server) -> None:
    class Fragile(SessionHandlers):
        def __init__(self) -> None:
            self.errors: list[ErrorEventArgs] = []
            self.created = 0

        def on_session_created(self, event: ServerEventSessionCreated, context: SessionContext) -> None:
            self.created += 1
            raise RuntimeError("a bug in the app")

        def on_error(self, args: ErrorEventArgs, context: object) -> None:
            self.errors.append(args)

    fragile = Fragile()
    deltas: list[str] = []
    client = VoiceLiveClient(server.http)
    async with client.connect("m", handlers=fragile, session={"modalities": ["text"]}) as session:

        @session.on(ServerEventResponseTextDelta)
        async def collect(event: ServerEventResponseTextDelta, context: SessionContext) -> None:
            deltas.append(event.delta)

        with pytest.raises(TypeError):
            session.on(int)  # type: ignore[type-var]
        await session.add_user_text("Say hello.")
        await session.create_response()
        async for event in session:
            if event.type == "response.done":
                break
        with pytest.raises(ValueError, match="mono"):
            await session.send_audio(np.zeros((2, 100), np.int16))
        with pytest.raises(ValueError, match="int16 or float"):
            await session.send_audio(np.zeros(100, np.int32))
    assert fragile.created == 1 and deltas
    assert [(e.context, e.recoverable, str(e.error)) for e in fragile.errors] == [("handler", True, "a bug in the app")]
    with pytest.raises(SessionDeadError):
        await session.add_user_text("after close")


@pytest.fixture
def lonely_server(tmp_path) -> Iterator[Server]:
    running = start_server(tmp_path, "[session]\ntemperature = 0.0\n")
    yield running
    stop_server(running)


@pytest.mark.models
async def test_fail_fast_when_the_server_dies(lonely_server: Server) -> None:
    recorder = Recorder()
    session = await VoiceLiveClient(lonely_server.http).start_session("m", handlers=recorder)
    await session.wait_until_created()
    lonely_server.process.kill()
    await asyncio.wait_for(_wait_for(lambda: called(recorder, "on_error")), 30)
    order = [name for name, _, _ in recorder.calls if name in ("on_connected", "on_disconnected", "on_error")]
    assert order == ["on_connected", "on_disconnected", "on_error"]
    disconnected = called(recorder, "on_disconnected")[0]
    assert isinstance(disconnected, DisconnectedEventArgs) and disconnected.code == 1006
    error = called(recorder, "on_error")[0]
    assert isinstance(error, ErrorEventArgs) and error.recoverable is False
    with pytest.raises(SessionDeadError):
        await session.add_user_text("anyone there?")


@pytest.mark.models
async def test_reconnect_mode_resumes_the_conversation_and_replays_the_session_config(tmp_path) -> None:
    """The server is killed and started again (on the same store): the session reconnects, resumes its
    conversation (its items sent again) and sends its configuration again."""
    (tmp_path / "a").mkdir()
    store = f'[store]\npath = "{tmp_path / "conversations.db"}"\n'
    first = start_server(tmp_path / "a", store)
    recorder = Recorder()
    try:
        session = await VoiceLiveClient(first.http).start_session(
            "m", handlers=recorder, session={"instructions": "Remember me."},
            reconnect=Reconnect(attempts=60, initial_delay=0.25, max_delay=0.5),
        )  # fmt: skip
        await until(recorder, "session.updated")
        await session.add_user_text("Say yes.")
        await session.create_response({"modalities": ["text"], "max_output_tokens": 5})
        await until(recorder, "response.done")  # what the response said is stored before it ends
        said = [event.item.id for event in called(recorder, "on_conversation_item_created")]
        conversation_id = session.conversation_id
        assert conversation_id is not None and len(said) == 2
        first.process.kill()
        first.process.wait()
        (tmp_path / "b").mkdir()
        second = start_server(tmp_path / "b", store, port=first.port)
        try:
            await until(recorder, "session.updated", 2)
            assert len(called(recorder, "on_connected")) == 2 and not called(recorder, "on_disconnected")
            assert called(recorder, "on_session_updated")[-1].session.instructions == "Remember me."
            assert [event.conversation.id for event in called(recorder, "on_conversation_created")] == [
                conversation_id,
                conversation_id,
            ]
            replayed = [event.item.id for event in called(recorder, "on_conversation_item_created")][2:]
            assert replayed == said
            await session.add_user_text("still here")
            await until(recorder, "conversation.item.created")
            await session.close()
        finally:
            stop_server(second)
    finally:
        stop_server(first)


async def test_audio_playback_truncates_what_was_heard_on_barge_in(server: Server, piper) -> None:
    recorder = Recorder()
    session = await VoiceLiveClient(server.http).start_session(
        "m", handlers=recorder, session={"turn_detection": {"type": "server_vad", "silence_duration_ms": 400,
                                                            "create_response": False}},
    )  # fmt: skip
    player = AudioPlayback(session)
    text = "One two three four five six seven eight nine ten eleven twelve."
    message = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}
    await session.create_response({"pre_generated_assistant_message": message})
    await until(recorder, "response.done")
    item_id = called(recorder, "on_response_done")[0].response.output[0].id
    interruption = await spoken(piper, "Wait.", lead_ms=0, tail_ms=600)
    await asyncio.wait_for(_wait_for(lambda: player.played_ms(item_id) >= 1000), 30)  # the user listens a second
    heard, asked = player.played_ms(item_id), time.monotonic()
    await session.send_audio(interruption)
    await until(recorder, "conversation.item.truncated")
    # The player stopped when the server heard the user: after the words were sent, before the truncation came.
    # (The reply lasts about 4 s: the server must hear "Wait." before its end, or nothing is left to truncate.)
    truncated = called(recorder, "on_conversation_item_truncated")[0]
    later_ms = (time.monotonic() - asked) * 1000
    assert truncated.item_id == item_id and heard <= truncated.audio_end_ms <= heard + later_ms
    player.close()
    await session.close()


async def _wait_for(condition) -> None:  # type: ignore[no-untyped-def]
    while not condition():
        await asyncio.sleep(0.02)


SEED_HANDLERS = [
    "onConnected",
    "onConversationItemCreated",
    "onConversationItemDeleted",
    "onConversationItemInputAudioTranscriptionCompleted",
    "onConversationItemInputAudioTranscriptionDelta",
    "onConversationItemInputAudioTranscriptionFailed",
    "onConversationItemRetrieved",
    "onConversationItemTruncated",
    "onDisconnected",
    "onError",
    "onInputAudioBufferCleared",
    "onInputAudioBufferCommitted",
    "onInputAudioBufferSpeechStarted",
    "onInputAudioBufferSpeechStopped",
    "onMcpListToolsCompleted",
    "onMcpListToolsFailed",
    "onMcpListToolsInProgress",
    "onResponseAnimationBlendshapeDelta",
    "onResponseAnimationBlendshapeDone",
    "onResponseAnimationVisemeDelta",
    "onResponseAnimationVisemeDone",
    "onResponseAudioDelta",
    "onResponseAudioDone",
    "onResponseAudioTimestampDelta",
    "onResponseAudioTimestampDone",
    "onResponseAudioTranscriptDelta",
    "onResponseAudioTranscriptDone",
    "onResponseContentPartAdded",
    "onResponseContentPartDone",
    "onResponseCreated",
    "onResponseDone",
    "onResponseFunctionCallArgumentsDelta",
    "onResponseFunctionCallArgumentsDone",
    "onResponseMcpCallArgumentsDelta",
    "onResponseMcpCallArgumentsDone",
    "onResponseMcpCallCompleted",
    "onResponseMcpCallFailed",
    "onResponseMcpCallInProgress",
    "onResponseOutputItemAdded",
    "onResponseOutputItemDone",
    "onResponseTextDelta",
    "onResponseTextDone",
    "onServerError",
    "onServerEvent",
    "onSessionAvatarConnecting",
    "onSessionCreated",
    "onSessionUpdated",
]
"""The handlers of the VoiceLive session handlers interface this SDK follows."""


def test_the_handler_class_has_every_handler_of_the_seed() -> None:
    names = {name for name, _ in inspect.getmembers(SessionHandlers, inspect.isfunction) if name.startswith("on_")}
    for seed_name in SEED_HANDLERS:
        assert re.sub(r"([A-Z])", r"_\1", seed_name).lower() in names, seed_name


async def test_the_examples_run(server: Server, piper, whisper, tmp_path) -> None:
    import subprocess
    import sys
    import wave

    from voxlive.speech.audio import decode, resample, to_float

    question = await spoken(piper, "What is the capital of France?", rate=16_000)
    with wave.open(str(tmp_path / "question.wav"), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16_000)
        out.writeframes(question.tobytes())
    run = await asyncio.to_thread(
        subprocess.run,
        [sys.executable, "examples/speak_wav.py", str(tmp_path / "question.wav"), str(tmp_path / "reply.wav"),
         "--endpoint", server.http],
        capture_output=True, text=True, timeout=180,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr
    assert "capital" in run.stdout.lower() and "paris" in run.stdout.lower(), run.stdout
    with wave.open(str(tmp_path / "reply.wav")) as reply:
        audio = decode(reply.readframes(reply.getnframes()), "pcm16")
    heard = await whisper.transcribe(to_float(resample(audio, 24_000, 16_000)))
    assert "paris" in heard.text.lower()

    chat = await asyncio.to_thread(
        subprocess.run, [sys.executable, "examples/text_chat.py", "--endpoint", server.http],
        input="What is the capital of Spain? One word.\n", capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert chat.returncode == 0, chat.stderr
    assert "madrid" in chat.stdout.lower()
