"""`loki status | sleep | wake | mute | unmute | stop | events --follow | say --daemon`: talk to the running LOKI.

Everything goes through the daemon's control socket (loki.service.control). When no LOKI runs,
each says so and exits with status 3 (as `systemctl status` does for an inactive unit).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from loki.cli import emit, human_turn, stdin_lines
from loki.config import Settings
from loki.errors import LokiError
from loki.service.control import TURN_TIMEOUT_S, ControlClient, ControlError, NotRunning, request

EXIT_NOT_RUNNING = 3
"""Exit status when no LOKI answers on the control socket."""

_DONE = {
    "sleep": "LOKI is asleep: only 'wake up' or push-to-talk is heard ('loki wake' wakes it)",
    "wake": "LOKI is awake",
    "mute": "the microphone is muted: LOKI hears nothing ('loki unmute' turns it back on)",
    "unmute": "the microphone is on again",
    "stop": "stopped: LOKI's speech was cut and the running plan cancelled",
}


def command(args: argparse.Namespace, settings: Settings) -> int:
    """`loki status`, `sleep`, `wake`, `mute`, `unmute`, `stop` and `events --follow`."""
    as_json = bool(getattr(args, "json", False))
    try:
        if args.command == "events":
            return _follow(args, as_json)
        reply = request(args.command)
    except NotRunning as exc:
        return _not_running(exc, as_json)
    except ControlError as exc:
        return _failed(exc, as_json)
    reply.pop("ok", None)
    emit(reply, as_json, human_status(reply) if args.command == "status" else _DONE[args.command])
    return 0


def cmd_say_daemon(args: argparse.Namespace, settings: Settings) -> int:
    """`loki say --daemon TEXT | -`: route typed text through the running LOKI (its context and history apply)."""
    as_json = bool(args.json)
    if args.text == ["-"]:
        lines = list(stdin_lines(sys.stdin.buffer))
        texts = [line for line in lines if line is not None]
        failures = len(lines) - len(texts)
    else:
        texts, failures = [" ".join(args.text).strip()], 0
    if not any(texts):
        if failures:
            return 1
        raise LokiError("Nothing to say: give the text as arguments, or '-' to read lines from stdin.")
    try:
        with ControlClient() as client:
            for text in texts:
                turn = client.request("say", text=text, timeout_s=TURN_TIMEOUT_S + 5)["turn"]
                emit(turn, as_json, human_turn(turn))
                failures += turn.get("error") not in (None, "not_executed")  # a refusal is not a failure
    except NotRunning as exc:
        return _not_running(exc, as_json)
    except ControlError as exc:
        return _failed(exc, as_json)
    return 1 if failures else 0


def _follow(args: argparse.Namespace, as_json: bool) -> int:
    if not args.follow:
        raise LokiError(
            "'loki events' needs --follow: LOKI keeps no history of its events (its turns are in the traces)"
        )
    with ControlClient() as client:
        for event in client.events(on_ready=lambda: print("following LOKI's events (Ctrl-C to stop)", file=sys.stderr)):
            emit(event, as_json, human_event(event))
    print("loki: LOKI stopped", file=sys.stderr)
    return 0


def _not_running(exc: NotRunning, as_json: bool) -> int:
    if as_json:
        emit({"error": exc.code, "message": str(exc)}, True)
    else:
        print(f"loki: {exc}", file=sys.stderr)
    return EXIT_NOT_RUNNING


def _failed(exc: ControlError, as_json: bool) -> int:
    if as_json:
        emit({"error": exc.code, "message": str(exc)}, True)
    else:
        print(f"loki: {exc}", file=sys.stderr)
    return 1


# What a person reads -------------------------------------------------------------------------
def human_status(status: dict[str, Any]) -> str:
    """`loki status` for a person: a few aligned lines."""
    state = status["state"]
    if status.get("sleeping"):
        state += ", asleep: only 'wake up' or push-to-talk is heard"
    if status.get("muted"):
        state += ", muted: the microphone is not heard"
    mic = status.get("microphone") or {}
    if status.get("input") == "microphone":
        heard = f"microphone {mic.get('name') or '?'!r} ({mic.get('state')})"
    else:
        heard = f"{status.get('input')} (no microphone)"
    wake = status.get("wake") or {}
    lines = [
        ("state", state),
        ("up", _duration(float(status.get("uptime_s") or 0))),
        ("input", heard),
        (
            "wake",
            f"{wake.get('engine')} {wake.get('phrase')!r}" + ("" if wake.get("required", True) else " (not needed)"),
        ),
        ("models", ", ".join(f"{kind} {name}" for kind, name in (status.get("models") or {}).items()) or "-"),
    ]
    last = status.get("last_turn")
    if last:
        lines.append(("last turn", f"{last.get('time', '')[11:19]} {human_turn(last)}".strip()))
        timings = ", ".join(f"{stage} {ms:.0f} ms" for stage, ms in (last.get("timings_ms") or {}).items())
        if timings:
            lines.append(("timings", timings))
    else:
        lines.append(("last turn", "none yet"))
    return "\n".join(f"{name + ':':<11}{value}" for name, value in lines)


def human_event(event: dict[str, Any]) -> str:
    """One event for a person: clock time, type, fields."""
    fields = " ".join(
        f"{name}={json.dumps(value, ensure_ascii=False)}"
        for name, value in event.items()
        if name not in ("time", "type")
    )
    return f"{event['time'][11:23]} {event['type']} {fields}".rstrip()


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (minutes, "min"), (secs, "s")]
    shown = [f"{n} {unit}" for n, unit in parts if n][:2]
    return " ".join(shown) or "0 s"
