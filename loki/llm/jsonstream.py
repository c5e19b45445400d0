"""Read a JSON object while a model is still writing it.

`ObjectStream` notices each top-level value as soon as it is complete (so a planner knows the
`actions` before the `reply` has been written) and hands out one string field piece by piece
(so the reply can be spoken while it is being generated). Anything before the first `{` (a code
fence, a stray word) is skipped; the final judgement is `whole()`, a plain `json.loads`.

Reading is linear in the length of the answer: each piece is scanned once and kept in a list of
pieces (never re-joined on every feed), and the streamed field is decoded only where it grew.
Nesting deeper than `MAX_DEPTH` is refused as it arrives, so a hostile answer never reaches the
recursive JSON decoder.
"""

from __future__ import annotations

import json
import re
from bisect import bisect_right
from typing import Any

from loki.errors import LlmError

_DECODER = json.JSONDecoder(strict=False)  # tolerate raw newlines inside strings
MAX_DEPTH = 32  # a plan is 4 deep; anything far deeper is not a plan
_IN_STRING = re.compile(r'["\\]')  # what ends a run of plain string characters
_NESTED = re.compile(r'["{}\[\]]')  # what matters below the top level


def _safe_prefix(raw: str, complete: bool) -> int:
    """Length of the longest prefix of a JSON string body that does not end inside an escape."""
    if complete:
        return len(raw)
    i, end = 0, len(raw)
    while True:
        i = raw.find("\\", i)
        if i < 0:
            return end
        if i + 1 >= end:
            return i
        if raw[i + 1] != "u":
            i += 2
            continue
        if i + 6 > end:
            return i
        hex_digits = raw[i + 2 : i + 6]
        code = int(hex_digits, 16) if all(c in "0123456789abcdefABCDEF" for c in hex_digits) else 0
        if 0xD800 <= code <= 0xDBFF:  # a surrogate pair needs its second half
            if i + 8 > end or (raw[i + 6 : i + 8] == "\\u" and i + 12 > end):
                return i
            i += 12 if raw[i + 6 : i + 8] == "\\u" else 6
        else:
            i += 6


class _Pieces:
    """The answer so far as a list of pieces, sliceable without joining it all."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.length = 0

    def append(self, piece: str) -> None:
        if piece:
            self.starts.append(self.length)
            self.parts.append(piece)
            self.length += len(piece)

    def slice(self, start: int, end: int) -> str:
        """The text between two offsets."""
        if start >= end:
            return ""
        index = bisect_right(self.starts, start) - 1
        out: list[str] = []
        while start < end:
            part, offset = self.parts[index], start - self.starts[index]
            taken = part[offset : offset + end - start]
            out.append(taken)
            start += len(taken)
            index += 1
        return "".join(out)

    def joined(self) -> str:
        """All of it (collapsed into one piece, so asking again is cheap)."""
        if len(self.parts) > 1:
            self.parts, self.starts = ["".join(self.parts)], [0]
        return self.parts[0] if self.parts else ""


class ObjectStream:
    """An incremental view of one streamed JSON object."""

    def __init__(self, streamed_key: str) -> None:
        self.streamed_key = streamed_key
        self._text = _Pieces()
        self._start: int | None = None  # index of the top-level '{'
        self._depth = 0
        self._in_string = False
        self._escape = False
        self._string_start = 0
        self._expect = "key"  # at depth 1: key, colon, value, comma
        self._key: str | None = None
        self._value_start: int | None = None
        self._raw: dict[str, str] = {}
        self.closed = False
        self._end: int | None = None
        self._streamed_start: int | None = None
        self._streamed_end: int | None = None
        self._streamed_pos = 0  # how far the streamed field has been handed out (an offset in the text)

    @property
    def text(self) -> str:
        """Everything fed so far."""
        return self._text.joined()

    # Feeding ---------------------------------------------------------------------------------
    def feed(self, piece: str) -> None:
        """Add the next piece of model output (raises `LlmError` for JSON nested deeper than `MAX_DEPTH`)."""
        base = self._text.length
        self._text.append(piece)
        i, n = 0, len(piece)
        while i < n and not self.closed:
            if self._start is None:
                i = piece.find("{", i)
                if i < 0:
                    return
                self._start, self._depth = base + i, 1
                i += 1
                continue
            if self._in_string:
                if self._escape:
                    self._escape = False
                    i += 1
                    continue
                m = _IN_STRING.search(piece, i)
                if m is None:
                    return
                i = m.start()
                if piece[i] == "\\":
                    self._escape = True
                else:
                    self._in_string = False
                    if self._depth == 1:
                        self._string_closed(base + i)
                i += 1
                continue
            if self._depth > 1:
                m = _NESTED.search(piece, i)
                if m is None:
                    return
                i = m.start()
            c = piece[i]
            if c == '"':
                self._in_string, self._string_start = True, base + i
                if self._depth == 1 and self._expect == "value":
                    self._value_start = base + i
                    if self._key == self.streamed_key:
                        self._streamed_start = self._streamed_pos = base + i + 1
            elif c in "{[":
                if self._depth == 1 and self._expect == "value":
                    self._value_start = base + i
                self._depth += 1
                if self._depth > MAX_DEPTH:
                    raise LlmError(
                        f"The model's answer nests JSON more than {MAX_DEPTH} levels deep; a plan never does, "
                        "so it was not read.",
                        code="llm_bad_answer",
                    )
            elif c in "}]":
                self._depth -= 1
                if self._depth == 1:
                    self._value_done(base + i + 1)
                elif self._depth == 0:
                    if self._expect == "value" and self._value_start is not None:
                        self._value_done(base + i)  # a scalar ends at the closing brace
                    self.closed, self._end = True, base + i + 1
            elif self._depth == 1:
                if c == ":" and self._expect == "colon":
                    self._expect = "value"
                elif c == ",":
                    if self._expect == "value" and self._value_start is not None:
                        self._value_done(base + i)  # a scalar ends at the comma
                    self._expect = "key"
                elif not c.isspace() and self._expect == "value" and self._value_start is None:
                    self._value_start = base + i  # a number, true, false or null
            i += 1

    def _string_closed(self, i: int) -> None:
        if self._expect == "key":
            try:
                self._key = json.loads(self._text.slice(self._string_start, i + 1))
            except ValueError:
                self._key = None
            self._expect = "colon"
        elif self._expect == "value":
            if self._key == self.streamed_key and self._streamed_start is not None:
                self._streamed_end = i
            self._value_done(i + 1)

    def _value_done(self, end: int) -> None:
        if self._key is not None and self._value_start is not None:
            self._raw[self._key] = self._text.slice(self._value_start, end).strip()
        self._value_start = None
        self._expect = "comma"

    # Reading ---------------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        """True once the top-level value of `key` is complete."""
        return key in self._raw

    def value(self, key: str) -> Any:
        """The decoded top-level value of `key` (raises KeyError or ValueError)."""
        return _decode(self._raw[key])

    @property
    def started(self) -> bool:
        """The object's opening brace has arrived."""
        return self._start is not None

    @property
    def streamed_has_text(self) -> bool:
        """At least one character of the streamed field has arrived."""
        return self._streamed_start is not None and self._text.length > self._streamed_start

    @property
    def streamed_started(self) -> bool:
        """The streamed string field has begun."""
        return self._streamed_start is not None

    @property
    def streamed_done(self) -> bool:
        """The streamed string field is complete."""
        return self._streamed_end is not None

    def take_streamed(self) -> str:
        """The streamed field's text that arrived since the last call (escapes decoded)."""
        if self._streamed_start is None:
            return ""
        complete = self._streamed_end is not None
        end = self._streamed_end if self._streamed_end is not None else self._text.length
        raw = self._text.slice(self._streamed_pos, end)
        raw = raw[: _safe_prefix(raw, complete)]
        if not raw:
            return ""
        try:
            decoded = _DECODER.decode(f'"{raw}"')
        except ValueError:
            return ""
        self._streamed_pos += len(raw)
        return decoded

    def whole(self) -> Any:
        """The complete object (raises ValueError when it is not valid JSON or not finished)."""
        if self._start is None:
            raise ValueError("no JSON object in the answer")
        if not self.closed or self._end is None:
            raise ValueError("the JSON object is incomplete")
        return _decode(self._text.slice(self._start, self._end))


def _decode(raw: str) -> Any:
    try:
        return _DECODER.decode(raw)
    except RecursionError:  # nesting is refused while feeding; this is the last line of defence
        raise ValueError("the JSON is nested too deeply") from None
