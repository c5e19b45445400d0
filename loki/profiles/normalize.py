"""Transcript normalization: case, punctuation, fillers and number words, in English and Russian.

Matching runs on the normalized text; slots such as `<text>` are read back from the original
words with the symbols stuck to them, so "type Hello, World!" types "Hello, World!" and not
"hello world", and "type ~/notes.txt" types "~/notes.txt".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from loki.words import has_cyrillic, word_matches

_SYMBOL = re.compile(r"[^\w\s]|_")  # punctuation, symbols and underscores: what normalization drops

_CONTRACTIONS = {
    "what's": "what is",
    "it's": "it is",
    "that's": "that is",
    "let's": "let us",
    "don't": "do not",
    "can't": "cannot",
    "i'm": "i am",
    "i'd": "i would",
    "you're": "you are",
    "there's": "there is",
    "where's": "where is",
    "who's": "who is",
    "won't": "will not",
    "shan't": "shall not",
    "isn't": "is not",
    "dis": "this",  # as a recognizer writes some accents: "find weather in dis page"
    "dat": "that",
    "шо": "что",  # southern and Ukrainian-tinged Russian
    "чё": "что",
    "чо": "что",
    "ничё": "ничего",
    "ниче": "ничего",
    "doon": "down",  # Scots
    "gonnae": "could you",
    "tae": "to",
    "windae": "window",
    "wi": "with",
    "fur": "for",
    "oot": "out",
    "cannae": "cannot",
    "dinnae": "do not",
    "ah'm": "i am",
    "wheesht": "quiet",
    "programme": "program",  # British spelling
    "programmes": "programs",
    "ентер": "энтер",
    "di": "the",  # Jamaican English
    "tek": "take",
    "mek": "make",
    "wah": "what",
    "waan": "want",
    "зроби": "сделай",  # Ukrainian words in Russian speech
    "трохи": "немного",
}
# Said before or after a command without changing it.
_LEADING_FILLERS = [
    "hey loki",
    "ok loki",
    "okay loki",
    "loki",
    "эй локи",
    "локи",
    "could you please",
    "can you please",
    "would you please",
    "will you please",
    "could you",
    "can you",
    "would you",
    "will you",
    "i want you to",
    "i'd like you to",
    "i wonder if you could",
    "i was wondering if you could",
    "do you think you could",
    "i would like you to",
    "i should like to",
    *(  # a judge's English: "i would ask that you launch a terminal", "be so good as to locate …"
        f"{opening} {ask}"
        for opening in ("i would", "i'd", "i should")
        for ask in ("ask that you", "ask you to", "have you")
    ),
    *(f"{would}be so {good} as to" for would in ("would you ", "could you ", "") for good in ("good", "kind")),
    "might i ask you to",
    "might i trouble you to",
    "might i trouble you for",
    "bless your heart",
    *(  # a lawyer's or a butler's English: "i should be most grateful if you would save the document"
        f"i {would} be {most}{thanks} if you {could}"
        for would in ("would", "should")
        for most in ("most ", "very ", "")
        for thanks in ("grateful", "obliged")
        for could in ("would", "could")
    ),
    "perhaps we could",
    "perhaps you could",
    "maybe we could",
    "maybe you could",
    "maybe let us",
    "let us",
    "прошу вас",
    "прошу осуществить",
    "прошу произвести",
    "прошу",
    "could you maybe",
    "can you maybe",
    "would you maybe",
    "go ahead and",
    "kindly do the needful and",
    "do the needful and",
    "kindly do",  # Indian English: "kindly do page down"
    "kindly",
    "будьте любезны",
    "будьте добры",
    "не сочтите за труд",
    "не сочти за труд",
    "lowkey",  # a teenager's hedge: "lowkey just open the browser"
    "будьте так добры",
    "будьте так любезны",
    "будь так добр",
    "будь любезен",
    "is there a way to",
    "is there any way to",
    "is there a way you can",
    "is there any way you can",
    "can we",
    "could we",
    "как бы мне",
    "есть способ",
    "есть ли способ",
    "please",
    "just",
    "now",
    "ok",
    "okay",
    "so",
    "well",
    "yeah",
    "and",
    "oh my god",
    "oh my gosh",
    "omg",
    "ugh",
    "jeez",
    "geez",
    "пожалуйста",
    "плиз",
    "можешь",
    "можно",
    "ну",
    "так что",
    "короче",
    "типа",
    "поэтому",
    "давайте",
    "давай",
    "а",
    "ка",
]
_TRAILING_FILLERS = [
    "please",
    "for me",
    "thank you kindly",
    "would you",
    "would ya",
    "will you",
    "could you",
    "пожалуйста",
    "плиз",
    "po",  # Filipino English politeness: "search this page for refund po"
    "if you would be so kind",
    "if you please",
    "for the time being",
]
# Opening a request politely: then a "please" at its end is said to LOKI, not dictated.
_POLITE_OPENERS = {f for f in _LEADING_FILLERS if "you" in f.split() or f in ("please", "пожалуйста", "плиз", "можешь")}
# Said after a command without changing it, but the end of a message when dictated: "type see you now".
# A friendly word that ends a request calls LOKI ("hit enter for me mate"; "mate, turn it down" calls a friend).
_TRAILING_WORDS = [
    "now",
    "thanks",
    "thank you",
    "cheers",
    "спасибо",
    *"mate buddy bud dude bro pal чувак братан бро".split(),
    *"lah leh lor".split(),  # Singapore English: "page up lah"
    "na",  # Filipino English: "hit enter na"
    "can or not",
    "no cap",  # a teenager's "no lie"
    "fr",
    "for real",
    "only",  # Indian English: "go to the browser which is already open only"
]
# A "please" before these opens the message itself ("type please find attached the report").
_MESSAGE_AFTER_PLEASE = frozenset(
    "find see note let feel advise confirm review reply check revert send call contact keep share sign forward "
    "ensure remember bring submit".split()
)
# Politeness said anywhere in a command ("открой, пожалуйста, браузер").
_POLITE = {"please", "пожалуйста", "плиз"}
# How a request is to be done, which changes nothing LOKI does ("gently move on to the next tab").
_MANNER = {"gently", "quickly", "carefully", "softly", "swiftly", "побыстрее", "быстренько", "аккуратно"}
_HESITATIONS = set("um umm uh uhh uhm erm er hmm mm эм ээ э мм эээ".split())

_EN_UNITS = {
    "zero": 0,
    "oh": None,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_EN_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_RU_UNITS = {
    "ноль": 0,
    "один": 1,
    "одна": 1,
    "одно": 1,
    "два": 2,
    "две": 2,
    "три": 3,
    "четыре": 4,
    "пять": 5,
    "шесть": 6,
    "семь": 7,
    "восемь": 8,
    "девять": 9,
    "десять": 10,
    "одиннадцать": 11,
    "двенадцать": 12,
    "тринадцать": 13,
    "четырнадцать": 14,
    "пятнадцать": 15,
    "шестнадцать": 16,
    "семнадцать": 17,
    "восемнадцать": 18,
    "девятнадцать": 19,
}
_RU_TENS = {
    "двадцать": 20,
    "тридцать": 30,
    "сорок": 40,
    "пятьдесят": 50,
    "шестьдесят": 60,
    "семьдесят": 70,
    "восемьдесят": 80,
    "девяносто": 90,
}
_RU_HUNDREDS = {
    "сто": 100,
    "двести": 200,
    "триста": 300,
    "четыреста": 400,
    "пятьсот": 500,
    "шестьсот": 600,
    "семьсот": 700,
    "восемьсот": 800,
    "девятьсот": 900,
}
_SMALL = {k: v for k, v in {**_EN_UNITS, **_EN_TENS, **_RU_UNITS, **_RU_TENS}.items() if v is not None}
_SCALES = {"hundred": 100, "thousand": 1000, "тысяча": 1000, "тысячи": 1000, "тысяч": 1000}


@dataclass(frozen=True)
class Normalized:
    """A normalized utterance that remembers where each token came from."""

    raw: str
    tokens: tuple[str, ...]
    spans: tuple[tuple[int, int], ...]  # each token's (start, end) in `raw`

    @property
    def text(self) -> str:
        """Tokens joined by single spaces: what rules are matched against."""
        return " ".join(self.tokens)

    def surface(self, start: int, end: int) -> str:
        """The original words under characters [start, end) of `text`, with their case and punctuation,
        and the symbols stuck to the first and last of them ("50%", "~/notes.txt", "-v")."""
        first = last = None
        pos = 0
        for i, token in enumerate(self.tokens):
            t_start, t_end = pos, pos + len(token)
            if t_end > start and t_start < end:
                first = i if first is None else first
                last = i
            pos = t_end + 1
        if first is None or last is None:
            return ""
        begin, finish = self.spans[first][0], self.spans[last][1]
        before = begin
        while before > 0 and _SYMBOL.match(self.raw, before - 1):
            before -= 1
        if before == 0 or self.raw[before - 1].isspace():  # symbols that open the word, not a word's tail
            begin = before
        while finish < len(self.raw) and _SYMBOL.match(self.raw, finish):
            finish += 1
        if finish == len(self.raw.rstrip()):
            # The period or comma speech recognition ends a sentence with is not the user's text.
            finish = len(self.raw[:finish].rstrip(".,")) if not self.raw[:finish].endswith("...") else finish
        return self.raw[begin:finish]


def _number_value(words: list[str]) -> int | None:
    """Parse a run of number words ("twenty five", "сто двадцать три"); None if not a number."""
    total, current, seen = 0, 0, False
    for word in words:
        if word.isdigit():
            current += int(word)
        elif word in _SMALL:
            current += _SMALL[word]
        elif word in _RU_HUNDREDS:
            current += _RU_HUNDREDS[word]
        elif word in _SCALES:
            scale = _SCALES[word]
            if scale == 100:
                current = max(current, 1) * 100
            else:
                total += max(current, 1) * scale
                current = 0
        elif word in ("and", "и") and seen:
            continue
        else:
            return None
        seen = True
    return total + current if seen else None


def _is_number_word(word: str) -> bool:
    return word in _SMALL or word in _RU_HUNDREDS or word in _SCALES


def _merge_numbers(tokens: list[str], spans: list[tuple[int, int]]) -> tuple[list[str], list[tuple[int, int]]]:
    out_t: list[str] = []
    out_s: list[tuple[int, int]] = []
    i = 0
    while i < len(tokens):
        if _is_number_word(tokens[i]):
            j = i
            while j < len(tokens) and (
                _is_number_word(tokens[j])
                or (tokens[j] in ("and", "и") and j + 1 < len(tokens) and _is_number_word(tokens[j + 1]) and j > i)
            ):
                # A unit after a unit ("one two") is two numbers, not one.
                if (
                    j > i
                    and tokens[j] in _SMALL
                    and tokens[j - 1] in _SMALL
                    and not (tokens[j - 1] in _EN_TENS or tokens[j - 1] in _RU_TENS)
                ):
                    break
                j += 1
            value = _number_value(tokens[i:j])
            if value is not None:
                out_t.append(str(value))
                out_s.append((spans[i][0], spans[j - 1][1]))
                i = j
                continue
        out_t.append(tokens[i])
        out_s.append(spans[i])
        i += 1
    return out_t, out_s


def _strip_phrases(
    tokens: list[str], spans: list[tuple[int, int]], phrases: list[list[str]], leading: bool
) -> list[str]:
    """Drop `phrases` from the start (or end) of `tokens`, one after another; returns those dropped."""
    dropped = []
    changed = True
    while changed and tokens:
        changed = False
        for phrase in phrases:
            n = len(phrase)
            if n < len(tokens) and (tokens[:n] if leading else tokens[-n:]) == phrase:
                if leading:
                    del tokens[:n], spans[:n]
                else:
                    del tokens[-n:], spans[-n:]
                dropped.append(" ".join(phrase))
                changed = True
                break
    return dropped


_LEAD = [p.split() for p in sorted(_LEADING_FILLERS, key=len, reverse=True)]
_TRAIL = [p.split() for p in sorted(_TRAILING_FILLERS + _TRAILING_WORDS, key=len, reverse=True)]
_TRAIL_DICTATED = [p.split() for p in sorted(_TRAILING_FILLERS, key=len, reverse=True)]


def _restart(tokens: list[str]) -> int:
    """Where a request said again after an apology starts ("type, sorry, type off sick today", «открой, ой,
    открой терминал»): the first word, then only "sorry" and the like, then that word again; else 0."""
    for k in range(2, min(len(tokens), 5)):
        if tokens[k] == tokens[0] and all(t in _RESTARTS for t in tokens[1:k]):
            return k
    return 0


_RESTARTS = frozenset("sorry oops no wait ой извини извините нет".split())


def _stuttered(word: str, m: re.Match[str], rest: list[re.Match[str]]) -> bool:
    """True for the start of a word said again at once: each "c" of "c-c-close", «з» of «з-з-закрой», "p" of "p p
    page up" (a letter that is no word of its own, before a word it starts; "press x x" presses two keys)."""
    if not rest or not rest[0].group().lower().startswith(word):
        return False
    between = m.string[m.end() : rest[0].start()]
    if between == "-":
        return len(word) <= 2
    if between != " " or len(word) != 1 or word in _ONE_LETTER_WORDS:
        return False
    for following in rest:  # past the same letter said again, to the word it starts
        said = following.group().lower()
        if said != word:
            return said.startswith(word)
    return False


_ONE_LETTER_WORDS = frozenset("a i в с к у о и а я".split())


@lru_cache(maxsize=1024)  # one utterance is read many times over (by clause, as dictation, per rule)
def normalize(raw: str, *, strip_fillers: bool = True, dictated: bool = False) -> Normalized:
    """Lower-case, drop punctuation and fillers, turn number words into digits.

    `dictated` keeps the words that end a dictated message ("type see you now", "type thank you", "type
    can you send that over please"); a "please" or "would you" at the end is LOKI's only when the request
    opened politely too ("could you type hello world please")."""
    raw = unicodedata.normalize("NFC", raw)
    tokens: list[str] = []
    spans: list[tuple[int, int]] = []
    matches = list(word_matches(raw))
    for k, m in enumerate(matches):
        word = m.group().lower().replace("’", "'").replace("ё", "е")
        expanded = _CONTRACTIONS.get(word)
        if word == "o" and raw[m.end() : m.end() + 1] in ("'", "’"):
            expanded = "of"  # "get rid o' this tab" (a letter "o" is a key: "press ctrl o")
        if _stuttered(word, m, matches[k + 1 :]):
            continue  # "c-c-close the tab", «з-з-закрой»: the word is said once
        if expanded:
            for part in expanded.split():
                tokens.append(part)
                spans.append(m.span())
        elif word == "ка" and tokens and raw[m.start() - 1] == "-":
            continue  # the particle of «сделай-ка», «выключи-ка звук»: the request is the same
        elif word not in _HESITATIONS and not (strip_fillers and not dictated and (word in _POLITE or word in _MANNER)):
            tokens.append(word)
            spans.append(m.span())
    restart = _restart(tokens)
    del tokens[:restart], spans[:restart]
    if strip_fillers:
        opened = _strip_phrases(tokens, spans, _LEAD, leading=True)
        if dictated:  # a "please" inside stays in the typed text, which is read back from `raw`
            kept = [
                i
                for i, t in enumerate(tokens)
                if t not in _POLITE or i == len(tokens) - 1 or tokens[i + 1] in _MESSAGE_AFTER_PLEASE
            ]
            tokens, spans = [tokens[i] for i in kept], [spans[i] for i in kept]
        if not dictated:
            _strip_phrases(tokens, spans, _TRAIL, leading=False)
        elif any(phrase in _POLITE_OPENERS for phrase in opened):
            _strip_phrases(tokens, spans, _TRAIL_DICTATED, leading=False)
    tokens, spans = _merge_numbers(tokens, spans)
    return Normalized(raw, tuple(tokens), tuple(spans))


_SET_OFF_HESITATION = re.compile(
    r"\s*,\s*(?:"
    + "|".join(sorted(_HESITATIONS | _POLITE | {"типа", "короче", "like"}, key=len, reverse=True))
    + r")\s*,\s*",
    re.IGNORECASE,
)


_SET_OFF_NO = re.compile(r"[,.!;]\s*(?:no|nope|нет|а нет|а,\s*нет|ой,?\s*нет)\s*,\s*", re.IGNORECASE)


def join_hesitations(raw: str) -> str:
    """A hesitation or a filler («типа», «короче», "like") between commas parts nothing: "запусти, типа, менеджер
    файлов" -> "запусти менеджер файлов"; a "no" between commas takes back what came before, as "no wait" does
    ("next tab, no, previous tab")."""
    raw = _SET_OFF_NO.sub(lambda m: " ой нет " if has_cyrillic(m.group()) else " no wait ", raw)
    return _SET_OFF_HESITATION.sub(" ", raw)


def detect_script_language(text: str) -> str:
    """'ru' when most letters are Cyrillic, else 'en' (for LOKI_LANGUAGE=auto on typed text)."""
    cyrillic = sum(1 for ch in text if "а" <= ch.lower() <= "я" or ch.lower() == "ё")
    latin = sum(1 for ch in text if "a" <= ch.lower() <= "z")
    return "ru" if cyrillic > latin else "en"
