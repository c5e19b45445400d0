"""Spoken confirmation of risky steps: say the question, wait for the next utterance, hear yes or no.

`SpokenConfirm` is the executor's `confirm(prompt) -> bool`. Silence, a timeout, an answer that
is neither yes nor no, or a failing microphone all mean "no": a risky step runs only on a clear yes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from loki.config import BrainSettings, Settings
from loki.words import words_of

log = logging.getLogger(__name__)

SpeakFn = Callable[[str], Awaitable[None]]
ListenFn = Callable[[float], Awaitable["str | None"]]  # (timeout_s) -> the next utterance, or None

_NO_WORDS = frozenset(
    "no nope nah cancel stop abort never negative don't dont нет неа отмена отмени отменить стоп никогда".split()
)
_NO_PHRASES = ("do not", "not now", "no way", "не надо", "не нужно", "не делай", "не стоит", "не сейчас")
_YES_WORDS = frozenset(
    "yes yeah yep yup sure okay ok alright confirm confirmed affirmative absolutely certainly definitely "
    "да давай конечно ага угу хорошо ладно подтверждаю делай валяй окей".split()
)
_YES_PHRASES = ("do it", "go ahead", "go on", "all right", "please do", "of course", "не вопрос")


def parse_answer(text: str) -> bool | None:
    """True for yes, False for no, None when the answer is neither (English and Russian)."""
    words = [w.replace("ё", "е") for w in words_of(text)]
    joined = " " + " ".join(words) + " "
    if any(f" {p} " in joined for p in _YES_PHRASES if p.startswith("не ")):
        return True  # "не вопрос" means yes, whatever "не" says below
    if any(w in _NO_WORDS for w in words) or any(f" {p} " in joined for p in _NO_PHRASES):
        return False
    if any(w in _YES_WORDS for w in words) or any(f" {p} " in joined for p in _YES_PHRASES):
        return True
    return None


class SpokenConfirm:
    """Asks aloud and listens for the answer; usable as `Executor(confirm=...)`."""

    def __init__(self, speak: SpeakFn, listen: ListenFn, *, timeout_s: float = 6.0) -> None:
        self.speak = speak
        self.listen = listen
        self.timeout_s = timeout_s
        self.last_answer: str | None = None

    @classmethod
    def from_settings(cls, settings: BrainSettings | Settings, speak: SpeakFn, listen: ListenFn) -> SpokenConfirm:
        """Waits `LOKI_CONFIRM_TIMEOUT_S` for the answer."""
        return cls(speak, listen, timeout_s=BrainSettings.of(settings).confirm_timeout_s)

    async def __call__(self, prompt: str) -> bool:
        """Say `prompt`, then True only for a clear yes within the timeout."""
        self.last_answer = None
        try:
            await self.speak(prompt)
        except Exception:
            log.exception("could not say the confirmation question; taking that as no")
            return False
        try:
            # listen() gets the budget itself; the outer guard only catches one that ignores it.
            async with asyncio.timeout(self.timeout_s + 1.0):
                answer = await self.listen(self.timeout_s)
        except TimeoutError:
            log.info("no answer within %.1f s; taking that as no", self.timeout_s)
            return False
        except Exception:
            log.exception("listening for the answer failed; taking that as no")
            return False
        self.last_answer = answer
        verdict = parse_answer(answer or "")
        log.info("confirmation answer %r -> %s", answer, {True: "yes", False: "no", None: "unclear (no)"}[verdict])
        return verdict is True
