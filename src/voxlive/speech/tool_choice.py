"""Holding the local model's reply to its ``tool_choice``: a grammar for a forced call, and a first step that may
not open a call (``none``, or ``auto`` below the call threshold)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

LogitsProcessor = Callable[[Any, Any], Any]
"""llama.cpp's hook on each step: (the tokens so far, the next token's logits) → the logits to draw from."""


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


def tool_grammar(schema: dict[str, Any]) -> Any:
    """The grammar that makes a reply follow ``schema``; ``None`` when llama.cpp cannot express the schema (a
    ``pattern`` without anchors, a ``$ref`` it cannot resolve…): the call is then asked for, not enforced."""
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(json.dumps(schema), verbose=False)
    except Exception as exc:  # llama.cpp's converter fails with assertions, ValueError, AttributeError…
        log.warning("a forced tool call is not enforced: llama.cpp cannot follow its schema (%s)", exc)
        return None


def call_openers(llama: Any) -> list[int]:
    """The tokens of a llama.cpp model a reply opens a call with (``{``, ``<``, ``[``, a backtick, blanks)."""
    openers = []
    for token in range(llama.n_vocab()):
        text = llama.detokenize([token], special=True).decode("utf-8", "ignore")
        if not text.strip() or text.lstrip()[0] in "{<[`":
            openers.append(token)
    return openers


def first_step_limit(openers: list[int], start: int, threshold: float, forbid: bool) -> LogitsProcessor:
    """A processor that keeps the reply's first token (after ``start`` prompt tokens) from opening a call: always
    when ``forbid``, else when the model puts less than ``threshold`` of its probability on the openers."""

    def first_step(input_ids: Any, scores: Any) -> Any:
        if len(input_ids) == start and (forbid or _share(scores, openers) < threshold):
            scores[openers] = -float("inf")
        return scores

    return first_step


def _share(logits: Any, tokens: list[int]) -> float:
    """The probability the model gives these tokens together, next."""
    weights = np.exp(logits - logits.max())
    return float(weights[tokens].sum() / weights.sum())
