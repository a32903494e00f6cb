"""``LlamaCppLLM``: a local GGUF chat model through llama-cpp-python, off the event loop."""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .assets import llm_model_path
from .cpu import Priority
from .llm import (
    Finished,
    LLMEvent,
    LLMRequest,
    Message,
    TextDelta,
    ToolCallDelta,
    ToolCallDone,
    ToolCallStarted,
    Trimmed,
    Usage,
)
from .tool_call_parser import ToolCallTextParser, UnknownToolError

log = logging.getLogger(__name__)

_STOP = ["<|im_end|>", "<|endoftext|>"]
PREFILL_BATCH = 8
"""Tokens a prefill reads at a time (it gives the model up between them when a request waits)."""
PROMPT_BATCH = 64
"""Tokens of a reply's prompt read at a time (a cancelled reply stops between them)."""
TOKENIZE_CHUNK = 16_384
"""Characters tokenized at a time while fitting a prompt (fitting stops between them once a text is known not to fit,
or when the reply is cancelled)."""

CUT_SLACK = 8
"""Tokens of room left when instructions are cut (their start, read again as text, may take a few more)."""


class FittingStopped(Exception):
    """The reply whose prompt was being fitted was cancelled."""


@dataclass(frozen=True, slots=True)
class FittedPrompt:
    """A prompt fitted to the context, and what was left out to fit it."""

    tokens: list[int]
    dropped: int
    """Conversation messages left out (whole turns, the oldest)."""
    instructions_cut: bool


def forced_tool_schema(tools: list[dict[str, Any]], tool_choice: str | dict[str, Any]) -> dict[str, Any] | None:
    """The JSON schema a reply must follow when ``tool_choice`` forces a tool call, else ``None``."""
    if isinstance(tool_choice, dict) and tool_choice.get("type") == "allowed_tools":
        allowed = tool_choice["allowed_tools"]
        if allowed.get("mode") != "required":
            return None
        names = {t["function"]["name"] for t in allowed["tools"]}
        chosen = [t for t in tools if t["function"]["name"] in names]
    elif isinstance(tool_choice, dict):
        name = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
        chosen = [t for t in tools if t["function"]["name"] == name]
    elif tool_choice == "required":
        chosen = tools
    else:
        return None
    variants = [
        {
            "type": "object",
            "properties": {
                "name": {"const": t["function"]["name"]},
                "arguments": t["function"].get("parameters") or {"type": "object"},
            },
            "required": ["name", "arguments"],
        }
        for t in chosen
    ]
    return variants[0] if len(variants) == 1 else {"anyOf": variants}


@dataclass(frozen=True, slots=True)
class Sampling:
    """How tokens are drawn besides the request's temperature (llama.cpp's own defaults)."""

    top_p: float = 0.95
    min_p: float = 0.05
    """Tokens less likely than this fraction of the likeliest one are never drawn."""
    repeat_penalty: float = 1.0


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
        sampling: Sampling = Sampling(),
        call_threshold: float = 0.0,
    ) -> None:
        self.model_path = Path(model_path) if model_path else None
        self.n_ctx = n_ctx
        self.n_threads = n_threads or os.cpu_count() or 1
        self.seed = seed
        self.sampling = sampling
        self.call_threshold = call_threshold
        """With ``tool_choice`` ``auto``, a reply may open with a tool call only when the model's first step puts at
        least this much of its probability on opening one (0: whatever is sampled)."""
        self.yield_to = yield_to
        """Decoding pauses between tokens while this priority's urgent work runs."""
        self._llama: Any = None
        self._format: Any = None
        self._lock = asyncio.Lock()
        self._waiting = 0
        """Requests waiting for the model (a prefill gives it up for them)."""
        self._loading: asyncio.Future[None] | None = None
        self._openers: list[int] | None = None
        self._overheads: dict[str, int] = {}
        """The tokens a message of each role takes besides its content."""
        self.vision = False

    async def load(self) -> None:
        """Load the model once, however many callers ask at the same time."""
        if self._loading is None:
            self._loading = asyncio.ensure_future(asyncio.to_thread(self._load))
        await asyncio.shield(self._loading)

    def _load(self) -> None:
        from llama_cpp import Llama
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        path = self.model_path or llm_model_path()
        llama = Llama(
            str(path),
            n_ctx=self.n_ctx,
            n_threads=self.n_threads,
            seed=self.seed if self.seed is not None else 0xFFFFFFFF,
            verbose=False,
        )
        atexit.register(llama.close)  # freed before interpreter shutdown tears down the bindings it calls
        template = llama.metadata["tokenizer.chat_template"]
        eos = llama._model.token_get_text(llama.token_eos())
        self._format = Jinja2ChatFormatter(template, eos_token=eos, bos_token="")
        self._llama = llama

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=True))

    def fit_prompt(self, request: LLMRequest, budget: int, stop: Callable[[], bool] = lambda: False) -> FittedPrompt:
        """The prompt as at most ``budget`` tokens.

        The instructions (a first system message) and the latest turn always stay; the turns before it (a user
        message and the messages answering it) are kept newest first while they fit, so whole turns are dropped
        oldest first. Instructions that do not fit beside the latest turn are cut to their start. Each text is
        tokenized once, a chunk at a time, and no further than the budget needs; ``stop()`` is checked between
        chunks (``FittingStopped``).
        """
        messages = _for_template(request.messages)
        tools = request.tools or None
        first = 1 if messages and messages[0]["role"] == "system" else 0
        starts = [i for i in range(first, len(messages)) if i == first or request.messages[i]["role"] == "user"]
        starts = starts or [len(messages)]
        left = budget - self._fixed_cost(bool(first), tools)
        left -= sum(self._cost(m, left, stop) for m in messages[starts[-1] :])
        cut = False
        if first:
            instructions = self._tokens(messages[0]["content"], left, stop)
            if len(instructions) > max(left, 0):
                start = instructions[: max(left - CUT_SLACK, 0)]
                kept = self._llama.detokenize(start, special=True).decode("utf-8", "ignore")
                messages[0] = {**messages[0], "content": kept}
                cut, left = True, 0
            else:
                left -= len(instructions)
        keep = len(starts) - 1
        while keep > 0:
            cost = sum(self._cost(m, left, stop) for m in messages[starts[keep - 1] : starts[keep]])
            if cost > left:
                break
            left -= cost
            keep -= 1
        while True:  # the estimate is close: at most a turn more goes, but check
            prompt = self._format(messages=messages[:first] + messages[starts[keep] :], tools=tools).prompt
            tokens: list[int] = self._llama.tokenize(prompt.encode(), add_bos=False, special=True)
            if len(tokens) <= budget or keep == len(starts) - 1:
                return FittedPrompt(tokens[-budget:], starts[keep] - first, cut)
            keep += 1

    def _tokens(self, text: str, limit: int, stop: Callable[[], bool]) -> list[int]:
        """The text's tokens, read a chunk at a time (split before a space), up to the chunk that passes ``limit``."""
        tokens: list[int] = []
        at = 0
        while at < len(text) and len(tokens) <= limit:
            if stop():
                raise FittingStopped
            end = at + TOKENIZE_CHUNK
            if end < len(text):
                space = text.rfind(" ", at + 1, end)
                end = space if space > 0 else end
            tokens += self._llama.tokenize(text[at:end].encode(), add_bos=False, special=True)
            at = end
        return tokens

    def _cost(self, message: Message, limit: int, stop: Callable[[], bool]) -> int:
        """The tokens a message takes in the prompt (more than ``limit`` when it takes more, maybe not all of them)."""
        return len(self._tokens(message["content"], limit, stop)) + self._overhead(message["role"]) + 1  # 1: a margin

    def _overhead(self, role: str) -> int:
        """The tokens a message of this role takes besides its content."""
        if role not in self._overheads:
            frame = [{"role": "system", "content": ""}]
            alone = self.count_tokens(self._format(messages=frame).prompt)
            with_it = self.count_tokens(self._format(messages=[*frame, {"role": role, "content": ""}]).prompt)
            self._overheads[role] = with_it - alone
        return self._overheads[role]

    def _fixed_cost(self, system: bool, tools: list[dict[str, Any]] | None) -> int:
        """The tokens of the prompt besides its messages: the system turn's frame, the tools, the reply's start."""
        if system:
            return self.count_tokens(self._format(messages=[{"role": "system", "content": ""}], tools=tools).prompt)
        prompt = self._format(messages=[{"role": "user", "content": ""}], tools=tools).prompt
        return self.count_tokens(prompt) - self._overhead("user")

    async def prefill(self, request: LLMRequest) -> None:
        """Evaluate the request's prompt into the KV cache when the model is idle, a few tokens at a time, stopping
        as soon as a request waits for the model; a later prompt that extends it starts from there."""
        if self._llama is None or self._lock.locked():
            return
        fitted = await asyncio.to_thread(self.fit_prompt, request, self._prompt_budget(request))
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

    def _prompt_budget(self, request: LLMRequest) -> int:
        """The tokens the prompt may take: the context, less room for the reply (at most half of it)."""
        return self.n_ctx - min(self._max_tokens(request), self.n_ctx // 2)

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
            fitted = await asyncio.to_thread(self.fit_prompt, request, self._prompt_budget(request), stop.is_set)
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
        """Tokens a reply must not open with when it may not call a tool (``{``, ``<``, blanks)."""
        if self._openers is None:
            llama = self._llama
            openers = []
            for token in range(llama.n_vocab()):
                text = llama.detokenize([token], special=True).decode("utf-8", "ignore")
                if not text.strip() or text.lstrip()[0] in "{<[`":
                    openers.append(token)
            self._openers = openers
        return self._openers

    async def _stream(
        self, request: LLMRequest, tokens: list[int], names: set[str], no_call: bool
    ) -> AsyncIterator[LLMEvent]:
        tools = request.tools or None
        schema = forced_tool_schema(request.tools, request.tool_choice) if tools and not no_call else None
        max_tokens = self._max_tokens(request)
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
                grammar = None if schema is None else _grammar(schema)
                processors = None
                threshold = 1.0 if no_call else self.call_threshold if names and schema is None else 0.0
                if threshold > 0:
                    openers = self._call_openers()
                    start = len(tokens)

                    def first_step(input_ids: Any, scores: Any) -> Any:
                        if len(input_ids) == start and (no_call or _share(scores, openers) < threshold):
                            scores[openers] = -float("inf")
                        return scores

                    processors = [first_step]
                chunks = llama.create_completion(
                    tokens,
                    max_tokens=min(max_tokens, self.n_ctx - len(tokens)),
                    temperature=request.temperature,
                    top_p=self.sampling.top_p,
                    min_p=self.sampling.min_p,
                    repeat_penalty=self.sampling.repeat_penalty,
                    stop=_STOP,
                    stream=True,
                    grammar=grammar,
                    logits_processor=processors,
                )
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
            async for event in self._events(queue, names if tools else None, _answered(request.messages)):
                if isinstance(event, Finished):  # the model is free again before the reply is said to be over
                    stop.set()
                    await asyncio.shield(worker)
                yield event
        finally:
            stop.set()  # the worker stops at its next token or prompt batch, then gives the model up

    async def _events(
        self, queue: asyncio.Queue[tuple[str, Any]], tool_names: set[str] | None, answered: set[tuple[str, str]]
    ) -> AsyncIterator[LLMEvent]:
        parser = ToolCallTextParser(tool_names) if tool_names is not None else None
        text = ""
        prompt_tokens = cached = 0
        calls = _Calls(answered)
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


class AlreadyAnsweredError(UnknownToolError):
    """The model repeated a call whose result the conversation already holds."""


class _Calls:
    """Holds each tool call's events until it is complete. A call repeating one already made in the reply is
    never passed on; one repeating a call the conversation already has the result of is an ``AlreadyAnsweredError``
    (the reply is then generated again, without calls: the model meant to answer)."""

    def __init__(self, answered: set[tuple[str, str]]) -> None:
        self.answered = answered
        self.made: set[tuple[str, str]] = set()
        self._pending: dict[int, list[LLMEvent]] = {}

    def take(self, event: LLMEvent) -> list[LLMEvent] | None:
        """The events to pass on now; ``None`` for a repeated call."""
        if isinstance(event, ToolCallStarted | ToolCallDelta):
            self._pending.setdefault(event.index, []).append(event)
            return []
        if isinstance(event, ToolCallDone):
            held = self._pending.pop(event.index, [])
            key = (event.name, _canonical(event.arguments))
            if key in self.answered:
                raise AlreadyAnsweredError(event.name)
            if key in self.made:
                return None
            self.made.add(key)
            return [*held, event]
        return [event]


def _share(logits: Any, tokens: list[int]) -> float:
    """The probability the model gives these tokens together, next."""
    weights = np.exp(logits - logits.max())
    return float(weights[tokens].sum() / weights.sum())


def _grammar(schema: dict[str, Any]) -> Any:
    """The grammar that makes a reply follow ``schema``; ``None`` when llama.cpp cannot express the schema (a
    ``pattern`` without anchors, a ``$ref`` it cannot resolve…): the call is then asked for, not enforced."""
    from llama_cpp import LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    except Exception as exc:  # llama.cpp's converter fails with assertions, ValueError, AttributeError…
        log.warning("a forced tool call is not enforced: llama.cpp cannot follow its schema (%s)", exc)
        return None


def _canonical(arguments: str) -> str:
    try:
        return json.dumps(json.loads(arguments or "{}"), sort_keys=True)
    except ValueError:
        return arguments


def _answered(messages: list[Message]) -> set[tuple[str, str]]:
    """The calls in the conversation that have a result: (name, arguments)."""
    results = {m.get("tool_call_id") for m in messages if m.get("role") == "tool"}
    return {
        (call["function"]["name"], _canonical(call["function"].get("arguments") or "{}"))
        for m in messages
        for call in m.get("tool_calls") or []
        if call.get("id") in results
    }


def _for_template(messages: list[Message]) -> list[Message]:
    """The messages as this model reads them best: a tool call as the assistant's turn (its text, if any), and
    its result as a note in the user's turn. (The small model, shown its calls and ``<tool_response>`` blocks,
    tends to call again or echo the result; shown the result as a note, it answers from it.)"""
    names = {call["id"]: call["function"]["name"] for m in messages for call in m.get("tool_calls") or []}
    out: list[Message] = []
    for message in messages:
        if message.get("role") == "tool":
            name = names.get(message.get("tool_call_id"), "the tool")
            out.append({"role": "user", "content": f"(The result of {name}: {message.get('content') or ''})"})
        elif message.get("tool_calls"):
            out.append({"role": "assistant", "content": message.get("content") or ""})
        else:
            out.append({**message, "content": message.get("content") or ""})
    return out
