"""Per-turn traces: one JSON line per turn, with stage timings, under the XDG state directory."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class TraceWriter:
    """Appends turn records to `<state>/traces/YYYY-MM-DD.jsonl`; never lets a write failure break a turn."""

    def __init__(self, folder: Path | None) -> None:
        self.folder = folder

    def write(self, record: dict[str, Any]) -> None:
        """Append one turn."""
        if self.folder is None:
            return
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            path = self.folder / time.strftime("%Y-%m-%d.jsonl")
            with path.open("a", encoding="utf-8") as f:
                f.write(json.dumps({"ts": time.time(), **record}, ensure_ascii=False) + "\n")
        except OSError as exc:
            log.warning("could not write the turn trace to %s: %s", self.folder, exc)


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
