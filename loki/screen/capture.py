"""Screenshots with their frame: every monitor, the whole virtual screen, the active window's crop.

mss grabs; each `Screenshot` carries the `Frame` that maps its pixels back to the screen
(`loki.screen.coords`). A display profile can replace the monitor layout mss reports (Xvfb, and some
X servers without RandR, show one monitor however many there are) and sets the click offset.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from typing import Any

from loki.errors import ScreenError
from loki.screen.coords import Box, Frame, Monitor, fit_size, monitor_at
from loki.screen.display import NO_PROFILE, DisplayProfile

_NO_DISPLAY = (
    "No display: DISPLAY is not set, so there is no screen to capture or click. Run this inside your "
    "graphical session (over SSH: DISPLAY=:0), or on a virtual one (Xvfb :99 & DISPLAY=:99 ...)."
)


def require_display() -> None:
    """Raise ScreenError (code "no_display") with a plain reason when there is no screen to use."""
    if not sys.platform.startswith(("linux", "freebsd")):
        return
    name = os.environ.get("DISPLAY")
    if not name:
        wayland = os.environ.get("WAYLAND_DISPLAY")
        extra = " (a Wayland session without XWayland: LOKI needs X11 or XWayland)" if wayland else ""
        raise ScreenError(_NO_DISPLAY.replace("is not set", f"is not set{extra}"), code="no_display")
    xlib = _xlib()
    display = xlib.XOpenDisplay(name.encode())
    if not display:
        raise ScreenError(
            f"No display: the X display {name} does not answer (is the session or Xvfb running? "
            "does XAUTHORITY name its cookie file?).",
            code="no_display",
        )
    xlib.XCloseDisplay(display)


@dataclass(frozen=True)
class Screenshot:
    """An image and where its pixels came from."""

    image: Any
    """A PIL RGB image of size (frame.image_width, frame.image_height)."""
    frame: Frame


_X_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
_x_errors: list[int] = []


@_X_ERROR_HANDLER
def _on_x_error(display: int, event: int) -> int:
    """Xlib's default handler ends the process on any error (a window that closed a moment ago): count it instead."""
    _x_errors.append(1)
    return 0


@functools.cache
def _xlib() -> Any:
    """libX11 with the prototypes used here, loaded once (find_library runs ldconfig: tier 2 asks many times a second)."""
    path = ctypes.util.find_library("X11")
    if path is None:
        raise ScreenError("libX11 is missing: sudo apt-get install libx11-6", code="no_display")
    lib = ctypes.cdll.LoadLibrary(path)
    lib.XSetErrorHandler.restype = ctypes.c_void_p
    lib.XSetErrorHandler.argtypes = [_X_ERROR_HANDLER]
    lib.XSetErrorHandler(_on_x_error)
    lib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
    lib.XOpenDisplay.restype = ctypes.c_void_p
    lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
    lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
    lib.XDefaultRootWindow.restype = ctypes.c_ulong
    lib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
    lib.XTranslateCoordinates.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.c_ulong,
        ctypes.c_int,
        ctypes.c_int,
        ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(ctypes.c_ulong),
    ]
    lib.XGetGeometry.argtypes = [
        ctypes.c_void_p,
        ctypes.c_ulong,
        ctypes.POINTER(ctypes.c_ulong),
        ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(ctypes.c_int),
        ctypes.POINTER(ctypes.c_uint),
        ctypes.POINTER(ctypes.c_uint),
        ctypes.POINTER(ctypes.c_uint),
        ctypes.POINTER(ctypes.c_uint),
    ]
    return lib


def window_box(window_id: int) -> Box:
    """An X window's inside (no frame) in screen pixels.

    The origin comes from XTranslateCoordinates of the window's (0, 0) to the root, as toolkits do.
    `xdotool getwindowgeometry` is not used for it: under a reparenting window manager it adds the
    frame's offset twice (jordansissel/xdotool#176; under openbox a window Tk places at (151, 140) is
    reported at (152, 160)).
    """
    require_display()
    xlib = _xlib()
    display = xlib.XOpenDisplay(None)
    if not display:
        raise ScreenError(f"Cannot open the X display {os.environ.get('DISPLAY')}", code="no_display")
    try:
        root = xlib.XDefaultRootWindow(display)
        x, y, child = ctypes.c_int(), ctypes.c_int(), ctypes.c_ulong()
        errors = len(_x_errors)
        translated = xlib.XTranslateCoordinates(
            display, window_id, root, 0, 0, ctypes.byref(x), ctypes.byref(y), ctypes.byref(child)
        )
        xlib.XSync(display, 0)
        if len(_x_errors) > errors:
            raise ScreenError(f"The window 0x{window_id:x} has gone", code="screen")
        if not translated:
            raise ScreenError(f"The window 0x{window_id:x} is on another screen", code="screen")
        r, gx, gy = ctypes.c_ulong(), ctypes.c_int(), ctypes.c_int()
        w, h, border, depth = ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint(), ctypes.c_uint()
        if not xlib.XGetGeometry(
            display, window_id, ctypes.byref(r), ctypes.byref(gx), ctypes.byref(gy),
            ctypes.byref(w), ctypes.byref(h), ctypes.byref(border), ctypes.byref(depth),
        ) or len(_x_errors) > errors:  # fmt: skip
            raise ScreenError(f"The window 0x{window_id:x} has gone", code="screen")
        return Box(x.value, y.value, w.value, h.value)
    finally:
        xlib.XCloseDisplay(display)


def active_window_id() -> int:
    """The X id of the active window (xdotool, as `loki.screen.window.active_context` reads it)."""
    require_display()
    exe = shutil.which("xdotool")
    if exe is None:
        raise ScreenError("Finding the active window needs xdotool: sudo apt-get install xdotool", code="screen")
    try:
        out = subprocess.run([exe, "getactivewindow"], capture_output=True, text=True, timeout=2.0)
    except (OSError, subprocess.SubprocessError) as exc:
        raise ScreenError(f"xdotool failed: {exc}", code="screen") from exc
    text = out.stdout.strip()
    if out.returncode != 0 or not text.isdigit():
        raise ScreenError("There is no active window (the window manager names none).", code="no_window")
    return int(text)


def active_window_box() -> Box:
    """The active window's inside in screen pixels."""
    return window_box(active_window_id())


class Screen:
    """Captures through mss, with a display profile's layout and click offset. One thread per Screen."""

    def __init__(self, profile: DisplayProfile = NO_PROFILE) -> None:
        require_display()
        import mss

        self.profile = profile
        self._mss: Any = mss.MSS()

    def close(self) -> None:
        """Let the X connection go."""
        self._mss.close()

    def __enter__(self) -> Screen:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def detected(self) -> list[Monitor]:
        """What mss reports: index 0 the whole virtual screen, then each monitor."""
        return [Monitor.from_mss(i, entry) for i, entry in enumerate(self._mss.monitors)]

    def _pixels(self, left: int, top: int, width: int, height: int) -> Any:
        """The rectangle's pixels as a PIL RGB image (what a fake screen replaces)."""
        from PIL import Image

        try:
            raw = self._mss.grab({"left": left, "top": top, "width": width, "height": height})
        except Exception as exc:  # mss.exception.ScreenShotError and X errors
            raise ScreenError(f"The screen could not be captured: {exc}", code="screen") from exc
        return Image.frombytes("RGB", raw.size, raw.rgb)

    def virtual(self) -> Monitor:
        """The whole virtual screen (index 0)."""
        return self.detected()[0]

    def monitors(self) -> list[Monitor]:
        """The monitors LOKI uses: the profile's layout, else mss's, with their scales (1-based index)."""
        return self.profile.layout(self.detected())

    def grab(self, crop: Box, monitor: Monitor | None = None, *, longest: int | None = None) -> Screenshot:
        """Any rectangle of the screen, optionally scaled down so its longer side is at most `longest`."""
        from PIL import Image

        left, top = int(crop.left), int(crop.top)
        width, height = int(crop.width), int(crop.height)
        if width <= 0 or height <= 0:
            raise ScreenError(f"Nothing to capture: the rectangle {width}x{height} is empty", code="screen")
        whole = self.virtual().box
        if (
            left < whole.left
            or top < whole.top
            or left + width > whole.left + whole.width
            or top + height > whole.top + whole.height
        ):
            raise ScreenError(
                f"The rectangle {width}x{height}+{left}+{top} reaches outside the screen "
                f"({int(whole.width)}x{int(whole.height)}+{int(whole.left)}+{int(whole.top)}): check the display profile's layout",
                code="screen",
            )
        image = self._pixels(left, top, width, height)
        size = fit_size(image.width, image.height, longest)
        if size != image.size:
            image = image.resize(size, Image.Resampling.BICUBIC)
        if monitor is None:
            monitor = monitor_at(left, top, self.monitors()) or self.virtual()
        box = Box(left, top, width, height)
        return Screenshot(image, Frame(monitor, box, image.width, image.height, self.profile.click_offset))

    def shot(self, monitor: Monitor, *, longest: int | None = None) -> Screenshot:
        """One monitor (or, with index 0, the whole virtual screen)."""
        return self.grab(monitor.box, monitor, longest=longest)

    def every_monitor(self, *, longest: int | None = None) -> list[Screenshot]:
        """One screenshot per monitor, in order."""
        return [self.shot(m, longest=longest) for m in self.monitors()]

    def whole(self, *, longest: int | None = None) -> Screenshot:
        """The whole virtual screen in one image."""
        return self.shot(self.virtual(), longest=longest)

    def window(self, box: Box | None = None, *, longest: int | None = None) -> Screenshot:
        """The active window's crop (or that of `box`, e.g. `window_box(id)`), clipped to the screen."""
        box = box if box is not None else active_window_box()
        whole = self.virtual().box
        left, top = max(box.left, whole.left), max(box.top, whole.top)
        right = min(box.left + box.width, whole.left + whole.width)
        bottom = min(box.top + box.height, whole.top + whole.height)
        if right <= left or bottom <= top:
            raise ScreenError("The active window is off the screen", code="screen")
        clipped = Box(left, top, right - left, bottom - top)
        cx, cy = clipped.center
        monitor = monitor_at(cx, cy, self.monitors()) or self.virtual()
        return self.grab(clipped, monitor, longest=longest)
