"""Who is LOKI being spoken to? Decides, per transcript, between command, wake, barge-in and drop.

Pure logic on the audio clock (seconds of microphone audio), so a recording replayed faster than
real time gives the same decisions as the live microphone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loki.listen.wake.phrase import PhraseMatch, WakePhrases
from loki.words import words_of

# Said while LOKI speaks or works, these cut it off at once (stop words in profiles do the same later).
STOP_PHRASES = (
    "stop",
    "cancel",
    "shut up",
    "be quiet",
    "quiet",
    "enough",
    "never mind",
    "nevermind",
    "stop it",
    "стоп",
    "отмена",
    "отмени",
    "хватит",
    "замолчи",
    "тихо",
    "остановись",
)
_STOP = re.compile(
    r"\b(" + "|".join(re.escape(p) for p in sorted(STOP_PHRASES, key=len, reverse=True)) + r")\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Heard:
    """A transcript and where it came from."""

    text: str
    start_s: float  # audio clock
    end_s: float
    source: str = "vad"  # "vad" | "ptt" | "text"
    overlaps_voice: bool = False  # LOKI was speaking while this was said
    self_heard: bool = False  # the transcript repeats what LOKI just said
    foreign: str | None = None  # the transcript without the words LOKI just said (None: all of it)

    @property
    def not_loki(self) -> str:
        """What the user (not LOKI's own voice) may have said."""
        return self.text if self.foreign is None else self.foreign


@dataclass(frozen=True)
class Decision:
    """What to do with a transcript: kind is command, wake, stop or drop."""

    kind: str
    text: str = ""
    reason: str = ""
    wake: PhraseMatch | None = None
    interrupt: bool = False  # cut LOKI's voice first


def stop_request(text: str, *, max_words: int = 4) -> bool:
    """True when a short utterance asks LOKI to stop ("stop", "cancel that", «хватит»)."""
    words = words_of(text)
    return 0 < len(words) <= max_words and _STOP.search(text) is not None


class CommandGate:
    """Turns transcripts into decisions; remembers the command and follow-up windows.

    Args:
        phrases: the wake phrases.
        require_wake: False: every utterance is a command (`--no-wake`).
        command_window_s: after the wake phrase alone, a command may start within this many seconds.
        followup_s: after LOKI acts or answers, a command without the wake word is accepted this long.
    """

    def __init__(
        self, phrases: WakePhrases, *, require_wake: bool = True, command_window_s: float = 6.0, followup_s: float = 5.0
    ) -> None:
        self.phrases = phrases
        self.require_wake = require_wake
        self.command_window_s = command_window_s
        self.followup_s = followup_s
        self.window_until_s = float("-inf")
        self.followup_until_s = float("-inf")

    def open_window(self, now_s: float) -> None:
        """The wake word was heard (alone): the next utterance is a command."""
        self.window_until_s = now_s + self.command_window_s

    def open_followup(self, now_s: float) -> None:
        """LOKI acted or answered: accept a command without the wake word for a while."""
        if self.followup_s > 0:
            self.followup_until_s = now_s + self.followup_s

    def close_windows(self) -> None:
        """Require the wake word again."""
        self.window_until_s = self.followup_until_s = float("-inf")

    def window_open(self, at_s: float) -> bool:
        """True when an utterance starting at `at_s` needs no wake word."""
        return at_s <= self.window_until_s or at_s <= self.followup_until_s

    def needs_transcript(self, start_s: float, *, whisper_wake: bool, busy: bool) -> bool:
        """Whether an utterance is worth transcribing (a model-based wake engine spares the rest)."""
        return whisper_wake or busy or not self.require_wake or self.window_open(start_s)

    def decide(self, heard: Heard, *, busy: bool = False) -> Decision:
        """The decision for one transcript; `busy` is True while LOKI speaks or runs a plan."""
        text = heard.text.strip()
        if not re.search(r"\w", text):
            return Decision("drop", reason="empty")
        if heard.source == "ptt":
            match = self.phrases.match(text)
            command = match.remainder if match else text
            if not command:
                self.open_window(heard.end_s)
                return Decision("wake", wake=match, interrupt=True)
            return Decision("command", command, reason="ptt", wake=match, interrupt=True)
        if heard.overlaps_voice or busy:
            # Mixed with LOKI's voice, the user's words may be anywhere in the transcript.
            foreign = heard.not_loki
            match = self.phrases.match(text) or (self.phrases.search(foreign) if heard.overlaps_voice else None)
            if match is not None:
                if match.remainder and not stop_request(match.remainder):
                    self.close_windows()
                    return Decision("command", match.remainder, reason="wake while busy", wake=match, interrupt=True)
                self.open_window(heard.end_s)
                return Decision("wake" if not match.remainder else "stop", wake=match, interrupt=True)
            if stop_request(foreign):
                self.close_windows()
                return Decision("stop", foreign, reason="stop while busy", interrupt=True)
            if heard.overlaps_voice:
                return Decision("drop", reason="self-heard" if heard.self_heard else "gated while LOKI speaks")
        if heard.self_heard:
            return Decision("drop", reason="self-heard")
        match = self.phrases.match(text)
        if match is not None:
            if match.remainder:
                self.close_windows()
                return Decision("command", match.remainder, reason="wake phrase", wake=match)
            self.open_window(heard.end_s)
            return Decision("wake", wake=match)
        if not self.require_wake:
            return Decision("command", text, reason="no wake needed")
        if self.window_open(heard.start_s):
            reason = "command window" if heard.start_s <= self.window_until_s else "follow-up"
            self.close_windows()
            return Decision("command", text, reason=reason)
        return Decision("drop", reason="no wake phrase")
