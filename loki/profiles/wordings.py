"""The wordings of a profile phrase: `open [the] {app}` -> "open browser", "open the browser", ...

Used where a rule must be compared with what was said as whole sentences (matching by meaning).
A list slot expands to each spoken form and remembers the entry it stands for; `<text>`,
`<number>` and `<keys>` stay as markers (`<text>`), since what fills them is the user's.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_TOKEN = re.compile(r"\s*(\[|\]|\(|\)|\||<[a-z_]+>|\{[a-z_][a-z0-9_]*\}|[^\s\[\]()|<>{}]+)", re.UNICODE)


@dataclass(frozen=True)
class Wording:
    """One way to say a phrase, with the list entries it chose (`{"app": "browser"}`)."""

    text: str
    values: Mapping[str, str] = field(default_factory=dict)


def wordings(phrase: str, lists: Mapping[str, Mapping[str, str]], *, cap: int = 400) -> list[Wording]:
    """Every wording of a phrase, up to `cap`; [] for a raw regex (`/.../`)."""
    phrase = phrase.strip()
    if phrase.startswith("/"):
        return []
    toks = [m.group(1) for m in _TOKEN.finditer(phrase)]
    pos = 0
    Partial = tuple[str, tuple[tuple[str, str], ...]]

    def alternatives() -> list[Partial]:
        nonlocal pos
        out = sequence()
        while pos < len(toks) and toks[pos] == "|":
            pos += 1
            out = out + sequence()
        return out[:cap]

    def sequence() -> list[Partial]:
        nonlocal pos
        outs: list[Partial] = [("", ())]
        while pos < len(toks) and toks[pos] not in ("|", ")", "]"):
            tok = toks[pos]
            pos += 1
            options: list[Partial]
            if tok in ("(", "["):
                options = alternatives()
                pos += 1  # the closing bracket
                if tok == "[":
                    options = [("", ()), *options]
            elif tok.startswith("{"):
                name = tok[1:-1]
                options = [(spoken, ((name, value),)) for spoken, value in lists.get(name, {}).items()]
            else:
                options = [(tok, ())]
            outs = [(f"{a} {b}".strip(), va + vb) for a, va in outs for b, vb in options][:cap]
        return outs

    seen: dict[str, Wording] = {}
    for text, values in alternatives():
        if text and text not in seen:
            seen[text] = Wording(text, dict(values))
    return list(seen.values())
