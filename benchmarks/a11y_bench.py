"""The accessibility stage on real GTK apps: accuracy of grounding named controls, and what a step costs.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/a11y_bench.py

Starts its own Xvfb displays (1280x800, and 2560x1600 for GDK_SCALE=2), openbox, D-Bus sessions and
AT-SPI buses. For each named control of zenity and yad dialogs, gtk3-widget-factory, mousepad and
gnome-calculator (GTK4): ground it, hit-test its point, and where a click is observable (a dialog's
exit code, the calculator's display) really click it. Prints accuracy, wrong clicks and p50/p95 ms of
one ground step and one hit-test.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from apps.a11y_desktop import a11y_session, click, launched, wait_for, x_display  # noqa: E402

from loki.screen.a11y import AccessibilityFinder  # noqa: E402
from loki.screen.ground import Candidate, Target, Window, clean_label, pick, reading_order  # noqa: E402

YAD_BUTTONS = ["Open", "Save", "Save As", "Print", "Export", "Import", "Close", "Copy", "Paste", "Отмена", "Сохранить"]
"""As many as fit in one row on 1280 pixels: a wider dialog puts its last buttons off the screen."""
YAD_CLICKED = ["Print", "Сохранить", "Отмена"]
"""The button clicked in each launch."""
CALC_KEYS = ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "+", "−", "×", "÷", "=", "(", ")", "%", ".", "mod", "π"]


@dataclass
class Tally:
    """What the run found and cost."""

    right: int = 0
    total: int = 0
    clicks: int = 0
    wrong_clicks: int = 0
    ground_ms: list[float] = field(default_factory=list)
    hit_ms: list[float] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    per_app: dict[str, list[int]] = field(default_factory=dict)
    app_ms: dict[str, list[float]] = field(default_factory=dict)
    """Ground-step milliseconds per app."""


def soon() -> float:
    return time.monotonic() + 10.0


def ground(finder: AccessibilityFinder, tally: Tally, app: str, target: Target, window: Window, expect_ref=None):  # type: ignore[no-untyped-def]
    """Ground `target`, hit-test its point; count it right when both answer the same control (and `expect_ref`)."""
    started = time.perf_counter()
    got = pick(finder.find(target, window, soon()), target)
    tally.ground_ms.append((time.perf_counter() - started) * 1000)
    tally.app_ms.setdefault(app, []).append(tally.ground_ms[-1])
    best: Candidate | None = got[0] if got else None
    ok = best is not None and window.box.contains(*best.point) and (expect_ref is None or best.ref == expect_ref)
    if best is not None:
        started = time.perf_counter()
        hit = finder.hit_test(*best.point, window, soon())
        tally.hit_ms.append((time.perf_counter() - started) * 1000)
        ok = ok and hit is not None and hit.ref == best.ref
    tally.total += 1
    tally.right += ok
    counts = tally.per_app.setdefault(app, [0, 0])
    counts[0] += ok
    counts[1] += 1
    if not ok:
        tally.misses.append(f"{app}: {target.name!r} ({target.role}, nth {target.nth})")
    return best if ok else None


def shows(finder: AccessibilityFinder, window: Window, typed: str) -> bool:
    """Whether the calculator's display shows `typed` (it groups digits: 1,234)."""
    return any(typed in "".join(ch for ch in t if ch.isdigit()) for t in finder.texts(window, soon()))


def clicked(tally: Tally, right: bool, what: str) -> None:
    tally.clicks += 1
    tally.wrong_clicks += not right
    if not right:
        tally.misses.append(f"wrong click: {what}")


def dialogs(
    finder: AccessibilityFinder, tally: Tally, display: str, session: str, env: dict[str, str], tag: str
) -> None:
    """zenity questions (English, Russian) and a yad dialog with many buttons, each clicked once per launch."""
    for ok_label, cancel, asked, code in (("Save", "Discard", "Save", 0), ("Сохранить", "Отмена", "отмена", 1)):
        argv = ["zenity", "--question", f"--ok-label={ok_label}", f"--cancel-label={cancel}", "--text=Keep it?"]
        with launched(argv, display, session, env) as app:
            other = cancel if asked.casefold() == ok_label.casefold() else ok_label
            ground(finder, tally, f"zenity{tag}", Target(other, role="button"), app.window)
            best = ground(finder, tally, f"zenity{tag}", Target(asked, role="button"), app.window)
            if best is not None:
                click(*best.point, display=display)
                clicked(tally, app.wait() == code, f"zenity{tag} {asked}")
    argv = ["yad", "--text=Pick one", *[f"--button={n}:{10 + i}" for i, n in enumerate(YAD_BUTTONS)]]
    for round_ in range(3 if not tag else 1):
        with launched(argv, display, session, env) as app:
            hits = {}
            for name in YAD_BUTTONS if round_ == 0 else ():
                hits[name] = ground(finder, tally, f"yad{tag}", Target(name, role="button"), app.window)
            name = YAD_CLICKED[round_]
            best = hits.get(name) or ground(finder, tally, f"yad{tag}", Target(name, role="button"), app.window)
            if best is not None:
                click(*best.point, display=display)
                clicked(tally, app.wait() == 10 + YAD_BUTTONS.index(name), f"yad{tag} {name}")


def every_named(finder: AccessibilityFinder, tally: Tally, app_name: str, window: Window, roles: set[str]) -> None:
    """Ground every showing named control of these roles by name and role; the nth in reading order of duplicates.

    The expected control of each (name, role, nth) comes from one look at everything the window shows.
    """
    everything: dict[str, Candidate] = {}
    for name in set(finder.texts(window, soon())):
        for c in finder.find(Target(name), window, soon()):
            if c.role in roles and clean_label(c.label) == clean_label(name):
                everything.setdefault(repr(c.ref), c)
    groups: dict[tuple[str, str], list[Candidate]] = {}
    for c in everything.values():
        groups.setdefault((clean_label(c.label), c.role), []).append(c)
    for (_, role), group in sorted(groups.items()):
        ordered = reading_order(group)
        for nth, expected in enumerate(ordered, 1):
            target = Target(expected.label, role=role, nth=nth if len(ordered) > 1 else 0)
            ground(finder, tally, app_name, target, window, expected.ref)


def main() -> None:
    tally = Tally()
    number = 100 + os.getpid() % 50
    with x_display(number) as display, a11y_session(display) as session:
        os.environ["DISPLAY"] = display
        with AccessibilityFinder(session_bus=session) as finder:
            dialogs(finder, tally, display, session, {}, "")
            with launched(["gtk3-widget-factory"], display, session) as app:
                roles = {"push button", "toggle button", "radio button", "check box", "page tab", "combo box", "label"}
                every_named(finder, tally, "widget-factory", app.window, roles)
            with launched(["mousepad", "--disable-server"], display, session) as app:
                for name in ("File", "Edit", "Search", "View", "Document", "Help"):
                    ground(finder, tally, "mousepad", Target(name, role="menu"), app.window)
            with launched(["gnome-calculator"], display, session) as app:
                typed = ""
                for key in CALC_KEYS:
                    best = ground(finder, tally, "calculator", Target(key, role="button"), app.window)
                    if best is not None and key.isdigit():
                        click(*best.point, display=display)
                        typed += key
                        try:
                            wait_for(lambda t=typed: shows(finder, app.window, t), "the display", 5)
                            clicked(tally, True, key)
                        except RuntimeError:
                            clicked(tally, False, f"calculator {key} after {typed[:-1]!r}")
    with x_display(number + 50, "2560x1600") as display, a11y_session(display) as session:
        os.environ["DISPLAY"] = display
        with AccessibilityFinder(session_bus=session) as finder:
            dialogs(finder, tally, display, session, {"GDK_SCALE": "2"}, "@2x")

    def pct(values: list[float], q: float) -> float:
        return sorted(values)[min(len(values) - 1, int(len(values) * q))] if values else float("nan")

    print(f"controls: {tally.right}/{tally.total} right ({100 * tally.right / max(1, tally.total):.1f} %)")
    for app_name, (right, total) in tally.per_app.items():
        print(f"  {app_name:16} {right}/{total}, ground step p50 {statistics.median(tally.app_ms[app_name]):.1f} ms")
    print(f"clicks: {tally.clicks}, wrong: {tally.wrong_clicks}")
    print(
        f"ground step ms: p50 {statistics.median(tally.ground_ms):.1f}, p95 {pct(tally.ground_ms, 0.95):.1f} "
        f"(n={len(tally.ground_ms)})"
    )
    print(
        f"hit-test ms:    p50 {statistics.median(tally.hit_ms):.1f}, p95 {pct(tally.hit_ms, 0.95):.1f} (n={len(tally.hit_ms)})"
    )
    for miss in tally.misses:
        print("  miss:", miss)


if __name__ == "__main__":
    main()
