"""The files that run LOKI in the background: a systemd user unit and an XDG autostart entry on Linux, a launchd
agent on macOS; and what `systemctl status` says about the unit.

The unit is `Type=notify`: `loki run` tells systemd when its models are loaded (`READY=1`), what it is doing
(`STATUS=`), that its supervisor still runs (`WATCHDOG=1`), and that it is stopping (loki/service/notify.py).
It is wanted by `default.target`, so it starts with the user's service manager, in any session.

A service does not inherit the login session's environment: `DISPLAY`, `XAUTHORITY`, `WAYLAND_DISPLAY` reach it
through the user manager's environment. Desktops with `graphical-session.target` (GNOME, KDE) import them at each
login; for the others (openbox, i3, ...) the autostart entry does it at each login and restarts LOKI, so LOKI
always has the current session's display.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

UNIT_NAME = "loki.service"
AGENT_LABEL = "dev.loki.assistant"
SESSION_VARIABLES = ("DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR")
"""The login session's variables LOKI needs to reach the desktop and the sound server."""
WATCHDOG_S = 30
"""`WatchdogSec=`: systemd restarts LOKI when its supervisor has not pinged for this long."""
START_TIMEOUT_S = 300
"""`TimeoutStartSec=`: loading the models on a slow machine may take this long before `READY=1`."""

# What `systemctl status` exits with (systemctl(1), "Exit status"; LSB status codes).
SYSTEMCTL_ACTIVE, SYSTEMCTL_INACTIVE, SYSTEMCTL_NO_SUCH_UNIT = 0, 3, 4


@dataclass(frozen=True)
class ServiceFile:
    """Where the service definition goes, what it says, and the commands that (de)activate it.

    `extra` holds more files written with it (the XDG autostart entry): path -> text.
    """

    path: Path
    text: str
    enable: list[list[str]]
    disable: list[list[str]]
    status: list[str]
    extra: dict[Path, str]

    @property
    def paths(self) -> list[Path]:
        """Every file this service writes."""
        return [self.path, *self.extra]


@dataclass(frozen=True)
class ServiceState:
    """What the service manager says about LOKI's service: an exit status as `systemctl status` gives it."""

    code: int
    state: str  # "active" | "inactive" | "not installed" | "unknown"
    meaning: str
    detail: str = ""


def loki_command() -> list[str]:
    """The argv that runs `loki run` with this Python (the venv's `loki` script when there is one)."""
    exe = Path(sys.executable)
    script = exe.with_name("loki")
    return [str(script), "run"] if script.exists() else [str(exe), "-m", "loki", "run"]


def service_file(workdir: Path | None = None) -> ServiceFile:
    """The unit and autostart entry (Linux) or agent (macOS) that run `loki run` in the user's session."""
    workdir = workdir or Path.cwd()
    argv = loki_command()
    if sys.platform == "darwin":
        path = Path.home() / "Library" / "LaunchAgents" / f"{AGENT_LABEL}.plist"
        return ServiceFile(
            path,
            launchd_agent(argv, workdir, Path.home() / "Library" / "Logs" / "loki.log"),
            [["launchctl", "load", "-w", str(path)]],
            [["launchctl", "unload", "-w", str(path)]],
            ["launchctl", "list", AGENT_LABEL],
            {},
        )
    config = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    session = [name for name in SESSION_VARIABLES if os.environ.get(name)]
    return ServiceFile(
        config / "systemd" / "user" / UNIT_NAME,
        systemd_unit(argv, workdir),
        [
            *([["systemctl", "--user", "import-environment", *session]] if session else []),
            ["systemctl", "--user", "daemon-reload"],
            ["systemctl", "--user", "enable", "--now", UNIT_NAME],
        ],
        [["systemctl", "--user", "disable", "--now", UNIT_NAME]],
        ["systemctl", "--user", "status", "--no-pager", "--lines=0", UNIT_NAME],
        {config / "autostart" / "loki.desktop": autostart_entry()},
    )


def systemd_quote(word: str, *, program: bool = False) -> str:
    """One word of a systemd command line: `%` specifiers kept literal, and `$` in an argument; double-quoted when
    it has spaces or quotes. The `program`'s path is always quoted (a venv under "My Projects" works) and not
    expanded by systemd, so its `$` stays as it is."""
    escaped = word.replace("%", "%%") if program else word.replace("%", "%%").replace("$", "$$")
    if not program and word and not any(c.isspace() or c in "\"'\\;" for c in word):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def systemd_unit(argv: list[str], workdir: Path) -> str:
    """The user unit: `Type=notify` with a watchdog, restarted on failure, started with the user's manager."""
    readme = Path(__file__).resolve().parents[2] / "README.md"
    docs = f"Documentation={readme.as_uri()}\n" if readme.is_file() else ""
    return f"""[Unit]
Description=LOKI local voice assistant
{docs}After=pulseaudio.service pipewire-pulse.service graphical-session.target
# Logging out of a desktop that has graphical-session.target stops LOKI with it.
PartOf=graphical-session.target

[Service]
Type=notify
NotifyAccess=main
WorkingDirectory={str(workdir).replace("%", "%%")}
ExecStart={" ".join(systemd_quote(word, program=i == 0) for i, word in enumerate(argv))}
TimeoutStartSec={START_TIMEOUT_S}
WatchdogSec={WATCHDOG_S}
Restart=on-failure
RestartSec=3
# {", ".join(SESSION_VARIABLES)} come from the user manager's environment, set at each login:
# by the desktop (GNOME, KDE), or by ~/.config/autostart/loki.desktop (`systemctl --user import-environment`).

[Install]
WantedBy=default.target
"""


def autostart_entry() -> str:
    """The XDG autostart entry: at each graphical login, give the user manager this session's variables (dropping the
    last session's) and restart LOKI with them, unless it was disabled (`systemctl --user disable loki`)."""
    variables = " ".join(SESSION_VARIABLES)
    script = (
        f"systemctl --user unset-environment {variables}; systemctl --user import-environment {variables}; "
        f"systemctl --user is-enabled -q {UNIT_NAME} && systemctl --user restart {UNIT_NAME}"
    )
    return f"""[Desktop Entry]
Type=Application
Name=LOKI
Comment=Start LOKI, the voice assistant, with this session's display
Exec=sh -c "{script}"
NoDisplay=true
X-GNOME-Autostart-enabled=true
"""


def launchd_agent(argv: list[str], workdir: Path, log_path: Path) -> str:
    """The launchd agent: started at login, kept alive, its output in `log_path`."""
    agent = {
        "Label": AGENT_LABEL,
        "ProgramArguments": argv,
        "WorkingDirectory": str(workdir),
        "RunAtLoad": True,
        "KeepAlive": True,
        "StandardOutPath": str(log_path),
        "StandardErrorPath": str(log_path),
    }
    return plistlib.dumps(agent, sort_keys=False).decode("utf-8")


def run_all(commands: list[list[str]]) -> tuple[bool, str]:
    """Run each command in turn; (False, why) at the first that is missing or fails."""
    for argv in commands:
        if shutil.which(argv[0]) is None:
            return False, f"{argv[0]} is not available here"
        result = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        if result.returncode != 0:
            return False, f"`{' '.join(argv)}` failed: {(result.stderr or result.stdout).strip()}"
    return True, ""


def systemctl_state(code: int, output: str = "") -> ServiceState:
    """What an exit status of `systemctl status` means (0 active, 3 inactive, 4 no such unit; others: it could not tell)."""
    if code == SYSTEMCTL_ACTIVE:
        return ServiceState(code, "active", "LOKI's service is running", output)
    if code == SYSTEMCTL_INACTIVE:
        return ServiceState(
            code, "inactive", "LOKI's service is installed but not running: `systemctl --user start loki`", output
        )
    if code == SYSTEMCTL_NO_SUCH_UNIT:
        return ServiceState(code, "not installed", "the service manager has no LOKI service", output)
    return ServiceState(code, "unknown", f"systemctl could not tell (exit status {code})", output)


def service_state(svc: ServiceFile) -> ServiceState:
    """Ask the service manager about LOKI's service; exit statuses as `systemctl status` gives them."""
    if not svc.path.exists():
        return ServiceState(
            SYSTEMCTL_NO_SUCH_UNIT,
            "not installed",
            "LOKI's service is not installed: `loki service install` installs it",
        )
    if shutil.which(svc.status[0]) is None:
        return ServiceState(1, "unknown", f"{svc.status[0]} is not available here")
    result = subprocess.run(svc.status, capture_output=True, text=True, timeout=30)
    output = (result.stdout + result.stderr).strip()
    if svc.status[0] == "launchctl":  # `launchctl list LABEL`: 0 when loaded, non-zero when not
        code = SYSTEMCTL_ACTIVE if result.returncode == 0 else SYSTEMCTL_INACTIVE
        return systemctl_state(code, output)
    return systemctl_state(result.returncode, output)
