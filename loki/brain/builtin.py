"""Built-in commands that no profile can change: help, and sleep / wake up.

- "what can I say?" / «что ты умеешь?» says a short summary and lists the rules active where the
  user is (the app in front), without touching the desktop;
- "go to sleep" / «спи»: the daemon sleeps until "wake up" / «проснись» (or push-to-talk); the
  plan carries `detail["control"] = "sleep"` and the daemon keeps the state (`is_wake_up`).

("never mind" / «отмена» are the profiles' `stop` rules.)
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from loki.brain.tiers import Plan, Turn
from loki.profiles.loader import ProfileSet, Rule
from loki.profiles.normalize import normalize
from loki.profiles.wordings import wordings

_HELP = {
    "en": {
        "help",
        "help me",
        "what can i say",
        "what can you do",
        "what do you do",
        "what are my options",
        "list commands",
        "show commands",
        "what commands are there",
        "what commands do you know",
    },
    "ru": {
        "помощь",
        "помоги",
        "справка",
        "что ты умеешь",
        "что ты можешь",
        "что можно сказать",
        "что я могу сказать",
        "какие есть команды",
        "список команд",
    },
}
_SUMMARY = {
    "en": "I know {n} commands here. For example: {examples}. Anything else goes to the language model, "
    "and 'loki profiles list' shows them all.",
    "ru": "Здесь я знаю {n} команд. Например: {examples}. Остальное решает языковая модель, "
    "а «loki profiles list» покажет все команды.",
}
_EXAMPLES_SHOWN = 5
_SLEEP = {
    "en": {"go to sleep", "sleep", "sleep now", "go to sleep mode", "stop listening", "take a break"},
    "ru": {"спи", "засыпай", "иди спать", "спать", "перестань слушать", "режим сна"},
}
_WAKE_UP = {
    "en": {"wake up", "wake up please", "you can listen again", "start listening", "i need you"},
    "ru": {"проснись", "просыпайся", "подъем", "подъём", "слушай", "начни слушать"},
}
_ASLEEP = {
    "en": "Going to sleep. Say 'wake up' when you need me.",
    "ru": "Засыпаю. Скажите «проснись», когда понадоблюсь.",
}
AWAKE = {"en": "I'm listening.", "ru": "Слушаю."}


def rule_example(rule: Rule) -> str:
    """The first way to say a rule as written ("open browser"), with slots as <text>, <number>, <keys>."""
    entries = {name: {spoken: spoken for spoken in values} for name, values in rule.lists.items()}
    said = wordings(rule.phrase, entries, cap=1)
    return said[0].text if said else rule.phrase


def active_rules(
    profiles: ProfileSet, language: str, *, os_name: str = "", app: str = "", title: str = ""
) -> list[Rule]:
    """The rules of a language that apply in this context, most specific first."""
    rules = [r for r in profiles.for_language(language) if r.scope.admits(os_name, app, title)]
    return sorted(rules, key=lambda r: -r.scope.specificity)


class HelpCommand:
    """Tier 0, built in: 'help' / 'what can I say' answers with what can be said here."""

    number = 0

    def __init__(self, local: Any) -> None:
        self._local = local  # tier 0: its profiles (reloaded after learning) are what can be said

    def says_whole(self, text: str, language: str) -> bool:
        """True for a help question (nothing more is to come after it)."""
        return normalize(text).text in _HELP.get(language, _HELP["en"])

    async def plan(self, turn: Turn) -> Plan | None:
        """A spoken summary for a help question, else None."""
        language = turn.language if turn.language in _HELP else "en"
        if not self.says_whole(turn.text, language):
            return None
        ctx = turn.context
        rules = active_rules(self._local.matcher.profiles, language, os_name=ctx.os, app=ctx.app, title=ctx.title)
        examples = _distinct(rule_example(r) for r in rules if "<" not in rule_example(r))
        reply = _SUMMARY[language].format(n=len(rules), examples=", ".join(examples[:_EXAMPLES_SHOWN]))
        detail = {
            "rule": {"file": "built-in", "line": 0, "match": "exact"},
            "commands": [{"say": rule_example(r), "file": r.path, "line": r.line} for r in rules],
        }
        return Plan(0, [], reply, trusted=True, detail=detail)


class SleepCommand:
    """Tier 0, built in: 'go to sleep' / «спи» asks the daemon to sleep (it answers only 'wake up')."""

    number = 0

    def says_whole(self, text: str, language: str) -> bool:
        """True for a sleep request (nothing more is to come after it)."""
        return normalize(text).text in _SLEEP.get(language, _SLEEP["en"])

    async def plan(self, turn: Turn) -> Plan | None:
        """The sleep request, else None."""
        language = turn.language if turn.language in _SLEEP else "en"
        if not self.says_whole(turn.text, language):
            return None
        detail = {"rule": {"file": "built-in", "line": 0, "match": "exact"}, "control": "sleep"}
        return Plan(0, [], _ASLEEP[language], trusted=True, detail=detail)


def is_wake_up(text: str) -> str | None:
    """The language of a 'wake up' / «проснись» (the wake phrase before it is allowed), else None."""
    said = normalize(text).text
    return next((language for language, phrases in _WAKE_UP.items() if said in phrases), None)


def _distinct(texts: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(texts))
