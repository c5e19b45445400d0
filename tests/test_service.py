"""`loki service`: the systemd user unit is written where systemd looks, and removed again."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path


def loki(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loki", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_install_dry_run_status_uninstall(tmp_path: Path, settings_env: dict[str, str]) -> None:
    env = {**settings_env, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    unit = tmp_path / "config" / "systemd" / "user" / "loki.service"

    dry = loki("service", "install", "--dry-run", "--json", env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "ExecStart=" in json.loads(dry.stdout)["would_write"] and not unit.exists()

    done = loki("service", "install", "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = unit.read_text(encoding="utf-8")
    assert "ExecStart=" in text and " run" in text and f"WorkingDirectory={tmp_path}" in text
    assert json.loads(done.stdout)["installed"] is True

    status = json.loads(loki("service", "status", "--json", env=env, cwd=tmp_path).stdout)
    assert status["installed"] is True

    removed = loki("service", "uninstall", "--json", env=env, cwd=tmp_path)
    assert removed.returncode == 0 and not unit.exists()
    again = loki("service", "uninstall", env=env, cwd=tmp_path)
    assert again.returncode == 1 and "not installed" in again.stderr
