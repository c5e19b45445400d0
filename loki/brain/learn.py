"""Learned commands: "remember this as <phrase>" turns the last plan that worked into a tier-0 rule.

The rule goes to the user's own profile, `<user profiles>/<lang>/learned.loki`, one line per
phrase, its actions written as JSON objects. The new file is written beside the old one, loaded
with the profile loader, and only then moved into place, so a broken file is never left behind.
The profiles are reloaded at once (`loki.profiles.watch.ProfileReload`), so the phrase works on
the next turn. The file may hold typed text, so it is private (0600 in 0700 folders); in dry-run
nothing is written.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from loki.actions.executor import describe
from loki.actions.schema import validate_plan
from loki.brain.tiers import Plan, Turn
from loki.errors import ActionError, LokiError
from loki.private import FILE_MODE, private_dir
from loki.profiles.loader import ProfileSet, load_file
from loki.profiles.normalize import normalize

log = logging.getLogger(__name__)

LEARNED_FILE = "learned.loki"
MAX_PHRASE_CHARS = 100

_ASK = {
    "en": re.compile(r"^(?:remember|save|learn) (?:this|that|it)(?: command)? as (?P<phrase>.+)$"),
    "ru": re.compile(r"^(?:запомни|сохрани|запомнить) (?:это|эту команду|это действие) как (?P<phrase>.+)$"),
}
_HEADER = {
    "en": '# Commands LOKI learned when you said "remember this as ...". Edit or delete lines freely.\n',
    "ru": "# Команды, которые LOKI запомнил по просьбе «запомни это как ...». Их можно править и удалять.\n",
}
_TEXT = {
    "en": {
        "learned": "Okay. When you say “{phrase}”, I'll {what}.",
        "nothing": "There is nothing to remember yet: ask me to do something first, then say “remember this as …”.",
        "failed": "The last command did not work, so I won't remember it.",
        "cannot": "Sorry, I couldn't save that command: {why}",
        "dry_run": "Dry run: I would remember “{phrase}” as: {what}. Nothing was saved.",
    },
    "ru": {
        "learned": "Хорошо. Теперь по команде «{phrase}» я сделаю то же самое.",
        "nothing": "Пока нечего запоминать: сначала попросите меня что-нибудь сделать.",
        "failed": "Прошлая команда не сработала, поэтому я её не запомню.",
        "cannot": "Не удалось сохранить команду: {why}",
        "dry_run": "Пробный режим: команду «{phrase}» я бы запомнил, но ничего не сохранено.",
    },
}
# Characters inside JSON strings that would break a line-based profile file or its `;` and `{slot}` syntax.
_ESCAPE = {c: f"\\u{ord(c):04x}" for c in ";{}\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}


def learned_phrase(text: str, language: str) -> str | None:
    """The phrase of a "remember this as <phrase>" request, normalized, or None."""
    pattern = _ASK.get(language)
    if pattern is None:
        return None
    m = pattern.match(normalize(text).text)
    return m.group("phrase").strip() if m else None


def action_template(action: dict[str, Any]) -> str:
    """One action as a profile template: a JSON object whose text cannot be split or filled in."""
    body = json.dumps(action, ensure_ascii=False)[1:-1]  # separators ", " / ": " never contain ';'
    inner = "".join(_ESCAPE.get(c, c) for c in body)
    return "{ " + inner + "}"  # '{ ' (not '{"') lets the loader split several actions on ';'


def rule_line(phrase: str, actions: list[dict[str, Any]]) -> str:
    """The profile line `phrase: {action}; {action}`."""
    return f"{phrase}: " + "; ".join(action_template(a) for a in actions)


def _rule_phrase(line: str) -> str | None:
    stripped = line.strip()
    if not stripped or stripped.startswith("#") or ":" not in stripped:
        return None
    return stripped.split(":", 1)[0].strip()


def save_rule(folder: Path, language: str, phrase: str, actions: list[dict[str, Any]]) -> Path:
    """Add (or replace) the rule for `phrase` in `<folder>/<language>/learned.loki`; validated before it is kept."""
    path = folder / language / LEARNED_FILE
    private_dir(folder)
    private_dir(path.parent)
    old = path.read_text(encoding="utf-8") if path.exists() else _HEADER.get(language, _HEADER["en"])
    kept = [line for line in old.splitlines() if _rule_phrase(line) != phrase]
    new_text = "\n".join([*kept, rule_line(phrase, actions)]) + "\n"
    fd, tmp_name = tempfile.mkstemp(prefix=".learned-", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(new_text)
        os.chmod(tmp, FILE_MODE)  # the rules may hold typed text: only the user reads them
        rules = load_file(tmp, default_language=language, user=True)
        rule = next((r for r in reversed(rules) if r.phrase == phrase), None)
        if rule is None or rule.build_actions({}) != actions:
            raise ActionError("the rule did not read back as the same actions")
        if not rule.regex.fullmatch(" " + normalize(phrase).text):
            raise ActionError(f"the phrase “{phrase}” would not match itself")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _learnable(action: dict[str, Any]) -> dict[str, Any]:
    """The action as it should run next time: a click on a named control is grounded again then, not at its old pixel."""
    if action["type"] != "click" or "target" not in action:
        return action
    target = {k: v for k, v in action["target"].items() if k != "label"}
    return {"type": "click", "target": target, "button": action["button"], "count": action["count"]}


class LearnCommands:
    """A tier before tier 0: handles "remember this as <phrase>" and reloads the profiles (dry-run: saves nothing).

    Args:
        reload: loads the profiles again and hands the rules to tier 0 (raises `LokiError` for a broken file).
    """

    number = 0

    def __init__(self, user_profiles: Path, reload: Callable[[], ProfileSet], *, dry_run: bool = False) -> None:
        self.user_profiles = user_profiles
        self.reload = reload
        self.dry_run = dry_run

    async def plan(self, turn: Turn) -> Plan | None:
        """A plan whose reply says what was learned, or None when this is not a request to learn."""
        lang = turn.language if turn.language in _TEXT else "en"
        phrase = learned_phrase(turn.text, lang)
        if phrase is None:
            return None
        text = _TEXT[lang]
        previous = turn.history[-1] if turn.history else None
        if previous is not None and not previous.get("ok", True):
            return Plan(0, [], text["failed"], detail={"rejected": "last_turn_failed"})
        if previous is None or not previous.get("actions"):
            return Plan(0, [], text["nothing"], detail={"rejected": "nothing_to_learn"})
        typed = [a["text"] for a in previous["actions"] if a.get("type") == "type" and isinstance(a.get("text"), str)]
        try:
            if not phrase or len(phrase) > MAX_PHRASE_CHARS or learned_phrase(phrase, lang) is not None:
                raise ActionError(f"“{phrase[:40]}” is not a phrase I can learn")
            actions = [_learnable(a) for a in validate_plan(previous["actions"])]
            what = " and ".join(describe(a) for a in actions)
            if self.dry_run:  # dry-run writes nothing but traces
                return Plan(0, [], text["dry_run"].format(phrase=phrase, what=what), detail={"typed": typed})
            path = save_rule(self.user_profiles, lang, phrase, actions)
        except (LokiError, OSError) as exc:
            log.warning("could not learn %r: %s", phrase, exc)
            detail = {"rejected": "learn_failed", "typed": typed}
            return Plan(0, [], text["cannot"].format(why=str(exc)), detail=detail)
        try:
            self.reload()
        except LokiError as exc:  # another profile is broken: the rule is saved, reload later
            log.warning("learned %r, but reloading the profiles failed: %s", phrase, exc)
        log.info("learned %r -> %s in %s", phrase, [a["type"] for a in actions], path)
        reply = text["learned"].format(phrase=phrase, what=what)
        return Plan(0, [], reply, detail={"learned": str(path), "typed": typed})
