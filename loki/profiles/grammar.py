"""The phrase grammar: `open [the] (browser | web browser)`, `type <text>`, `open {app}`.

- words match themselves (after normalization: lower case, numbers as digits);
- `[x]` is optional, `(a | b)` picks one, `|` at the top level too;
- `<text>` captures any words, `<number>` a number, `<keys>` one or more spoken key names;
- `{list}` captures one entry of a list defined in the profile (`{app} browser: browser | internet`).

Every compiled atom starts with a space and the matched text is prefixed with one, so optional
parts need no special spacing rules. Besides its regex, a phrase yields a few sample sentences
(what someone would say to trigger it), so the loader can tell a rule that can never match.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import regex

from loki.profiles.normalize import normalize
from loki.profiles.regexes import catastrophic_shape

BUILTIN_SLOTS = ("text", "number", "keys")
MAX_SAMPLES = 64
_SLOT_SAMPLES = {"text": "hello", "number": "3", "keys": "f5"}
_TOKEN = re.compile(r"\s*(\[|\]|\(|\)|\||<[a-z_]+>|\{[a-z_][a-z0-9_]*\}|[^\s\[\]()|<>{}]+)", re.UNICODE)


class GrammarError(ValueError):
    """A phrase that does not parse; the message says where."""


@dataclass(frozen=True)
class Compiled:
    """A phrase compiled to a regex, with what the matcher needs to score it."""

    pattern: str  # matches " " + normalized text
    slots: tuple[str, ...]
    literal_chars: int  # characters of fixed words in the shortest expansion
    samples: tuple[str, ...] = ()  # sentences that should trigger it (none for a raw regex)
    duplicates: tuple[str, ...] = ()  # alternatives written twice in one choice


def tokenize(phrase: str, *, skip_unknown: bool = False) -> list[str]:
    """The tokens of a phrase: words, `[`, `]`, `(`, `)`, `|`, `<slot>` and `{list}`.

    A character that starts no token raises GrammarError, or is passed over with `skip_unknown`
    (for text never checked as a phrase, such as a rule's example wordings).
    """
    pos, out = 0, list[str]()
    glued: list[tuple[int, int]] = []  # brackets written right after a word: (token index, column)
    phrase = phrase.strip()
    while pos < len(phrase):
        m = _TOKEN.match(phrase, pos)
        if not m or not m.group(1):
            if skip_unknown:
                pos += 1
                continue
            raise GrammarError(f"unexpected character {phrase[pos:].strip()[:1]!r} at column {pos + 1}")
        token, start = m.group(1), m.start(1)
        if out and start == pos and token in ("(", "[") and _is_word(out[-1]) and not skip_unknown:
            glued.append((len(out), start))
        out.append(token)
        pos = m.end()
    for index, column in glued:
        if _is_suffix_group(out, index):
            raise GrammarError(
                f"{out[index - 1]!r} touches a bracket at column {column + 1}: a choice picks whole words, so "
                "spell each one out, as in (tab | tabs) rather than tab(s)"
            )
    return out


def _is_suffix_group(tokens: Sequence[str], open_at: int) -> bool:
    """True for a group glued to the word before it whose choices are all word endings ("вкладк(а | у)")."""
    close = {"(": ")", "[": "]"}[tokens[open_at]]
    choices: list[list[str]] = [[]]
    for token in tokens[open_at + 1 :]:
        if token == close:
            return all(len(c) == 1 and len(c[0]) <= 3 for c in choices)
        if token in ("(", "[", "]", ")"):
            return False
        if token == "|":
            choices.append([])
        else:
            choices[-1].append(token)
    return False


def _is_word(token: str) -> bool:
    """A plain word (not a bracket, a bar, a <slot> or a {list})."""
    return token not in ("[", "]", "(", ")", "|") and token[0] not in "<{"


class _Parser:
    def __init__(self, phrase: str, lists: Mapping[str, Mapping[str, str]], key_pattern: str) -> None:
        self.toks = tokenize(phrase)
        self.i = 0
        self.lists = lists
        self.key_pattern = key_pattern
        self.slots: list[str] = []
        self.duplicates: list[str] = []

    def parse(self) -> tuple[str, int, list[str]]:
        pattern, chars, samples = self.alternatives(end=None)
        if self.i != len(self.toks):
            raise GrammarError(f"unbalanced {self.toks[self.i]!r}")
        return pattern, chars, samples

    def alternatives(self, end: str | None) -> tuple[str, int, list[str]]:
        start = self.i
        options = [self.sequence(end)]
        bounds = [(start, self.i)]
        while self.i < len(self.toks) and self.toks[self.i] == "|":
            self.i += 1
            start = self.i
            options.append(self.sequence(end))
            bounds.append((start, self.i))
        seen: set[str] = set()
        for (pattern, _, _), (first, last) in zip(options, bounds, strict=True):
            if pattern in seen:
                self.duplicates.append(" ".join(self.toks[first:last]))
            seen.add(pattern)
        # Longest first, so "(type | type in) <text>" leaves "in" out of the text whichever is written first.
        longest_first = sorted(options, key=lambda o: -o[1])
        pattern = options[0][0] if len(options) == 1 else "(?:" + "|".join(p for p, _, _ in longest_first) + ")"
        samples = [s for _, _, option_samples in options for s in option_samples][:MAX_SAMPLES]
        return pattern, min(c for _, c, _ in options), samples

    def sequence(self, end: str | None) -> tuple[str, int, list[str]]:
        parts: list[str] = []
        chars = 0
        samples = [""]
        while self.i < len(self.toks) and self.toks[self.i] not in ("|", end) and self.toks[self.i] not in (")", "]"):
            tok = self.toks[self.i]
            self.i += 1
            if tok in ("(", "["):
                close = ")" if tok == "(" else "]"
                inner, inner_chars, inner_samples = self.alternatives(close)
                if self.i >= len(self.toks) or self.toks[self.i] != close:
                    raise GrammarError(f"{tok!r} is never closed with {close!r}")
                self.i += 1
                parts.append(f"(?:{inner})" + ("?" if tok == "[" else ""))
                chars += inner_chars if tok == "(" else 0
                samples = _product(samples, ([""] if tok == "[" else []) + inner_samples)
            elif tok.startswith("<"):
                parts.append(self.slot(tok[1:-1]))
                samples = _product(samples, [_SLOT_SAMPLES[tok[1:-1]]])
            elif tok.startswith("{"):
                parts.append(self.list_slot(tok[1:-1]))
                samples = _product(samples, [next(iter(self.lists[tok[1:-1]]))])
            else:
                words = normalize(tok, strip_fillers=False).tokens
                if not words:
                    raise GrammarError(f"{tok!r} has no letters or digits")
                parts.extend(" " + re.escape(w) for w in words)
                chars += sum(len(w) + 1 for w in words)
                samples = _product(samples, [tok])
        if not parts:
            raise GrammarError("empty alternative or group")
        return "".join(parts), chars, samples

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
            return r" (?P<text>.+?)"  # lazy: "find budget on this page" leaves the optional tail out
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


def _product(heads: list[str], tails: list[str]) -> list[str]:
    """Every head followed by every tail (the first `MAX_SAMPLES`)."""
    return [f"{h} {t}".strip() for h in heads for t in tails][:MAX_SAMPLES]


def compile_phrase(phrase: str, lists: Mapping[str, Mapping[str, str]], key_pattern: str) -> Compiled:
    """Compile one phrase, or a raw regex written as `/.../`."""
    phrase = phrase.strip()
    if phrase.startswith("/") and phrase.endswith("/") and len(phrase) > 2:
        body = phrase[1:-1]
        try:
            rx = regex.compile(body)
        except (regex.error, re.error) as exc:
            raise GrammarError(f"bad regular expression: {exc}") from None
        shape = catastrophic_shape(body)
        if shape:
            raise GrammarError(f"the regular expression can take for ever: {shape}")
        unknown = [g for g in rx.groupindex if g not in BUILTIN_SLOTS and g not in lists]
        if unknown:
            raise GrammarError(f"named group {unknown[0]!r} is neither a slot (text, number, keys) nor a list")
        # Raw regexes see the same normalized text; the leading space is optional for them.
        return Compiled(rf" ?(?:{body})", tuple(rx.groupindex), len(re.sub(r"\W", "", body)))
    parser = _Parser(phrase, lists, key_pattern)
    pattern, chars, samples = parser.parse()
    try:
        regex.compile(pattern)
    except regex.error as exc:  # pragma: no cover - the grammar only emits valid regexes
        raise GrammarError(f"internal error compiling phrase: {exc}") from None
    return Compiled(pattern, tuple(parser.slots), chars, tuple(samples), tuple(parser.duplicates))
