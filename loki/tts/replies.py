"""Replies waiting to be said: a queue of `Speak` events that barge-in flushes, said one at a time."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

from loki.events import Event, EventQueue, Speak
from loki.tts.protocol import Voice

log = logging.getLogger(__name__)


class ReplyQueue:
    """The orchestrator's `reply`: `await replies(text, language)` returns once it was said, or dropped by an interrupt.

    Args:
        voice: says each reply.
        publish: receives each `Speak` as it is queued.
    """

    def __init__(self, voice: Voice, publish: Callable[[Event], None]) -> None:
        self.voice = voice
        self.publish = publish
        self._queue = EventQueue(maxsize=1 << 30)  # never drops a reply on overflow: each one has a waiter
        self._closed = False
        self._waiting: dict[int, asyncio.Future[None]] = {}
        self._running = False

    async def __call__(self, text: str, language: str = "en") -> None:
        """Say `text` after the replies already waiting (at once when the queue is not running)."""
        if self._closed:
            return
        event = Speak(text, language)
        self.publish(event)
        if not self._running:
            await self.voice(text, language)
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting[id(event)] = done
        self._queue.put(event)
        await done

    async def stream(self, pieces: AsyncIterator[str], language: str = "en") -> None:
        """Say a reply arriving in pieces (the voice drops it itself on barge-in)."""
        await self.voice.stream(pieces, language)

    def flush(self) -> int:
        """Drop the replies not yet begun (barge-in); returns how many."""
        dropped = self._queue.flush()
        for event in dropped:
            self._done(event)
        return len(dropped)

    async def run(self) -> None:
        """Say queued replies until `close()`."""
        self._running = True
        try:
            while (event := await self._queue.get()) is not None:
                try:
                    if isinstance(event, Speak):
                        await self.voice(event.text, event.language)
                finally:
                    self._done(event)
        finally:
            self._running = False

    def close(self) -> None:
        """End `run()`; replies still waiting are released unsaid, later ones are not said."""
        self._closed = True
        self._queue.put(None)
        for future in self._waiting.values():
            if not future.done():
                future.set_result(None)
        self._waiting.clear()

    def _done(self, event: Event) -> None:
        done = self._waiting.pop(id(event), None)
        if done is not None and not done.done():
            done.set_result(None)
