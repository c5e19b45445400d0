"""Spoken key names per language, mapped to pyautogui key names (for the `<keys>` slot)."""

from __future__ import annotations

import re
import string
from collections.abc import Container, Sequence

_COMMON = {
    **{c: c for c in string.ascii_lowercase},
    **{str(d): str(d) for d in range(10)},
    **{f"f{n}": f"f{n}" for n in range(1, 13)},
}
SPOKEN_KEYS: dict[str, dict[str, str]] = {
    "en": {
        **_COMMON,
        "control": "ctrl",
        "ctrl": "ctrl",
        "alt": "alt",
        "option": "option",
        "shift": "shift",
        "super": "win",
        "windows": "win",
        "win": "win",
        "meta": "win",
        "command": "command",
        "cmd": "command",
        "enter": "enter",
        "return": "enter",
        "escape": "esc",
        "esc": "esc",
        "tab": "tab",
        "space": "space",
        "spacebar": "space",
        "backspace": "backspace",
        "back space": "backspace",
        "delete": "delete",
        "insert": "insert",
        "home": "home",
        "end": "end",
        "page up": "pageup",
        "page down": "pagedown",
        "up": "up",
        "down": "down",
        "left": "left",
        "right": "right",
        "arrow up": "up",
        "arrow down": "down",
        "arrow left": "left",
        "arrow right": "right",
        "up arrow": "up",
        "down arrow": "down",
        "left arrow": "left",
        "right arrow": "right",
        "print screen": "printscreen",
        "caps lock": "capslock",
        "plus": "+",
        "minus": "-",
        "dash": "-",
        "slash": "/",
        "dot": ".",
        "period": ".",
        "comma": ",",
        "f 1": "f1",
        "f 2": "f2",
        "f 3": "f3",
        "f 4": "f4",
        "f 5": "f5",
        "f 6": "f6",
        "f 7": "f7",
        "f 8": "f8",
        "f 9": "f9",
        "f 10": "f10",
        "f 11": "f11",
        "f 12": "f12",
    },
    "ru": {
        **_COMMON,
        "контрол": "ctrl",
        "контроль": "ctrl",
        "ctrl": "ctrl",
        "альт": "alt",
        "alt": "alt",
        "шифт": "shift",
        "shift": "shift",
        "вин": "win",
        "виндовс": "win",
        "ввод": "enter",
        "энтер": "enter",
        "enter": "enter",
        "интер": "enter",
        "эскейп": "esc",
        "escape": "esc",
        "таб": "tab",
        "tab": "tab",
        "табуляция": "tab",
        "пробел": "space",
        "бэкспейс": "backspace",
        "удалить": "delete",
        "делит": "delete",
        "delete": "delete",
        "домой": "home",
        "хоум": "home",
        "конец": "end",
        "энд": "end",
        "вверх": "up",
        "вниз": "down",
        "влево": "left",
        "вправо": "right",
        "страница вверх": "pageup",
        "страница вниз": "pagedown",
        "пейдж ап": "pageup",
        "пейдж даун": "pagedown",
    },
}


def key_pattern(language: str) -> str:
    """Regex alternation of the spoken key names of a language (longest first)."""
    names = sorted(SPOKEN_KEYS[language], key=len, reverse=True)
    return "|".join(re.escape(n) for n in names)


def spoken_to_keys(spoken: str, language: str) -> list[str]:
    """'control shift t' -> ['ctrl', 'shift', 't']."""
    table = SPOKEN_KEYS[language]
    words = spoken.split()
    keys: list[str] = []
    i = 0
    while i < len(words):
        for n in (2, 1):
            name = " ".join(words[i : i + n])
            if len(words) - i >= n and name in table:
                keys.append(table[name])
                i += n
                break
        else:
            raise ValueError(f"unknown key {words[i]!r}")
    return keys


KEY_WORDS = frozenset("the key keys button клавишу клавиша клавиши кнопку кнопка please пожалуйста".split())
"""Words said around key names that name no key ("press the enter key", «нажмите, пожалуйста, клавишу ввод»)."""


def keys_named(words: Sequence[str], language: str, *, trailing: Container[str] = ()) -> list[str] | None:
    """The keys `words` name, with KEY_WORDS left out and, from the end, words in `trailing` that say nothing
    ("press enter for me there"), but never a key itself ("press control a"); None when they name no keys."""
    words = [w for w in words if w not in KEY_WORDS]
    end = len(words)
    while end:
        try:
            return spoken_to_keys(" ".join(words[:end]), language)
        except ValueError:
            if words[end - 1] not in trailing:
                return None
            end -= 1
    return None
