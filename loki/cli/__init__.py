"""The `loki` command line. Reports go to stdout (one JSON object per line with --json); logs to stderr."""

from __future__ import annotations

import argparse
import importlib
import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from typing import IO, Any

from loki.config import Settings, load_settings
from loki.errors import ConfigError, LokiError
from loki.screen.coords import MODEL_CONVENTIONS, Convention

log = logging.getLogger("loki")


# Reports go to the real stdout; once main() starts, sys.stdout points at stderr so that stray
# prints from libraries (python-xlib, llama.cpp) cannot corrupt the JSON lines.
_report_stream = sys.stdout


def emit(obj: dict[str, Any], as_json: bool, human: str | None = None) -> None:
    """Print one report line: JSON when asked, else a human line."""
    line = json.dumps(obj, ensure_ascii=False) if as_json else (human if human is not None else str(obj))
    print(line, file=_report_stream, flush=True)


def human_turn(result: dict[str, Any], text_key: str = "text") -> str:
    """One turn's report for a person: tier, text, actions, what was not run and the reply."""
    tier = "-" if result["tier"] is None else result["tier"]
    actions = ", ".join(json.dumps(a, ensure_ascii=False) for a in result["actions"]) or "no actions"
    line = f"[tier {tier}] {result[text_key]!r} -> {actions}"
    for refused in result.get("refused", []):
        line += f"\n  not run: {json.dumps(refused['action'], ensure_ascii=False)} ({refused['reason']})"
    if result.get("reply"):
        line += f"\n  {result['reply']}"
    return line


def stdin_lines(stream: IO[bytes]) -> Iterator[str | None]:
    """The non-empty lines of a byte stream, stripped; a line that is not UTF-8 is logged and given as None."""
    for number, raw in enumerate(stream, start=1):
        try:
            line = raw.decode("utf-8").strip()
        except UnicodeDecodeError as exc:
            log.error(
                "input line %d is not UTF-8 (byte 0x%02x at column %d), so it was skipped: send UTF-8 text",
                number,
                raw[exc.start],
                exc.start + 1,
            )
            yield None
            continue
        if line:
            yield line


# Sub-commands ------------------------------------------------------------------------------
# Each lives in its own module, imported only when it runs so that `loki --help` stays fast:
# name -> (module, function taking (args, settings) and returning the exit status).
_STAGE_COMMANDS = {
    "run": ("loki.cli.run", "command"),
    "say": ("loki.cli.say", "cmd_say"),
    "replay": ("loki.cli.replay", "command"),
    "transcribe": ("loki.cli.transcribe", "command"),
    "speak": ("loki.cli.speak", "command"),
    "doctor": ("loki.cli.doctor", "command"),
    "models": ("loki.cli.models", "command"),
    "profiles": ("loki.cli.profiles", "cmd_profiles"),
    "service": ("loki.cli.service", "command"),
    "stats": ("loki.cli.stats", "command"),
    "screen": ("loki.cli.screen", "command"),
    # The running daemon, through its control socket (loki.cli.control):
    "status": ("loki.cli.control", "command"),
    "sleep": ("loki.cli.control", "command"),
    "wake": ("loki.cli.control", "command"),
    "mute": ("loki.cli.control", "command"),
    "unmute": ("loki.cli.control", "command"),
    "stop": ("loki.cli.control", "command"),
    "events": ("loki.cli.control", "command"),
    "say --daemon": ("loki.cli.control", "cmd_say_daemon"),
}


def _stage_command(name: str) -> Any:
    """The handler of sub-command `name`: imports its module when it runs."""
    module_name, function = _STAGE_COMMANDS[name]

    def run(args: argparse.Namespace, settings: Settings) -> int:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if not exc.name or exc.name.partition(".")[0] == "loki":  # LOKI's own modules are never optional
                raise
            raise LokiError(f"'loki {name}' needs the Python package {exc.name!r}: pip install -e '.[models]'") from exc
        return int(getattr(module, function)(args, settings))

    return run


def version() -> str:
    """LOKI's version, from the installed package's metadata."""
    from importlib import metadata

    try:
        return metadata.version("loki-assistant")
    except metadata.PackageNotFoundError:
        return "unknown (not installed: pip install -e .)"


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every sub-command."""
    parser = argparse.ArgumentParser(prog="loki", description="LOKI, a local voice assistant for the desktop.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    parser.add_argument(
        "--env-file",
        default=".env",
        help="settings file read under the environment, over $XDG_CONFIG_HOME/loki/loki.env (default: .env)",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging on stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    def add(name: str, help_text: str, json_flag: bool = True, dry_run: bool = False) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        if json_flag:
            p.add_argument("--json", action="store_true", help="print one JSON object per line")
        if dry_run:
            p.add_argument("--dry-run", action="store_true", help="plan and report actions; never touch the desktop")
        return p

    p = add("run", "run the daemon: microphone -> wake word / push-to-talk -> speech -> actions + voice", dry_run=True)
    p.add_argument("--no-wake", action="store_true", help="treat every utterance as a command (no wake word)")
    p.add_argument("--text", action="store_true", help="read commands from stdin instead of the microphone")
    p.set_defaults(handler=_stage_command("run"))

    p = add("say", "route typed text as if it had been transcribed", dry_run=True)
    p.add_argument("text", nargs="+", help="the utterance, or '-' to read one per line from stdin")
    p.add_argument("--daemon", action="store_true", help="route it through the running LOKI (its context and history)")
    p.set_defaults(handler=_say)

    p = add("replay", "feed a recording to LOKI as if it were the microphone", dry_run=True)
    p.add_argument("--no-wake", action="store_true", help="do not require the wake word")
    p.add_argument("file", help="a WAV file")
    p.set_defaults(handler=_stage_command("replay"))

    p = add("transcribe", "speech to text with the configured model")
    p.add_argument("files", nargs="+", help="audio files")
    p.set_defaults(handler=_stage_command("transcribe"))

    p = add("speak", "synthesize text (and play it unless --out)")
    p.add_argument("text", nargs="+")
    p.add_argument("--out", help="write a WAV file instead of playing")
    p.set_defaults(handler=_stage_command("speak"))

    p = add("doctor", "check devices, display, models, permissions and backends")
    p.set_defaults(handler=_stage_command("doctor"))

    p = add("models", "the model store: list, pull, verify")
    # One parser per action, so that options may come before the name (`models pull --json NAME`);
    # their --json leaves an earlier `models --json` alone (SUPPRESS: no default of their own).
    actions = p.add_subparsers(dest="action", required=True, metavar="{list,pull,verify}")
    for action, help_text in (
        ("list", "the models LOKI finds, and where"),
        ("pull", "fetch a model into the store"),
        ("verify", "check the sha256 of every model file"),
    ):
        a = actions.add_parser(action, help=help_text, description=help_text)
        a.add_argument("--json", action="store_true", default=argparse.SUPPRESS, help="print one JSON object per line")
        if action == "pull":
            a.add_argument("name", nargs="?", help="model to pull (e.g. whisper-small, piper-ru)")
    p.set_defaults(handler=_stage_command("models"), name=None)

    p = add("profiles", "profile files")
    p.add_argument("action", choices=("check", "list"))
    p.add_argument("--app", default="", help="list: the commands that apply in this app (e.g. firefox)")
    p.add_argument("--title", default="", help="list: ... and under this window title")
    p.add_argument("--language", choices=("en", "ru"), help="list: the language (default: LOKI_LANGUAGE)")
    p.set_defaults(handler=_stage_command("profiles"))

    p = add("service", "install LOKI as a background service (systemd user unit / launchd agent)", dry_run=True)
    p.add_argument("action", choices=("install", "uninstall", "status"))
    p.set_defaults(handler=_stage_command("service"))

    p = add("stats", "what the turn traces say: turns per tier, latency per stage, what was not understood")
    p.add_argument(
        "--since",
        metavar="DATE",
        help="only turns since an ISO date or time (2026-05-01, 2026-05-01T09:30) or an age (24h, 7d)",
    )
    p.add_argument("--plot", metavar="FILE.png", help="also draw the latency of each stage over time into this PNG")
    p.set_defaults(handler=_stage_command("stats"))

    p = add(
        "screen",
        "the screen: shot (save a screenshot with its frame), find TEXT (ground a named control in the active window), "
        "calibrate (click targets through the screenshot mapping)",
    )
    p.add_argument("action", choices=("shot", "find", "calibrate"))
    p.add_argument("text", nargs="*", help="find: the control's name, e.g. Save or 'the second result'")
    p.add_argument("--out", metavar="FILE.png", help="shot: where to save (default: a private file in the state dir)")
    p.add_argument("--window", action="store_true", help="shot: only the active window")
    p.add_argument("--role", default="", help="find: only controls of this role (button, link, menu item, ...)")
    p.add_argument(
        "--profile",
        default="",
        help="display profile: a name in profiles/display/, a .toml path, or 'none' (default: LOKI_DISPLAY_PROFILE)",
    )
    p.add_argument(
        "--convention",
        default="pixels",
        choices=list(dict.fromkeys([*map(str, Convention), *MODEL_CONVENTIONS])),
        help="write each seen point this way before mapping it back (pixels, unit 0-1, permille 0-1000, or a model)",
    )
    p.add_argument(
        "--image-size", type=int, default=0, metavar="PX", help="scale screenshots down to this longer side first"
    )
    p.add_argument("--tolerance", type=float, default=2.0, metavar="PX", help="largest error that passes (default 2)")
    p.set_defaults(handler=_stage_command("screen"))
    # The running daemon, through its control socket ($XDG_RUNTIME_DIR/loki/control.sock).
    for name, help_text in (
        ("status", "what the running LOKI is doing: state, sleep, microphone, models, the last turn"),
        ("sleep", "put the running LOKI to sleep: only 'wake up' or push-to-talk is heard"),
        ("wake", "wake the running LOKI"),
        ("mute", "mute the running LOKI's microphone: nothing is heard"),
        ("unmute", "turn the running LOKI's microphone back on"),
        ("stop", "cut the running LOKI's speech and cancel its running plan"),
    ):
        add(name, help_text).set_defaults(handler=_stage_command(name))
    p = add("events", "the running LOKI's events as they happen")
    p.add_argument("--follow", "-f", action="store_true", help="keep printing events until Ctrl-C (required)")
    p.set_defaults(handler=_stage_command("events"))
    return parser


def _say(args: argparse.Namespace, settings: Settings) -> int:
    """`loki say`: in this process, or with --daemon through the running LOKI."""
    return int(_stage_command("say --daemon" if args.daemon else "say")(args, settings))


def _fail(exc: LokiError, as_json: bool, text: str) -> None:
    """Report an error of the command itself: a line on stderr, and under --json one object on stdout (no `tier`)."""
    print(text, file=sys.stderr)
    if as_json:
        emit({"error": exc.code, "message": exc.message}, True)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `loki` console script."""
    global _report_stream
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and getattr(args, "command", None) == "screen" and not any(a.startswith("-") for a in extra):
        args.text = [*args.text, *extra]  # `loki screen find --json Save`: the name may follow the options
    elif extra:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    as_json = bool(getattr(args, "json", False))
    started = time.perf_counter()
    _report_stream, sys.stdout = sys.stdout, sys.stderr
    try:
        settings = load_settings(args.env_file)
    except ConfigError as exc:
        _fail(exc, as_json, f"loki: configuration error: {exc}")
        sys.stdout = _report_stream
        return 2
    if getattr(args, "dry_run", False) and not settings.dry_run:
        from dataclasses import replace

        settings = replace(settings, dry_run=True)
    from loki.service.logs import configure_logging, nobody_reads

    # Logs: stderr (journald's form under systemd); `loki run` without a terminal also keeps a rotating file.
    configure_logging(
        logging.DEBUG if args.verbose else getattr(logging, settings.log_level),
        sys.stderr,
        log_dir=settings.state_path if args.command == "run" and nobody_reads(sys.stderr) else None,
    )
    log.debug("settings %r (start-up %.0f ms)", settings, (time.perf_counter() - started) * 1000)
    try:
        return int(args.handler(args, settings))
    except LokiError as exc:
        _fail(exc, as_json, f"loki: {exc}")
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `loki profiles list | head`: the reader has all it wanted
        os.dup2(os.open(os.devnull, os.O_WRONLY), _report_stream.fileno())
        return 0
    finally:
        sys.stdout = _report_stream
