"""`loki stats`: what the turn traces say: turns per tier, latency per stage, what was not understood.

It reads the traces `loki.brain.trace.TraceWriter` writes (the rotated files, oldest first) and, with
`--plot`, draws the latency of each stage over time with Pillow.
"""

from __future__ import annotations

import argparse
import io
import math
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from loki.brain.trace import read_traces
from loki.cli import emit
from loki.config import Settings
from loki.errors import LokiError
from loki.private import write_private_bytes

# Stages in the order a turn goes through them; stages not named here follow, sorted.
STAGE_ORDER = ("speech_end_to_transcript", "stt", "rescore", "speech_end_to_action", "context", "route")
STAGE_ORDER_LAST = ("execute", "total")
# The turn kinds a report counts, in the order it lists them (other tier numbers go before the last two).
KINDS = ("0", "0_meaning", "1", "not_understood", "failed")
_KIND_NAMES = {"0_meaning": "tier 0 by meaning", "not_understood": "not understood", "failed": "failed"}
# Timings that are not a stage's latency (the utterance's length).
_NOT_LATENCY = frozenset({"audio"})
_AGE_UNITS_S = {"m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def command(args: argparse.Namespace, settings: Settings) -> int:
    """Report on the turn traces (and draw the latency chart with --plot)."""
    folder = settings.state_path / "traces"
    since_ts = parse_since(args.since, now_ts=time.time()) if args.since else None
    records = [r for r in read_traces(folder) if since_ts is None or r["ts"] >= since_ts]
    report = summarize(records)
    report["since"] = None if since_ts is None else iso_utc(since_ts)
    report["traces"] = str(folder)
    if args.plot:
        path = Path(args.plot).expanduser()
        write_private_bytes(path, plot_latency(records))
        report["plot"] = str(path)
    emit(report, args.json, human_report(report))
    return 0


def parse_since(text: str, *, now_ts: float) -> float:
    """The epoch time `--since` names: an ISO date or date and time (local time unless it says its zone), or an age (`30m`, `24h`, `7d`, `2w`)."""
    age = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([mhdw])\s*", text.lower())
    if age:
        return now_ts - float(age.group(1)) * _AGE_UNITS_S[age.group(2)]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()  # naive: local time, as the user's clock shows
    except ValueError:
        raise LokiError(
            f"--since takes an ISO date or time (2026-05-01, 2026-05-01T09:30, 2026-05-01T07:30Z) "
            f"or an age (30m, 24h, 7d, 2w), not {text!r}",
            code="usage",
        ) from None


def turn_kind(turn: dict[str, Any]) -> str:
    """What became of a turn: its tier ("0", "0_meaning" for a rule matched by meaning, "1", ...), "not_understood" or "failed"."""
    if turn.get("error") not in (None, "not_executed"):  # a refusal is not a failure (as `loki say` counts it)
        return "failed"
    tier = turn.get("tier")
    if tier is None:
        return "not_understood"
    rule = turn.get("rule")
    if tier == 0 and isinstance(rule, dict) and rule.get("match") == "semantic":
        return "0_meaning"
    return str(tier)


def summarize(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """The report on these trace records: counts per kind, p50/p95 per stage, not-understood phrases, time span."""
    kinds: Counter[str] = Counter()
    timings: dict[str, list[float]] = {}
    unknown: dict[str, dict[str, Any]] = {}
    for record in records:
        turn = record["turn"]
        kind = turn_kind(turn)
        kinds[kind] += 1
        for stage, ms in _latencies(turn):
            timings.setdefault(stage, []).append(ms)
        if kind == "not_understood" and isinstance(turn.get("text"), str) and turn["text"].strip():
            key = " ".join(turn["text"].casefold().split()).strip(" .,!?;:")
            entry = unknown.setdefault(key, {"text": turn["text"].strip(), "count": 0, "last": record["ts"]})
            entry["count"] += 1
            entry["last"] = max(entry["last"], record["ts"])
    stamps = [r["ts"] for r in records]
    return {
        "turns": len(records),
        "tiers": {kind: kinds[kind] for kind in _kind_order(kinds)},
        "stages_ms": {
            stage: {"turns": len(values), "p50": percentile(values, 50), "p95": percentile(values, 95)}
            for stage, values in sorted(timings.items(), key=lambda item: _stage_rank(item[0]))
        },
        "not_understood": [
            {"text": e["text"], "count": e["count"], "last": iso_utc(e["last"])}
            for e in sorted(unknown.values(), key=lambda e: (-e["count"], -e["last"]))
        ],
        "span": {"first": iso_utc(min(stamps)), "last": iso_utc(max(stamps))} if stamps else None,
    }


def _kind_order(kinds: Iterable[str]) -> list[str]:
    """KINDS, with any other tier a trace holds after tier 1."""
    others = sorted(
        (k for k in kinds if k not in KINDS), key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k)
    )
    return [*KINDS[:3], *others, *KINDS[3:]]


def percentile(values: Sequence[float], pct: float) -> float:
    """The `pct`-th percentile of `values`, interpolated between the two nearest (as numpy's default does)."""
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return round(ordered[low] + (ordered[high] - ordered[low]) * (rank - low), 2)


def iso_utc(ts: float) -> str:
    """An epoch time as ISO 8601 UTC, to the second: `2026-05-01T07:30:00Z`."""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _latencies(turn: dict[str, Any]) -> Iterable[tuple[str, float]]:
    timings = turn.get("timings_ms")
    if not isinstance(timings, dict):
        return []
    return [
        (stage, float(ms))
        for stage, ms in timings.items()
        if stage not in _NOT_LATENCY and isinstance(ms, int | float) and not isinstance(ms, bool) and ms >= 0
    ]


def _stage_rank(stage: str) -> tuple[int, str]:
    if stage in STAGE_ORDER:
        return STAGE_ORDER.index(stage), ""
    if stage in STAGE_ORDER_LAST:
        return len(STAGE_ORDER) + 2 + STAGE_ORDER_LAST.index(stage), ""
    return len(STAGE_ORDER) + 1, stage  # tier1, tier2, ...: between route and execute


def human_report(report: dict[str, Any]) -> str:
    """The report for a person: counts, a latency table and the phrases to teach."""
    lines = [f"Turn traces in {report['traces']}"]
    span = report["span"]
    since = f" since {_local(report['since'])}" if report["since"] else ""
    if span is None:
        lines.append(f"No turns{since}.")
    else:
        lines.append(f"{report['turns']} turns{since}, from {_local(span['first'])} to {_local(span['last'])}:")
        width = max(len(_kind_name(k)) for k in report["tiers"])
        lines += [f"  {_kind_name(kind):{width}}  {count:6}" for kind, count in report["tiers"].items()]
    if report["stages_ms"]:
        width = max(len(stage) for stage in report["stages_ms"])
        lines.append("Latency per stage:")
        lines.append(f"  {'':{width}}  {'turns':>6}  {'p50 ms':>9}  {'p95 ms':>9}")
        lines += [
            f"  {stage:{width}}  {s['turns']:6}  {s['p50']:9.2f}  {s['p95']:9.2f}"
            for stage, s in report["stages_ms"].items()
        ]
    if report["not_understood"]:
        lines.append("Not understood, most frequent first (teach LOKI these with a rule or 'remember this as'):")
        lines += [f"  {e['count']:5}  {e['text']}" for e in report["not_understood"]]
    if report.get("plot"):
        lines.append(f"Latency chart written to {report['plot']}")
    return "\n".join(lines)


def _kind_name(kind: str) -> str:
    return _KIND_NAMES.get(kind, f"tier {kind}")


def _local(iso: str) -> str:
    return datetime.fromisoformat(iso).astimezone().strftime("%Y-%m-%d %H:%M:%S %Z")


# The chart -------------------------------------------------------------------------------------

_HEIGHT = 620
_MARGIN = (90, 60, 30, 80)  # left, top, right, bottom, around the plotting area and legend
_PLOT_WIDTH = 820
_PALETTE = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
    (140, 86, 75), (227, 119, 194), (127, 127, 127), (188, 189, 34), (23, 190, 207),
)  # fmt: skip
_TIME_STEPS_S = (
    1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 3 * 3600, 6 * 3600, 12 * 3600,
    86400, 2 * 86400, 7 * 86400, 14 * 86400, 30 * 86400, 91 * 86400, 365 * 86400,
)  # fmt: skip
_EACH_TURN_UP_TO = 60  # a stage with more turns is drawn as a dot per turn and a line through medians
_BUCKETS = 60  # about this many medians across the chart


class _Frame:
    """The plotting area and its scales: x the time (epoch seconds), y milliseconds on a log scale."""

    def __init__(
        self, box: tuple[int, int, int, int], t_range: tuple[float, float], exp_range: tuple[int, int]
    ) -> None:
        self.box = box
        self.t_first, self.t_last = t_range
        self.low_exp, self.high_exp = exp_range

    def x(self, ts: float) -> float:
        left, _, right, _ = self.box
        return left + (ts - self.t_first) / (self.t_last - self.t_first) * (right - left)

    def y(self, ms: float) -> float:
        _, top, _, bottom = self.box
        exp = math.log10(max(ms, 10.0**self.low_exp))
        return bottom - (exp - self.low_exp) / (self.high_exp - self.low_exp) * (bottom - top)


def plot_latency(records: Sequence[dict[str, Any]]) -> bytes:
    """A PNG chart of each stage's latency over time: x the local time, y milliseconds on a log scale, a legend.

    A stage with few turns is a line through every turn; with many, a faint dot per turn and a line
    through the median of each stretch of time.
    """
    from PIL import Image, ImageDraw, ImageFont

    font, small = ImageFont.load_default(size=14), ImageFont.load_default(size=12)
    series: dict[str, list[tuple[float, float]]] = {}
    for record in sorted(records, key=lambda r: r["ts"]):
        for stage, ms in _latencies(record["turn"]):
            series.setdefault(stage, []).append((record["ts"], ms))
    series = dict(sorted(series.items(), key=lambda item: _stage_rank(item[0])))
    legend = {
        stage: f"{stage}  (p50 {_ms_short(percentile([ms for _, ms in points], 50))})"
        for stage, points in series.items()
    }
    legend_width = max((int(small.getlength(label)) for label in legend.values()), default=0) + 70
    left, top, right_margin, bottom_margin = _MARGIN
    box = (left, top, left + _PLOT_WIDTH, _HEIGHT - bottom_margin)
    image = Image.new("RGB", (box[2] + legend_width + right_margin, _HEIGHT), "white")
    draw = ImageDraw.Draw(image)

    title = "LOKI: latency per stage"
    if records:
        first, last = min(r["ts"] for r in records), max(r["ts"] for r in records)
        title += f"  ({len(records)} turns, {_clock(first, '%Y-%m-%d %H:%M')} to {_clock(last, '%Y-%m-%d %H:%M')})"
    draw.text((left, 22), title, fill="black", font=font)
    if not series:
        draw.rectangle(box, outline="black")
        centre = ((box[0] + box[2]) // 2, (box[1] + box[3]) // 2)
        draw.text(centre, "no turns with timings", fill="black", font=font, anchor="mm")
        return _png(image)

    frame = _frame(box, series)
    bucket_s = _axes(draw, frame, font, small)
    _vertical_text(image, (22, (box[1] + box[3]) // 2), "milliseconds (log scale)", font)
    for n, (stage, points) in enumerate(series.items()):
        colour = _PALETTE[n % len(_PALETTE)]
        if len(points) <= _EACH_TURN_UP_TO:
            _polyline(draw, [(frame.x(t), frame.y(ms)) for t, ms in points], colour, dot=3)
        else:
            faint = tuple(int(c + (255 - c) * 0.6) for c in colour)
            for t, ms in points:
                x, y = frame.x(t), frame.y(ms)
                draw.ellipse((x - 1.5, y - 1.5, x + 1.5, y + 1.5), fill=faint)
        # the legend, right of the plot: a swatch, the stage and its median
        y = box[1] + 10 + n * 24
        draw.line((box[2] + 20, y, box[2] + 44, y), fill=colour, width=3)
        draw.ellipse((box[2] + 29, y - 3, box[2] + 35, y + 3), fill=colour)
        draw.text((box[2] + 52, y), legend[stage], fill="black", font=small, anchor="lm")
    for n, points in enumerate(series.values()):  # the medians, over every stage's dots
        if len(points) > _EACH_TURN_UP_TO:
            for run in _median_runs(points, bucket_s):
                _polyline(draw, [(frame.x(t), frame.y(ms)) for t, ms in run], _PALETTE[n % len(_PALETTE)], dot=2)
    if any(len(points) > _EACH_TURN_UP_TO for points in series.values()):
        note = f"a faint dot per turn; lines: the median per {_duration(bucket_s)}"
        draw.text((box[2], box[3] + 48), note, fill=(90, 90, 90), font=small, anchor="rt")
    draw.rectangle(box, outline="black")
    return _png(image)


def _frame(box: tuple[int, int, int, int], series: dict[str, list[tuple[float, float]]]) -> _Frame:
    """Scales that hold every point: whole powers of ten of milliseconds, the time span and a little more."""
    values = [ms for points in series.values() for _, ms in points]
    floor_ms = min((v for v in values if v > 0), default=1.0)
    low_exp = math.floor(math.log10(floor_ms))
    high_exp = max(math.ceil(math.log10(max(max(values), floor_ms))), low_exp + 1)
    t_first = min(t for points in series.values() for t, _ in points)
    t_last = max(t for points in series.values() for t, _ in points)
    if t_last - t_first < 20:  # one turn, or a few seconds of them: 20 seconds around them
        t_first, t_last = (t_first + t_last) / 2 - 10, (t_first + t_last) / 2 + 10
    pad_s = (t_last - t_first) * 0.03
    return _Frame(box, (t_first - pad_s, t_last + pad_s), (low_exp, high_exp))


def _axes(draw: Any, frame: _Frame, font: Any, small: Any) -> float:
    """Grid, ticks and labels; returns the stretch of time a median line sums up (seconds)."""
    left, top, right, bottom = frame.box
    for exp in range(frame.low_exp, frame.high_exp + 1):  # a line per power of ten, light ones at 2 and 5 times it
        for factor in (1, 2, 5) if exp < frame.high_exp else (1,):
            y = frame.y(factor * 10.0**exp)
            draw.line((left, y, right, y), fill=(225, 225, 225) if factor > 1 else (180, 180, 180))
            if factor == 1:
                draw.text((left - 8, y), _ms_label(10.0**exp), fill="black", font=small, anchor="rm")
    span_s = frame.t_last - frame.t_first
    step_s = next((s for s in _TIME_STEPS_S if span_s / s <= 7), _TIME_STEPS_S[-1])
    offset_s = _utc_offset_s(frame.t_first)
    tick = math.ceil((frame.t_first + offset_s) / step_s) * step_s - offset_s  # round in local time
    fmt = "%H:%M:%S" if step_s < 60 else "%H:%M" if step_s < 86400 else "%b %d"
    day_shown = ""
    while tick <= frame.t_last:
        x = frame.x(tick)
        draw.line((x, top, x, bottom), fill=(235, 235, 235))
        draw.line((x, bottom, x, bottom + 5), fill="black")
        draw.text((x, bottom + 8), _clock(tick, fmt), fill="black", font=small, anchor="mt")
        day = _clock(tick, "%Y-%m-%d")
        if step_s < 86400 and day != day_shown:  # the date under the first tick of each day
            draw.text((x, bottom + 24), day, fill=(90, 90, 90), font=small, anchor="mt")
            day_shown = day
        tick += step_s
    zone = datetime.fromtimestamp(frame.t_first).astimezone().strftime("%Z")
    draw.text(((left + right) // 2, bottom + 48), f"time ({zone})", fill="black", font=font, anchor="mt")
    return next((s for s in _TIME_STEPS_S if span_s / s <= _BUCKETS), _TIME_STEPS_S[-1])


def _median_runs(points: Sequence[tuple[float, float]], bucket_s: float) -> list[list[tuple[float, float]]]:
    """The median latency of each stretch of `bucket_s` that holds turns, at their mean time; a stretch without turns breaks the line."""
    buckets: dict[int, list[tuple[float, float]]] = {}
    for t, ms in points:
        buckets.setdefault(int(t // bucket_s), []).append((t, ms))
    runs: list[list[tuple[float, float]]] = []
    previous = None
    for key in sorted(buckets):
        inside = buckets[key]
        median = (sum(t for t, _ in inside) / len(inside), percentile([ms for _, ms in inside], 50))
        if previous is None or key != previous + 1:
            runs.append([])
        runs[-1].append(median)
        previous = key
    return runs


def _polyline(draw: Any, xy: list[tuple[float, float]], colour: tuple[int, ...], *, dot: float) -> None:
    if len(xy) > 1:
        draw.line(xy, fill=colour, width=2, joint="curve")
    for x, y in xy:
        draw.ellipse((x - dot, y - dot, x + dot, y + dot), fill=colour)


def _ms_label(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:g} s"
    return f"{ms:g} ms"


def _ms_short(ms: float) -> str:
    if ms >= 1000:
        return f"{ms / 1000:.2f} s"
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.2g} ms"


def _duration(seconds: float) -> str:
    for unit_s, unit in ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second")):
        if seconds >= unit_s and seconds % unit_s == 0:
            count = int(seconds // unit_s)
            return unit if count == 1 else f"{count} {unit}s"
    return f"{seconds:g} s"


def _clock(ts: float, fmt: str) -> str:
    return datetime.fromtimestamp(ts).astimezone().strftime(fmt)


def _utc_offset_s(ts: float) -> float:
    offset = datetime.fromtimestamp(ts).astimezone().utcoffset()
    return offset.total_seconds() if offset is not None else 0.0


def _vertical_text(image: Any, centre: tuple[int, int], text: str, font: Any) -> None:
    """Draw `text` turned a quarter to the left, centred on `centre` (an axis label)."""
    from PIL import Image, ImageDraw

    left, top, right, bottom = font.getbbox(text)
    label = Image.new("RGB", (right - left + 4, bottom - top + 4), "white")
    ImageDraw.Draw(label).text((2 - left, 2 - top), text, fill="black", font=font)
    label = label.rotate(90, expand=True)
    image.paste(label, (centre[0] - label.width // 2, centre[1] - label.height // 2))


def _png(image: Any) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()
