"""The phrase grammar: `open [the] (browser | web browser)`, `type <text>`, `open {app}`.

- words match themselves (after normalization: lower case, numbers as digits);
- `[x]` is optional, `(a | b)` picks one, `|` at the top level too;
- `<text>` captures any words, `<number>` a number, `<keys>` one or more spoken key names;
- `{list}` captures one entry of a list defined in the profile (`{app} browser: browser | internet`).

Every compiled atom starts with a space and the matched text is prefixed with one, so optional
parts need no special spacing rules.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from loki.profiles.normalize import normalize

BUILTIN_SLOTS = ("text", "number", "keys")
_TOKEN = re.compile(r"\s*(\[|\]|\(|\)|\||<[a-z_]+>|\{[a-z_][a-z0-9_]*\}|[^\s\[\]()|<>{}]+)", re.UNICODE)


class GrammarError(ValueError):
    """A phrase that does not parse; the message says where."""


@dataclass(frozen=True)
class Compiled:
    """A phrase compiled to a regex, with what the matcher needs to score it."""

    pattern: str  # matches " " + normalized text
    slots: tuple[str, ...]
    literal_chars: int  # characters of fixed words in the shortest expansion


def _tokens(phrase: str) -> list[str]:
    pos, out = 0, []
    phrase = phrase.strip()
    while pos < len(phrase):
        m = _TOKEN.match(phrase, pos)
        if not m or not m.group(1):
            raise GrammarError(f"unexpected character {phrase[pos:].strip()[:1]!r} at column {pos + 1}")
        out.append(m.group(1))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, phrase: str, lists: Mapping[str, Mapping[str, str]], key_pattern: str) -> None:
        self.toks = _tokens(phrase)
        self.i = 0
        self.lists = lists
        self.key_pattern = key_pattern
        self.slots: list[str] = []

    def parse(self) -> tuple[str, int]:
        pattern, chars = self.alternatives(end=None)
        if self.i != len(self.toks):
            raise GrammarError(f"unbalanced {self.toks[self.i]!r}")
        return pattern, chars

    def alternatives(self, end: str | None) -> tuple[str, int]:
        options = [self.sequence(end)]
        while self.i < len(self.toks) and self.toks[self.i] == "|":
            self.i += 1
            options.append(self.sequence(end))
        pattern = options[0][0] if len(options) == 1 else "(?:" + "|".join(p for p, _ in options) + ")"
        return pattern, min(c for _, c in options)

    def sequence(self, end: str | None) -> tuple[str, int]:
        parts: list[str] = []
        chars = 0
        while self.i < len(self.toks) and self.toks[self.i] not in ("|", end) and self.toks[self.i] not in (")", "]"):
            tok = self.toks[self.i]
            self.i += 1
            if tok in ("(", "["):
                close = ")" if tok == "(" else "]"
                inner, inner_chars = self.alternatives(close)
                if self.i >= len(self.toks) or self.toks[self.i] != close:
                    raise GrammarError(f"{tok!r} is never closed with {close!r}")
                self.i += 1
                parts.append(f"(?:{inner})" + ("?" if tok == "[" else ""))
                chars += inner_chars if tok == "(" else 0
            elif tok.startswith("<"):
                parts.append(self.slot(tok[1:-1]))
            elif tok.startswith("{"):
                parts.append(self.list_slot(tok[1:-1]))
            else:
                words = normalize(tok, strip_fillers=False).tokens
                if not words:
                    raise GrammarError(f"{tok!r} has no letters or digits")
                parts.extend(" " + re.escape(w) for w in words)
                chars += sum(len(w) + 1 for w in words)
        if not parts:
            raise GrammarError("empty alternative or group")
        return "".join(parts), chars

    def _name(self, name: str) -> str:
        if name in self.slots:
            raise GrammarError(f"slot {name!r} is used twice in one phrase")
        self.slots.append(name)
        return name

    def slot(self, name: str) -> str:
        if name not in BUILTIN_SLOTS:
            raise GrammarError(f"unknown slot <{name}>: use <text>, <number> or <keys>, or a list such as {{app}}")
        self._name(name)
        if name == "text":
            return r" (?P<text>.+)"
        if name == "number":
            return r" (?P<number>\d+)"
        return rf"(?P<keys>(?: (?:{self.key_pattern}))+)"

    def list_slot(self, name: str) -> str:
        if name not in self.lists:
            raise GrammarError(
                f"list {{{name}}} is not defined in this profile: add lines like '{{{name}}} value: spoken | words'"
            )
        self._name(name)
        spoken = sorted(self.lists[name], key=len, reverse=True)
        return f"(?P<{name}>" + "|".join(" " + re.escape(s) for s in spoken) + ")"


def compile_phrase(phrase: str, lists: Mapping[str, Mapping[str, str]], key_pattern: str) -> Compiled:
    """Compile one phrase, or a raw regex written as `/.../`."""
    phrase = phrase.strip()
    if phrase.startswith("/") and phrase.endswith("/") and len(phrase) > 2:
        body = phrase[1:-1]
        try:
            rx = re.compile(body)
        except re.error as exc:
            raise GrammarError(f"bad regular expression: {exc}") from None
        unknown = [g for g in rx.groupindex if g not in BUILTIN_SLOTS and g not in lists]
        if unknown:
            raise GrammarError(f"named group {unknown[0]!r} is neither a slot (text, number, keys) nor a list")
        # Raw regexes see the same normalized text; the leading space is optional for them.
        return Compiled(rf" ?(?:{body})", tuple(rx.groupindex), len(re.sub(r"\W", "", body)))
    parser = _Parser(phrase, lists, key_pattern)
    pattern, chars = parser.parse()
    try:
        re.compile(pattern)
    except re.error as exc:  # pragma: no cover - the grammar only emits valid regexes
        raise GrammarError(f"internal error compiling phrase: {exc}") from None
    return Compiled(pattern, tuple(parser.slots), chars)
