"""Fitting a chat prompt into the local model's context: whole turns dropped oldest first, instructions cut last."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .llm import LLMRequest, Message

TOKENIZE_CHUNK = 16_384
"""Characters tokenized at a time while fitting a prompt (fitting stops between them once a text is known not to fit,
or when the reply is cancelled)."""

CUT_SLACK = 8
"""Tokens of room left when instructions are cut (their start, read again as text, may take a few more)."""


def prompt_budget(context: int, request: LLMRequest) -> int:
    """The tokens a request's prompt may take in ``context`` tokens: the rest is room for the reply, as much as it
    asks for (half the context when it sets no limit) but at most half."""
    reply = request.max_tokens or context // 2
    return context - min(reply, context // 2)


class FittingStopped(Exception):
    """The reply whose prompt was being fitted was cancelled."""


@dataclass(frozen=True, slots=True)
class FittedPrompt:
    """A prompt fitted to the context, and what was left out to fit it."""

    tokens: list[int]
    dropped: int
    """Conversation messages left out (whole turns, the oldest)."""
    instructions_cut: bool
    instructions: str | None = None
    """The instructions as they were cut (``None``: not cut)."""

    def messages(self, request: LLMRequest) -> list[Message]:
        """The request's messages as this prompt holds them: the instructions (cut, if they were), then the
        conversation without its ``dropped`` oldest messages."""
        messages = request.messages
        first = 1 if messages and messages[0]["role"] == "system" else 0
        head = messages[:first]
        if first and self.instructions is not None:
            head = [{**messages[0], "content": self.instructions}]
        return head + messages[first + self.dropped :]


class PromptFitter:
    """Fits requests into a token budget with one model's tokenizer (a llama.cpp ``Llama``) and chat template."""

    def __init__(self, llama: Any, chat_format: Any) -> None:
        self._llama = llama
        self._format = chat_format
        self._overheads: dict[str, int] = {}
        """The tokens a message of each role takes besides its content."""

    @classmethod
    def of(cls, llama: Any) -> PromptFitter:
        """The fitter of a llama.cpp ``Llama`` (its vocabulary alone is enough), with the model's chat template."""
        from llama_cpp.llama_chat_format import Jinja2ChatFormatter

        eos = llama._model.token_get_text(llama.token_eos())
        template = llama.metadata["tokenizer.chat_template"]
        return cls(llama, Jinja2ChatFormatter(template, eos_token=eos, bos_token=""))

    def count_tokens(self, text: str) -> int:
        return len(self._llama.tokenize(text.encode(), add_bos=False, special=True))

    def fit(self, request: LLMRequest, budget: int, stop: Callable[[], bool] = lambda: False) -> FittedPrompt:
        """The prompt as at most ``budget`` tokens.

        The instructions (a first system message) and the latest turn always stay; the turns before it (a user
        message and the messages answering it) are kept newest first while they fit, so whole turns are dropped
        oldest first. Instructions that do not fit beside the latest turn are cut to their start. Each text is
        tokenized once, a chunk at a time, and no further than the budget needs; ``stop()`` is checked between
        chunks (``FittingStopped``).
        """
        messages = template_messages(request.messages)
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
                kept = messages[0]["content"] if cut else None
                return FittedPrompt(tokens[-budget:], starts[keep] - first, cut, kept)
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


def template_messages(messages: list[Message]) -> list[Message]:
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
