"""The one record of what LOKI said lately, to tell its own voice from the user's in what the microphone hears."""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass

from loki.tts.text import echo_score, words
from loki.words import words_of

WORDS_KEPT_S = 12.0
"""LOKI's words count as its own in a mixed transcript this long after they were said."""
REPEAT_WINDOW_S = 8.0
"""A transcript that repeats what LOKI said within this many seconds is LOKI hearing itself."""


@dataclass
class Said:
    """A sentence LOKI played (or is playing: `ended_at` None)."""

    text: str
    started_at: float
    ended_at: float | None = None


class SaidRecord:
    """Replies as they are asked for (`add`, kept `WORDS_KEPT_S`) and sentences as they play (`started`/`ended`).

    The two are kept apart: a streamed reply adds one piece per token, and must never push the
    sentence playing now out of the record.
    """

    def __init__(self, keep: int = 64) -> None:
        self._played: deque[Said] = deque(maxlen=keep)
        self._asked: deque[tuple[float, str]] = deque()

    def add(self, text: str, at: float | None = None) -> None:
        """Remember text LOKI is about to say (a reply, or a piece of a streamed one)."""
        now = time.monotonic() if at is None else at
        while self._asked and now - self._asked[0][0] > WORDS_KEPT_S:
            self._asked.popleft()
        self._asked.append((now, text))

    def started(self, text: str, at: float) -> Said:
        """A sentence began to play; `ended()` closes it."""
        said = Said(text, at)
        self._played.append(said)
        return said

    @staticmethod
    def ended(said: Said, at: float) -> None:
        """A sentence stopped playing (done or cut)."""
        if said.ended_at is None:
            said.ended_at = at

    def all_ended(self, at: float) -> None:
        """Everything stopped playing (the queue drained or faded out)."""
        for said in self._played:
            self.ended(said, at)

    def _played_within(self, within_s: float, now: float) -> list[str]:
        return [s.text for s in self._played if s.ended_at is None or now - s.ended_at <= within_s]

    def foreign(self, transcript: str) -> str:
        """The transcript's words that LOKI did not say lately (its own words removed)."""
        now = time.monotonic()
        texts = self._played_within(WORDS_KEPT_S, now) + [t for at, t in self._asked if now - at <= WORDS_KEPT_S]
        said = {w for text in texts for w in words(text)}
        return " ".join(w for w in words_of(transcript) if words(w)[0] not in said)

    def repeats(
        self, text: str, within_s: float = REPEAT_WINDOW_S, *, min_words: int = 2, threshold: float = 0.7
    ) -> bool:
        """True when `text` (a transcript) mostly repeats what LOKI played in the last `within_s` seconds.

        Transcripts shorter than `min_words` never count (so "stop" always gets through).
        """
        if len(words(text)) < min_words:
            return False
        recent = self._played_within(within_s, time.monotonic())
        return bool(recent) and echo_score(text, " ".join(recent)) >= threshold
