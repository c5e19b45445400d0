"""Tier-0 matching: exact rules first, then near misses within a small edit budget.

A near miss ("value up" for "volume up", "new tap" for "new tab") is accepted only when it is
the single best rule by edit distance; a tie between rules that do different things, or an
utterance far from every rule, goes on to the next tier.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Any

import regex

from loki.errors import ActionError
from loki.profiles.loader import ProfileSet, Rule, values_from_match
from loki.profiles.normalize import Normalized, normalize
from loki.profiles.regexes import TimedPattern

# Edit budget: about one error per five literal characters, at most three; short rules need 4+ chars.
_FUZZY_RATE = 0.25
_FUZZY_MAX = 3
_FUZZY_MIN_CHARS = 4
_FUZZY_WORD_LIKENESS = 0.5  # difflib ratio a misheard word needs to one of the rule's words
_SMALL_WORDS = frozenset(
    "a an the this that it my me to on in of for at by and or is with из на в во к с со и а о у по это эту этот мне мой мою".split()
)
"""Words too small to show a near miss is meant for a rule (sharing "the" with it is not enough)."""


@dataclass(frozen=True)
class Match:
    """A rule that matched an utterance, with its filled and validated actions."""

    rule: Rule
    values: dict[str, str]
    actions: list[dict[str, Any]]
    errors: int = 0  # edits needed (0: exact)

    @property
    def is_repeat(self) -> bool:
        """The rule asks to repeat the previous turn."""
        return self.rule.is_repeat


def _rank(rule: Rule) -> tuple[int, int, int]:
    return (rule.scope.specificity, int(rule.user), rule.compiled.literal_chars)


def _now_values(language: str) -> dict[str, str]:
    now = time.localtime()
    if language == "ru":
        months = [
            "января",
            "февраля",
            "марта",
            "апреля",
            "мая",
            "июня",
            "июля",
            "августа",
            "сентября",
            "октября",
            "ноября",
            "декабря",
        ]
        days = ["понедельник", "вторник", "среда", "четверг", "пятница", "суббота", "воскресенье"]
        return {
            "now.time": time.strftime("%H:%M", now),
            "now.date": f"{days[now.tm_wday]}, {now.tm_mday} {months[now.tm_mon - 1]}",
        }
    hour = now.tm_hour % 12 or 12
    return {
        "now.time": f"{hour}:{now.tm_min:02d} {'AM' if now.tm_hour < 12 else 'PM'}",
        "now.date": time.strftime("%A, %B ", now) + str(now.tm_mday),
    }


class Matcher:
    """Finds the tier-0 rule for an utterance in the current context."""

    def __init__(self, profiles: ProfileSet, now: Callable[[str], dict[str, str]] = _now_values) -> None:
        self.profiles = profiles
        self._now = now
        self._fuzzy: dict[int, Any] = {}
        self._rule_words: dict[int, set[str]] = {}
        self._vocabularies: dict[str, set[str]] = {}
        for rules in profiles.rules.values():
            for rule in rules:
                self._fuzzy_pattern(rule)

    def words(self, rule: Rule) -> set[str]:
        """The words a rule says (its literal words and its lists' spoken words)."""
        words = self._rule_words.get(id(rule))
        if words is None:
            literal = regex.sub(r"<[a-z_]+>|\{[a-z_0-9]+\}", " ", rule.phrase)
            words = set(normalize(literal, strip_fillers=False).tokens)
            for name in regex.findall(r"\{([a-z_0-9]+)\}", rule.phrase):
                for spoken in rule.lists.get(name, ()):
                    words.update(spoken.split())
            self._rule_words[id(rule)] = words
        return words

    def _fuzzy_pattern(self, rule: Rule) -> Any:
        """The rule's pattern with an edit budget (None for rules too short to guess at)."""
        if id(rule) not in self._fuzzy:
            chars = rule.compiled.literal_chars
            pattern = None
            if chars >= _FUZZY_MIN_CHARS:
                budget = min(_FUZZY_MAX, max(1, round(chars * _FUZZY_RATE)))
                pattern = TimedPattern(
                    f"(?e)(?:{rule.compiled.pattern}){{e<={budget}}}",
                    regex.BESTMATCH,
                    where=f"{rule.path}:{rule.line} (near misses)",
                )
            self._fuzzy[id(rule)] = pattern
        return self._fuzzy[id(rule)]

    def match(self, text: str, language: str, *, os_name: str = "", app: str = "", title: str = "") -> Match | None:
        """The best rule for `text`, or None when no rule fits (the next tier decides)."""
        norm = normalize(text)
        if not norm.tokens:
            return None
        subject = " " + norm.text
        admitted: dict[int, bool] = {}  # many rules share one file's scope: judge each scope once
        rules = []
        for rule in self.profiles.for_language(language):
            if id(rule.scope) not in admitted:
                admitted[id(rule.scope)] = rule.scope.admits(os_name, app, title)
            if admitted[id(rule.scope)]:
                rules.append(rule)
        # Free text reads the words as dictated ("type see you now"), or, if the rule's tail words would
        # then not end it ("find garlic on this page now"), as a command.
        dictated = normalize(text, dictated=True)
        readings = (dictated, norm) if dictated.tokens != norm.tokens else (norm,)
        exact = []
        for rule in rules:
            for heard in readings if "text" in rule.compiled.slots else (norm,):
                said = " " + heard.text
                if (m := rule.regex.fullmatch(said)) and not _runs_past_its_end(rule, m, said):
                    exact.append((rule, m, heard))
                    break
        if exact:
            rule, m, heard = max(exact, key=lambda rm: _rank(rm[0]))
            return self._build(rule, m, heard, 0, language)
        return self._fuzzy_match(rules, subject, norm, language)

    def _has_stranger(self, rule: Rule, tokens: Sequence[str]) -> bool:
        """A heard word that is like none of the rule's words ("page no": "no" is neither "page" nor "up").

        The edit budget would otherwise let a short word stand for a different one; free text and
        numbers are the rule's own and are not checked.
        """
        if "text" in rule.compiled.slots:
            return False
        words = self.words(rule)
        others = self._vocabulary(rule.language)
        return any(
            not token.isdigit()
            and token not in words
            and (
                token in others  # another rule's word is what was said: "maximize all windows" is no "minimize ..."
                or token in _SMALL_WORDS  # "сверни это" is no "сверни все": a small word stands for no other word
                or max((SequenceMatcher(None, token, w).ratio() for w in words), default=0.0) < _FUZZY_WORD_LIKENESS
            )
            for token in tokens
        )

    def _vocabulary(self, language: str) -> set[str]:
        """Every word the language's rules say (but small words)."""
        if language not in self._vocabularies:
            self._vocabularies[language] = {
                w for rule in self.profiles.for_language(language) for w in self.words(rule)
            } - _SMALL_WORDS
        return self._vocabularies[language]

    def _fuzzy_match(self, rules: list[Rule], subject: str, norm: Normalized, language: str) -> Match | None:
        scored: list[tuple[float, int, Rule, Any]] = []
        heard = set(norm.tokens)
        for rule in rules:
            pattern = self._fuzzy_pattern(rule)
            # A near miss must still share a whole word with the rule ("value up" ~ "volume up"), and not
            # only "the" or "this", so a lone word like "mutex" never turns into "mute". A rule with free
            # text is never guessed at: "would you mind closing this" is no "find <text>".
            if (
                pattern is None
                or "text" in rule.compiled.slots
                or not (heard & self.words(rule)) - _SMALL_WORDS
                or self._has_stranger(rule, norm.tokens)
            ):
                continue
            chars = rule.compiled.literal_chars
            m = pattern.fullmatch(subject)
            if m is None:
                continue
            if m.groupdict().get("number") not in (None, *norm.tokens):
                continue  # the edits made up the number ("прокрути вниз 10" read as «на 0»): a guess, not what was said
            errors = sum(m.fuzzy_counts)
            scored.append((errors / chars, errors, rule, m))
        if not scored:
            return None
        scored.sort(key=lambda s: (s[0], [-x for x in _rank(s[2])]))
        best = scored[0]
        for other in scored[1:]:
            if other[0] > best[0]:
                break
            if other[2].actions != best[2].actions and _rank(other[2]) == _rank(best[2]):
                return None  # two different commands are equally near: do not guess
        return self._build(best[2], best[3], norm, best[1], language)

    def _build(self, rule: Rule, m: Any, norm: Normalized, errors: int, language: str) -> Match | None:
        groups = m.groupdict()
        try:
            values = values_from_match(rule, groups)
        except ValueError:
            return None
        if "text" in rule.compiled.slots and groups.get("text"):
            start, end = m.span("text")
            values["text"] = norm.surface(start - 1, end - 1) or groups["text"].strip()
            if len(rule.actions) > 1:  # words to look for, not text to type
                values["text"] = words_to_find(values["text"])
        if "number" in values and not values["number"].isdigit():
            return None
        values.update(self._now(language))
        try:
            actions = rule.build_actions(values)
        except ActionError:
            return None
        return Match(rule, values, actions, errors)


def words_to_find(said: str) -> str:
    """The words to look for in what was said after "find": what follows a comma says why ("search the page
    for cinnamon, my fingers are sticky"), and "the word" only says what comes ("… for the word dosage")."""
    found = said.split(",", 1)[0].strip() or said
    found = _FIND_POLITE.sub("", found) or found  # "search this page for refund please": not the word "please"
    return _FIND_OPENER.sub("", found) or found


_FIND_OPENER = re.compile(r"^(?:the word|the phrase|word|слово|фразу)\s+", re.IGNORECASE)
_FIND_POLITE = re.compile(r"\s+(?:please|po|thanks|thank you|пожалуйста|плиз|спасибо)[.!]?$", re.IGNORECASE)


def _runs_past_its_end(rule: Rule, m: Any, subject: str) -> bool:
    """True when free text ran past the words the rule ends with: in "find garlic on this page i need to know
    how many cloves", "find <text> [on this page]" is whole at "page", and the rest only says why. Such an
    utterance is no exact match (matching by meaning reads it)."""
    if "text" not in rule.compiled.slots or m.end("text") != len(subject):
        return False
    return any(
        (shorter := rule.regex.fullmatch(subject[:cut])) is not None and shorter.end("text") < cut
        for cut in range(m.start("text") + 1, len(subject))
        if subject[cut] == " "
    )
