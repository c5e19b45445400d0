"""Per-turn traces: one JSON line per turn, with stage timings, under the XDG state directory.

Traces are private (0600 files in a 0700 folder) and keep what was said, so unrecognized phrases
can become new rules, but not what was typed: the text of `type` actions and of dictated `<text>`
slots is replaced by its length unless LOKI_TRACE_TYPED_TEXT=1. The file is rotated at a size cap.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from loki.config import BrainSettings, Settings
from loki.private import open_private, private_dir

log = logging.getLogger(__name__)

TRACE_FILE = "turns.jsonl"
OLD_TRACES_KEPT = 3
_DESCRIBED_CHARS = 40  # describe() quotes this much of a typed text in replies
_NOT_TEXT = frozenset({"ts", "stage", "tier", "language", "ok", "error", "timings_ms"})  # never hold typed text


class TraceWriter:
    """Appends turn records to `<state>/traces/turns.jsonl`; never lets a write failure break a turn.

    At `max_kb` the file becomes `turns.1.jsonl` (`.1` -> `.2` -> `.3`; older ones are dropped).
    """

    def __init__(self, folder: Path | None, *, max_kb: int = 1024, typed_text: bool = False) -> None:
        self.folder = folder
        self.max_bytes = max_kb * 1024
        self.typed_text = typed_text

    @classmethod
    def from_settings(cls, settings: BrainSettings | Settings) -> TraceWriter:
        """Traces under `<state>/traces` as LOKI_TRACE, LOKI_TRACE_MAX_KB and LOKI_TRACE_TYPED_TEXT ask (None: off)."""
        brain = BrainSettings.of(settings)
        return cls(
            brain.state_path / "traces" if brain.trace else None,
            max_kb=brain.trace_max_kb,
            typed_text=brain.trace_typed_text,
        )

    def write(self, record: dict[str, Any], *, typed: Iterable[str] = ()) -> None:
        """Append one turn; `typed` names text the turn typed or dictated, kept out unless asked for."""
        if self.folder is None:
            return
        if not self.typed_text:
            record = redact_typed(record, typed)
        line = json.dumps({"ts": time.time(), **record}, ensure_ascii=False) + "\n"
        try:
            private_dir(self.folder)
            path = self.folder / TRACE_FILE
            self._rotate(path, len(line.encode("utf-8")))
            with open_private(path, append=True) as f:
                f.write(line)
        except OSError as exc:
            log.warning("could not write the turn trace to %s: %s", self.folder, exc)

    def _rotate(self, path: Path, adding_bytes: int) -> None:
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return
        if size == 0 or size + adding_bytes <= self.max_bytes:
            return
        for n in range(OLD_TRACES_KEPT, 0, -1):
            older = path.with_name(f"{path.stem}.{n}{path.suffix}")
            newer = path if n == 1 else path.with_name(f"{path.stem}.{n - 1}{path.suffix}")
            try:
                os.replace(newer, older)
            except FileNotFoundError:
                pass


def redact_typed(record: Any, typed: Iterable[str] = ()) -> Any:
    """`record` with typed text replaced by its length.

    `type` actions become `{"type": "type", "chars": N}`; anywhere else (the transcript, the reply, an
    error), the typed text and the dictated text in `typed` become `‹N chars›`.
    """
    secrets = {t for t in (*typed, *_typed_texts(record)) if t.strip()}
    secrets |= {s[:_DESCRIBED_CHARS] for s in secrets if len(s) > _DESCRIBED_CHARS}
    if not secrets:
        return record
    pattern = re.compile("|".join(re.escape(s) for s in sorted(secrets, key=len, reverse=True)), re.IGNORECASE)
    return _redact(record, pattern)


def _typed_texts(value: Any) -> list[str]:
    if isinstance(value, dict):
        found = [value["text"]] if value.get("type") == "type" and isinstance(value.get("text"), str) else []
        return found + [t for v in value.values() for t in _typed_texts(v)]
    if isinstance(value, list | tuple):
        return [t for v in value for t in _typed_texts(v)]
    return []


def _redact(value: Any, pattern: re.Pattern[str]) -> Any:
    if isinstance(value, str):
        return pattern.sub(lambda m: _length(m.group()), value)
    if isinstance(value, dict):
        if value.get("type") == "type" and isinstance(value.get("text"), str):
            rest = {k: _redact(v, pattern) for k, v in value.items() if k not in ("type", "text")}
            return {"type": "type", "chars": len(value["text"]), **rest}
        return {k: v if k in _NOT_TEXT else _redact(v, pattern) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redact(v, pattern) for v in value]
    return value


def _length(text: str) -> str:
    return f"‹{len(text)} char{'' if len(text) == 1 else 's'}›"


class Stopwatch:
    """Named stage timings in milliseconds, measured from one start."""

    def __init__(self) -> None:
        self.start = time.perf_counter()
        self._last = self.start
        self.stages: dict[str, float] = {}

    def lap(self, name: str) -> float:
        """Record the time since the previous lap under `name`."""
        now = time.perf_counter()
        self.stages[name] = round((now - self._last) * 1000, 2)
        self._last = now
        return self.stages[name]

    def total(self, name: str = "total") -> float:
        """Record the time since the start under `name`."""
        self.stages[name] = round((time.perf_counter() - self.start) * 1000, 2)
        return self.stages[name]
