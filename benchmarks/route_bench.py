"""Tier-0 routing time: what `loki say` reports as timings_ms.route, plus whole-command wall time.

    .venv/bin/python benchmarks/route_bench.py

Prints medians over every utterance x repeats (in-process) and over 5 runs of the CLI.
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

from loki.actions.drivers import RecordingDriver
from loki.config import settings_from
from loki.wiring import build_orchestrator

UTTERANCES = [
    "open the browser",
    "new tab",
    "close the window",
    "volume up by twenty percent",
    "type hello world",
    "value up",
    "minimise window",
    "open the pod bay doors and sing me a song",
    "what time is it",
    "could you start up the web browser for me",
    "scroll down three",
    "press control shift t",
]
RU = ["открой браузер", "переключи вкладку", "закрой окно", "сделай громче", "напечатай привет мир", "который час"]


async def in_process(repeats: int = 20) -> None:
    tmp = tempfile.mkdtemp()
    for language, texts in (("en", UTTERANCES), ("ru", RU)):
        settings = settings_from(
            {
                "LOKI_LANGUAGE": language,
                "LOKI_DRY_RUN": "1",
                "LOKI_LLM_BACKEND": "none",
                "LOKI_STATE_DIR": tmp,
                "LOKI_USER_PROFILES_DIR": tmp,
            }
        )
        orch = build_orchestrator(settings, driver_factory=RecordingDriver)
        routes, worst = [], (0.0, "")
        for _ in range(repeats):
            for text in texts:
                result = await orch.handle(text)
                routes.append(result.timings_ms["route"])
                worst = max(worst, (result.timings_ms["route"], text))
        print(
            f"[{language}] route ms: median {statistics.median(routes):.2f}, p95 {sorted(routes)[int(len(routes) * 0.95)]:.2f}, "
            f"max {worst[0]:.2f} ({worst[1]!r}), n={len(routes)}"
        )


def cli(runs: int = 5) -> None:
    walls, routes = [], []
    for _ in range(runs):
        start = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "loki", "say", "--dry-run", "--json", "-"],
            input="open the browser\n",
            capture_output=True,
            text=True,
            env={**os.environ, "LOKI_LLM_BACKEND": "none"},
            check=True,
        )
        walls.append((time.perf_counter() - start) * 1000)
        routes.append(json.loads(out.stdout)["timings_ms"]["route"])
    print(
        f"[cli] `echo 'open the browser' | loki say --dry-run --json -`: route median {statistics.median(routes):.2f} ms, "
        f"process wall median {statistics.median(walls):.0f} ms (n={runs})"
    )


if __name__ == "__main__":
    print(f"load average: {os.getloadavg()}")
    asyncio.run(in_process())
    cli()
