"""Paraphrase accuracy and routing time with no language model: the phrase rules, then matching by meaning.

    .venv/bin/python benchmarks/meaning_bench.py [--repeats 5] [--show]

Reads the paraphrase sets in benchmarks/data (written by hand, never copied into the profiles):
`dev` was tuned on, `heldout` was looked at during tuning, `fresh` was written after tuning stopped.
Each utterance goes through `Orchestrator.handle` in dry-run, as `loki say --dry-run` does. Prints, per
set: right / wrong action / missed (nothing done) / remarks acted on, and the routing time
(timings_ms.route + tier-0 meaning, p50 and p95 over every utterance x repeats, vectors cached).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
from pathlib import Path

from loki.config import settings_from
from loki.profiles.loader import parse_action
from loki.screen.window import Context
from loki.wiring import build_orchestrator

DATA = Path(__file__).resolve().parent / "data"
SETS = ("dev", "heldout", "fresh")
NOW = {"now.time": "NOW", "now.date": "TODAY"}


def cases(name: str) -> list[tuple[str, str, list[dict]]]:
    """(text, language, expected actions) of one set."""
    out = []
    for line in (DATA / f"paraphrases_{name}.tsv").read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, language, expected = line.split("\t")
        want = [] if expected == "none" else [parse_action(_fill(p)) for p in expected.split(";")]
        out.append((text, language, want))
    return out


def _fill(template: str) -> str:
    for key, value in NOW.items():
        template = template.replace("{" + key + "}", value)
    return template


async def run(repeats: int, show: bool) -> None:
    cache = tempfile.mkdtemp()
    orchestrators = {}
    for language in ("en", "ru"):
        settings = settings_from(
            {
                "LOKI_LANGUAGE": language,
                "LOKI_DRY_RUN": "1",
                "LOKI_LLM_BACKEND": "none",
                "LOKI_TRACE": "0",
                "LOKI_USER_PROFILES_DIR": cache,
            }
        )
        orchestrator = build_orchestrator(settings)
        orchestrator.context = lambda: Context(os="linux")
        for tier in orchestrator.tiers:
            if hasattr(tier, "warm_up"):
                tier.warm_up([language])
                tier.index._now = lambda language: NOW  # fixed clock, so answers compare
        local = next(t for t in orchestrator.tiers if type(t).__name__ == "LocalCommands")
        local.matcher._now = lambda language: NOW
        orchestrators[language] = orchestrator
    all_ms: list[float] = []
    for name in SETS:
        right = wrong = missed = remarks = 0
        route_ms: list[float] = []
        items = cases(name)
        for text, language, want in items:
            for _ in range(repeats):
                result = await orchestrators[language].handle(text)
                route_ms.append(result.timings_ms.get("route", 0.0))
            got = result.actions
            verdict = "right" if got == want else "remark acted" if not want else "missed" if not got else "WRONG"
            right += verdict == "right"
            wrong += verdict == "WRONG"
            missed += verdict == "missed"
            remarks += verdict == "remark acted"
            if show and verdict != "right":
                print(f"  {verdict:12} {text!r} -> {got}")
        n_remarks = sum(1 for _, _, want in items if not want)
        n = len(items)
        route_ms.sort()
        all_ms += route_ms
        print(
            f"{name:8} right {right}/{n} ({100 * right / n:.0f} %)  wrong {wrong}  missed {missed}  "
            f"remarks acted {remarks}/{n_remarks}  route p50 {statistics.median(route_ms):.1f} ms  "
            f"p95 {route_ms[int(0.95 * (len(route_ms) - 1))]:.1f} ms"
        )
    all_ms.sort()
    print(
        f"all      route p50 {statistics.median(all_ms):.1f} ms  p95 {all_ms[int(0.95 * (len(all_ms) - 1))]:.1f} ms "
        f"over {len(all_ms)} routings"
    )
    for orchestrator in orchestrators.values():
        orchestrator.executor.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--show", action="store_true", help="print every utterance not handled right")
    args = parser.parse_args()
    asyncio.run(run(args.repeats, args.show))


if __name__ == "__main__":
    main()
