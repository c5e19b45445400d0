"""OCR grounding on real Tk buttons: find each button by its name, click it, check what the app says.

    PYTHONPATH=. .venv/bin/python benchmarks/ocr_bench.py [--seeds 12] [--buttons 20] [--engine auto] [--ru-every 3]

Starts its own Xvfb (1280x800) and openbox, shows tests/apps/tkbuttons.py at one random layout per
seed (every third, or every `--ru-every`th, with a few Russian labels, read by tesseract under `auto`), and for every button: one
`OcrFinder.find` on the window, a click on the best candidate's point (xdotool), the app's log. Prints
accuracy (right / total), wrong clicks, how many wrong clicks were noticed (a reread of the candidate's
box, or of the status line "Clicked: <name>", says it is not the name), the hit-test (a reread of the
found box says yes to the name and no to another button's label), and p50/p95 ms of one find and of one
reread, per engine.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from apps.a11y_desktop import stop, wait_for, x_display  # noqa: E402

from loki.screen.coords import Box  # noqa: E402
from loki.screen.ground import MATCH, Target, Window, label_score, pick  # noqa: E402
from loki.screen.ocr import OcrFinder, choose_engine  # noqa: E402

APP = Path(__file__).resolve().parent.parent / "tests" / "apps" / "tkbuttons.py"
STATUS_HEIGHT = 30
"""tkbuttons' status line: 24 px high, 10 px in from the window's left and 30 px up from its bottom."""


def _records(log: Path) -> list[dict]:
    if not log.exists():
        return []
    return [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines() if line.strip()]


def _clicked(log: Path) -> list[str]:
    return [r["clicked"] for r in _records(log) if "clicked" in r]


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run(seeds: int, buttons: int, engine: str, ru_every: int = 3) -> None:
    with x_display() as display:  # its own Xvfb (a free display) and openbox
        os.environ["DISPLAY"] = display
        _measure(seeds, buttons, engine, ru_every)


def _measure(seeds: int, buttons: int, engine: str, ru_every: int) -> None:
    finder = OcrFinder(engine=engine)
    stats: dict[str, dict[str, list]] = {}
    tmp = Path(tempfile.mkdtemp(prefix="ocr-bench-"))
    try:
        for seed in range(1, seeds + 1):
            log = tmp / f"{seed}.jsonl"
            russian = seed % ru_every == 0
            app = subprocess.Popen(
                [sys.executable, str(APP), str(log), str(seed), str(buttons), *(["--ru"] if russian else [])]
            )
            try:
                ready = wait_for(
                    lambda log=log: next((r for r in _records(log) if r.get("ready")), None), "the Tk window"
                )
                x, y, w, h = ready["box"]
                window = Window(ready["id"], Box(x, y, w, h))
                status = Box(x + 10, y + h - STATUS_HEIGHT, w - 20, 24)
                for button in ready["buttons"]:
                    target = Target(button["label"], language="en")
                    used = choose_engine(engine, target.name, target.language)
                    figures = stats.setdefault(
                        used, {"find_ms": [], "reread_ms": [], "hit_test": [], "right": [], "wrong": [], "missed": []}
                    )
                    started = time.perf_counter()
                    found = pick(finder.find(target, window, time.monotonic() + 30), target)
                    figures["find_ms"].append((time.perf_counter() - started) * 1000)
                    if not found:
                        figures["missed"].append((seed, target.name))
                        continue
                    best = found[0]
                    started = time.perf_counter()
                    before = finder.reread(best.box, target.name)
                    figures["reread_ms"].append((time.perf_counter() - started) * 1000)
                    other = next(
                        (b["label"] for b in ready["buttons"] if label_score(target.name, b["label"]) < MATCH), ""
                    )
                    figures["hit_test"].append((before >= MATCH, finder.reread(best.box, other) < MATCH))
                    clicks = len(_clicked(log))
                    px, py = best.point
                    subprocess.run(["xdotool", "mousemove", str(px), str(py), "click", "1"], check=True)
                    try:
                        clicked = wait_for(lambda log=log, n=clicks: _clicked(log)[n:], "a click", 3.0)[0]
                    except RuntimeError:
                        clicked = None
                    if clicked == target.name:
                        figures["right"].append((seed, target.name))
                        continue
                    time.sleep(0.2)
                    after = finder.reread(status, f"Clicked: {target.name}")
                    noticed = before < MATCH or after < MATCH
                    figures["wrong"].append((seed, target.name, best.label, round(best.score, 2), clicked, noticed))
            finally:
                stop(app)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    total_right = total = 0
    for used, figures in stats.items():
        right, wrong, missed = len(figures["right"]), figures["wrong"], figures["missed"]
        count = right + len(wrong) + len(missed)
        total_right += right
        total += count
        noticed = sum(1 for w in wrong if w[-1])
        print(
            f"[{used}] accuracy {right}/{count} = {100 * right / count:.1f} %, wrong clicks {len(wrong)} "
            f"(noticed {noticed}), not found {len(missed)}; find ms p50 {statistics.median(figures['find_ms']):.0f} "
            f"p95 {_percentile(figures['find_ms'], 0.95):.0f}; reread ms p50 "
            f"{statistics.median(figures['reread_ms']) if figures['reread_ms'] else float('nan'):.0f} "
            f"p95 {_percentile(figures['reread_ms'], 0.95):.0f}"
        )
        says_yes = sum(1 for yes, _ in figures["hit_test"] if yes)
        says_no = sum(1 for _, no in figures["hit_test"] if no)
        print(
            f"    hit-test reread before the click: says yes on the found box {says_yes}/{len(figures['hit_test'])}, "
            f"says no to another button's label there {says_no}/{len(figures['hit_test'])}"
        )
        for item in wrong:
            print(
                f"    wrong: seed {item[0]} asked {item[1]!r}, found {item[2]!r} ({item[3]}), clicked {item[4]!r}, noticed {item[5]}"
            )
        for item in missed:
            print(f"    not found: seed {item[0]} {item[1]!r}")
    print(f"[all] accuracy {total_right}/{total} = {100 * total_right / max(1, total):.1f} % over {seeds} layouts")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=12)
    parser.add_argument("--buttons", type=int, default=20)
    parser.add_argument("--engine", default="auto")
    parser.add_argument("--ru-every", type=int, default=3, help="every Nth layout has Russian labels (1: all)")
    args = parser.parse_args()
    run(args.seeds, args.buttons, args.engine, args.ru_every)


if __name__ == "__main__":
    main()
