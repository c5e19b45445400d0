"""Read a JSON object while a model is still writing it.

`ObjectStream` notices each top-level value as soon as it is complete (so a planner knows the
`actions` before the `reply` has been written) and hands out one string field piece by piece
(so the reply can be spoken while it is being generated). Anything before the first `{` (a code
fence, a stray word) is skipped; the final judgement is `whole()`, a plain `json.loads`.
"""

from __future__ import annotations

import json
from typing import Any

_DECODER = json.JSONDecoder(strict=False)  # tolerate raw newlines inside strings


def _safe_prefix(raw: str) -> int:
    """Length of the longest prefix of a JSON string body that does not end inside an escape."""
    i, end = 0, len(raw)
    while i < end:
        if raw[i] != "\\":
            i += 1
            continue
        if i + 1 >= end:
            return i
        if raw[i + 1] != "u":
            i += 2
            continue
        if i + 6 > end:
            return i
        code = int(raw[i + 2 : i + 6], 16) if all(c in "0123456789abcdefABCDEF" for c in raw[i + 2 : i + 6]) else 0
        if 0xD800 <= code <= 0xDBFF:  # a surrogate pair needs its second half
            if i + 12 > end:
                return i
            i += 12
        else:
            i += 6
    return end


class ObjectStream:
    """An incremental view of one streamed JSON object."""

    def __init__(self, streamed_key: str) -> None:
        self.streamed_key = streamed_key
        self.text = ""
        self._pos = 0
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
        self._streamed_taken = 0

    # Feeding ---------------------------------------------------------------------------------
    def feed(self, piece: str) -> None:
        """Add the next piece of model output."""
        self.text += piece
        text = self.text
        i = self._pos
        while i < len(text) and not self.closed:
            c = text[i]
            if self._start is None:
                if c == "{":
                    self._start, self._depth = i, 1
                i += 1
                continue
            if self._in_string:
                if self._escape:
                    self._escape = False
                elif c == "\\":
                    self._escape = True
                elif c == '"':
                    self._in_string = False
                    if self._depth == 1:
                        self._string_closed(i)
                i += 1
                continue
            if c == '"':
                self._in_string, self._string_start = True, i
                if self._depth == 1 and self._expect == "value":
                    self._value_start = i
                    if self._key == self.streamed_key:
                        self._streamed_start = i + 1
            elif c in "{[":
                if self._depth == 1 and self._expect == "value":
                    self._value_start = i
                self._depth += 1
            elif c in "}]":
                self._depth -= 1
                if self._depth == 1:
                    self._value_done(i + 1)
                elif self._depth == 0:
                    if self._expect == "value" and self._value_start is not None:
                        self._value_done(i)  # a scalar ends at the closing brace
                    self.closed, self._end = True, i + 1
            elif self._depth == 1:
                if c == ":" and self._expect == "colon":
                    self._expect = "value"
                elif c == ",":
                    if self._expect == "value" and self._value_start is not None:
                        self._value_done(i)  # a scalar ends at the comma
                    self._expect = "key"
                elif not c.isspace() and self._expect == "value" and self._value_start is None:
                    self._value_start = i  # a number, true, false or null
            i += 1
        self._pos = i

    def _string_closed(self, i: int) -> None:
        if self._expect == "key":
            try:
                self._key = json.loads(self.text[self._string_start : i + 1])
            except ValueError:
                self._key = None
            self._expect = "colon"
        elif self._expect == "value":
            if self._key == self.streamed_key and self._streamed_start is not None:
                self._streamed_end = i
            self._value_done(i + 1)

    def _value_done(self, end: int) -> None:
        if self._key is not None and self._value_start is not None:
            self._raw[self._key] = self.text[self._value_start : end].strip()
        self._value_start = None
        self._expect = "comma"

    # Reading ---------------------------------------------------------------------------------
    def has(self, key: str) -> bool:
        """True once the top-level value of `key` is complete."""
        return key in self._raw

    def value(self, key: str) -> Any:
        """The decoded top-level value of `key` (raises KeyError or ValueError)."""
        return _DECODER.decode(self._raw[key])

    @property
    def started(self) -> bool:
        """The object's opening brace has arrived."""
        return self._start is not None

    @property
    def streamed_has_text(self) -> bool:
        """At least one character of the streamed field has arrived."""
        return self._streamed_start is not None and len(self.text) > self._streamed_start

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
        end = self._streamed_end if self._streamed_end is not None else len(self.text)
        raw = self.text[self._streamed_start : end]
        raw = raw[: _safe_prefix(raw)]
        try:
            decoded = _DECODER.decode(f'"{raw}"')
        except ValueError:
            return ""
        new, self._streamed_taken = decoded[self._streamed_taken :], len(decoded)
        return new

    def whole(self) -> Any:
        """The complete object (raises ValueError when it is not valid JSON or not finished)."""
        if self._start is None:
            raise ValueError("no JSON object in the answer")
        if not self.closed:
            raise ValueError("the JSON object is incomplete")
        return _DECODER.decode(self.text[self._start : self._end])
