"""Per-turn traces: one JSON line per turn, with stage timings, under the XDG state directory.

Traces are private (0600 files in a 0700 folder) and keep what was said, so unrecognized phrases
can become new rules, but not what was typed: the text of `type` actions and of dictated `<text>`
slots is replaced by its length unless LOKI_TRACE_TYPED_TEXT=1. The file is rotated at a size cap.
`read_traces` reads them back, oldest first (for `loki stats`).
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Iterable, Iterator
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


def trace_files(folder: Path) -> list[Path]:
    """The trace files in `folder`, oldest first: `turns.3.jsonl`, `turns.2.jsonl`, `turns.1.jsonl`, `turns.jsonl`."""
    stem, suffix = Path(TRACE_FILE).stem, Path(TRACE_FILE).suffix
    rotated: list[tuple[int, Path]] = []
    for path in folder.glob(f"{stem}.*{suffix}"):
        number = path.name[len(stem) + 1 : -len(suffix)]
        if number.isdigit():
            rotated.append((int(number), path))
    current = folder / TRACE_FILE
    return [path for _, path in sorted(rotated, reverse=True)] + ([current] if current.is_file() else [])


def read_traces(folder: Path) -> Iterator[dict[str, Any]]:
    """Every turn record the trace files in `folder` hold, oldest first.

    A record is the object `TraceWriter.write` wrote: `ts` (wall-clock seconds since the epoch), `turn`
    (the `loki say --json` object) and `stage`. A damaged line (half-written, not JSON, not such an
    object) is skipped with a warning that names its file and line; a file that cannot be read, likewise.
    """
    for path in trace_files(folder):
        try:
            with path.open("rb") as f:
                for number, raw in enumerate(f, start=1):
                    if not raw.strip():
                        continue
                    record, damage = _parse_record(raw)
                    if record is None:
                        log.warning("%s line %d is damaged (%s), so it was skipped", path, number, damage)
                        continue
                    yield record
        except OSError as exc:
            log.warning("could not read the turn trace %s: %s", path, exc)


def _parse_record(raw: bytes) -> tuple[dict[str, Any] | None, str]:
    """The record on one line, or None and what is wrong with it."""
    try:
        record = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return None, "not UTF-8"
    except json.JSONDecodeError as exc:
        return None, f"not JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(record, dict) or not isinstance(record.get("turn"), dict):
        return None, "not a turn record"
    ts = record.get("ts")
    if not isinstance(ts, int | float) or isinstance(ts, bool):
        return None, "no time stamp"
    return record, ""


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
