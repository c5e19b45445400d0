"""The wordings of a profile phrase: `open [the] {app}` -> "open browser", "open the browser", ...

Used where a rule must be compared with what was said as whole sentences: matching by meaning
(`wordings`, where `<text>`, `<number>` and `<keys>` stay as markers, since what fills them is the
user's) and scoring a rule's phrases against the audio (`expand_phrase`, only phrases that can be
said word for word). A list slot expands to each spoken form and remembers the entry it stands for.
The phrase is split by the grammar's own tokenizer (`loki.profiles.grammar.tokenize`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from loki.profiles.grammar import tokenize


@dataclass(frozen=True)
class Wording:
    """One way to say a phrase, with the list entries it chose (`{"app": "browser"}`)."""

    text: str
    values: Mapping[str, str] = field(default_factory=dict)


class _FreeSlot(Exception):
    """The phrase has a slot that cannot be enumerated (<text>, <keys>, a required <number>)."""


def wordings(phrase: str, lists: Mapping[str, Mapping[str, str]], *, cap: int = 400) -> list[Wording]:
    """Every wording of a phrase, up to `cap`; [] for a raw regex (`/.../`). Slots stay as markers (`<text>`)."""
    return _expand(phrase, lists, cap, slots_must_be_optional=False)


def expand_phrase(phrase: str, lists: Mapping[str, Mapping[str, str]], *, cap: int = 300) -> list[str]:
    """Every wording of a phrase, up to `cap`, as said word for word; [] for phrases with free text or raw regex.

    A slot alone in an optional group (`scroll down [<number>]`) is left out; any other makes the phrase free text.
    """
    try:
        return [wording.text for wording in _expand(phrase, lists, cap, slots_must_be_optional=True)]
    except (_FreeSlot, IndexError):
        return []


_Partial = tuple[str, tuple[tuple[str, str], ...]]


def _expand(
    phrase: str, lists: Mapping[str, Mapping[str, str]], cap: int, *, slots_must_be_optional: bool
) -> list[Wording]:
    """The wordings of a phrase; a slot is a marker, or (`slots_must_be_optional`) left out inside `[...]`
    and raising `_FreeSlot` elsewhere."""
    phrase = phrase.strip()
    if phrase.startswith("/"):
        return []
    toks = tokenize(phrase, skip_unknown=True)
    pos = 0

    def alternatives(end: str | None) -> list[_Partial]:
        nonlocal pos
        out = sequence(end)
        while pos < len(toks) and toks[pos] == "|":
            pos += 1
            out = out + sequence(end)
        return out[:cap]

    def sequence(end: str | None) -> list[_Partial]:
        nonlocal pos
        outs: list[_Partial] = [("", ())]
        while pos < len(toks) and toks[pos] not in ("|", ")", "]"):
            tok = toks[pos]
            pos += 1
            options: list[_Partial]
            if tok in ("(", "["):
                close = ")" if tok == "(" else "]"
                options = alternatives(close)
                pos += 1  # the closing bracket
                if tok == "[":
                    options = [("", ()), *options]
            elif tok.startswith("<") and slots_must_be_optional:
                if end != "]":
                    raise _FreeSlot(tok)
                options = [("", ())]
            elif tok.startswith("{"):
                name = tok[1:-1]
                options = [(spoken, ((name, value),)) for spoken, value in lists.get(name, {}).items()]
            else:
                options = [(tok, ())]
            outs = [(f"{a} {b}".strip(), va + vb) for a, va in outs for b, vb in options][:cap]
        return outs

    seen: dict[str, Wording] = {}
    for text, values in alternatives(None):
        if text and text not in seen:
            seen[text] = Wording(text, dict(values))
    return list(seen.values())
