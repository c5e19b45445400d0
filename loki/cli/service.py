"""`loki service install|uninstall|status [--dry-run]`: LOKI as a background service (loki/service/units.py writes the files)."""

from __future__ import annotations

import argparse
from pathlib import Path

from loki.cli import emit
from loki.config import Settings
from loki.errors import LokiError
from loki.service.units import ServiceFile, run_all, service_file, service_state


def command(args: argparse.Namespace, settings: Settings) -> int:
    """`loki service install|uninstall|status [--dry-run]`; `status` exits as `systemctl status` does."""
    svc = service_file()
    if args.action == "status":
        return _status(svc, args.json)
    if args.action == "install":
        return _install(svc, args.json, settings.dry_run)
    if args.action == "uninstall":
        return _uninstall(svc, args.json, settings.dry_run)
    raise LokiError(f"unknown service action {args.action!r}")


def _status(svc: ServiceFile, as_json: bool) -> int:
    """0 running, 3 installed but not running, 4 not installed; another code when the service manager cannot tell."""
    state = service_state(svc)
    emit(
        {
            "service": str(svc.path),
            "installed": svc.path.exists(),
            "state": state.state,
            "running": state.code == 0,
            "exit": state.code,
            "meaning": state.meaning,
            "detail": state.detail,
        },
        as_json,
        f"{state.state}: {state.meaning} ({svc.path})" + (f"\n{state.detail}" if state.detail else ""),
    )
    return state.code


def _install(svc: ServiceFile, as_json: bool, dry_run: bool) -> int:
    files = {svc.path: svc.text, **svc.extra}
    if dry_run:
        emit(
            {
                "service": str(svc.path),
                "would_write": svc.text,
                "would_write_files": {str(p): text for p, text in files.items()},
                "then": svc.enable,
            },
            as_json,
            "".join(f"would write {p}:\n{text}\n" for p, text in files.items())
            + "then run: "
            + "; ".join(" ".join(c) for c in svc.enable),
        )
        return 0
    for path, text in files.items():
        _write(path, text)
    ok, detail = run_all(svc.enable)
    hint = "" if ok else f" The files are written; activate them yourself: {'; '.join(' '.join(c) for c in svc.enable)}"
    emit(
        {
            "service": str(svc.path),
            "installed": True,
            "wrote": [str(p) for p in files],
            "ran": svc.enable if ok else [],
            "started": ok,
            "detail": detail,
        },
        as_json,
        "".join(f"wrote {p}\n" for p in files)
        + (f"ran: {'; '.join(' '.join(c) for c in svc.enable)}" if ok else f"not started ({detail}).{hint}"),
    )
    return 0


def _uninstall(svc: ServiceFile, as_json: bool, dry_run: bool) -> int:
    if not svc.path.exists():
        raise LokiError(f"LOKI's service is not installed ({svc.path} does not exist).")
    present = [p for p in svc.paths if p.exists()]
    if dry_run:
        emit(
            {"service": str(svc.path), "would_remove": True, "would_remove_files": [str(p) for p in present]},
            as_json,
            "would stop the service and remove " + ", ".join(str(p) for p in present),
        )
        return 0
    ok, detail = run_all(svc.disable)
    for path in present:
        path.unlink(missing_ok=True)
    emit(
        {
            "service": str(svc.path),
            "removed": True,
            "removed_files": [str(p) for p in present],
            "stopped": ok,
            "detail": detail,
        },
        as_json,
        "".join(f"removed {p}\n" for p in present)
        + ("stopped and disabled the service" if ok else f"the service was not stopped ({detail})"),
    )
    return 0


def _write(path: Path, text: str) -> None:
    """Write `text` to `path` whole (a temporary file, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
