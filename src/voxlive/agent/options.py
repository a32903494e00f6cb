"""The agent's option groups: how the reply is cut into spoken pieces, and how much history is kept.

Each is given as its class or as a mapping of its fields, by their names or the seed library's camelCase
ones (``{"max_messages": 20}`` or ``{"maxMessages": 20}``); anything else is a ``TypeError`` at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Self

from pydantic.alias_generators import to_camel

_TYPES: dict[str, type] = {"int": int, "bool": bool}


class _Options:
    """A frozen dataclass of ``int`` and ``bool`` options, checked when made."""

    def __post_init__(self) -> None:
        for field in fields(self):  # type: ignore[arg-type]
            value, expected = getattr(self, field.name), _TYPES[str(field.type)]
            if not isinstance(value, expected) or (expected is int and isinstance(value, bool)):
                raise TypeError(f"{type(self).__name__}.{field.name} must be {field.type}, not {value!r}.")

    @classmethod
    def of(cls, value: Self | Mapping[str, Any] | None, param: str) -> Self:
        """``value`` as options: the defaults for ``None``, else the options or the mapping given as ``param``."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"{param} must be {cls.__name__} or a mapping of its fields, not {type(value).__name__}.")
        names = {name: name for name in _field_names(cls)} | {to_camel(name): name for name in _field_names(cls)}
        unknown = [key for key in value if key not in names]
        if unknown:
            known = ", ".join(f"{name} ({to_camel(name)})" for name in _field_names(cls))
            raise TypeError(f"Unknown {param} option(s) {', '.join(map(repr, unknown))}. Known options: {known}.")
        given = [names[key] for key in value]
        if len(set(given)) < len(given):
            raise TypeError(f"{param} gives an option twice (by its name and its camelCase name).")
        return cls(**{names[key]: option for key, option in value.items()})


def _field_names(cls: type) -> list[str]:
    return [field.name for field in fields(cls)]


@dataclass(frozen=True)
class SpeechOptions(_Options):
    """How the reply is cut into pieces for the TTS, and how many are synthesized ahead."""

    min_chunk_size: int = 50
    max_chunk_size: int = 200
    parallel_generation: bool = True
    max_parallel_requests: int = 3


@dataclass(frozen=True)
class HistoryOptions(_Options):
    """How much of the conversation is kept: the oldest whole turns go first."""

    max_messages: int = 100
    """The most chat messages kept (0: no limit)."""
    max_total_chars: int = 0
    """The most characters of message content kept (0: no limit)."""
