"""The daemon: a small supervisor over mic -> wake/PTT -> VAD -> STT -> orchestrator -> voice.

States are explicit (idle / listening / thinking / speaking, `events.State`). Each stage runs as a
supervised task that is restarted with back-off when it fails; every task is kept and cancelled
with a timeout on shutdown. Whisper runs in its own thread; so do PortAudio, the wake engine and
the push-to-talk key watcher, whose callbacks come back with `call_soon_threadsafe`.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import inspect
import logging
import re
import sys
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from loki.audio.frames import SAMPLE_RATE_HZ, Frame, to_float32
from loki.audio.mic import Microphone
from loki.brain.builtin import AWAKE, is_wake_up
from loki.brain.orchestrator import Orchestrator, TurnResult
from loki.config import Settings
from loki.errors import LokiError
from loki.events import (
    Event,
    Interrupt,
    SpeechEnded,
    SpeechStarted,
    State,
    StateChanged,
    Transcribed,
    TurnFailed,
    WakeDetected,
)
from loki.listen.commands import CommandRescorer
from loki.listen.gate import CommandGate, Heard
from loki.listen.listener import Listener
from loki.listen.vad import SpeechStart, Utterance, VadOptions
from loki.listen.wake import WakeSetup, build_wake
from loki.listen.wake.engines import Detection

log = logging.getLogger(__name__)

STAGE_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Seconds before a failed stage is restarted (the last value repeats)."""
TASK_CANCEL_S = 3.0
"""Seconds a cancelled task may take to stop before it is logged as stuck."""
WAKE_HEAD_S = 2.5
"""Long utterances are first checked for the wake phrase on their first seconds only."""
LONG_UTTERANCE_S = 4.0
"""Utterances longer than this get the head check before a full transcription."""
ECHO_TAIL_S = 0.35
"""After LOKI's last sample is heard, the microphone counts as hearing LOKI this much longer."""
RESULTS_KEPT = 50
"""Recent turn results kept in `Daemon.results` (a long-running daemon must not keep them all)."""

STT_TAIL_PAD_S = 0.15
"""Digital silence added after an utterance's short silent tail: Whisper drops words it hears end too abruptly."""
_WORDS = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_TURN_CLOCK: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar("loki_turn_clock", default=None)


@dataclass
class Command:
    """An utterance meant for LOKI, with what is known of its timing."""

    text: str
    language: str | None = None
    source: str = "vad"
    speech_end_at: float | None = None  # monotonic time speech ended
    timings_ms: dict[str, float] = field(default_factory=dict)
    speech_end_s: float | None = None  # audio clock of the end of speech


class SaidLog:
    """What LOKI said lately, to tell its own words from the user's in a mixed transcript."""

    def __init__(self, keep_s: float = 12.0) -> None:
        self.keep_s = keep_s
        self._said: list[tuple[float, str]] = []

    def add(self, text: str) -> None:
        """Remember a reply (or part of one) LOKI is about to say."""
        now = time.monotonic()
        self._said = [(at, t) for at, t in self._said if now - at <= self.keep_s] + [(now, text)]

    def words(self) -> set[str]:
        """Lower-case words LOKI said within `keep_s`."""
        now = time.monotonic()
        return {w.lower() for at, t in self._said if now - at <= self.keep_s for w in _WORDS.findall(t)}

    def foreign(self, transcript: str) -> str:
        """The transcript's words that LOKI did not say lately."""
        said = self.words()
        return " ".join(w for w in _WORDS.findall(transcript) if w.lower() not in said)


class VoiceTap:
    """The voice as the orchestrator's `reply=`: notes every text in a SaidLog, then speaks it."""

    def __init__(self, voice: Any, said: SaidLog) -> None:
        self.voice = voice
        self.said = said

    async def __call__(self, text: str, language: str = "en") -> None:
        """Say `text`."""
        self.said.add(text)
        await self.voice(text, language)

    async def stream(self, pieces: Any, language: str = "en") -> None:
        """Say text arriving in pieces."""
        stream = getattr(self.voice, "stream", None)

        async def tee() -> Any:
            async for piece in pieces:
                self.said.add(piece)
                yield piece

        if stream is None:
            text = "".join([piece async for piece in tee()])
            await self.voice(text, language)
        else:
            await stream(tee(), language)

    async def interrupt(self) -> Any:
        """Cut the voice."""
        return await self.voice.interrupt()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.voice, name)


class Transcribes(Protocol):
    """What the daemon needs from speech recognition (loki.stt.Transcriber provides it)."""

    def transcribe(self, audio: np.ndarray, *, language: str | None = None) -> Any:
        """A Transcript with .text, .language and .stt_ms."""
        ...


def _call_maybe_async(fn: Callable[..., Any] | None, *args: Any) -> Awaitable[Any] | None:
    if fn is None:
        return None
    result = fn(*args)
    return result if inspect.isawaitable(result) else None


class Daemon:
    """The listening loop and the turns it starts.

    Args:
        settings: the settings.
        orchestrator: routes text to tiers and actions.
        transcriber: speech to text (blocking; runs in the "loki-stt" thread).
        mic: the microphone (None with --text).
        voice: the SpeechOutput (or None: replies are only reported).
        wake: the wake-word setup (default: from settings).
        require_wake: False: every utterance is a command (--no-wake).
        on_turn: called with (TurnResult, Command) after every turn.
        on_event: called with every loki.events event.
    """

    def __init__(
        self,
        settings: Settings,
        orchestrator: Orchestrator,
        *,
        transcriber: Transcribes | None = None,
        mic: Microphone | None = None,
        voice: Any = None,
        wake: WakeSetup | None = None,
        require_wake: bool = True,
        on_turn: Callable[[TurnResult, Command], None] | None = None,
        on_event: Callable[[Event], None] | None = None,
        said: SaidLog | None = None,
        rescorer: CommandRescorer | None = None,
    ) -> None:
        self.settings = settings
        self.said = said or SaidLog()
        self.rescorer = rescorer
        self.orchestrator = orchestrator
        self.transcriber = transcriber
        self.voice = voice
        self.wake = wake or build_wake(settings)
        self.require_wake = require_wake and self.wake.kind != "none"
        self.on_turn = on_turn
        self.on_event = on_event
        self.gate = CommandGate(
            self.wake.phrases,
            require_wake=self.require_wake,
            command_window_s=settings.command_window_s,
            followup_s=settings.followup_s,
        )
        self.listener = (
            Listener(
                mic,
                VadOptions.from_settings(settings),
                wake_engine=self.wake.engine,
                voice_active=self.voice_active,
                on_event=self._on_listener_event,
            )
            if mic is not None
            else None
        )
        self.state = State.IDLE
        self.results: list[TurnResult] = []  # the last RESULTS_KEPT turns
        self._stt_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loki-stt")
        self._commands: asyncio.Queue[Command | None] = asyncio.Queue()
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._turn_task: asyncio.Task[TurnResult] | None = None
        self._guess: tuple[int, int, asyncio.Future[Any]] | None = None
        self._pending_listen: asyncio.Future[str] | None = None
        self._followup_pending = False
        self.sleeping = False  # "go to sleep": only "wake up" (or push-to-talk) is heard
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._ptt: Any = None
        self._ptt_talking = False
        self._stdin_lines: asyncio.Queue[str | None] | None = None
        self._line_wanted = asyncio.Event()  # --text: set while no turn runs, or a turn waits for an answer
        self._line_wanted.set()
        self._closed = False
        self._announced = False
        self.guesses = {"used": 0, "stale": 0, "none": 0}  # how the early transcriptions fared
        _time_dispatch(orchestrator)

    # Events and state -------------------------------------------------------------------
    def emit(self, event: Event) -> None:
        """Publish an event to the observer."""
        log.debug("event %s", event)
        if self.on_event is not None:
            try:
                self.on_event(event)
            except Exception:
                log.exception("event observer failed")

    def voice_active(self) -> bool:
        """True while LOKI's voice may be reaching the microphone."""
        voice = self.voice
        if voice is None:
            return False
        audible = getattr(voice, "audible", None)
        if audible is not None:
            return bool(audible(tail_s=ECHO_TAIL_S))
        return bool(getattr(voice, "speaking", False))

    def _refresh_state(self) -> None:
        if self.voice is not None and getattr(self.voice, "speaking", False):
            new = State.SPEAKING
        elif self._turn_task is not None and not self._turn_task.done():
            new = State.THINKING
        elif (
            self._ptt_talking
            or self._pending_listen is not None
            or (self.listener is not None and self.gate.window_open(self.listener.now_s))
        ):
            new = State.LISTENING
        else:
            new = State.IDLE
        if new != self.state:
            old, self.state = self.state, new
            log.info("state %s -> %s", old.value, new.value)
            self.emit(StateChanged(old, new))

    def _hold(self) -> None:
        self._in_flight += 1
        self._idle.clear()

    def _release(self) -> None:
        self._in_flight = max(0, self._in_flight - 1)
        if self._in_flight == 0:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Return when no utterance or turn is being processed (the replay paces its audio with this)."""
        while self._in_flight:
            await self._idle.wait()

    def _on_listener_event(self, kind: str, data: Any) -> None:
        if kind == "frame":
            frame: Frame = data
            if (
                self._followup_pending
                and not self.voice_active()
                and (self._turn_task is None or self._turn_task.done())
            ):
                self._followup_pending = False
                self.gate.open_followup(frame.stream_s)
            self._refresh_state()
        elif kind == "speech_start":
            start: SpeechStart = data
            self.emit(SpeechStarted(at=start.at or time.monotonic()))
        elif kind == "utterance":
            utt: Utterance = data
            self._hold()
            self.emit(SpeechEnded(utt.audio.tobytes(), SAMPLE_RATE_HZ, utt.source))
        elif kind == "wake":
            self._on_wake_engine(data)
        elif kind == "mic":
            state, detail = data
            if state == "lost":
                self.emit(TurnFailed("microphone", "audio", detail))
            elif state == "open" and not self._announced:
                self._announced = True
                mode = "push-to-talk only" if not self.require_wake else f"say {self.settings.wake_phrase!r}"
                log.info("LOKI is listening on %r (%s; wake engine %s)", detail, mode, self.wake.kind)

    def _on_wake_engine(self, detection: Detection) -> None:
        assert self.listener is not None
        self.emit(WakeDetected("wake", detection.name, detection.score))
        self.gate.open_window(self.listener.now_s)
        self._spawn(self.interrupt("wake"), "interrupt")
        self._earcon("listening")
        self._refresh_state()

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        key = f"{name}-{id(task)}"
        self._tasks[key] = task
        task.add_done_callback(lambda t: self._tasks.pop(key, None))

    def _earcon(self, name: str) -> None:
        play = getattr(self.voice, "earcon", None)
        if play is None:
            return
        try:
            pending = _call_maybe_async(play, name)
        except Exception as exc:
            log.debug("earcon %s failed: %s", name, exc)
            return
        if pending is not None:
            self._spawn(pending, f"earcon-{name}")

    # Barge-in ---------------------------------------------------------------------------
    async def interrupt(self, reason: str = "user", *, cancel_plan: bool = False) -> None:
        """Cut LOKI's voice at once (and, with `cancel_plan`, the running plan)."""
        self.emit(Interrupt(reason))
        stop = getattr(self.voice, "interrupt", None)
        if stop is not None:
            try:
                await stop()
            except Exception:
                log.exception("interrupting the voice failed")
        if cancel_plan and self._turn_task is not None and not self._turn_task.done():
            log.info("cancelling the running turn (%s)", reason)
            self._turn_task.cancel()

    # Push-to-talk -----------------------------------------------------------------------
    def ptt_start(self) -> None:
        """The push-to-talk key says: start recording now (and cut LOKI off)."""
        if self.listener is None:
            return
        self._ptt_talking = True
        self.emit(WakeDetected("ptt"))
        self._spawn(self.interrupt("ptt"), "interrupt")
        self.listener.ptt_start()
        self._refresh_state()

    def ptt_stop(self) -> None:
        """The push-to-talk key says: the command is complete."""
        if self.listener is None:
            return
        self._ptt_talking = False
        self.listener.ptt_stop()
        self._refresh_state()

    def _start_ptt(self) -> None:
        if not self.settings.ptt_key or self.listener is None:
            return
        from loki.listen.ptt import PushToTalk

        ptt = PushToTalk(
            self.settings.ptt_key, mode=self.settings.ptt_mode, on_start=self.ptt_start, on_stop=self.ptt_stop
        )
        try:
            ptt.start()
        except LokiError as exc:
            log.warning("push-to-talk is off: %s", exc)
            return
        self._ptt = ptt

    # Spoken confirmation ------------------------------------------------------------------
    async def listen(self, timeout_s: float) -> str | None:
        """The user's next utterance as text (no wake word needed), or None after `timeout_s` of nothing.

        The wait starts once LOKI has stopped speaking (the question has been heard).
        """
        loop = asyncio.get_running_loop()
        if self._stdin_lines is None:  # a typed answer cannot be LOKI's own voice: no need to wait for it
            for _ in range(600):  # the question may take a while to say; at most 30 s
                if not self.voice_active():
                    break
                await asyncio.sleep(0.05)
        future: asyncio.Future[str] = loop.create_future()
        self._pending_listen = future
        self._line_wanted.set()  # with --text, the next line is the answer
        self._refresh_state()
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return None
        finally:
            self._pending_listen = None
            self._line_wanted.clear()  # the turn goes on; the next line waits for its end
            self._refresh_state()

    # Recognition --------------------------------------------------------------------------
    def _transcribe_now(self, audio: np.ndarray) -> Any:
        assert self.transcriber is not None
        pad = np.zeros(int(STT_TAIL_PAD_S * SAMPLE_RATE_HZ), dtype=np.float32)
        return self.transcriber.transcribe(np.concatenate([to_float32(audio), pad]), language=None)

    def _stt(self, audio: np.ndarray) -> asyncio.Future[Any]:
        loop = asyncio.get_running_loop()
        return loop.run_in_executor(self._stt_thread, self._transcribe_now, audio)

    def _busy(self) -> bool:
        return self.voice_active() or (self._turn_task is not None and not self._turn_task.done())

    async def _recognize(self) -> None:
        assert self.listener is not None
        queue = self.listener.utterances
        while True:
            utt = await queue.get()
            if utt is None:
                await self._commands.put(None)
                return
            if not utt.final:
                self._maybe_guess(utt)
                continue
            handed_over = False
            try:
                handed_over = await self._on_utterance(utt)
            except LokiError as exc:
                log.warning("recognition failed: %s", exc)
                self.emit(TurnFailed("stt", exc.code, str(exc)))
            finally:
                if not handed_over:
                    self._release()

    def _wants_transcript(self, utt: Utterance) -> bool:
        return (
            utt.source == "ptt"
            or self._pending_listen is not None
            or self.gate.needs_transcript(utt.start_s, whisper_wake=self.wake.whisper, busy=self._busy())
        )

    def _maybe_guess(self, utt: Utterance) -> None:
        """Start transcribing when the silence begins; the final utterance reuses it if nothing changed."""
        if self.transcriber is None or not self._wants_transcript(utt):
            return
        if self._guess is not None and not self._guess[2].done():
            return  # one guess at a time: a stale one would delay the real transcription
        if utt.duration_s > LONG_UTTERANCE_S:
            return
        self._guess = (utt.id, len(utt.audio), self._stt(utt.audio))

    async def _transcript_for(self, utt: Utterance) -> Any:
        guess, self._guess = self._guess, None
        if guess is not None and guess[0] == utt.id and guess[1] == len(utt.audio):
            self.guesses["used"] += 1
            return await guess[2]
        self.guesses["stale" if guess is not None and not guess[2].done() else "none"] += 1
        return await self._stt(utt.audio)

    async def _on_utterance(self, utt: Utterance) -> bool:
        """Transcribe and decide; True when a command was queued (the turn releases the hold)."""
        if self.transcriber is None or not self._wants_transcript(utt):
            return False
        needs_wake = (
            self.require_wake
            and self.wake.whisper
            and utt.source != "ptt"
            and self._pending_listen is None
            and not self._busy()
            and not self.gate.window_open(utt.start_s)
        )
        if needs_wake and utt.duration_s > LONG_UTTERANCE_S:
            head = await self._stt(utt.audio[: int(WAKE_HEAD_S * SAMPLE_RATE_HZ)])
            if self.gate.phrases.match(head.text) is None:
                log.debug("long utterance without the wake phrase: %r", head.text)
                self._guess = None
                return False
        transcript = await self._transcript_for(utt)
        heard_at = time.monotonic()
        text = (transcript.text or "").strip()
        language = getattr(transcript, "language", None)
        stt_ms = float(getattr(transcript, "stt_ms", 0.0) or 0.0)
        encoding = getattr(transcript, "encoding", None)  # the rescorer scores against it instead of encoding again
        self_heard = bool(text) and self._recently_said(text)
        why = getattr(transcript, "dropped", "") or getattr(transcript, "fallback", "")
        log.info(
            "heard %r (%s, %.0f ms%s%s%s)",
            text,
            utt.source,
            stt_ms,
            ", over LOKI's voice" if utt.overlaps_voice else "",
            ", self-heard" if self_heard else "",
            f", {getattr(transcript, 'path', '')}: {why}" if why else "",
        )
        if text:
            self.emit(Transcribed(text, language or "en", speech_end_at=utt.speech_end_at, stt_ms=stt_ms))
        if self.sleeping and self._asleep_hears(text, utt.source):
            return False
        pending = self._pending_listen
        if text and self.rescorer is not None and self.wake.whisper and self.gate.phrases.match(text) is None:
            confirmed = await self._confirm_wake(utt, text, language, encoding)
            if confirmed is not None:
                log.info("heard %r; the audio says %r", text, confirmed)
                text = confirmed
        if pending is not None and not pending.done() and text and not self_heard and not utt.overlaps_voice:
            pending.set_result(text)
            return False
        foreign = self.said.foreign(text) if utt.overlaps_voice else None
        heard = Heard(text, utt.start_s, utt.speech_end_s, utt.source, utt.overlaps_voice, self_heard, foreign)
        decision = self.gate.decide(heard, busy=self._busy())
        log.debug("decision %s (%s)", decision.kind, decision.reason)
        if decision.interrupt and decision.kind != "drop":
            await self.interrupt(
                decision.kind if decision.kind != "command" else "wake", cancel_plan=decision.kind == "stop"
            )
        if decision.wake is not None:
            self.emit(WakeDetected("ptt" if utt.source == "ptt" else "wake", decision.wake.phrase, decision.wake.score))
        if decision.kind == "wake":
            self._earcon("listening")
            self._refresh_state()
            return False
        if decision.kind != "command":
            return False
        command = decision.text
        timings = {"stt": round(stt_ms, 1), "audio": round(utt.duration_s * 1000, 1)}
        rescued = await self._rescue(utt, text, command, language, encoding)
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
        await self._commands.put(Command(command, language, utt.source, utt.speech_end_at, timings, utt.speech_end_s))
        return True

    def _asleep_hears(self, text: str, source: str) -> bool:
        """While asleep: True when the utterance is used up (ignored, or it woke LOKI up)."""
        language = is_wake_up(text)
        if source != "ptt" and source != "text" and language is None:
            log.debug("asleep, ignoring %r", text)
            return True
        self.sleeping = False
        log.info("awake again")
        if language is None:
            return False  # push-to-talk wakes LOKI and is heard
        self._earcon("listening")
        self._followup_pending = True
        if self.voice is not None:
            self._spawn(self.voice(AWAKE[language], language), "awake")
        return True

    async def _confirm_wake(self, utt: Utterance, text: str, language: str | None, encoding: Any) -> str | None:
        """The text with the wake phrase when the audio says it was said (a misheard "hey loki")."""
        rescorer = self.rescorer
        assert rescorer is not None
        if not rescorer.may_be_wake(text, self.gate.phrases):
            return None
        lang = language if language in ("en", "ru") else "en"
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._stt_thread,
                functools.partial(
                    rescorer.confirm_wake, utt.audio, text, self.gate.phrases, language=lang, encoding=encoding
                ),
            )
        except Exception:
            log.exception("the acoustic wake check failed")
            return None

    async def _rescue(self, utt: Utterance, transcript: str, command: str, language: str | None, encoding: Any) -> Any:
        """Near-miss commands: a profile phrase that fits the audio better than the transcript."""
        rescorer = self.rescorer
        lang = (
            language
            if language in ("en", "ru")
            else (self.settings.language if self.settings.language != "auto" else "en")
        )
        if rescorer is None or not rescorer.worth_trying(command, lang):
            return None
        at = transcript.rfind(command)
        prefix = transcript[:at] if at > 0 else ""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(
                self._stt_thread,
                functools.partial(rescorer.rescue, utt.audio, command, prefix=prefix, language=lang, encoding=encoding),
            )
        except Exception:
            log.exception("rescoring %r failed; routing the transcript as heard", command)
            return None

    def _recently_said(self, text: str) -> bool:
        check = getattr(self.voice, "recently_said", None)
        return bool(check(text)) if check is not None else False

    # Turns ----------------------------------------------------------------------------------
    async def handle(self, command: Command) -> TurnResult | None:
        """Run one turn for a command (None when it was cancelled by barge-in)."""
        timings = dict(command.timings_ms)
        token = _TURN_CLOCK.set({"speech_end_at": command.speech_end_at, "timings": timings})
        try:
            self._turn_task = asyncio.create_task(
                self.orchestrator.handle(command.text, language=command.language, timings=timings), name="turn"
            )
        finally:
            _TURN_CLOCK.reset(token)
        self._refresh_state()
        try:
            result = await asyncio.shield(self._turn_task)
        except asyncio.CancelledError:
            if self._turn_task.cancelled() and not _current_task_cancelling():
                log.info("turn %r was cancelled", command.text)
                return None
            raise
        finally:
            self._refresh_state()
        if result.ok and (result.actions or result.reply):  # acted or answered (not "sorry, I don't know")
            self._followup_pending = True
        if result.detail.get("control") == "sleep":
            self.sleeping, self._followup_pending = True, False
            log.info("asleep: only 'wake up' (or push-to-talk) is heard")
        self.results.append(result)
        del self.results[:-RESULTS_KEPT]
        if self.on_turn is not None:
            self.on_turn(result, command)
        return result

    async def _turns(self) -> None:
        while True:
            command = await self._commands.get()
            if command is None:
                return
            try:
                await self.handle(command)
            finally:
                if command.source != "text":
                    self._release()
                self._line_wanted.set()

    # Text mode --------------------------------------------------------------------------------
    def _start_stdin(self) -> None:
        loop = asyncio.get_running_loop()
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        self._stdin_lines = lines

        def read() -> None:
            from loki.cli import stdin_lines

            for line in stdin_lines(sys.stdin.buffer):  # a line that is not UTF-8 is reported and skipped
                if line is not None:
                    loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=read, name="loki-stdin", daemon=True).start()

    async def _text_commands(self) -> None:
        """One reader for stdin: a line is a command, or the answer to the question a turn is waiting on.

        The next line is taken only when no turn runs or a turn asks, so piped lines keep their order.
        """
        assert self._stdin_lines is not None
        while True:
            await self._line_wanted.wait()
            line = await self._stdin_lines.get()
            if line is None:
                await self._commands.put(None)
                return
            self._line_wanted.clear()
            pending = self._pending_listen
            if pending is not None and not pending.done():
                pending.set_result(line)
            elif self.sleeping and is_wake_up(line) is None:
                log.info("asleep: say 'wake up' first (ignored %r)", line)
                self._line_wanted.set()
            elif self.sleeping:
                self._asleep_hears(line, "speech")
                self._line_wanted.set()
            else:
                await self._commands.put(Command(line, None, "text"))

    # Supervisor -------------------------------------------------------------------------------
    async def _supervise(self, name: str, stage: Callable[[], Awaitable[None]]) -> None:
        attempt = 0
        while True:
            try:
                await stage()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                delay = STAGE_BACKOFF_S[min(attempt, len(STAGE_BACKOFF_S) - 1)]
                attempt += 1
                log.exception("stage %s failed; restarting it in %.1f s", name, delay)
                self.emit(TurnFailed(name, getattr(exc, "code", "internal"), str(exc)))
                await asyncio.sleep(delay)

    async def run(self, *, text_input: bool = False) -> None:
        """Run until the input ends (a file, or stdin with --text) or the task is cancelled (Ctrl-C)."""
        stages: dict[str, Callable[[], Awaitable[None]]] = {"turns": self._turns}
        if text_input:
            self._start_stdin()
            stages["stdin"] = self._text_commands
        elif self.listener is not None:
            stages["listen"] = self.listener.run
            stages["recognize"] = self._recognize
            self._start_ptt()
        for name, stage in stages.items():
            self._tasks[name] = asyncio.create_task(self._supervise(name, stage), name=name)
        self._refresh_state()
        try:
            await self._tasks["turns"]
        finally:
            await self.aclose()

    async def warm_up(self) -> None:
        """Load the speech model now (in its thread) so the first command is not slowed by it."""
        if self.transcriber is not None:
            await self._stt(np.zeros(SAMPLE_RATE_HZ // 2, dtype=np.int16))
        if self.rescorer is not None:
            await asyncio.get_running_loop().run_in_executor(self._stt_thread, self.rescorer.warm_up)
        languages = ("en", "ru") if self.settings.language == "auto" else (self.settings.language,)
        for tier in self.orchestrator.tiers:
            warm = getattr(tier, "warm_up", None)  # matching by meaning loads its sentence encoder
            if warm is not None:
                await asyncio.to_thread(warm, languages)

    async def aclose(self) -> None:
        """Stop every task (with a timeout), the key watcher and the threads."""
        if self._closed:
            return
        self._closed = True
        if self._ptt is not None:
            await asyncio.to_thread(self._ptt.stop)
        tasks = [t for t in [*self._tasks.values(), self._turn_task] if t is not None and not t.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            done, pending = await asyncio.wait(tasks, timeout=TASK_CANCEL_S)
            for task in pending:
                log.warning("task %s did not stop within %.1f s", task.get_name(), TASK_CANCEL_S)
        if self.listener is not None:
            self.listener.close()
        close_mic = getattr(self.listener.mic if self.listener else None, "close", None)
        if close_mic is not None:
            close_mic()
        self._stt_thread.shutdown(wait=False, cancel_futures=True)


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return bool(task is not None and task.cancelling())


def _time_dispatch(orchestrator: Orchestrator) -> None:
    """Record in the turn's timings the moment its actions are handed to the executor."""
    executor = orchestrator.executor
    if getattr(executor, "_loki_timed", False):
        return
    run = executor.run

    async def timed_run(actions: Any, **options: Any) -> Any:
        clock = _TURN_CLOCK.get()
        if clock is not None and clock.get("speech_end_at") is not None:
            clock["timings"]["speech_end_to_action"] = round((time.monotonic() - clock["speech_end_at"]) * 1000, 1)
        return await run(actions, **options)

    executor.run = timed_run  # type: ignore[method-assign]
    executor._loki_timed = True  # type: ignore[attr-defined]
