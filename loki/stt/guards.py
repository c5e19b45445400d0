"""Checks that keep Whisper from putting words in the user's mouth: loops and stock phrases.

Pure functions over text, so they are cheap to call and to test without a model.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from loki.words import word_matches, words_of

# What Whisper says over silence and noise: subtitle credits and sign-offs learned from video captions.
STOCK_PHRASES = frozenset(
    {
        "you",
        "thank you",
        "thanks",
        "thanks for watching",
        "thank you for watching",
        "thank you so much for watching",
        "please subscribe",
        "subscribe to my channel",
        "bye",
        "bye bye",
        "so",
        "okay",
        "oh",
        "hmm",
        "um",
        "uh",
        "субтитры сделал dimatorzok",
        "субтитры создавал dimatorzok",
        "продолжение следует",
        "спасибо",
        "спасибо за внимание",
        "спасибо за просмотр",
        "до свидания",
        "редактор субтитров а семкин корректор а егорова",
        "ну",
        "угу",
    }
)


def repeated_run(words: Sequence[str]) -> tuple[int, int] | None:
    """The first run of one n-gram said over and over, as (n, times), or None.

    A single word counts from three times in a row ("paste paste paste"), a phrase of two or more
    words from twice ("volume up volume up"): people say "next next", decoders loop on phrases.
    """
    run = _first_run(words, lambda n: 3 if n == 1 else 2)
    return run[1:] if run else None


def doubled_run(words: Sequence[str]) -> tuple[int, int] | None:
    """The first word or phrase said twice or more in a row, as (n, times), or None.

    Stricter than `repeated_run`: on a short window the decoder doubles single words ("Three. Three.")
    where the speaker said them once, so a doubled word is checked against the full window.
    """
    run = _first_run(words, lambda n: 2)
    return run[1:] if run else None


def loop_reason(
    text: str, *, tokens: int, token_cap: int | None, compression_ratio: float, max_compression: float
) -> str:
    """Why a decode looks like a loop ('' when it does not): it ran into its token cap, its text compresses
    too well (faster-whisper's own test), or a phrase repeats (`repeated_run`)."""
    if token_cap is not None and tokens >= token_cap - 1:
        return f"hit the {token_cap}-token cap"
    if compression_ratio > max_compression:
        return f"repetitive (compression ratio {compression_ratio:.1f})"
    run = repeated_run(words_of(text))
    if run is not None:
        return f"a {run[0]}-word phrase repeated {run[1]} times"
    return ""


def cut_loop(text: str, *, times: int = 3) -> str:
    """`text` up to the end of a phrase the decoder then repeats `times` times or more; else `text` unchanged.

    "Open the file manager. Open the file manager. Open the..." -> "Open the file manager."
    """
    found = word_matches(text)
    run = _first_run(words_of(text), lambda n: times)
    if run is None:
        return text
    start, n, _times = run
    end = found[start + n - 1].end()
    return text[:end] + re.match(r"[.!?…]*", text[end:]).group()  # type: ignore[union-attr]


LONGEST_LOOP_WORDS = 16
"""Phrases up to this many words are looked for as loops: over clicks the decoder repeated the 9-word
"I'm going to go back to the next video." ten times (CT2_FORCE_CPU_ISA=GENERIC), which a limit of 8 missed."""


def _first_run(words: Sequence[str], need: Callable[[int], int]) -> tuple[int, int, int] | None:
    """(start, n, times) of the first n-gram repeated at least need(n) times in a row."""
    count = len(words)
    for n in range(1, min(LONGEST_LOOP_WORDS, count // 2) + 1):
        for start in range(0, count - n * need(n) + 1):
            gram = words[start : start + n]
            times = 1
            while words[start + times * n : start + (times + 1) * n] == gram:
                times += 1
            if times >= need(n):
                return start, n, times
    return None


def is_stock_phrase(text: str) -> bool:
    """True for the sign-offs and caption credits Whisper invents over silence ("Thank you.")."""
    return " ".join(words_of(text)) in STOCK_PHRASES
