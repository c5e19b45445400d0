"""Running LOKI as a background service: a systemd user unit on Linux, a launchd agent on macOS."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

UNIT_NAME = "loki.service"
AGENT_LABEL = "dev.loki.assistant"


@dataclass(frozen=True)
class ServiceFile:
    """Where the service definition goes, what it says, and the commands that (de)activate it."""

    path: Path
    text: str
    enable: list[list[str]]
    disable: list[list[str]]
    status: list[str]


def _loki_command() -> list[str]:
    exe = Path(sys.executable)
    script = exe.with_name("loki")
    return [str(script), "run"] if script.exists() else [str(exe), "-m", "loki", "run"]


def service_file(workdir: Path | None = None) -> ServiceFile:
    """The unit (Linux) or agent (macOS) that runs `loki run` in the user's session."""
    workdir = workdir or Path.cwd()
    argv = _loki_command()
    if sys.platform == "darwin":
        path = Path.home() / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"
        args = "".join(f"\n        <string>{a}</string>" for a in argv)
        text = f"""<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
    <key>Label</key><string>{AGENT_LABEL}</string>
    <key>ProgramArguments</key>
    <array>{args}
    </array>
    <key>WorkingDirectory</key><string>{workdir}</string>
    <key>RunAtLoad</key><true/>
    <key>KeepAlive</key><true/>
    <key>StandardErrorPath</key><string>{Path.home()}/Library/Logs/loki.log</string>
</dict>
</plist>
"""
        return ServiceFile(
            path,
            text,
            [["launchctl", "load", "-w", str(path)]],
            [["launchctl", "unload", "-w", str(path)]],
            ["launchctl", "list", AGENT_LABEL],
        )
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    path = config / "systemd" / "user" / UNIT_NAME
    text = f"""[Unit]
Description=LOKI local voice assistant
Documentation=file://{workdir}/README.md
PartOf=graphical-session.target
After=graphical-session.target pulseaudio.service pipewire-pulse.service

[Service]
Type=simple
WorkingDirectory={workdir}
ExecStart={" ".join(argv)}
Restart=on-failure
RestartSec=3
# DISPLAY and XAUTHORITY come from the session: `systemctl --user import-environment DISPLAY XAUTHORITY`.

[Install]
WantedBy=graphical-session.target
"""
    return ServiceFile(
        path,
        text,
        [
            ["systemctl", "--user", "import-environment", "DISPLAY", "XAUTHORITY"],
            ["systemctl", "--user", "daemon-reload"],
            ["systemctl", "--user", "enable", "--now", UNIT_NAME],
        ],
        [["systemctl", "--user", "disable", "--now", UNIT_NAME]],
        ["systemctl", "--user", "status", "--no-pager", UNIT_NAME],
    )


def run_all(commands: list[list[str]]) -> tuple[bool, str]:
    """Run each command in turn; (False, why) at the first that is missing or fails."""
    for argv in commands:
        if shutil.which(argv[0]) is None:
            return False, f"{argv[0]} is not available here"
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            return False, f"`{' '.join(argv)}` failed: {(result.stderr or result.stdout).strip()}"
    return True, ""
