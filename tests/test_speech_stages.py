"""The speech stages on their own: audio formats, Piper timings and visemes, Whisper, the speech API."""

from __future__ import annotations

import asyncio
import re
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import audioop  # the standard library's G.711, as the reference (deprecated, still in 3.11)

import numpy as np
import pytest

from benchmarks.common import espeak
from conftest import Server
from voxlive.speech import audio as pcm
from voxlive.speech.alignment import BLENDSHAPE_NAMES, FRAME_RATE, BlendshapeAnimator
from voxlive.speech.prosody import PITCH, RATE, VOLUME, Prosody
from voxlive.speech.stt import OpenAICompatibleSTT
from voxlive.speech.tts import OpenAICompatibleTTS


@pytest.mark.parametrize(
    ("fmt", "to_law", "from_law"),
    [("g711_ulaw", audioop.lin2ulaw, audioop.ulaw2lin), ("g711_alaw", audioop.lin2alaw, audioop.alaw2lin)],
)
def test_g711_is_bit_exact_with_the_reference(fmt: str, to_law, from_law) -> None:
    every_sample = np.arange(-32768, 32768, dtype=np.int16)
    assert pcm.encode(every_sample, fmt) == to_law(every_sample.astype("<i2").tobytes(), 2)
    every_byte = bytes(range(256))
    assert pcm.decode(every_byte, fmt).astype("<i2").tobytes() == from_law(every_byte, 2)


def test_pcm16_decoding_checks_the_byte_count_and_resampling_keeps_the_length() -> None:
    with pytest.raises(pcm.AudioFormatError):
        pcm.decode(b"\x00\x01\x02", "pcm16")
    with pytest.raises(pcm.AudioFormatError):
        pcm.decode_base64("not/base64!")
    one_second = np.random.default_rng(1).integers(-3000, 3000, 24_000).astype(np.int16)
    assert len(pcm.resample(one_second, 24_000, 16_000)) == 16_000
    stream = pcm.StreamResampler(24_000, 16_000)
    pieces = [stream.process(one_second[i : i + 2400]) for i in range(0, 24_000, 2400)]
    pieces.append(stream.process(np.zeros(0, np.int16), last=True))
    assert abs(sum(map(len, pieces)) - 16_000) <= 1


async def test_piper_words_and_visemes_follow_the_audio(piper, whisper) -> None:
    speech = await piper.synthesize("The quick brown fox jumps over the lazy dog, twice.")
    duration = speech.duration_ms
    assert [w.text for w in speech.words] == [
        "The",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "the",
        "lazy",
        "dog,",
        "twice.",
    ]
    starts = [w.start_ms for w in speech.words]
    assert starts == sorted(starts)
    assert all(w.duration_ms > 0 for w in speech.words)
    assert speech.words[-1].start_ms + speech.words[-1].duration_ms <= duration
    # Whisper's own word timings (coarse, ~0.1-0.2 s on tiny.en) agree with ours.
    heard = await whisper.transcribe(pcm.to_float(pcm.resample(speech.audio, speech.sample_rate, 16_000)))
    agree = [
        abs(ours.start_ms - theirs.start * 1000) <= 250
        for ours, theirs in zip(speech.words, heard.words, strict=False)
        if ours.text.strip(",.").lower() == theirs.text.strip(",.").lower()
    ]
    assert len(agree) >= 7 and sum(agree) >= 0.8 * len(agree), agree
    # The audio is loud where the words are, and the visemes change in step.
    samples = np.abs(speech.audio.astype(np.float32))

    def loudness(start_ms: int, end_ms: int) -> float:
        return float(samples[start_ms * speech.sample_rate // 1000 : end_ms * speech.sample_rate // 1000].mean())

    for word in speech.words:
        assert loudness(word.start_ms, word.start_ms + word.duration_ms) > 500, word
    dog, twice = speech.words[-2:]
    pause = loudness(dog.start_ms + dog.duration_ms + 20, twice.start_ms - 20)
    assert pause < 0.2 * loudness(twice.start_ms, twice.start_ms + twice.duration_ms)  # the comma's pause is quiet
    offsets = [v.offset_ms for v in speech.visemes]
    assert offsets == sorted(offsets) and offsets[0] == 0 and offsets[-1] < duration
    assert {v.viseme_id for v in speech.visemes} <= set(range(22))
    assert 21 in {v.viseme_id for v in speech.visemes}  # the lips close for the "b" and "m" sounds

    frames = BlendshapeAnimator().frames(speech.visemes, duration)
    assert frames.shape == (int(np.ceil(duration * FRAME_RATE / 1000)), len(BLENDSHAPE_NAMES)) == (len(frames), 55)
    assert frames.min() >= 0 and frames.max() <= 1
    jaw = frames[:, BLENDSHAPE_NAMES.index("jawOpen")]
    assert jaw.max() > 0.3 and np.abs(np.diff(jaw)).max() < 0.35  # the jaw moves, without jumps
    animator = BlendshapeAnimator()
    in_batches = [animator.frames(speech.visemes, until) for until in (100, 101, 750, duration)]
    assert np.array_equal(np.concatenate(in_batches), frames)  # batch by batch, the same frames


@pytest.mark.parametrize(
    ("scale", "value", "factor"),
    [
        (RATE, "fast", 1.55),
        (RATE, "+20%", 1.2),
        (RATE, "0.75", 0.75),
        (RATE, " Default ", 1.0),
        (PITCH, "x-low", 0.55),
        (PITCH, "-10%", 0.9),
        (PITCH, "+12st", 2.0),
        (PITCH, "-12st", 0.5),
        (PITCH, "+19Hz", 1.2),
        (PITCH, "95Hz", 1.0),
        (VOLUME, "soft", 0.4),
        (VOLUME, "50", 0.5),
        (VOLUME, "-20", 0.8),
        (VOLUME, "+50%", 1.5),
        (VOLUME, "-20dB", 0.1),
    ],
)
def test_ssml_prosody_values_become_factors(scale, value: str, factor: float) -> None:
    assert scale.read(value) == pytest.approx(factor)


@pytest.mark.parametrize(
    ("scale", "value"),
    [(RATE, "quick"), (RATE, "+150%"), (RATE, "0.2"), (PITCH, "loud"), (PITCH, "+24st"),
     (PITCH, "10Hz"), (VOLUME, "-120"), (VOLUME, "10x")],
)  # fmt: skip
def test_ssml_prosody_values_that_cannot_be_used_say_why(scale, value: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"'{value}'")):
        scale.read(value)


def speaking_pitch(audio: np.ndarray, rate: int) -> float:
    """The median fundamental frequency of the voiced 40 ms frames (autocorrelation), in Hz."""
    x = pcm.to_float(pcm.resample(audio, rate, 16_000))
    pitches = []
    for start in range(0, len(x) - 640, 320):
        frame = x[start : start + 640] - x[start : start + 640].mean()
        if np.sqrt((frame**2).mean()) < 0.03:
            continue
        correlation = np.correlate(frame, frame, "full")[639:]
        lag = 40 + int(np.argmax(correlation[40:267]))  # 60 to 400 Hz
        if correlation[lag] > 0.4 * correlation[0]:
            pitches.append(16_000 / lag)
    return float(np.median(pitches))


async def test_piper_speaks_with_the_prosody_asked_for(piper, whisper) -> None:
    text = "The quick brown fox jumps over the lazy dog, twice."
    plain = await piper.synthesize(text, prosody=Prosody(variation=0))
    again = await piper.synthesize(text, prosody=Prosody(variation=0))
    assert np.array_equal(plain.audio, again.audio)  # no variation: the same audio every time
    varied = [await piper.synthesize(text) for _ in range(2)]
    assert not np.array_equal(varied[0].audio, varied[1].audio)

    higher = await piper.synthesize(text, prosody=Prosody(pitch=1.25, variation=0))
    ratio = speaking_pitch(higher.audio, higher.sample_rate) / speaking_pitch(plain.audio, plain.sample_rate)
    assert 1.15 < ratio < 1.35, ratio
    assert 0.85 < higher.duration_ms / plain.duration_ms < 1.15  # the tempo is kept
    faster = await piper.synthesize(text, prosody=Prosody(speed=1.5, variation=0))
    assert 0.6 < faster.duration_ms / plain.duration_ms < 0.8
    assert faster.words[-1].start_ms < plain.words[-1].start_ms  # the timings follow
    quieter = await piper.synthesize(text, prosody=Prosody(volume=0.5, variation=0))
    assert np.abs(quieter.audio.astype(int) - plain.audio.astype(int) // 2).max() <= 1
    for speech in (higher, faster):
        heard = await whisper.transcribe(pcm.to_float(pcm.resample(speech.audio, speech.sample_rate, 16_000)))
        assert "brown fox" in heard.text.lower(), heard.text


async def test_whisper_transcribes_another_voice(whisper) -> None:
    audio = espeak("Please tell me a joke about cats.", rate=16_000)
    transcript = await whisper.transcribe(pcm.to_float(audio))
    assert "joke about cats" in transcript.text.lower() and transcript.language == "en"
    assert 1.0 < transcript.duration < 4.0


async def test_openai_compatible_tts_and_stt_against_the_speech_api(server: Server) -> None:
    tts = OpenAICompatibleTTS(base_url=f"{server.http}/v1", api_key="k", voices={"alloy": "alloy"})
    speech = await tts.synthesize("Good morning, this is a test of the speech service.", "alloy")
    assert speech.sample_rate == 22_050 and 2_000 < speech.duration_ms < 6_000
    assert [w.text for w in speech.words][:2] == ["Good", "morning,"]
    stt = OpenAICompatibleSTT(base_url=f"{server.http}/v1", api_key="k")
    transcript = await stt.transcribe(pcm.to_float(pcm.resample(speech.audio, speech.sample_rate, 16_000)))
    assert "morning" in transcript.text.lower() and "speech" in transcript.text.lower()
    assert transcript.words and transcript.words[0].start < transcript.words[-1].end


@pytest.mark.parametrize("fmt", ["mp3", "opus", "aac", "flac", "wav", "pcm"])
async def test_the_speech_api_writes_every_format(server: Server, fmt: str) -> None:
    from openai import AsyncOpenAI

    client = AsyncOpenAI(base_url=f"{server.http}/v1", api_key="k")
    answer = await client.audio.speech.create(
        model="tts-1", voice="alloy", input="One, two, three.", response_format=fmt
    )
    data = answer.content
    if fmt == "pcm":
        seconds = len(data) / 2 / 24_000
    else:
        from voxlive.speech.files import read

        seconds = len(read(data)) / 16_000
    assert 0.8 < seconds < 3.0


async def test_the_speech_api_rejects_bad_requests(server: Server) -> None:
    import aiohttp

    async with aiohttp.ClientSession(server.http) as http:
        async with http.post("/v1/audio/speech", json={"input": "", "voice": "alloy"}) as answer:
            assert answer.status == 400 and (await answer.json())["error"]["param"] == "input"
        async with http.post("/v1/audio/speech", json={"input": "hi", "voice": "nobody"}) as answer:
            assert answer.status == 400 and (await answer.json())["error"]["param"] == "voice"
        form = aiohttp.FormData()
        form.add_field("file", b"not audio", filename="a.wav")
        async with http.post("/v1/audio/transcriptions", data=form) as answer:
            assert answer.status == 400 and (await answer.json())["error"]["param"] == "file"


@pytest.mark.parametrize(
    ("written", "said"),
    [
        ("**Bold** and *this* with `code`.", "Bold and this with code."),
        ("# A title\n", "A title"),
        ("- an item\n", "an item"),
        ("3 * 4 = 12", "3 * 4 = 12"),
        ("snake_case stays", "snake_case stays"),
    ],
)
def test_markup_is_not_spoken(written: str, said: str) -> None:
    from voxlive.realtime.speaker import speakable

    assert speakable(written) == said


async def test_a_cancelled_model_call_keeps_its_slot_until_its_thread_ends() -> None:
    """Cancelling queued calls drops them; a running one holds the slot until its thread returns."""
    import threading

    from voxlive.speech.offload import run_in_slot
    from voxlive.speech.scheduling import Slots

    slots = Slots(1)
    release = threading.Event()
    started: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        release.wait(10)
        return n

    calls = [asyncio.create_task(run_in_slot(slots, work, n)) for n in range(5)]
    while not started:
        await asyncio.sleep(0.01)
    for call in calls:
        call.cancel()
    await asyncio.sleep(0.05)
    assert slots.running == 1 and slots.waiting == 0  # the running thread still holds its slot
    release.set()
    results = await asyncio.gather(*calls, return_exceptions=True)
    assert all(isinstance(r, asyncio.CancelledError) for r in results)
    assert started == [0] and slots.running == 0
