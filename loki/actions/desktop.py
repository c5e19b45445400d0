"""OS tools for what pyautogui cannot do: windows, volume, media keys, launching, screenshots."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from loki.actions.drivers import InputDriver, display_gone, on_x11, x_display_error
from loki.errors import ActionError


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ActionError(f"{argv[0]} failed: {exc}") from exc


def _x_tool(argv: list[str], what: str, failed: str = "") -> None:
    """Run an X11 tool; its failure is an error, and a display that went away is named as such."""
    result = _run(argv)
    if result.returncode == 0:
        return
    problem = x_display_error()
    if problem is not None:
        raise display_gone(problem)
    raise ActionError(failed or f"Could not {what}: {argv[0]} says {result.stderr.strip() or result.returncode}")


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
        _x_tool(["xdotool", "getactivewindow", "windowminimize"], "minimize the window")
    elif op == "minimize":
        driver.hotkey(["command", "m"] if sys.platform == "darwin" else ["win", "down"])
    elif op == "maximize" and linux and shutil.which("wmctrl"):
        _x_tool(["wmctrl", "-r", ":ACTIVE:", "-b", "toggle,maximized_vert,maximized_horz"], "maximize the window")
    elif op == "maximize":
        driver.hotkey(["ctrl", "command", "f"] if sys.platform == "darwin" else ["win", "up"])
    elif op == "focus":
        assert target
        if linux and shutil.which("wmctrl"):
            _x_tool(["wmctrl", "-a", target], "", f"No window called {target!r} is open.")
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
    """Save the whole screen as a PNG; returns its path."""
    base = Path(folder).expanduser() if folder else _pictures_dir()
    base.mkdir(parents=True, exist_ok=True)
    path = base / time.strftime("loki-%Y%m%d-%H%M%S.png")
    try:
        import mss
        import mss.tools

        factory = getattr(mss, "MSS", None) or mss.mss  # mss 10 renamed the class
        with factory() as sct:
            shot = sct.grab(sct.monitors[0])
            mss.tools.to_png(shot.rgb, shot.size, output=str(path))
    except Exception as exc:  # mss raises ScreenShotError and Xlib errors
        raise ActionError(f"Could not capture the screen: {exc}") from exc
    return path


def _pictures_dir() -> Path:
    if shutil.which("xdg-user-dir"):
        out = subprocess.run(["xdg-user-dir", "PICTURES"], capture_output=True, text=True).stdout.strip()
        if out and out != os.path.expanduser("~"):
            return Path(out)
    return Path.home() / "Pictures"
