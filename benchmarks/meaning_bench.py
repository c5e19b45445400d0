"""Paraphrase accuracy and routing time with no language model: the phrase rules, then matching by meaning.

    .venv/bin/python benchmarks/meaning_bench.py [--repeats 5] [--show] [--sets dev,fresh6]
    .venv/bin/python benchmarks/meaning_bench.py --tier1 [--jsonl out.jsonl]

`--tier1` builds the orchestrator with the language model as tier 1 (LOKI_LLM_BACKEND=llama_cpp: the
embedded gemma-3-270m unless LOKI_LLM_MODEL names another GGUF; LOKI_MODELS_DIR is passed through),
runs each utterance once (the model decodes greedily), prints one line per utterance (the tier that
acted, the verdict, the actions) and, per set: right / wrong / asked a question (a step waiting for a
yes) / no action, remarks that touched the desktop, and the p50 / p95 of tier-1 time.

Reads the paraphrase sets in benchmarks/data (written by hand, never copied into the profiles):
`dev` was tuned on, `heldout` was looked at during tuning, `fresh` was written after tuning stopped,
`fresh2` was written later and run once before it was tuned on, `probe` holds what fresh2's misses
suggested trying (longer requests, remarks with command words) and was tuned on; `fresh3` to `fresh50`
were written by independent authors who never saw LOKI's words, each run once before
it was tuned on (first figures in each file's first line).
Each utterance goes through `Orchestrator.handle` in dry-run, as `loki say --dry-run` does. Prints, per
set: right / wrong action / missed (nothing done) / remarks acted on, and the routing time
(timings_ms.route + tier-0 meaning, p50 and p95 over every utterance x repeats, vectors cached).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
from collections.abc import Sequence
from pathlib import Path

from loki.brain.grounding import QUIET_TYPES
from loki.config import settings_from
from loki.profiles.loader import parse_action
from loki.profiles.normalize import normalize
from loki.screen.window import Context
from loki.wiring import build_orchestrator

DATA = Path(__file__).resolve().parent / "data"
SETS = (
    "dev",
    "heldout",
    "fresh",
    "fresh2",
    "probe",
    "fresh3",
    "fresh4",
    "fresh5",
    "fresh6",
    "fresh7",
    "fresh8",
    "fresh9",
    "fresh10",
    "fresh11",
    "fresh12",
    "fresh13",
    "fresh14",
    "fresh15",
    "fresh16",
    "fresh17",
    "fresh18",
    "fresh19",
    "fresh20",
    "fresh21",
    "fresh22",
    "fresh23",
    "fresh24",
    "fresh25",
    "fresh26",
    "fresh27",
    "fresh28",
    "fresh29",
    "fresh30",
    "fresh31",
    "fresh32",
    "fresh33",
    "fresh34",
    "fresh35",
    "fresh36",
    "fresh37",
    "fresh38",
    "fresh39",
    "fresh40",
    "fresh41",
    "fresh42",
    "fresh43",
    "fresh44",
    "fresh45",
    "fresh46",
    "fresh47",
    "fresh48",
    "fresh49",
    "fresh50",
)
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


async def build(tier1: bool) -> dict:
    """One dry-run orchestrator per language, on a fixed clock."""
    cache = tempfile.mkdtemp()
    orchestrators = {}
    for language in ("en", "ru"):
        values = {
            "LOKI_LANGUAGE": language,
            "LOKI_DRY_RUN": "1",
            "LOKI_LLM_BACKEND": "llama_cpp" if tier1 else "none",
            "LOKI_TRACE": "0",
            "LOKI_USER_PROFILES_DIR": cache,
        }
        if tier1:
            values.update({k: os.environ[k] for k in ("LOKI_MODELS_DIR", "LOKI_LLM_MODEL") if k in os.environ})
        settings = settings_from(values)
        orchestrator = build_orchestrator(settings)
        orchestrator.context = lambda: Context(os="linux")
        for tier in orchestrator.tiers:
            if hasattr(tier, "warm_up"):
                tier.warm_up([language])
                tier.index._now = lambda language: NOW  # fixed clock, so answers compare
        local = next(t for t in orchestrator.tiers if type(t).__name__ == "LocalCommands")
        local.matcher._now = lambda language: NOW
        orchestrators[language] = orchestrator
    return orchestrators


async def run(repeats: int, show: bool, sets: Sequence[str] = SETS) -> None:
    orchestrators = await build(tier1=False)
    all_ms: list[float] = []
    for name in sets:
        right = wrong = missed = remarks = 0
        route_ms: list[float] = []
        items = cases(name)
        for text, language, want in items:
            for _ in range(repeats):
                normalize.cache_clear()  # each repeat reads the words afresh, as a new utterance would be
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


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[int(q * (len(values) - 1))] if values else float("nan")


def _touches(actions: list[dict]) -> bool:
    return any(a.get("type") not in QUIET_TYPES for a in actions)


def judge(want: list[dict], got: list[dict], refused: list[dict]) -> str:
    """right / wrong / asked (a step waiting for a yes: its plan right or not) / no action; remarks:
    quiet or touched."""
    waiting = [r for r in refused if "waiting for a yes" in r.get("reason", "") or "declined" in r.get("reason", "")]
    if not want:
        if _touches(got):
            return "remark TOUCHED"
        return "remark asked" if waiting else "remark quiet"
    if got == want:
        return "right"
    if got:
        return "WRONG"
    if waiting:
        proposed = [r["action"] for r in refused]
        return "asked (right plan)" if proposed == want else "asked (other plan)"
    return "no action"


async def run_tier1(jsonl: str | None, sets: Sequence[str] = SETS) -> list[str]:
    """Each utterance once with tier 1; returns the JSON lines asked for."""
    orchestrators = await build(tier1=True)
    for language, orchestrator in orchestrators.items():  # load the model before anything is timed
        warm = await orchestrator.handle("warm up" if language == "en" else "разогрев")
        print(f"warm-up {language}: tier {warm.tier} {warm.timings_ms}")
    records: list[str] = []
    all_t1: list[float] = []
    tiers_all: dict[str, int] = {}
    summary = []
    for name in sets:
        counts: dict[str, int] = {}
        t1_ms: list[float] = []
        by_tier: dict[str, dict[str, int]] = {}
        items = cases(name)
        for text, language, want in items:
            load = os.getloadavg()[0]
            result = await orchestrators[language].handle(text)
            got = result.actions
            verdict = judge(want, got, result.refused)
            counts[verdict] = counts.get(verdict, 0) + 1
            tier = "-" if result.tier is None else str(result.tier)
            match = (result.detail.get("rule") or {}).get("match", "") if result.tier == 0 else ""
            tier_key = f"0/{match}" if match else tier
            by_tier.setdefault(tier_key, {}).setdefault(verdict, 0)
            by_tier[tier_key][verdict] += 1
            tiers_all[tier_key] = tiers_all.get(tier_key, 0) + 1
            if "tier1" in result.timings_ms:
                t1_ms.append(result.timings_ms["tier1"])
            short = ";".join(json.dumps(a, ensure_ascii=False, separators=(",", ":")) for a in got)
            proposed = ";".join(
                json.dumps(r["action"], ensure_ascii=False, separators=(",", ":")) for r in result.refused
            )
            print(
                f"{name:7} {language} tier {tier_key:10} {verdict:18} {text!r} -> [{short}]"
                + (f" refused [{proposed}]" if proposed else "")
                + (f" reply {result.reply[:80]!r}" if result.reply else "")
                + (f" t1 {result.timings_ms['tier1']:.0f} ms" if "tier1" in result.timings_ms else "")
                + f" load {load:.2f}",
                flush=True,
            )
            if jsonl:
                records.append(
                    json.dumps(
                        {
                            "set": name,
                            "text": text,
                            "language": language,
                            "want": want,
                            "verdict": verdict,
                            "tier": result.tier,
                            "rule": result.detail.get("rule"),
                            "actions": got,
                            "refused": result.refused,
                            "reply": result.reply,
                            "timings_ms": result.timings_ms,
                            "load1": load,
                        },
                        ensure_ascii=False,
                    )
                )
        all_t1 += t1_ms
        summary.append((name, len(items), counts, by_tier, t1_ms))
    print()
    for name, n, counts, by_tier, t1_ms in summary:
        n_remarks = sum(v for k, v in counts.items() if k.startswith("remark"))
        asked = counts.get("asked (right plan)", 0) + counts.get("asked (other plan)", 0)
        print(
            f"{name:8} commands {n - n_remarks}: right {counts.get('right', 0)}  wrong {counts.get('WRONG', 0)}  "
            f"asked {asked} (right plan {counts.get('asked (right plan)', 0)})  "
            f"no action {counts.get('no action', 0)} | remarks {n_remarks}: touched desktop "
            f"{counts.get('remark TOUCHED', 0)}, asked {counts.get('remark asked', 0)} | tier-1 turns {len(t1_ms)} "
            f"p50 {statistics.median(t1_ms) if t1_ms else float('nan'):.0f} ms p95 {_pct(t1_ms, 0.95):.0f} ms"
        )
        for tier_key, verdicts in sorted(by_tier.items()):
            print(f"         tier {tier_key:10} " + "  ".join(f"{k} {v}" for k, v in sorted(verdicts.items())))
    print(
        f"all      tier-1 turns {len(all_t1)}  p50 {statistics.median(all_t1) if all_t1 else float('nan'):.0f} ms  "
        f"p95 {_pct(all_t1, 0.95):.0f} ms  max {max(all_t1, default=float('nan')):.0f} ms  load {os.getloadavg()}"
    )
    print("tiers   " + "  ".join(f"{k}: {v}" for k, v in sorted(tiers_all.items())))
    for orchestrator in orchestrators.values():
        orchestrator.executor.close()
    return records


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--show", action="store_true", help="print every utterance not handled right")
    parser.add_argument("--tier1", action="store_true", help="with the language model as tier 1 (once each)")
    parser.add_argument("--jsonl", help="with --tier1: write one JSON line per utterance here")
    parser.add_argument("--sets", default=",".join(SETS), help=f"comma-separated, of {', '.join(SETS)}")
    args = parser.parse_args()
    sets = [name for name in args.sets.split(",") if name]
    unknown = [name for name in sets if name not in SETS]
    if unknown:
        parser.error(f"no paraphrase set named {', '.join(unknown)}: use {', '.join(SETS)}")
    if args.tier1:
        records = asyncio.run(run_tier1(args.jsonl, sets))
        if args.jsonl:
            Path(args.jsonl).write_text("\n".join(records) + "\n", encoding="utf-8")
    else:
        asyncio.run(run(args.repeats, args.show, sets))


if __name__ == "__main__":
    main()
