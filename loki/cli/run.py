"""`loki run`: the daemon on the microphone (or stdin lines with --text) until Ctrl-C or SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable

from loki.audio.mic import SoundDeviceMicrophone
from loki.brain.orchestrator import TurnResult
from loki.cli import emit, human_turn, stdin_lines
from loki.config import Settings
from loki.errors import LokiError
from loki.events import CommandHeard, EventBus
from loki.service.notify import Notifier, StatusReporter
from loki.wiring import build_daemon, build_voice

log = logging.getLogger(__name__)

STDIN_THREAD = "loki-stdin"
STOP_GRACE_S = 1.0
"""After SIGTERM, seconds the supervisor has to wind down before the main task is cancelled."""


def print_turn(as_json: bool) -> Callable[[TurnResult, CommandHeard], None]:
    """An `on_turn` that reports each turn: one JSON line, or a human line."""

    def show(result: TurnResult, command: CommandHeard) -> None:
        line = result.as_json(text_key="transcript")
        emit(line, as_json, human_turn(line, text_key="transcript"))

    return show


def command(args: argparse.Namespace, settings: Settings) -> int:
    """`loki run`: the daemon on the microphone (or stdin lines with --text) until Ctrl-C."""
    code = asyncio.run(_main(args, settings))
    _exit_without_waiting_for_workers(code)
    return code


def _exit_without_waiting_for_workers(code: int) -> None:
    """Leave now even if a worker thread is inside a library call (a Whisper decode cannot be cut).

    Python would join those threads at exit, so a stop request could wait for seconds on a busy
    machine; everything LOKI writes is closed or flushed by the time the daemon returns. The stdin
    reader counts too: blocked in a read, it holds stdin's lock, and the interpreter's shutdown
    would abort on it ("Fatal Python error: _enter_buffered_busy").
    """
    busy = [
        t.name
        for t in threading.enumerate()
        if t is not threading.main_thread() and t.is_alive() and (not t.daemon or t.name == STDIN_THREAD)
    ]
    if not busy:
        return
    log.info("stopping without waiting for %s", ", ".join(busy))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


async def _main(args: argparse.Namespace, settings: Settings) -> int:
    """Build the daemon, warm it up and run it until its input ends or it is stopped."""
    text_input = bool(getattr(args, "text", False))
    mic = None if text_input else SoundDeviceMicrophone(settings.mic_device or None)
    bus = EventBus()
    notifier = Notifier.from_environment()  # systemd's Type=notify (a no-op otherwise)
    status = StatusReporter(notifier, "commands from stdin" if text_input else "opening the microphone")
    if notifier.enabled:
        bus.listen(status)
        status.report()
    voice = build_voice(settings, bus)
    daemon = build_daemon(
        settings,
        mic=mic,
        voice=voice,
        require_wake=not getattr(args, "no_wake", False),
        on_turn=print_turn(bool(getattr(args, "json", False))),
        bus=bus,
        stages={"watchdog": notifier.watchdog} if notifier.watchdog_interval_s else None,
        watch_profiles=True,
        control=True,  # `loki status`, `loki sleep`, ... talk to it through its control socket
    )
    loop = asyncio.get_running_loop()

    async def start_and_run() -> None:
        if settings.reply_mode != "text" or settings.earcons:
            try:
                await voice.start()
            except LokiError as exc:
                log.warning("the voice is not available: %s", exc)
        await daemon.warm_up()
        status.ready(daemon.state.value)  # a missing microphone is in the status, it does not hold READY back
        await daemon.run(lines=_stdin_lines() if text_input else None)

    running = asyncio.ensure_future(start_and_run())
    grace: list[asyncio.TimerHandle] = []

    def terminate() -> None:  # finish through the supervisor; cut the start-up or a slow stop after a grace time
        daemon.stop("SIGTERM")
        grace.append(loop.call_later(STOP_GRACE_S, running.cancel))

    try:
        loop.add_signal_handler(signal.SIGTERM, terminate)
    except (NotImplementedError, RuntimeError):  # not on this platform / not the main thread
        pass
    try:
        await running
    except asyncio.CancelledError:
        log.info("stopping")
    finally:
        for timer in grace:
            timer.cancel()  # the clean-up below is never cut short by the grace timer
        notifier.stopping()
        await daemon.aclose()
        daemon.orchestrator.close()
        await voice.close()
        notifier.close()
    return 0


async def _stdin_lines() -> AsyncIterator[str]:
    """Lines of stdin, read in a thread of their own; a line that is not UTF-8 is reported and skipped."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in stdin_lines(sys.stdin.buffer):
            if line is not None:
                loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, name=STDIN_THREAD, daemon=True).start()
    while (line := await lines.get()) is not None:
        yield line
