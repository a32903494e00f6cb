"""The sentence chunker that cuts streamed LLM text into pieces for the TTS."""

from __future__ import annotations

import itertools
import re
import textwrap
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxlive.speech.chunker import SentenceChunker

_TOKEN = re.compile(r" ?[^\W\d_]{1,6}| ?\d| ?[^\w\s]|\s|.", re.DOTALL)


def llm_tokens(text: str) -> list[str]:
    """Cut ``text`` as an LLM tokenizer would: words (at most 6 letters) with their leading space, digits singly,
    punctuation separately, whitespace characters singly."""
    tokens = _TOKEN.findall(text)
    assert "".join(tokens) == text
    return tokens


def chunk(deltas: list[str], chunker: SentenceChunker | None = None) -> list[str]:
    """Feed ``deltas`` one by one, then flush; return every piece."""
    chunker = chunker or SentenceChunker()
    pieces = []
    for delta in deltas:
        pieces += chunker.feed(delta)
    return pieces + chunker.flush()


def cut_at(text: str, cuts: list[int]) -> list[str]:
    bounds = [0, *sorted(cuts), len(text)]
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


STREAMINGS: dict[str, Callable[[str], list[str]]] = {
    "tokens": llm_tokens,
    "chars": list,
    "whole": lambda text: [text],
}

LONG = " ".join(["we walked along the quiet river and talked about everything and nothing at all"] * 6)
PLAN = (
    "So the plan for the weekend is to drive up to the lake early on saturday morning "
    "before the traffic gets heavy and the sun gets hot"
)
TENT = (
    "and then we will set up the tent near the water and cook dinner over the fire "
    "while the kids go swimming until it gets dark outside"
)

CASES: list[tuple[str, str, list[str]]] = [
    ("exclaim-then-short", "Hi! Sure.", ["Hi!", "Sure."]),
    ("decimal-price", "The price is $3.14 today.", ["The price is $3.14 today."]),
    ("title-dr", "Please ask Dr. Smith about it.", ["Please ask Dr. Smith about it."]),
    ("time-then-clause", "Meet me at 10:30, okay?", ["Meet me at 10:30,", "okay?"]),
    (
        "url",
        "Visit https://example.com/docs/v1.2/index.html for more.",
        ["Visit https://example.com/docs/v1.2/index.html for more."],
    ),
    ("eg-ie", "e.g. this, i.e. that.", ["e.g. this, i.e. that."]),
    ("us-lowercase", "The U.S. economy grew.", ["The U.S. economy grew."]),
    ("ellipsis-lowercase", "Wait... what?", ["Wait... what?"]),
    ("quoted-period", 'He said "Stop." Then left.', ['He said "Stop."', "Then left."]),
    (
        "quoted-question-lowercase",
        'She asked "why?" and left. Then silence.',
        ['She asked "why?" and left.', "Then silence."],
    ),
    ("cjk", "你好。今天好吗？", ["你好。", "今天好吗？"]),  # noqa: RUF001
    ("cjk-comma", "好的，我明白了。谢谢！", ["好的，我明白了。", "谢谢！"]),  # noqa: RUF001
    ("long-no-punctuation", LONG, textwrap.wrap(LONG, 220)),
    ("long-split-at-clause", f"Okay. {PLAN}, {TENT}.", ["Okay.", f"{PLAN},", f"{TENT}."]),
    ("numbered-list", "1. Eggs\n2. Milk\n3. Bread\n", ["1. Eggs", "2. Milk", "3. Bread"]),
    ("list-after-intro", "Here is the list:\n1. Eggs\n2. Milk\n", ["Here is the list:", "1. Eggs", "2. Milk"]),
    ("paren-list", "Shopping:\n1) Eggs\n2) Milk\n", ["Shopping:", "1) Eggs", "2) Milk"]),
    ("bullets", "- apples\n- pears\n- plums", ["- apples", "- pears", "- plums"]),
    (
        "paragraph-then-bullets",
        "Great job!\n\nNext, the details:\n- first\n- second",
        ["Great job!", "Next, the details:", "- first", "- second"],
    ),
    (
        "paragraphs",
        "Paragraph one is here\n\nParagraph two follows",
        ["Paragraph one is here", "Paragraph two follows"],
    ),
    ("heading", "# Recipe\nMix the flour and the eggs.", ["# Recipe", "Mix the flour and the eggs."]),
    (
        "soft-newline",
        "Hello world\nthis continues on the next line.",
        ["Hello world\nthis continues on the next line."],
    ),
    (
        "short-sentences-merge",
        "I see. Yes. Okay. Sure. Right. Fine. Good. Done. Great.",
        ["I see.", "Yes. Okay. Sure. Right. Fine. Good. Done.", "Great."],
    ),
    ("no-final-punctuation", "Let me think about that for a moment", ["Let me think about that for a moment"]),
    (
        "initials",
        "J. R. R. Tolkien wrote The Hobbit. It is a classic.",
        ["J. R. R. Tolkien wrote The Hobbit.", "It is a classic."],
    ),
    (
        "titles-saint-vs",
        "Mrs. Jones and Prof. Lee met at St. Mary's vs. the rest.",
        ["Mrs. Jones and Prof. Lee met at St. Mary's vs. the rest."],
    ),
    ("email", "Send it to x@y.org. Thanks!", ["Send it to x@y.org.", "Thanks!"]),
    (
        "file-name",
        "Edit config.yaml first. Then restart the server.",
        ["Edit config.yaml first.", "Then restart the server."],
    ),
    (
        "am-pm",
        "The meeting is at 9 a.m. on Monday. Don't be late.",
        ["The meeting is at 9 a.m. on Monday.", "Don't be late."],
    ),
    (
        "no-number-vs-no-answer",
        "No. I do not think so. See Fig. 3 for details.",
        ["No.", "I do not think so. See Fig. 3 for details."],
    ),
    ("months", "We met on Jan. 5 and again in Dec. last year.", ["We met on Jan. 5 and again in Dec. last year."]),
    ("approx", "It was about approx. three metres long.", ["It was about approx. three metres long."]),
    ("etc-first-clause", "Bring apples, pears, etc. and some bread.", ["Bring apples,", "pears, etc. and some bread."]),
    ("interrobang", "Really?! That is amazing!", ["Really?!", "That is amazing!"]),
    ("unicode-ellipsis", "Well… I am not sure.", ["Well…", "I am not sure."]),
    ("ellipsis-uppercase", "Ok... So we begin. Right?", ["Ok...", "So we begin. Right?"]),
    (
        "ellipsis-newline",
        "Hmm, I see what you mean here. Let me think...\nAlright!",
        ["Hmm, I see what you mean here.", "Let me think...\nAlright!"],
    ),
    ("decimal-end", "Pi is about 3.14. That is enough.", ["Pi is about 3.14.", "That is enough."]),
    ("number-end", "It costs 3. Then more.", ["It costs 3.", "Then more."]),
    ("version", "Version 2.0.1 is out. Update now.", ["Version 2.0.1 is out.", "Update now."]),
    ("parenthesis", "It works (mostly). Try it.", ["It works (mostly).", "Try it."]),
    ("phone-number", "Call 555-0100 now! Or email us.", ["Call 555-0100 now!", "Or email us."]),
    ("us-uk", "The U.S. is big. The U.K. is not.", ["The U.S. is big.", "The U.K. is not."]),
    (
        "semicolon",
        "I tried twice; it failed both times. Next time will be better.",
        ["I tried twice;", "it failed both times. Next time will be better."],
    ),
    (
        "colon-after-time",
        "The train leaves at 10:30 sharp: be on time.",
        ["The train leaves at 10:30 sharp:", "be on time."],
    ),
    (
        "em-dash",
        "Honestly, I think — and I mean it — that you are right.",
        ["Honestly, I think —", "and I mean it — that you are right."],
    ),
    ("short-first-clause-skipped", "Sure, I can help you with that.", ["Sure, I can help you with that."]),
    (
        "clause-only-first",
        "Absolutely right, that is a great idea. However, the weather, as you know, is rather bad today.",
        ["Absolutely right,", "that is a great idea. However, the weather, as you know, is rather bad today."],
    ),
    ("surrounding-blanks", "  \n Hello there!  \n", ["Hello there!"]),
]


@pytest.mark.parametrize("streaming", list(STREAMINGS))
@pytest.mark.parametrize(("text", "expected"), [pytest.param(t, e, id=name) for name, t, e in CASES])
def test_cases(text: str, expected: list[str], streaming: str) -> None:
    pieces = chunk(STREAMINGS[streaming](text))
    assert "".join(pieces) == text
    assert [piece.strip() for piece in pieces] == expected


def test_table_is_big_enough() -> None:
    assert len(CASES) >= 35
    assert len({name for name, _, _ in CASES}) == len(CASES)


def test_long_text_is_split_at_spaces_before_max_chars() -> None:
    pieces = chunk(llm_tokens(LONG))
    assert len(pieces) > 1
    assert all(len(piece.strip()) <= 220 for piece in pieces)
    assert all(piece.endswith(" ") for piece in pieces[:-1])


def test_text_without_spaces_is_cut_at_max_chars() -> None:
    text = "x" * 50
    pieces = chunk(list(text), SentenceChunker(max_chars=20))
    assert pieces == ["x" * 20, "x" * 20, "x" * 10]


def test_an_overlong_piece_prefers_a_skipped_sentence_end_then_a_clause_then_a_space() -> None:
    chunker = SentenceChunker(first_min_chars=0, min_chars=50, max_chars=40)
    text = "Hi there. We went out, and it rained. Then we all went home again, happily."
    assert [p.strip() for p in chunk([text], chunker)] == [
        "Hi there.",
        "We went out, and it rained.",
        "Then we all went home again, happily.",
    ]
    text = "Hi there. We went out and it rained and then, we all went home again happily."
    assert [p.strip() for p in chunk([text], chunker)] == [
        "Hi there.",
        "We went out and it rained and then,",
        "we all went home again happily.",
    ]
    text = "Hi there. We went out and it rained and then we all went home again happily."
    assert [p.strip() for p in chunk([text], chunker)] == [
        "Hi there.",
        "We went out and it rained and then we",
        "all went home again happily.",
    ]


def test_first_piece_comes_out_as_soon_as_the_clause_boundary_arrives() -> None:
    text = "Sure, I can help you with that. Let me check the calendar for you."
    tokens = llm_tokens(text)
    assert tokens[:3] == ["Sure", ",", " I"]

    # "Sure," is shorter than first_min_chars=12 by default: the first sentence is the first piece, and it comes
    # out with the token after ". ".
    chunker = SentenceChunker()
    out = [chunker.feed(token) for token in tokens]
    first = next(i for i, pieces in enumerate(out) if pieces)
    assert tokens[first] == " Let"
    assert out[first] == ["Sure, I can help you with that. "]

    # With a lower threshold, "Sure, " comes out with the very token that brings the space.
    chunker = SentenceChunker(first_min_chars=4)
    assert chunker.feed("Sure") == []
    assert chunker.feed(",") == []
    assert chunker.feed(" I") == ["Sure, "]
    assert [p.strip() for p in chunk(tokens[3:], chunker)] == [
        "I can help you with that. Let me check the calendar for you."
    ]

    # Streamed character by character, the boundary is decided by the first character after the space.
    chunker = SentenceChunker(first_min_chars=4)
    assert [chunker.feed(ch) for ch in "Sure, "] == [[]] * 6
    assert chunker.feed("I") == ["Sure, "]


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        ("Call Dr.", " Smith now. Bye!", ["Call Dr. Smith now.", "Bye!"]),
        ("It is 3.", "14 now. Bye!", ["It is 3.14 now.", "Bye!"]),
        ("Made in the U.S.", "A for sure. Bye!", ["Made in the U.S.A for sure.", "Bye!"]),
        ("Take e.", "g. this one. Bye!", ["Take e.g. this one.", "Bye!"]),
        ("Hmm... ", "what now? Bye!", ["Hmm... what now?", "Bye!"]),
        ("All done. ", "Bye!", ["All done.", "Bye!"]),
        ("Here:\n1", ". Eggs\n2. Milk", ["Here:", "1. Eggs", "2. Milk"]),
        ("Here:\n1", "23 eggs were laid.", ["Here:\n123 eggs were laid."]),
    ],
)
def test_no_decision_before_the_next_non_space_character(before: str, after: str, expected: list[str]) -> None:
    chunker = SentenceChunker()
    assert chunker.feed(before) == []
    pieces = chunker.feed(after) + chunker.flush()
    assert "".join(pieces) == before + after
    assert [p.strip() for p in pieces] == expected


def test_flush_resets_for_the_next_stream() -> None:
    chunker = SentenceChunker(first_min_chars=4)
    assert [p.strip() for p in chunk(llm_tokens("Well, yes. Fine."), chunker)] == ["Well,", "yes. Fine."]
    assert [p.strip() for p in chunk(llm_tokens("Well, yes. Fine."), chunker)] == ["Well,", "yes. Fine."]


def test_empty_and_blank_streams() -> None:
    assert chunk([]) == []
    assert chunk(["", ""]) == []
    assert chunk([" ", "\n", " "]) == [" \n "]


def test_bad_limits() -> None:
    with pytest.raises(ValueError):
        SentenceChunker(max_chars=0)
    with pytest.raises(ValueError):
        SentenceChunker(min_chars=-1)


ALPHABET = "abcdeXYZ0129 .,;:!?\n"


@given(
    text=st.text(alphabet=ALPHABET, max_size=300),
    cuts=st.lists(st.integers(min_value=0, max_value=300), max_size=60),
    first_min_chars=st.integers(min_value=0, max_value=20),
    min_chars=st.integers(min_value=0, max_value=60),
    max_chars=st.integers(min_value=1, max_value=80),
)
def test_random_text_and_cuts(text: str, cuts: list[int], first_min_chars: int, min_chars: int, max_chars: int) -> None:
    def make() -> SentenceChunker:
        return SentenceChunker(first_min_chars=first_min_chars, min_chars=min_chars, max_chars=max_chars)

    pieces = chunk(cut_at(text, [c for c in cuts if c <= len(text)]), make())
    assert "".join(pieces) == text
    if text.strip():
        assert all(piece.strip() for piece in pieces)
    else:
        assert pieces == ([text] if text else [])
    assert all(len(piece.strip()) <= max_chars for piece in pieces)
    # The pieces do not depend on how the text was cut into deltas.
    assert pieces == chunk([text], make())
    assert pieces == chunk(list(text), make())


@given(st.lists(st.text(alphabet="abcdefghij", min_size=1, max_size=8), min_size=1, max_size=12))
def test_clause_split_only_for_the_first_piece(words: list[str]) -> None:
    text = "Hello there, " + ", ".join(words) + "."
    pieces = [p.strip() for p in chunk(llm_tokens(text))]
    assert pieces[0] == "Hello there,"
    assert pieces[1:] == [text.removeprefix("Hello there, ")]


@pytest.mark.parametrize("streaming", list(STREAMINGS))
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("The capital of France is Paris.", ["The capital of France ", "is Paris."]),
        ("The Mona Lisa was painted by Leonardo da Vinci.", ["The Mona Lisa was painted ", "by Leonardo da Vinci."]),
        ("To boil an egg, put it in water.", ["To boil an egg, ", "put it in water."]),
        ("In London there are 365 days in a year.", ["In London there are 365 days ", "in a year."]),
        ("Sure! Here is one for you.", ["Sure! ", "Here is one for you."]),
        ("Yes it is.", ["Yes it is."]),
    ],
)
def test_the_first_piece_can_be_a_few_words(text: str, expected: list[str], streaming: str) -> None:
    """Four words, and not ending on one a phrase rarely ends with ("of", "was", "are", a number); later pieces as
    usual."""
    assert chunk(STREAMINGS[streaming](text), SentenceChunker(first_words=4)) == expected
