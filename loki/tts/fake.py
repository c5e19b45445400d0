"""A voice for tests and dry runs: it 'speaks' for a set time and records what it was asked to do."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator

from loki.tts.said import SaidRecord


class FakeVoice:
    """Implements `loki.tts.protocol.Voice` without a speaker: each reply keeps it speaking `seconds_per_reply`."""

    def __init__(self, seconds_per_reply: float = 0.5) -> None:
        self.seconds_per_reply = seconds_per_reply
        self.record = SaidRecord()
        self.said: list[str] = []
        """Every reply, in order."""
        self.interrupts: list[float] = []
        """Monotonic times of every `interrupt()`."""
        self.earcons: list[str] = []
        self._until = 0.0

    @property
    def speaking(self) -> bool:
        """True while a reply is 'playing'."""
        return time.monotonic() < self._until

    def audible(self, now: float | None = None, tail_s: float = 0.0) -> bool:
        """True while a reply is 'playing' (plus `tail_s`)."""
        return (time.monotonic() if now is None else now) < self._until + tail_s

    def speak_for(self, seconds: float, text: str = "") -> None:
        """Start 'saying' `text` for `seconds`."""
        self.said.append(text)
        self.record.add(text)
        self._until = time.monotonic() + seconds

    async def __call__(self, text: str, language: str = "en") -> None:
        """Say a reply (returns at once; `speaking` stays True for `seconds_per_reply`)."""
        self.speak_for(self.seconds_per_reply, text)

    async def stream(self, pieces: AsyncIterator[str], language: str = "en") -> None:
        """Say a reply arriving in pieces."""
        await self("".join([piece async for piece in pieces]), language)

    async def interrupt(self) -> None:
        """Stop 'speaking' now."""
        self.interrupts.append(time.monotonic())
        self._until = 0.0

    async def earcon(self, name: str) -> None:
        """Record the sound's name."""
        self.earcons.append(name)
