"""Near-miss commands: when a transcript matches no rule, score the profiles' own phrases against the audio.

tiny.en mishears short commands ("welcome up" for "volume up", "take us green shot"). The
command set is known, though: this module expands the active profiles' phrases (optional words,
alternatives, lists; rules with free text are left out), shortlists the few that look closest
to what was transcribed, and asks Whisper's decoder, teacher-forced on the same audio, how
likely each is (`ctranslate2` `align()`, whose token probabilities are exactly that). A phrase
whose mean log-probability per token clears an absolute floor, and is not far below the
transcript's own, replaces the transcript. Anything else - questions for the LLM, chatter -
scores far lower and passes through unchanged.

Phrases are ranked by how much the audio raises them over what the decoder expects anyway: each
token's log-probability minus `prior_weight` times its log-probability over silence (cached per
phrase). Without it, phrases whose later tokens follow from the first ("предыдущая песня") won
on garbled audio, and opposites differing in one word went to the wrong one.

This module decides (which phrases, which thresholds, what counts as a rescue or a wake phrase);
the Whisper work (encoding, tokens, `align()`) is `loki.stt.rescore.PhraseScorer`'s.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from loki.listen.wake.phrase import WakePhrases, similarity, sound_key
from loki.profiles.wordings import expand_phrase
from loki.stt.rescore import PhraseScorer, mean_logprob
from loki.words import words_of

if TYPE_CHECKING:
    from loki.stt import Transcriber
    from loki.stt.transcriber import Encoding

__all__ = ["Candidate", "CommandRescorer", "Doubt", "Rescued", "expand_phrase"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Candidate:
    """One wording of a profile rule."""

    phrase: str
    key: str  # sound key (loki.listen.wake.phrase.sound_key)
    command: str  # what tier 0 does with it (wordings of one command share this)


@dataclass
class _Commands:
    """The rules the rescorer picks from, with what it worked out from them (replaced whole on a reload)."""

    profiles: Any
    candidates: dict[str, list[Candidate]] = field(default_factory=dict)
    opposites: dict[tuple[str, str], Candidate | None] = field(default_factory=dict)  # by (language, phrase)
    matcher: Any = None


@dataclass(frozen=True)
class Doubt:
    """A transcript that is a rule's wording, whose opposite fits the audio about as well."""

    heard: str
    phrase: str  # the rule's wording nearest the transcript
    opposite: str
    fit: float  # per token, over what the decoder expects anyway (see `prior_weight`)
    opposite_fit: float
    ms: float


@dataclass(frozen=True)
class Rescued:
    """A command phrase that fits the audio better than the transcript did."""

    text: str
    heard: str
    score: float  # mean log-probability per token
    heard_score: float
    ms: float


class CommandRescorer:
    """Picks the profile phrases worth scoring against an utterance and decides from their scores.

    The scores come from the Whisper model LOKI transcribes with (`self.scorer`, a PhraseScorer).
    Blocking: call it from the speech-recognition thread.

    Args:
        transcriber: the daemon's Transcriber; its loaded Whisper model (`load()`) is the one scored with.
        profiles: the ProfileSet whose phrases are the candidates.
        shortlist: phrases scored per utterance (the cost grows with it).
        per_command: wordings of one command in the shortlist ("open the browser", "open browser"; 3 rather than 2
            took wrong actions on 180 bench clips from 2 to 0).
        min_score: mean log-probability per token a phrase needs.
        max_below_heard: how far below the transcript's own score a phrase may be.
        min_margin: how far the best phrase must beat the best one of another command (no coin tosses).
        weak_fit: in English, a best phrase the audio raises no more than this over what the decoder expects anyway
            (its fit, see `prior_weight`) must beat every other command by `weak_fit_margin` ("I knew" said for
            "undo": "unmute" fit -0.05, "undo" -0.70, a margin of 0.65; on 744 clips (seed 0) the 7 right rescues at
            fits below 0 won by 0.93 or more). Not in Russian: the multilingual model's right rescues of garbled Russian win at such fits by
            less (`test_a_phrase_the_decoder_expects_anyway_does_not_win_on_garbled_audio`, under GENERIC kernels).
        heard_word_slack: a phrase of another command that keeps more of the words heard ("Roll up":
            "scroll up", not "scroll down") and scores within this of the best makes the rescue a coin toss too.
        max_words: longer transcripts are never treated as near-miss commands.
        prior_weight: how much of a phrase's log-probability over silence is taken off when ranking phrases.
        wake_alone_max_words: a transcript this short with nothing like the wake phrase in it is still
            checked against the audio as the phrase said alone.
        wake_near: first words at least this like the wake phrase (by sound) are checked against the audio
            ("Эй, уйти" for festival's fast «эй локи»: 0.4; at 0.5, 4 of 72 Russian wake phrases were lost, at
            0.35 2; on 243 real recordings, none of the extra checks woke LOKI).
        short_words: an English transcript this short is also scored against every one-word command.
        min_heard_one_word: a one-word command never replaces a transcript that fits the audio worse than
            this (per token): such audio is hardly speech (beeps fit "play" at -3.3; real mishearings
            rescued to one word on 870 clips fit their transcripts at -5.6 or better).
        opposite_margin: a transcript that is a rule's wording must fit the audio this much better (per token,
            over the prior) than the opposite command's nearest wording, or it is not acted on (`doubt`). On 744
            clips (24 commands x 31 English voices), 316 right transcripts with an opposite beat it by 0.17 or
            more (minimize / maximize; the median by 3.6); "scroll down" heard for "scroll up" by -0.05. The
            opposite must fit the audio itself (a fit of 0 or more; "scroll up" fit 2.26 there).
        contradicts: (heard, phrase, language) -> True when the phrase asks the opposite of what was heard
            ("turn the volume up" / "turn down the volume"): such a phrase never replaces the transcript.
    """

    def __init__(
        self,
        transcriber: Transcriber,
        profiles: Any,
        *,
        shortlist: int = 8,
        per_command: int = 3,
        min_score: float = -3.5,
        max_below_heard: float = 2.0,
        min_margin: float = 0.2,
        weak_fit: float = 0.0,
        weak_fit_margin: float = 0.9,
        heard_word_slack: float = 1.0,
        max_words: int = 8,
        wake_min_score: float = -4.0,
        wake_max_below_heard: float = 2.5,
        wake_alone_max_words: int = 3,
        wake_near: float = 0.35,
        short_words: int = 3,
        min_heard_one_word: float = -6.0,
        prior_weight: float = 0.5,
        opposite_margin: float = 0.1,
        contradicts: Callable[[str, str, str], bool] | None = None,
    ) -> None:
        self.transcriber = transcriber
        self._commands = _Commands(profiles)
        self.shortlist = shortlist
        self.per_command = per_command
        self.min_score = min_score
        self.max_below_heard = max_below_heard
        self.min_margin = min_margin
        self.weak_fit = weak_fit
        self.weak_fit_margin = weak_fit_margin
        self.heard_word_slack = heard_word_slack
        self.max_words = max_words
        self.wake_min_score = wake_min_score
        self.wake_max_below_heard = wake_max_below_heard
        self.wake_alone_max_words = wake_alone_max_words
        self.wake_near = wake_near
        self.short_words = short_words
        self.min_heard_one_word = min_heard_one_word
        self.prior_weight = prior_weight
        self.opposite_margin = opposite_margin
        self.contradicts = contradicts
        self.scorer = PhraseScorer(transcriber)
        self._lock = threading.Lock()

    @property
    def profiles(self) -> Any:
        """The ProfileSet whose phrases are the candidates."""
        return self._commands.profiles

    def use(self, profiles: Any) -> None:
        """Pick from these rules from the next utterance on (the profiles were reloaded)."""
        self._commands = _Commands(profiles)

    # Candidates ---------------------------------------------------------------------------
    def candidates(self, language: str) -> list[Candidate]:
        """Every enumerable wording of the language's rules, with its sound key and the command it gives."""
        commands = self._commands  # one set of rules throughout, even if they are reloaded meanwhile
        if language not in commands.candidates:
            phrases: dict[str, Candidate] = {}
            for rule in commands.profiles.for_language(language):
                if rule.is_repeat:
                    continue
                for wording in expand_phrase(rule.phrase, rule.lists):
                    if len(wording.split()) <= self.max_words and wording not in phrases:
                        command = self._command_of(commands, wording, language)
                        phrases[wording] = Candidate(wording, sound_key(wording), command)
            commands.candidates[language] = list(phrases.values())
        return commands.candidates[language]

    def _command_of(self, commands: _Commands, wording: str, language: str) -> str:
        """What tier 0 does with a wording, as a key: wordings with the same key are the same command."""
        match = self._matcher_for(commands).match(wording, language)
        if match is None:  # scoped to an app or a window title
            return f"scoped:{wording}"
        actions = [
            {"type": "speak", "rule": match.rule.phrase} if a.get("type") == "speak" else a for a in match.actions
        ]
        return json.dumps(actions, sort_keys=True, ensure_ascii=False)

    def shortlist_for(self, heard: str, language: str) -> list[str]:
        """The wordings that sound most like `heard`, at most `per_command` unlike wordings of each command."""
        return [c.phrase for c in self._shortlist(heard, language)]

    def _shortlist(self, heard: str, language: str) -> list[Candidate]:
        """The closest wordings; a command's second wording must differ from its first by more than spelling.

        ("maximise window" adds nothing to "maximize window", while "maximize my window" may be what was said.)
        A short English transcript is also scored against every one-word command: spelling says little about
        how "Ace" sounds like "paste" or "knew it" like "unmute" (870 clips: 11 more rescued, none wrong; not
        measured for Russian, where garbled espeak clips went to the wrong track more often with it).
        """
        key = sound_key(heard)
        ranked = sorted(self.candidates(language), key=lambda c: -similarity(c.key, key))
        taken: dict[str, list[str]] = {}
        out = []
        for candidate in ranked:
            keys = taken.setdefault(candidate.command, [])
            if len(keys) < self.per_command and all(similarity(candidate.key, k) <= 0.9 for k in keys):
                keys.append(candidate.key)
                out.append(candidate)
                if len(out) == self.shortlist:
                    break
        out += self._opposites(out, language)
        if language == "en" and len(words_of(heard)) <= self.short_words:
            seen = {c.phrase for c in out}
            out += [c for c in self.candidates(language) if " " not in c.phrase and c.phrase not in seen]
        return out

    def _opposites(self, near: list[Candidate], language: str) -> list[Candidate]:
        """For each wording, the opposite command's wording that sounds most like it ("mute the sound" for
        "unmute the sound"): between opposites the audio must choose, never the spelling of the transcript
        ("new to the towns" shortlisted only "unmute the sound", which won; with "mute the sound" scored
        too, 80 rescues between opposites on 870 clips were all right, the closest by 0.33)."""
        contradicts = self.contradicts
        if contradicts is None:
            return []
        seen = {c.phrase for c in near}
        out = []
        for candidate in near:
            opposite = self._opposite(candidate, language, contradicts)
            if opposite is not None and opposite.phrase not in seen:
                seen.add(opposite.phrase)
                out.append(opposite)
        return out

    def _opposite(
        self, candidate: Candidate, language: str, contradicts: Callable[[str, str, str], bool]
    ) -> Candidate | None:
        """The opposite command's wording that sounds most like `candidate` (looked for once per phrase)."""
        commands = self._commands  # one set of rules throughout, even if they are reloaded meanwhile
        key = (language, candidate.phrase)
        if key not in commands.opposites:
            commands.opposites[key] = max(
                (o for o in self.candidates(language) if contradicts(candidate.phrase, o.phrase, language)),
                key=lambda o: similarity(o.key, candidate.key),
                default=None,
            )
        return commands.opposites[key]

    def _matcher_for(self, commands: _Commands) -> Any:
        if commands.matcher is None:
            from loki.profiles.matcher import Matcher

            commands.matcher = Matcher(commands.profiles)
        return commands.matcher

    def matches_a_rule(self, text: str, language: str) -> bool:
        """True when tier 0 understands `text` exactly (in any scope); a near miss ("page no") is not enough."""
        match = self._matcher_for(self._commands).match(text, language)
        return match is not None and match.errors == 0

    def worth_trying(self, text: str, language: str) -> bool:
        """A short transcript that tier 0 does not understand exactly."""
        words = words_of(text)
        return (
            0 < len(words) <= self.max_words
            and bool(self.candidates(language))
            and not self.matches_a_rule(text, language)
        )

    def warm_up(self) -> Encoding:
        """Load the model and encode the silence phrases are weighed against (once; the daemon does it at start)."""
        return self.scorer.warm_up()

    def rescue(
        self,
        audio: np.ndarray,
        heard: str,
        *,
        prefix: str = "",
        language: str = "en",
        encoding: Encoding | None = None,
    ) -> Rescued | None:
        """The profile phrase that fits the audio, when it clearly beats the transcript; else None."""
        started = time.perf_counter()
        with self._lock:
            shortlist = self._shortlist(heard, language)
            if not shortlist:
                return None
            phrases = [c.phrase for c in shortlist]
            *token_scores, heard_tokens = self.scorer.token_logprobs(
                audio, [*phrases, heard], prefix=prefix, language=language, encoding=encoding
            )
            fits = self._fits(phrases, token_scores, prefix, language)
        scores = [mean_logprob(lp) for lp in token_scores]
        heard_score = mean_logprob(heard_tokens)
        best = int(np.argmax(fits))
        runner_up = max(
            (x for c, x in zip(shortlist, fits, strict=True) if c.command != shortlist[best].command),
            default=float("-inf"),
        )
        ms = (time.perf_counter() - started) * 1000
        log.debug(
            "rescoring %r: best %r %.2f, fit %.2f (heard %.2f, other command's fit %.2f) in %.0f ms",
            heard,
            phrases[best],
            scores[best],
            fits[best],
            heard_score,
            runner_up,
            ms,
        )
        if (
            scores[best] < self.min_score
            or scores[best] < heard_score - self.max_below_heard
            or not self.beats(fits[best], runner_up, language)
            or self._drops_heard_words(heard, shortlist, fits, best)
            or (self.contradicts is not None and self.contradicts(heard, phrases[best], language))
            or (" " not in phrases[best] and heard_score < self.min_heard_one_word)
        ):
            return None
        return Rescued(phrases[best], heard, round(scores[best], 3), round(heard_score, 3), round(ms, 1))

    def beats(self, fit: float, other: float, language: str = "en") -> bool:
        """Whether a phrase of this fit clearly beats another command's best fit: by `min_margin`, or, in English,
        by `weak_fit_margin` when the audio hardly raises it (a fit below `weak_fit`)."""
        weak = language == "en" and fit < self.weak_fit
        return fit >= other + (self.weak_fit_margin if weak else self.min_margin)

    def doubt(
        self,
        audio: np.ndarray,
        heard: str,
        *,
        prefix: str = "",
        language: str = "en",
        encoding: Encoding | None = None,
    ) -> Doubt | None:
        """For a transcript that is a rule's own wording, its opposite's wording when the audio fits that one
        about as well ("scroll down" heard for "scroll up"): a coin toss, not a command. None when the audio
        chooses the transcript, or it has no opposite."""
        contradicts = self.contradicts
        if contradicts is None or not 0 < len(words_of(heard)) <= self.max_words:
            return None
        started = time.perf_counter()
        with self._lock:
            key = sound_key(heard)
            near = max(self.candidates(language), key=lambda c: similarity(c.key, key), default=None)
            opposite = None if near is None else self._opposite(near, language, contradicts)
            if near is None or opposite is None:
                return None
            phrases = [near.phrase, opposite.phrase]
            token_scores = self.scorer.token_logprobs(
                audio, phrases, prefix=prefix, language=language, encoding=encoding
            )
            heard_fit, opposite_fit = self._fits(phrases, token_scores, prefix, language)
        ms = (time.perf_counter() - started) * 1000
        log.debug(
            "doubt %r: %r fit %.2f, opposite %r fit %.2f in %.0f ms",
            heard,
            near.phrase,
            heard_fit,
            opposite.phrase,
            opposite_fit,
            ms,
        )
        if heard_fit >= opposite_fit + self.opposite_margin or opposite_fit < 0:
            return None  # the audio chooses the transcript, or it is not the opposite either (beeps fit neither)
        return Doubt(heard, near.phrase, opposite.phrase, round(heard_fit, 3), round(opposite_fit, 3), round(ms, 1))

    def _fits(self, phrases: list[str], token_scores: list[np.ndarray], prefix: str, language: str) -> list[float]:
        """How much the audio raises each phrase over what the decoder expects anyway (its log-probabilities
        over silence, `prior_weight` of them taken off), per token."""
        priors = self.scorer.prior(phrases, prefix, language)
        return [mean_logprob(lp - self.prior_weight * prior) for lp, prior in zip(token_scores, priors, strict=True)]

    def _drops_heard_words(self, heard: str, shortlist: list[Candidate], scores: list[float], best: int) -> bool:
        """True when a close phrase of another command keeps every heard word the best one keeps, and more."""
        heard_words = set(words_of(heard))
        kept = heard_words & set(words_of(shortlist[best].phrase))
        return any(
            candidate.command != shortlist[best].command
            and score >= scores[best] - self.heard_word_slack
            and heard_words & set(words_of(candidate.phrase)) > kept
            for candidate, score in zip(shortlist, scores, strict=True)
        )

    def may_be_wake(self, text: str, phrases: WakePhrases) -> bool:
        """Whether `confirm_wake` has anything to check in this transcript (cheap: text only)."""
        return phrases.nearest(text, min_score=self.wake_near) is not None or self._short(text)

    def _short(self, text: str) -> bool:
        return 0 < len(words_of(text)) <= self.wake_alone_max_words

    def confirm_wake(
        self,
        audio: np.ndarray,
        text: str,
        phrases: WakePhrases,
        *,
        language: str = "en",
        encoding: Encoding | None = None,
    ) -> str | None:
        """When the first words are near the wake phrase ("Hey, log it"), ask the audio; the text with the phrase, or None.

        The wake phrase said on its own is scored against those first words, teacher-forced on the
        same audio; real "hey loki"s misheard score about -2 to -3.6 per token, other words below -4.5.
        A transcript of at most `wake_alone_max_words` words with nothing like the phrase in it is
        scored as the phrase said alone: base writes espeak's «эй локи» as «и в окне» (the
        phrase scores -2.8 to -3.8 per token there, other short Russian phrases -4.5 and lower).
        """
        near = phrases.nearest(text, min_score=self.wake_near)
        same_script = [p for p in phrases.phrases if p.isascii() == (language != "ru")]
        if near is None:
            if not same_script or not self._short(text):
                return None
            near = (same_script[0], 0.0, text.strip(), "")
        elif near[1] >= phrases.min_score:
            return None
        phrase, _similarity, head, rest = near
        if same_script and sound_key(phrase) == sound_key(same_script[0]):
            phrase = same_script[0]  # "эй локи" for Russian, "hey loki" otherwise
        said = phrase.title() if phrase.isascii() else phrase.capitalize()
        with self._lock:
            phrase_score, head_score = self.scorer.score(audio, [said, head], language=language, encoding=encoding)
        log.debug("wake check %r: %r %.2f vs heard %.2f", text, said, phrase_score, head_score)
        if phrase_score < self.wake_min_score or phrase_score < head_score - self.wake_max_below_heard:
            return None
        if len(words_of(rest)) == 1 and len(rest.strip(" .,!?…")) <= 3:
            rest = ""  # the tail of a misheard name ("Hey, look at..."), not a command
        return f"{said}, {rest}" if rest else said
