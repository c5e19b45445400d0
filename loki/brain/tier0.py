"""Tier 0: the user's phrase rules, matched locally in well under a millisecond.

Matching runs in a worker thread: every profile regex has a time limit, but a profile with many
slow patterns still must not hold up the event loop (a "stop", SIGTERM) while it is judged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from loki.brain.tiers import Plan, Turn
from loki.profiles.loader import ProfileSet, Rule
from loki.profiles.matcher import Matcher


class LocalCommands:
    """Tier 0: profiles compiled to regular expressions, scoped by OS, app and window title."""

    number = 0

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    def use(self, profiles: ProfileSet) -> None:
        """Match these rules from the next turn on (help and matching by meaning follow tier 0's rules)."""
        self.matcher = Matcher(profiles, self.matcher._now)

    async def plan(self, turn: Turn) -> Plan | None:
        """The matching rule's actions, or None."""
        ctx = turn.context
        match = await asyncio.to_thread(
            self.matcher.match, turn.text, turn.language, os_name=ctx.os, app=ctx.app, title=ctx.title
        )
        if match is None:
            return None
        how = "fuzzy" if match.errors else "exact"
        return rule_plan(match.rule, match.actions, match.values, how, edits=match.errors)


def rule_plan(rule: Rule, actions: list[dict[str, Any]], values: Mapping[str, str], how: str, **detail: Any) -> Plan:
    """A tier-0 plan for a profile rule: trusted, saying which rule matched (`how`) and what was dictated."""
    info: dict[str, Any] = {"rule": {"file": rule.path, "line": rule.line, "match": how}, **detail}
    if values.get("text"):
        info["typed"] = [values["text"]]  # dictated: traces keep only its length
    return Plan(0, list(actions), trusted=True, repeat=rule.is_repeat, detail=info)
