"""Typed events between stages: facts in the past tense, requests in the imperative.

Control events (`ControlEvent`) are never dropped on barge-in; data events (audio and pending
speech) are flushed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class State(StrEnum):
    """The daemon's explicit state."""

    IDLE = "idle"
    LISTENING = "listening"
    THINKING = "thinking"
    SPEAKING = "speaking"


@dataclass(frozen=True)
class Event:
    """Base of every event; `at` is a monotonic timestamp in seconds."""

    at: float = field(default_factory=time.monotonic, kw_only=True)


@dataclass(frozen=True)
class ControlEvent(Event):
    """An event that is never dropped, even on barge-in."""


@dataclass(frozen=True)
class DataEvent(Event):
    """An event that barge-in may drop (queued audio, pending speech)."""


# Facts -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class StateChanged(ControlEvent):
    """The supervisor moved to a new state."""

    old: State
    new: State


@dataclass(frozen=True)
class WakeDetected(ControlEvent):
    """The wake phrase (or push-to-talk) opened the microphone for a command."""

    source: str  # "wake" | "ptt" | "followup"
    phrase: str = ""
    score: float = 1.0


@dataclass(frozen=True)
class SpeechStarted(ControlEvent):
    """The VAD heard speech begin."""


@dataclass(frozen=True)
class SpeechEnded(DataEvent):
    """An utterance ended; `audio` is 16 kHz mono int16 PCM bytes."""

    audio: bytes
    sample_rate_hz: int = 16000
    source: str = "wake"


@dataclass(frozen=True)
class Transcribed(ControlEvent):
    """Speech became text."""

    text: str
    language: str = "en"
    speech_end_at: float | None = None  # monotonic time the utterance ended, for latency traces
    stt_ms: float = 0.0


@dataclass(frozen=True)
class ActionsPlanned(ControlEvent):
    """A tier produced validated, policy-checked actions for a turn."""

    text: str
    tier: int | None
    actions: tuple[dict[str, Any], ...]
    reply: str = ""


@dataclass(frozen=True)
class ActionsDone(ControlEvent):
    """The executor finished (or abandoned) a turn's actions."""

    ok: bool
    detail: str = ""


@dataclass(frozen=True)
class TurnFailed(ControlEvent):
    """A turn failed; `message` is what the user is told."""

    stage: str
    code: str
    message: str


@dataclass(frozen=True)
class SpeechFinished(ControlEvent):
    """LOKI finished (or was cut off) speaking; `spoken` is what was actually said."""

    spoken: str
    interrupted: bool = False


# Requests --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Speak(DataEvent):
    """Say this text (dropped on barge-in if not yet spoken)."""

    text: str
    language: str = "en"


@dataclass(frozen=True)
class RunActions(ControlEvent):
    """Execute these actions."""

    actions: tuple[dict[str, Any], ...]


@dataclass(frozen=True)
class Interrupt(ControlEvent):
    """Stop speaking and cancel any running plan at once."""

    reason: str = "user"


@dataclass(frozen=True)
class Shutdown(ControlEvent):
    """Stop the daemon."""
