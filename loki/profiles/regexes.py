"""Profile regexes run with a time limit, and the check for the shapes that backtrack for ever.

A profile may hold raw regexes (`/.../` phrases, `title: /.../` headers). Python's `re` cannot be
stopped once a pattern such as `(a+)+$` starts backtracking, so every profile regex is compiled
with the `regex` module and run with `timeout=`: a slow pattern costs at most `MATCH_TIMEOUT_S`,
counts as no match, and is logged once with its file and line. `catastrophic_shape()` names the
classic shapes so `loki profiles check` reports them before they are ever run.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import regex

log = logging.getLogger(__name__)

MATCH_TIMEOUT_S = 0.05  # far above any sane pattern on a spoken sentence (microseconds)


class TimedPattern:
    """A compiled profile regex whose matches give up after `MATCH_TIMEOUT_S` (a timeout is no match)."""

    __slots__ = ("compiled", "pattern", "where", "_warned")

    def __init__(self, pattern: str, flags: int = 0, *, where: str) -> None:
        self.pattern = pattern
        self.compiled: Any = regex.compile(pattern, flags)
        self.where = where  # "file:line (what)", for the log
        self._warned = False

    def __repr__(self) -> str:
        return f"TimedPattern({self.pattern!r}, where={self.where!r})"

    @property
    def groupindex(self) -> dict[str, int]:
        """Named groups, as on a compiled regex."""
        return dict(self.compiled.groupindex)

    def search(self, text: str) -> Any:
        """`regex.search` within the time limit; None on no match or timeout."""
        return self._run(self.compiled.search, text)

    def fullmatch(self, text: str) -> Any:
        """`regex.fullmatch` within the time limit; None on no match or timeout."""
        return self._run(self.compiled.fullmatch, text)

    def _run(self, method: Any, text: str) -> Any:
        try:
            # concurrent=True lets other threads (and the event loop) run while it matches.
            return method(text, timeout=MATCH_TIMEOUT_S, concurrent=True)
        except TimeoutError:
            if not self._warned:
                self._warned = True
                log.warning(
                    "%s: the pattern %r took longer than %g s on %r and counts as no match; rewrite it "
                    "(loki profiles check names the slow shape)",
                    self.where,
                    self.pattern,
                    MATCH_TIMEOUT_S,
                    text[:80],
                )
            return None


def catastrophic_shape(pattern: str) -> str:
    """Why `pattern` can backtrack for ever (a nested quantifier, a repeated choice between equal
    alternatives), or '' when it has none of the classic shapes. Patterns only `regex` can parse are
    not judged."""
    try:
        from re import _constants as sre  # type: ignore[attr-defined]
        from re import _parser  # type: ignore[attr-defined]

        tree = _parser.parse(pattern)
    except (re.error, ImportError, RecursionError, OverflowError):
        return ""
    return _scan(list(tree), sre)


_NESTED = (
    "a repeated group whose body is itself repeated (like (a+)+, (a*)* or (.*)*) backtracks for ever on a "
    "near miss; repeat once: a+ instead of (a+)+"
)
_EQUAL = (
    "a repeated choice between alternatives that match the same text (like (a|a)*) backtracks for ever on a "
    "near miss; list each alternative once"
)


def _scan(items: list[tuple[Any, Any]], sre: Any) -> str:
    for op, av in items:
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            body = list(av[2])
            if av[1] == sre.MAXREPEAT and _only_repeat(body, sre):
                return _NESTED
            if av[1] == sre.MAXREPEAT and _equal_alternatives(body, sre):
                return _EQUAL
            found = _scan(body, sre)
        elif op is sre.SUBPATTERN:
            found = _scan(list(av[-1]), sre)
        elif op is sre.BRANCH:
            found = next((f for alt in av[1] if (f := _scan(list(alt), sre))), "")
        elif op in (sre.ASSERT, sre.ASSERT_NOT):
            found = _scan(list(av[1]), sre)
        else:  # atomic groups and possessive repeats never backtrack into themselves; atoms cannot
            found = ""
        if found:
            return found
    return ""


def _nullable(op: Any, av: Any, sre: Any) -> bool:
    """The item can match the empty string (an optional part, an anchor, an empty group)."""
    if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
        return av[0] == 0 or all(_nullable(o, a, sre) for o, a in av[2])
    if op is sre.SUBPATTERN:
        return all(_nullable(o, a, sre) for o, a in av[-1])
    if op is sre.BRANCH:
        return any(all(_nullable(o, a, sre) for o, a in alt) for alt in av[1])
    return op in (sre.AT, sre.ASSERT, sre.ASSERT_NOT)


def _only_repeat(body: list[tuple[Any, Any]], sre: Any) -> bool:
    """The body is one unbounded repeat, give or take optional parts: (a+)+, (\\w+\\s?)+, ((.*))*."""
    required = [(op, av) for op, av in body if not _nullable(op, av, sre)]
    repeats = [(op, av) for op, av in body if op in (sre.MAX_REPEAT, sre.MIN_REPEAT) and av[1] == sre.MAXREPEAT]
    if len(required) == 1 and required[0][0] is sre.SUBPATTERN:
        return _only_repeat(list(required[0][1][-1]), sre)
    if not required:  # everything optional: (a*)*, (.*)*
        return bool(repeats) or any(op is sre.SUBPATTERN and _only_repeat(list(av[-1]), sre) for op, av in body)
    return len(required) == 1 and required[0] in repeats


def _equal_alternatives(body: list[tuple[Any, Any]], sre: Any) -> bool:
    """A choice in the body has two alternatives that are the same (re moves their common prefix out,
    so (a|a) arrives as 'a' followed by a choice between two empty alternatives)."""
    for op, av in body:
        if op is sre.SUBPATTERN and _equal_alternatives(list(av[-1]), sre):
            return True
        if op is sre.BRANCH:
            alternatives = [str(list(alt)) for alt in av[1]]
            if len(set(alternatives)) < len(alternatives):
                return True
    return False
