"""Tier 0: the user's phrase rules, matched locally in well under a millisecond.

Matching runs in a worker thread: every profile regex has a time limit, but a profile with many
slow patterns still must not hold up the event loop (a "stop", SIGTERM) while it is judged.
"""

from __future__ import annotations

import asyncio
from typing import Any

from loki.brain.tiers import Plan, Turn
from loki.profiles.matcher import Matcher


class LocalCommands:
    """Tier 0: profiles compiled to regular expressions, scoped by OS, app and window title."""

    number = 0

    def __init__(self, matcher: Matcher) -> None:
        self.matcher = matcher

    async def plan(self, turn: Turn) -> Plan | None:
        """The matching rule's actions, or None."""
        ctx = turn.context
        match = await asyncio.to_thread(
            self.matcher.match, turn.text, turn.language, os_name=ctx.os, app=ctx.app, title=ctx.title
        )
        if match is None:
            return None
        detail: dict[str, Any] = {
            "rule": {"file": match.rule.path, "line": match.rule.line, "match": "fuzzy" if match.errors else "exact"},
            "edits": match.errors,
        }
        if match.values.get("text"):
            detail["typed"] = [match.values["text"]]  # dictated: traces keep only its length
        return Plan(0, list(match.actions), trusted=True, repeat=match.is_repeat, detail=detail)
