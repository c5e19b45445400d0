"""Act, check, correct: click a named control, make sure it worked, and try otherwise when it did not.

One `ScreenActor` does tier 2's part of a click on a target (`{"type": "click", "target": {...}}`):

1. **locate**: the active window, then the grounding cascade (`loki.screen.ground.Grounder`).
2. **hit-test** before every click: the point must be inside the active window and still show the
   control (an accessibility point query, or OCR re-reading the box); a stale screenshot (the page
   moved on) is found out here, not by a wrong click.
3. **click** through the executor's input driver (pyautogui).
4. **settle**: wait until the window's pixels stop changing (bounded by `settle_s`; reported apart).
5. **verify**: the click worked when the active window changed or closed (a dialog answered), the
   accessibility tree changed (focus, a state, a new control) or the window's pixels changed outside
   the clicked control (hovering it changes only the control itself).
6. **correct**: the next candidate, then the vision model with a new screenshot and what was tried;
   at most `tries` corrections within `budget_s`; a wrong control named like a risky one is never
   clicked on a correction. A cancelled turn ("stop") is seen before every click.

Everything here blocks: it runs in the executor's action thread.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from loki.errors import ScreenError
from loki.screen.coords import Box
from loki.screen.ground import MATCH, Candidate, Found, Grounder, Target, Window, label_score

log = logging.getLogger(__name__)

_POLL_S = 0.08
_CHANGED_PIXELS = 24
"""Pixels that must change outside the clicked control for a click to count as having done something."""
_TRYING_AGAIN = {"en": "That did not work; trying another way.", "ru": "Не удалось, пробую иначе."}
_HOVER_MARGIN = 6
"""Pixels around the control that hovering or a focus ring may repaint."""


def active_window() -> Window:
    """The active window: its id, inside box, process and title (X11)."""
    from loki.screen.capture import active_window_id, window_box

    window_id = active_window_id()
    box = window_box(window_id)
    pid, title = 0, ""
    exe = shutil.which("xdotool")
    if exe:
        try:
            out = subprocess.run(
                [exe, "getwindowpid", str(window_id), "getwindowname", str(window_id)],
                capture_output=True,
                text=True,
                timeout=2.0,
            ).stdout.splitlines()
        except (OSError, subprocess.SubprocessError):
            out = []
        if out and out[0].strip().isdigit():
            pid = int(out[0])
            title = out[1] if len(out) > 1 else ""
        elif out:
            title = out[-1]
    app = ""
    if pid:
        import psutil

        try:
            app = psutil.Process(pid).name()
        except psutil.Error:
            app = ""
    return Window(window_id, box, pid, app, title)


@dataclass
class Attempt:
    """One try: where, on what, and why it did not do (empty `why`: it worked)."""

    at: tuple[int, int]
    label: str
    source: str
    why: str = ""

    def as_dict(self) -> dict[str, Any]:
        """For the turn's JSON and for the vision model's correction request."""
        return {"at": list(self.at), "label": self.label, "source": self.source, "why": self.why}


@dataclass
class ClickReport:
    """What a click on a target did."""

    ok: bool
    target: Target
    attempts: list[Attempt] = field(default_factory=list)
    message: str = ""
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def clicked(self) -> Attempt | None:
        """The attempt that worked."""
        return next((a for a in self.attempts if not a.why), None)

    def add_ms(self, stage: str, since: float) -> None:
        """Add the milliseconds since `since` (perf_counter) to `stage`."""
        self.timings_ms[stage] = round(self.timings_ms.get(stage, 0.0) + (time.perf_counter() - since) * 1000, 1)


@dataclass(frozen=True)
class Observation:
    """What the window looked like: to tell whether a click did anything."""

    window: int
    box: Box | None
    pixels: Any  # a numpy array of the window crop (gray), or None
    tree: frozenset | None


class ScreenActor:
    """Clicks named controls and checks that it worked (see the module's doc)."""

    def __init__(
        self,
        grounder: Grounder,
        *,
        window: Callable[[], Window] = active_window,
        screen_factory: Callable[[], Any] | None = None,
        settle_s: float = 2.0,
        tries: int = 3,
        budget_s: float = 20.0,
        reader: Any = None,
        offset: tuple[int, int] = (0, 0),
    ) -> None:
        self.grounder = grounder
        self.offset = offset
        """The display profile's click offset, added to every click (boxes are where the controls are)."""
        self.reader = reader if reader is not None else self.finder("ocr")
        """Re-reads a box before a click (`loki.screen.ocr.OcrFinder.reread`); None: no OCR check."""
        self.window = window
        self._screen_factory = screen_factory
        self.settle_s = settle_s
        self.tries = tries
        self.budget_s = budget_s
        self._screen: Any = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, finders: list[Any], offset: tuple[int, int] = (0, 0)) -> ScreenActor:
        """An actor over `finders` (cheapest first) with the settings' budget, tries and settle time."""
        from loki.config import ScreenSettings

        screen = ScreenSettings.of(settings)
        return cls(
            Grounder(finders),
            settle_s=screen.screen_settle_s,
            tries=screen.screen_tries,
            budget_s=screen.screen_budget_s,
            offset=offset,
        )

    # Finders by source -------------------------------------------------------------------------
    def finder(self, source: str) -> Any:
        """The cascade's finder for `source` (a11y, ocr, vision), or None."""
        return next((f for f in self.grounder.finders if f.source == source), None)

    def close(self) -> None:
        """Let go of the bus connection and the screen."""
        for finder in self.grounder.finders:
            close = getattr(finder, "close", None)
            if close is not None:
                close()
        if self._screen is not None:
            self._screen.close()
            self._screen = None

    def _screen_now(self) -> Any:
        if self._screen is None:
            if self._screen_factory is not None:
                self._screen = self._screen_factory()
            else:
                from loki.screen.capture import Screen

                self._screen = Screen()
        return self._screen

    def _grab(self, box: Box) -> Any:
        import numpy as np

        with self._lock:
            shot = self._screen_now().window(box)
        return np.asarray(shot.image.convert("L"), dtype=np.int16)

    def _on_screen(self, x: int, y: int) -> bool:
        """True when the pixel is on the screen (a dialog wider than the screen has controls off it)."""
        with self._lock:
            return bool(self._screen_now().virtual().box.contains(x, y))

    # 1. Locate -----------------------------------------------------------------------------------
    def locate(self, target: Target, deadline: float, *, skip: tuple[str, ...] = ()) -> tuple[Window, Found]:
        """The active window and the cascade's candidates for `target` in it."""
        window = self.window()
        return window, self.grounder.find(target, window, deadline, skip=skip)

    # 2. Hit-test ---------------------------------------------------------------------------------
    def hit_test(self, candidate: Candidate, window: Window, deadline: float, target_name: str = "") -> str:
        """Why clicking `candidate` now would be wrong ("" when its point shows it)."""
        x, y = candidate.point
        if not window.box.contains(x, y):
            return "the point is outside the active window"
        if not self._on_screen(x, y):
            return "the control is off the screen"
        if candidate.source == "a11y":
            a11y = self.finder("a11y")
            hit = a11y.hit_test(x, y, window) if a11y is not None else None
            if hit is None:
                return "nothing accessible is at that point"
            if hit.ref == candidate.ref or label_score(candidate.label, hit.label) >= MATCH:
                return ""
            if hit.box.width * hit.box.height > candidate.box.width * candidate.box.height:
                return ""  # a container (the control itself has no children to point at): the box is the control's
            return f"'{hit.label or hit.role}' is at that point now"
        if self.reader is None:
            return ""  # nothing can read the point again: the check after the click decides
        if candidate.source == "vision":
            # A model's point, not a box: read a line's worth around it for the name asked for.
            name = target_name or ""
            if not name:
                return ""  # a description ("the red icon"): nothing to read
            score = self.reader.reread(_inside(_around(candidate, name), window.box), name)
            return "" if score >= MATCH else f"'{name}' is not written at that point"
        if not candidate.label:
            return ""
        score = self.reader.reread(candidate.box, candidate.label)
        return "" if score >= MATCH else f"the box no longer reads '{candidate.label}'"

    # 3-5. Click, settle, verify ------------------------------------------------------------------
    def observe(self, window: Window, deadline: float, with_tree: bool) -> Observation:
        """The active window and what it shows now."""
        from loki.screen.capture import active_window_id, window_box

        try:
            current = active_window_id()
            box = window_box(current)
        except ScreenError:
            return Observation(0, None, None, None)
        pixels = self._grab(box) if current == window.id else None
        tree = None
        if with_tree and current == window.id:
            a11y = self.finder("a11y")
            try:
                tree = a11y.fingerprint(window, deadline) if a11y is not None else None
            except Exception:  # the app went away mid-query: the window check decides
                tree = None
        return Observation(current, box, pixels, tree)

    def settle(self, window: Window, deadline: float) -> None:
        """Wait until two grabs of the window in a row are the same, or it is gone, or `settle_s` passed."""
        import numpy as np

        from loki.screen.capture import active_window_id, window_box

        end = min(deadline, time.monotonic() + self.settle_s)
        last = None
        while time.monotonic() < end:
            time.sleep(_POLL_S)
            try:
                if active_window_id() != window.id:
                    return
                now = self._grab(window_box(window.id))
            except ScreenError:
                return
            if last is not None and last.shape == now.shape and np.array_equal(last, now):
                return
            last = now

    @staticmethod
    def changed(before: Observation, after: Observation, candidate: Candidate) -> str:
        """What changed between the two observations ('' when nothing did)."""
        import numpy as np

        if after.window != before.window:
            return "the active window changed"
        if after.box != before.box:
            return "the window moved or changed size"
        if before.tree is not None and after.tree is not None and before.tree != after.tree:
            return "the window's controls changed"
        if before.pixels is None or after.pixels is None or before.pixels.shape != after.pixels.shape:
            return ""
        diff = np.abs(after.pixels - before.pixels) > 24
        if before.box is not None:  # hovering repaints the control itself: look only outside it
            b = _around(candidate)
            left = max(0, int(b.left - before.box.left) - _HOVER_MARGIN)
            top = max(0, int(b.top - before.box.top) - _HOVER_MARGIN)
            right = int(b.left + b.width - before.box.left) + _HOVER_MARGIN
            bottom = int(b.top + b.height - before.box.top) + _HOVER_MARGIN
            diff[top:bottom, left:right] = False
        return "the window changed" if int(diff.sum()) >= _CHANGED_PIXELS else ""

    # The loop ------------------------------------------------------------------------------------
    def click(
        self,
        target: Target,
        click: Callable[[int, int], None],
        *,
        first: Candidate | None = None,
        cancelled: threading.Event | None = None,
        risky: Callable[[str], bool] = lambda label: False,
        notify: Callable[[str], None] = lambda text: None,
    ) -> ClickReport:
        """Click `target` (at `first` when the plan already grounded it) and check it; correct up to `tries` times."""
        report = ClickReport(False, target)
        deadline = time.monotonic() + self.budget_s
        started = time.perf_counter()
        window = self.window()
        queue: list[Candidate] = [first] if first is not None else []
        tried: list[Candidate] = []
        grounded = False
        clicked = False
        while len(report.attempts) <= self.tries:
            if cancelled is not None and cancelled.is_set():
                report.message = "Stopped."
                return report
            if time.monotonic() >= deadline:
                report.message = f"I ran out of time ({self.budget_s:g} s, LOKI_SCREEN_BUDGET_S)."
                break
            if not queue:
                try:
                    queue = self._more(target, report, tried, deadline, grounded)
                except ScreenError:
                    if not clicked:
                        raise
                    # The window clicked in went away while the next look began: the click closed it (a dialog
                    # slower to close than the check after the click).
                    report.attempts[-1].why = ""
                    report.ok, report.message = True, ""
                    break
                grounded = True
                if not queue:
                    break
            candidate = queue.pop(0)
            if any(_same_place(candidate, a) for a in report.attempts):
                continue
            attempt = Attempt(candidate.point, candidate.label, candidate.source)
            report.attempts.append(attempt)
            tried.append(candidate)
            if report.attempts[:-1] and risky(candidate.label) and label_score(target.said, candidate.label) < 1.0:
                attempt.why = f"it is labelled '{candidate.label}', which I only click when you ask for it by name"
                continue
            t = time.perf_counter()
            attempt.why = self.hit_test(candidate, window, deadline, target.name)
            report.add_ms("hit_test", t)
            if attempt.why:
                continue
            with_tree = candidate.source == "a11y"
            before = self.observe(window, deadline, with_tree)
            if cancelled is not None and cancelled.is_set():
                attempt.why = "stopped"
                report.message = "Stopped."
                return report
            t = time.perf_counter()
            click(candidate.point[0] + self.offset[0], candidate.point[1] + self.offset[1])
            clicked = True
            report.add_ms("act", t)
            t = time.perf_counter()
            self.settle(window, deadline)
            report.add_ms("settle", t)
            t = time.perf_counter()
            after = self.observe(window, deadline, with_tree)
            what = self.changed(before, after, candidate)
            report.add_ms("verify", t)
            if what:
                report.ok = True
                report.message = ""
                break
            attempt.why = "nothing changed after the click"
            if len(report.attempts) <= self.tries:
                notify(_TRYING_AGAIN.get(target.language, _TRYING_AGAIN["en"]))
        report.add_ms("screen_total", started)
        if not report.ok and not report.message:
            report.message = _why_not(target, report)
        return report

    def _more(
        self, target: Target, report: ClickReport, tried: list[Candidate], deadline: float, grounded: bool
    ) -> list[Candidate]:
        """The next candidates: the cascade on a new screenshot (once), then the vision model with what was tried."""
        t = time.perf_counter()
        try:
            if not grounded:
                found = self.grounder.find(target, self.window(), deadline)
                fresh = [c for c in found.candidates if not any(_same_place(c, a) for a in report.attempts)]
                if fresh:
                    return fresh
            vision = self.finder("vision")
            if vision is None:
                return []
            try:
                outcome = report.attempts[-1].why if report.attempts else "nothing changed"
                return list(vision.find_again(target, self.window(), tried, deadline, outcome=outcome))
            except ScreenError as exc:
                log.warning("the vision model could not help: %s", exc)
                return []
        finally:
            report.add_ms("ground", t)


def _around(candidate: Candidate, name: str = "") -> Box:
    """The control's box; for a model's point (a tiny box), a line's worth around it, as wide as the name."""
    if candidate.source != "vision":
        return candidate.box
    x, y = candidate.point
    width = max(60.0, 11.0 * len(name or candidate.label) + 24.0)
    return Box(x - width / 2, y - 16, width, 32)


def _inside(box: Box, outer: Box) -> Box:
    """`box` clipped to `outer`."""
    left, top = max(box.left, outer.left), max(box.top, outer.top)
    right = min(box.left + box.width, outer.left + outer.width)
    bottom = min(box.top + box.height, outer.top + outer.height)
    return Box(left, top, max(1.0, right - left), max(1.0, bottom - top))


def _same_place(candidate: Candidate, attempt: Attempt) -> bool:
    return abs(candidate.point[0] - attempt.at[0]) <= 3 and abs(candidate.point[1] - attempt.at[1]) <= 3


def _why_not(target: Target, report: ClickReport) -> str:
    if not report.attempts:
        return f"I can't find '{target.said}' in the active window."
    last = report.attempts[-1]
    tried = len(report.attempts)
    return f"I could not click '{target.said}': {last.why} ({tried} {'try' if tried == 1 else 'tries'})."
