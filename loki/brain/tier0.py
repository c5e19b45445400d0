"""Tier 0: the user's phrase rules, matched locally in well under a millisecond.

Matching runs in a worker thread: every profile regex has a time limit, but a profile with many
slow patterns still must not hold up the event loop (a "stop", SIGTERM) while it is judged.

A near miss stands for a mishearing of the rule ("value up" for "volume up"), so it is not taken
when the words themselves tell rather than ask: "closed the tab", «закрыл вкладку» and "paused the
music" are a rule's words in the past tense, one or two edits away, and someone saying them is
telling, not asking. The same reading as matching by meaning's decides (`Lexicon.refuses`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from loki.brain.lexicon import LEXICONS, YOURS
from loki.brain.tiers import Plan, Turn
from loki.profiles.loader import ProfileSet, Rule
from loki.profiles.matcher import Matcher
from loki.profiles.normalize import normalize


class LocalCommands:
    """Tier 0: profiles compiled to regular expressions, scoped by OS, app and window title."""

    number = 0

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    def use(self, profiles: ProfileSet) -> None:
        """Match these rules from the next turn on (help and matching by meaning follow tier 0's rules)."""
        self.matcher = Matcher(profiles, self.matcher._now)

    def says_whole(self, text: str, language: str) -> bool:
        """True when a rule in no app's scope says `text` as it is, with no free text to come ("volume up",
        not "type I'll be late", which may go on after a pause)."""
        match = self.matcher.match(text, language)
        return match is not None and match.errors == 0 and "text" not in match.rule.compiled.slots

    async def plan(self, turn: Turn) -> Plan | None:
        """The matching rule's actions, or None."""
        ctx = turn.context
        match = await asyncio.to_thread(
            self.matcher.match, turn.text, turn.language, os_name=ctx.os, app=ctx.app, title=ctx.title
        )
        if match is None or (match.errors and _tells(turn.text, turn.language, self.matcher.words(match.rule))):
            return None
        if _sought_of_theirs(match.values.get("text", ""), match.actions, turn.text):
            return None  # "find your center", "find my phone, it's in the couch": not a search on the page
        how = "fuzzy" if match.errors else "exact"
        return rule_plan(match.rule, match.actions, match.values, how, edits=match.errors)


def _tells(text: str, language: str, rule_words: set[str]) -> bool:
    """True when the words deny, are said to someone else, or put one of the rule's verbs in the past."""
    lexicon = LEXICONS.get(language)
    if lexicon is None:
        return False
    tokens = normalize(text).tokens
    return (
        lexicon.refuses(tokens)
        or lexicon.addressed_elsewhere(text)
        or any(lexicon.past_of(token, lexicon.verbs_among(rule_words)) for token in tokens)
    )


def _sought_of_theirs(text: str, actions: list[dict[str, Any]], said: str) -> bool:
    """True when the text a rule looks for (not a message it types) is called the listener's ("find your
    center", «найди свою тетрадку»), or, with no page named, the speaker's or for them ("find my phone",
    "find me a good restaurant"): a thing in the world, not words on the screen."""
    words = normalize(text).tokens
    if not words or all(a.get("type") == "type" for a in actions):
        return False
    page = any(t in ("page", "site") or t.startswith("страниц") for t in normalize(said).tokens)
    return words[0] in YOURS or words[0] in _MINE and not page


_MINE = frozenset("my me мой мою моя мои моё мое мне".split())


def rule_plan(rule: Rule, actions: list[dict[str, Any]], values: Mapping[str, str], how: str, **detail: Any) -> Plan:
    """A tier-0 plan for a profile rule: trusted, saying which rule matched (`how`) and what was dictated."""
    info: dict[str, Any] = {"rule": {"file": rule.path, "line": rule.line, "match": how}, **detail}
    if values.get("text"):
        info["typed"] = [values["text"]]  # dictated: traces keep only its length
    return Plan(0, list(actions), trusted=True, repeat=rule.is_repeat, detail=info)
