"""The policy: every action is classed safe, confirm or deny before anything runs.

Tier-0 rules are the user's own words mapped by the user's own profiles, so they are *trusted*:
"confirm" actions from them run without asking (saying "close the window" is the confirmation).
Plans from language models are not trusted: their risky steps are confirmed first. Text a model
types and then submits with Enter (a key, or a line break in the text) into a terminal is a
command, so it needs a yes; a terminal is a known terminal emulator, a window the plan launched as
`terminal`, or a window whose title looks like a shell prompt, and where LOKI cannot tell what has
the focus it asks too. Denied actions never run, whoever asked.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from loki.actions.apps import ALIASES, AppCatalog
from loki.config import ActionSettings, Settings

if TYPE_CHECKING:
    from loki.screen.window import Context


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
    command: str | None = None  # for a key that submits a terminal line: the text it would run


_DENY_CHORDS = [
    {"ctrl", "alt", "delete"},
    {"ctrl", "alt", "backspace"},
    *({"ctrl", "alt", f"f{n}"} for n in range(1, 13)),
]
_CONFIRM_CHORDS = [
    {"alt", "f4"},
    {"ctrl", "q"},
    {"ctrl", "w"},
    {"command", "q"},
    {"command", "w"},
    {"shift", "delete"},
    {"win", "l"},
]
_KEY_ALIASES = {
    "ctrlleft": "ctrl",
    "ctrlright": "ctrl",
    "altleft": "alt",
    "altright": "alt",
    "shiftleft": "shift",
    "shiftright": "shift",
    "winleft": "win",
    "winright": "win",
    "cmd": "command",
    "option": "alt",
    "optionleft": "alt",
    "optionright": "alt",
    "del": "delete",
    "return": "enter",
    "kp_enter": "enter",
    "printscreen": "print",
    "prtsc": "print",
    "prtscr": "print",
    "prntscrn": "print",
}
# Keys that submit a terminal's line: Enter, and Ctrl+J / Ctrl+M / Ctrl+O, which a shell reads as Enter.
_SUBMIT_CHORDS = [{"enter"}, {"ctrl", "j"}, {"ctrl", "m"}, {"ctrl", "o"}]
# Chords that may move the keyboard focus to another window (Alt+Tab, Super+1, Ctrl+Alt+T...).
_FOCUS_MODIFIERS = {"alt", "win", "command"}
# What str.splitlines() breaks on: any of these in typed text presses Enter, or pastes a second line.
_LINE_BREAKS = frozenset("\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
_LAST_LINE = re.compile(f"[{''.join(sorted(_LINE_BREAKS))}]")
# Text that, typed into a terminal and submitted, could destroy data or the session. Only a second
# line of defence (a model's plan is judged by where its text goes, not by this).
_DANGEROUS_TEXT = re.compile(
    r"\brm\s+-[a-z]*[rf]|\bsudo\b|\bmkfs|\bdd\s+if=|:\(\)\s*\{|\bshutdown\b|\breboot\b|\bpoweroff\b"
    r"|\b(curl|wget)\b[^|]*\|\s*(ba|z)?sh\b|\bchmod\s+-R\b|>\s*/dev/sd",
    re.IGNORECASE,
)
# Terminal emulators, by process name or WM_CLASS (lower case; any name containing "term" counts too).
TERMINAL_APPS = frozenset(
    """x-terminal-emulator gnome-terminal gnome-terminal-server konsole alacritty kitty tilix terminator
    urxvt urxvtd rxvt rxvt-unicode foot footclient wezterm wezterm-gui xfce4-terminal lxterminal
    mate-terminal qterminal terminology st st-256color sakura guake tilda yakuake cool-retro-term kgx
    gnome-console org.gnome.console ptyxis org.gnome.ptyxis blackbox contour rio ghostty com.mitchellh.ghostty
    org.wezfurlong.wezterm hyper tabby warp eterm aterm mlterm kterm mintty putty termite roxterm
    deepin-terminal io.elementary.terminal cosmic-term zutty iterm2 iterm terminal windowsterminal wt
    cmd powershell pwsh conhost openconsole""".split()
)
# Window titles that look like a shell: "user@host: ~/work", "~/src $", "root #", "bash", "zsh - vim".
_SHELL_TITLE = re.compile(
    r"[\w.+-]+@[\w.-]+\s*:\s*[~/]"  # user@host:~/work
    r"|(^|\s)[~/]\S*\s*[$#%>❯]\s*$"  # ~/work $
    r"|(^|\s)[$#%❯]\s*$"  # root #
    r"|^\s*(?:PS\s+)?[A-Za-z]:\\[^>]*>\s*$"  # C:\Users\me>
    r"|^\s*(?:(?:ba|z|fi|da|k|tc|c|a|mk|x|o|yash|elvi)?sh|nu|pwsh|powershell|cmd(?:\.exe)?|tmux|screen|ssh|mosh|su|sudo"
    r"|python\d*(?:\.\d+)?|ipython\d*|node|irb|psql|mysql|sqlite3)(?:\s*$|\s*[:—–-]\s|\s+[~/])"  # bash, zsh - ~/work
    r"|(^|[-—–|:]\s*)(?:terminal|konsole|console|command prompt|windows powershell)\s*($|[-—–|:])",  # X - Terminal
    re.IGNORECASE,
)


def _chord(keys: Iterable[str]) -> set[str]:
    return {_KEY_ALIASES.get(k.lower(), k.lower()) for k in keys}


def _contains(chord: set[str], chords: list[set[str]]) -> bool:
    """True if `chord` holds every key of one of `chords` (ctrl+alt+a+backspace holds ctrl+alt+backspace)."""
    return any(c <= chord for c in chords)


def is_terminal_app(name: str) -> bool:
    """True if a process name, WM_CLASS or launched app name is a terminal emulator."""
    base = name.strip().lower().replace("\\", "/").rsplit("/", 1)[-1].removesuffix(".exe")
    if not base:
        return False
    return "term" in base or base in TERMINAL_APPS or base.rsplit(".", 1)[-1] in TERMINAL_APPS


def looks_like_terminal(context: Context | None) -> bool | None:
    """True if the window is a terminal (by app or a prompt-like title), False if not, None if unknown."""
    if context is None or not (context.app.strip() or context.title.strip()):
        return None
    if is_terminal_app(context.app) or _SHELL_TITLE.search(context.title):
        return True
    return False


def has_line_break(text: str) -> bool:
    """True if typing `text` could press Enter: a line break, or a control character (Ctrl+O runs a shell's line)."""
    return any(ch in _LINE_BREAKS or (ch < " " and ch != "\t") or ch == "\x7f" for ch in text)


class Policy:
    """Classes actions; knows the launch allowlist, the time limits and whether the desktop may be touched."""

    def __init__(
        self,
        apps: AppCatalog,
        *,
        dry_run: bool = False,
        step_timeout_s: float = 10.0,
        plan_timeout_s: float = 30.0,
    ) -> None:
        self.apps = apps
        self.dry_run = dry_run
        self.step_timeout_s = step_timeout_s
        self.plan_timeout_s = plan_timeout_s

    @classmethod
    def from_settings(cls, settings: ActionSettings | Settings) -> Policy:
        """The policy the action settings ask for: LOKI_APPS_ALLOW, LOKI_DRY_RUN and the time limits."""
        actions = ActionSettings.of(settings)
        return cls(
            AppCatalog(actions.apps_allow),
            dry_run=actions.dry_run,
            step_timeout_s=actions.step_timeout_s,
            plan_timeout_s=actions.plan_timeout_s,
        )

    def check(self, action: dict[str, Any], *, trusted: bool = False, context: Context | None = None) -> Verdict:
        """Class one *validated* action, done alone in the window `context` (None: unknown)."""
        return self.check_plan([action], trusted=trusted, context=context)[0]

    def check_plan(
        self, actions: Iterable[dict[str, Any]], *, trusted: bool = False, context: Context | None = None
    ) -> list[Verdict]:
        """Class every action of a plan, in order, following where its keys go.

        `context` is the window focused when the plan starts; `launch terminal`, window switches and
        clicks move the focus as the plan runs, so a later step may be typing into a terminal.
        """
        verdicts = []
        terminal = looks_like_terminal(context)
        line = ""  # what the plan has typed into the current window since its last Enter
        waited_s = 0.0
        for action in actions:
            verdict = self._classify(action, terminal, line)
            if action["type"] == "wait":
                waited_s += action["seconds"]
                if verdict.decision is not Decision.DENY and waited_s > self.plan_timeout_s:
                    verdict = Verdict(
                        Decision.DENY,
                        f"the plan's waits add up to more than {self.plan_timeout_s:g} s (LOKI_PLAN_TIMEOUT_S).",
                    )
            if trusted and verdict.decision is Decision.CONFIRM:
                verdict = Verdict(Decision.SAFE, verdict.reason, verdict.command)
            if action["type"] == "type" and trusted and _DANGEROUS_TEXT.search(action["text"]):
                # The user dictated it, so it is not refused, but it is always read back first.
                verdict = Verdict(Decision.CONFIRM, "the text looks like a destructive shell command")
            verdicts.append(verdict)
            after = _focus_after(action, terminal)
            if after is not terminal or self.is_submit(action):
                line = ""
            terminal = after
            if action["type"] == "type":
                line = _LAST_LINE.split(line + action["text"])[-1]
            elif action["type"] == "hotkey" and len(action["keys"]) == 1 and len(action["keys"][0]) == 1:
                line += action["keys"][0]  # a key with a character types it
        return verdicts

    def is_submit(self, action: dict[str, Any]) -> bool:
        """True for a key press that submits a terminal's line (Enter, Ctrl+J, Ctrl+M, Ctrl+O)."""
        return action["type"] == "hotkey" and _contains(_chord(action["keys"]), _SUBMIT_CHORDS)

    def _classify(self, action: dict[str, Any], terminal: bool | None, line: str) -> Verdict:
        """The verdict for an untrusted plan; `terminal` says whether the focus is on a terminal (None: unknown)."""
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
            if _contains(chord, _DENY_CHORDS) or ({"alt", "print"} <= chord and len(chord) > 2):
                return Verdict(Decision.DENY, f"the key chord {'+'.join(action['keys'])} is never pressed by LOKI.")
            if _contains(chord, _CONFIRM_CHORDS):
                return Verdict(Decision.CONFIRM, f"{'+'.join(action['keys'])} may close something")
            if _contains(chord, _SUBMIT_CHORDS):
                if terminal is False:
                    return Verdict(Decision.SAFE, command=line)
                return Verdict(Decision.CONFIRM, submit_reason(terminal), command=line)
            return Verdict(Decision.SAFE)
        if kind == "type":
            if _DANGEROUS_TEXT.search(action["text"]):
                return Verdict(Decision.DENY, "the text looks like a destructive shell command.")
            if has_line_break(action["text"]):
                if terminal is False:
                    return Verdict(
                        Decision.CONFIRM, "the text contains a line break or control key that would submit it"
                    )
                command = line + action["text"]
                return Verdict(Decision.CONFIRM, submit_reason(terminal), command=command)
            return Verdict(Decision.SAFE)
        if kind == "click" and "target" in action:
            named = [action["target"].get(k, "") for k in ("name", "label", "description")]
            risky = next((text for text in named if is_risky_label(text)), None)
            if risky is not None:
                return Verdict(Decision.CONFIRM, f"'{risky}' may delete, send or pay for something")
            return Verdict(Decision.SAFE)
        if kind == "window" and action["op"] == "close":
            return Verdict(Decision.CONFIRM, "closing a window may lose unsaved work")
        if kind == "wait" and action["seconds"] > self.step_timeout_s:
            return Verdict(
                Decision.DENY,
                f"a step may take at most {self.step_timeout_s:g} s (LOKI_STEP_TIMEOUT_S), "
                f"and this waits {action['seconds']:g} s.",
            )
        return Verdict(Decision.SAFE)


# Controls whose click may not be undone: clicked only after a yes (English and Russian stems).
_RISKY_LABEL = re.compile(
    r"\b(?:delete|remove|erase|wipe|destroy|discard|send|submit|post|publish|pay|purchase|buy|order|checkout|"
    r"check out|uninstall|format|reset|shut ?down|restart|sign out|log ?out|transfer|confirm)\b|"
    r"(?:удал|стер|стир|отправ|опубликов|оплат|заплат|купи|покуп|закаж|заказ|форматир|сброс|выключ|"
    r"перезагруз|выйти|выход|перевест|перевод|подтверд)",
    re.IGNORECASE,
)


def is_risky_label(text: str) -> bool:
    """True for a control labelled like Delete, Send, Pay, Buy, Uninstall, Format, Submit, Удалить, Оплатить…"""
    return bool(text) and _RISKY_LABEL.search(text.replace("ё", "е")) is not None


def submit_reason(terminal: bool | None) -> str:
    """Why an Enter needs a yes: it goes to a terminal (True) or maybe to one (None)."""
    if terminal:
        return "Enter in a terminal runs the typed text as a command"
    return "LOKI cannot tell whether the focused window is a terminal, where Enter would run a command"


def _focus_after(action: dict[str, Any], terminal: bool | None) -> bool | None:
    """Whether the focus is on a terminal after `action` (None: it may have moved anywhere)."""
    kind = action["type"]
    if kind == "launch":
        name = action["app"].strip().lower()
        if ALIASES.get(name, name) == "terminal" or is_terminal_app(name):
            return True
        # The new window may be slow to take the focus: until it does, keys go where they went.
        return False if terminal is False else None
    if kind == "window":
        if action["op"] == "focus" and is_terminal_app(action.get("target", "")):
            return True
        return terminal if action["op"] == "maximize" else None
    if kind == "hotkey":
        chord = _chord(action["keys"])
        return None if chord & _FOCUS_MODIFIERS or {"ctrl", "alt"} <= chord else terminal
    if kind in ("click", "drag"):
        return None
    return terminal
