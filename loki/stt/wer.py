"""Word error rate between what was said and a transcript, after normalising case, punctuation and numbers.

"Press 6" and "press six", "33-4-692" and "thirty three four six ninety two", «ещё» and «еще» count as the
same words: numbers are compared digit by digit, a run of numbers said in a row as one digit string
("two nine three four zero" = "29340" = 2 9 3 4 0), however the recogniser chose to write it.
"""

from __future__ import annotations

from collections.abc import Sequence

from loki.words import words_of

_UNITS_EN = "zero one two three four five six seven eight nine".split()
_TEENS_EN = "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen".split()
_TENS_EN = "twenty thirty forty fifty sixty seventy eighty ninety".split()
_UNITS_RU = "ноль один два три четыре пять шесть семь восемь девять".split()
_TEENS_RU = (
    "десять одиннадцать двенадцать тринадцать четырнадцать пятнадцать шестнадцать семнадцать восемнадцать девятнадцать"
).split()
_TENS_RU = "двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто".split()

_NUMBERS: dict[str, int] = {}
for _units, _teens, _tens in ((_UNITS_EN, _TEENS_EN, _TENS_EN), (_UNITS_RU, _TEENS_RU, _TENS_RU)):
    _NUMBERS.update({w: i for i, w in enumerate(_units)})
    _NUMBERS.update({w: 10 + i for i, w in enumerate(_teens)})
    _NUMBERS.update({w: 20 + 10 * i for i, w in enumerate(_tens)})
_NUMBERS.update({"одна": 1, "две": 2, "oh": 0})


def normal_words(text: str) -> list[str]:
    """The words of `text` for scoring: lower case, no punctuation, ё as е, numbers as digit strings."""
    tokens: list[str] = []
    in_number = False
    for word in words_of(text.replace("ё", "е").replace("Ё", "Е")):
        value = _number(word)
        if value is None:
            tokens.append(word)
            in_number = False
            continue
        if in_number:
            last = tokens[-1]
            # "thirty three" is 33, not "303": a ten followed by a unit fills its zero
            if len(last) >= 2 and last.endswith("0") and last[-2] != "0" and len(value) == 1 and value != "0":
                tokens[-1] = last[:-1] + value
            else:
                tokens[-1] = last + value
        else:
            tokens.append(value)
        in_number = True
    # one digit a token: a misheard number word ("33 for 692") costs one error, not the whole run
    return [t for token in tokens for t in (list(token) if token.isdigit() else [token])]


def _number(word: str) -> str | None:
    if word.isdigit():
        return word
    value = _NUMBERS.get(word)
    return None if value is None else str(value)


def word_errors(reference: str, hypothesis: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, words in the reference), after `normal_words`."""
    ref, hyp = normal_words(reference), normal_words(hypothesis)
    return _edit_distance(ref, hyp), len(ref)


def _edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    previous = list(range(len(b) + 1))
    for i, word in enumerate(a, 1):
        current = [i]
        for j, other in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (word != other)))
        previous = current
    return previous[-1]


def error_rate(pairs: Sequence[tuple[str, str]]) -> float:
    """Word error rate over (reference, hypothesis) pairs: all errors over all reference words."""
    errors = words = 0
    for reference, hypothesis in pairs:
        e, n = word_errors(reference, hypothesis)
        errors, words = errors + e, words + n
    return errors / words if words else 0.0
