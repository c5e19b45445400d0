"""Device seam for keyboard and mouse: the real pyautogui driver and a recording fake for tests."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from typing import Any, Protocol

from loki.errors import ActionError


class InputDriver(Protocol):
    """What the executor needs from a keyboard and mouse."""

    def hotkey(self, keys: list[str]) -> None: ...
    def type_text(self, text: str) -> None: ...
    def click(self, x: int, y: int, button: str, count: int) -> None: ...
    def move(self, x: int, y: int) -> None: ...
    def drag(self, x: int, y: int, to_x: int, to_y: int, button: str) -> None: ...
    def scroll(self, clicks: int) -> None: ...


def on_x11() -> bool:
    """True on an X11 session (Linux/BSD with DISPLAY set)."""
    return sys.platform.startswith(("linux", "freebsd")) and bool(os.environ.get("DISPLAY"))


class PyAutoGuiDriver:
    """The real keyboard and mouse through pyautogui, with pyautogui's fail-safe kept on.

    pyautogui types only ASCII on X11, so other text goes through `xdotool type`, which maps
    each character to a spare keycode (Cyrillic, accents and emoji all arrive).
    """

    def __init__(self) -> None:
        try:
            import pyautogui
        except Exception as exc:  # KeyError('DISPLAY'), Xlib errors, missing backend
            raise ActionError(
                f"Cannot reach the desktop for keyboard and mouse ({exc!r}). "
                "Run LOKI inside your graphical session (DISPLAY must be set), or use --dry-run."
            ) from exc
        pyautogui.FAILSAFE = True  # slam the mouse into a corner to abort
        pyautogui.PAUSE = 0.02
        self._gui: Any = pyautogui

    def hotkey(self, keys: list[str]) -> None:
        self._gui.hotkey(*keys)

    def type_text(self, text: str) -> None:
        if text.isascii():
            self._gui.write(text, interval=0.005)
        elif on_x11():
            _xdotool_type(text)
        elif sys.platform == "darwin":
            _mac_type(text)
        else:
            self._paste(text)

    def _paste(self, text: str) -> None:
        try:
            import pyperclip
        except ImportError as exc:
            raise ActionError("Typing non-ASCII text here needs pyperclip: pip install pyperclip") from exc
        previous = pyperclip.paste()
        pyperclip.copy(text)
        self._gui.hotkey("ctrl", "v")
        pyperclip.copy(previous)

    def click(self, x: int, y: int, button: str, count: int) -> None:
        self._gui.click(x=x, y=y, button=button, clicks=count, interval=0.05)

    def move(self, x: int, y: int) -> None:
        self._gui.moveTo(x, y)

    def drag(self, x: int, y: int, to_x: int, to_y: int, button: str) -> None:
        self._gui.moveTo(x, y)
        self._gui.dragTo(to_x, to_y, duration=0.2, button=button)

    def scroll(self, clicks: int) -> None:
        self._gui.scroll(clicks)


def _xdotool_type(text: str) -> None:
    exe = shutil.which("xdotool")
    if exe is None:
        raise ActionError("Typing non-ASCII text on X11 needs xdotool: sudo apt-get install xdotool")
    result = subprocess.run([exe, "type", "--clearmodifiers", "--delay", "8", "--", text], capture_output=True, text=True, timeout=60)
    if result.returncode != 0:
        raise ActionError(f"xdotool could not type the text: {result.stderr.strip() or result.returncode}")


def _mac_type(text: str) -> None:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    subprocess.run(["osascript", "-e", f'tell application "System Events" to keystroke "{escaped}"'], check=True, timeout=60)


class RecordingDriver:
    """A fake driver that records calls: for tests and for checking profiles without a desktop."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def hotkey(self, keys: list[str]) -> None:
        self.calls.append(("hotkey", tuple(keys)))

    def type_text(self, text: str) -> None:
        self.calls.append(("type_text", (text,)))

    def click(self, x: int, y: int, button: str, count: int) -> None:
        self.calls.append(("click", (x, y, button, count)))

    def move(self, x: int, y: int) -> None:
        self.calls.append(("move", (x, y)))

    def drag(self, x: int, y: int, to_x: int, to_y: int, button: str) -> None:
        self.calls.append(("drag", (x, y, to_x, to_y, button)))

    def scroll(self, clicks: int) -> None:
        self.calls.append(("scroll", (clicks,)))
