"""The recognizer: one utterance in, what it means for LOKI out (a command, an answer, the wake phrase, nothing).

It owns the speech model's thread and everything between the VAD and a turn: the early guess (a
transcription started when the silence begins, reused when speech does not resume), the wake
check on the head of long utterances, sleep mode, the acoustic wake confirmation, a request said
in more than one breath (what follows a short pause joined to it), command rescue, the echo
filter (what LOKI said lately) and the gate's decision. It publishes `Transcribed`,
`WakeDetected` and, when the user talks over LOKI, `Interrupt`; the supervisor acts on the
`Outcome`.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import TypeVar

import numpy as np

from loki.audio.frames import SAMPLE_RATE_HZ, to_float32
from loki.audio.vad import Utterance, VadOptions
from loki.brain.builtin import is_wake_up
from loki.events import CommandHeard, Event, Interrupt, Transcribed, WakeDetected
from loki.listen.commands import CommandRescorer, Doubt, Rescued
from loki.listen.gate import CommandGate, Decision, Heard
from loki.listen.wake import WakeSetup
from loki.stt.protocol import SpeechRecognizer
from loki.stt.transcriber import Transcript
from loki.tts.said import SaidRecord

log = logging.getLogger(__name__)
T = TypeVar("T")

WAKE_HEAD_S = 2.5
"""Long utterances are first checked for the wake phrase on their first seconds only."""
LONG_UTTERANCE_S = 4.0
"""Utterances longer than this get the head check before a full transcription."""
STT_TAIL_PAD_S = 0.5
"""Digital silence added after an utterance's short silent tail: Whisper drops words it hears end too abruptly.

faster-whisper pads the speech its own VAD finds by 0.4 s on each side. With 0.15 s here, real Russian
recordings cut by the microphone VAD lost more words than the same recordings whole (benchmarks/
real_speech_bench.py: 20.0 % vs 13.9 % on the 22 shared ones); with 0.5 s, 19.1 % there and 9.6 % instead
of 10.3 % on 45 of festvox-ru's, English unchanged (3.1 %), synthetic commands and wake checks unchanged
(listen_bench --only accuracy|wake, en and ru). Commands cost nothing more: their window is the minimum."""


GO_ON_S = 0.9
"""A command that may not be over waits this long after its speech ends (the VAD's 0.3 s silence included):
speech heard starting again by then is more of the same request ("type I'll be late, [pause] the train
is stuck"). Readers' pauses inside a sentence in the real recordings (../shared/testdata/real and 45 of
festvox-ru's, 243 files) were 0.42-1.08 s from the end of speech to the VAD hearing speech again, median
0.54 s; all but 4 of them 0.84 s or less."""
MAX_JOINED_S = 30.0
"""A request said in several breaths is joined up to this long; what comes after is a request of its own."""


def goes_on(first: Utterance, later: Utterance, preroll_s: float) -> bool:
    """Whether `later` was heard starting within GO_ON_S of the end of `first`'s speech (`preroll_s`: the
    audio the VAD keeps from before it hears speech, which `later.start_s` counts)."""
    return later.start_s + preroll_s - first.speech_end_s <= GO_ON_S


def joined(first: Utterance, later: Utterance) -> Utterance:
    """Two utterances as one: `later`'s audio from where `first`'s ends (its pre-roll may repeat `first`'s
    silent tail), with digital silence for audio neither kept."""
    first_end_s = first.start_s + len(first.audio) / SAMPLE_RATE_HZ
    skip = min(len(later.audio), max(0, round((first_end_s - later.start_s) * SAMPLE_RATE_HZ)))
    gap = max(0, round((later.start_s - first_end_s) * SAMPLE_RATE_HZ))
    audio = np.concatenate([first.audio, np.zeros(gap, first.audio.dtype), later.audio[skip:]])
    return replace(later, audio=audio, start_s=first.start_s, id=first.id)


def heard_in_turns(
    parts: Sequence[Utterance],
    transcribe: Callable[[np.ndarray], str],
    complete: Callable[[str], bool],
    preroll_s: float = VadOptions().preroll_ms / 1000,
) -> list[str]:
    """What the daemon hears in utterances that came one after another, offline (benchmarks, tests): each
    transcribed, joined with the next while what was heard is not `complete` and the next began within
    GO_ON_S, as the daemon waits for more of a request (`Recognizer.recognize`'s `more`); `preroll_s` is
    the VAD's that cut them."""
    texts = []
    index = 0
    while index < len(parts):
        utt = parts[index]
        text = transcribe(utt.audio)
        index += 1
        while index < len(parts) and not complete(text) and goes_on(utt, parts[index], preroll_s):
            utt = joined(utt, parts[index])
            text = transcribe(utt.audio)
            index += 1
        texts.append(text)
    return texts


More = Callable[[Utterance], Awaitable[Utterance | None]]
"""The next final utterance, when speech started again within GO_ON_S of the end of the one given; else None."""


@dataclass(frozen=True)
class Situation:
    """What the supervisor knows when an utterance arrives."""

    busy: bool  # LOKI speaks or runs a plan
    answering: bool  # a turn waits for the user's answer (no wake phrase needed)
    sleeping: bool = False  # only "wake up" (or push-to-talk) is heard


@dataclass(frozen=True)
class Outcome:
    """What an utterance means for LOKI."""

    kind: str  # "nothing" | "answer" (to the question a turn asked) | "wake" (the phrase alone) | "command" | "wake_up"
    text: str = ""
    command: CommandHeard | None = None
    language: str = "en"  # of "wake up"
    woke: bool = False  # it ended sleep mode (push-to-talk, or "wake up")
    left: Utterance | None = None  # taken from `more`, but a request of its own


@dataclass(frozen=True)
class Hearing:
    """What an utterance turned out to be."""

    transcript: Transcript
    text: str  # the transcript, with the wake phrase restored when the audio says it was said
    self_heard: bool  # it repeats what LOKI just said
    overlaps_voice: bool
    heard_at: float = 0.0  # monotonic time the transcript was ready

    @property
    def answers_a_question(self) -> bool:
        """Whether it can be the user's answer to a question LOKI asked (words, not LOKI's own voice)."""
        return bool(self.text) and not self.self_heard and not self.overlaps_voice


class Recognizer:
    """Turns utterances into text and decisions; the speech model runs in its own thread ("loki-stt").

    Args:
        transcriber: speech to text (blocking).
        gate: the wake phrase and the command / follow-up windows.
        wake: the wake-word setup (`wake.whisper`: the phrase is read from transcripts).
        said: what LOKI said lately (echo filter).
        publish: where `Transcribed` and `WakeDetected` go.
        rescorer: scores profile phrases and the wake phrase against the audio (None: off).
        language: the configured language ("auto", "en" or "ru").
        complete: True for a command said whole, (text, language) -> bool: one that a rule says as it is,
            with no free text to come (None: every command is acted on when its utterance ends).
    """

    def __init__(
        self,
        transcriber: SpeechRecognizer,
        gate: CommandGate,
        wake: WakeSetup,
        said: SaidRecord,
        publish: Callable[[Event], None],
        *,
        rescorer: CommandRescorer | None = None,
        language: str = "auto",
        complete: Callable[[str, str], bool] | None = None,
    ) -> None:
        self.transcriber = transcriber
        self.gate = gate
        self.wake = wake
        self.said = said
        self.publish = publish
        self.rescorer = rescorer
        self.language = language
        self.complete = complete
        self.guesses = {"used": 0, "stale": 0, "none": 0}  # how the early transcriptions fared
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loki-stt")
        self._guess: tuple[int, int, asyncio.Future[Transcript]] | None = None

    # The speech model's thread ------------------------------------------------------------------
    def _transcribe_now(self, audio: np.ndarray) -> Transcript:
        pad = np.zeros(int(STT_TAIL_PAD_S * SAMPLE_RATE_HZ), dtype=np.float32)
        return self.transcriber.transcribe(np.concatenate([to_float32(audio), pad]), language=None)

    def _stt(self, audio: np.ndarray) -> asyncio.Future[Transcript]:
        return asyncio.get_running_loop().run_in_executor(self._thread, self._transcribe_now, audio)

    async def _in_thread(self, fn: Callable[[], T]) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn)

    async def warm_up(self) -> None:
        """Load the speech model (and the rescorer's) now, so the first command is not slowed by it."""
        await self._stt(np.zeros(SAMPLE_RATE_HZ // 2, dtype=np.int16))
        if self.rescorer is not None:
            await self._in_thread(self.rescorer.warm_up)

    def close(self) -> None:
        """Stop the thread (a decode under way finishes on its own)."""
        self._thread.shutdown(wait=False, cancel_futures=True)

    # Utterances -----------------------------------------------------------------------------------
    def wants(self, utt: Utterance, situation: Situation) -> bool:
        """Whether an utterance is worth transcribing (a model-based wake engine spares the rest)."""
        return (
            utt.source == "ptt"
            or situation.answering
            or self.gate.needs_transcript(utt.start_s, whisper_wake=self.wake.whisper, busy=situation.busy)
        )

    def guess(self, utt: Utterance, situation: Situation) -> None:
        """Start transcribing when the silence begins; the final utterance reuses it if nothing changed."""
        if not self.wants(utt, situation) or utt.duration_s > LONG_UTTERANCE_S:
            return
        if self._guess is not None and not self._guess[2].done():
            return  # one guess at a time: a stale one would delay the real transcription
        self._guess = (utt.id, len(utt.audio), self._stt(utt.audio))

    async def _transcript_for(self, utt: Utterance) -> Transcript:
        guess, self._guess = self._guess, None
        if guess is not None and guess[0] == utt.id and guess[1] == len(utt.audio):
            self.guesses["used"] += 1
            return await guess[2]
        self.guesses["stale" if guess is not None and not guess[2].done() else "none"] += 1
        return await self._stt(utt.audio)

    async def hear(self, utt: Utterance, situation: Situation) -> Hearing | None:
        """Transcribe a final utterance (None: not worth it, or a long one without the wake phrase); publishes `Transcribed`."""
        if not self.wants(utt, situation):
            return None
        needs_wake = (
            self.gate.require_wake
            and self.wake.whisper
            and utt.source != "ptt"
            and not situation.answering
            and not situation.busy
            and not self.gate.window_open(utt.start_s)
        )
        if needs_wake and utt.duration_s > LONG_UTTERANCE_S:
            head = await self._stt(utt.audio[: int(WAKE_HEAD_S * SAMPLE_RATE_HZ)])
            if self.gate.phrases.match(head.text) is None:
                log.debug("long utterance without the wake phrase: %r", head.text)
                self._guess = None
                return None
        transcript = await self._transcript_for(utt)
        text = (transcript.text or "").strip()
        self_heard = bool(text) and self.said.repeats(text)
        why = transcript.dropped or transcript.fallback
        log.info(
            "heard %r (%s, %.0f ms%s%s%s)",
            text,
            utt.source,
            transcript.stt_ms,
            ", over LOKI's voice" if utt.overlaps_voice else "",
            ", self-heard" if self_heard else "",
            f", {transcript.path}: {why}" if why else "",
        )
        if text:
            self.publish(
                Transcribed(
                    text, transcript.language or "en", speech_end_at=utt.speech_end_at, stt_ms=transcript.stt_ms
                )
            )
        return Hearing(transcript, text, self_heard, utt.overlaps_voice, time.monotonic())

    async def confirm_wake(self, utt: Utterance, hearing: Hearing) -> Hearing:
        """What was heard, with the wake phrase restored when the audio says it was said (a misheard "hey loki")."""
        text = hearing.text
        if not text or self.rescorer is None or not self.wake.whisper or self.gate.phrases.match(text) is not None:
            return hearing
        confirmed = await self._confirm_wake(utt, text, hearing.transcript)
        if confirmed is None:
            return hearing
        log.info("heard %r; the audio says %r", text, confirmed)
        return replace(hearing, text=confirmed)

    def decide(self, utt: Utterance, hearing: Hearing, situation: Situation) -> Decision:
        """The gate's decision on what was heard; publishes `WakeDetected` when it contains the wake phrase."""
        foreign = self.said.foreign(hearing.text) if utt.overlaps_voice else None
        heard = Heard(
            hearing.text, utt.start_s, utt.speech_end_s, utt.source, utt.overlaps_voice, hearing.self_heard, foreign
        )
        decision = self.gate.decide(heard, busy=situation.busy)
        log.debug("decision %s (%s)", decision.kind, decision.reason)
        if decision.wake is not None:
            self.publish(
                WakeDetected("ptt" if utt.source == "ptt" else "wake", decision.wake.phrase, decision.wake.score)
            )
        return decision

    async def command(self, utt: Utterance, hearing: Hearing, command: str) -> CommandHeard | None:
        """The command a turn will route: `command` (the gate's text), or a profile phrase that fits the audio
        better; None when the audio fits the opposite command as well as the transcript (a coin toss)."""
        transcript = hearing.transcript
        timings = {"stt": round(transcript.stt_ms, 1), "audio": round(utt.duration_s * 1000, 1)}
        heard_at = hearing.heard_at
        rescued = await self._rescue(utt, hearing.text, command, transcript)
        if rescued is None:
            doubt = await self._doubt(utt, hearing.text, command, transcript)
            if doubt is not None:
                log.info(
                    "heard %r, but the audio fits its opposite %r as well (%.2f vs %.2f): not acting on it",
                    command,
                    doubt.opposite,
                    doubt.opposite_fit,
                    doubt.fit,
                )
                return None
        if rescued is not None:
            log.info(
                "heard %r, but the audio fits the command %r better (%.2f vs %.2f)",
                command,
                rescued.text,
                rescued.score,
                rescued.heard_score,
            )
            command = rescued.text
            timings["rescore"] = rescued.ms
            heard_at = time.monotonic()
        timings["speech_end_to_transcript"] = round((heard_at - utt.speech_end_at) * 1000, 1)
        return CommandHeard(
            command,
            transcript.language,
            utt.source,
            speech_end_at=utt.speech_end_at,
            speech_end_s=utt.speech_end_s,
            timings_ms=tuple(timings.items()),
        )

    async def recognize(self, utt: Utterance, now: Callable[[], Situation], more: More | None = None) -> Outcome:
        """Everything one final utterance means, decided here in one pass.

        Args:
            utt: a final utterance.
            now: the supervisor's situation at this moment (read again after each wait).
            more: the next utterance when speech started again within GO_ON_S of the one it is given,
                else None; asked while a command may not be over (None: never).
        """
        hearing = await self.hear(utt, now())
        if hearing is None:
            return Outcome("nothing")
        woke = False
        situation = now()
        if situation.sleeping:
            language = is_wake_up(hearing.text)
            if language is not None:
                return Outcome("wake_up", language=language, woke=True)
            if utt.source != "ptt":
                log.debug("asleep, ignoring %r", hearing.text)
                return Outcome("nothing")
            woke = True  # push-to-talk wakes LOKI and is heard
        hearing = await self.confirm_wake(utt, hearing)
        if now().answering and hearing.answers_a_question:  # (asked again: the question may have timed out meanwhile)
            return Outcome("answer", hearing.text, woke=woke)
        decision = self.decide(utt, hearing, now())
        if decision.interrupt and decision.kind != "drop":
            stop = decision.kind == "stop"
            self.publish(Interrupt("stop" if stop else "wake", plan=stop))
        if decision.kind == "wake":
            return Outcome("wake", woke=woke)
        if decision.kind != "command":
            return Outcome("nothing", woke=woke)
        utt, hearing, text, left = await self._said_whole(utt, hearing, decision.text, more)
        command = await self.command(utt, hearing, text)
        if command is None:
            return Outcome("nothing", woke=woke, left=left)
        return Outcome("command", command=command, woke=woke, left=left)

    # A request said in more than one breath ----------------------------------------------------------
    def _may_go_on(self, utt: Utterance, command: str, detected: str | None) -> bool:
        """Whether a command may not be over when its utterance ends: dictation ("type I'll be late,") and
        words no rule says as they are may go on after a pause; a rule said whole is acted on at once.
        Push-to-talk ends when the key comes up, and speech over LOKI's voice is cut on purpose."""
        if self.complete is None or utt.source != "vad" or utt.overlaps_voice:
            return False
        if len(utt.audio) >= MAX_JOINED_S * SAMPLE_RATE_HZ:
            return False
        return not self.complete(command, self._language_of(detected))

    async def _said_whole(
        self, utt: Utterance, hearing: Hearing, command: str, more: More | None
    ) -> tuple[Utterance, Hearing, str, Utterance | None]:
        """The request with what was said after each short pause, while it may not be over; and the
        utterance `more` gave that is a request of its own (the wake phrase said again), if any."""
        while more is not None and self._may_go_on(utt, command, hearing.transcript.language):
            later = await more(utt)
            if later is None:
                break
            went_on = await self._went_on(utt, hearing, command, later)
            if went_on is None:
                return utt, hearing, command, later
            utt, hearing, command = went_on
        return utt, hearing, command, None

    async def _went_on(
        self, first: Utterance, hearing: Hearing, command: str, later: Utterance
    ) -> tuple[Utterance, Hearing, str] | None:
        """`later` as more of the request: the two utterances transcribed as one (None: the wake phrase is
        said again, so `later` is a request of its own).

        The command is what follows the wake phrase when the first part had it; when the joined
        transcript lost it, the first part's command and `later`'s own transcript, one after the other.
        """
        utt = joined(first, later)
        transcript = await self._stt(utt.audio)
        text = (transcript.text or "").strip()
        said = text
        if self.gate.phrases.match(hearing.text) is not None:
            match = self.gate.phrases.match(text)
            said = match.remainder if match is not None else ""
        if not said:
            rest = ((await self._stt(later.audio)).text or "").strip()
            said = " ".join(filter(None, [command, rest]))
            text = " ".join(filter(None, [hearing.text, rest]))
        if self.gate.phrases.search(said) is not None:
            return None
        log.info("heard %r after a pause: %r", command, text)
        if text:
            language = transcript.language or hearing.transcript.language or "en"
            self.publish(Transcribed(text, language, speech_end_at=utt.speech_end_at, stt_ms=transcript.stt_ms))
        return utt, Hearing(transcript, text, False, False, time.monotonic()), said

    def _language_of(self, detected: str | None) -> str:
        """The profiles' language for a transcript's detected one."""
        return detected if detected in ("en", "ru") else (self.language if self.language != "auto" else "en")

    # Acoustic checks ------------------------------------------------------------------------------
    async def _confirm_wake(self, utt: Utterance, text: str, transcript: Transcript) -> str | None:
        """The text with the wake phrase when the audio says it was said (a misheard "hey loki")."""
        rescorer = self.rescorer
        if rescorer is None or not rescorer.may_be_wake(text, self.gate.phrases):
            return None
        lang = transcript.language if transcript.language in ("en", "ru") else "en"
        check = functools.partial(
            rescorer.confirm_wake,
            utt.audio,
            text,
            self.gate.phrases,
            language=lang,
            encoding=transcript.encoding,
        )
        try:
            return await self._in_thread(check)
        except Exception:
            log.exception("the acoustic wake check failed")
            return None

    async def _doubt(self, utt: Utterance, heard: str, command: str, transcript: Transcript) -> Doubt | None:
        """A transcript that is a rule's wording, when the audio fits the opposite command as well."""
        rescorer = self.rescorer
        if rescorer is None:
            return None
        return await self._against_the_audio(rescorer.doubt, rescorer.matches_a_rule, utt, heard, command, transcript)

    async def _rescue(self, utt: Utterance, heard: str, command: str, transcript: Transcript) -> Rescued | None:
        """Near-miss commands: a profile phrase that fits the audio better than the transcript."""
        rescorer = self.rescorer
        if rescorer is None:
            return None
        return await self._against_the_audio(rescorer.rescue, rescorer.worth_trying, utt, heard, command, transcript)

    async def _against_the_audio(
        self,
        check: Callable[..., T | None],
        wanted: Callable[[str, str], bool],
        utt: Utterance,
        heard: str,
        command: str,
        transcript: Transcript,
    ) -> T | None:
        """`check` (the rescorer's) of the command heard, scored against the utterance's audio, when `wanted`."""
        lang = self._language_of(transcript.language)
        if not wanted(command, lang):
            return None
        at = heard.rfind(command)
        call = functools.partial(
            check, utt.audio, command, prefix=heard[:at] if at > 0 else "", language=lang, encoding=transcript.encoding
        )
        try:
            return await self._in_thread(call)
        except Exception:
            log.exception("scoring %r against the audio failed; routing the transcript as heard", command)
            return None
