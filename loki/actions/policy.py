"""The policy: every action is classed safe, confirm or deny before anything runs.

Tier-0 rules are the user's own words mapped by the user's own profiles, so they are *trusted*:
"confirm" actions from them run without asking (saying "close the window" is the confirmation).
Plans from language models are not trusted: their risky steps are confirmed first.
Denied actions never run, whoever asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from loki.actions.apps import AppCatalog


class Decision(StrEnum):
    """What the policy allows."""

    SAFE = "safe"
    CONFIRM = "confirm"
    DENY = "deny"


@dataclass(frozen=True)
class Verdict:
    """The policy's decision on one action, with a reason a person can read."""

    decision: Decision
    reason: str = ""


_DENY_CHORDS = [
    {"ctrl", "alt", "delete"},
    {"ctrl", "alt", "del"},
    {"ctrl", "alt", "backspace"},
    *({"ctrl", "alt", f"f{n}"} for n in range(1, 13)),
]
_CONFIRM_CHORDS = [
    {"alt", "f4"},
    {"ctrl", "q"},
    {"ctrl", "w"},
    {"ctrl", "shift", "w"},
    {"ctrl", "shift", "q"},
    {"command", "q"},
    {"command", "w"},
    {"shift", "delete"},
    {"shift", "del"},
    {"win", "l"},
]
_MODIFIER_ALIASES = {
    "ctrlleft": "ctrl",
    "ctrlright": "ctrl",
    "altleft": "alt",
    "altright": "alt",
    "shiftleft": "shift",
    "shiftright": "shift",
    "winleft": "win",
    "winright": "win",
    "cmd": "command",
    "optionleft": "option",
    "optionright": "option",
}
# Text that, typed into a terminal and submitted, could destroy data or the session.
_DANGEROUS_TEXT = re.compile(
    r"\brm\s+-[a-z]*[rf]|\bsudo\b|\bmkfs|\bdd\s+if=|:\(\)\s*\{|\bshutdown\b|\breboot\b|\bpoweroff\b"
    r"|\b(curl|wget)\b[^|]*\|\s*(ba|z)?sh\b|\bchmod\s+-R\b|>\s*/dev/sd",
    re.IGNORECASE,
)


def _chord(keys: Iterable[str]) -> set[str]:
    return {_MODIFIER_ALIASES.get(k, k).lower() for k in keys}


class Policy:
    """Classes actions; knows the launch allowlist and whether the desktop may be touched."""

    def __init__(self, apps: AppCatalog, *, dry_run: bool = False) -> None:
        self.apps = apps
        self.dry_run = dry_run

    def check(self, action: dict[str, Any], *, trusted: bool = False) -> Verdict:
        """Class one *validated* action."""
        if action["type"] == "type" and trusted and _DANGEROUS_TEXT.search(action["text"]):
            # The user dictated it, so it is not refused, but it is always read back first.
            return Verdict(Decision.CONFIRM, "the text looks like a destructive shell command")
        verdict = self._classify(action)
        if verdict.decision is Decision.CONFIRM and trusted:
            return Verdict(Decision.SAFE, verdict.reason)
        return verdict

    def _classify(self, action: dict[str, Any]) -> Verdict:
        kind = action["type"]
        if kind == "launch":
            if not self.apps.is_allowed(action["app"]):
                return Verdict(
                    Decision.DENY,
                    f"'{action['app']}' is not on the launch allowlist; add its executable to LOKI_APPS_ALLOW.",
                )
            return Verdict(Decision.SAFE)
        if kind == "hotkey":
            chord = _chord(action["keys"])
            if chord in _DENY_CHORDS:
                return Verdict(Decision.DENY, f"the key chord {'+'.join(action['keys'])} is never pressed by LOKI.")
            if chord in _CONFIRM_CHORDS:
                return Verdict(Decision.CONFIRM, f"{'+'.join(action['keys'])} may close something")
            return Verdict(Decision.SAFE)
        if kind == "type":
            if _DANGEROUS_TEXT.search(action["text"]):
                return Verdict(Decision.DENY, "the text looks like a destructive shell command.")
            if "\n" in action["text"]:
                return Verdict(Decision.CONFIRM, "the text contains a line break that would submit it")
            return Verdict(Decision.SAFE)
        if kind == "window" and action["op"] == "close":
            return Verdict(Decision.CONFIRM, "closing a window may lose unsaved work")
        return Verdict(Decision.SAFE)

    def check_plan(self, actions: Iterable[dict[str, Any]], *, trusted: bool = False) -> list[Verdict]:
        """Class every action of a plan, in order."""
        return [self.check(a, trusted=trusted) for a in actions]
