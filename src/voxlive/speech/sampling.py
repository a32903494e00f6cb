"""How a language model draws its tokens, and the defaults the settings start from."""

from __future__ import annotations

from dataclasses import dataclass

DEFAULT_TEMPERATURE = 0.7
"""The temperature replies are drawn at unless the session or the response sets another (``[session] temperature``)."""


@dataclass(frozen=True, slots=True)
class Sampling:
    """How the local model draws tokens besides the request's temperature."""

    top_p: float = 0.95
    """Tokens are drawn from the likeliest whose probabilities add up to this."""
    min_p: float = 0.05
    """Tokens less likely than this fraction of the likeliest one are never drawn."""
    repeat_penalty: float = 1.0
    """Above 1, tokens already in the recent text are made less likely."""
    call_threshold: float = 0.5
    """With ``tool_choice`` ``auto``, a reply opens with a tool call only when the model's first step puts at least
    this much of its probability on opening one (0: whatever is drawn)."""


DEFAULT_SAMPLING = Sampling()
