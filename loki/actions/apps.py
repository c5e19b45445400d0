"""Logical app names ("browser", "terminal") and the launch allowlist, per OS."""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

# Logical name -> candidates, first found wins. "xdg-open:<arg>" opens the user's default handler.
_LINUX: dict[str, list[str]] = {
    "browser": [
        "x-www-browser",
        "sensible-browser",
        "firefox",
        "chromium",
        "chromium-browser",
        "google-chrome",
        "brave-browser",
        "epiphany",
        "xdg-open:https://",
    ],
    "terminal": [
        "x-terminal-emulator",
        "gnome-terminal",
        "konsole",
        "xfce4-terminal",
        "kitty",
        "alacritty",
        "tilix",
        "xterm",
    ],
    "file manager": ["nautilus", "dolphin", "thunar", "nemo", "pcmanfm", "caja", "xdg-open:~"],
    "editor": ["gnome-text-editor", "gedit", "kate", "mousepad", "xed", "pluma", "code", "featherpad", "xedit"],
    "calculator": ["gnome-calculator", "kcalc", "galculator", "mate-calc", "qalculate-gtk", "xcalc"],
}
_MAC: dict[str, list[str]] = {
    "browser": ["open:-a:Safari"],
    "terminal": ["open:-a:Terminal"],
    "file manager": ["open:~"],
    "editor": ["open:-a:TextEdit"],
    "calculator": ["open:-a:Calculator"],
}
_WINDOWS: dict[str, list[str]] = {
    "browser": ["start:https://"],
    "terminal": ["wt", "powershell", "cmd"],
    "file manager": ["explorer"],
    "editor": ["notepad"],
    "calculator": ["calc"],
}
# Spoken aliases of the logical names (profiles map speech to these too).
ALIASES = {
    "web browser": "browser",
    "internet": "browser",
    "files": "file manager",
    "file explorer": "file manager",
    "explorer": "file manager",
    "text editor": "editor",
    "notepad": "editor",
    "console": "terminal",
    "calc": "calculator",
    "command line": "terminal",
}


def _table() -> dict[str, list[str]]:
    if sys.platform == "darwin":
        return _MAC
    if sys.platform.startswith("win"):
        return _WINDOWS
    return _LINUX


class AppCatalog:
    """Resolves an app the user asked for to a command line, or None if it is not allowed."""

    def __init__(self, extra_allowed: Iterable[str] = (), table: dict[str, list[str]] | None = None) -> None:
        self.table = table if table is not None else _table()
        self.extra_allowed = {e.strip() for e in extra_allowed if e.strip()}

    @property
    def logical_names(self) -> list[str]:
        """The logical app names LOKI can always launch."""
        return sorted(self.table)

    def allowed_names(self) -> list[str]:
        """Everything the allowlist admits: logical names plus the user's extra executables."""
        return [*self.logical_names, *sorted(self.extra_allowed)]

    def is_allowed(self, app: str) -> bool:
        """True if the allowlist admits `app` (installed or not)."""
        name = app.strip().lower()
        if ALIASES.get(name, name) in self.table:
            return True
        return any(app.strip() in (allowed, Path(allowed).name) for allowed in self.extra_allowed)

    def resolve(self, app: str) -> list[str] | None:
        """The argv to launch `app`, or None when it is not on the allowlist or not installed."""
        name = app.strip().lower()
        name = ALIASES.get(name, name)
        if name in self.table:
            for candidate in self.table[name]:
                argv = self._argv(candidate)
                if argv is not None:
                    return argv
            return None
        # An executable is allowed only when listed in LOKI_APPS_ALLOW (by name or full path).
        for allowed in self.extra_allowed:
            if app.strip() == allowed or Path(allowed).name == app.strip():
                exe = shutil.which(allowed)
                return [exe] if exe else None
        return None

    def _argv(self, candidate: str) -> list[str] | None:
        head, _, rest = candidate.partition(":")
        args = [os.path.expanduser(a) for a in rest.split(":")] if rest else []
        if head == "start":
            return ["cmd", "/c", "start", "", *args]
        exe = shutil.which(head)
        return [exe, *args] if exe else None
