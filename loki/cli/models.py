"""`loki models list|pull|verify [--json]`: the model store from the command line."""

from __future__ import annotations

import argparse
import sys
from dataclasses import asdict

from loki.cli import emit
from loki.config import Settings
from loki.errors import ModelError
from loki.models import list_models, pull, store_path, verify_models


def command(args: argparse.Namespace, settings: Settings) -> int:
    """`loki models list|pull|verify [--json]`."""
    if args.action == "list":
        for entry in list_models(settings):
            state = "ready" if entry.ready else "not ready"
            human = f"{entry.name:28s} {entry.kind:9s} {state:9s} {entry.size_mb:8.1f} MB  {entry.source}  {entry.path}"
            emit(asdict(entry), args.json, human + (f"\n    {entry.detail}" if entry.detail else ""))
        if not args.json:
            print(f"model store: {store_path(settings)}", file=sys.stderr)
        return 0
    if args.action == "verify":
        failures = 0
        for check in verify_models(settings):
            failures += not check.ok
            mark = "ok " if check.ok else "BAD"
            emit(
                asdict(check),
                args.json,
                f"{mark} {check.model:24s} {check.file}"
                + (f"\n    {check.detail}" if check.detail and not check.ok else ""),
            )
        return 1 if failures else 0
    if not args.name:
        raise ModelError("Name the model to pull, e.g. loki models pull whisper-small (or piper-ru).")
    path = pull(args.name, settings)
    setting = "LOKI_VOICE" if path.suffix == ".onnx" else "LOKI_STT_MODEL" if path.is_dir() else "LOKI_LLM_MODEL"
    use = f"{setting}={path.stem if path.suffix == '.onnx' else path.name if path.is_dir() else path}"
    emit(
        {"name": args.name, "path": str(path), "ok": True, "use": use},
        args.json,
        f"{args.name}: {path}\n  use it: {use}",
    )
    return 0
