"""What a word is, for every stage that splits text into words.

A word is a run of letters and digits, with inner apostrophes ("don't", "Don’t"); underscores,
punctuation and symbols separate words.
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")


def words_of(text: str) -> list[str]:
    """Lower-case words of a text, punctuation dropped ("Don’t stop!" -> ["don't", "stop"])."""
    return [w.lower().replace("’", "'") for w in _WORD.findall(text)]


def word_matches(text: str) -> list[re.Match[str]]:
    """The words of a text as they stand in it (case kept), with their spans, in order."""
    return list(_WORD.finditer(text))


def has_cyrillic(text: str) -> bool:
    """True when `text` has a Cyrillic letter (said or written in Russian)."""
    return _CYRILLIC.search(text) is not None
