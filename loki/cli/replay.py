"""`loki replay FILE.wav`: a recording fed through the same path as the microphone, one JSON line per turn.

The fake microphone plays the file faster than real time but holds its audio clock while an
utterance or turn is being processed, so wake windows and follow-ups behave as they would live.
With `realtime=True` (benchmarks) it plays at the file's own pace and never waits.
"""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from loki.audio.fake import ArrayMicrophone
from loki.audio.wav import read_wav
from loki.brain.orchestrator import TurnResult
from loki.cli.run import print_turn
from loki.config import Settings
from loki.events import Event
from loki.wiring import build_daemon


async def replay(
    audio: np.ndarray | str | Path,
    settings: Settings,
    *,
    require_wake: bool = True,
    realtime: bool = False,
    transcriber: Any = None,
    voice: Any = None,
    on_turn: Callable[[TurnResult, Any], None] | None = None,
    on_event: Callable[[Event], None] | None = None,
    noise_rms: float = 0.0,
) -> list[TurnResult]:
    """Run the daemon on a recording until it ends; returns every turn's result."""
    samples = read_wav(audio) if isinstance(audio, (str, Path)) else audio
    holder: dict[str, Any] = {}
    results: list[TurnResult] = []  # every turn of the recording (the daemon keeps only recent ones)

    def turn_done(result: TurnResult, command: Any) -> None:
        results.append(result)
        if on_turn is not None:
            on_turn(result, command)

    async def gate() -> None:
        await holder["daemon"].wait_idle()

    mic = ArrayMicrophone(
        samples,
        realtime=realtime,
        gate=None if realtime else gate,
        noise_rms=noise_rms,
        name=str(audio) if isinstance(audio, (str, Path)) else "array",
    )
    daemon = build_daemon(
        settings,
        mic=mic,
        voice=voice,
        require_wake=require_wake,
        on_turn=turn_done,
        on_event=on_event,
        transcriber=transcriber,
    )
    holder["daemon"] = daemon
    try:
        await daemon.warm_up()
        await daemon.run()
    finally:
        await daemon.aclose()
        daemon.orchestrator.close()
    return results


def command(args: argparse.Namespace, settings: Settings) -> int:
    """Print one line per turn: {"transcript", "tier", "actions", "reply", "timings_ms"}."""
    show = print_turn(args.json)
    failed: list[TurnResult] = []  # counted as turns end: the daemon keeps only recent results

    def on_turn(result: TurnResult, command: Any) -> None:
        show(result, command)
        if not result.ok:
            failed.append(result)

    asyncio.run(replay(args.file, settings, require_wake=not args.no_wake, on_turn=on_turn))
    return 1 if failed else 0
