"""The active window: which app and title the user is looking at, per OS."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Protocol

from loki.actions.drivers import on_x11


@dataclass(frozen=True)
class Context:
    """Where a command is spoken: OS, active application and its window title."""

    os: str
    app: str = ""
    title: str = ""

    def as_dict(self) -> dict[str, str]:
        """For traces and LLM prompts."""
        return {"os": self.os, "app": self.app, "title": self.title}


class ActiveWindow(Protocol):
    """The screen seam: where the user is looking now (`active_context` reads it; `loki.screen.fake` fakes it)."""

    def __call__(self) -> Context:
        """The active window's context."""
        ...


def current_os() -> str:
    """linux, mac or windows."""
    if sys.platform == "darwin":
        return "mac"
    if sys.platform.startswith("win"):
        return "windows"
    return "linux"


def _run(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=1.0).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def active_context() -> Context:
    """The active window's app (process name) and title; empty strings when unknown."""
    os_name = current_os()
    if on_x11() and shutil.which("xdotool"):
        out = _run(["xdotool", "getactivewindow", "getwindowname", "getwindowpid"])
        lines = out.splitlines()
        title = lines[0] if lines else ""
        app = ""
        if len(lines) > 1 and lines[1].isdigit():
            import psutil

            try:
                app = psutil.Process(int(lines[1])).name()
            except psutil.Error:
                app = ""
        return Context(os_name, app, title)
    if os_name == "mac":
        script = 'tell application "System Events" to get name of first process whose frontmost is true'
        return Context(os_name, _run(["osascript", "-e", script]))
    return Context(os_name)
