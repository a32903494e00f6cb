"""The ``STT``, ``LLM`` and ``TTS`` deployments: each replica loads the stage the settings ask for (the engine's
own ``build_stt``, ``build_llm``, ``build_tts``) before it takes calls, and serves every gateway."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator

import numpy as np

from ..config import Settings
from ..realtime.engine import build_llm, build_stt, build_tts
from ..speech.llama_server import NICENESS
from ..speech.llm import LLMEvent, LLMRequest
from ..speech.prosody import NORMAL, Prosody
from ..speech.stt import Transcript
from ..speech.tts import Speech


class STTStage:
    """Speech to text."""

    async def __init__(self, settings: Settings) -> None:  # type: ignore[misc]  # Serve awaits the constructor
        self.stt = build_stt(settings)
        await self.stt.load()

    async def transcribe(
        self, audio: np.ndarray, *, language: str | None = None, prompt: str | None = None, urgent: bool = False
    ) -> Transcript:
        return await self.stt.transcribe(audio, language=language, prompt=prompt, urgent=urgent)


class LLMStage:
    """The language model, streamed. The in-process model cannot pause for the speech stages of other replicas as
    it does in one process: with ``[llm] yield_to_speech`` its replica runs at a lower CPU priority instead (as
    llama-server does), so the speech a user waits for gets the node's cores first."""

    async def __init__(self, settings: Settings) -> None:  # type: ignore[misc]  # Serve awaits the constructor
        if settings.llm.provider == "local" and settings.llm.yield_to_speech:
            os.nice(NICENESS)
        self.llm = build_llm(settings)
        await self.llm.load()

    def vision(self) -> bool:
        return self.llm.vision

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        async for event in self.llm.stream(request):
            yield event

    async def prefill(self, request: LLMRequest) -> None:
        await self.llm.prefill(request)

    async def __del__(self) -> None:
        """Serve awaits this when the replica stops: a model in its own process (llama-server) stops with it."""
        await self.llm.close()


class TTSStage:
    """Text to speech."""

    async def __init__(self, settings: Settings) -> None:  # type: ignore[misc]  # Serve awaits the constructor
        self.tts = build_tts(settings)
        await self.tts.load()

    def voice_names(self) -> list[str]:
        return self.tts.voice_names()

    def voice_language(self, voice: str) -> str | None:
        return self.tts.voice_language(voice)

    async def synthesize(self, text: str, voice: str, prosody: Prosody = NORMAL, urgent: bool = False) -> Speech:
        return await self.tts.synthesize(text, voice, prosody, urgent=urgent)
