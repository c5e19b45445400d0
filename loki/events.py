"""Typed events between stages: facts in the past tense, requests in the imperative.

Every stage publishes what happens on one `EventBus`; anything (a test, the control socket) can
subscribe. Whether an event survives barge-in follows from its kind: what the user said and
control events are never dropped (`Event`); queued output, LOKI's speech not yet spoken, is
(`OutputEvent`). `EventQueue` applies that rule: an `Interrupt` put on it drops the output
events still waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

log = logging.getLogger(__name__)


class State(StrEnum):
    """The daemon's explicit state."""

    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"


@dataclass(frozen=True)
class Event:
    """Base of every event; `at` is a monotonic timestamp in seconds. Never dropped on barge-in."""

    dropped_on_interrupt: ClassVar[bool] = False
    at: float = field(default_factory=time.monotonic, kw_only=True)


@dataclass(frozen=True)
class OutputEvent(Event):
    """Output still queued (LOKI's speech not yet spoken): an `Interrupt` drops it."""

    dropped_on_interrupt: ClassVar[bool] = True


# Facts -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StateChanged(Event):
    """The supervisor moved to a new state."""

    old: State
    new: State


@dataclass(frozen=True)
class WakeDetected(Event):
    """The wake phrase (or push-to-talk) opened the microphone for a command."""

    source: str  # "wake" | "ptt"
    phrase: str = ""
    score: float = 1.0


@dataclass(frozen=True)
class SpeechStarted(Event):
    """The VAD heard speech begin."""


@dataclass(frozen=True)
class SpeechEnded(Event):
    """An utterance ended; `audio` is 16 kHz mono int16 PCM bytes."""

    audio: bytes
    sample_rate_hz: int = 16000
    source: str = "wake"


@dataclass(frozen=True)
class Transcribed(Event):
    """Speech became text."""

    text: str
    language: str = "en"
    speech_end_at: float | None = None  # monotonic time the utterance ended, for latency traces
    stt_ms: float = 0.0


@dataclass(frozen=True)
class CommandHeard(Event):
    """An utterance meant for LOKI: the text a turn will route, with what is known of its timing."""

    text: str
    language: str | None = None
    source: str = "vad"  # "vad" | "ptt" | "text" | "control" (the control socket)
    speech_end_at: float | None = None  # monotonic time speech ended
    speech_end_s: float | None = None  # audio clock of the end of speech
    timings_ms: tuple[tuple[str, float], ...] = ()  # ("stt", 212.0), ... (a frozen event holds no dict)


@dataclass(frozen=True)
class MicrophoneChanged(Event):
    """The microphone opened, was lost, or closed; `detail` names it or says what went wrong."""

    state: str  # "open" | "lost" | "closed"
    detail: str = ""


@dataclass(frozen=True)
class SleepChanged(Event):
    """LOKI went to sleep (only "wake up" or push-to-talk is heard) or woke up ("go to sleep", `loki sleep`, ...)."""

    asleep: bool


@dataclass(frozen=True)
class MuteChanged(Event):
    """The microphone was muted (nothing is heard) or unmuted (`loki mute`, `loki unmute`)."""

    muted: bool


@dataclass(frozen=True)
class ActionsPlanned(Event):
    """A tier produced validated, policy-checked actions for a turn."""

    text: str
    tier: int | None
    actions: tuple[dict[str, Any], ...]
    reply: str = ""


@dataclass(frozen=True)
class ActionsDone(Event):
    """The executor finished (or abandoned) a turn's actions; `actions` are the steps that ran."""

    ok: bool
    actions: tuple[dict[str, Any], ...] = ()
    detail: str = ""  # why it stopped, when it did not finish


@dataclass(frozen=True)
class TurnFailed(Event):
    """A turn failed; `message` is what the user is told."""

    stage: str
    code: str
    message: str


@dataclass(frozen=True)
class SpeechFinished(Event):
    """LOKI finished (or was cut off) speaking; `spoken` is what was actually said."""

    spoken: str
    interrupted: bool = False


# Requests --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Speak(OutputEvent):
    """Say this text (dropped on barge-in if not yet spoken)."""

    text: str
    language: str = "en"


@dataclass(frozen=True)
class Interrupt(Event):
    """Stop speaking at once (drop the replies waiting) and, with `plan`, cancel the running plan."""

    reason: str = "stop"  # "stop" | "wake" | "ptt" | ...
    plan: bool = True


@dataclass(frozen=True)
class Shutdown(Event):
    """Stop the daemon (SIGTERM, Ctrl-C, the end of its input)."""

    reason: str = "signal"


# Queues and the bus ----------------------------------------------------------------------
class EventQueue:
    """A FIFO of events that applies the barge-in rule: putting an `Interrupt` drops queued output events.

    Bounded: when full, the oldest event is dropped (and counted in `missed`) so a slow reader can
    never hold up the stage that publishes.
    """

    def __init__(self, maxsize: int = 1000) -> None:
        self.maxsize = maxsize
        self.missed = 0
        self._items: deque[Event | None] = deque()
        self._ready = asyncio.Event()

    def put(self, event: Event | None) -> None:
        """Queue an event (None: the stream ended)."""
        if isinstance(event, Interrupt):
            self.flush()
        if len(self._items) >= self.maxsize:
            self._items.popleft()
            self.missed += 1
        self._items.append(event)
        self._ready.set()

    def flush(self) -> list[Event]:
        """Drop the queued output events (what barge-in cancels); returns them."""
        dropped = [e for e in self._items if e is not None and e.dropped_on_interrupt]
        if dropped:
            self._items = deque(e for e in self._items if e is None or not e.dropped_on_interrupt)
        return dropped

    async def get(self) -> Event | None:
        """The next event (None when the stream ended)."""
        while not self._items:
            self._ready.clear()
            await self._ready.wait()
        return self._items.popleft()

    def pending(self) -> list[Event | None]:
        """The events waiting, oldest first (they stay queued)."""
        return list(self._items)

    def __len__(self) -> int:
        return len(self._items)


class EventBus:
    """Where every stage publishes; observers subscribe (a queue each) or listen (a callback each)."""

    def __init__(self) -> None:
        self._queues: list[EventQueue] = []
        self._listeners: list[Callable[[Event], None]] = []

    def publish(self, event: Event) -> None:
        """Hand `event` to every subscriber; call it on the event loop's thread."""
        log.debug("event %s", type(event).__name__)  # never its content: audio, what was said or typed
        for queue in list(self._queues):  # before the listeners: what they publish in reaction comes after
            queue.put(event)
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed", listener)

    def listen(self, callback: Callable[[Event], None]) -> Callable[[], None]:
        """Call `callback(event)` for every event from now on; returns the function that stops it."""
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback) if callback in self._listeners else None

    def subscribe(self, maxsize: int = 1000) -> EventQueue:
        """A queue that receives every event from now on; `unsubscribe` it when done."""
        queue = EventQueue(maxsize)
        self._queues.append(queue)
        return queue

    def unsubscribe(self, queue: EventQueue) -> None:
        """Stop filling `queue` and end its stream (its reader gets None)."""
        if queue in self._queues:
            self._queues.remove(queue)
            queue.put(None)

    async def follow(self, maxsize: int = 1000) -> AsyncIterator[Event]:
        """Every event from now on, as an async iterator (ends when the bus is closed)."""
        queue = self.subscribe(maxsize)
        try:
            while (event := await queue.get()) is not None:
                yield event
        finally:
            self.unsubscribe(queue)

    def close(self) -> None:
        """End every subscriber's stream."""
        for queue in list(self._queues):
            self.unsubscribe(queue)


def event_kinds() -> list[type[Event]]:
    """Every concrete event type (for documentation, and the test that each one is published somewhere)."""
    kinds: list[type[Event]] = []
    todo: list[type[Event]] = [Event]
    while todo:
        for cls in todo.pop(0).__subclasses__():
            todo.append(cls)
            if cls is not OutputEvent:
                kinds.append(cls)
    return kinds
