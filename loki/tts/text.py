"""Text for speech: sentence splitting (also of a token stream), shortening, cleanup, echo matching."""

from __future__ import annotations

import difflib
import re
from collections.abc import AsyncIterable, AsyncIterator, Callable
from dataclasses import dataclass

from loki.words import words_of

# A sentence ends at . ! ? … (plus closing quotes/brackets) followed by whitespace; a line break
# also ends one. A clause ends at , ; : or a dash followed by whitespace.
_SENTENCE_END = re.compile(r"[.!?…]+[\"'»”)\]]*(?=\s)|\n+")
_CLAUSE_END = re.compile(r"(?:[,;:]|\s[—–-])(?=\s)")
_ABBREVIATIONS = frozenset(
    "mr mrs ms dr prof st sr jr vs etc e.g i.e no approx fig dept inc ltd co т.е т.д т.п др г гг ул им см".split()
)
_MARKDOWN = re.compile(r"(\*\*|__|`+|^#{1,6}\s*|^\s*[-*•]\s+|^\s*\d+\.\s+(?=\D))", re.MULTILINE)
_URL = re.compile(r"https?://\S+")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_CYRILLIC = re.compile(r"[А-Яа-яЁё]")
_LATIN = re.compile(r"[A-Za-z]")

FIRST_SEGMENT_MAX_CHARS = 100
"""A first segment with no punctuation is cut at a space after this many characters."""
SEGMENT_MAX_CHARS = 250
"""Later segments with no punctuation are cut at a space after this many characters."""


@dataclass(frozen=True)
class Segment:
    """A piece of text synthesized in one go; `clause` when it ends mid-sentence."""

    text: str
    clause: bool = False


def clean_for_speech(text: str) -> str:
    """Drop markdown marks and links that a voice would read out literally."""
    text = _URL.sub("a link", text)
    text = _MARKDOWN.sub("", text)
    return text


def script_language(text: str, fallback: str) -> str:
    """'ru' or 'en' by which alphabet has more letters in `text`; `fallback` on a tie."""
    cyrillic, latin = len(_CYRILLIC.findall(text)), len(_LATIN.findall(text))
    if cyrillic == latin:
        return fallback if fallback in ("en", "ru") else "en"
    return "ru" if cyrillic > latin else "en"


def _is_abbreviation(text: str, end: int) -> bool:
    """True when the period ending at `end` closes a known abbreviation or an initial."""
    if text[end - 1] != ".":
        return False
    start = end - 1
    while start > 0 and not text[start - 1].isspace():
        start -= 1
    word = text[start : end - 1].lstrip("(\"'«").lower()
    return word in _ABBREVIATIONS or (len(word) == 1 and word.isalpha())


class SentenceSplitter:
    """Cuts text arriving in pieces (e.g. LLM tokens) into segments as soon as each one is complete.

    The first segment may end at a clause boundary so the voice can start sooner.
    """

    def __init__(self, *, first_clause: bool = True) -> None:
        self.first_clause = first_clause
        self._buffer = ""
        self._emitted = 0

    def feed(self, piece: str) -> list[Segment]:
        """Add text; returns the segments it completed."""
        self._buffer += piece
        out: list[Segment] = []
        while True:
            segment = self._next(final=False)
            if segment is None:
                return out
            out.append(segment)

    def flush(self) -> list[Segment]:
        """The rest of the text, at the end of the stream."""
        out: list[Segment] = []
        while True:
            segment = self._next(final=True)
            if segment is None:
                return out
            out.append(segment)

    def _next(self, final: bool) -> Segment | None:
        buf = self._buffer
        if not buf.strip():
            if final:
                self._buffer = ""
            return None
        cut: int | None = None
        clause = False
        for m in _SENTENCE_END.finditer(buf):
            if m.group().startswith("\n") or not _is_abbreviation(buf, m.end()):
                cut = m.end()
                break
        if self._emitted == 0 and self.first_clause:
            clause_end = _CLAUSE_END.search(buf)
            if (
                clause_end is not None
                and (cut is None or clause_end.end() < cut)
                and words_of(buf[: clause_end.start()])
            ):
                cut, clause = clause_end.end(), True
        limit = FIRST_SEGMENT_MAX_CHARS if self._emitted == 0 else SEGMENT_MAX_CHARS
        if cut is None and len(buf) > limit:
            space = buf.rfind(" ", 0, limit)
            if space > 0:
                cut, clause = space, True
        if cut is None:
            if not final:
                return None
            cut = len(buf)
        text, self._buffer = _SPACES.sub(" ", buf[:cut]).strip(), buf[cut:]
        if not words_of(text):
            return self._next(final) if self._buffer.strip() else None
        self._emitted += 1
        return Segment(text, clause)


def split_text(text: str, *, first_clause: bool = True) -> list[Segment]:
    """All segments of a finished text."""
    splitter = SentenceSplitter(first_clause=first_clause)
    return splitter.feed(text) + splitter.flush()


def shorten_for_speech(text: str, max_chars: int) -> str:
    """At most `max_chars` characters, cut after the last whole sentence that fits (else a word)."""
    text = _SPACES.sub(" ", text).strip()
    if len(text) <= max_chars:
        return text
    kept = ""
    for segment in split_text(text, first_clause=False):
        candidate = f"{kept} {segment.text}".strip()
        if len(candidate) > max_chars:
            break
        kept = candidate
    if kept:
        return kept
    head = text[:max_chars]
    space = head.rfind(" ")
    head = head[:space] if space > max_chars // 2 else head
    return head.rstrip(" ,;:—–-") + "."


def words(text: str) -> list[str]:
    """Lower-case words, punctuation dropped (for comparing what was said and heard)."""
    return [w.replace("ё", "е") for w in words_of(text)]


def spoken_prefix(text: str, fraction: float) -> str:
    """The words of `text` a listener heard when `fraction` of its audio was played."""
    if fraction >= 1.0:
        return text
    parts = text.split()
    return " ".join(parts[: int(len(parts) * max(0.0, fraction))])


def echo_score(heard: str, said: str) -> float:
    """Share of the heard words (0..1) found in order in what was said."""
    heard_words, said_words = words(heard), words(said)
    if not heard_words or not said_words:
        return 0.0
    matcher = difflib.SequenceMatcher(None, said_words, heard_words, autojunk=False)
    matched = sum(block.size for block in matcher.get_matching_blocks())
    return matched / len(heard_words)


async def tee(pieces: AsyncIterable[str], keep: Callable[[str], None]) -> AsyncIterator[str]:
    """The pieces of a streamed reply, each also handed to `keep` as it passes (the one copy of a reply stream)."""
    async for piece in pieces:
        keep(piece)
        yield piece
