"""How a voice speaks: ``Prosody`` (speed, pitch, volume, variation) and SSML ``prosody`` values read into it."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Prosody:
    """Factors on a voice's own way of speaking (1 leaves it as it is)."""

    speed: float = 1.0
    """Tempo: 2 says the same in half the time."""
    pitch: float = 1.0
    """Frequency: 2 is an octave up."""
    volume: float = 1.0
    """Gain on the samples (louder than 1 may clip)."""
    variation: float | None = None
    """How much the voice varies from one synthesis to the next: 0 gives the same audio every time,
    1 the voice's own variation; None is the voice's own."""


NORMAL = Prosody()

BASE_PITCH_HZ = 95.0
"""What ``Hz`` pitch values are taken relative to: the default voice's median speaking pitch, measured."""


def _change(number: str) -> float:
    return 1 + float(number) / 100


def _hertz(number: str) -> float:
    relative = number[0] in "+-"
    return (BASE_PITCH_HZ + float(number) if relative else float(number)) / BASE_PITCH_HZ


def _level(number: str) -> float:
    return (100 + float(number) if number[0] in "+-" else float(number)) / 100


@dataclass(frozen=True)
class SSMLScale:
    """One SSML ``prosody`` attribute: its named values (Azure's, as factors of the voice's own), the units
    a number may carry, and the factors allowed."""

    name: str
    named: dict[str, float]
    units: dict[str, Callable[[str], float]]
    bounds: tuple[float, float]
    forms: str

    def read(self, value: str) -> float:
        text = value.strip().lower()
        if text in self.named:
            return self.named[text]
        for unit, factor_of in self.units.items():
            if match := re.fullmatch(r"([+-]?\d+(?:\.\d+)?)" + unit, text):
                factor = factor_of(match[1])
                low, high = self.bounds
                if not low <= factor <= high:
                    raise ValueError(
                        f"The {self.name} '{value}' is a factor of {factor:g}; it must be {low:g} to {high:g}."
                    )
                return factor
        raise ValueError(f"'{value}' is not a {self.name}: give {self.forms}.")


RATE = SSMLScale(
    "rate",
    {"x-slow": 0.5, "slow": 0.64, "medium": 1.0, "fast": 1.55, "x-fast": 2.0, "default": 1.0},
    {"%": _change, "": float},
    (0.5, 2.0),
    "x-slow…x-fast, a factor (1.2) or a change (+20%)",
)
PITCH = SSMLScale(
    "pitch",
    {"x-low": 0.55, "low": 0.8, "medium": 1.0, "high": 1.2, "x-high": 1.45, "default": 1.0},
    {"%": _change, "st": lambda n: 2 ** (float(n) / 12), "hz": _hertz},
    (0.5, 2.0),
    "x-low…x-high, a change (+10%, -2st, +20Hz) or a pitch (150Hz)",
)
VOLUME = SSMLScale(
    "volume",
    {"silent": 0.0, "x-soft": 0.2, "soft": 0.4, "medium": 0.6, "loud": 0.8, "x-loud": 1.0, "default": 1.0},
    {"%": _change, "db": lambda n: 10 ** (float(n) / 20), "": _level},
    (0.0, 4.0),
    "silent…x-loud, a level from 0 to 100 (the default), or a change (-20, +50%, -6dB)",
)


def louder(audio: np.ndarray, gain: float) -> np.ndarray:
    """int16 samples times ``gain``, clipped to the int16 range."""
    if gain == 1.0:
        return audio
    return np.asarray(np.clip(np.rint(audio.astype(np.float32) * gain), -32768, 32767), np.int16)
