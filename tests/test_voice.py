"""Spoken conversations through ``/voice-live/realtime``: audio in, turns, transcripts, audio out."""

from __future__ import annotations

import asyncio
import base64
import json
import re

import numpy as np
import pytest

from benchmarks.common import espeak, silence, spoken
from conftest import Client, stream_pcm
from voxlive.realtime.turn_detector import GUARDED_LOOKBACK_MS
from voxlive.speech.audio import OUTPUT_RATES, decode, resample, to_float
from voxlive.speech.phrases import normalized


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def overlap(said: str, heard: str) -> float:
    """How alike two transcripts are, letter by letter (word splits like "France is"/"Francis" do not count)."""
    from difflib import SequenceMatcher

    return SequenceMatcher(None, "".join(words(said)), "".join(words(heard))).ratio()


async def configure(client: Client, **session: object) -> dict:
    await client.send({"type": "session.update", "session": session})
    return (await client.until("session.updated"))[-1]["session"]


async def test_official_sdk_spoken_question_with_server_vad(server, piper, whisper) -> None:
    from azure.ai.voicelive.aio import connect
    from azure.ai.voicelive.models import (
        Animation,
        AudioInputTranscriptionOptions,
        InputAudioFormat,
        Modality,
        OutputAudioFormat,
        RequestSession,
        ServerVad,
    )
    from azure.core.credentials import AzureKeyCredential

    question = await spoken(piper, "What is the capital of France?")
    async with connect(endpoint=server.http, credential=AzureKeyCredential("k"), model="voxlive-local") as conn:
        await conn.session.update(
            session=RequestSession(
                modalities=[Modality.TEXT, Modality.AUDIO],
                input_audio_format=InputAudioFormat.PCM16,
                output_audio_format=OutputAudioFormat.PCM16,
                input_audio_transcription=AudioInputTranscriptionOptions(model="whisper-1"),
                turn_detection=ServerVad(threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500),
                output_audio_timestamp_types=["word"],
                animation=Animation(outputs=["viseme_id"]),
            )
        )
        events: list = []

        async def listen() -> None:
            async for event in conn:
                events.append(event)
                if event.type == "response.done":
                    return

        listening = asyncio.create_task(listen())
        for start in range(0, len(question), 2400):  # 100 ms chunks, in real time
            await conn.input_audio_buffer.append(
                audio=base64.b64encode(question[start : start + 2400].tobytes()).decode()
            )
            await asyncio.sleep(0.1)
        await asyncio.wait_for(listening, 60)

    kinds = [e.type for e in events]
    for earlier, later in [
        ("input_audio_buffer.speech_started", "input_audio_buffer.speech_stopped"),
        ("input_audio_buffer.speech_stopped", "input_audio_buffer.committed"),
        ("input_audio_buffer.committed", "response.created"),
        ("response.created", "response.audio.delta"),
        ("response.audio.done", "response.audio_transcript.done"),
    ]:
        assert kinds.index(earlier) < kinds.index(later), (earlier, later)
    started = next(e for e in events if e.type == "input_audio_buffer.speech_started")
    assert 0 <= started.audio_start_ms <= 300  # the speech begins 300 ms in; the prefix padding reaches back
    completed = next(e for e in events if e.type == "conversation.item.input_audio_transcription.completed")
    assert overlap("what is the capital of france", completed.transcript) >= 0.8, completed.transcript
    assert completed.item_id == started.item_id
    deltas = [e.delta for e in events if e.type == "conversation.item.input_audio_transcription.delta"]
    assert deltas and all(e.item_id == completed.item_id for e in events if e.type.endswith("transcription.delta"))
    assert words(" ".join(deltas)) == words(completed.transcript), (deltas, completed.transcript)

    audio = b"".join(e.delta for e in events if e.type == "response.audio.delta")
    transcript = next(e for e in events if e.type == "response.audio_transcript.done").transcript
    assert "paris" in transcript.lower()
    heard = await whisper.transcribe(to_float(resample(decode(audio, "pcm16"), 24_000, 16_000)))
    assert overlap(transcript, heard.text) >= 0.7, (transcript, heard.text)
    duration_ms = len(audio) // 2 * 1000 // 24_000

    stamps = [e for e in events if e.type == "response.audio_timestamp.delta"]
    assert [s.text for s in stamps] == transcript.split()
    offsets = [s.audio_offset_ms for s in stamps]
    assert offsets == sorted(offsets) and offsets[0] >= 0
    assert duration_ms * 0.5 < offsets[-1] + stamps[-1].audio_duration_ms <= duration_ms
    visemes = [e for e in events if e.type == "response.animation_viseme.delta"]
    assert [v.audio_offset_ms for v in visemes] == sorted(v.audio_offset_ms for v in visemes)
    assert {v.viseme_id for v in visemes} <= set(range(22)) and len({v.viseme_id for v in visemes}) > 5
    assert visemes[-1].audio_offset_ms < duration_ms
    done = events[-1].response
    assert done.status == "completed"
    assert done.output[0].content[0].transcript == transcript


async def test_barge_in_cancels_the_answer_and_no_audio_follows(client: Client, piper) -> None:
    await configure(client, turn_detection={"type": "server_vad", "silence_duration_ms": 400})
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Tell me a long story about a dragon who learns to bake bread."}
                ],
            },
        }
    )
    await client.send({"type": "response.create", "response": {"max_output_tokens": 300}})
    first = (await client.until("response.audio.delta"))[-1]
    interruption = await spoken(piper, "Please stop now.", lead_ms=100, tail_ms=900)  # no pause inside
    await stream_pcm(client.send, interruption, speed=4)
    events = await client.until("response.done")
    done = events[-1]["response"]
    assert done["id"] == first["response_id"]
    assert done["status"] == "cancelled"
    assert done["status_details"] == {"type": "cancelled", "reason": "turn_detected"}
    kinds = [e["type"] for e in events]
    assert "input_audio_buffer.speech_started" in kinds
    assert kinds.index("input_audio_buffer.speech_started") < kinds.index("response.done")
    # The user's turn is then answered; not one audio delta of the cancelled response comes after its end.
    later = await client.until("response.done")
    assert all(e.get("response_id") != first["response_id"] for e in later)
    assert later[-1]["response"]["status"] == "completed"


@pytest.mark.parametrize(
    ("session", "audio", "code"),
    [
        ({}, "not base64 at all!", "invalid_audio"),
        ({}, base64.b64encode(b"\x01\x02\x03").decode(), "invalid_audio"),
        ({"input_audio_sampling_rate": 16000}, "%%%", "invalid_audio"),
    ],
)
async def test_malformed_audio_gets_an_error_and_the_session_goes_on(
    client: Client, session: dict, audio: str, code: str
) -> None:
    await configure(client, turn_detection=None, **session)
    await client.send({"type": "input_audio_buffer.append", "audio": audio, "event_id": "bad"})
    error = await client.recv()
    assert error["type"] == "error" and error["error"]["code"] == code and error["error"]["event_id"] == "bad"
    await client.send({"type": "input_audio_buffer.append", "audio": base64.b64encode(silence(300)).decode()})
    await client.send({"type": "input_audio_buffer.commit"})
    assert (await client.until("input_audio_buffer.committed"))[-1]["type"] == "input_audio_buffer.committed"


async def test_a_wrong_audio_format_is_refused_and_the_old_one_stays(client: Client) -> None:
    await client.send({"type": "session.update", "event_id": "fmt", "session": {"input_audio_format": "mp3"}})
    error = await client.recv()
    assert error["error"]["param"] == "session.input_audio_format" and error["error"]["event_id"] == "fmt"
    session = await configure(client, instructions="still here")
    assert session["input_audio_format"] == "pcm16"


async def test_manual_commit_clear_and_retrieve(client: Client, piper) -> None:
    await configure(
        client,
        turn_detection=None,
        input_audio_transcription={"model": "whisper-1"},
        include=["item.input_audio_transcription.logprobs"],
    )
    await client.send({"type": "input_audio_buffer.commit", "event_id": "empty"})
    error = await client.recv()
    assert error["error"]["code"] == "input_audio_buffer_commit_empty" and error["error"]["event_id"] == "empty"

    await stream_pcm(client.send, silence(500), speed=50)
    await client.send({"type": "input_audio_buffer.clear"})
    assert (await client.until("input_audio_buffer.cleared"))[-1]["type"] == "input_audio_buffer.cleared"

    question = await spoken(piper, "What is the capital of Italy?")
    await stream_pcm(client.send, question, speed=50)
    await client.send({"type": "input_audio_buffer.commit"})
    committed = (await client.until("input_audio_buffer.committed"))[-1]
    created = await client.recv()
    assert created["type"] == "conversation.item.created"
    assert created["item"]["id"] == committed["item_id"]
    assert created["item"]["content"][0]["type"] == "input_audio"
    completed = (await client.until("conversation.item.input_audio_transcription.completed"))[-1]
    assert overlap("what is the capital of italy", completed["transcript"]) >= 0.8
    assert [p["token"] for p in completed["logprobs"]] == completed["transcript"].split()
    assert all(p["logprob"] <= 0 for p in completed["logprobs"])

    await client.send({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
    retrieved = (await client.until("conversation.item.retrieved"))[-1]["item"]
    sent = base64.b64decode(retrieved["content"][0]["audio"])
    assert abs(len(sent) // 2 - len(question)) < 2400  # the same audio, within 100 ms
    assert retrieved["content"][0]["transcript"] == completed["transcript"]

    await client.send({"type": "response.create", "response": {"modalities": ["text"]}})
    done = (await client.until("response.done"))[-1]["response"]
    assert "rome" in done["output"][0]["content"][0]["text"].lower()


async def test_without_transcription_a_turn_is_transcribed_only_when_a_response_reads_it(client: Client, piper) -> None:
    await configure(client, turn_detection=None, input_audio_transcription=None)
    await stream_pcm(client.send, await spoken(piper, "What is the capital of Spain?"), speed=50)
    await client.send({"type": "input_audio_buffer.commit"})
    committed = (await client.until("input_audio_buffer.committed"))[-1]
    await client.send({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
    retrieved = (await client.until("conversation.item.retrieved"))[-1]["item"]
    assert retrieved["content"][0].get("transcript") is None  # nothing has needed it yet

    await client.send({"type": "response.create", "response": {"modalities": ["text"]}})
    events = await client.until("response.done")
    assert "madrid" in events[-1]["response"]["output"][0]["content"][0]["text"].lower()
    assert not [e for e in events if e["type"].startswith("conversation.item.input_audio_transcription")]
    await client.send({"type": "conversation.item.retrieve", "item_id": committed["item_id"]})
    retrieved = (await client.until("conversation.item.retrieved"))[-1]["item"]
    assert "spain" in retrieved["content"][0]["transcript"].lower()


async def test_azure_audio_turns(client: Client, piper) -> None:
    await configure(client, turn_detection=None, modalities=["text"])
    question = await spoken(piper, "What is the capital of Spain?")
    await client.send({"type": "input_audio.turn.start", "turn_id": "t1"})
    await client.send({"type": "input_audio.turn.append", "turn_id": "other", "audio": "AAAA", "event_id": "x"})
    error = await client.recv()
    assert error["error"]["param"] == "turn_id" and error["error"]["event_id"] == "x"
    step = 4800
    for start in range(0, len(question), step):
        chunk = base64.b64encode(question[start : start + step].tobytes()).decode()
        await client.send({"type": "input_audio.turn.append", "turn_id": "t1", "audio": chunk})
    await client.send({"type": "input_audio.turn.end", "turn_id": "t1"})
    events = await client.until("response.done")
    kinds = [e["type"] for e in events]
    assert kinds.index("input_audio_buffer.committed") < kinds.index("response.created")
    assert "madrid" in events[-1]["response"]["output"][0]["content"][0]["text"].lower()

    await client.send({"type": "input_audio.turn.start", "turn_id": "t2"})
    await client.send(
        {"type": "input_audio.turn.append", "turn_id": "t2", "audio": base64.b64encode(question).decode()}
    )
    await client.send({"type": "input_audio.turn.cancel", "turn_id": "t2"})
    await client.send({"type": "input_audio.turn.end", "turn_id": "t2", "event_id": "gone"})
    error = await client.recv()
    assert error["error"]["event_id"] == "gone"
    await client.send({"type": "input_audio.clear"})
    assert (await client.recv())["type"] == "input_audio_buffer.cleared"


async def test_g711_input_is_heard(client: Client) -> None:
    from voxlive.speech.audio import encode

    await configure(
        client, turn_detection=None, input_audio_format="g711_ulaw", input_audio_transcription={"model": "whisper-1"}
    )
    question = espeak("What time is it in Tokyo?", rate=8000)
    await client.send(
        {"type": "input_audio_buffer.append", "audio": base64.b64encode(encode(question, "g711_ulaw")).decode()}
    )
    await client.send({"type": "input_audio_buffer.commit"})
    completed = (await client.until("conversation.item.input_audio_transcription.completed"))[-1]
    assert overlap("what time is it in tokyo", completed["transcript"]) >= 0.6, completed["transcript"]


@pytest.mark.parametrize("fmt", list(OUTPUT_RATES))
async def test_every_output_format_has_the_right_rate_and_length(client: Client, whisper, fmt: str) -> None:
    await configure(client, output_audio_format=fmt, output_audio_timestamp_types=["word"])
    text = "Testing one two three, this is voxlive speaking."
    message = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}
    await client.send({"type": "response.create", "response": {"pre_generated_assistant_message": message}})
    events = await client.until("response.done")
    data = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta")
    samples = decode(data, "pcm16" if fmt.startswith("pcm16") else fmt)
    rate = OUTPUT_RATES[fmt]
    stamps = [e for e in events if e["type"] == "response.audio_timestamp.delta"]
    spoken_until = stamps[-1]["audio_offset_ms"] + stamps[-1]["audio_duration_ms"]
    duration = len(samples) * 1000 // rate
    assert spoken_until <= duration <= spoken_until + 600
    heard = await whisper.transcribe(to_float(resample(samples, rate, 16_000)))
    assert overlap(text, heard.text) >= 0.6, heard.text


async def test_truncate_keeps_the_words_that_were_heard(client: Client) -> None:
    await configure(client, output_audio_timestamp_types=["word"])
    text = "One two three four five six seven eight."
    message = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}
    await client.send({"type": "response.create", "response": {"pre_generated_assistant_message": message}})
    events = await client.until("response.done")
    item_id = events[-1]["response"]["output"][0]["id"]
    stamps = [e for e in events if e["type"] == "response.audio_timestamp.delta"]
    cut = stamps[2]["audio_offset_ms"] + stamps[2]["audio_duration_ms"]  # the end of "three"
    await client.send(
        {"type": "conversation.item.truncate", "item_id": item_id, "content_index": 0, "audio_end_ms": cut}
    )
    truncated = await client.recv()
    assert truncated == {**truncated, "type": "conversation.item.truncated", "item_id": item_id, "audio_end_ms": cut}
    await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
    item = (await client.until("conversation.item.retrieved"))[-1]["item"]
    assert item["content"][0]["transcript"] == "One two three"
    assert len(base64.b64decode(item["content"][0]["audio"])) == 24_000 * cut // 1000 * 2
    await client.send(
        {
            "type": "conversation.item.truncate",
            "item_id": item_id,
            "content_index": 0,
            "audio_end_ms": cut + 10_000,
            "event_id": "long",
        }
    )
    error = await client.recv()
    assert error["error"]["param"] == "audio_end_ms" and error["error"]["event_id"] == "long"
    # What the model reads next is what the user heard.
    await client.send(
        {
            "type": "conversation.item.create",
            "item": {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_text", "text": "Repeat your previous message word for word."}],
            },
        }
    )
    await client.send({"type": "response.create", "response": {"modalities": ["text"]}})
    done = (await client.until("response.done"))[-1]["response"]
    repeated = words(done["output"][0]["content"][0]["text"])
    assert "three" in repeated and "eight" not in repeated, repeated


async def test_voice_settings_shape_the_spoken_answer(client: Client, whisper) -> None:
    """Azure's voice ``rate``/``pitch``/``volume``/``temperature`` and OpenAI's ``speed`` reach the audio."""
    text = "Testing one two three, this is voxlive speaking."
    message = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}

    async def say(**session: object) -> np.ndarray:
        await configure(client, **session)
        await client.send({"type": "response.create", "response": {"pre_generated_assistant_message": message}})
        events = await client.until("response.done")
        audio = b"".join(base64.b64decode(e["delta"]) for e in events if e["type"] == "response.audio.delta")
        return decode(audio, "pcm16")

    steady = {"type": "azure-standard", "name": "alloy", "temperature": 0}
    plain = await say(voice=steady)
    assert np.array_equal(await say(voice=steady), plain)  # temperature 0: the same audio every time
    faster = await say(voice={**steady, "rate": "+50%"})
    assert 0.6 < len(faster) / len(plain) < 0.8
    softer = await say(voice={**steady, "volume": "50"})
    loudness = [float(np.sqrt(np.mean(audio.astype(np.float64) ** 2))) for audio in (softer, plain)]
    assert len(softer) == len(plain) and 0.48 < loudness[0] / loudness[1] < 0.52
    higher = await say(voice={**steady, "pitch": "+2st"})
    assert 0.85 < len(higher) / len(plain) < 1.15 and not np.array_equal(higher[: len(plain)], plain[: len(higher)])
    heard = await whisper.transcribe(to_float(resample(higher, 24_000, 16_000)))
    assert overlap(text, heard.text) >= 0.6, heard.text
    session = await configure(client, voice={**steady, "pitch": "+2st"})
    assert session["voice"] == {**steady, "pitch": "+2st"}
    assert 0.6 < len(await say(voice="alloy", speed=1.5)) / len(plain) < 0.8


async def test_unknown_voice_is_refused(client: Client) -> None:
    await client.send({"type": "session.update", "event_id": "v", "session": {"voice": "nobody"}})
    error = await client.recv()
    assert error["error"]["param"] == "session.voice" and "en_US-joe-medium" in error["error"]["message"]
    session = await configure(client, voice="alloy")
    assert session["voice"] == "alloy"


async def test_semantic_vad_holds_an_unfinished_sentence_open(client: Client, piper) -> None:
    utterance = await paused_after(piper, "I would like to book a table for two people tonight.", "for", 900)

    await configure(
        client,
        modalities=["text"],
        input_audio_transcription={"model": "whisper-1"},
        turn_detection={"type": "server_vad", "silence_duration_ms": 500, "create_response": False},
    )
    await stream_pcm(client.send, utterance, speed=4)
    plain = await client.processed()
    assert sum(e["type"] == "input_audio_buffer.committed" for e in plain) == 2  # cut off in the pause

    eou = {"model": "semantic_detection_v1", "timeout_ms": 2000}  # room for a slow transcription on a busy machine
    detection = {
        "type": "azure_semantic_vad",
        "silence_duration_ms": 500,
        "create_response": False,
        "end_of_utterance_detection": eou,
    }
    await configure(client, turn_detection=detection)
    await stream_pcm(client.send, utterance, speed=1)
    # The end is judged when the transcript of the last pause is ready, however long after the audio that takes.
    # Had the first pause ended the turn, this turn would hold only the words before it.
    turn = (await client.until("input_audio_buffer.committed"))[-1]["item_id"]
    completed = await client.until("conversation.item.input_audio_transcription.completed")
    while completed[-1]["item_id"] != turn:  # the first part's transcripts may come in the meantime
        completed = await client.until("conversation.item.input_audio_transcription.completed")
    assert overlap("I would like to book a table for two people tonight", completed[-1]["transcript"]) >= 0.8


async def paused_after(piper, sentence: str, word: str, pause_ms: int) -> np.ndarray:
    """One sentence spoken with a pause after ``word``: the intonation says the sentence goes on."""
    speech = await piper.synthesize(sentence)
    timing = next(w for w in speech.words if w.text == word)
    cut = (timing.start_ms + timing.duration_ms) * speech.sample_rate // 1000
    audio = np.concatenate([speech.audio[:cut], np.zeros(speech.sample_rate * pause_ms // 1000, np.int16),
                            speech.audio[cut:]])  # fmt: skip
    return np.concatenate([silence(200), resample(audio, speech.sample_rate, 24_000), silence(1500)])


def _microphone(timeline: np.ndarray, room: np.ndarray, user: np.ndarray | None, a: int, b: int) -> np.ndarray:
    """Samples ``a:b`` of what the microphone hears: the loudspeaker's ``timeline`` 40 ms later through the room
    (cut 40 ms after it ends), plus ``user`` from 1.5 s on. Only the part of the timeline that reaches these
    samples is convolved, so each chunk costs the same however long the playback (the client keeps real time)."""
    lo = max(0, a - len(room) + 1)
    played = np.concatenate([np.zeros(960), timeline])[lo:b]
    echo = np.convolve(np.pad(played, (0, b - lo - len(played))), room)[a - lo : b - lo]
    echo[np.arange(a, b) >= len(timeline) + 960] = 0
    if user is not None:
        start, end = max(a, 36_000), min(b, 36_000 + len(user))
        if start < end:
            echo[start - a : end - a] += user[start - 36_000 : end - 36_000]
    return echo


async def speakerphone(client: Client, text: str, user: np.ndarray | None = None) -> list[dict]:
    """Play the agent's answer through a simulated room into the microphone, in real time.

    The client "plays" each audio delta as it arrives (and stops when the user barges in) and sends what
    its microphone picks up: the answer, 40 ms later, through a 60 ms room response at -6 dB, in 100 ms
    chunks, plus ``user`` (24 kHz) from 1.5 s on if given. Returns every event received until the reply is done
    and its playback ended a second ago.

    This needs a machine that keeps up with real time, and cannot run on the audio's clock instead: the server's
    echo canceller lines up what it sent with what the microphone sends back by its own clock (as it must with a
    real client), so a stall of more than ~0.4 s in the server or in this client (its delay range, see
    ``voxlive.speech.echo``) moves the echo out of its reach, and the echo is heard as the user. Nothing retries.
    """
    rng = np.random.default_rng(3)
    room = rng.standard_normal(960) * np.exp(-np.arange(960) / 200)
    room *= 0.5 / np.sqrt(np.sum(room**2))
    message = {"type": "message", "role": "assistant", "content": [{"type": "text", "text": text}]}
    await client.send({"type": "response.create", "response": {"pre_generated_assistant_message": message}})
    timeline = np.zeros(0)  # what the loudspeaker plays, from the first audio on, 24 kHz
    events: list[dict] = []
    first_audio = asyncio.Event()
    loop = asyncio.get_running_loop()
    start = 0.0

    async def receive() -> None:
        nonlocal timeline, start
        while True:
            event = json.loads(await client.connection.recv())
            events.append(event)
            if event["type"] == "input_audio_buffer.speech_started":  # barge-in: the player stops at once
                timeline = timeline[: int((loop.time() - start) * 24_000)]
            if event["type"] == "response.audio.delta":
                if not first_audio.is_set():
                    start = loop.time()
                    first_audio.set()
                # A player cannot play audio before it arrives: each delta goes after what is queued, or now.
                at = max(len(timeline), int((loop.time() - start) * 24_000))
                delta = np.frombuffer(base64.b64decode(event["delta"]), "<i2").astype(np.float64)
                timeline = np.concatenate([timeline, np.zeros(at - len(timeline)), delta])

    receiving = asyncio.create_task(receive())
    await asyncio.wait_for(first_audio.wait(), 60)
    chunk_index = 0
    while True:  # one 100 ms chunk every 100 ms, on a fixed schedule from the first audio
        await asyncio.sleep(max(0.0, start + (chunk_index + 1) * 0.1 - loop.time()))
        heard_until = max(len(timeline), 0 if user is None else 36_000 + len(user))
        answered = any(e["type"] == "response.done" for e in events)  # a reply still coming may have a gap
        if answered and chunk_index * 2400 > heard_until + 24_000 + 960:
            receiving.cancel()
            return events
        chunk = _microphone(timeline, room, user, chunk_index * 2400, (chunk_index + 1) * 2400)
        await client.send(
            {"type": "input_audio_buffer.append", "audio": base64.b64encode(chunk.astype("<i2").tobytes()).decode()}
        )
        chunk_index += 1


ANSWER = (
    "Sure. Here is a short story. Once upon a time, a small robot lived in a lighthouse by the sea, "
    "and every night it counted the ships that passed."
)


async def test_echo_cancellation_keeps_the_agent_from_interrupting_itself(client: Client) -> None:
    detection = {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500, "create_response": False}
    await configure(client, turn_detection=detection, input_audio_echo_cancellation=None)
    heard = await speakerphone(client, ANSWER)
    assert any(e["type"] == "input_audio_buffer.speech_started" for e in heard)  # without it, the echo is "speech"

    await configure(client, input_audio_echo_cancellation={"type": "server_echo_cancellation"})
    heard = await speakerphone(client, ANSWER)
    assert not [e for e in heard if e["type"] == "input_audio_buffer.speech_started"]
    assert [e["response"]["status"] for e in heard if e["type"] == "response.done"] == ["completed"]


async def test_echo_cancellation_still_hears_the_user_over_the_agent(client: Client, piper) -> None:
    detection = {"type": "server_vad", "threshold": 0.5, "silence_duration_ms": 500, "create_response": False}
    echo = {"type": "server_echo_cancellation"}
    await configure(
        client,
        turn_detection=detection,
        input_audio_echo_cancellation=echo,
        input_audio_transcription={"model": "tiny.en"},  # Whisper: surer than Moonshine tiny over residual echo
    )
    user = await spoken(piper, "Excuse me, what time is it?", lead_ms=0, tail_ms=0)
    heard = await speakerphone(client, ANSWER, user=user.astype(np.float64))
    started = [e for e in heard if e["type"] == "input_audio_buffer.speech_started"]
    user_end_ms = 1500 + len(user) * 1000 // 24_000
    # The turn's start reaches back prefix padding + guarded lookback before the first confident frame,
    # which lies inside the user's words (1.5 s on), never in the echo before them.
    reach_back = 300 + GUARDED_LOOKBACK_MS
    assert len(started) == 1 and 1500 - reach_back <= started[0]["audio_start_ms"] <= user_end_ms - 300
    transcripts = [e["transcript"] for e in heard if e["type"].endswith("transcription.completed")]
    if not transcripts:  # still being transcribed when the loudspeaker stopped
        transcripts = [(await client.until("conversation.item.input_audio_transcription.completed"))[-1]["transcript"]]
    words = normalized(transcripts[0])  # the user's question (its first words may be lost in the echo's tail)
    assert "is it" in words and not {"story", "robot", "lighthouse", "ships"} & set(words.split()), transcripts


async def test_noise_suppression_keeps_speech_heard_in_noise(client: Client, piper) -> None:
    question = await spoken(piper, "What is the capital of Germany?", lead_ms=500)
    noise = np.random.default_rng(5).standard_normal(len(question)) * 1500
    noisy = np.clip(question + noise, -32768, 32767).astype(np.int16)
    await configure(
        client,
        turn_detection=None,
        input_audio_transcription={"model": "whisper-1"},
        input_audio_noise_reduction={"type": "near_field"},
    )
    await stream_pcm(client.send, noisy, speed=50)
    await client.send({"type": "input_audio_buffer.commit"})
    completed = (await client.until("conversation.item.input_audio_transcription.completed"))[-1]
    assert overlap("what is the capital of germany", completed["transcript"]) >= 0.8, completed["transcript"]
    await client.send({"type": "conversation.item.retrieve", "item_id": completed["item_id"]})
    item = (await client.until("conversation.item.retrieved"))[-1]["item"]
    cleaned = decode(base64.b64decode(item["content"][0]["audio"]), "pcm16").astype(np.float64)
    lead = slice(2400, 9600)  # noise only, before the speech (after the suppressor settles)
    assert np.sqrt(np.mean(cleaned[lead] ** 2)) < 0.3 * np.sqrt(np.mean(noise[lead] ** 2))


async def test_a_transcription_session_transcribes_and_never_answers(client: Client, piper) -> None:
    await client.send({"type": "transcription_session.update", "event_id": "bad",
                       "session": {"turn_detection": {"type": "server_vad", "threshold": 7}}})  # fmt: skip
    error = await client.recv()
    assert error["error"]["param"] == "session.turn_detection.threshold" and error["error"]["event_id"] == "bad"
    await client.send({"type": "transcription_session.update", "session": {
        "input_audio_transcription": {"model": "whisper-1"}, "turn_detection": {"type": "server_vad"}}})  # fmt: skip
    await client.until("session.updated")
    await stream_pcm(client.send, await spoken(piper, "Good morning to you."), speed=4)
    events = await client.processed()  # the turn ended in the audio: an answer would have begun by now
    if not any(e["type"] == "conversation.item.input_audio_transcription.completed" for e in events):
        events += await client.until("conversation.item.input_audio_transcription.completed")
    kinds = [e["type"] for e in events]
    assert "conversation.item.input_audio_transcription.completed" in kinds
    assert "response.created" not in kinds
