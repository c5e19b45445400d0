"""A screen for tests and profile authors: the active window is whatever you set; the pixels an image."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loki.errors import ScreenError
from loki.screen.capture import Screen, Screenshot
from loki.screen.coords import Box, Monitor
from loki.screen.display import NO_PROFILE, DisplayProfile
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


class ImageScreen(Screen):
    """A `Screen` whose pixels are an image and whose monitors are an mss-style list (no display needed).

    For tests of layouts no X server here can show: a monitor left of the primary one (negative x),
    monitors of different sizes, HiDPI. `monitors[0]` is the whole virtual screen, as in mss; the
    image covers exactly it.
    """

    def __init__(self, image: Any, monitors: list[dict[str, int]], profile: DisplayProfile = NO_PROFILE) -> None:
        whole = monitors[0]
        if image.size != (whole["width"], whole["height"]):
            raise ValueError(f"the image is {image.size}, the virtual screen {whole['width']}x{whole['height']}")
        self.profile = profile
        self.image = image.convert("RGB")
        self._monitors = [dict(m) for m in monitors]
        self.active: Box | None = None
        """What `window()` crops when given no box (the "active window")."""

    def close(self) -> None:
        """Nothing to let go."""

    def detected(self) -> list[Monitor]:
        return [Monitor.from_mss(i, entry) for i, entry in enumerate(self._monitors)]

    def _pixels(self, left: int, top: int, width: int, height: int) -> Any:
        origin = self._monitors[0]
        x, y = left - origin["left"], top - origin["top"]
        return self.image.crop((x, y, x + width, y + height))

    def window(self, box: Box | None = None, *, longest: int | None = None) -> Screenshot:
        if box is None and self.active is None:
            raise ScreenError("There is no active window (the fake screen was given none).", code="no_window")
        return super().window(box if box is not None else self.active, longest=longest)
