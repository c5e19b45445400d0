"""One tier-2 step on real apps: ground, hit-test, click, settle, verify, through `ScreenActor.click`.

    PYTHONPATH=$PWD .venv/bin/python benchmarks/screen_step_bench.py [--yad 36] [--seeds 6] [--per-window 6]
        [--ru-every 3] [--xdotool] [--json]

Issue 16's target for one step: at most 0.5 s through the accessibility tree, 1.5 s through OCR, the
settle wait not counted. Starts its own Xvfb (1280x800), openbox, D-Bus session and AT-SPI bus, and
builds the actor as tier 2 does (`ScreenActor.from_settings` over `default_finders(ScreenSettings())`:
accessibility, then OCR). Then:

- accessibility: a yad dialog with several buttons per launch, one named button clicked; its exit code
  says which button was pressed;
- OCR: tests/apps/tkbuttons.py windows (Tk has no accessibility, so the cascade falls to OCR), several
  buttons clicked per seed (every `--ru-every`th seed with a few Russian labels); its log says which.

The click goes through the executor's own driver (pyautogui; `--xdotool` for xdotool). Prints, per
source: clicks right / total, wrong clicks, clicks the check after it did not notice (or noticed when
nothing was clicked), and p50/p95 ms of the step without the settle wait, of the settle wait, of each
stage of `ClickReport.timings_ms`, of the part of `screen_total` no stage covers (the active window
looked up, the window observed before the click) and of the whole call timed here. The first click of
each source (the bus connection, the OCR model loading) is shown apart, not in the percentiles.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from apps.a11y_desktop import a11y_session, click, launched, stop, wait_for, x_display, xdotool  # noqa: E402

from loki.brain.tier2 import default_finders  # noqa: E402
from loki.config import ScreenSettings  # noqa: E402
from loki.screen.act import ClickReport, ScreenActor  # noqa: E402
from loki.screen.ground import Target  # noqa: E402

TKBUTTONS = Path(__file__).resolve().parent.parent / "tests" / "apps" / "tkbuttons.py"
YAD_BUTTONS = ["Open", "Save", "Save As", "Print", "Export", "Close", "Отмена", "Сохранить"]
"""One row that fits on 1280 pixels; "Save" beside "Save As", two Russian ones."""
STAGES = ("ground", "hit_test", "act", "settle", "verify", "screen_total")
FIGURES = (
    "step", "settle", "ground", "ground_a11y", "ground_ocr", "hit_test", "act", "verify", "unstaged", "screen_total",
    "call",
)  # fmt: skip
"""step: screen_total without settle; ground_<source>: that finder's share of ground; unstaged: screen_total
minus every stage; call: the whole call, timed here."""


class TimedFinder:
    """A cascade finder whose `find` calls are timed (everything else goes straight to it)."""

    def __init__(self, finder: Any) -> None:
        self.finder = finder
        self.source: str = finder.source
        self.find_ms = 0.0

    def find(self, *args: Any, **kwargs: Any) -> Any:
        """The finder's `find`, its milliseconds added to `find_ms`."""
        started = time.perf_counter()
        try:
            return self.finder.find(*args, **kwargs)
        finally:
            self.find_ms += (time.perf_counter() - started) * 1000

    def __getattr__(self, name: str) -> Any:
        return getattr(self.finder, name)


@dataclass
class Step:
    """One `ScreenActor.click` and what the app says was clicked."""

    name: str
    right: bool
    wrong: bool
    """Another control was clicked (on the way, or in the end)."""
    ok: bool
    """What the actor said."""
    clicked: bool
    """The app saw a click on some control."""
    sources: list[str]
    tries: int
    ms: dict[str, float]
    note: str = ""


@dataclass
class Tally:
    """Every step of one source."""

    steps: list[Step] = field(default_factory=list)

    def figures(self) -> dict[str, object]:
        """Counts, the first step apart, p50/p95 of the rest."""
        warm = self.steps[1:]
        out: dict[str, object] = {
            "clicks": len(self.steps),
            "right": sum(s.right for s in self.steps),
            "wrong_clicks": sum(s.wrong for s in self.steps),
            "verify_missed": sum(s.clicked and not s.ok for s in self.steps),
            "verify_false": sum(s.ok and not s.clicked for s in self.steps),
            "corrected": sum(s.tries > 1 for s in self.steps),
            "clicked_by": {src: sum(s.sources[-1:] == [src] for s in self.steps) for src in ("a11y", "ocr", "vision")},
            "first_ms": {k: round(v, 1) for k, v in self.steps[0].ms.items()} if self.steps else {},
            "ms": {},
        }
        for name in FIGURES:
            values = [s.ms[name] for s in warm if name in s.ms]
            if values:
                out["ms"][name] = {  # type: ignore[index]
                    "p50": round(statistics.median(values), 1),
                    "p95": round(_percentile(values, 0.95), 1),
                    "max": round(max(values), 1),
                    "n": len(values),
                }
        by_language: dict[str, list[float]] = {}
        for s in warm:
            by_language.setdefault(_language(s.name), []).append(s.ms["step"])
        out["step_ms_by_language"] = {
            lang: {"p50": round(statistics.median(v), 1), "p95": round(_percentile(v, 0.95), 1), "n": len(v)}
            for lang, v in sorted(by_language.items())
        }
        out["misses"] = [f"{s.name}: {s.note}" for s in self.steps if s.note]
        return out


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _language(name: str) -> str:
    return "ru" if any("а" <= ch <= "я" for ch in name.casefold()) else "en"


def _timed(actor: ScreenActor, name: str, click_fn: Callable[[int, int], None]) -> tuple[ClickReport, dict[str, float]]:
    """One step through the real code path, and its figures."""
    for finder in actor.grounder.finders:
        finder.find_ms = 0.0
    started = time.perf_counter()
    report = actor.click(Target(name, language=_language(name)), click_fn)
    call_ms = (time.perf_counter() - started) * 1000
    ms = {stage: report.timings_ms.get(stage, 0.0) for stage in STAGES}
    ms["step"] = ms["screen_total"] - ms["settle"]
    ms["unstaged"] = ms["screen_total"] - sum(ms[s] for s in STAGES[:-1])
    ms["call"] = call_ms
    for finder in actor.grounder.finders:
        ms[f"ground_{finder.source}"] = finder.find_ms
    return report, ms


def _describe(report: ClickReport) -> str:
    tried = "; ".join(f"{a.source} '{a.label}' at {a.at}: {a.why or 'done'}" for a in report.attempts)
    return f"{report.message or 'ok'} [{tried}]"


def yad_steps(actor: ScreenActor, click_fn, display: str, session: str, count: int, tally: Tally) -> None:  # type: ignore[no-untyped-def]
    """A yad dialog per step; the step clicks one named button; the exit code says which."""
    argv = ["yad", "--title=Pick", "--text=Pick one", *[f"--button={n}:{10 + i}" for i, n in enumerate(YAD_BUTTONS)]]
    for i in range(count):
        name = YAD_BUTTONS[i % len(YAD_BUTTONS)]
        expected = 10 + YAD_BUTTONS.index(name)
        with launched(argv, display, session) as app:
            report, ms = _timed(actor, name, click_fn)
            try:
                code: int | None = app.wait(5.0)
            except subprocess.TimeoutExpired:
                code = None
        clicked = code is not None and code >= 10
        right = code == expected
        note = "" if right and report.ok else f"exit code {code} (wanted {expected}); {_describe(report)}"
        step = Step(name, right, clicked and not right, report.ok, clicked, [a.source for a in report.attempts],
                    len(report.attempts), ms, note)  # fmt: skip
        tally.steps.append(step)
        _progress("a11y", i + 1, count, step)


def _ready(log: Path) -> dict | None:
    if not log.exists():
        return None
    return next((json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if '"ready"' in line), None)


def _clicks(log: Path) -> list[str]:
    lines = log.read_text(encoding="utf-8").splitlines()
    return [json.loads(line)["clicked"] for line in lines if '"clicked"' in line]


def tk_steps(actor: ScreenActor, click_fn, display: str, args: argparse.Namespace, tally: Tally) -> None:  # type: ignore[no-untyped-def]
    """tkbuttons windows, `per_window` named buttons clicked in each; its log says which."""
    done, total = 0, args.seeds * args.per_window
    with tempfile.TemporaryDirectory(prefix="loki-step-") as tmp:
        for seed in range(1, args.seeds + 1):
            log = Path(tmp) / f"tk-{seed}.jsonl"
            extra = ["--ru"] if args.ru_every and seed % args.ru_every == 0 else []
            argv = [sys.executable, str(TKBUTTONS), str(log), str(seed), str(args.buttons), *extra, "--timeout", "600"]
            app = subprocess.Popen(argv, env={**os.environ, "DISPLAY": display})
            try:
                ready = wait_for(lambda log=log: _ready(log), f"tkbuttons {seed} showing", 30)
                xdotool("windowactivate", str(ready["id"]), display=display)
                try:
                    wait_for(
                        lambda r=ready: xdotool("getactivewindow", display=display) == str(r["id"]), "activation", 5
                    )
                except RuntimeError:
                    pass  # the actor goes by the active window, whatever it is: a miss shows it
                labels = [b["label"] for b in ready["buttons"]]
                for name in random.Random(seed).sample(labels, min(args.per_window, len(labels))):
                    before = len(_clicks(log))
                    report, ms = _timed(actor, name, click_fn)
                    time.sleep(0.2)  # Tk writes its log as the click arrives
                    got = _clicks(log)[before:]
                    right = got == [name]
                    wrong = any(label != name for label in got)
                    note = "" if right and report.ok else f"the app saw {got}; {_describe(report)}"
                    step = Step(name, right, wrong, report.ok, bool(got), [a.source for a in report.attempts],
                                len(report.attempts), ms, note)  # fmt: skip
                    tally.steps.append(step)
                    done += 1
                    _progress("ocr", done, total, step)
            finally:
                stop(app)


def _progress(source: str, i: int, count: int, step: Step) -> None:
    verdict = "right" if step.right else ("WRONG" if step.wrong else "missed")
    print(
        f"{source} {i}/{count} {step.name!r}: {verdict}, step {step.ms['step']:.0f} ms, "
        f"settle {step.ms['settle']:.0f} ms {step.note}",
        file=sys.stderr,
        flush=True,
    )


def report_text(results: dict[str, dict], settings: dict[str, object]) -> None:
    """The figures as a table."""
    print(f"settings: {settings}")
    for source, fig in results.items():
        print(
            f"\n{source}: {fig['right']}/{fig['clicks']} right, wrong clicks {fig['wrong_clicks']}, "
            f"verify missed {fig['verify_missed']}, verify said ok with nothing clicked {fig['verify_false']}, "
            f"corrected {fig['corrected']}, clicked by {fig['clicked_by']}"
        )
        first = fig["first_ms"]
        if first:
            print(f"  first click (cold): step {first['step']:.0f} ms, ground {first['ground']:.0f} ms")
        print(f"  {'ms':14}{'p50':>9}{'p95':>9}{'max':>9}{'n':>5}")
        for name, row in fig["ms"].items():
            print(f"  {name:14}{row['p50']:9.1f}{row['p95']:9.1f}{row['max']:9.1f}{row['n']:5d}")
        for lang, row in fig["step_ms_by_language"].items():
            print(f"  step, {lang} names: p50 {row['p50']:.1f}, p95 {row['p95']:.1f} (n={row['n']})")
        for miss in fig["misses"]:
            print(f"  miss: {miss}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--yad", type=int, default=36, help="yad dialogs (one click each)")
    parser.add_argument("--seeds", type=int, default=6, help="tkbuttons windows")
    parser.add_argument("--per-window", type=int, default=6, help="buttons clicked in each tkbuttons window")
    parser.add_argument("--buttons", type=int, default=12, help="buttons in each tkbuttons window")
    parser.add_argument("--ru-every", type=int, default=3, help="every nth seed has a few Russian labels (0: none)")
    parser.add_argument("--xdotool", action="store_true", help="click with xdotool, not the executor's pyautogui")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args()

    screen = ScreenSettings()
    tallies = {"a11y": Tally(), "ocr": Tally()}
    number = 100 + os.getpid() % 50
    with (
        contextlib.redirect_stdout(sys.stderr),  # python-xlib prints its xauth warnings: stdout is the figures'
        x_display(number) as display,
        a11y_session(display) as session,
    ):
        os.environ["DISPLAY"] = display
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = session
        os.environ.pop("AT_SPI_BUS_ADDRESS", None)
        if args.xdotool:
            click_fn: Callable[[int, int], None] = click
        else:
            from loki.actions.drivers import PyAutoGuiDriver

            driver = PyAutoGuiDriver()
            click_fn = lambda x, y: driver.click(x, y, "left", 1)  # noqa: E731
        actor = ScreenActor.from_settings(screen, [TimedFinder(f) for f in default_finders(screen)])
        try:
            yad_steps(actor, click_fn, display, session, args.yad, tallies["a11y"])
            tk_steps(actor, click_fn, display, args, tallies["ocr"])
        finally:
            actor.close()
    settings = {
        "finders": [f.source for f in actor.grounder.finders],
        "ocr": screen.ocr,
        "settle_s": actor.settle_s,
        "tries": actor.tries,
        "budget_s": actor.budget_s,
        "click": "xdotool" if args.xdotool else "pyautogui",
        "cpus": os.cpu_count(),
    }
    results = {source: tally.figures() for source, tally in tallies.items() if tally.steps}
    if args.json:
        print(json.dumps({"settings": settings, "sources": results}, ensure_ascii=False, indent=2))
    else:
        report_text(results, settings)


if __name__ == "__main__":
    main()
