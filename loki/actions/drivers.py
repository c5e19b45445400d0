"""Device seam for keyboard and mouse: the real pyautogui driver and a recording fake for tests."""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

from loki.actions.keysyms import keysym_name
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


@contextlib.contextmanager
def xauthority_fallback() -> Iterator[None]:
    """Let python-xlib connect where there is no Xauthority file at all.

    python-xlib refuses to connect without one (XauthError), even to a server that needs no cookie
    (Xvfb, kiosks, some remote sessions); libX11 reads a missing file as "no cookies". Here an
    empty file (/dev/null) stands in for the missing one while a connection is opened.
    """
    named = os.environ.get("XAUTHORITY")
    home = os.environ.get("HOME")
    path = named or (os.path.join(home, ".Xauthority") if home else "")
    if path and os.path.isfile(path):
        yield
        return
    os.environ["XAUTHORITY"] = os.devnull
    try:
        yield
    finally:
        if named is None:
            os.environ.pop("XAUTHORITY", None)
        else:
            os.environ["XAUTHORITY"] = named


def desktop_unreachable(exc: BaseException | None = None) -> ActionError:
    """The error for a desktop LOKI cannot reach, saying what is really wrong."""
    name = os.environ.get("DISPLAY")
    if sys.platform.startswith(("linux", "freebsd")) and not name:
        wayland = " (a Wayland session: LOKI needs X11 or XWayland)" if os.environ.get("WAYLAND_DISPLAY") else ""
        return ActionError(
            f"Cannot reach the desktop: no DISPLAY is set{wayland}. Run LOKI inside your graphical session "
            "(for the service: systemctl --user import-environment DISPLAY XAUTHORITY), or use --dry-run."
        )
    if sys.platform.startswith(("linux", "freebsd")):
        return ActionError(
            f"Cannot connect to the X display {name}: {_x_reason(exc)}. Check that the session is running "
            "and that XAUTHORITY names its cookie file, or use --dry-run."
        )
    return ActionError(f"Cannot reach the desktop for keyboard and mouse ({exc!r}); use --dry-run to plan only.")


def _x_reason(exc: BaseException | None) -> str:
    reason = getattr(exc, "msg", None)  # Xlib's DisplayConnectionError: the socket's or the server's reason
    text = str(reason if reason is not None else exc if exc is not None else "").strip()
    return text or (type(exc).__name__ if exc is not None else "unknown error")


def x_display_error() -> BaseException | None:
    """None when a new connection to $DISPLAY opens now, else the error that stopped it."""
    try:
        from Xlib import display
    except ImportError as exc:
        return exc
    try:
        with xauthority_fallback():
            conn = display.Display()
    except Exception as exc:  # DisplayConnectionError, DisplayNameError, ConnectionClosedError
        return exc
    drop_x_connection(conn)
    return None


def display_gone(problem: BaseException) -> ActionError:
    """The error for an X server that stopped answering."""
    return ActionError(
        f"The X display {os.environ.get('DISPLAY')} went away ({_x_reason(problem)}); "
        "LOKI reconnects on the next command once it is back."
    )


def drop_x_connection(conn: Any) -> None:
    """Close an Xlib connection without talking to the server (it may be gone, and Xlib can then block)."""
    with contextlib.suppress(Exception):
        conn.display.close_internal("client")


_F = TypeVar("_F", bound=Callable[..., Any])


def _x_guarded(method: _F) -> _F:
    """Fail fast with a clear error when the X connection breaks, and reconnect on the next call."""

    @functools.wraps(method)
    def run(self: PyAutoGuiDriver, *args: Any) -> Any:
        self._reconnect_if_broken()
        try:
            return method(self, *args)
        except Exception as exc:
            if type(exc).__name__ == "FailSafeException" or not self._x11:
                raise
            problem = x_display_error()
            if problem is not None:
                self._broken = True
                raise display_gone(problem) from exc
            if not isinstance(exc, ActionError):
                # python-xlib can leave a failed connection locked: a later request would wait forever.
                self._broken = True
            raise

    return run  # type: ignore[return-value]


class PyAutoGuiDriver:
    """The real keyboard and mouse through pyautogui, with pyautogui's fail-safe kept on.

    pyautogui types only ASCII on X11, so other text goes through `X11Typist`, which maps the
    characters onto spare keycodes (Cyrillic, accents and emoji all arrive). When the X server
    goes away, actions fail at once with a clear error; the next one reconnects.
    """

    def __init__(self) -> None:
        if sys.platform.startswith(("linux", "freebsd")) and not os.environ.get("DISPLAY"):
            raise desktop_unreachable()
        try:
            with xauthority_fallback():
                import pyautogui
        except Exception as exc:  # KeyError('DISPLAY'), Xlib errors, missing backend
            raise desktop_unreachable(exc) from exc
        pyautogui.FAILSAFE = True  # slam the mouse into a corner to abort
        pyautogui.PAUSE = 0.02
        self._gui: Any = pyautogui
        platform = getattr(pyautogui, "platformModule", None)
        self._x11 = getattr(platform, "__name__", "").endswith("_pyautogui_x11")
        self._broken = False

    def _reconnect_if_broken(self) -> None:
        """After the X connection broke, open a new one in pyautogui's X11 module (it keeps one globally)."""
        if not self._broken:
            return
        platform = self._gui.platformModule
        old = getattr(platform, "_display", None)
        try:
            with xauthority_fallback():
                importlib.reload(platform)  # reconnects and rebuilds the key map
        except Exception as exc:
            raise desktop_unreachable(exc) from exc
        if old is not None:
            drop_x_connection(old)
        self._broken = False

    @_x_guarded
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

    @_x_guarded
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

    @_x_guarded
    def click(self, x: int, y: int, button: str, count: int) -> None:
        self._gui.click(x=x, y=y, button=button, clicks=count, interval=0.05)

    @_x_guarded
    def move(self, x: int, y: int) -> None:
        self._gui.moveTo(x, y)

    @_x_guarded
    def drag(self, x: int, y: int, to_x: int, to_y: int, button: str) -> None:
        self._gui.moveTo(x, y)
        self._gui.dragTo(to_x, to_y, duration=0.2, button=button)

    @_x_guarded
    def scroll(self, clicks: int) -> None:
        self._gui.scroll(clicks)


def _xdotool_key(keys: list[str]) -> None:
    exe = shutil.which("xdotool")
    if exe is None:
        raise ActionError(f"Pressing {'+'.join(keys)} on X11 needs xdotool: sudo apt-get install xdotool")
    names = [keysym_name(k) for k in keys]
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
