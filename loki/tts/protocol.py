"""The voice seam: what the daemon and the orchestrator need from LOKI's voice (`SpeechOutput` provides it)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, Protocol

from loki.tts.said import SaidRecord


class Voice(Protocol):
    """Speaks replies, can be cut at once, and says whether its sound may be reaching the microphone."""

    record: SaidRecord
    """What it said lately (the echo filter reads it)."""

    @property
    def speaking(self) -> bool:
        """True from a reply's call until its audio has played (or it was cut)."""
        ...

    def audible(self, now: float | None = None, tail_s: float = 0.0) -> bool:
        """True while its sound may be reaching the microphone."""
        ...

    async def __call__(self, text: str, language: str = "en") -> None:
        """Say a reply (failures are logged, never raised)."""
        ...

    async def stream(self, pieces: AsyncIterator[str], language: str = "en") -> None:
        """Say a reply arriving in pieces."""
        ...

    async def interrupt(self) -> Any:
        """Cut the reply now and drop the ones waiting."""
        ...

    async def earcon(self, name: str) -> None:
        """Play the listening / done / error sound."""
        ...
