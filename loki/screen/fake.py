"""A screen for tests and profile authors: the active window is whatever you set."""

from __future__ import annotations

from dataclasses import dataclass

from loki.screen.window import Context, current_os


@dataclass
class FixedWindow:
    """Implements `loki.screen.window.ActiveWindow`: always this app and title (change them between turns)."""

    app: str = ""
    title: str = ""
    os: str = ""

    def __call__(self) -> Context:
        """The set context (the OS defaults to this machine's)."""
        return Context(self.os or current_os(), self.app, self.title)
