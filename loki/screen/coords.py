"""The coordinate contract: where a point of a screenshot (or of an accessibility box) is on the screen.

Every screenshot LOKI takes carries a `Frame`: the monitor it came from (origin and size in screen
pixels, and its HiDPI scale), the crop's origin and size (in the same screen pixels, absolute in the
virtual screen, as mss reports and pyautogui clicks), the size of the image actually produced (after
any downscaling for a model), and the display profile's click offset. `image_to_click` is the one way
from a point of that image, in any `Convention`, to the pixel pyautogui clicks; `click_to_image` is
its reverse.

Screen pixels: on X11 and Windows (pyautogui makes itself DPI-aware there) they are physical pixels.
On macOS mss and pyautogui both work in points and the grabbed image holds the backing scale's
physical pixels: the frame's image size records that, so the same mapping divides by the backing
scale with no special case.

Pixels are areas: pixel `i` of an image covers [i, i+1) and its centre is `i + 0.5`. A point in image
pixels is mapped through its centre, so mapping a screen pixel to the image and back lands on the same
screen pixel at any scale, and a model's integer answer on a downscaled image is off by less than one
image pixel's footprint.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Convention(StrEnum):
    """How a point in an image is written."""

    PIXELS = "pixels"
    """Pixels of the image actually sent (Qwen2.5-VL, UI-TARS-1.5 on their smart-resized image)."""
    UNIT = "unit"
    """0-1 of the width and height (moondream's `point`)."""
    PERMILLE = "permille"
    """0-1000 of the width and height (Qwen3-VL, UI-TARS v1, Gemini)."""


MODEL_CONVENTIONS: dict[str, Convention] = {
    "pixels": Convention.PIXELS,
    "qwen25": Convention.PIXELS,
    "uitars15": Convention.PIXELS,
    "qwen3": Convention.PERMILLE,
    "uitars1": Convention.PERMILLE,
    "gemini": Convention.PERMILLE,  # its adapter also swaps [y, x]; the scale is 0-1000
    "moondream": Convention.UNIT,
}
"""`LOKI_VISION_COORDS` values (../shared/ARCHITECTURE.md) -> the convention of their points."""

_SPAN = {Convention.UNIT: 1.0, Convention.PERMILLE: 1000.0}


@dataclass(frozen=True)
class Box:
    """A rectangle: origin and size."""

    left: float
    top: float
    width: float
    height: float

    @property
    def center(self) -> tuple[float, float]:
        """The middle of the box."""
        return (self.left + self.width / 2, self.top + self.height / 2)

    def contains(self, x: float, y: float) -> bool:
        """True when (x, y) lies inside (the right and bottom edges excluded)."""
        return self.left <= x < self.left + self.width and self.top <= y < self.top + self.height


@dataclass(frozen=True)
class Monitor:
    """One monitor in the virtual screen, in screen pixels (index 0 is the whole virtual screen, as in mss)."""

    index: int
    left: int
    top: int
    width: int
    height: int
    scale: float = 1.0
    """Device pixels per toolkit pixel on this monitor (2 for a 4K panel at 200 %): see `logical_to_screen`."""

    @property
    def box(self) -> Box:
        """Its rectangle in the virtual screen."""
        return Box(self.left, self.top, self.width, self.height)

    @classmethod
    def from_mss(cls, index: int, entry: dict[str, Any], scale: float = 1.0) -> Monitor:
        """From an entry of mss's `monitors` list."""
        return cls(index, int(entry["left"]), int(entry["top"]), int(entry["width"]), int(entry["height"]), scale)


@dataclass(frozen=True)
class Frame:
    """Where the pixels of one image came from, and how to get back."""

    monitor: Monitor
    """The monitor the image is on (index 0 for the whole virtual screen)."""
    crop: Box
    """What was grabbed, in screen pixels, absolute in the virtual screen (origin = the crop origin)."""
    image_width: int
    image_height: int
    """The size of the image actually produced or sent (after downscaling)."""
    click_offset: tuple[int, int] = field(default=(0, 0))
    """Added to every click (a display profile's calibration), in screen pixels."""

    @property
    def scale(self) -> tuple[float, float]:
        """Image pixels per screen pixel, x and y (0.5 for an image downscaled to half)."""
        return (self.image_width / self.crop.width, self.image_height / self.crop.height)

    @property
    def crop_in_monitor(self) -> tuple[float, float]:
        """The crop's origin relative to its monitor's origin."""
        return (self.crop.left - self.monitor.left, self.crop.top - self.monitor.top)

    def resized(self, width: int, height: int) -> Frame:
        """The same grab, sent as an image of another size."""
        return Frame(self.monitor, self.crop, width, height, self.click_offset)

    def as_dict(self) -> dict[str, Any]:
        """For JSON reports and traces."""
        return {
            "monitor": asdict(self.monitor),
            "crop": asdict(self.crop),
            "image": [self.image_width, self.image_height],
            "scale": list(self.scale),
            "click_offset": list(self.click_offset),
        }


def _to_unit(value: float, size: int, convention: Convention) -> float:
    if convention is Convention.PIXELS:
        return (value + 0.5) / size
    return value / _SPAN[convention]


def _from_unit(unit: float, size: int, convention: Convention) -> float:
    if convention is Convention.PIXELS:
        return unit * size - 0.5
    return unit * _SPAN[convention]


def image_to_screen(
    x: float, y: float, frame: Frame, convention: Convention = Convention.PIXELS
) -> tuple[float, float]:
    """A point of the image -> continuous screen coordinates (no click offset, no rounding)."""
    ux = _to_unit(x, frame.image_width, convention)
    uy = _to_unit(y, frame.image_height, convention)
    return (frame.crop.left + ux * frame.crop.width, frame.crop.top + uy * frame.crop.height)


def _pixel(value: float, start: float, size: float) -> int:
    """The screen pixel under a continuous coordinate, kept inside [start, start + size)."""
    low = math.ceil(start)
    high = math.floor(start + size - 1e-9)
    return min(max(math.floor(value + 1e-9), low), high)


def image_to_click(x: float, y: float, frame: Frame, convention: Convention = Convention.PIXELS) -> tuple[int, int]:
    """THE mapping: a point of the image, written in `convention` -> the pixel pyautogui clicks.

    Goes through the frame (crop origin, crop size, image size), stays inside the crop (a model's
    1000 or 1.0 is the last pixel, not the next monitor), then adds the profile's click offset.
    """
    sx, sy = image_to_screen(x, y, frame, convention)
    px = _pixel(sx, frame.crop.left, frame.crop.width)
    py = _pixel(sy, frame.crop.top, frame.crop.height)
    return (px + frame.click_offset[0], py + frame.click_offset[1])


def click_to_image(
    cx: float, cy: float, frame: Frame, convention: Convention = Convention.PIXELS
) -> tuple[float, float]:
    """The reverse of `image_to_click`: the pixel pyautogui would click -> the point of the image (its centre)."""
    ux = (cx - frame.click_offset[0] - frame.crop.left + 0.5) / frame.crop.width
    uy = (cy - frame.click_offset[1] - frame.crop.top + 0.5) / frame.crop.height
    return (_from_unit(ux, frame.image_width, convention), _from_unit(uy, frame.image_height, convention))


def convert(x: float, y: float, frame: Frame, source: Convention, target: Convention) -> tuple[float, float]:
    """A point of the same image from one convention to another (pixels -> 0-1000, ...)."""
    ux, uy = _to_unit(x, frame.image_width, source), _to_unit(y, frame.image_height, source)
    return (_from_unit(ux, frame.image_width, target), _from_unit(uy, frame.image_height, target))


def fit_size(width: int, height: int, longest: int | None) -> tuple[int, int]:
    """The size of an image scaled down (never up) so that its longer side is at most `longest`."""
    if not longest or max(width, height) <= longest:
        return (width, height)
    ratio = longest / max(width, height)
    return (max(1, round(width * ratio)), max(1, round(height * ratio)))


def monitor_at(x: float, y: float, monitors: list[Monitor]) -> Monitor | None:
    """The monitor showing screen point (x, y) (the whole-screen entry, index 0, is skipped)."""
    for monitor in monitors:
        if monitor.index != 0 and monitor.box.contains(x, y):
            return monitor
    return None


# Toolkits --------------------------------------------------------------------------------------
# Accessibility boxes do not all come in screen pixels. These turn them into screen pixels.


def logical_to_screen(box: Box, scale: float) -> Box:
    """A GTK3 box in screen coordinates but logical pixels -> screen pixels.

    Under `GDK_SCALE=2` (X11 HiDPI), GTK3's ATK bridge reports widget extents in GDK's logical
    ("application") pixels, unscaled: GNOME/gtk#1505 "Widget extents reported through the accessibility
    interface are not scaled" (gedit reports (32, 23) for a widget at (64, 46) at scale 2; see also
    agent-sh/computer-use-linux#122, clicks at half the x/y on a 200 % X11 desktop). On X11 GTK3 has
    one scale for the whole screen, so every coordinate, origin included, is multiplied by it.
    """
    return Box(box.left * scale, box.top * scale, box.width * scale, box.height * scale)


def window_relative_to_screen(
    box: Box, window_origin: tuple[float, float], scale: float = 1.0, inset: tuple[float, float] = (0.0, 0.0)
) -> Box:
    """A GTK4 box -> screen pixels.

    GTK4's AT-SPI bridge answers `GetExtents(SCREEN)` as if it were `GetExtents(WINDOW)`: relative to
    its toplevel's origin, because GTK4 has no global coordinates (trycua/cua#1931: every GTK4 element
    came out near (0, 0) while GTK3 and Qt were right). So the box is shifted by where the window really
    is (`window_origin`, screen pixels, e.g. `capture.active_window_box`); its own offsets are in
    logical pixels (`scale`, GDK_SCALE), as is `inset`, the distance from the X window's origin to the
    GtkWindow's (client-side decoration shadow), 0 without CSD.
    """
    ox, oy = window_origin
    return Box(
        ox + (box.left + inset[0]) * scale,
        oy + (box.top + inset[1]) * scale,
        box.width * scale,
        box.height * scale,
    )


def toolkit_scale(monitor: Monitor | None, environ: dict[str, str] | None = None) -> float:
    """The scale to read an app's logical pixels with: its GDK_SCALE when set, else its monitor's."""
    import os

    value = (environ if environ is not None else os.environ).get("GDK_SCALE", "")
    try:
        scale = float(value)
    except ValueError:
        scale = 0.0
    if scale > 0:
        return scale
    return monitor.scale if monitor is not None else 1.0
