"""Tier-2 vision figures: how often a target is reached within 3 corrections when the model is often wrong.

    PYTHONPATH=. .venv/bin/python benchmarks/vision_bench.py                 # every convention, 30 % wrong
    PYTHONPATH=. .venv/bin/python benchmarks/vision_bench.py --coords qwen25 --wrong 0.5 --targets 80

No vision model's weights install here, so the model is the stand-in (tests/apps/vision_standin.py) on
127.0.0.1: real HTTP in the convention's usual protocol, real OCR on the pixels LOKI sent, and with
probability `--wrong` (seeded) the place of another text box instead. For each target LOKI asks
(`VisionFinder.find`), a click-checker compares the point with the truth (inside the word's ink, grown
by 3 px), and on a miss LOKI asks again with what it tried (`find_again`), up to 3 corrections.

Prints per convention: targets, share right at once, share reached within 3 corrections, calls per
target, and median / p90 ms per call — the whole call, and LOKI's own part (the call minus the
stand-in's decoding, OCR and answering; OCR is cached per image, so the first call on each window is
not in the medians).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image, ImageDraw, ImageFont  # noqa: E402

from loki.config import ScreenSettings  # noqa: E402
from loki.errors import ScreenError  # noqa: E402
from loki.llm.vision import build_model
from loki.screen.coords import MODEL_CONVENTIONS, Box  # noqa: E402
from loki.screen.fake import ImageScreen  # noqa: E402
from loki.screen.ground import Candidate, Target, Window  # noqa: E402
from loki.screen.vision import VisionFinder  # noqa: E402
from tests.apps.vision_standin import Modes, VisionStandin  # noqa: E402


def vision_finder(settings: ScreenSettings, **kw: Any) -> VisionFinder:
    """The vision finder with the model its settings name (as tier 2 builds it)."""
    return VisionFinder(settings, model=build_model(settings), **kw)


FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
LABELS = (
    "Open Save Close Print Export Import Undo Redo Cut Copy Paste Delete Rename Share Search Replace Settings "
    "Account Profile Logout Refresh Download Upload Preview Publish Archive Restore Filter Sort Group Insert "
    "Format Tools Window Help About Update Install Remove Connect Disconnect Sync Backup Calendar Contacts "
    "Inbox Outbox Drafts Spam Trash Folders Labels Reply Forward Attach Send Schedule Mute Pin Zoom Rotate"
).split()
API = {"qwen25": "openai", "uitars15": "ollama", "qwen3": "openai", "uitars1": "ollama", "moondream": "openai",
       "gemini": "gemini", "pixels": "ollama"}  # fmt: skip
GRID = (4, 4)
WINDOW = Box(200, 120, 1000, 640)
CORRECTIONS = 3


def windows(count: int) -> list[tuple[ImageScreen, dict[str, Box]]]:
    """Screens of 1280x800 with one window of up to 16 labels each; the labels' ink boxes in screen pixels."""
    import numpy as np

    font = ImageFont.truetype(FONT, 18)
    monitors = [{"left": 0, "top": 0, "width": 1280, "height": 800}] * 2
    out = []
    for n in range(count):
        image = Image.new("RGB", (1280, 800), (30, 50, 80))
        draw = ImageDraw.Draw(image)
        draw.rectangle(
            (WINDOW.left, WINDOW.top, WINDOW.left + WINDOW.width - 1, WINDOW.top + WINDOW.height - 1),
            fill=(238, 238, 238),
        )
        truth = {}
        labels = LABELS[n * 16 % len(LABELS) :] + LABELS[: n * 16 % len(LABELS)]
        for i, label in enumerate(labels[: GRID[0] * GRID[1]]):
            col, row = i % GRID[0], i // GRID[0]
            at = (WINDOW.left + 40 + col * 240 + (row % 2) * 30, WINDOW.top + 50 + row * 150)
            draw.text(at, label, font=font, fill=(15, 15, 15))
            left, top, right, bottom = draw.textbbox(at, label, font=font)
            gray = np.asarray(image.crop((left - 2, top - 2, right + 2, bottom + 2)).convert("L"))
            ys, xs = np.nonzero(gray < 128)
            truth[label] = Box(
                left - 2 + xs.min(), top - 2 + ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1
            )
        out.append((ImageScreen(image, monitors), truth))
    return out


def hit(candidate: Candidate, truth: Box, grow: int = 3) -> bool:
    """What a click-checker sees: the click landed on the word."""
    x, y = candidate.point
    return Box(truth.left - grow, truth.top - grow, truth.width + 2 * grow, truth.height + 2 * grow).contains(x, y)


def run(coords: str, wrong: float, seed: int, targets: int) -> dict[str, Any]:
    scenes = windows(-(-targets // (GRID[0] * GRID[1])))
    asks = [(screen, label, box) for screen, truth in scenes for label, box in truth.items()][:targets]
    with VisionStandin(Modes(coords=coords, wrong=wrong, seed=seed)).start() as standin:
        api = API[coords]
        settings = ScreenSettings(
            vision_backend=api,
            vision_url=standin.url(api),
            vision_model="standin-vl",
            vision_coords=coords,
            vision_api_key="bench-key" if api == "gemini" else "",
        )
        window = Window(1, WINDOW, app="bench")
        for screen, truth in scenes:  # OCR each window once, outside the figures
            warm = vision_finder(settings, screen_factory=lambda s=screen: s)
            warm.find(Target(next(iter(truth))), window, time.monotonic() + 120)
        standin.requests.clear()
        calls_ms: list[float] = []
        own_ms: list[float] = []
        at_once = reached = errors = 0
        for screen, label, box in asks:
            finder = vision_finder(settings, screen_factory=lambda s=screen: s)
            target, tried = Target(label), []
            for attempt in range(1 + CORRECTIONS):
                deadline = time.monotonic() + 60
                started = time.perf_counter()
                try:
                    if attempt == 0:
                        got = finder.find(target, window, deadline)
                    else:
                        got = finder.find_again(target, window, tried, deadline)
                except ScreenError:
                    got, errors = [], errors + 1
                ms = (time.perf_counter() - started) * 1000
                calls_ms.append(ms)
                own_ms.append(ms - standin.requests[-1].ms)
                if got and hit(got[0], box):
                    at_once += attempt == 0
                    reached += 1
                    break
                tried.extend(got)
        wrong_answers = sum(r.wrong for r in standin.requests)
    n = len(asks)
    return {
        "coords": coords,
        "targets": n,
        "right_at_once": at_once / n,
        "reached": reached / n,
        "calls_per_target": len(calls_ms) / n,
        "wrong_answers": wrong_answers / max(1, len(calls_ms)),
        "errors": errors,
        "ms": statistics.median(calls_ms),
        "ms_p90": statistics.quantiles(calls_ms, n=10)[-1],
        "own_ms": statistics.median(own_ms),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--coords", default="all", help=f"all or one of {', '.join(MODEL_CONVENTIONS)}")
    parser.add_argument("--wrong", type=float, default=0.3)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--targets", type=int, default=60)
    args = parser.parse_args()
    conventions = list(MODEL_CONVENTIONS) if args.coords == "all" else [args.coords]
    print(
        f"stand-in wrong {args.wrong:.0%} (seed {args.seed}), {args.targets} targets, up to {CORRECTIONS} corrections"
    )
    print(f"{'coords':10} {'targets':>7} {'at once':>8} {'reached':>8} {'calls/t':>8} {'wrong':>6} {'errors':>6} "
          f"{'ms/call':>8} {'p90':>6} {'LOKI ms':>8}")  # fmt: skip
    for coords in conventions:
        r = run(coords, args.wrong, args.seed, args.targets)
        print(
            f"{r['coords']:10} {r['targets']:7d} {r['right_at_once']:8.0%} {r['reached']:8.0%} "
            f"{r['calls_per_target']:8.2f} {r['wrong_answers']:6.0%} {r['errors']:6d} {r['ms']:8.1f} "
            f"{r['ms_p90']:6.1f} {r['own_ms']:8.1f}"
        )
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
