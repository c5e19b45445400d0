"""`loki say TEXT | -`: route typed utterances as if they had been transcribed, one report per utterance."""

from __future__ import annotations

import argparse
import asyncio
import sys

from loki.brain.confirm import parse_answer  # the same yes/no words as the spoken confirmation
from loki.cli import emit, human_turn, stdin_lines
from loki.config import Settings
from loki.errors import LokiError
from loki.wiring import build_orchestrator


def cmd_say(args: argparse.Namespace, settings: Settings) -> int:
    """Route typed utterances as if they had been transcribed."""
    unreadable = 0
    if args.text == ["-"]:
        lines = list(stdin_lines(sys.stdin.buffer))
        texts = [line for line in lines if line is not None]
        unreadable = len(lines) - len(texts)
    else:
        texts = [" ".join(args.text)]
    if not texts and unreadable:
        return 1
    if not texts or not any(texts):
        raise LokiError("Nothing to say: give the text as arguments, or '-' to read lines from stdin.")
    orchestrator = build_orchestrator(
        settings, confirm=_terminal_confirm if sys.stdin.isatty() and args.text != ["-"] else None
    )

    async def run() -> int:
        failures = unreadable
        for text in texts:
            result = (await orchestrator.handle(text)).as_json()
            emit(result, args.json, human_turn(result))
            failures += result.get("error") not in (None, "not_executed")  # a refusal is not a failure
        orchestrator.close()
        return 1 if failures else 0

    return asyncio.run(run())


async def _terminal_confirm(prompt: str) -> bool:
    """Ask on the terminal; yes is "y" or any spoken yes-word."""
    answer = await asyncio.to_thread(input, f"{prompt} [y/N] ")
    return answer.strip().lower() in ("y", "д") or parse_answer(answer) is True
