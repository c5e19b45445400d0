"""`loki screen calibrate`: show targets, find them in screenshots, click them through the mapping, measure.

The whole path a tier-2 click takes is exercised: mss grabs each monitor (downscaled if asked, as
for a model), the targets are found in the image's own pixels, each found point is written in the
chosen convention and mapped back with `coords.image_to_click`, the given `click` (pyautogui in
`loki screen calibrate`) clicks it, and the Tk window reports where the click really landed.
"""

from __future__ import annotations

import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loki.errors import ScreenError
from loki.screen.capture import Screen, Screenshot
from loki.screen.coords import Convention, Monitor, convert, image_to_click

SPOTS = ((0.2, 0.25), (0.8, 0.25), (0.5, 0.5), (0.2, 0.75), (0.8, 0.75))
"""Where the targets go on each monitor, as fractions of its width and height."""
RADIUS = 8


@dataclass
class TargetResult:
    """One target: where it was, where LOKI saw it, clicked, and where the click landed."""

    monitor: int
    target: tuple[int, int]
    seen: tuple[float, float] | None = None
    """The point in the sent image, in the report's convention."""
    clicked: tuple[int, int] | None = None
    landed: tuple[int, int] | None = None

    @property
    def error_px(self) -> float | None:
        """Distance from the target to where the click landed; None when it was not seen or not received."""
        if self.landed is None:
            return None
        return math.hypot(self.landed[0] - self.target[0], self.landed[1] - self.target[1])

    def as_dict(self) -> dict[str, Any]:
        """For the JSON report."""
        error = self.error_px
        return {
            "monitor": self.monitor,
            "target": list(self.target),
            "seen": None if self.seen is None else [round(v, 3) for v in self.seen],
            "clicked": None if self.clicked is None else list(self.clicked),
            "landed": None if self.landed is None else list(self.landed),
            "error_px": None if error is None else round(error, 2),
        }


@dataclass
class Calibration:
    """The report."""

    targets: list[TargetResult]
    convention: Convention
    frames: list[dict[str, Any]] = field(default_factory=list)
    click_offset: tuple[int, int] = (0, 0)

    @property
    def errors(self) -> list[float]:
        """The errors of the targets that were clicked and heard."""
        return [e for t in self.targets if (e := t.error_px) is not None]

    @property
    def median_px(self) -> float | None:
        """Median error in pixels (None when no click landed)."""
        return statistics.median(self.errors) if self.errors else None

    @property
    def max_px(self) -> float | None:
        """Largest error in pixels."""
        return max(self.errors) if self.errors else None

    @property
    def missed(self) -> int:
        """Targets not seen in the screenshot or whose click never reached the window."""
        return sum(1 for t in self.targets if t.landed is None)

    @property
    def suggested_click_offset(self) -> tuple[int, int] | None:
        """The click offset that would cancel the median displacement (for the display profile)."""
        moved = [(t.landed[0] - t.target[0], t.landed[1] - t.target[1]) for t in self.targets if t.landed]
        if not moved:
            return None
        dx = statistics.median(m[0] for m in moved)
        dy = statistics.median(m[1] for m in moved)
        return (self.click_offset[0] - round(dx), self.click_offset[1] - round(dy))

    def as_dict(self) -> dict[str, Any]:
        """The JSON report."""
        median, worst = self.median_px, self.max_px
        return {
            "convention": str(self.convention),
            "targets": [t.as_dict() for t in self.targets],
            "median_px": None if median is None else round(median, 2),
            "max_px": None if worst is None else round(worst, 2),
            "missed": self.missed,
            "click_offset": list(self.click_offset),
            "suggested_click_offset": None
            if self.suggested_click_offset is None
            else list(self.suggested_click_offset),
            "frames": self.frames,
        }


def target_spots(monitors: list[Monitor]) -> list[tuple[int, tuple[int, int]]]:
    """(monitor index, screen point) of every target."""
    spots = []
    for monitor in monitors:
        for fx, fy in SPOTS:
            spots.append(
                (monitor.index, (monitor.left + round(monitor.width * fx), monitor.top + round(monitor.height * fy)))
            )
    return spots


def find_targets(shot: Screenshot) -> list[tuple[float, float]]:
    """The centres of the red squares in a screenshot, in its image's pixels (top to bottom, left to right)."""
    import numpy as np

    pixels = np.asarray(shot.image.convert("RGB"), dtype=np.int16)
    red, green, blue = pixels[..., 0], pixels[..., 1], pixels[..., 2]
    mask = (red >= 150) & (green <= 110) & (blue <= 110)
    seen = np.zeros(mask.shape, dtype=bool)
    found: list[tuple[float, float]] = []
    height, width = mask.shape
    for y0, x0 in zip(*np.nonzero(mask), strict=True):
        if seen[y0, x0]:
            continue
        stack, xs, ys = [(int(y0), int(x0))], [], []
        seen[y0, x0] = True
        while stack:
            y, x = stack.pop()
            xs.append(x)
            ys.append(y)
            for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
                if 0 <= ny < height and 0 <= nx < width and mask[ny, nx] and not seen[ny, nx]:
                    seen[ny, nx] = True
                    stack.append((ny, nx))
        if len(xs) >= 4:
            found.append((sum(xs) / len(xs), sum(ys) / len(ys)))
    return sorted(found, key=lambda p: (round(p[1]), p[0]))


class TargetWindow:
    """The Tk window with the targets, in a child process (`loki.screen.targets`)."""

    def __init__(self, box: tuple[int, int, int, int], targets: list[tuple[int, int]], timeout_s: float = 120) -> None:
        fd, name = tempfile.mkstemp(prefix="loki-calibrate-", suffix=".jsonl")
        os.close(fd)
        self.log = Path(name)
        spec = {"box": list(box), "targets": [list(t) for t in targets], "radius": RADIUS, "timeout_s": timeout_s}
        package_root = str(Path(__file__).resolve().parents[2])
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [package_root, os.environ.get("PYTHONPATH")]))}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "loki.screen.targets", str(self.log), json.dumps(spec)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def records(self) -> list[dict[str, Any]]:
        """Everything the window logged so far."""
        try:
            text = self.log.read_text(encoding="utf-8")
        except OSError:
            return []
        return [json.loads(line) for line in text.splitlines() if line.endswith("}")]

    def clicks(self) -> list[tuple[int, int]]:
        """Where the clicks landed, in order."""
        return [(int(r["click"][0]), int(r["click"][1])) for r in self.records() if "click" in r]

    def wait_ready(self, timeout_s: float = 10.0) -> None:
        """Until the window says it is shown; ScreenError if it dies or never does."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if any(r.get("ready") for r in self.records()):
                return
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode(errors="replace").strip() if self.process.stderr else ""
                raise ScreenError(f"The calibration window could not open: {err[-400:] or self.process.returncode}")
            time.sleep(0.05)
        raise ScreenError(f"The calibration window did not appear within {timeout_s:g} s")

    def close(self) -> None:
        """Close the window and remove its log."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self.process.stderr:
            self.process.stderr.close()
        self.log.unlink(missing_ok=True)


def _shot_with_targets(
    screen: Screen, monitor: Monitor, expected: int, longest: int | None, timeout_s: float
) -> tuple[Screenshot, list[tuple[float, float]]]:
    """A screenshot of the monitor once all its targets show (the window may still be drawing)."""
    deadline = time.monotonic() + timeout_s
    while True:
        shot = screen.shot(monitor, longest=longest)
        found = find_targets(shot)
        if len(found) >= expected or time.monotonic() >= deadline:
            return shot, found
        time.sleep(0.1)


def calibrate(
    screen: Screen,
    click: Callable[[int, int], None],
    *,
    convention: Convention = Convention.PIXELS,
    longest: int | None = None,
    wait_s: float = 5.0,
) -> Calibration:
    """Show the targets over the whole screen, click each one found, and report where the clicks landed.

    `click(x, y)` clicks a screen pixel (pyautogui through `PyAutoGuiDriver.click` in the CLI);
    `longest` scales each screenshot down first (as for a model); `convention` is how each found
    point is written before it is mapped back.
    """
    monitors = screen.monitors()
    spots = target_spots(monitors)
    whole = screen.virtual()
    window = TargetWindow((whole.left, whole.top, whole.width, whole.height), [p for _, p in spots])
    report = Calibration([TargetResult(m, p) for m, p in spots], convention, click_offset=screen.profile.click_offset)
    try:
        window.wait_ready()
        for monitor in monitors:
            mine = [t for t in report.targets if t.monitor == monitor.index]
            shot, found = _shot_with_targets(screen, monitor, len(mine), longest, wait_s)
            report.frames.append(shot.frame.as_dict())
            for point in found:
                seen = convert(point[0], point[1], shot.frame, Convention.PIXELS, convention)
                clicked = image_to_click(seen[0], seen[1], shot.frame, convention)
                before = len(window.clicks())
                click(*clicked)
                landed = _wait_for_click(window, before, wait_s)
                # The target this point was: the nearest one on the monitor, where it really is.
                target = min(mine, key=lambda t: math.hypot(t.target[0] - clicked[0], t.target[1] - clicked[1]))
                if target.seen is None:
                    target.seen, target.clicked, target.landed = seen, clicked, landed
    finally:
        window.close()
    return report


def _wait_for_click(window: TargetWindow, before: int, timeout_s: float) -> tuple[int, int] | None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        clicks = window.clicks()
        if len(clicks) > before:
            return clicks[before]
        time.sleep(0.02)
    return None
