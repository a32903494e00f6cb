"""Streaming parser for tool calls that a model writes as JSON text.

Small local models (Qwen2.5 and its kin) answer a tool call with ``{"name": ..., "arguments": {...}}``,
sometimes wrapped in ``<tool_call>…</tool_call>``, in the text itself. ``ToolCallTextParser`` takes
the text as it streams and separates plain text from tool calls: tool-call text never comes out as
text, the arguments stream as they are generated, and plain text is held back only while it could
still be the start of a call.
"""

from __future__ import annotations

import json
import uuid

from .llm import TextDelta, ToolCallDelta, ToolCallDone, ToolCallStarted

ParsedEvent = TextDelta | ToolCallStarted | ToolCallDelta | ToolCallDone

OPEN_TAG = "<tool_call>"
CLOSE_TAG = "</tool_call>"
_PARTIAL, _MISMATCH = "partial", "mismatch"


def new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:20]}"


def _header(buf: str) -> tuple[str, str, int]:
    """Match ``[<tool_call>] {"name": "X", "arguments":`` at the start of ``buf``.

    Returns ``("match", name, end)``, or ``(_PARTIAL, "", 0)`` when more text is needed,
    or ``(_MISMATCH, "", 0)``.
    """
    i = 0

    def skip_ws() -> None:
        nonlocal i
        while i < len(buf) and buf[i].isspace():
            i += 1

    def expect(*literals: str) -> str:
        nonlocal i
        rest = buf[i:]
        for lit in literals:
            if rest.startswith(lit):
                i += len(lit)
                return "ok"
        if any(lit.startswith(rest) for lit in literals):
            return _PARTIAL
        return _MISMATCH

    skip_ws()
    if buf.startswith("<", i):
        state = expect(OPEN_TAG)
        if state != "ok":
            return state, "", 0
        skip_ws()
    for literal in ("{", '"name"', ":"):
        skip_ws()
        state = expect(literal)
        if state != "ok":
            return state, "", 0
    skip_ws()
    state = expect('"')
    if state != "ok":
        return state, "", 0
    start = i
    while i < len(buf) and buf[i] != '"':
        i += 2 if buf[i] == "\\" else 1
    if i >= len(buf):
        return _PARTIAL, "", 0
    name = json.loads(buf[start - 1 : i + 1])
    i += 1
    for literals in ((",",), ('"arguments"', '"parameters"'), (":",)):
        skip_ws()
        state = expect(*literals)
        if state != "ok":
            return state, "", 0
    skip_ws()
    if i >= len(buf):
        return _PARTIAL, "", 0
    return "match", name, i


class _JsonScanner:
    """Finds where a JSON value ends, one character at a time."""

    def __init__(self) -> None:
        self.depth = 0
        self.in_string = False
        self.escape = False
        self.started = False

    def feed(self, ch: str) -> bool:
        """Consume ``ch``; True when it closes the value."""
        if self.in_string:
            if self.escape:
                self.escape = False
            elif ch == "\\":
                self.escape = True
            elif ch == '"':
                self.in_string = False
                return self.started and self.depth == 0
            return False
        if ch == '"':
            self.in_string = True
            self.started = True
        elif ch in "{[":
            self.depth += 1
            self.started = True
        elif ch in "}]":
            self.depth -= 1
            return self.depth == 0
        elif not ch.isspace():
            self.started = True
        return False


class UnknownToolError(Exception):
    """The model began a call to a tool it was not given."""

    def __init__(self, name: str) -> None:
        super().__init__(f"the model called an unknown tool {name!r}")
        self.name = name


class ToolCallTextParser:
    """Splits a streamed model output into text and tool calls. See the module docstring.

    With ``names``, a call to any other tool raises ``UnknownToolError`` as soon as its name is read.
    """

    def __init__(self, names: set[str] | None = None) -> None:
        self.names = names
        self._mode = "text"  # text | candidate | json | args | trailer
        self._buf = ""
        self._held_ws = ""
        self._text_emitted = False
        self._index = -1
        self._call_id = ""
        self._name = ""
        self._args = ""
        self._scanner = _JsonScanner()
        self._string_args = False

    # -- public ----------------------------------------------------------------------------------

    @property
    def call_count(self) -> int:
        """How many tool calls have started so far."""
        return self._index + 1

    def feed(self, text: str) -> list[ParsedEvent]:
        self._buf += text
        out: list[ParsedEvent] = []
        while self._buf and self._step(out):
            pass
        return out

    def finish(self) -> list[ParsedEvent]:
        out: list[ParsedEvent] = []
        if self._mode in ("candidate", "json"):
            self._mode = "text"
            self._emit_text(self._buf, out, final=True)
        elif self._mode == "text":
            self._emit_text(self._buf, out, final=True)
        elif self._mode == "args":
            self._close_call(out)
        self._buf = ""
        return out

    # -- states ----------------------------------------------------------------------------------

    def _step(self, out: list[ParsedEvent]) -> bool:
        """Advance on the buffer; False when more text is needed."""
        if self._mode == "text":
            return self._step_text(out)
        if self._mode == "candidate":
            return self._step_candidate(out)
        if self._mode == "json":
            return self._step_json(out)
        if self._mode == "args":
            return self._step_args(out)
        return self._step_trailer()

    def _step_text(self, out: list[ParsedEvent]) -> bool:
        buf = self._buf
        start = self._candidate_start(buf)
        if start is None:
            keep = self._partial_tag_suffix(buf)
            self._emit_text(buf[: len(buf) - keep], out)
            self._buf = buf[len(buf) - keep :]
            return False
        self._emit_text(buf[:start], out)
        self._buf = buf[start:]
        if self._buf.startswith(CLOSE_TAG):
            self._buf = self._buf[len(CLOSE_TAG) :]
            return True
        self._mode = "candidate"
        return True

    def _step_candidate(self, out: list[ParsedEvent]) -> bool:
        state, name, end = _header(self._buf)
        if state == _PARTIAL:
            return False
        if state == "match":
            self._start_call(name, out)
            self._buf = self._buf[end:]
            self._mode = "args"
            return True
        body = self._buf.removeprefix(OPEN_TAG).lstrip() if self._buf.startswith(OPEN_TAG) else self._buf
        after = body[1:].lstrip()
        if body.startswith("{") and (not after or after[0] in '"}'):
            self._mode = "json"
            self._scanner = _JsonScanner()
            self._args = ""
            return True
        # Not a tool call: the first character is text, the rest is looked at again.
        if self._buf.startswith(OPEN_TAG):
            self._buf = self._buf[len(OPEN_TAG) :]
        else:
            self._emit_text(self._buf[0], out)
            self._buf = self._buf[1:]
        self._mode = "text"
        return True

    def _step_json(self, out: list[ParsedEvent]) -> bool:
        """A JSON object in an order the header match does not cover: wait for its end, then decide."""
        prefix = self._buf[: self._buf.index("{")]
        body = self._buf[len(prefix) :]
        scanner = _JsonScanner()
        for pos, ch in enumerate(body):
            if scanner.feed(ch):
                text = body[: pos + 1]
                rest = body[pos + 1 :]
                try:
                    call = json.loads(text)
                except ValueError:
                    call = None
                args = None
                if isinstance(call, dict) and isinstance(call.get("name"), str):
                    args = call.get("arguments", call.get("parameters"))
                if args is None:
                    self._mode = "text"
                    self._emit_text(prefix + text, out)
                    self._buf = rest
                    return True
                assert isinstance(call, dict)
                self._start_call(call["name"], out)
                self._args = args if isinstance(args, str) else json.dumps(args)
                out.append(ToolCallDelta(self._index, self._args))
                self._finish_call(out)
                self._buf = rest
                self._mode = "trailer"
                return True
        return False

    def _step_args(self, out: list[ParsedEvent]) -> bool:
        buf = self._buf
        if not self._scanner.started:
            buf = buf.lstrip()
            if not buf:
                self._buf = ""
                return False
            self._string_args = buf[0] == '"'
        for pos, ch in enumerate(buf):
            if self._scanner.feed(ch) or (not self._scanner.in_string and self._ends_primitive(ch)):
                consumed = buf[: pos + 1] if ch not in ",}" or self._scanner.depth >= 0 else buf[:pos]
                self._append_args(consumed, out)
                self._buf = buf[len(consumed) :]
                self._close_call(out)
                self._mode = "trailer"
                self._scanner = _JsonScanner()
                self._scanner.depth = 1
                return True
        self._append_args(buf, out)
        self._buf = ""
        return False

    def _step_trailer(self) -> bool:
        """After the arguments: the rest of the call object and an optional closing tag."""
        buf = self._buf
        if self._scanner.depth > 0:
            for pos, ch in enumerate(buf):
                if self._scanner.feed(ch) or self._scanner.depth <= 0:
                    self._scanner.depth = 0
                    self._buf = buf[pos + 1 :]
                    return True
            self._buf = ""
            return False
        stripped = buf.lstrip()
        if not stripped:
            self._buf = ""
            return False
        if stripped.startswith(CLOSE_TAG):
            self._buf = stripped[len(CLOSE_TAG) :]
        elif CLOSE_TAG.startswith(stripped):
            return False
        else:
            self._buf = buf
        self._mode = "text"
        self._held_ws = ""
        return True

    # -- helpers ---------------------------------------------------------------------------------

    def _ends_primitive(self, ch: str) -> bool:
        return self._scanner.depth == 0 and self._scanner.started and ch in ",}" and not self._string_args

    @staticmethod
    def _candidate_start(buf: str) -> int | None:
        """Where a tool call might begin: a ``{`` or a tool-call tag."""
        for pos, ch in enumerate(buf):
            if ch == "{" or (ch == "<" and (buf.startswith(OPEN_TAG, pos) or buf.startswith(CLOSE_TAG, pos))):
                return pos
        return None

    @staticmethod
    def _partial_tag_suffix(buf: str) -> int:
        """How many trailing characters could be the start of a tag."""
        for size in range(min(len(CLOSE_TAG) - 1, len(buf)), 0, -1):
            tail = buf[-size:]
            if OPEN_TAG.startswith(tail) or CLOSE_TAG.startswith(tail):
                return size
        return 0

    def _emit_text(self, text: str, out: list[ParsedEvent], final: bool = False) -> None:
        """Emit text, holding trailing whitespace back until more text follows (dropped at the end)."""
        if not text:
            return
        body = text.rstrip()
        if not body:
            self._held_ws += text
            return
        body = self._held_ws + body if self._text_emitted else body.lstrip()
        self._held_ws = text[len(text.rstrip()) :]
        self._text_emitted = True
        if final:
            self._held_ws = ""
        out.append(TextDelta(body))

    def _start_call(self, name: str, out: list[ParsedEvent]) -> None:
        if self.names is not None and name not in self.names:
            raise UnknownToolError(name)
        self._index += 1
        self._call_id = new_call_id()
        self._name = name
        self._args = ""
        self._scanner = _JsonScanner()
        self._held_ws = ""
        out.append(ToolCallStarted(self._index, self._call_id, name))

    def _append_args(self, chunk: str, out: list[ParsedEvent]) -> None:
        if not chunk:
            return
        self._args += chunk
        if not self._string_args:
            out.append(ToolCallDelta(self._index, chunk))

    def _close_call(self, out: list[ParsedEvent]) -> None:
        if self._string_args:
            try:
                decoded = json.loads(self._args)
            except ValueError:
                decoded = self._args.strip('"')
            self._args = decoded if isinstance(decoded, str) else json.dumps(decoded)
            out.append(ToolCallDelta(self._index, self._args))
        self._finish_call(out)

    def _finish_call(self, out: list[ParsedEvent]) -> None:
        out.append(ToolCallDone(self._index, self._call_id, self._name, self._args.strip()))
        self._string_args = False
