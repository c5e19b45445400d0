"""A desktop for accessibility tests and benchmarks: Xvfb + openbox, a D-Bus session with AT-SPI, real apps.

Used by the `a11y` fixture (tests/conftest.py), tests/test_a11y.py and benchmarks/a11y_bench.py.
Every process started here is ended by the context manager that started it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from loki.screen.capture import window_box
from loki.screen.ground import Window

BUS_LAUNCHER = Path("/usr/libexec/at-spi-bus-launcher")
PROGRAMS = ("Xvfb", "openbox", "xdotool", "dbus-daemon", "dbus-send")


def missing() -> list[str]:
    """What this machine lacks for a real accessible desktop (empty when nothing)."""
    gone = [p for p in PROGRAMS if shutil.which(p) is None]
    return gone + ([str(BUS_LAUNCHER)] if not BUS_LAUNCHER.exists() else [])


def wait_for(check, what: str, timeout_s: float = 15.0, every_s: float = 0.05):  # type: ignore[no-untyped-def]
    """Poll `check` until it returns something truthy (returned), or fail saying what did not happen."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() >= deadline:
            raise RuntimeError(f"{what} did not happen within {timeout_s:g} s")
        time.sleep(every_s)


def stop(process: subprocess.Popen | None) -> None:
    """End a process we started: terminate, then kill if it does not go within 5 s."""
    if process is not None and process.poll() is None:
        process.terminate()
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


def _children(pid: int) -> list[int]:
    """A process's direct children (the at-spi bus launcher's own dbus-daemon)."""
    kids: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            kids += [int(k) for k in (task / "children").read_text().split()]
        except OSError:
            continue
    return kids


def start_xvfb(size: str = "1280x800") -> tuple[subprocess.Popen, str]:
    """Xvfb on a display number it picks itself (-displayfd): two test servers never share one, nor
    the AT-SPI bus socket named after it (~/.cache/at-spi/bus_N, which the second launcher would replace)."""
    read, write = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write), "-screen", "0", f"{size}x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        pass_fds=(write,),
    )
    os.close(write)
    try:
        with os.fdopen(read, "r") as chosen:
            number = chosen.readline().strip()  # Xvfb writes it once it listens
    except OSError:
        number = ""
    if not number.isdigit():
        stop(xvfb)
        raise RuntimeError("Xvfb did not start (no display number written to -displayfd)")
    return xvfb, f":{number}"


@contextmanager
def x_display(number: int = 0, size: str = "1280x800") -> Iterator[str]:
    """Xvfb with openbox on a free display (`number` is ignored: kept for callers); yields the DISPLAY value."""
    xvfb, display = start_xvfb(size)
    wm = None
    try:
        env = {**os.environ, "DISPLAY": display}
        wait_for(
            lambda: subprocess.run(["xdotool", "getmouselocation"], env=env, capture_output=True).returncode == 0,
            f"Xvfb {display} coming up",
        )
        wm = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.3)
        yield display
    finally:
        stop(wm)
        stop(xvfb)


@contextmanager
def a11y_session(display: str) -> Iterator[str]:
    """A D-Bus session bus with the AT-SPI bus launched on it for `display`, accessibility on.

    Yields the session bus address (the environment is left alone).
    """
    env = {k: v for k, v in os.environ.items() if k not in ("DBUS_SESSION_BUS_ADDRESS", "AT_SPI_BUS_ADDRESS")}
    env["DISPLAY"] = display
    daemon = subprocess.Popen(
        ["dbus-daemon", "--session", "--nofork", "--print-address=1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    launcher = None
    try:
        assert daemon.stdout is not None
        address = daemon.stdout.readline().strip()
        if not address:
            raise RuntimeError("dbus-daemon --session printed no address")
        env["DBUS_SESSION_BUS_ADDRESS"] = address
        launcher = subprocess.Popen(
            [str(BUS_LAUNCHER), "--launch-immediately"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

        def enabled() -> bool:
            # What a desktop's accessibility switch does; apps started afterwards expose their widgets.
            return (
                subprocess.run(
                    ["dbus-send", "--session", "--print-reply", "--dest=org.a11y.Bus", "/org/a11y/bus",
                     "org.freedesktop.DBus.Properties.Set", "string:org.a11y.Status", "string:IsEnabled",
                     "variant:boolean:true"],
                    env=env, capture_output=True, timeout=5,
                ).returncode == 0
            )  # fmt: skip

        wait_for(enabled, "the AT-SPI bus launcher answering")
        yield address
    finally:
        bus_children = _children(launcher.pid) if launcher is not None else []
        stop(launcher)
        for pid in bus_children:  # its accessibility dbus-daemon, should it outlive the launcher
            try:
                os.kill(pid, 15)
            except ProcessLookupError:
                pass
        stop(daemon)


@dataclass
class App:
    """A real app on the test display, and its window once shown."""

    process: subprocess.Popen
    window: Window

    @property
    def returncode(self) -> int | None:
        """The exit code once it has ended."""
        return self.process.poll()

    def wait(self, timeout_s: float = 15.0) -> int:
        """Its exit code, waiting for it to end."""
        return self.process.wait(timeout_s)


def xdotool(*args: str, display: str | None = None) -> str:
    """Run xdotool on `display` (default: DISPLAY); its output."""
    env = {**os.environ, **({"DISPLAY": display} if display else {})}
    out = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=30)
    return out.stdout.strip()


def click(x: int, y: int, display: str | None = None) -> None:
    """A real left click at screen pixel (x, y)."""
    xdotool("mousemove", str(x), str(y), "click", "1", display=display)


def window_of(pid: int, display: str, title: str = "", timeout_s: float = 30.0) -> Window:
    """The largest visible window of process `pid` (optionally titled `title`), waited for."""

    def shown() -> Window | None:
        ids = [int(w) for w in xdotool("search", "--onlyvisible", "--pid", str(pid), display=display).split()]
        best: Window | None = None
        for wid in ids:
            name = xdotool("getwindowname", str(wid), display=display)
            if title and title not in name:
                continue
            old = os.environ.get("DISPLAY")
            os.environ["DISPLAY"] = display
            try:
                box = window_box(wid)
            except Exception:  # gone between the search and the look
                continue
            finally:
                if old is None:
                    os.environ.pop("DISPLAY", None)
                else:
                    os.environ["DISPLAY"] = old
            if (
                box.width > 50
                and box.height > 50
                and (best is None or box.width * box.height > best.box.width * best.box.height)
            ):
                best = Window(wid, box, pid, "", name)
        return best

    return wait_for(shown, f"a window of pid {pid}", timeout_s, every_s=0.1)


@contextmanager
def launched(
    argv: list[str], display: str, session: str, extra_env: Mapping[str, str] | None = None, title: str = ""
) -> Iterator[App]:
    """Start a real app on `display` and the `session` bus, wait for its window and activate it; kill it after."""
    env = {k: v for k, v in os.environ.items() if k not in ("AT_SPI_BUS_ADDRESS", "GDK_SCALE", "GDK_DPI_SCALE")}
    env.update({"DISPLAY": display, "DBUS_SESSION_BUS_ADDRESS": session, "GTK_THEME": "Adwaita", **(extra_env or {})})
    env.pop("NO_AT_BRIDGE", None)
    process = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        window = window_of(process.pid, display, title)
        xdotool("windowactivate", str(window.id), display=display)
        try:
            wait_for(lambda: xdotool("getactivewindow", display=display) == str(window.id), "activation", 5.0)
        except RuntimeError:
            pass  # some window managers keep focus elsewhere: the finder then goes by the title
        time.sleep(0.3)  # the toolkit's ACTIVE state follows the window manager's focus
        yield App(process, window_of(process.pid, display, title))  # where the window manager put it
    finally:
        stop(process)
