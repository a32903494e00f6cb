"""Turn detection on its own: Silero frames, the turn state machine, and the end-of-utterance judgement."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import silence, spoken
from voxlive.protocol import AzureSemanticDetection, AzureSemanticVad
from voxlive.realtime.end_of_utterance import EndOfUtterance, completeness
from voxlive.realtime.turn_detector import SilenceStarted, SpeechResumed, SpeechStarted, SpeechStopped, TurnDetector
from voxlive.speech.audio import resample
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
        ("", False),
    ],
)
def test_completeness_reads_the_end_of_the_sentence(text: str, finished: bool) -> None:
    assert (completeness(transcript(text)) >= 0.6) is finished


def test_an_unsure_last_word_leans_to_unfinished() -> None:
    assert completeness(transcript("I would like to book a table for it.", last_probability=0.68)) <= 0.3
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
    judge = EndOfUtterance(detection)
    assert judge.silence_limit(transcript("What is the capital of France?")) == 4000  # 250 ms at 16 kHz
    assert judge.silence_limit(transcript("I would like a table for")) == 20800  # 500 + 800 ms
    assert judge.undecided == 20800


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


async def test_silence_alone_never_starts_a_turn(vad: SileroVAD) -> None:
    noise = (np.random.default_rng(2).standard_normal(16_000 * 3) * 30).astype(np.int16)
    detector = TurnDetector(vad.stream())
    assert detector.process(noise) == []
