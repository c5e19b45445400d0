"""`loki stats`: counts, latencies, what was not understood and the latency chart, from real traces of real turns.

The traces come from `loki say` runs (a tier-0 command, one matched by meaning, utterances nobody
understands, an action that fails without a display), rotated by the trace writer itself. No
assertion is made on a timing's value.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from loki.cli.stats import iso_utc, parse_since

TURNS = 6


def loki(*args: str, env: dict[str, str], cwd: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loki", *args],
        input=stdin,
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        umask=0o022,  # a permissive umask, as many desktops have: the chart must still be 0600
    )


def environment(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOKI_") and k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    return {
        **env,
        "LOKI_STATE_DIR": str(home / "state"),
        "LOKI_USER_PROFILES_DIR": str(home / "user-profiles"),
        "LOKI_SCREENSHOT_DIR": str(home / "shots"),
        "XDG_CONFIG_HOME": str(home / "config"),
        "XDG_CACHE_HOME": str(home / "cache"),
        "LOKI_LLM_BACKEND": "none",
        "LOKI_LANGUAGE": "en",
        "LOKI_TRACE": "1",
        "LOKI_TRACE_MAX_KB": "2",  # a few turns per file: the writer rotates, stats reads every file
        "LOKI_MEANING": "1",
    }


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder whose state holds the traces of six real turns."""
    home = tmp_path_factory.mktemp("stats")
    env = environment(home)
    ran = loki("say", "--json", "--dry-run", "open the browser", env=env, cwd=home)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout)["tier"] == 0
    said = "fire up the browser\nfrobnicate the wibble\ndon't close it\nFrobnicate the  wibble.\n"
    ran = loki("say", "--json", "--dry-run", "-", env=env, cwd=home, stdin=said)
    assert ran.returncode == 0, ran.stderr
    meant, *unknown = [json.loads(line) for line in ran.stdout.splitlines()]
    assert meant["rule"]["match"] == "semantic" and [u["tier"] for u in unknown] == [None, None, None]
    failed = loki("say", "--json", "press escape", env=env, cwd=home)  # not a dry run, and no display: it fails
    assert failed.returncode == 1 and json.loads(failed.stdout)["error"] == "action_failed", failed.stderr
    return home


def stats(home: Path, *args: str, cwd: Path | None = None) -> tuple[dict, subprocess.CompletedProcess[str]]:
    ran = loki("stats", "--json", *args, env=environment(home), cwd=cwd or home)
    assert ran.returncode == 0, ran.stderr
    (line,) = ran.stdout.splitlines()
    return json.loads(line), ran


def test_turns_per_tier_stages_and_what_was_not_understood(home: Path) -> None:
    traces = home / "state" / "traces"
    assert (traces / "turns.1.jsonl").exists(), "the writer rotated the traces"
    report, _ = stats(home)
    assert report["turns"] == TURNS
    assert report["tiers"] == {"0": 1, "0_meaning": 1, "1": 0, "not_understood": 3, "failed": 1}
    assert [(u["text"], u["count"]) for u in report["not_understood"]] == [
        ("frobnicate the wibble", 2),  # the same words, however spelled, most frequent first
        ("don't close it", 1),
    ]
    assert {"route", "total"} <= report["stages_ms"].keys() and report["stages_ms"]["total"]["turns"] == TURNS
    assert all(s["p50"] <= s["p95"] for s in report["stages_ms"].values())
    assert report["span"]["first"] <= report["span"]["last"] and report["span"]["last"].endswith("Z")
    assert report["traces"] == str(traces) and report["since"] is None


def test_the_human_report_lists_tiers_stages_and_phrases_to_teach(home: Path) -> None:
    ran = loki("stats", env=environment(home), cwd=home)
    assert ran.returncode == 0, ran.stderr
    assert f"{TURNS} turns" in ran.stdout and "tier 0 by meaning" in ran.stdout and "p95 ms" in ran.stdout
    assert "      2  frobnicate the wibble" in ran.stdout


def test_since_keeps_only_later_turns(home: Path) -> None:
    future, _ = stats(home, "--since", "2999-01-01")
    assert future["turns"] == 0 and future["not_understood"] == [] and future["span"] is None
    assert set(future["tiers"].values()) == {0} and future["since"] == iso_utc(parse_since("2999-01-01", now_ts=0))
    recent, _ = stats(home, "--since", "1d")
    assert recent["turns"] == TURNS
    ran = loki("stats", "--since", "last tuesday", env=environment(home), cwd=home)
    assert ran.returncode == 1 and "--since takes an ISO date" in ran.stderr


def test_since_reads_dates_times_and_ages() -> None:
    now = 2_000_000_000.0
    assert parse_since("7d", now_ts=now) == now - 7 * 86400
    assert parse_since("24h", now_ts=now) == parse_since("1d", now_ts=now)
    assert parse_since("2026-05-01T07:30:00Z", now_ts=now) == parse_since("2026-05-01T09:30+02:00", now_ts=now)


def test_a_damaged_line_is_skipped_with_a_warning_naming_file_and_line(home: Path, tmp_path: Path) -> None:
    shutil.copytree(home / "state", tmp_path / "state")
    traces = tmp_path / "state" / "traces"
    oldest = max(traces.glob("turns.*.jsonl"), key=lambda p: int(p.suffixes[0][1:]))
    lines = oldest.read_text(encoding="utf-8").splitlines(keepends=True)
    oldest.write_text(lines[0] + "{this is not json\n" + "".join(lines[1:]), encoding="utf-8")
    current = traces / "turns.jsonl"
    with current.open("a", encoding="utf-8") as f:
        f.write('{"ts": 1, "turn": {"text": "half-writ')  # a crash in the middle of a write
    last_line = len(current.read_text(encoding="utf-8").splitlines())

    report, ran = stats(tmp_path)
    assert report["turns"] == TURNS
    assert f"{oldest} line 2 is damaged" in ran.stderr
    assert f"{current} line {last_line} is damaged" in ran.stderr


def test_plot_draws_a_private_png(home: Path, tmp_path: Path) -> None:
    chart = tmp_path / "latency.png"
    report, _ = stats(home, "--plot", str(chart))
    assert report["plot"] == str(chart)
    assert stat.S_IMODE(chart.stat().st_mode) == 0o600
    with Image.open(chart) as image:
        assert image.format == "PNG"
        assert 800 <= image.width <= 2000 and 400 <= image.height <= 1200
        colours = image.convert("RGB").getcolors(maxcolors=1 << 16) or []
    assert len(colours) > 10, "more than a blank frame: lines, dots, labels"


def test_plot_of_no_turns_is_still_a_chart(home: Path, tmp_path: Path) -> None:
    chart = tmp_path / "empty.png"
    report, _ = stats(home, "--since", "2999-01-01", "--plot", str(chart))
    assert report["turns"] == 0
    with Image.open(chart) as image:
        assert image.format == "PNG" and image.width >= 800
