"""``InputCleanup``: echo cancellation and noise suppression of the user's audio, as the session asks for them."""

from __future__ import annotations

import asyncio
import time

import numpy as np

from ..protocol import ResponseSession
from ..speech.echo import EchoCanceller
from ..speech.noise import NoiseSuppressor


class InputCleanup:
    """The echo canceller (which hears the assistant's audio as the client plays it) and the noise suppressor of
    a session; either is ``None`` when the session does not ask for it."""

    def __init__(self) -> None:
        self.echo: EchoCanceller | None = None
        self.noise: NoiseSuppressor | None = None

    async def configure(self, session: ResponseSession) -> None:
        """Set up the stages the session's settings ask for (a noise model is loaded off the event loop)."""
        if session.input_audio_echo_cancellation is None:
            self.echo = None
        elif self.echo is None:
            self.echo = EchoCanceller()
        noise = session.input_audio_noise_reduction
        if noise is None:
            self.noise = None
        elif self.noise is None or self.noise.kind != noise.type:
            self.noise = await asyncio.to_thread(NoiseSuppressor, noise.type)

    @property
    def active(self) -> bool:
        return self.echo is not None or self.noise is not None

    def clean(self, samples: np.ndarray, now: float) -> np.ndarray:
        """The user's audio that arrived at ``now``, without the assistant's echo and the noise."""
        if self.echo is not None:
            samples = self.echo.process(samples, now)
        if self.noise is not None:
            samples = self.noise.process(samples)
        return samples

    def agent_audible(self) -> bool:
        """Whether the assistant's voice may be in the input now (its audio is playing)."""
        return self.echo is not None and self.echo.speaking(time.monotonic())

    def played(self, samples: np.ndarray, now: float) -> None:
        """Assistant audio went out: the client plays it from ``now`` (after what it is already playing)."""
        if self.echo is not None:
            self.echo.play(samples, now)

    def playback_cleared(self) -> None:
        """The client stopped playing the assistant's audio."""
        if self.echo is not None:
            self.echo.clear_playback()
