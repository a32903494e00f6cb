"""How a voice speaks: ``Prosody`` (speed, pitch, volume, variation) and SSML ``prosody`` values read into it."""

from __future__ import annotations

import re
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

# Azure's named values (its SSML documentation gives them as factors of the voice's default).
RATES = {"x-slow": 0.5, "slow": 0.64, "medium": 1.0, "fast": 1.55, "x-fast": 2.0, "default": 1.0}
PITCHES = {"x-low": 0.55, "low": 0.8, "medium": 1.0, "high": 1.2, "x-high": 1.45, "default": 1.0}
VOLUMES = {"silent": 0.0, "x-soft": 0.2, "soft": 0.4, "medium": 0.6, "loud": 0.8, "x-loud": 1.0, "default": 1.0}
BASE_PITCH_HZ = 95.0
"""What ``Hz`` pitch values are taken relative to: the default voice's median speaking pitch, measured."""

SPEEDS = (0.5, 2.0)
PITCH_FACTORS = (0.5, 2.0)
_NUMBER = r"([+-]?\d+(?:\.\d+)?)"


def ssml_rate(value: str) -> float:
    """An SSML ``rate`` (``fast``, ``+20%``, ``1.2``) as a speed factor."""
    text = value.strip().lower()
    if text in RATES:
        return RATES[text]
    if match := re.fullmatch(_NUMBER + "%", text):
        factor = 1 + float(match[1]) / 100
    elif match := re.fullmatch(_NUMBER, text):
        factor = float(match[1])
    else:
        raise ValueError(f"'{value}' is not a rate: give x-slow…x-fast, a factor (1.2) or a change (+20%).")
    return _within(factor, SPEEDS, "rate", value)


def ssml_pitch(value: str) -> float:
    """An SSML ``pitch`` (``high``, ``+10%``, ``-2st``, ``+20Hz``, ``150Hz``) as a frequency factor."""
    text = value.strip().lower()
    if text in PITCHES:
        return PITCHES[text]
    if match := re.fullmatch(_NUMBER + "%", text):
        factor = 1 + float(match[1]) / 100
    elif match := re.fullmatch(_NUMBER + "st", text):
        factor = 2 ** (float(match[1]) / 12)
    elif match := re.fullmatch(_NUMBER + "hz", text):
        relative = match[1][0] in "+-"
        factor = (BASE_PITCH_HZ + float(match[1]) if relative else float(match[1])) / BASE_PITCH_HZ
    else:
        raise ValueError(
            f"'{value}' is not a pitch: give x-low…x-high, a change (+10%, -2st, +20Hz) or a pitch (150Hz)."
        )
    return _within(factor, PITCH_FACTORS, "pitch", value)


def ssml_volume(value: str) -> float:
    """An SSML ``volume`` (``soft``, ``80``, ``-20``, ``+50%``, ``-6dB``) as a gain (100, the default, is 1)."""
    text = value.strip().lower()
    if text in VOLUMES:
        return VOLUMES[text]
    if match := re.fullmatch(_NUMBER + "%", text):
        gain = 1 + float(match[1]) / 100
    elif match := re.fullmatch(_NUMBER + "db", text):
        gain = 10 ** (float(match[1]) / 20)
    elif match := re.fullmatch(_NUMBER, text):
        number = float(match[1])
        gain = (100 + number if match[1][0] in "+-" else number) / 100
    else:
        raise ValueError(
            f"'{value}' is not a volume: give silent…x-loud, a level from 0 to 100, or a change (-20, +50%, -6dB)."
        )
    if gain < 0:
        raise ValueError(f"The volume '{value}' is below silence.")
    return gain


def _within(factor: float, bounds: tuple[float, float], what: str, value: str) -> float:
    low, high = bounds
    if not low <= factor <= high:
        raise ValueError(
            f"The {what} '{value}' is {factor:g} times the voice's own; it must be from {low:g} to {high:g}."
        )
    return factor


def louder(audio: np.ndarray, gain: float) -> np.ndarray:
    """int16 samples times ``gain``, clipped to the int16 range."""
    if gain == 1.0:
        return audio
    return np.clip(np.rint(audio.astype(np.float32) * gain), -32768, 32767).astype(np.int16)
