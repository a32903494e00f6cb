"""Cut the text an LLM streams into pieces a TTS engine can speak, as early as sounds natural.

Convention: a piece runs from its first character through its end punctuation (closing quotes and brackets
included) *and the whitespace after it*. So every piece but the first of a stream starts with a non-space
character, no piece is only whitespace (unless the whole stream is), and ``"".join(pieces)`` is exactly the
text fed. A boundary is decided when the first non-space character after it arrives: LLM tokens carry their
space in front (``" word"``), so that is the token that brings the space and costs no latency; and it lets the
chunker see what follows (``"Dr. Smith"``, ``"wait... what"``, ``"1. Eggs"``, ``"3.14"``). Every decision
depends only on text already received and never changes when more arrives, so the pieces are the same however
the text is cut into deltas.

Where a piece ends:

- First piece: at the first sentence end, paragraph or list-item break, or clause boundary (``,;:`` or an
  em/en dash followed by whitespace, or a full-width CJK comma, semicolon or colon) once it has
  ``first_min_chars`` characters; or, with ``first_words``, at the first space after that many words where
  the last word is not one a phrase rarely ends with (``UNFINISHED_ENDINGS``: "the", "of", "is", …), so the
  first words are spoken while the rest is still being written.
- Later pieces: at a paragraph or list-item break, or at the first sentence end once the piece has
  ``min_chars`` characters (shorter sentences merge with the next; ``flush`` sends whatever is left).
- Any piece that would pass ``max_chars``: at its last sentence end, else its last clause boundary, else its
  last space, else (no space at all) after exactly ``max_chars`` characters.

A sentence ends at a run of ``.!?…`` (or ``‼⁇⁈⁉``) plus closing quotes/brackets followed by whitespace and a
character that is not a lowercase letter, or at a CJK full stop or full-width ``!``/``?`` followed by anything.
It does not end after a word in ``ABBREVIATIONS``, after a word in ``NUMBER_ABBREVIATIONS`` followed by a digit
(``"No. 5"`` but not ``"No. I won't."``), after a single capital initial (``"J. R. R. Tolkien"``), after a
dotted acronym (``"U.S.A."``) or after a 1-3 digit list marker that starts a line (``"1. Eggs"``). A period not
followed by whitespace is never an end (``"3.14"``, ``"example.com/a.b"``, ``"config.yaml"``), nor is a colon
between digits a clause boundary (``"10:30"``). Lengths count the piece without its surrounding whitespace.

Line breaks: a blank line always ends a piece; a single one does when the line it ends, or the line it starts,
is a list item or heading (``- item``, ``* item``, ``• item``, ``1. item``, ``2) item``, ``# Title``);
otherwise it is ordinary whitespace.

One chunker serves one stream at a time; ``flush`` ends the stream and resets it for the next.
"""

from __future__ import annotations

import re
from enum import Enum

from .phrases import UNFINISHED_ENDINGS

__all__ = ["ABBREVIATIONS", "NUMBER_ABBREVIATIONS", "SentenceChunker"]

ABBREVIATIONS: frozenset[str] = frozenset(
    {
        # titles and names
        "mr", "mrs", "ms", "mx", "dr", "prof", "sr", "jr", "st", "mt", "rev", "hon", "gen", "col", "capt", "lt",
        "sgt", "gov", "sen", "rep", "ph.d",
        # Latin and the like
        "vs", "etc", "e.g", "i.e", "cf", "viz", "al", "ca", "approx", "est", "dept", "ave", "blvd",
        # time and places
        "a.m", "p.m", "u.s", "u.k", "u.s.a", "u.n", "e.u",
        # companies
        "inc", "ltd", "co", "corp", "llc",
        # months (May is never shortened)
        "jan", "feb", "mar", "apr", "jun", "jul", "aug", "sep", "sept", "oct", "nov", "dec",
    }
)  # fmt: skip
"""Words (lowercase, without their final period) after which a period never ends a sentence."""

NUMBER_ABBREVIATIONS: frozenset[str] = frozenset({"no", "nos", "fig", "figs", "vol", "p", "pp", "ch"})
"""Words after which a period does not end a sentence when a digit follows (``"No. 5"``, ``"Fig. 3"``)."""

_TERMINATORS = frozenset(".!?…‼⁇⁈⁉。！？")  # noqa: RUF001
_WIDE_TERMINATORS = frozenset("。！？")  # noqa: RUF001
"""Terminators that end a sentence without whitespace after them."""
_CLAUSE_MARKS = frozenset(",;:—–，；：")  # noqa: RUF001
_WIDE_CLAUSE_MARKS = frozenset("，；：")  # noqa: RUF001
_CLOSERS = frozenset("\"')]}”’»›」』）】〉》*_")  # noqa: RUF001
_OPENERS = frozenset("\"'([{“‘«‹「『（【〈《*_")  # noqa: RUF001
_OPENER_CHARS = "".join(_OPENERS)

_ITEM = re.compile(r"(?:[-*+•]|\d{1,3}[.)]|#{1,6})[ \t]")
"""A list-item or heading marker, with the space after it."""
_ITEM_PREFIX = re.compile(r"[-*+•]|\d{1,3}[.)]?|#{1,6}")
"""What a list-item marker can look like before it is complete."""
_DOTTED = re.compile(r"(?:[^\W\d_]\.)+[^\W\d_]")
"""A dotted acronym without its final period: ``U.S``, ``e.g``, ``a.m``."""


class _Kind(Enum):
    BREAK = "break"  # paragraph or list-item break: always ends a piece
    SENTENCE = "sentence"
    CLAUSE = "clause"
    SPACE = "space"


class SentenceChunker:
    """Streaming text in, speakable pieces out; see the module docstring for the rules."""

    def __init__(
        self, first_min_chars: int = 12, min_chars: int = 40, max_chars: int = 220, first_words: int | None = None
    ) -> None:
        if first_min_chars < 0 or min_chars < 0 or max_chars < 1 or (first_words is not None and first_words < 1):
            raise ValueError("first_min_chars and min_chars must be >= 0, max_chars and first_words >= 1")
        self.first_min_chars = first_min_chars
        self.first_words = first_words
        self.min_chars = min_chars
        self.max_chars = max_chars
        self._text = ""
        """Text received and not yet sent, after context back to the last line break before it."""
        self._start = 0
        """Where the unsent text starts in ``_text``."""
        self._first = True

    def feed(self, text: str) -> list[str]:
        """Append a streamed delta; return the pieces that are now complete (often none)."""
        if not text:
            return []
        self._text += text
        return self._drain(final=False)

    def flush(self) -> list[str]:
        """End the stream: return the pieces left (possibly none), and get ready for a new stream."""
        pieces = self._drain(final=True)
        if rest := self._text[self._start :]:
            pieces.append(rest)
        self._text, self._start, self._first = "", 0, True
        return pieces

    # -- inside ----------------------------------------------------------------------------------

    def _drain(self, final: bool) -> list[str]:
        pieces = []
        while (cut := self._find_cut(final)) is not None:
            pieces.append(self._text[self._start : cut])
            self._start = cut
            self._first = False
        # Keep only what a later decision can look at: the unsent text, and its line back to a line break.
        newline = self._text.rfind("\n", 0, self._start)
        if newline > 0:
            self._text = self._text[newline:]
            self._start -= newline
        return pieces

    def _find_cut(self, final: bool) -> int | None:
        """Where the next piece ends in ``_text``, or None if that is not known yet (or, if final, at the end)."""
        text, n = self._text, len(self._text)
        begin = self._start
        while begin < n and text[begin].isspace():
            begin += 1
        limit = begin + self.max_chars
        last_sentence = last_clause = last_space = 0
        i = begin
        while True:
            if i > limit:
                return last_sentence or last_clause or last_space or limit
            if i >= n:
                return None
            ch = text[i]
            if ch.isspace():
                after = i + 1
                while after < n and text[after].isspace():
                    after += 1
                if after == n:
                    return None
                kind = self._classify(begin, i, after, final)
                if kind is None:
                    return None
                if kind is _Kind.BREAK:
                    return after
                if kind is _Kind.SENTENCE:
                    if self._first or i - begin >= self.min_chars:
                        return after
                    last_sentence = after
                elif kind is _Kind.CLAUSE:
                    if self._first and i - begin >= self.first_min_chars:
                        return after
                    last_clause = after
                if self._first and self.first_words and self._enough_words(begin, i):
                    return after
                last_space = after
                i = after
            elif ch in _TERMINATORS or ch in _WIDE_CLAUSE_MARKS:
                end = i + 1
                if ch in _TERMINATORS:
                    while end < n and text[end] in _TERMINATORS:
                        end += 1
                while end < n and text[end] in _CLOSERS:
                    end += 1
                wide = any(c in _WIDE_TERMINATORS or c in _WIDE_CLAUSE_MARKS for c in text[i:end])
                if wide and end <= limit and end < n and not text[end].isspace():
                    if ch in _WIDE_CLAUSE_MARKS:
                        if self._first and end - begin >= self.first_min_chars:
                            return end
                        last_clause = end
                    else:
                        if self._first or end - begin >= self.min_chars:
                            return end
                        last_sentence = end
                i = end
            else:
                i += 1

    def _enough_words(self, begin: int, space: int) -> bool:
        """Whether ``_text[begin:space]`` has ``first_words`` words and may end where it does."""
        words = self._text[begin:space].split()
        if len(words) < (self.first_words or 0):
            return False
        last = words[-1].strip(_OPENER_CHARS + "".join(_CLOSERS)).lower()
        return last.isalpha() and last not in UNFINISHED_ENDINGS

    def _classify(self, begin: int, space: int, after: int, final: bool) -> _Kind | None:
        """What the whitespace ``_text[space:after]`` (followed by a non-space) ends; None if not known yet."""
        text = self._text
        newlines = text.count("\n", space, after)
        if newlines >= 2:
            return _Kind.BREAK
        if newlines == 1:
            line_start = text.rfind("\n", 0, space) + 1
            if _ITEM.match(text[line_start:space].lstrip(" \t")):
                return _Kind.BREAK
            if _ITEM.match(text, after):
                return _Kind.BREAK
            if not final and _ITEM_PREFIX.fullmatch(text, after):
                return None
        end = space
        while end > begin and text[end - 1] in _CLOSERS:
            end -= 1
        run = end
        while run > begin and text[run - 1] in _TERMINATORS:
            run -= 1
        if run == end:
            return _Kind.CLAUSE if end > begin and text[end - 1] in _CLAUSE_MARKS else _Kind.SPACE
        if any(c in _WIDE_TERMINATORS for c in text[run:end]):
            return _Kind.SENTENCE
        look = after
        while look < len(text) and text[look] in _OPENERS:
            look += 1
        if look == len(text) and not final:
            return None
        following = text[look] if look < len(text) else ""
        if following.islower():
            return _Kind.SPACE
        if text[run:end] == "." and self._abbreviation(begin, run, following):
            return _Kind.SPACE
        return _Kind.SENTENCE

    def _abbreviation(self, begin: int, period: int, following: str) -> bool:
        """Whether the word before the period at ``period`` keeps the sentence going."""
        text = self._text
        start = period
        while start > begin and not text[start - 1].isspace():
            start -= 1
        word = text[start:period].lstrip(_OPENER_CHARS)
        lower = word.lower()
        if lower in ABBREVIATIONS or (lower in NUMBER_ABBREVIATIONS and following.isdigit()):
            return True
        if len(word) == 1 and word.isupper():
            return True
        if _DOTTED.fullmatch(word):
            return True
        if word.isascii() and word.isdigit() and len(word) <= 3:
            line_start = text.rfind("\n", 0, start) + 1
            return not text[line_start:start].strip()
        return False
