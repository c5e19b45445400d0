"""OS tools for what pyautogui cannot do: windows, volume, media keys, launching, screenshots."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from loki.actions.drivers import InputDriver, on_x11
from loki.errors import ActionError
from loki.private import private_dir, write_private_bytes


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ActionError(f"{argv[0]} failed: {exc}") from exc


_launched: list[subprocess.Popen[bytes]] = []


def launch(argv: list[str]) -> int:
    """Start an app detached from LOKI; returns its pid.

    The Popen objects are kept (and reaped on the next launch) so exited apps leave no zombies.
    """
    _launched[:] = [p for p in _launched if p.poll() is None]
    try:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
    except OSError as exc:
        raise ActionError(f"Could not start {argv[0]}: {exc}") from exc
    _launched.append(proc)
    return proc.pid


def window(op: str, target: str | None, driver: InputDriver) -> None:
    """close / minimize / maximize / next / focus the active (or named) window."""
    linux = on_x11()
    if op == "close":
        driver.hotkey(["command", "w"] if sys.platform == "darwin" else ["alt", "f4"])
    elif op == "next":
        driver.hotkey(["command", "tab"] if sys.platform == "darwin" else ["alt", "tab"])
    elif op == "minimize" and linux and shutil.which("xdotool"):
        _run(["xdotool", "getactivewindow", "windowminimize"])
    elif op == "minimize":
        driver.hotkey(["command", "m"] if sys.platform == "darwin" else ["win", "down"])
    elif op == "maximize" and linux and shutil.which("wmctrl"):
        _run(["wmctrl", "-r", ":ACTIVE:", "-b", "toggle,maximized_vert,maximized_horz"])
    elif op == "maximize":
        driver.hotkey(["ctrl", "command", "f"] if sys.platform == "darwin" else ["win", "up"])
    elif op == "focus":
        assert target
        if linux and shutil.which("wmctrl"):
            if _run(["wmctrl", "-a", target]).returncode != 0:
                raise ActionError(f"No window called {target!r} is open.")
        elif sys.platform == "darwin":
            _run(["osascript", "-e", f'tell application "{target}" to activate'])
        else:
            raise ActionError("Focusing a window by name needs wmctrl here: sudo apt-get install wmctrl")


def volume(action: dict[str, Any], driver: InputDriver) -> None:
    """Change or mute the default output's volume with the OS's own mixer."""
    mute: bool | None = action.get("mute")
    delta: int = action.get("delta", 0)
    if sys.platform.startswith("linux") and shutil.which("pactl"):
        if mute is not None:
            argv = ["pactl", "set-sink-mute", "@DEFAULT_SINK@", "1" if mute else "0"]
        else:
            argv = ["pactl", "set-sink-volume", "@DEFAULT_SINK@", f"{delta:+d}%"]
        result = _run(argv)
        if result.returncode == 0:
            return
        if not shutil.which("amixer"):
            raise ActionError(f"pactl could not change the volume: {result.stderr.strip()}")
    if sys.platform.startswith("linux") and shutil.which("amixer"):
        if mute is not None:
            argv = ["amixer", "-q", "set", "Master", "mute" if mute else "unmute"]
        else:
            argv = ["amixer", "-q", "set", "Master", f"{abs(delta)}%{'+' if delta > 0 else '-'}"]
        if _run(argv).returncode == 0:
            return
    if sys.platform == "darwin":
        if mute is not None:
            script = f"set volume output muted {'true' if mute else 'false'}"
        else:
            script = f"set volume output volume ((output volume of (get volume settings)) + {delta})"
        _run(["osascript", "-e", script])
        return
    # Windows and anything else: the keyboard's media keys, about 2 % a press.
    if mute is not None:
        driver.hotkey(["volumemute"])
    else:
        for _ in range(max(1, abs(delta) // 2)):
            driver.hotkey(["volumeup" if delta > 0 else "volumedown"])


_MEDIA_KEYS = {"playpause": "playpause", "next": "nexttrack", "previous": "prevtrack"}


def media(op: str, driver: InputDriver) -> None:
    """Play/pause, next or previous track: MPRIS through playerctl when present, else media keys."""
    if sys.platform.startswith("linux") and shutil.which("playerctl"):
        verb = {"playpause": "play-pause", "next": "next", "previous": "previous"}[op]
        if _run(["playerctl", verb]).returncode == 0:
            return
    driver.hotkey([_MEDIA_KEYS[op]])


def screenshot(folder: str = "") -> Path:
    """Save the whole screen as a PNG only the user can read (0600; a folder it makes is 0700); returns its path."""
    base = Path(folder).expanduser() if folder else _pictures_dir()
    try:
        import mss
        import mss.tools

        factory = getattr(mss, "MSS", None) or mss.mss  # mss 10 renamed the class
        with factory() as sct:
            shot = sct.grab(sct.monitors[0])
            png = mss.tools.to_png(shot.rgb, shot.size) or b""  # bytes when no output file is given
    except Exception as exc:  # mss raises ScreenShotError and Xlib errors
        raise ActionError(f"Could not capture the screen: {exc}") from exc
    try:
        private_dir(base, fix=False)  # the folder may be the user's Pictures: only a new one is made private
        path = base / time.strftime("loki-%Y%m%d-%H%M%S.png")
        write_private_bytes(path, png)
    except OSError as exc:
        why = exc.strerror or exc
        raise ActionError(f"Could not save the screenshot in {base}: {why}; set LOKI_SCREENSHOT_DIR.") from exc
    return path


def _pictures_dir() -> Path:
    if shutil.which("xdg-user-dir"):
        out = subprocess.run(["xdg-user-dir", "PICTURES"], capture_output=True, text=True).stdout.strip()
        if out and out != os.path.expanduser("~"):
            return Path(out)
    return Path.home() / "Pictures"
