"""Does a model's plan follow from what was said? Every desktop step must be asked for.

A language model's plan is untrusted input: a small model launches the browser for "help" and for
"what is the meaning of life". Each step that touches the desktop is checked against the words of
the request, read with the senses of `loki.brain.lexicon`: "launch browser" needs *open* and
*browser* (or the app's own name), "hotkey ctrl w" needs *close*, typing needs a request to type or
write. Steps that only speak or wait need nothing. A negated request or a remark asks for no step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loki.brain.lexicon import LEXICONS, Lexicon, has_form
from loki.profiles.normalize import Normalized, normalize

# What a key chord does, as senses: one of them in the request justifies pressing it.
_CHORD_SENSES: dict[frozenset[str], frozenset[str]] = {
    frozenset(k): frozenset(s)
    for k, s in (
        (("ctrl", "w"), ("close",)),
        (("ctrl", "f4"), ("close",)),
        (("alt", "f4"), ("close",)),
        (("ctrl", "q"), ("close",)),
        (("ctrl", "t"), ("new", "tab", "browser")),
        (("ctrl", "n"), ("new",)),
        (("ctrl", "tab"), ("next", "switch")),
        (("ctrl", "pagedown"), ("next", "switch")),
        (("ctrl", "shift", "tab"), ("previous", "switch")),
        (("ctrl", "pageup"), ("previous", "switch")),
        (("ctrl", "shift", "t"), ("reopen",)),
        (("ctrl", "c"), ("copy",)),
        (("ctrl", "v"), ("paste",)),
        (("ctrl", "x"), ("cut",)),
        (("ctrl", "z"), ("undo",)),
        (("ctrl", "y"), ("redo",)),
        (("ctrl", "shift", "z"), ("redo",)),
        (("ctrl", "a"), ("select", "all")),
        (("ctrl", "s"), ("save",)),
        (("ctrl", "f"), ("find",)),
        (("ctrl", "l"), ("find", "open", "browser")),
        (("f5",), ("refresh",)),
        (("ctrl", "r"), ("refresh",)),
        (("alt", "left"), ("back",)),
        (("alt", "right"), ("forward",)),
        (("home",), ("top",)),
        (("end",), ("bottom",)),
        (("ctrl", "home"), ("top",)),
        (("ctrl", "end"), ("bottom",)),
        (("pageup",), ("page", "up", "scroll")),
        (("pagedown",), ("page", "down", "scroll")),
        (("enter",), ("newline", "dictate", "find", "open", "browser")),
        (("alt", "tab"), ("switch", "next")),
        (("win", "d"), ("minimize",)),
        (("printscreen",), ("screenshot",)),
        (("playpause",), ("play",)),
        (("volumeup",), ("up",)),
        (("volumedown",), ("down",)),
        (("volumemute",), ("mute", "unmute")),
    )
}
# Words that ask for composed text to be typed ("write an email to my boss"), beyond dictation.
_COMPOSE = {
    "en": ("write", "compose", "draft", "type", "fill in", "reply", "answer", "sign", "address", "enter", "put"),
    "ru": ("напиши", "написать", "составь", "набери", "напечатай", "введи", "заполни", "ответь", "впиши"),
}
_WINDOW_SENSES = {
    "close": ("close",),
    "minimize": ("minimize",),
    "maximize": ("maximize",),
    "next": ("switch", "next"),
    "focus": ("switch", "open"),
}
_MEDIA_SENSES = {"playpause": ("play",), "next": ("next",), "previous": ("previous",)}
_APP_OBJECTS = {
    "browser": "browser",
    "terminal": "terminal",
    "file manager": "files",
    "files": "files",
    "editor": "editor",
    "calculator": "calculator",
}
QUIET_TYPES = frozenset({"speak", "wait", "stop"})
"""Steps that do not touch the desktop: they need no asking."""


def unasked_steps(text: str, language: str, actions: Sequence[dict[str, Any]]) -> dict[int, str]:
    """The steps of a plan that nothing in `text` asked for, each with why (empty: all asked for)."""
    lexicon = LEXICONS.get(language, LEXICONS["en"])
    norm = normalize(text)
    refuses = lexicon.refuses(norm.tokens) or lexicon.addressed_elsewhere(text)
    heard = lexicon.senses(norm.tokens)
    out: dict[int, str] = {}
    for index, action in enumerate(actions):
        if action["type"] in QUIET_TYPES:
            continue
        if refuses:
            out[index] = "you did not ask me to do anything"
        elif not _asked(action, heard, norm, lexicon, language):
            out[index] = "you did not ask for it"
    return out


_MOVING = frozenset({"scroll", "move", "page", "pageful", "top", "bottom"})
_SPATIAL = frozenset(
    {"up", "down", "lower", "higher", "вверх", "вниз", "наверх", "книзу", "кверху", "ниже", "выше", "пониже", "повыше"}
)


def _asked(action: dict[str, Any], heard: set[str], norm: Normalized, lexicon: Lexicon, language: str) -> bool:
    kind = action["type"]
    said = " " + norm.text + " "
    if kind == "launch":
        app = str(action["app"]).lower()
        named = _APP_OBJECTS.get(app) in heard or f" {app} " in said
        return named and bool(heard & {"open", "switch"})
    if kind == "hotkey":
        keys = frozenset(k.lower() for k in action["keys"])
        senses = _CHORD_SENSES.get(keys, frozenset())
        spoken_keys = all(f" {k} " in said for k in keys)  # "press control shift escape"
        return bool(senses & heard) or ("press" in heard and spoken_keys) or spoken_keys and len(keys) > 1
    if kind == "type":
        typed = normalize(str(action["text"]), strip_fillers=False).tokens
        said_it = bool(typed) and all(t in norm.tokens for t in typed)  # "search for <words>": the words were said
        return said_it or "dictate" in heard or any(has_form(norm.tokens, w) for w in _COMPOSE.get(language, ()))
    if kind == "window":
        return bool(set(_WINDOW_SENSES.get(action["op"], ())) & heard)
    if kind == "volume":
        if "mute" in action:
            return ("mute" if action["mute"] else "unmute") in heard
        return ("up" if action["delta"] > 0 else "down") in heard
    if kind == "media":
        return bool(set(_MEDIA_SENSES.get(action["op"], ())) & heard)
    if kind == "scroll":
        if "volume" in heard:
            return False
        words = heard | set(norm.tokens)  # "up" alone is a weak sense: "go up a page" keeps it only as a word
        said_up, said_down = bool(words & {"up", "top"}), bool(words & {"down", "bottom"})
        # Something must move: «потише» and «убавь» are "down" too, but of the sound.
        moves = bool(heard & _MOVING) or bool(set(norm.tokens) & _SPATIAL)
        if lexicon.tells_doing(norm.tokens, "scroll"):
            return False  # "i'm scrolling down the recipe right now": telling, not asking
        if said_up != said_down:  # a direction was said: the step must go that way ("go up a page" is not -5)
            return moves and (action["clicks"] > 0) == said_up
        return "scroll" in heard  # a page alone asks nothing («перевернём эту страницу»)
    if kind == "screenshot":
        return "screenshot" in heard
    return False  # pointer actions and anything new: only a rule or the screen tier may do them
