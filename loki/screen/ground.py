"""Finding a control on the screen: what is asked for, what was found, and the cascade, cheapest first.

A `Target` is what the user named ("Save", "the second result", "the red icon at the top"). Each
finder (`loki.screen.a11y` over AT-SPI, `loki.screen.ocr` over the window's pixels,
`loki.screen.vision` through a vision model) returns `Candidate`s: a box in screen pixels (the ones
pyautogui clicks), the label it read, its source and a score in 0..1. `Grounder` asks them in order
and stops at the first that is sure.

Names are matched tolerantly by `label_score`: case, mnemonics ("_Save"), ellipses ("Save…"), "ё",
punctuation and a close misspelling do not matter; a label that only contains the name scores less.
"""

from __future__ import annotations

import difflib
import logging
import re
import time
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from loki.errors import ScreenError
from loki.screen.coords import Box

log = logging.getLogger(__name__)

SURE = 0.85
"""A candidate at least this good ends the cascade: cheaper sources win when they are sure."""
MATCH = 0.6
"""Below this a label is not the name asked for."""


@dataclass(frozen=True)
class Target:
    """What to find: a visible name and/or a role, which one of several, or a description for a vision model."""

    name: str = ""
    """The label as said ("Save", "Сохранить"); empty for a description only."""
    role: str = ""
    """button, menu item, link, check box, tab, text field, ... ("" for any)."""
    nth: int = 0
    """1-based, in reading order ("the second result"); 0 for the best match."""
    description: str = ""
    """What a vision model is told when there is no name ("the red icon at the top")."""
    language: str = "en"

    def __post_init__(self) -> None:
        if not self.name.strip() and not self.description.strip():
            raise ValueError("a target needs a name or a description")
        if self.nth < 0:
            raise ValueError("nth is 1-based (0 = the best match)")

    @property
    def said(self) -> str:
        """How to name it in a reply."""
        return self.name or self.description

    def as_dict(self) -> dict[str, Any]:
        """The action schema's `target` object."""
        out: dict[str, Any] = {"name": self.name} if self.name else {}
        if self.role:
            out["role"] = self.role
        if self.nth:
            out["nth"] = self.nth
        if self.description:
            out["description"] = self.description
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any], language: str = "en") -> Target:
        """From a validated action's `target`."""
        return cls(
            str(data.get("name", "")),
            str(data.get("role", "")),
            int(data.get("nth", 0)),
            str(data.get("description", "")),
            language,
        )


@dataclass(frozen=True)
class Candidate:
    """A control that may be the target."""

    box: Box
    """Screen pixels, absolute in the virtual screen (what pyautogui clicks)."""
    label: str
    source: str
    """a11y, ocr or vision."""
    score: float
    role: str = ""
    states: frozenset[str] = frozenset()
    """Accessibility states when known (enabled, visible, showing, focused, checked, ...)."""
    ref: Any = field(default=None, compare=False, repr=False)
    """What the source needs to act on it or look at it again (an accessible's bus name and path)."""

    @property
    def point(self) -> tuple[int, int]:
        """The pixel to click: the box's centre pixel."""
        x, y = self.box.center
        return (int(x), int(y))

    def as_dict(self) -> dict[str, Any]:
        """The `loki screen find --json` object."""
        b = self.box
        return {
            "target": self.label,
            "box": [round(b.left), round(b.top), round(b.width), round(b.height)],
            "source": self.source,
            "score": round(self.score, 3),
            "role": self.role,
        }


@dataclass(frozen=True)
class Window:
    """The active window that a screen command works in."""

    id: int
    """X window id (0 when unknown)."""
    box: Box
    """Its inside, in screen pixels."""
    pid: int = 0
    app: str = ""
    title: str = ""


class Finder(Protocol):
    """One stage of the cascade."""

    source: str

    def find(self, target: Target, window: Window, deadline: float) -> list[Candidate]:
        """Candidates for `target` in `window`, best first; [] when none; stops by `deadline` (time.monotonic)."""
        ...


# Names ------------------------------------------------------------------------------------------

_MNEMONIC = re.compile(r"_(?=\w)|&(?=\w)")
_NOT_WORD = re.compile(r"[^\w]+")
_SYMBOLS = str.maketrans({"−": "-", "–": "-", "×": "*", "÷": "/"})
"""Typographic symbols as typed (a calculator's "−" is said and written "-")."""


def clean_label(text: str) -> str:
    """A label as compared: no mnemonics or punctuation, case-folded, 'ё' as 'е', spaces collapsed."""
    text = unicodedata.normalize("NFKC", _MNEMONIC.sub("", text)).casefold().replace("ё", "е")
    return " ".join(_NOT_WORD.sub(" ", text).split())


def label_score(asked: str, label: str) -> float:
    """How well a control's label answers to the name asked for, 0..1.

    1.0 the same label; 0.95 the same letters with a space dropped or added ("GetStarted", as OCR
    reads it); ~0.9 the same words in another case or with a typo; 0.6-0.8 the name is a whole-word
    part of a longer label ("Save" in "Save As…" scores less than "Save"); below 0.6 not it. A name
    made only of symbols (a calculator's "+", "−", "=") must be the same symbols.
    """
    a, b = clean_label(asked), clean_label(label)
    if not a:
        return 1.0 if _symbols(asked) and _symbols(asked) == _symbols(label) else 0.0
    if not b:
        return 0.0
    if a == b:
        return 1.0
    if a.replace(" ", "") == b.replace(" ", ""):
        return 0.95
    ratio = difflib.SequenceMatcher(None, a, b).ratio()
    words_a, words_b = a.split(), b.split()
    if ratio >= 0.8 and len(words_a) == len(words_b):
        return 0.75 + 0.2 * ratio  # a misread letter or two: "Sav" / "Save", "0pen" / "Open"
    if _contains_words(words_b, words_a):
        return 0.6 + 0.2 * len(a) / len(b)  # the name inside a longer label
    return ratio * 0.6


def _symbols(name: str) -> str:
    """A name of symbols as compared: case and spacing aside, typographic symbols as typed."""
    return " ".join(name.casefold().translate(_SYMBOLS).split())


def _contains_words(haystack: Sequence[str], needle: Sequence[str]) -> bool:
    n = len(needle)
    return any(list(haystack[i : i + n]) == list(needle) for i in range(len(haystack) - n + 1))


def reading_order(candidates: Sequence[Candidate]) -> list[Candidate]:
    """Top to bottom, then left to right; boxes whose middles are within half a line count as one line."""
    if not candidates:
        return []
    line = max(4.0, min(c.box.height for c in candidates) / 2)
    return sorted(candidates, key=lambda c: (round(c.box.center[1] / line), c.box.left))


def pick(candidates: Sequence[Candidate], target: Target) -> list[Candidate]:
    """The candidates that answer to `target`, best first; the nth in reading order when one is asked for."""
    good = [c for c in candidates if c.score >= MATCH]
    if target.nth:
        ordered = reading_order(good)
        return [ordered[target.nth - 1]] if len(ordered) >= target.nth else []
    return sorted(good, key=lambda c: -c.score)


# The cascade ------------------------------------------------------------------------------------


@dataclass
class Found:
    """What the cascade found, and what it cost."""

    candidates: list[Candidate]
    tried: list[str]
    """The sources asked, in order."""
    ms: dict[str, float]
    """Milliseconds per source."""
    stages: dict[str, float] = field(default_factory=dict)
    """Milliseconds of the sources' own stages (OCR's capture and ocr_read), summed over the sources."""
    errors: dict[str, str] = field(default_factory=dict)
    """Why a source could not look (no accessibility, a vision model refusing a private window)."""


class Grounder:
    """Asks finders in order (accessibility, OCR, vision) until one is sure."""

    def __init__(self, finders: Sequence[Finder]) -> None:
        self.finders = list(finders)

    def find(self, target: Target, window: Window, deadline: float, *, skip: Sequence[str] = ()) -> Found:
        """Candidates for `target`, best first: the first sure source's, else everything found."""
        found = Found([], [], {})
        for finder in self.finders:
            if finder.source in skip or time.monotonic() >= deadline:
                continue
            started = time.perf_counter()
            try:
                got = pick(finder.find(target, window, deadline), target)
            except ScreenError as exc:  # an app without accessibility, OCR off: common, the next source looks
                log.debug("%s could not look for %r: %s", finder.source, target.said, exc)
                found.errors[finder.source] = exc.message
                got = []
            except Exception as exc:  # a finder that fails (a bug, a library error) leaves it to the next
                log.warning("%s could not look for %r: %s", finder.source, target.said, exc)
                got = []
            found.ms[finder.source] = round((time.perf_counter() - started) * 1000, 1)
            for stage, ms in getattr(finder, "last_ms", {}).items():  # e.g. OCR's capture
                found.stages[stage] = round(found.stages.get(stage, 0.0) + ms, 1)
            found.tried.append(finder.source)
            found.candidates.extend(got)
            if got and got[0].score >= SURE:
                found.candidates = got
                break
        found.candidates.sort(key=lambda c: -c.score)
        return found
