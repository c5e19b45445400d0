"""What a tier is: something that may turn an utterance into a plan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from loki.screen.window import Context


@dataclass(frozen=True)
class Turn:
    """One utterance and what the tiers may know about it."""

    text: str
    language: str
    context: Context
    history: tuple[dict[str, Any], ...] = ()  # recent turns: {"text", "tier", "actions", "reply"}


@dataclass
class Plan:
    """A tier's answer: actions to run and/or a reply to say.

    `trusted` plans (tier 0, the user's own rules) skip confirmation of risky steps; `unasked`
    steps of an untrusted plan (`loki.brain.grounding`) are confirmed even when safe;
    `reply_stream`, when set, yields the reply in pieces as a model writes it.
    """

    tier: int
    actions: list[dict[str, Any]] = field(default_factory=list)
    reply: str = ""
    trusted: bool = False
    repeat: bool = False
    reply_stream: AsyncIterator[str] | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    unasked: dict[int, str] = field(default_factory=dict)  # steps nobody asked for: each needs a yes first


class Tier(Protocol):
    """A planner: returns a Plan, or None to let the next tier try.

    A tier may also have `says_whole(text, language) -> bool`: True for a command it acts on that is
    complete as it is, so the daemon acts on it as soon as the speech ends (loki.listen.recognizer.GO_ON_S).
    """

    number: int

    async def plan(self, turn: Turn) -> Plan | None: ...
