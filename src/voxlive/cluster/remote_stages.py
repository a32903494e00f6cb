"""The STT, LLM and TTS protocols over the handles of their deployments, for the gateway's engine.

A replica lost before it gave anything (its process or node died) is asked again once; the handle routes the
second call to another replica, or waits for the one that replaces it. A replica lost once output was given fails
the call with an error naming the stage, so the response fails cleanly and the next turn starts afresh. An error
raised by the stage itself is raised as it is, as it would be in one process."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar, cast

import numpy as np
from ray.exceptions import RayActorError, RayTaskError
from ray.serve.handle import DeploymentHandle, DeploymentResponseGenerator

from ..speech.llm import LLMEvent, LLMRequest
from ..speech.prosody import NORMAL, Prosody
from ..speech.stt import Transcript
from ..speech.tts import Speech

log = logging.getLogger(__name__)

T = TypeVar("T")


class StageLost(RuntimeError):
    """A stage's replica stopped in the middle of a call that had already given output."""


def lost(stage: str, exc: BaseException) -> StageLost:
    return StageLost(f"the {stage} replica stopped during the call ({type(exc).__name__})")


def own_error(exc: RayTaskError) -> BaseException:
    """The stage's own exception inside Ray's wrapper (its message as a single process would give it)."""
    cause = exc.cause
    return cause if isinstance(cause, Exception) else exc


async def call(stage: str, make: Callable[[], Awaitable[T]]) -> T:
    """One call to a stage, asked again once if its replica is lost."""
    for attempt in range(2):
        try:
            return await make()
        except RayActorError as exc:
            if attempt == 1:
                raise lost(stage, exc) from exc
            log.warning("the %s replica was lost (%s); asking another", stage, type(exc).__name__)
        except RayTaskError as exc:
            raise own_error(exc) from None
    raise AssertionError("unreachable")


class RemoteSTT:
    """The ``STT`` deployment."""

    def __init__(self, handle: DeploymentHandle[Any]) -> None:
        self.handle = handle

    async def load(self) -> None:
        """The deployment loads its model before it takes calls."""

    async def transcribe(
        self, audio: np.ndarray, *, language: str | None = None, prompt: str | None = None, urgent: bool = False
    ) -> Transcript:
        result: Transcript = await call(
            "STT", lambda: self.handle.transcribe.remote(audio, language=language, prompt=prompt, urgent=urgent)
        )
        return result


class RemoteLLM:
    """The ``LLM`` deployment, streamed; closing the stream cancels the generation on the replica."""

    def __init__(self, handle: DeploymentHandle[Any]) -> None:
        self.handle = handle
        self.vision = False

    async def load(self) -> None:
        self.vision = await call("LLM", lambda: self.handle.vision.remote())

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        for attempt in range(2):
            responses = cast(
                DeploymentResponseGenerator[LLMEvent], self.handle.options(stream=True).stream.remote(request)
            )
            given = False
            try:
                async for event in responses:
                    given = True
                    yield event
                return
            except RayActorError as exc:
                if given or attempt == 1:
                    raise lost("LLM", exc) from exc
                log.warning("the LLM replica was lost (%s); asking another", type(exc).__name__)
            except RayTaskError as exc:
                raise own_error(exc) from None
            finally:
                responses.cancel()  # type: ignore[no-untyped-call]  # a finished call is not affected

    async def close(self) -> None:
        """The deployment owns the model: nothing to close here."""

    async def prefill(self, request: LLMRequest) -> None:
        """Best effort: a lost replica has nothing to read ahead for."""
        try:
            await self.handle.prefill.remote(request)
        except RayActorError as exc:
            log.warning("prefilling on the LLM replica failed: %s", type(exc).__name__)


class RemoteTTS:
    """The ``TTS`` deployment; its voices are asked once, at load."""

    def __init__(self, handle: DeploymentHandle[Any]) -> None:
        self.handle = handle
        self._languages: dict[str, str | None] = {}

    async def load(self) -> None:
        names: list[str] = await call("TTS", lambda: self.handle.voice_names.remote())
        for name in names:
            self._languages[name] = await call("TTS", functools.partial(self.handle.voice_language.remote, name))

    def voice_names(self) -> list[str]:
        return list(self._languages)

    def voice_language(self, voice: str) -> str | None:
        return self._languages.get(voice)

    async def synthesize(self, text: str, voice: str, prosody: Prosody = NORMAL, urgent: bool = False) -> Speech:
        result: Speech = await call(
            "TTS", lambda: self.handle.synthesize.remote(text, voice, prosody=prosody, urgent=urgent)
        )
        return result
