"""`loki service install|uninstall|status [--dry-run]`: LOKI as a background service (loki.service writes the files)."""

from __future__ import annotations

import argparse

from loki.cli import emit
from loki.config import Settings
from loki.errors import LokiError
from loki.service.units import run_all, service_file


def command(args: argparse.Namespace, settings: Settings) -> int:
    """`loki service install|uninstall|status [--dry-run]`."""
    svc = service_file()
    if args.action == "status":
        installed = svc.path.exists()
        ok, detail = run_all([svc.status]) if installed else (False, "not installed")
        emit(
            {"service": str(svc.path), "installed": installed, "running": ok, "detail": detail},
            args.json,
            f"{svc.path}: {'installed' if installed else 'not installed'}{'' if not detail else ' — ' + detail}",
        )
        return 0
    if args.action == "install":
        if settings.dry_run:
            emit(
                {"service": str(svc.path), "would_write": svc.text, "then": svc.enable},
                args.json,
                f"would write {svc.path}:\n{svc.text}\nthen run: " + "; ".join(" ".join(c) for c in svc.enable),
            )
            return 0
        svc.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = svc.path.with_suffix(".tmp")
        tmp.write_text(svc.text, encoding="utf-8")
        tmp.replace(svc.path)
        ok, detail = run_all(svc.enable)
        hint = "" if ok else f" The file is written; activate it yourself: {'; '.join(' '.join(c) for c in svc.enable)}"
        emit(
            {"service": str(svc.path), "installed": True, "started": ok, "detail": detail},
            args.json,
            f"installed {svc.path}" + ("" if ok else f" ({detail}).{hint}"),
        )
        return 0
    if args.action == "uninstall":
        if not svc.path.exists():
            raise LokiError(f"LOKI's service is not installed ({svc.path} does not exist).")
        if settings.dry_run:
            emit({"service": str(svc.path), "would_remove": True}, args.json, f"would stop and remove {svc.path}")
            return 0
        ok, detail = run_all(svc.disable)
        svc.path.unlink()
        emit(
            {"service": str(svc.path), "removed": True, "stopped": ok, "detail": detail},
            args.json,
            f"removed {svc.path}",
        )
        return 0
    raise LokiError(f"unknown service action {args.action!r}")
