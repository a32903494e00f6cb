"""Turn detection on its own: Silero frames, the turn state machine, the turn model, the recognizer at a pause, and
the end-of-utterance judgement."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.common import silence, spoken
from voxlive.protocol import AzureSemanticDetection, AzureSemanticVad, ClientEventSessionUpdate
from voxlive.realtime.end_of_utterance import EndOfUtterance, completeness
from voxlive.realtime.turn_detector import SilenceStarted, SpeechResumed, SpeechStarted, SpeechStopped, TurnDetector
from voxlive.realtime.turn_settings import TurnSettings
from voxlive.speech.audio import resample, to_float
from voxlive.speech.moonshine import MoonshineSTT
from voxlive.speech.prosody import Prosody
from voxlive.speech.smart_turn import SmartTurn
from voxlive.speech.stt import TranscribedWord, Transcript
from voxlive.speech.vad import SileroVAD


def transcript(text: str, last_probability: float = 0.95) -> Transcript:
    words = tuple(TranscribedWord(w, 0.0, 0.0, 0.95) for w in text.split())
    if words:
        words = (*words[:-1], TranscribedWord(words[-1].text, 0.0, 0.0, last_probability))
    return Transcript(text, "en", words)


@pytest.mark.parametrize(
    ("text", "finished"),
    [
        ("What is the capital of France?", True),
        ("Please set a timer for ten minutes.", True),
        ("Thanks, that's all!", True),
        ("I would like to book a table for", False),
        ("I would like to book a table for.", False),
        ("Could you tell me the way to?", False),
        ("Could you explain what a black hole is?", True),
        ("Do you know where it is", False),
        ("My favorite kind of music is...", False),
        ("I need eggs, milk and", False),
        ("So, um,", False),
        ("I need eggs, milk and,", False),
        ("Well...", False),
        ("", False),
    ],
)
def test_completeness_reads_the_end_of_the_sentence(text: str, finished: bool) -> None:
    assert (completeness(transcript(text)) >= 0.6) is finished


def test_an_unsure_last_word_leans_to_unfinished() -> None:
    assert 0.3 < completeness(transcript("I would like to book a table for it.", last_probability=0.68)) <= 0.4
    assert completeness(transcript("I would like to book a table for it.", last_probability=0.9)) >= 0.6
    # elsewhere an unsure last word leaves the turn undecided, and a question mark is trusted
    assert 0.3 < completeness(transcript("Who painted the Mona Lisa.", last_probability=0.4)) < 0.6
    assert completeness(transcript("How far away is the moon?", last_probability=0.38)) >= 0.6


def test_filler_words_can_be_ignored() -> None:
    assert completeness(transcript("What time is it? Um.")) < 0.6
    assert completeness(transcript("What time is it? Um."), remove_fillers=True) >= 0.6


def test_end_of_utterance_shortens_or_holds_the_silence() -> None:
    detection = AzureSemanticVad(
        silence_duration_ms=500, end_of_utterance_detection=AzureSemanticDetection(timeout_ms=800)
    )
    settings = TurnSettings.of(detection)
    assert settings is not None and settings.semantic
    judge = EndOfUtterance(settings)
    finished, base, held = 2400, 8000, 20800  # 150, 500 and 500 + 800 ms at 16 kHz
    assert judge.undecided == held
    # the transcript alone
    assert judge.silence_limit(transcript("What is the capital of France?")) == finished
    assert judge.silence_limit(transcript("I would like a table for")) == held
    assert judge.silence_limit(transcript("Who painted the Mona Lisa.", last_probability=0.4)) == base
    doubtful = transcript("A table for two at seven to night.", last_probability=0.57)  # "tonight", or made up?
    assert judge.silence_limit(doubtful) == held
    # with the turn model: it decides, unless the words are surely unfinished
    assert judge.silence_limit(transcript("What is the capital of France."), 0.9) == finished
    assert judge.silence_limit(transcript("I would like a table for"), 0.9) == held
    assert judge.silence_limit(transcript("My favourite kind of music"), 0.1) == held
    assert judge.silence_limit(transcript("My favourite kind of music"), 0.4) == base
    assert judge.silence_limit(transcript("Is it far?"), 0.3) == finished  # an ended sentence needs less
    assert judge.silence_limit(transcript("Is it far?"), 0.05) == base  # a question is never held
    assert judge.silence_limit(transcript("Remind me tomorrow."), 0.05) == base  # an ended sentence is not held
    assert judge.silence_limit(doubtful, 0.93) == finished  # the turn model settles a doubt
    assert judge.silence_limit(doubtful, 0.1) == held
    assert judge.silence_limit(transcript("Who painted the Mona Lisa,"), 0.95) == finished  # a comma is weak
    assert judge.silence_limit(transcript("Who painted the Mona Lisa,"), 0.1) == held


@pytest.mark.parametrize(
    ("detection", "expected"),
    [
        ({"type": "server_vad"}, {"semantic": False, "silence_ms": 500, "threshold": 0.5}),
        (
            {"type": "server_vad", "end_of_utterance_detection": {"model": "semantic_detection_v1"}},
            {"semantic": True, "hold_ms": 1000},
        ),
        (
            {"type": "azure_semantic_vad", "silence_duration_ms": 300, "remove_filler_words": True,
             "end_of_utterance_detection": {"model": "semantic_detection_v1", "threshold_level": "high",
                                            "timeout_ms": 2000}},
            {"semantic": True, "silence_ms": 300, "hold_ms": 2000, "turn_threshold": 0.7, "remove_filler_words": True},
        ),
        ({"type": "semantic_vad", "eagerness": "high"}, {"semantic": True, "hold_ms": 1500, "turn_threshold": 0.3}),
        ({"type": "semantic_vad", "eagerness": "low"}, {"semantic": True, "hold_ms": 7500, "turn_threshold": 0.7}),
        ({"type": "semantic_vad"}, {"semantic": True, "hold_ms": 3500, "turn_threshold": 0.5}),
    ],
)  # fmt: skip
def test_turn_settings_resolve_every_default(detection: dict, expected: dict) -> None:
    settings = TurnSettings.of(ClientEventSessionUpdate.model_validate(
        {"type": "session.update", "session": {"turn_detection": detection}}
    ).session.turn_detection)  # fmt: skip
    assert settings is not None
    assert {name: getattr(settings, name) for name in expected} == expected


@pytest.fixture(scope="module")
def vad() -> SileroVAD:
    return SileroVAD()


async def test_the_detector_finds_speech_pauses_and_the_end(vad: SileroVAD, piper) -> None:
    first = resample(await spoken(piper, "Hello there,", lead_ms=0, tail_ms=0), 24_000, 16_000)
    second = resample(await spoken(piper, "how are you?", lead_ms=0, tail_ms=0), 24_000, 16_000)
    audio = np.concatenate([silence(800, 16_000), first, second, silence(900, 16_000)])  # Piper pauses ~0.3 s
    detector = TurnDetector(vad.stream(), threshold=0.5, prefix_padding_ms=300, silence_duration_ms=500)
    events = []
    for start in range(0, len(audio), 1600):  # 100 ms at a time
        events += detector.process(audio[start : start + 1600])
    kinds = [type(e) for e in events]
    assert kinds[0] is SpeechStarted and kinds[-1] is SpeechStopped
    assert kinds.count(SpeechStarted) == 1 and kinds.count(SpeechStopped) == 1  # the short pause does not end it
    assert SpeechResumed in kinds and SilenceStarted in kinds
    started, stopped = events[0], events[-1]
    assert abs(started.start - (12_800 - 4_800)) <= 1_600  # speech at 0.8 s, minus 300 ms of prefix padding
    speech_end = 12_800 + len(first) + len(second)
    assert speech_end - 6_400 <= stopped.end <= speech_end  # Piper ends a sentence with silence of its own
    assert detector.position == len(audio) // 512 * 512 and not detector.speaking


@pytest.mark.models
async def test_silence_alone_never_starts_a_turn(vad: SileroVAD) -> None:
    noise = (np.random.default_rng(2).standard_normal(16_000 * 3) * 30).astype(np.int16)
    detector = TurnDetector(vad.stream())
    assert detector.process(noise) == []


@pytest.fixture(scope="module")
def turn_model() -> SmartTurn:
    return SmartTurn()


async def cut_after(piper, sentence: str, word: str) -> np.ndarray:
    """A sentence cut off after ``word`` (the voice still rising: it meant to go on), 16 kHz float32."""
    speech = await piper.synthesize(sentence, prosody=Prosody(variation=0))
    timing = next(w for w in speech.words if w.text == word)
    cut = (timing.start_ms + timing.duration_ms) * speech.sample_rate // 1000
    return to_float(resample(speech.audio[:cut], speech.sample_rate, 16_000))


async def test_the_turn_model_hears_whether_the_speaker_has_finished(turn_model: SmartTurn, piper) -> None:
    for question in ("What is the capital of France?", "Please set a timer for ten minutes."):
        audio = to_float(await spoken(piper, question, 16_000, 0, 100))
        assert await turn_model.probability(audio) > 0.7, question
    for sentence, word in [
        ("I would like to book a table for two people tonight.", "for"),
        ("My favourite kind of music is jazz from the fifties.", "is"),
    ]:
        audio = np.concatenate([await cut_after(piper, sentence, word), np.zeros(1600, np.float32)])
        assert await turn_model.probability(audio) < 0.3, sentence


async def test_moonshine_transcribes_a_turn_with_word_probabilities(piper) -> None:
    stt = MoonshineSTT()
    audio = to_float(await spoken(piper, "How do I make a cup of green tea?", 16_000))
    transcript = await stt.transcribe(audio)
    assert transcript.text == "How do I make a cup of green tea?", transcript.text
    assert [w.text for w in transcript.words] == transcript.text.split()
    assert all(0 < w.probability <= 1 and w.start is None for w in transcript.words)
    assert transcript.language == "en" and transcript.duration == len(audio) / 16_000
    # a long recording is cut into windows at its quiet moments: every sentence is still there
    sentences = ["The weather is lovely today.", "We should walk to the park.", "Then we can have lunch by the river."]
    parts = [to_float(await spoken(piper, s, 16_000, 0, 600)) for s in sentences]
    long = np.concatenate(parts * 5)
    assert len(long) > 20 * 16_000
    heard = (await stt.transcribe(long)).text.lower()
    assert heard.count("park") == 5 and heard.count("river") == 5, heard
    assert (await stt.transcribe(np.zeros(800, np.float32))).text == ""  # too short to hold a word
