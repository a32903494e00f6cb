"""``LlamaServerLLM``: a GGUF chat model in llama.cpp's ``llama-server``, which voxlive starts, restarts and stops.

llama-server decodes the replies of several sessions at once (``--parallel`` slots, continuous batching) and keeps
each slot's prompt in its KV cache, so a session does not wait for another's reply to end, as it does with the
in-process model, and each conversation's next turn reads only its new words.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import dataclasses
import functools
import logging
import os
import shutil
import signal
import socket
import sys
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import httpx2
import openai

from .assets import llm_model_path
from .llm import LLMEvent, LLMRequest, Trimmed
from .openai_compatible_llm import OpenAICompatibleLLM
from .prompt_fitting import PromptFitter, prompt_budget
from .remote import STAGE_TIMEOUT
from .tool_choice import forced_tool_schema

log = logging.getLogger(__name__)

READY_TIMEOUT = 300.0
"""Seconds llama-server may take to load the model and answer ``/health``."""
FIRST_RETRY = 0.5
LAST_RETRY = 30.0
"""The pause before a restart doubles from ``FIRST_RETRY`` up to this while the server keeps exiting soon after it
started, and is back to ``FIRST_RETRY`` once it ran for ``STEADY``."""
STEADY = 60.0
STOP_TIMEOUT = 10.0
"""Seconds llama-server has to exit after SIGTERM; then it is killed."""
NICENESS = 10
"""How far below voxlive's CPU priority llama-server runs when it yields to speech (a tenth of voxlive's share of
a busy core, by the kernel's weights)."""
LOG_TAIL = 4000
"""Characters of llama-server's last output kept, to say why it exited."""


def llama_server_binary() -> Path:
    """The ``llama-server`` in this Python's environment (``scripts/setup.sh`` builds it there), else on ``PATH``."""
    beside = Path(sys.executable).parent / "llama-server"
    if beside.exists():
        return beside
    found = shutil.which("llama-server")
    if found is None:
        raise FileNotFoundError("llama-server is not installed: scripts/setup.sh builds it into the virtualenv")
    return Path(found)


def free_port() -> int:
    """A loopback port no one listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _child(niceness: int) -> None:
    """In the child before it runs llama-server: it gets SIGTERM when voxlive ends, even if voxlive is killed, and
    runs ``niceness`` steps below voxlive's CPU priority."""
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    os.nice(niceness)


class LlamaServer:
    """A ``llama-server`` process kept running: ``start`` starts it and waits until it is ready, a server that exits
        is started again (after a pause that grows while it keeps exiting), and ``stop`` ends it. ``niceness``: how far
    below this process's CPU priority it runs."""

    def __init__(self, command: list[str], health_url: str, niceness: int = 0) -> None:
        self.command = command
        self.health_url = health_url
        self.niceness = niceness
        self.process: asyncio.subprocess.Process | None = None
        self.running = False
        """The server is up and its model loaded."""
        self._output = ""
        self._ready: asyncio.Future[None] | None = None
        self._watch: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start the server once, however often called; ``RuntimeError`` if it exits before it is first ready."""
        if self._watch is None:
            self._ready = asyncio.get_running_loop().create_future()
            self._watch = asyncio.create_task(self._keep_running())
        assert self._ready is not None
        await asyncio.shield(self._ready)

    async def stop(self) -> None:
        """End the server (SIGTERM, then SIGKILL after ``STOP_TIMEOUT``), and restart it no more."""
        if self._watch is not None:
            self._watch.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watch
        process = self.process
        if process is None or process.returncode is not None:
            return
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), STOP_TIMEOUT)
        except TimeoutError:
            process.kill()
            await process.wait()

    async def _keep_running(self) -> None:
        assert self._ready is not None
        loop = asyncio.get_running_loop()
        pause = FIRST_RETRY
        while True:
            started = loop.time()
            process, reading = await self._spawn()
            self.running = await self._until_ready(process)
            if self.running and not self._ready.done():
                self._ready.set_result(None)
            code = await process.wait()
            self.running = False
            await reading
            if not self._ready.done():
                last = "\n".join(self._output.splitlines()[-6:])
                self._ready.set_exception(RuntimeError(f"llama-server exited with code {code}:\n{last}"))
                return
            pause = FIRST_RETRY if loop.time() - started >= STEADY else min(pause * 2, LAST_RETRY)
            log.error("llama-server exited with code %s; starting it again in %.1f s", code, pause)
            log.debug("llama-server's last output: %s", self._output)
            await asyncio.sleep(pause)

    async def _spawn(self) -> tuple[asyncio.subprocess.Process, asyncio.Task[None]]:
        """The started process, and the task that reads its output (which must be read, or the server blocks)."""
        process = self.process = await asyncio.create_subprocess_exec(
            *self.command,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            preexec_fn=functools.partial(_child, self.niceness) if sys.platform == "linux" else None,
        )
        self._output = ""
        return process, asyncio.create_task(self._read_output(process))

    async def _read_output(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        while chunk := await process.stdout.read(65536):
            self._output = (self._output + chunk.decode(errors="replace"))[-LOG_TAIL:]

    async def _until_ready(self, process: asyncio.subprocess.Process) -> bool:
        """Whether the server answers ``/health`` with 200 (its model loaded) before it exits or ``READY_TIMEOUT``
        passes (then it is killed)."""
        deadline = asyncio.get_running_loop().time() + READY_TIMEOUT
        async with httpx2.AsyncClient(timeout=2.0) as client:
            while process.returncode is None:
                with contextlib.suppress(httpx2.HTTPError):
                    if (await client.get(self.health_url)).status_code == 200:
                        return True
                if asyncio.get_running_loop().time() > deadline:
                    log.error("llama-server was not ready within %g s", READY_TIMEOUT)
                    process.kill()
                    return False
                await asyncio.sleep(0.1)
        return False


def _fitter(model: Path) -> PromptFitter:
    """What fits prompts into a slot: the model's vocabulary (its weights stay in llama-server) and chat template."""
    from llama_cpp import Llama

    return PromptFitter.of(Llama(str(model), vocab_only=True, verbose=False))


class LlamaServerLLM(OpenAICompatibleLLM):
    """A GGUF model served by a supervised ``llama-server`` on a loopback port, through its OpenAI-compatible API.

    ``slots`` replies are generated at once, each slot with ``context_tokens`` of context; each request asks the
    server to keep its prompt cached (``cache_prompt``), and llama-server gives a request the slot whose cached
    prompt it extends the most. While the server is being restarted, a reply fails with ``ConnectionError``.
    ``prefill`` does nothing: the slot already holds the conversation up to the end of its last reply, and a read
    ahead of the user's few new words would take a slot of its own. With ``yield_to_speech`` the server runs at a
    lower CPU priority than voxlive (nice 10), so the speech a user waits for (a reply's first piece, a transcript)
    gets the cores first, as the in-process model pauses for it.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        slots: int = 4,
        context_tokens: int = 4096,
        threads: int = 1,
        timeout: float = STAGE_TIMEOUT,
        max_output_tokens: int = 4096,
        yield_to_speech: bool = True,
    ) -> None:
        self.port = free_port()
        super().__init__(
            base_url=f"http://127.0.0.1:{self.port}/v1",
            api_key=None,
            model="local",
            timeout=timeout,
            max_output_tokens=max_output_tokens,
        )
        self.model_path = Path(model_path) if model_path else None
        self.slots = slots
        self.context_tokens = context_tokens
        self.threads = threads
        self.niceness = NICENESS if yield_to_speech else 0
        self.server: LlamaServer | None = None
        self._fitter: PromptFitter | None = None

    def command(self, model: Path) -> list[str]:
        """How llama-server is started: every slot its own ``context_tokens`` (the context is split among them),
        replies batched as they come and go, prompts kept cached, the model's own chat template (with its tool-call
        format), no web page. No ``--cache-reuse``: a conversation's prompt grows at its end, which the cached
        prefix already covers."""
        return [
            str(llama_server_binary()),
            *("--model", str(model), "--host", "127.0.0.1", "--port", str(self.port)),
            *("--parallel", str(self.slots), "--ctx-size", str(self.context_tokens * self.slots)),
            *("--threads", str(self.threads), "--cont-batching", "--cache-prompt", "--jinja", "--no-webui"),
        ]

    async def load(self) -> None:
        """Start llama-server (once) and wait until its model is loaded."""
        if self.server is None:
            model = self.model_path if self.model_path else await asyncio.to_thread(llm_model_path)
            self._fitter = await asyncio.to_thread(_fitter, model)
            self.server = LlamaServer(self.command(model), f"http://127.0.0.1:{self.port}/health", self.niceness)
        await self.server.start()

    def extra_fields(self, request: LLMRequest) -> dict[str, Any]:
        """The slot keeps the prompt cached; a forced tool call is held to its JSON schema (llama-server does not
        hold this model to ``tool_choice``)."""
        fields: dict[str, Any] = {"cache_prompt": True}
        if request.tools and (schema := forced_tool_schema(request.tools, request.tool_choice)) is not None:
            fields["json_schema"] = schema
        return fields

    async def stream(self, request: LLMRequest) -> AsyncGenerator[LLMEvent, None]:
        """The reply's events; ``ConnectionError`` when llama-server is not running (it is being restarted) or
        exits during the reply."""
        await self.load()
        assert self.server is not None
        if not self.server.running:
            raise ConnectionError("llama-server is not running: it is being restarted")
        assert self._fitter is not None
        fitted = await asyncio.to_thread(self._fitter.fit, request, prompt_budget(self.context_tokens, request))
        if fitted.dropped or fitted.instructions_cut:
            yield Trimmed(fitted.dropped, fitted.instructions_cut)
            request = dataclasses.replace(request, messages=fitted.messages(request))
        try:
            async with contextlib.aclosing(super().stream(request)) as events:
                async for event in events:
                    yield event
        except (openai.APIConnectionError, httpx2.TransportError) as exc:
            raise ConnectionError(f"llama-server is not answering: {exc}") from exc

    async def close(self) -> None:
        """Stop llama-server."""
        await super().close()
        if self.server is not None:
            await self.server.stop()
