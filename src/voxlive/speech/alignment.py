"""From phoneme timings to what an avatar needs: word timestamps, visemes, blendshape frames."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, slots=True)
class PhonemeTiming:
    phoneme: str
    start: int
    """First sample, from the start of the speech."""
    samples: int


@dataclass(frozen=True, slots=True)
class WordTiming:
    text: str
    start_ms: int
    duration_ms: int
    char_end: int
    """Where the word ends in the spoken text, so a transcript can be cut after it."""


@dataclass(frozen=True, slots=True)
class Viseme:
    offset_ms: int
    viseme_id: int


# --- words ------------------------------------------------------------------------------------------

_MARKS = "ˈˌːˑ̩̯͡ʲʰ"  # stress, length and other modifiers: they belong to a neighbouring sound
_SILENT = frozenset(" ^$_.,;:!?¡¿—–-…\"'()")


def is_sound(phoneme: str) -> bool:
    """A phoneme that is a speech sound (not a pause, boundary, punctuation or modifier)."""
    return phoneme not in _SILENT and not all(ch in _MARKS for ch in phoneme)


def spoken_words(phonemes: list[PhonemeTiming]) -> list[list[PhonemeTiming]]:
    """The speech sounds of each word the synthesizer spoke (words are separated by spaces)."""
    words: list[list[PhonemeTiming]] = [[]]
    for p in phonemes:
        if p.phoneme == " ":
            words.append([])
        elif is_sound(p.phoneme):
            words[-1].append(p)
    return [w for w in words if w]


def word_timings(
    text: str, phonemes: list[PhonemeTiming], sample_rate: int, phonemize: Callable[[str], list[str]]
) -> list[WordTiming]:
    """When each word of ``text`` is spoken, from the phoneme timings of its synthesis.

    ``phonemize(word)`` gives the phonemes the synthesizer uses for one word. When the words of
    the text map one to one onto the spoken words (a number may be spoken as several), each word
    gets the span of its own sounds; otherwise (the synthesizer merged words, as in "a.m., e.g.")
    the sounds are shared out in proportion to how many each word has on its own.
    """
    tokens = [(m.group(), m.end()) for m in re.finditer(r"\S+", text)]
    tokens = [(word, end) for word, end in tokens if any(ch.isalnum() for ch in word)]
    spoken = spoken_words(phonemes)
    if not tokens or not spoken:
        return []
    alone = [phonemize(word) for word, _ in tokens]
    counts = [len(spoken_words([PhonemeTiming(p, 0, 0) for p in ph])) or 1 for ph in alone]
    if sum(counts) == len(spoken):
        spans, index = [], 0
        for count in counts:
            sounds = [p for word in spoken[index : index + count] for p in word]
            spans.append((sounds[0], sounds[-1]))
            index += count
    else:
        sounds = [p for word in spoken for p in word]
        sizes = [max(1, sum(1 for p in ph if is_sound(p))) for ph in alone]
        scale = len(sounds) / sum(sizes)
        spans, done = [], 0.0
        for size in sizes:
            first = min(len(sounds) - 1, math.floor(done * scale))
            done += size
            last = max(first, min(len(sounds) - 1, math.ceil(done * scale) - 1))
            spans.append((sounds[first], sounds[last]))

    def ms(samples: int) -> int:
        return round(samples * 1000 / sample_rate)

    return [
        WordTiming(word, ms(first.start), ms(last.start + last.samples) - ms(first.start), end)
        for (word, end), (first, last) in zip(tokens, spans, strict=True)
    ]


# --- visemes ----------------------------------------------------------------------------------------

VISEME_OF = {
    **dict.fromkeys(["æ", "ə", "ʌ", "ɐ", "ᵻ"], 1),
    **dict.fromkeys(["ɑ", "a"], 2),
    "ɔ": 3,
    **dict.fromkeys(["ɛ", "ʊ", "e"], 4),
    **dict.fromkeys(["ɝ", "ɚ", "ɜ"], 5),
    **dict.fromkeys(["j", "i", "ɪ", "ɨ", "y"], 6),
    **dict.fromkeys(["w", "u"], 7),
    "o": 8,
    **dict.fromkeys(["h", "x", "ç"], 12),
    **dict.fromkeys(["ɹ", "r", "ɻ"], 13),
    **dict.fromkeys(["l", "ɫ"], 14),
    **dict.fromkeys(["s", "z"], 15),
    **dict.fromkeys(["ʃ", "ʒ", "tʃ", "dʒ"], 16),
    "ð": 17,
    **dict.fromkeys(["f", "v"], 18),
    **dict.fromkeys(["d", "t", "n", "θ", "ɾ"], 19),
    **dict.fromkeys(["k", "g", "ɡ", "ŋ"], 20),
    **dict.fromkeys(["p", "b", "m"], 21),
}
"""IPA sounds to the Azure/SAPI viseme set (0 silence … 21 p/b/m), as in Azure's en-US phoneme table."""
DIPHTHONGS = {("a", "ʊ"): 9, ("ɔ", "ɪ"): 10, ("a", "ɪ"): 11, ("o", "ʊ"): 8, ("e", "ɪ"): 4}


def visemes(phonemes: list[PhonemeTiming], sample_rate: int) -> list[Viseme]:
    """The viseme sequence of a speech, each with the time its mouth shape begins (silence is 0)."""
    out: list[Viseme] = []
    sounds: list[PhonemeTiming] = []
    stress_start: int | None = None
    for p in phonemes:
        if p.phoneme in "ˈˌ":  # stress marks lead into the next sound
            stress_start = p.start if stress_start is None else stress_start
        elif p.phoneme and p.phoneme not in _MARKS:
            start = p.start if stress_start is None else stress_start
            sounds.append(PhonemeTiming(p.phoneme, start, p.samples))
            stress_start = None
    index = 0
    while index < len(sounds):
        p = sounds[index]
        pair = (p.phoneme, sounds[index + 1].phoneme) if index + 1 < len(sounds) else None
        if pair in DIPHTHONGS:
            viseme_id, index = DIPHTHONGS[pair], index + 2
        else:
            viseme_id, index = (VISEME_OF.get(p.phoneme, 19) if is_sound(p.phoneme) else 0), index + 1
        offset = round(p.start * 1000 / sample_rate)
        if not out or out[-1].viseme_id != viseme_id:
            out.append(Viseme(offset, viseme_id))
    if not out or out[0].offset_ms > 0:
        out.insert(0, Viseme(0, 0))
    return out


# --- blendshapes ------------------------------------------------------------------------------------

BLENDSHAPE_NAMES = (
    "eyeBlinkLeft", "eyeLookDownLeft", "eyeLookInLeft", "eyeLookOutLeft", "eyeLookUpLeft", "eyeSquintLeft",
    "eyeWideLeft", "eyeBlinkRight", "eyeLookDownRight", "eyeLookInRight", "eyeLookOutRight", "eyeLookUpRight",
    "eyeSquintRight", "eyeWideRight", "jawForward", "jawLeft", "jawRight", "jawOpen", "mouthClose",
    "mouthFunnel", "mouthPucker", "mouthLeft", "mouthRight", "mouthSmileLeft", "mouthSmileRight",
    "mouthFrownLeft", "mouthFrownRight", "mouthDimpleLeft", "mouthDimpleRight", "mouthStretchLeft",
    "mouthStretchRight", "mouthRollLower", "mouthRollUpper", "mouthShrugLower", "mouthShrugUpper",
    "mouthPressLeft", "mouthPressRight", "mouthLowerDownLeft", "mouthLowerDownRight", "mouthUpperUpLeft",
    "mouthUpperUpRight", "browDownLeft", "browDownRight", "browInnerUp", "browOuterUpLeft", "browOuterUpRight",
    "cheekPuff", "cheekSquintLeft", "cheekSquintRight", "noseSneerLeft", "noseSneerRight", "tongueOut",
    "headRoll", "leftEyeRoll", "rightEyeRoll",
)  # fmt: skip
"""The 55 weights of a frame, in Azure's order: the 52 ARKit blendshapes, then head and eye roll."""
FRAME_RATE = 60

_POSES: dict[int, dict[str, float]] = {
    0: {},
    1: {"jawOpen": 0.35, "mouthLowerDownLeft": 0.2, "mouthLowerDownRight": 0.2},
    2: {"jawOpen": 0.6, "mouthLowerDownLeft": 0.3, "mouthLowerDownRight": 0.3},
    3: {"jawOpen": 0.45, "mouthFunnel": 0.45, "mouthPucker": 0.2},
    4: {"jawOpen": 0.3, "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3},
    5: {"jawOpen": 0.25, "mouthFunnel": 0.3, "mouthPucker": 0.25},
    6: {"jawOpen": 0.15, "mouthSmileLeft": 0.35, "mouthSmileRight": 0.35, "mouthStretchLeft": 0.25,
        "mouthStretchRight": 0.25},
    7: {"jawOpen": 0.15, "mouthPucker": 0.75, "mouthFunnel": 0.35},
    8: {"jawOpen": 0.35, "mouthFunnel": 0.6, "mouthPucker": 0.4},
    9: {"jawOpen": 0.5, "mouthFunnel": 0.35, "mouthPucker": 0.3},
    10: {"jawOpen": 0.4, "mouthFunnel": 0.4, "mouthSmileLeft": 0.15, "mouthSmileRight": 0.15},
    11: {"jawOpen": 0.55, "mouthStretchLeft": 0.2, "mouthStretchRight": 0.2},
    12: {"jawOpen": 0.3, "mouthLowerDownLeft": 0.1, "mouthLowerDownRight": 0.1},
    13: {"jawOpen": 0.2, "mouthPucker": 0.35, "mouthFunnel": 0.2},
    14: {"jawOpen": 0.25, "tongueOut": 0.15, "mouthUpperUpLeft": 0.1, "mouthUpperUpRight": 0.1},
    15: {"jawOpen": 0.08, "mouthStretchLeft": 0.3, "mouthStretchRight": 0.3, "mouthSmileLeft": 0.1,
         "mouthSmileRight": 0.1},
    16: {"jawOpen": 0.12, "mouthFunnel": 0.4, "mouthPucker": 0.35, "mouthShrugUpper": 0.2},
    17: {"jawOpen": 0.12, "tongueOut": 0.35},
    18: {"jawOpen": 0.08, "mouthRollLower": 0.55, "mouthUpperUpLeft": 0.2, "mouthUpperUpRight": 0.2},
    19: {"jawOpen": 0.12, "mouthClose": 0.1, "mouthStretchLeft": 0.1, "mouthStretchRight": 0.1},
    20: {"jawOpen": 0.2, "mouthStretchLeft": 0.1, "mouthStretchRight": 0.1},
    21: {"mouthClose": 0.6, "mouthPressLeft": 0.5, "mouthPressRight": 0.5, "mouthRollLower": 0.2,
         "mouthRollUpper": 0.15},
}  # fmt: skip
_INDEX = {name: i for i, name in enumerate(BLENDSHAPE_NAMES)}
POSE = np.zeros((22, len(BLENDSHAPE_NAMES)), np.float32)
for _viseme, _weights in _POSES.items():
    for _name, _weight in _weights.items():
        POSE[_viseme, _INDEX[_name]] = _weight

EASING_MS = 35.0
"""Time constant of the easing from one mouth shape to the next."""
LOOKAHEAD_MS = 30.0
"""The mouth starts moving towards a sound this long before it is heard, as a speaker's does."""


class BlendshapeAnimator:
    """Frames of blendshape weights at ``FRAME_RATE`` that follow a viseme track without jumps.

    Each frame moves the face a fixed share of the way towards the pose of the viseme heard
    ``LOOKAHEAD_MS`` later (exponential easing), and the eyes blink every four seconds. The
    animator remembers where it is, so a response's frames come out batch by batch.
    """

    def __init__(self) -> None:
        self.frame_index = 0
        self._pose = np.zeros(len(BLENDSHAPE_NAMES), np.float32)
        self._step = 1 - math.exp(-1000 / FRAME_RATE / EASING_MS)

    def frames(self, visemes: list[Viseme], until_ms: float) -> np.ndarray:
        """The frames from the last one given up to ``until_ms``."""
        count = max(0, math.ceil(until_ms * FRAME_RATE / 1000) - self.frame_index)
        times = (np.arange(count) + self.frame_index) * 1000.0 / FRAME_RATE
        onsets = np.array([float(v.offset_ms) for v in visemes] or [0.0], np.float64)
        ids = np.array([v.viseme_id for v in visemes] or [0])
        targets = POSE[ids[np.clip(np.searchsorted(onsets, times + LOOKAHEAD_MS, side="right") - 1, 0, None)]]
        out = np.empty((count, len(BLENDSHAPE_NAMES)), np.float32)
        pose = self._pose
        for index in range(count):
            pose = pose + (targets[index] - pose) * self._step
            out[index] = pose
        self._pose = pose
        blink = np.clip(1 - np.abs(((times % 4000) - 3900) / 100), 0, 1)
        out[:, _INDEX["eyeBlinkLeft"]] = blink
        out[:, _INDEX["eyeBlinkRight"]] = blink
        self.frame_index += count
        return np.round(out, 3)
