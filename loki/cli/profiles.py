"""`loki profiles check|list`: validate the profile files, or list the commands that apply in a context."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from loki.brain.builtin import active_rules, rule_example
from loki.cli import emit
from loki.config import Settings
from loki.profiles.loader import check_profiles
from loki.wiring import load_all_profiles, profile_folders


def cmd_profiles(args: argparse.Namespace, settings: Settings) -> int:
    """Validate every profile file (errors name the file and line), or list the commands that apply."""
    if args.action == "list":
        return _list_commands(args, settings)
    warnings: list[Any] = []
    ok, errors = check_profiles(profile_folders(settings), warnings)
    for path in ok:
        emit({"file": path, "ok": True}, args.json, f"ok     {path}")
    for warning in warnings:
        emit(
            {"file": warning.path, "line": warning.line, "ok": True, "warning": str(warning)},
            args.json,
            f"WARN   {warning}",
        )
    for err in errors:
        emit({"file": err.path, "line": err.line, "ok": False, "error": str(err)}, args.json, f"ERROR  {err}")
    if not args.json:
        print(f"{len(ok)} file(s) ok, {len(errors)} with errors, {len(warnings)} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def _list_commands(args: argparse.Namespace, settings: Settings) -> int:
    """Every command that can be said in a context: one line (or JSON object) per rule."""
    language = args.language or (settings.language if settings.language != "auto" else "en")
    rules = active_rules(load_all_profiles(settings), language, os_name=sys.platform, app=args.app, title=args.title)
    for rule in rules:
        said = rule_example(rule)
        emit(
            {"say": said, "phrase": rule.phrase, "actions": list(rule.actions), "file": rule.path, "line": rule.line},
            args.json,
            f"{said:32} {'; '.join(rule.actions):28} {rule.path}:{rule.line}",
        )
    return 0
