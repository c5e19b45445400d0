"""What a Russian word is, from OpenCorpora's dictionary (pymorphy3): a verb that tells, one that asks, a subject.

Russian marks these in the word itself («зависла» tells, «обнови» asks, «шеф» can be who does it), so
where someone stops asking and starts explaining («обнови страничку, видео зависло») can be read from
the words. Endings alone guess wrong too often («стол», «свет», «пила»); the dictionary knows. It is
loaded on first use (about 0.1 s) and each word is looked up once.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

_MIN_SCORE = 0.15
"""Readings of a word this likely or more, together, count (pymorphy3's scores of a word's readings add up to 1)."""


@lru_cache(maxsize=1)
def _analyzer() -> Any:
    import pymorphy3

    return pymorphy3.MorphAnalyzer(lang="ru")


@lru_cache(maxsize=16384)
def _readings(word: str) -> tuple[tuple[frozenset[str], float], ...]:
    """The word's readings in the dictionary as (grammemes, likelihood), likeliest first; none for a word
    the dictionary does not know (pymorphy3 would guess from its ending: «ревью» as a verb)."""
    return tuple((frozenset(p.tag.grammemes), p.score) for p in _analyzer().parse(word) if p.is_known)


def warm_up() -> None:
    """Load the dictionary now rather than on the first Russian utterance."""
    _analyzer()


def tells(word: str) -> bool:
    """True for a verb that tells what is, was or will be («зависла», «идёт», «грузится», «могу»)."""
    readings = _readings(word)
    return bool(readings) and {"VERB", "indc"} <= readings[0][0]


def may_tell(word: str) -> bool:
    """True for a verb that tells (`tells`), or a word the dictionary does not know with a past or present
    verb's ending («подгрузились», «зависает»)."""
    return tells(word) or not _readings(word) and word.endswith(_TELLING_ENDINGS)


_TELLING_ENDINGS = ("лся", "лась", "лось", "лись", "ется", "ится", "ает", "яет", "ует", "ит", "ют", "ло", "ла", "ли")


def tells_state(word: str) -> bool:
    """True for a short participle, which tells how a thing is («открыто», «выключен», «сохранено»)."""
    return any("PRTS" in grammemes for grammemes, _ in _readings(word))


def asks(word: str) -> bool:
    """True for a verb that asks («обнови», «убавь», «верни»)."""
    readings = _readings(word)
    return bool(readings) and {"VERB", "impr"} <= readings[0][0]


def may_be_subject(word: str) -> bool:
    """True when the word may name who or what does something («шеф», «видео», «она», «эта»); a word the
    dictionary does not know is most likely a new noun («созвон», «видос»)."""
    readings = _readings(word)
    return not readings or _MIN_SCORE <= sum(
        score for grammemes, score in readings if "nomn" in grammemes and {"NOUN", "NPRO", "Apro"} & grammemes
    )


def speaker_verb(word: str) -> bool:
    """True for a verb whose subject is the speaker or the listener («хочу», «могу», «знаешь»)."""
    readings = _readings(word)
    return bool(readings) and {"VERB"} <= readings[0][0] and bool({"1per", "2per"} & readings[0][0])


def is_noun(word: str) -> bool:
    """True when the word is likely a noun, in any case («песню», «окно»)."""
    return _MIN_SCORE <= sum(score for grammemes, score in _readings(word) if "NOUN" in grammemes)


def is_adverb(word: str) -> bool:
    """True for an adverb («громко», «опять»)."""
    readings = _readings(word)
    return bool(readings) and "ADVB" in readings[0][0]


def first_name(word: str) -> bool:
    """True for a person's first name («саша», «коля», «маш»)."""
    readings = _readings(word)
    return len(word) > 2 and bool(readings) and "Name" in readings[0][0] and readings[0][1] >= _MIN_SCORE
