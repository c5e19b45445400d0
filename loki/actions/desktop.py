"""OS tools for what pyautogui cannot do: windows, volume, media keys, launching, screenshots."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loki.actions.drivers import InputDriver, display_gone, on_x11, x_display_error
from loki.errors import ActionError
from loki.private import private_dir, write_private_bytes


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
    if op == "close" and linux and shutil.which("wmctrl"):
        # the window manager asks the active window to close, as Alt+F4 does, without a key event that
        # lands wherever the focus happens to be while the window manager is still settling
        _x_tool(["wmctrl", "-c", ":ACTIVE:"], "close the window")
    elif op == "close":
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


@dataclass
class VolumeLimits:
    """How far one turn may move the volume: never above `max_percent`, never more than `turn_max_percent` in all."""

    max_percent: int = 100
    turn_max_percent: int = 50
    start_percent: int | None = None  # the level before the turn's first change, once read
    moved_percent: int = 0  # net change made without being able to read the level (media keys)

    def target(self, current: int, delta: int) -> int:
        """The level to set for `delta` from `current`: within the caps, and never a step the wrong way."""
        if self.start_percent is None:
            self.start_percent = current
        high = min(self.max_percent, self.start_percent + self.turn_max_percent)
        low = max(0, self.start_percent - self.turn_max_percent)
        if delta > 0:
            return max(current, min(current + delta, high))
        return min(current, max(current + delta, low))


_PERCENT = re.compile(r"(\d+)%")


def _level(argv: list[str]) -> int | None:
    """The highest channel's volume in percent, as a mixer prints it (None if it cannot be read)."""
    result = _run(argv)
    levels = [int(p) for p in _PERCENT.findall(result.stdout)] if result.returncode == 0 else []
    return max(levels) if levels else None


def volume(action: dict[str, Any], driver: InputDriver | None, limits: VolumeLimits | None = None) -> None:
    """Change or mute the default output's volume with the OS's own mixer, within `limits`."""
    limits = limits if limits is not None else VolumeLimits()
    mute: bool | None = action.get("mute")
    delta: int = action.get("delta", 0)
    if sys.platform.startswith("linux") and shutil.which("pactl"):
        current = None if mute is not None else _level(["pactl", "get-sink-volume", "@DEFAULT_SINK@"])
        if mute is not None:
            argv = ["pactl", "set-sink-mute", "@DEFAULT_SINK@", "1" if mute else "0"]
        elif current is not None:
            argv = ["pactl", "set-sink-volume", "@DEFAULT_SINK@", f"{limits.target(current, delta)}%"]
        if mute is not None or current is not None:
            result = _run(argv)
            if result.returncode == 0:
                return
            if not shutil.which("amixer"):
                raise ActionError(f"pactl could not change the volume: {result.stderr.strip()}")
    if sys.platform.startswith("linux") and shutil.which("amixer"):
        if mute is not None:
            argv = ["amixer", "-q", "set", "Master", "mute" if mute else "unmute"]
        else:
            current = _level(["amixer", "get", "Master"])
            if current is None:
                raise ActionError("Could not read the volume (pactl and amixer failed), so LOKI left it as it is.")
            argv = ["amixer", "-q", "set", "Master", f"{limits.target(current, delta)}%"]
        if _run(argv).returncode == 0:
            return
    if sys.platform == "darwin":
        if mute is not None:
            script = f"set volume output muted {'true' if mute else 'false'}"
        else:
            out = _run(["osascript", "-e", "output volume of (get volume settings)"]).stdout.strip()
            if not out.isdigit():
                raise ActionError("Could not read the volume from macOS, so LOKI left it as it is.")
            script = f"set volume output volume {limits.target(int(out), delta)}"
        _run(["osascript", "-e", script])
        return
    if driver is None:
        raise ActionError("No mixer (pactl, amixer) and no keyboard to change the volume with.")
    # Windows and anything else: the keyboard's media keys, about 2 % a press. The level cannot be
    # read, so only the turn's cap applies.
    if mute is not None:
        driver.hotkey(["volumemute"])
        return
    room_up, room_down = limits.turn_max_percent - limits.moved_percent, limits.turn_max_percent + limits.moved_percent
    step = max(-room_down, min(delta, room_up))
    limits.moved_percent += step
    for _ in range(max(1, abs(step) // 2) if step else 0):
        driver.hotkey(["volumeup" if step > 0 else "volumedown"])


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
