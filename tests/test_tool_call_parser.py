"""The streaming parser that separates a model's JSON tool calls from its text."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from voxlive.speech.llm import TextDelta, ToolCallDelta, ToolCallDone, ToolCallStarted
from voxlive.speech.tool_call_parser import ToolCallTextParser, UnknownToolError


def parse(text: str, cuts: list[int], names: set[str] | None = None) -> tuple[str, list[tuple[str, str]], str]:
    """Feed ``text`` cut at ``cuts``; return (text, [(name, arguments)], concatenated argument deltas)."""
    parser = ToolCallTextParser(names)
    events = []
    start = 0
    for cut in [*sorted(cuts), len(text)]:
        events += parser.feed(text[start:cut])
        start = cut
    events += parser.finish()
    started = [e.name for e in events if isinstance(e, ToolCallStarted)]
    done = [(e.name, e.arguments) for e in events if isinstance(e, ToolCallDone)]
    assert started == [name for name, _ in done]
    return (
        "".join(e.text for e in events if isinstance(e, TextDelta)),
        done,
        "".join(e.arguments for e in events if isinstance(e, ToolCallDelta)),
    )


CASES = [
    ("Hello there, friend!", "Hello there, friend!", []),
    ('{"name": "get_weather", "arguments": {"city": "Paris"}}', "", [("get_weather", '{"city": "Paris"}')]),
    ('<tool_call>\n{"name": "w", "arguments": {"q": "a}b\\"c"}}\n</tool_call>', "", [("w", '{"q": "a}b\\"c"}')]),
    (
        'Sure.\n{"name": "a", "arguments": {}}\n{"name": "b", "arguments": {"x": [1, {"y": 2}]}}',
        "Sure.",
        [("a", "{}"), ("b", '{"x": [1, {"y": 2}]}')],
    ),
    ('{"arguments": {"city": "Rome"}, "name": "w"}', "", [("w", '{"city": "Rome"}')]),
    ('{"name": "w", "arguments": "{\\"a\\": 1}"}', "", [("w", '{"a": 1}')]),
    ('{"name": "w", "parameters": {"a": 1}}', "", [("w", '{"a": 1}')]),
    ('{"foo": 1} is json', '{"foo": 1} is json', []),
    ("Use {braces} and a < b inline.\n", "Use {braces} and a < b inline.", []),
    ("  \n Leading and trailing blanks go   \n", "Leading and trailing blanks go", []),
    ("an unclosed { brace and more text", "an unclosed { brace and more text", []),
    ("The tag <tool", "The tag <tool", []),
    ('Let me check. {"name": "w", "arguments": {"city": "Oslo"}}', "Let me check.", [("w", '{"city": "Oslo"}')]),
]


@pytest.mark.parametrize(("source", "text", "calls"), CASES)
def test_token_by_token_and_whole(source: str, text: str, calls: list[tuple[str, str]]) -> None:
    every_char = list(range(1, len(source)))
    for cuts in ([], every_char, every_char[::3]):
        got_text, got_calls, deltas = parse(source, cuts)
        assert got_text == text
        assert got_calls == calls
        assert deltas == "".join(arguments for _, arguments in calls)


def test_a_call_cut_off_by_the_token_limit_ends_with_what_was_generated() -> None:
    assert parse('{"name": "w", "arguments": {"city": "Par', []) == ("", [("w", '{"city": "Par')], '{"city": "Par')


def test_unknown_tool_is_refused_as_soon_as_its_name_is_read() -> None:
    parser = ToolCallTextParser({"get_weather"})
    assert parser.feed('{"name": "hello", "argu') == []
    with pytest.raises(UnknownToolError) as refused:
        parser.feed('ments": {}}')
    assert refused.value.name == "hello"


@given(
    prose=st.text(alphabet=st.characters(blacklist_characters="{<"), max_size=40),
    city=st.text(max_size=12),
    cuts=st.lists(st.integers(min_value=0, max_value=200), max_size=12),
)
def test_any_chunking_gives_the_same_result(prose: str, city: str, cuts: list[int]) -> None:
    import json

    call = json.dumps({"name": "get_weather", "arguments": {"city": city}})
    source = f"{prose}\n{call}"
    cuts = [c for c in cuts if c < len(source)]
    text, calls, deltas = parse(source, cuts)
    assert text == prose.strip()
    assert calls == [("get_weather", json.dumps({"city": city}))]
    assert deltas == calls[0][1]
