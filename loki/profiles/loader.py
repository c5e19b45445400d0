"""Profile files: a context header, list entries and `phrase: actions` rules; errors name file and line.

    # what this file is for
    app: firefox | chromium         <- optional header: os, app, title, language
    -
    {app} browser: browser | web browser | internet
    open [the] {app}: launch {app}
    new tab: hotkey ctrl t
    scroll down [<number>]: scroll -{number=5}

Actions on the right are separated by `;`, each either a short form (`launch APP`,
`hotkey KEY...`, `type TEXT`, `scroll N`, `volume +N|-N|mute|unmute`, `media OP`,
`window OP [TARGET]`, `screenshot`, `speak TEXT`, `wait SECONDS`, `stop`, `repeat`)
or a JSON action object.

Errors stop the file: a rule that can never match (its words are dropped before matching, as
"please" is), a list entry that means two things, a regex that can backtrack for ever. Warnings
(`ProfileWarning`, shown by `loki profiles check`) are for what is only redundant: an alternative
or list entry written twice. Every pattern runs with a time limit (`loki.profiles.regexes`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import regex

from loki.actions.schema import validate_action
from loki.errors import ActionError, ProfileError
from loki.profiles.grammar import Compiled, GrammarError, compile_phrase
from loki.profiles.keys import SPOKEN_KEYS, key_pattern, spoken_to_keys
from loki.profiles.normalize import normalize
from loki.profiles.regexes import TimedPattern, catastrophic_shape

PROFILE_SUFFIX = ".loki"
LANGUAGE_DIRS = tuple(SPOKEN_KEYS)  # "en", "ru"
_HEADER_KEYS = ("os", "app", "title", "language")
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)(?:=([^}]*))?\}")
_SAMPLE = {"text": "sample text", "number": "3", "keys": "enter", "now.time": "4:10 PM", "now.date": "Monday"}


@dataclass(frozen=True)
class Scope:
    """When a profile applies: OS, active app and window title (regexes); empty means any."""

    os: TimedPattern | None = None
    app: TimedPattern | None = None
    title: TimedPattern | None = None

    @property
    def specificity(self) -> int:
        """How many constraints this scope sets (more specific rules win)."""
        return sum(p is not None for p in (self.os, self.app, self.title))

    def admits(self, os_name: str, app: str, title: str) -> bool:
        """True if the context satisfies every constraint."""
        return all(
            p is None or p.search(value) for p, value in ((self.os, os_name), (self.app, app), (self.title, title))
        )


@dataclass(frozen=True)
class Rule:
    """One compiled `phrase: actions` line."""

    phrase: str
    compiled: Compiled
    regex: TimedPattern
    actions: tuple[str, ...]  # templates, one per action
    language: str
    scope: Scope
    lists: Mapping[str, Mapping[str, str]]
    path: str
    line: int
    user: bool = False
    examples: tuple[str, ...] = ()  # wordings that teach matching by meaning (`~ ...` lines)

    @property
    def is_repeat(self) -> bool:
        """True for the built-in 'repeat the last turn' rule."""
        return self.actions == ("repeat",)

    def build_actions(self, values: Mapping[str, str]) -> list[dict[str, Any]]:
        """Fill the templates with slot values and validate each action."""
        return [parse_action(_fill(t, values, json_context=t.startswith('{"'))) for t in self.actions if t != "repeat"]


@dataclass
class ProfileSet:
    """Every rule LOKI knows, by language."""

    rules: dict[str, list[Rule]] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)

    def for_language(self, language: str) -> list[Rule]:
        """The rules of one language."""
        return self.rules.get(language, [])

    def vocabulary(self, language: str) -> list[str]:
        """Literal words of the rules, for biasing speech recognition."""
        words: dict[str, None] = {}
        for rule in self.for_language(language):
            for word in re.findall(r"[^\W\d_]{3,}", rule.phrase):
                words.setdefault(word.lower())
            for entries in rule.lists.values():
                for spoken in entries:
                    words.update(dict.fromkeys(spoken.split()))
        return list(words)


def _fill(template: str, values: Mapping[str, str], *, json_context: bool) -> str:
    def sub(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        value = values.get(name)
        if value is None:
            if default is None:
                raise ActionError(
                    f"'{{{name}}}' has no value: give it a default like {{{name}=5}} or make the slot required."
                )
            value = default
        return json.dumps(value)[1:-1] if json_context else value

    return _PLACEHOLDER.sub(sub, template)


def _int(text: str, what: str) -> int:
    try:
        return int(text.strip().replace("+", ""))
    except ValueError:
        raise ActionError(f"{what} needs a whole number, got {text!r}") from None


def parse_action(text: str) -> dict[str, Any]:
    """Parse one short-form or JSON action and validate it against the schema."""
    text = text.strip()
    if text.startswith("{"):
        try:
            parsed = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ActionError(f"bad JSON action: {exc.msg} at column {exc.colno}") from None
        return validate_action(parsed)
    verb, _, rest = text.partition(" ")
    rest = rest.strip()
    obj: dict[str, Any]
    if verb == "launch":
        obj = {"type": "launch", "app": rest}
    elif verb in ("hotkey", "key", "press"):
        obj = {"type": "hotkey", "keys": [k for k in re.split(r"[\s+]+", rest) if k] if rest != "+" else ["+"]}
    elif verb == "type":
        obj = {"type": "type", "text": rest}
    elif verb == "scroll":
        obj = {"type": "scroll", "clicks": _int(rest, "scroll")}
    elif verb == "volume":
        if rest in ("mute", "unmute"):
            obj = {"type": "volume", "mute": rest == "mute"}
        else:
            obj = {"type": "volume", "delta": _int(rest, "volume")}
    elif verb == "media":
        obj = {"type": "media", "op": rest}
    elif verb == "window":
        op, _, target = rest.partition(" ")
        obj = {"type": "window", "op": op, **({"target": target.strip()} if target.strip() else {})}
    elif verb == "speak":
        obj = {"type": "speak", "text": rest}
    elif verb == "wait":
        try:
            obj = {"type": "wait", "seconds": float(rest)}
        except ValueError:
            raise ActionError(f"wait needs seconds, got {rest!r}") from None
    elif verb in ("screenshot", "stop") and not rest:
        obj = {"type": verb}
    else:
        raise ActionError(
            f"unknown action {verb!r}: use launch, hotkey, type, scroll, volume, media, window, "
            "screenshot, speak, wait, stop, repeat, or a JSON object"
        )
    return validate_action(obj)


def _split_rule(line: str) -> tuple[str, str]:
    """Split 'phrase: actions'; a raw-regex phrase is '/.../: actions'."""
    if line.startswith("/"):
        end = line.find("/:", 1)
        if end < 0:
            raise GrammarError("a raw regex phrase is written /regex/: actions")
        return line[: end + 1], line[end + 2 :]
    phrase, sep, actions = line.partition(":")
    if not sep:
        raise GrammarError("a rule is written 'phrase: action' (the colon is missing)")
    return phrase, actions


@dataclass(frozen=True)
class ProfileWarning:
    """Something in a profile that works but is worth fixing (a duplicate), with its file and line."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}"


def _scope_pattern(value: str, where: str = "") -> TimedPattern:
    """A header value as a case-blind pattern: `/regex/`, or `a | b` alternatives taken literally."""
    value = value.strip()
    if value.startswith("/") and value.endswith("/") and len(value) > 1:
        shape = catastrophic_shape(value[1:-1])
        if shape:
            raise re.error(f"it can take for ever: {shape}")
        return TimedPattern(value[1:-1], regex.IGNORECASE, where=where)
    alternatives = [regex.escape(v.strip()) for v in value.split("|") if v.strip()]
    return TimedPattern("|".join(alternatives), regex.IGNORECASE, where=where)


def _never_matches(rule: Rule) -> str:
    """Why a phrase rule can never match what is said ('' when one of its sample sentences matches)."""
    samples = rule.compiled.samples
    if not samples or any(rule.regex.fullmatch(" " + normalize(s).text) for s in samples):
        return ""
    said = samples[0]
    heard = normalize(said).text
    dropped = [w for w in normalize(said, strip_fillers=False).tokens if w not in heard.split()]
    why = (
        f"LOKI drops {', '.join(repr(w) for w in dict.fromkeys(dropped))} from what is said before matching"
        if dropped
        else "normalization changes it"
    )
    return f"this rule can never match: {said!r} reaches the rules as {heard!r} ({why}); reword the phrase"


def load_file(
    path: Path, *, default_language: str | None, user: bool = False, warnings: list[ProfileWarning] | None = None
) -> list[Rule]:
    """Compile one profile file; raise `ProfileError` naming the file and line of the first problem
    (and add what is only worth a warning to `warnings`)."""
    where = str(path)
    warned = warnings if warnings is not None else []
    header_lines: dict[str, int] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(where, 0, f"cannot read the file: {exc}") from exc
    has_header = any(line.strip() == "-" for line in lines)
    header: dict[str, str] = {}
    lists: dict[str, dict[str, str]] = {}
    pending: list[tuple[int, str, str]] = []
    examples: dict[int, list[str]] = {}
    in_header = has_header
    for number, raw_line in enumerate(lines, start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        if in_header:
            if line == "-":
                in_header = False
                continue
            key, sep, value = line.partition(":")
            key = key.strip().lower()
            if not sep or key not in _HEADER_KEYS:
                raise ProfileError(
                    where,
                    number,
                    f"header lines are 'key: value' with key one of {', '.join(_HEADER_KEYS)}; end the header with a line '-'",
                )
            try:
                _scope_pattern(value)
            except (re.error, regex.error) as exc:
                raise ProfileError(where, number, f"bad pattern for {key}: {exc}") from None
            header[key] = value.strip()
            header_lines[key] = number
            continue
        if line.startswith("~"):
            if not pending:
                raise ProfileError(where, number, "an example line '~ ...' goes under the rule it teaches")
            for example in line[1:].split("|"):
                if not normalize(example, strip_fillers=False).tokens:
                    raise ProfileError(where, number, "an example line '~ ...' needs words: '~ get rid of this tab'")
                examples.setdefault(pending[-1][0], []).append(example.strip())
            continue
        m = re.match(r"\{([a-z_][a-z0-9_]*)\}\s*(.+?)\s*:\s*(.+)$", line)
        if m:
            name, value, spoken = m.groups()
            entries = lists.setdefault(name, {})
            for alt in spoken.split("|"):
                words = normalize(alt, strip_fillers=False).text
                if not words:
                    raise ProfileError(where, number, f"list {{{name}}} has an empty spoken form")
                if words in entries and entries[words] != value.strip():
                    raise ProfileError(
                        where,
                        number,
                        f"{words!r} in list {{{name}}} already stands for {entries[words]!r}; "
                        "one spoken form can mean only one thing",
                    )
                if words in entries:
                    warned.append(ProfileWarning(where, number, f"{words!r} is listed twice in list {{{name}}}"))
                entries[words] = value.strip()
            continue
        pending.append((number, *_split_or_fail(where, number, line)))
    language = header.get("language", default_language or "")
    if language not in LANGUAGE_DIRS:
        raise ProfileError(
            where,
            1,
            f"unknown language {language!r}: put the file under profiles/en or profiles/ru, or add a header 'language: en'",
        )
    scope = Scope(
        **{k: _scope_pattern(v, f"{where}:{header_lines[k]} ({k})") for k, v in header.items() if k != "language"}
    )
    keys = key_pattern(language)
    rules = []
    for number, phrase, actions_text in pending:
        try:
            compiled = compile_phrase(phrase, lists, keys)
        except GrammarError as exc:
            raise ProfileError(where, number, f"in phrase {phrase.strip()!r}: {exc}") from None
        templates = (
            tuple(t.strip() for t in actions_text.split(";") if t.strip())
            if not actions_text.strip().startswith('{"')
            else (actions_text.strip(),)
        )
        if not templates:
            raise ProfileError(where, number, "the rule has no action after the colon")
        for duplicate in compiled.duplicates:
            warned.append(ProfileWarning(where, number, f"the alternative {duplicate!r} is written twice"))
        rule = Rule(
            phrase.strip(),
            compiled,
            TimedPattern(compiled.pattern, where=f"{where}:{number}"),
            templates,
            language,
            scope,
            lists,
            where,
            number,
            user,
            tuple(examples.get(number, ())),
        )
        samples = {**_SAMPLE, **{name: next(iter(lists[name].values())) for name in compiled.slots if name in lists}}
        never = _never_matches(rule)
        if never:
            raise ProfileError(where, number, never)
        try:
            if "repeat" in templates and len(templates) > 1:
                raise ActionError("'repeat' must be the only action of its rule")
            rule.build_actions(samples)
        except ActionError as exc:
            raise ProfileError(where, number, str(exc)) from None
        rules.append(rule)
    return rules


def _split_or_fail(where: str, number: int, line: str) -> tuple[str, str]:
    try:
        return _split_rule(line)
    except GrammarError as exc:
        raise ProfileError(where, number, str(exc)) from None


def profile_files(folder: Path) -> Iterable[tuple[Path, str | None]]:
    """Profile files in a folder: `<folder>/<lang>/*.loki` and `<folder>/*.loki` (language from header)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"*{PROFILE_SUFFIX}")):
        yield path, None
    for language in LANGUAGE_DIRS:
        for path in sorted((folder / language).glob(f"*{PROFILE_SUFFIX}")):
            yield path, language


def shipped_profiles_dir() -> Path:
    """The `profiles/` folder shipped with LOKI (next to the package, or inside it when installed)."""
    here = Path(__file__).resolve().parent.parent
    for candidate in (here.parent / "profiles", here / "data" / "profiles"):
        if candidate.is_dir():
            return candidate
    return here.parent / "profiles"


def load_profiles(folders: Iterable[tuple[Path, bool]]) -> ProfileSet:
    """Load every profile in the folders (`(folder, is_user)`); the first bad line raises `ProfileError`."""
    result = ProfileSet()
    for folder, user in folders:
        for path, language in profile_files(folder):
            for rule in load_file(path, default_language=language, user=user):
                result.rules.setdefault(rule.language, []).append(rule)
            result.files.append(str(path))
    return result


def check_profiles(
    folders: Iterable[tuple[Path, bool]], warnings: list[ProfileWarning] | None = None
) -> tuple[list[str], list[ProfileError]]:
    """Check every file, collecting all errors instead of stopping at the first (and warnings in `warnings`)."""
    ok: list[str] = []
    errors: list[ProfileError] = []
    for folder, user in folders:
        for path, language in profile_files(folder):
            try:
                load_file(path, default_language=language, user=user, warnings=warnings)
                ok.append(str(path))
            except ProfileError as exc:
                errors.append(exc)
    return ok, errors


def values_from_match(rule: Rule, groups: Mapping[str, str | None]) -> dict[str, str]:
    """Slot values of a match: keys as pyautogui names, list entries as their values."""
    values: dict[str, str] = {}
    for name in rule.compiled.slots:
        value = groups.get(name)
        if value is None:
            continue
        value = value.strip()
        if name == "keys":
            values[name] = " ".join(spoken_to_keys(value, rule.language))
        elif name in rule.lists:
            values[name] = rule.lists[name].get(value) or _closest(value, rule.lists[name])
        else:
            values[name] = value
    return values


def _closest(spoken: str, entries: Mapping[str, str]) -> str:
    """The list value whose spoken form is nearest to a fuzzily matched one."""
    import difflib

    best = difflib.get_close_matches(spoken, list(entries), n=1, cutoff=0.0)
    return entries[best[0]]
