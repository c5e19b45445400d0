"""Finding the wake phrase at the start of a transcript, tolerant of how Whisper spells a name.

Words are reduced to a rough sound key (Cyrillic transliterated, doubled letters merged,
look-alike spellings folded: "Lokey", "Loky", "low key" and «Локи» all become "loki") and the
first words of the transcript are compared with the phrase by edit distance on those keys.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from loki.words import word_matches, words_of

_CYRILLIC = dict(
    zip(
        "абвгдеёжзийклмнопрстуфхцчшщъыьэюя",
        [
            "a",
            "b",
            "v",
            "g",
            "d",
            "e",
            "e",
            "zh",
            "z",
            "i",
            "i",
            "k",
            "l",
            "m",
            "n",
            "o",
            "p",
            "r",
            "s",
            "t",
            "u",
            "f",
            "h",
            "ts",
            "ch",
            "sh",
            "sh",
            "",
            "i",
            "",
            "e",
            "iu",
            "ia",
        ],
        strict=True,
    )
)
# Spelling variants folded onto one sound (order matters: longer first).
_FOLDS = [
    ("ey", "e"),
    ("ay", "e"),
    ("ei", "e"),
    ("ai", "e"),
    ("ee", "i"),
    ("ea", "i"),
    ("ie", "i"),
    ("oo", "u"),
    ("ck", "k"),
    ("ch", "k"),
    ("ph", "f"),
    ("gh", "g"),
    ("qu", "kv"),
    ("wh", "v"),
    ("x", "ks"),
    ("c", "k"),
    ("q", "k"),
    ("g", "k"),  # "Loggy", "Logie": Whisper voices the k
    ("w", "v"),
    ("y", "i"),
]
# Greetings that sound alike at the start of a phrase ("hey", "hi", "эй", "хэй").
_GREETINGS = {"hey", "hay", "hei", "he", "heh", "hi", "ei", "ej", "ai", "a", "eh", "e", "khei", "khai", "they"}
# Words that may precede the phrase without breaking the match.
_LEAD_FILLERS = {"uh", "um", "umm", "oh", "so", "and", "ok", "okay", "well", "hmm", "э", "ээ", "ну", "а"}


def _word_key(word: str) -> str:
    low = "".join(_CYRILLIC.get(ch, ch) for ch in word.lower())
    low = re.sub(r"[^a-z]", "", low)
    if low in _GREETINGS:
        return "e"
    low = re.sub(r"(ey|ie|y)$", "i", low)  # "Lokey", "Lokie", "Loky"
    low = low.replace("ow", "o")  # "low key", "lowkey"
    if low.startswith("h"):
        low = low[1:]  # "hey" / "эй", "hi" / "ай"
    for old, new in _FOLDS:
        low = low.replace(old, new)
    return re.sub(r"(.)\1+", r"\1", low)


def sound_key(text: str) -> str:
    """A rough, spelling-tolerant key of the letters of `text` (spaces and punctuation dropped)."""
    return re.sub(r"(.)\1+", r"\1", "".join(_word_key(w) for w in words_of(text)))


def similarity(a: str, b: str) -> float:
    """1 - normalized Levenshtein distance (1.0: equal)."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))


@dataclass(frozen=True)
class PhraseMatch:
    """The wake phrase found at the start of a transcript."""

    phrase: str
    score: float
    remainder: str  # the words after the phrase, as transcribed ("open the browser.")


class WakePhrases:
    """One or more wake phrases (e.g. "hey loki" and «эй локи») matched at a transcript's start."""

    def __init__(
        self, phrases: list[str] | tuple[str, ...], *, min_score: float = 0.85, aliases: tuple[str, ...] = ()
    ) -> None:
        self.phrases = [p for p in phrases if p.strip()]
        self.min_score = min_score
        self._keys = [(p, sound_key(p), len(words_of(p))) for p in self.phrases]
        self._keys += [(p, sound_key(a), len(words_of(a))) for p in self.phrases[:1] for a in aliases]

    def match(self, text: str) -> PhraseMatch | None:
        """The best phrase match at the start of `text`, or None."""
        words = word_matches(text)
        skip = 0
        while skip < min(2, len(words)) and words[skip].group().lower() in _LEAD_FILLERS:
            skip += 1
        best: PhraseMatch | None = None
        cyrillic = bool(re.search("[а-яё]", text, re.IGNORECASE))

        def same_script(phrase: str) -> bool:
            return bool(re.search("[а-яё]", phrase)) == cyrillic

        for start in {0, skip}:
            for phrase, key, n_words in self._keys:
                for n in range(max(1, n_words - 1), n_words + 2):
                    if start + n > len(words):
                        break
                    said = text[words[start].start() : words[start + n - 1].end()]
                    score = similarity(sound_key(said), key)
                    better = (  # a longer span that sounds the same ("Hey Loki, I") is no better: its last word is the command's
                        best is None
                        or score > best.score
                        or (score == best.score and same_script(phrase) and not same_script(best.phrase))
                    )
                    if score >= self.min_score and better:
                        rest = text[words[start + n - 1].end() :]
                        best = PhraseMatch(phrase, round(score, 3), rest.lstrip(" ,.!?;:-—…").strip())
        return best

    def nearest(self, text: str, *, min_score: float = 0.5) -> tuple[str, float, str, str] | None:
        """The phrase the first words come closest to: (phrase, similarity, those words, the rest).

        For a second, acoustic look when the text is close but not close enough ("Hey, log it").
        """
        words = word_matches(text)
        best: tuple[str, float, str, str] | None = None
        for phrase, key, n_words in self._keys:
            for n in range(1, n_words + 2):
                if n > len(words):
                    break
                head = text[: words[n - 1].end()]
                score = similarity(sound_key(head), key)
                if score >= min_score and (best is None or score > best[1]):
                    best = (phrase, score, head, text[words[n - 1].end() :].lstrip(" ,.!?;:-—…").strip())
        return best

    def search(self, text: str) -> PhraseMatch | None:
        """The first phrase match anywhere in `text` (for speech mixed with LOKI's own voice)."""
        words = word_matches(text)
        for word in words:
            match = self.match(text[word.start() :])
            if match is not None:
                return match
        return None


def default_phrases(wake_phrase: str) -> list[str]:
    """The configured phrase, plus «эй локи» when it is the default "hey loki"."""
    phrases = [wake_phrase.strip()]
    if sound_key(wake_phrase) == sound_key("hey loki"):
        phrases.append("эй локи")
    return phrases


# How Whisper tends to spell "hey loki" that the sound key alone does not catch.
DEFAULT_ALIASES = ("hello key",)
