"""``LlamaCppLLM``: a local GGUF chat model through llama-cpp-python, off the event loop."""

from __future__ import annotations

import asyncio
import atexit
import os
import threading
from collections.abc import AsyncIterator, Callable, Generator
from pathlib import Path
from typing import Any

from .assets import llm_model_path
from .cpu import Priority
from .llm import Finished, LLMEvent, LLMRequest, TextDelta, Trimmed, Usage
from .prompt_fitting import FittedPrompt, FittingStopped, PromptFitter, prompt_budget
from .sampling import DEFAULT_SAMPLING, Sampling
from .tool_call_filter import ToolCallFilter, answered_calls
from .tool_call_parser import ToolCallTextParser, UnknownToolError
from .tool_choice import call_openers, first_step_limit, forced_tool_schema, tool_grammar

__all__ = ["FittedPrompt", "FittingStopped", "LlamaCppLLM"]

_STOP = ["<|im_end|>", "<|endoftext|>"]
PREFILL_BATCH = 8
"""Tokens a prefill reads at a time (it gives the model up between them when a request waits)."""
PROMPT_BATCH = 64
"""Tokens of a reply's prompt read at a time (a cancelled reply stops between them)."""


class LlamaCppLLM:
    """A GGUF chat model run in-process by llama.cpp.

    One model instance serves every session; generations run one at a time in a worker thread,
    so the event loop never blocks. Prompts are formatted with the model's own chat template and
    evaluated as tokens, so the prefix shared with the previous prompt (the system prompt and the
    conversation so far) is reused from the KV cache; ``Usage.cached_tokens`` reports how much.
    Tool calls that the model writes as JSON text are parsed out of the stream; ``tool_choice``
    ``required`` or a named function is enforced with a JSON-schema grammar.
    """

    def __init__(
        self,
        model_path: str | Path | None = None,
        *,
        n_ctx: int = 4096,
        n_threads: int | None = None,
        seed: int | None = None,
        yield_to: Priority | None = None,
        sampling: Sampling = DEFAULT_SAMPLING,
    ) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.seed = seed
        self.sampling = sampling
        self.yield_to = yield_to
        """Decoding pauses between tokens while this priority's urgent work runs."""
        self._llama: Any = None
        self._fitter: PromptFitter | None = None
        self._lock = asyncio.Lock()
        self._waiting = 0
        """Requests waiting for the model (a prefill gives it up for them)."""
        self._loading: asyncio.Future[None] | None = None
        self._openers: list[int] | None = None
        self.vision = False

    async def load(self) -> None:
        """Load the model once, however many callers ask at the same time."""
        if self._loading is None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._load))
        await asyncio.shield(self._loading)

    async def close(self) -> None:
        """Nothing: the weights are freed when the process exits."""

    def _load(self) -> None:
        from llama_cpp import Llama

        path = self.model_path or llm_model_path()
        llama = Llama(
            str(path),
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            seed=self.seed if self.seed is not None else 0xFFFFFFFF,
            verbose=False,
        )
        atexit.register(llama.close)  # freed before interpreter shutdown tears down the bindings it calls
        self._fitter = PromptFitter.of(llama)
        self._llama = llama

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=True))

    def fit_prompt(self, request: LLMRequest, budget: int, stop: Callable[[], bool] = lambda: False) -> FittedPrompt:
        """The prompt as at most ``budget`` tokens (see ``PromptFitter.fit``; ``FittingStopped`` once ``stop()``); the
        model must be loaded."""
        assert self._fitter is not None, "fit_prompt before load"
        return self._fitter.fit(request, budget, stop)

    async def prefill(self, request: LLMRequest) -> None:
        """Evaluate the request's prompt into the KV cache when the model is idle, a few tokens at a time, stopping
        as soon as a request waits for the model; a later prompt that extends it starts from there."""
        if self._llama is None or self._lock.locked():
            return
        fitted = await asyncio.to_thread(self.fit_prompt, request, prompt_budget(self.n_ctx, request))
        if self._lock.locked():
            return
        await self._lock.acquire()
        await asyncio.shield(self._holding_lock(lambda: self._read(fitted.tokens, PREFILL_BATCH, self._someone_waits)))

    def _someone_waits(self) -> bool:
        return self._waiting > 0

    def _holding_lock(self, work: Callable[[], None]) -> asyncio.Future[None]:
        """Run ``work`` in a thread; the lock, acquired for it, is released when it ends (not before, whatever
        happens to the task that awaits it)."""
        try:
            worker = asyncio.get_running_loop().run_in_executor(None, work)
        except BaseException:
            self._lock.release()
            raise
        worker.add_done_callback(lambda _: self._lock.release())
        return worker

    def _max_tokens(self, request: LLMRequest) -> int:
        """The most tokens the reply may have: as asked, else half the context."""
        return request.max_tokens or self.n_ctx // 2

    def _read(self, tokens: list[int], batch: int, stop: Callable[[], bool]) -> None:
        """Evaluate the tokens into the KV cache from what it already holds of them, ``batch`` at a time, until
        ``stop()``."""
        llama = self._llama
        start = llama.longest_token_prefix(llama._input_ids.tolist(), tokens)
        llama.n_tokens = start
        for at in range(start, len(tokens), batch):
            if stop():
                return
            llama.eval(tokens[at : at + batch])

    async def stream(self, request: LLMRequest) -> AsyncIterator[LLMEvent]:
        """Stream a reply.

        The prompt is fitted to the context first, without holding the model (``Trimmed`` says what was cut).
        The tools stay in the prompt even when ``tool_choice`` is ``none`` (the model reads the
        calls in the history, and the cached prefix stays valid); then, and when the model starts
        calling a tool it was not given, the reply is generated so that it cannot open with a call.
        A disallowed call after some text ends the reply there.
        """
        await self.load()
        stop = threading.Event()
        try:
            fitted = await asyncio.to_thread(self.fit_prompt, request, prompt_budget(self.n_ctx, request), stop.is_set)
        finally:
            stop.set()  # a cancelled fitting ends at its next chunk
        if fitted.dropped or fitted.instructions_cut:
            yield Trimmed(fitted.dropped, fitted.instructions_cut)
        no_call = request.tool_choice == "none"
        names = set() if no_call else {t["function"]["name"] for t in request.tools}
        said = False
        while True:
            try:
                async for event in self._stream(request, fitted.tokens, names, no_call):
                    said = True
                    yield event
                return
            except UnknownToolError:
                if said or no_call:
                    yield Finished("stop")
                    return
                names, no_call = set(), True

    def _call_openers(self) -> list[int]:
        """The tokens a reply opens a call with (found once: it takes reading the whole vocabulary)."""
        if self._openers is None:
            self._openers = call_openers(self._llama)
        return self._openers

    async def _stream(
        self, request: LLMRequest, tokens: list[int], names: set[str], no_call: bool
    ) -> AsyncIterator[LLMEvent]:
        tools = request.tools or None
        schema = forced_tool_schema(request.tools, request.tool_choice) if tools and not no_call else None
        threshold = 1.0 if no_call else self.sampling.call_threshold if names and schema is None else 0.0
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        stop = threading.Event()

        def put(kind: str, value: Any) -> None:
            loop.call_soon_threadsafe(queue.put_nowait, (kind, value))

        def generate() -> None:
            try:
                llama = self._llama
                cached = llama.longest_token_prefix(llama._input_ids.tolist(), tokens)
                put("prompt", (len(tokens), cached))
                self._read(tokens[:-1], PROMPT_BATCH, stop.is_set)  # the completion reads the last one
                if stop.is_set():
                    return
                chunks = self._completion(request, tokens, schema, threshold, no_call)
                reason = "stop"
                for chunk in chunks:
                    if stop.is_set():
                        chunks.close()
                        break
                    choice = chunk["choices"][0]
                    if choice["text"]:
                        put("text", choice["text"])
                    reason = choice.get("finish_reason") or reason
                    if self.yield_to is not None:  # the next token is decoded once urgent work is done
                        self.yield_to.wait_turn()
                put("end", reason)
            except BaseException as exc:  # reported to the consumer, who re-raises it
                put("error", exc)

        self._waiting += 1
        try:
            await self._lock.acquire()
        finally:
            self._waiting -= 1
        worker = self._holding_lock(generate)
        try:
            async for event in self._events(queue, names if tools else None, answered_calls(request.messages)):
                if isinstance(event, Finished):  # the model is free again before the reply is said to be over
                    stop.set()
                    await asyncio.shield(worker)
                yield event
        finally:
            stop.set()  # the worker stops at its next token or prompt batch, then gives the model up

    def _completion(
        self, request: LLMRequest, tokens: list[int], schema: dict[str, Any] | None, threshold: float, no_call: bool
    ) -> Generator[dict[str, Any], None, None]:
        """llama.cpp's stream of the reply to ``tokens`` (all but the last already read), held to the tool choice:
        to ``schema`` when a call is forced, and kept from opening a call when ``no_call`` or when the model's first
        step puts less than ``threshold`` on one."""
        processors = None
        if threshold > 0:
            processors = [first_step_limit(self._call_openers(), len(tokens), threshold, no_call)]
        chunks: Generator[dict[str, Any], None, None] = self._llama.create_completion(
            tokens,
            max_tokens=min(self._max_tokens(request), self.n_ctx - len(tokens)),
            temperature=request.temperature,
            top_p=self.sampling.top_p,
            min_p=self.sampling.min_p,
            repeat_penalty=self.sampling.repeat_penalty,
            stop=_STOP,
            stream=True,
            grammar=None if schema is None else tool_grammar(schema),
            logits_processor=processors,
        )
        return chunks

    async def _events(
        self, queue: asyncio.Queue[tuple[str, Any]], tool_names: set[str] | None, answered: set[tuple[str, str]]
    ) -> AsyncIterator[LLMEvent]:
        parser = ToolCallTextParser(tool_names) if tool_names is not None else None
        text = ""
        prompt_tokens = cached = 0
        calls = ToolCallFilter(answered)
        while True:
            kind, value = await queue.get()
            if kind == "prompt":
                prompt_tokens, cached = value
                continue
            if kind == "error":
                raise value
            if kind == "text":
                text += value
            events = (parser.feed(value) if parser else [TextDelta(value)]) if kind == "text" else []
            events += parser.finish() if parser and kind == "end" else []
            for event in events:
                ready = calls.take(event)
                if ready is None:  # the same call again: the model is going round in circles, so the reply ends
                    kind, value = "end", "tool_calls"
                    break
                for out in ready:
                    yield out
            if kind == "end":
                output_tokens = await asyncio.to_thread(self.count_tokens, text) if text else 0
                yield Usage(prompt_tokens, output_tokens, cached)
                yield Finished("length" if value == "length" else "tool_calls" if calls.made else "stop")
                return
