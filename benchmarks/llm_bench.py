"""Tier-1 figures: routing overhead with the model's time excluded, and gemma-3-270m plan latency.

    .venv/bin/python benchmarks/llm_bench.py            # both
    .venv/bin/python benchmarks/llm_bench.py --no-gemma # overhead only (seconds, no model)

Overhead = the whole turn (`loki say`'s timings_ms.total: context, tier 0 trying first, prompt,
parsing, validation, policy, dry-run execution) minus the time spent waiting for the model's
answer. It is measured with an in-process model that answers instantly and against a canned HTTP
server on 127.0.0.1 for each protocol. Prints medians over every run, and the load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from typing import Any

from loki.actions.apps import AppCatalog
from loki.actions.drivers import RecordingDriver
from loki.actions.policy import Policy
from loki.brain.tier1 import LlmPlanner
from loki.config import settings_from
from loki.llm.base import Message, Schema
from loki.llm.fakeserver import CannedLlmServer
from loki.screen.window import Context
from loki.wiring import build_orchestrator

PLAN = '{"actions": [{"type": "hotkey", "keys": ["ctrl", "t"]}, {"type": "type", "text": "weather in Oslo"}], "reply": "Searching."}'
UTTERANCES = [
    "could you start up the web browser for me",
    "search the web for the weather in Oslo",
    "what is the capital of France",
    "make the music a bit louder please",
    "open a terminal and list my files",
]


class InstantModel:
    """A model that has its whole answer ready: what is left is LOKI's own work."""

    name = "instant"

    def __init__(self, text: str, piece_chars: int = 8) -> None:
        self.text = text
        self.piece_chars = piece_chars

    async def stream(self, messages: Sequence[Message], *, schema: Schema | None = None) -> AsyncIterator[str]:
        for i in range(0, len(self.text), self.piece_chars):
            yield self.text[i : i + self.piece_chars]

    async def complete(self, messages: Sequence[Message], *, schema: Schema | None = None) -> str:
        return self.text

    async def aclose(self) -> None:
        return None


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load average {one:.2f} {five:.2f} {fifteen:.2f} on {os.cpu_count()} cores"


def median(values: list[float]) -> str:
    return f"{statistics.median(values):7.2f} ms (min {min(values):.2f}, max {max(values):.2f}, n={len(values)})"


async def run_turns(orch: Any, repeats: int) -> tuple[list[float], list[float], list[float]]:
    totals, waits, overheads = [], [], []
    for _ in range(repeats):
        for text in UTTERANCES:
            result = await orch.handle(text)
            assert result.tier == 1, result
            totals.append(result.timings_ms["total"])
            waits.append(result.detail["llm_ms"])
            overheads.append(result.timings_ms["total"] - result.detail["llm_ms"])
    return totals, waits, overheads


async def overhead(repeats: int) -> None:
    tmp = tempfile.mkdtemp()
    base = {"LOKI_DRY_RUN": "1", "LOKI_STATE_DIR": tmp, "LOKI_USER_PROFILES_DIR": tmp, "LOKI_TRACE": "0"}
    settings = settings_from({**base, "LOKI_LLM_BACKEND": "none"})
    planner = LlmPlanner(InstantModel(PLAN), Policy(AppCatalog(), dry_run=True))
    orch = build_orchestrator(settings, driver_factory=RecordingDriver)
    orch.tiers.append(planner)
    orch.context = lambda: Context("linux", "firefox", "Inbox - Mozilla Firefox")
    await run_turns(orch, 2)  # warm-up
    totals, _, overheads = await run_turns(orch, repeats)
    print(f"in-process instant model   turn total  {median(totals)}")
    print(f"                           overhead    {median(overheads)}")
    orch.executor.close()
    with CannedLlmServer(PLAN, chunk_chars=8) as server:
        for kind, url in (("openai", server.openai_url), ("ollama", server.ollama_url), ("gemini", server.gemini_url)):
            settings = settings_from(
                {**base, "LOKI_LLM_BACKEND": kind, "LOKI_LLM_URL": url, "LOKI_LLM_API_KEY": "bench"}
            )
            orch = build_orchestrator(settings, driver_factory=RecordingDriver)
            orch.context = lambda: Context("linux", "firefox", "Inbox - Mozilla Firefox")
            await run_turns(orch, 2)
            totals, waits, overheads = await run_turns(orch, repeats)
            print(f"{kind:7s} over 127.0.0.1    turn total  {median(totals)}")
            print(f"                           model wait  {median(waits)}")
            print(f"                           overhead    {median(overheads)}")
            await orch.tiers[-1].aclose()
            orch.executor.close()


async def gemma(repeats: int) -> None:
    tmp = tempfile.mkdtemp()
    settings = settings_from(
        {
            "LOKI_DRY_RUN": "1",
            "LOKI_STATE_DIR": tmp,
            "LOKI_USER_PROFILES_DIR": tmp,
            "LOKI_TRACE": "0",
            "LOKI_LLM_BACKEND": "llama_cpp",
            "LOKI_LLM_TIMEOUT_S": "120",
        }
    )
    orch = build_orchestrator(settings, driver_factory=RecordingDriver)
    orch.context = lambda: Context("linux", "firefox", "Inbox - Mozilla Firefox")
    backend = orch.tiers[-1].llm
    started = time.perf_counter()
    await backend.warm_up()
    print(
        f"gemma-3-270m load (assemble + sha256 + llama.cpp): {(time.perf_counter() - started) * 1000:.0f} ms, "
        f"{backend.n_threads} thread(s)"
    )
    first = await orch.handle(UTTERANCES[0])
    print(f"first plan (prompt not cached yet): {first.timings_ms['total']:.0f} ms -> {first.actions} {first.reply!r}")
    totals, waits, overheads = await run_turns(orch, repeats)
    print(f"gemma-3-270m plan          turn total  {median(totals)}")
    print(f"                           model wait  {median(waits)}")
    print(f"                           overhead    {median(overheads)}")
    await backend.aclose()
    orch.executor.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20, help="rounds over the utterances for the overhead")
    parser.add_argument("--gemma-repeats", type=int, default=2, help="rounds over the utterances for gemma")
    parser.add_argument("--no-gemma", action="store_true", help="skip the embedded model")
    args = parser.parse_args(argv)
    print(load())
    asyncio.run(overhead(args.repeats))
    if not args.no_gemma:
        asyncio.run(gemma(args.gemma_repeats))
    print(load())
    return 0


if __name__ == "__main__":
    sys.exit(main())
