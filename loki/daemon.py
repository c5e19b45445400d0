"""The daemon: a small supervisor over mic -> wake/PTT -> VAD -> recognizer -> turns -> voice.

States are explicit (idle / listening / thinking / speaking, `events.State`). Each stage runs as a
supervised task that is restarted with back-off when it fails; every task is kept and cancelled
with a timeout on shutdown. Stages publish typed events on one `EventBus`; the daemon acts on
what the recognizer decides, runs one turn at a time, speaks replies from a queue that barge-in
flushes, and owns the one interrupt path (`interrupt`): it drops queued replies, cuts the voice
and cancels the running plan.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from loki.audio.frames import FRAME_MS, Frame
from loki.audio.mic import Microphone
from loki.audio.vad import Utterance, VadOptions
from loki.brain.builtin import AWAKE, is_wake_up
from loki.brain.orchestrator import Orchestrator, TurnResult
from loki.brain.turns import Turns
from loki.config import ListenSettings
from loki.errors import LokiError
from loki.events import (
    CommandHeard,
    Event,
    EventBus,
    Interrupt,
    MicrophoneChanged,
    MuteChanged,
    Shutdown,
    SleepChanged,
    SpeechEnded,
    State,
    StateChanged,
    TurnFailed,
    WakeDetected,
)
from loki.listen.gate import CommandGate
from loki.listen.listener import Listener
from loki.listen.recognizer import GO_ON_S, Outcome, Recognizer, Situation, goes_on
from loki.listen.wake import WakeSetup, what_to_say
from loki.listen.wake.engines import Detection
from loki.tts.protocol import Voice
from loki.tts.replies import ReplyQueue
from loki.tts.said import SaidRecord

log = logging.getLogger(__name__)

STAGE_BACKOFF_S = (0.5, 1.0, 2.0, 5.0, 10.0)
"""Seconds before a failed stage is restarted (the last value repeats)."""
TASK_CANCEL_S = 3.0
"""Seconds a cancelled task may take to stop before it is logged as stuck."""
ECHO_TAIL_S = 0.35
"""After LOKI's last sample is heard, the microphone counts as hearing LOKI this much longer."""
RESULTS_KEPT = 50
"""Recent turn results kept in `Daemon.results` (a long-running daemon must not keep them all)."""
QUESTION_HEARD_S = 30.0
"""A spoken question is waited on this long before the answer is listened for."""


class Daemon:
    """The supervisor: runs the listening stages and the turns they start.

    Args:
        settings: the listening settings (wake word, windows, push-to-talk, VAD).
        orchestrator: routes text to tiers and actions.
        gate: the wake phrase and the command / follow-up windows (shared with the recognizer).
        bus: where every stage publishes (a new one by default).
        recognizer: utterances to commands (None: no speech recognition).
        mic: the microphone (None: commands come as text lines).
        voice: LOKI's voice (None: replies are only reported).
        replies: the replies waiting to be said, in front of `voice` (the orchestrator's `reply`).
        wake: the wake-word setup.
        on_turn: called with (TurnResult, CommandHeard) after every turn.
        stages: more supervised stages to run beside the built-in ones (name -> coroutine function).
        models: the models in use, for `status()` (kind -> name).
    """

    def __init__(
        self,
        settings: ListenSettings,
        orchestrator: Orchestrator,
        gate: CommandGate,
        wake: WakeSetup,
        *,
        bus: EventBus | None = None,
        recognizer: Recognizer | None = None,
        mic: Microphone | None = None,
        voice: Voice | None = None,
        replies: ReplyQueue | None = None,
        on_turn: Callable[[TurnResult, CommandHeard], None] | None = None,
        stages: dict[str, Callable[[], Awaitable[None]]] | None = None,
        models: dict[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.extra_stages = dict(stages or {})
        self.bus = bus or EventBus()
        self.orchestrator = orchestrator
        self.gate = gate
        self.wake = wake
        self.recognizer = recognizer
        self.voice = voice
        self.on_turn = on_turn
        self.listener = (
            Listener(
                mic,
                VadOptions.from_settings(settings),
                wake_engine=self.wake.engine,
                voice_active=self.voice_active,
                publish=self.bus.publish,
                on_wake=self._on_wake_engine,
                on_frame=self._on_frame,
            )
            if mic is not None
            else None
        )
        self.state = State.IDLE
        self.sleeping = False  # "go to sleep": only "wake up" (or push-to-talk) is heard
        self.muted = False  # `loki mute`: the microphone is not heard at all
        self.models = dict(models or {})
        self.microphone: dict[str, str | None] = {"name": None, "state": "closed" if mic is not None else "none"}
        self._started_s = time.monotonic()
        self.turns = Turns(
            orchestrator,
            self.bus.publish,
            keep=RESULTS_KEPT,
            on_change=self._refresh_state,
            on_result=self._turn_over,
            on_done=self._next_command,
        )
        self.replies = replies
        self._cutting: asyncio.Future[None] | None = None
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._pending_listen: asyncio.Future[str] | None = None
        self._followup_pending = False
        self._in_flight = 0
        self._held: list[Utterance | None] = []  # taken from the queue while waiting for more of a request
        self._idle = asyncio.Event()
        self._idle.set()
        self._lines: AsyncIterator[str] | None = None
        self._line_wanted = asyncio.Event()  # text input: set while no turn runs, or a turn waits for an answer
        self._line_wanted.set()
        self._closed = False
        self._announced = False  # the "LOKI is listening" line was logged
        self._mic_out = False  # the microphone is in an outage that was reported
        self.bus.listen(self._on_event)

    @property
    def said(self) -> SaidRecord:
        """What LOKI said lately: the echo filter's record (the voice's own)."""
        assert self.recognizer is not None, "no speech recognition, no echo filter"
        return self.recognizer.said

    # Events and state -------------------------------------------------------------------
    def _on_event(self, event: Event) -> None:
        if isinstance(event, SpeechEnded):
            self._hold()  # released when the utterance is dropped or its turn ends
        elif isinstance(event, Shutdown):
            self.turns.end()
        elif isinstance(event, MicrophoneChanged):
            self._on_microphone(event)
        elif isinstance(event, Interrupt):
            self._cut(event)

    def _on_microphone(self, event: MicrophoneChanged) -> None:
        """Readiness and outages, said once each: the log line and the earcon tell the same thing.

        The first "open" is the one "LOKI is listening" line (with what to say first) and the
        listening sound; an outage is one `TurnFailed` (the microphone's own warning says what to
        do, and its retries stay quiet) and, when a microphone that was listening is lost, the error
        sound; its end the listening sound again.
        """
        self.microphone["state"] = event.state
        if event.state == "open":
            self.microphone["name"] = event.detail
        if event.state == "lost":
            if not self._mic_out:
                self._mic_out = True
                self.bus.publish(TurnFailed("microphone", "audio", event.detail))
                if self._announced:  # no microphone from the start: the log says so, there is nothing to hear
                    self._earcon("error")
        elif event.state == "open":
            was_out, self._mic_out = self._mic_out, False
            if not self._announced:
                self._announced = True
                watched = self.listener is not None and self.listener.key_watched
                how = what_to_say(self.settings, self.wake, require_wake=self.gate.require_wake, key_watched=watched)
                log.info("LOKI is listening on %r: %s", event.detail, how)
                log.debug("wake engine %s", self.wake.kind)
                self._earcon("listening")
            elif was_out:
                self._earcon("listening")  # the microphone's "is back" line goes with it

    def voice_active(self) -> bool:
        """True while LOKI's voice may be reaching the microphone."""
        return self.voice is not None and self.voice.audible(tail_s=ECHO_TAIL_S)

    def _refresh_state(self) -> None:
        if self.voice is not None and self.voice.speaking:
            new = State.SPEAKING
        elif self.turns.running:
            new = State.THINKING
        elif (
            (self.listener is not None and self.listener.talking)
            or self._pending_listen is not None
            or (self.listener is not None and self.gate.window_open(self.listener.now_s))
        ):
            new = State.LISTENING
        else:
            new = State.IDLE
        if new != self.state:
            old, self.state = self.state, new
            log.info("state %s -> %s", old.value, new.value)
            self.bus.publish(StateChanged(old, new))

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

    def _on_frame(self, frame: Frame) -> None:
        if self._followup_pending and not self.voice_active() and not self.turns.running:
            self._followup_pending = False
            self.gate.open_followup(frame.stream_s)
        self._refresh_state()

    def _on_wake_engine(self, detection: Detection) -> None:
        assert self.listener is not None
        self.bus.publish(WakeDetected("wake", detection.name, detection.score))
        self.gate.open_window(self.listener.now_s)
        self.bus.publish(Interrupt("wake", plan=False))
        self._earcon("listening")
        self._refresh_state()

    def _spawn(self, coro: Awaitable[Any], name: str) -> None:
        task = asyncio.ensure_future(coro)
        key = f"{name}-{id(task)}"
        self._tasks[key] = task
        task.add_done_callback(lambda t: self._tasks.pop(key, None))

    def _earcon(self, name: str) -> None:
        if self.voice is not None:
            self._spawn(self.voice.earcon(name), f"earcon-{name}")

    # Barge-in: the one interrupt path -------------------------------------------------------
    async def interrupt(self, reason: str = "stop", *, plan: bool = True) -> None:
        """Publish an `Interrupt` and wait until it has been carried out (see `_cut`)."""
        self.bus.publish(Interrupt(reason, plan=plan))
        if self._cutting is not None:
            await asyncio.shield(self._cutting)

    def _cut(self, event: Interrupt) -> None:
        """Whoever published it (the recognizer, push-to-talk, the `stop` action, the control socket).

        Drops the replies waiting to be said, cuts LOKI's voice and, with `event.plan`, cancels the
        running plan: "stop" does, the user starting to talk (wake word, push-to-talk) does not, so a
        command said while the last one runs does not undo it. While a plan waits for the user's
        answer, what the user says is the answer (the recognizer sees to that), so a "stop" that
        arrives here is `loki stop` and cancels it. The plan that asked (the `stop` action) is never
        cancelled by its own request.
        """
        if self.replies is not None:
            self.replies.flush()
        if event.plan:
            self.turns.cancel(event.reason)
        if self.voice is not None:
            self._cutting = asyncio.ensure_future(self._cut_voice(self.voice))

    @staticmethod
    async def _cut_voice(voice: Voice) -> None:
        try:
            await voice.interrupt()
        except Exception:
            log.exception("interrupting the voice failed")

    # Spoken confirmation ------------------------------------------------------------------
    async def listen(self, timeout_s: float) -> str | None:
        """The user's next utterance as text (no wake word needed), or None after `timeout_s` of nothing.

        The wait starts once LOKI has stopped speaking (the question has been heard).
        """
        loop = asyncio.get_running_loop()
        if self._lines is None:  # a typed answer cannot be LOKI's own voice: no need to wait for it
            for _ in range(int(QUESTION_HEARD_S / 0.05)):  # the question may take a while to say
                if not self.voice_active():
                    break
                await asyncio.sleep(0.05)
        future: asyncio.Future[str] = loop.create_future()
        self._pending_listen = future
        self._line_wanted.set()  # with text input, the next line is the answer
        self._refresh_state()
        try:
            return await asyncio.wait_for(future, timeout_s)
        except TimeoutError:
            return None
        finally:
            self._pending_listen = None
            self._line_wanted.clear()  # the turn goes on; the next line waits for its end
            self._refresh_state()

    # Control (the control socket, `loki status | sleep | wake | mute | unmute | say --daemon`) ---------
    def status(self) -> dict[str, Any]:
        """What `loki status` shows: state, sleep, mute, uptime, input, microphone, models, the last turn."""
        last = None
        if self.results:
            last = {**self.results[-1].as_json(), "time": self.turns.last_time}
        return {
            "state": self.state.value,
            "sleeping": self.sleeping,
            "muted": self.muted,
            "uptime_s": round(time.monotonic() - self._started_s, 1),
            "input": "microphone" if self.listener is not None else "text" if self._lines is not None else "none",
            "microphone": dict(self.microphone),
            "wake": {"engine": self.wake.kind, "phrase": self.settings.wake_phrase, "required": self.gate.require_wake},
            "models": dict(self.models),
            "last_turn": last,
        }

    def sleep(self) -> None:
        """Sleep, as the spoken "go to sleep" does: only "wake up" or push-to-talk is heard."""
        self._followup_pending = False
        if not self.sleeping:
            self.sleeping = True
            log.info("asleep: only 'wake up' (or push-to-talk) is heard")
            self.bus.publish(SleepChanged(True))

    def wake_up(self) -> None:
        """End sleep (as "wake up" does, without the spoken welcome)."""
        if self.sleeping:
            self.sleeping = False
            log.info("awake again")
            self.bus.publish(SleepChanged(False))

    def mute(self) -> None:
        """Hear nothing: the microphone's audio reaches neither the wake engine nor the recognizer (typed input still works)."""
        self._set_muted(True)

    def unmute(self) -> None:
        """Hear the microphone again."""
        self._set_muted(False)

    def _set_muted(self, muted: bool) -> None:
        if muted == self.muted:
            return
        self.muted = muted
        if self.listener is not None:
            self.listener.set_muted(muted)
        log.info("the microphone is %s", "muted: nothing is heard" if muted else "on again")
        self.bus.publish(MuteChanged(muted))
        self._refresh_state()

    async def run_command(self, text: str) -> dict[str, Any]:
        """Route typed text as a turn of this daemon, after the turns queued before it (`loki say --daemon`).

        Its context and history apply as for a spoken command; returns the turn's JSON. While asleep
        it acts as push-to-talk does: it wakes LOKI ("wake up" itself only wakes it).
        """
        if self.sleeping:
            self.wake_up()
            if (language := is_wake_up(text)) is not None:
                self._welcome_back(language)
                return TurnResult(text, reply=AWAKE[language], language=language, detail={"control": "wake"}).as_json()
        self._hold()  # released when its turn ends, as a heard command's
        result = await self.turns.submit(CommandHeard(text, None, "control"))
        if result is None:
            return TurnResult(text, ok=False, error="cancelled").as_json()
        return result.as_json()

    # Recognition --------------------------------------------------------------------------
    def _situation(self) -> Situation:
        return Situation(
            busy=self.voice_active() or self.turns.running,
            answering=self._pending_listen is not None and not self._pending_listen.done(),
            sleeping=self.sleeping,
        )

    async def _recognize(self) -> None:
        assert self.listener is not None and self.recognizer is not None
        queue = self.listener.utterances
        while (utt := await self._next_utterance(queue)) is not None:
            if self.muted:  # heard just before the microphone was muted: not heard
                if utt.final:
                    self._release()
                continue
            if not utt.final:
                self.recognizer.guess(utt, self._situation())
                continue
            queued = False
            try:
                outcome = await self.recognizer.recognize(
                    utt, self._situation, functools.partial(self._later_part, queue)
                )
                if outcome.left is not None:  # a request of its own, for the next round
                    self._hold()
                    self._held.append(outcome.left)
                queued = await self._act_on(outcome)
            except LokiError as exc:
                log.warning("recognition failed: %s", exc)
                self.bus.publish(TurnFailed("stt", exc.code, str(exc)))
            finally:
                if not queued:
                    self._release()  # a queued command's turn releases it
        await self.turns.put(None)

    async def _next_utterance(self, queue: asyncio.Queue[Utterance | None]) -> Utterance | None:
        return self._held.pop(0) if self._held else await queue.get()

    async def _later_part(self, queue: asyncio.Queue[Utterance | None], utt: Utterance) -> Utterance | None:
        """The next final utterance, when speech was heard starting again within GO_ON_S of `utt`'s end.

        Waits on the audio clock (a replay runs faster than real time), with a wall-clock deadline; the
        utterance is not held meanwhile, so a replay's clock moves on. Anything else that comes is left
        for the main loop.
        """
        assert self.listener is not None
        listener = self.listener
        preroll_s = listener.options.preroll_ms / 1000
        until_s = utt.speech_end_s + GO_ON_S
        give_up = time.monotonic() + GO_ON_S + 1.0
        speaking = False
        self._release()
        try:
            while time.monotonic() < give_up:
                try:
                    later = await asyncio.wait_for(queue.get(), 0.03)
                except TimeoutError:
                    started_s = listener.segmenter.current_start_s
                    if started_s is not None and started_s + preroll_s <= until_s:
                        if not speaking:  # its end is at most max_utterance_s away
                            speaking = True
                            give_up = time.monotonic() + listener.options.max_utterance_s + 1.0
                    elif listener.now_s > until_s + FRAME_MS / 1000 and queue.empty():
                        return None
                    continue
                if later is None or later.source != "vad" or not goes_on(utt, later, preroll_s):
                    self._held.append(later)
                    return None
                if later.final:
                    self._release()  # it is part of `utt`'s turn
                    return later
            log.warning("the speech after a pause did not end in time; acting on what came before it")
            return None
        finally:
            self._hold()

    async def _act_on(self, outcome: Outcome) -> bool:
        """Do what the recognizer decided; True when a command was queued."""
        if outcome.woke:
            self.wake_up()
        if outcome.kind == "wake_up":
            self._welcome_back(outcome.language)
        elif outcome.kind == "answer" and self._pending_listen is not None and not self._pending_listen.done():
            self._pending_listen.set_result(outcome.text)
        elif outcome.kind == "wake":
            self._earcon("listening")
            self._refresh_state()
        elif outcome.kind == "command" and outcome.command is not None:
            await self.turns.put(outcome.command)
            return True
        return False

    def _welcome_back(self, language: str) -> None:
        """ "Wake up" was heard: say so, and listen for a command without the wake word."""
        self._earcon("listening")
        self._followup_pending = True
        if self.replies is not None:
            self._spawn(self.replies(AWAKE[language], language), "awake")

    # Turns ----------------------------------------------------------------------------------
    async def handle(self, command: CommandHeard) -> TurnResult | None:
        """Run one turn for a command now (None when it was cancelled by barge-in)."""
        return await self.turns.handle(command)

    @property
    def results(self) -> list[TurnResult]:
        """The last RESULTS_KEPT turns' results."""
        return self.turns.results

    def _turn_over(self, command: CommandHeard, result: TurnResult) -> None:
        spoken = command.source in ("vad", "ptt")  # a script's `say --daemon` opens no window on the microphone
        if spoken and result.ok and (result.actions or result.reply):  # acted or answered (not "sorry, I don't know")
            self._followup_pending = True
        if result.detail.get("control") == "sleep":
            self.sleep()
        if self.on_turn is not None:
            self.on_turn(result, command)

    def _next_command(self, command: CommandHeard) -> None:
        if command.source != "text":
            self._release()
        self._line_wanted.set()

    # Text input -------------------------------------------------------------------------------
    async def _text_commands(self) -> None:
        """One reader for text lines: a line is a command, or the answer to the question a turn is waiting on.

        The next line is taken only when no turn runs or a turn asks, so piped lines keep their order.
        """
        assert self._lines is not None
        while True:
            await self._line_wanted.wait()
            line = await anext(self._lines, None)
            if line is None:
                await self.turns.put(None)
                return
            self._line_wanted.clear()
            pending = self._pending_listen
            if pending is not None and not pending.done():
                pending.set_result(line)
            elif self.sleeping and (language := is_wake_up(line)) is not None:
                self.wake_up()
                self._welcome_back(language)
                self._line_wanted.set()
            elif self.sleeping:
                log.info("asleep: say 'wake up' first (ignored %r)", line)
                self._line_wanted.set()
            else:
                await self.turns.put(CommandHeard(line, None, "text"))

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
                self.bus.publish(TurnFailed(name, getattr(exc, "code", "internal"), str(exc)))
                await asyncio.sleep(delay)

    async def run(self, *, lines: AsyncIterator[str] | None = None) -> None:
        """Run until the input ends (a file, or the text `lines`), `stop()` is called, or the task is cancelled."""
        stages: dict[str, Callable[[], Awaitable[None]]] = {"turns": self.turns.run}
        if self.replies is not None:
            stages["speak"] = self.replies.run
        if lines is not None:
            self._lines = lines
            stages["text"] = self._text_commands
        elif self.listener is not None:
            stages["listen"] = self.listener.run
            if self.recognizer is not None:
                stages["recognize"] = self._recognize
            if self.settings.ptt_key:
                self.listener.start_key(self.settings.ptt_key, self.settings.ptt_mode)
        stages.update(self.extra_stages)
        self._started_s = time.monotonic()
        for name, stage in stages.items():
            self._tasks[name] = asyncio.create_task(self._supervise(name, stage), name=name)
        self._refresh_state()
        try:
            await self._tasks["turns"]
        finally:
            await self.aclose()

    def stop(self, reason: str = "signal") -> None:
        """Ask the daemon to finish: the running turn is cancelled, the commands still queued are not run."""
        self.bus.publish(Shutdown(reason))

    async def warm_up(self) -> None:
        """Load the speech model and the sentence encoder now, so the first command is not slowed by them."""
        if self.recognizer is not None:
            await self.recognizer.warm_up()
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
        if self.listener is not None:
            await asyncio.to_thread(self.listener.stop_key)
        if self.replies is not None:
            self.replies.close()
        await self.turns.close()  # the running turn, and commands from the control socket that will not run now
        tasks = [t for t in self._tasks.values() if not t.done()]
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
        if self.recognizer is not None:
            self.recognizer.close()
        self.bus.close()
