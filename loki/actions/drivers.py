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

    pyautogui types only ASCII on X11, so other text goes through `X11Typist`, which maps the
    characters onto spare keycodes (Cyrillic, accents and emoji all arrive).
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
        if on_x11() and self._x11_unmapped(keys):
            # pyautogui's X11 backend silently drops keys it has no keycode for (media keys,
            # the Windows key...), so those chords go through xdotool by keysym name.
            _xdotool_key(keys)
        else:
            self._gui.hotkey(*keys)

    def _x11_unmapped(self, keys: list[str]) -> bool:
        mapping = getattr(self._gui, "platformModule", None)
        table = getattr(mapping, "keyboardMapping", {})
        return any(len(k) > 1 and table.get(k) is None for k in keys)

    def type_text(self, text: str) -> None:
        if text.isascii():
            self._gui.write(text, interval=0.005)
        elif on_x11():
            from loki.actions.x11_typing import X11Typist

            typist = X11Typist()
            try:
                typist.type(text)
            finally:
                typist.close()
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


# pyautogui key names -> X keysyms, for keys pyautogui's X11 backend cannot press.
_X_KEYSYMS = {
    "playpause": "XF86AudioPlay",
    "nexttrack": "XF86AudioNext",
    "prevtrack": "XF86AudioPrev",
    "stop": "XF86AudioStop",
    "volumeup": "XF86AudioRaiseVolume",
    "volumedown": "XF86AudioLowerVolume",
    "volumemute": "XF86AudioMute",
    "browserback": "XF86Back",
    "browserforward": "XF86Forward",
    "browserrefresh": "XF86Reload",
    "browserhome": "XF86HomePage",
    "browsersearch": "XF86Search",
    "browserstop": "XF86Stop",
    "browserfavorites": "XF86Favorites",
    "launchmail": "XF86Mail",
    "launchapp1": "XF86Launch1",
    "launchapp2": "XF86Launch2",
    "launchmediaselect": "XF86AudioMedia",
    "sleep": "XF86Sleep",
    "win": "Super_L",
    "winleft": "Super_L",
    "winright": "Super_R",
    "command": "Super_L",
    "option": "Alt_L",
    "optionleft": "Alt_L",
    "optionright": "Alt_R",
    "ctrl": "Control_L",
    "ctrlleft": "Control_L",
    "ctrlright": "Control_R",
    "alt": "Alt_L",
    "altleft": "Alt_L",
    "altright": "Alt_R",
    "shift": "Shift_L",
    "shiftleft": "Shift_L",
    "shiftright": "Shift_R",
    "enter": "Return",
    "return": "Return",
    "esc": "Escape",
    "escape": "Escape",
    "tab": "Tab",
    "space": "space",
    "backspace": "BackSpace",
    "delete": "Delete",
    "del": "Delete",
    "insert": "Insert",
    "home": "Home",
    "end": "End",
    "pageup": "Prior",
    "pgup": "Prior",
    "pagedown": "Next",
    "pgdn": "Next",
    "up": "Up",
    "down": "Down",
    "left": "Left",
    "right": "Right",
    "capslock": "Caps_Lock",
    "numlock": "Num_Lock",
    "scrolllock": "Scroll_Lock",
    "pause": "Pause",
    "printscreen": "Print",
    "print": "Print",
    "prtsc": "Print",
    "prtscr": "Print",
    "prntscrn": "Print",
    "apps": "Menu",
    "help": "Help",
}


def _xdotool_key(keys: list[str]) -> None:
    exe = shutil.which("xdotool")
    if exe is None:
        raise ActionError(f"Pressing {'+'.join(keys)} on X11 needs xdotool: sudo apt-get install xdotool")
    names = [_X_KEYSYMS.get(k, k.upper() if k.startswith("f") and k[1:].isdigit() else k) for k in keys]
    result = subprocess.run(
        [exe, "key", "--clearmodifiers", "+".join(names)], capture_output=True, text=True, timeout=10
    )
    if result.returncode != 0:
        raise ActionError(f"xdotool could not press {'+'.join(keys)}: {result.stderr.strip() or result.returncode}")


def _mac_type(text: str) -> None:
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    subprocess.run(
        ["osascript", "-e", f'tell application "System Events" to keystroke "{escaped}"'], check=True, timeout=60
    )


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
