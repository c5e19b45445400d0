"""`loki service` and `loki run` as a service: the files systemd and launchd read, the notify protocol on a real
datagram socket, the log lines under journald and without a terminal, and `service status`'s exit codes."""

from __future__ import annotations

import configparser
import json
import os
import plistlib
import re
import shlex
import shutil
import socket
import stat
import struct
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from loki.events import MicrophoneChanged, State, StateChanged
from loki.service.notify import Notifier, StatusReporter
from loki.service.units import WATCHDOG_S, autostart_entry, launchd_agent, systemctl_state, systemd_unit

DEADLINE_S = 60.0
"""How long a step may take before the test gives up (a deadline, not a measurement)."""


def loki(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loki", *args],
        env={**os.environ, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def need(program: str) -> None:
    if shutil.which(program) is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install {program} (scripts/setup.sh test does)")
        pytest.skip(f"needs {program}: run the README's test command to install it")


def run_env(settings_env: dict[str, str], **extra: str) -> dict[str, str]:
    """The environment of a `loki run --text` that writes only under the test's folder and talks to no speaker."""
    env = {**os.environ, **settings_env, "LOKI_REPLY_MODE": "text", "LOKI_EARCONS": "0", "LOKI_TRACE": "0"}
    for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
        env.pop(name, None)
    return {**env, **extra}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


# The files ---------------------------------------------------------------------------------
def test_install_dry_run_status_uninstall(tmp_path: Path, settings_env: dict[str, str]) -> None:
    env = {**settings_env, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    unit = tmp_path / "config" / "systemd" / "user" / "loki.service"
    autostart = tmp_path / "config" / "autostart" / "loki.desktop"

    dry = loki("service", "install", "--dry-run", "--json", env=env, cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert "ExecStart=" in json.loads(dry.stdout)["would_write"] and not unit.exists()
    assert str(autostart) in json.loads(dry.stdout)["would_write_files"] and not autostart.exists()

    done = loki("service", "install", "--json", env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    text = unit.read_text(encoding="utf-8")
    assert "ExecStart=" in text and " run" in text and f"WorkingDirectory={tmp_path}" in text
    assert json.loads(done.stdout)["installed"] is True
    assert json.loads(done.stdout)["wrote"] == [str(unit), str(autostart)]
    assert autostart.read_text(encoding="utf-8") == autostart_entry()

    status = json.loads(loki("service", "status", "--json", env=env, cwd=tmp_path).stdout)
    assert status["installed"] is True

    removed = loki("service", "uninstall", "--json", env=env, cwd=tmp_path)
    assert removed.returncode == 0 and not unit.exists() and not autostart.exists()
    assert json.loads(removed.stdout)["removed_files"] == [str(unit), str(autostart)]
    again = loki("service", "uninstall", env=env, cwd=tmp_path)
    assert again.returncode == 1 and "not installed" in again.stderr


def test_the_unit_is_type_notify_with_a_watchdog_and_a_quoted_exec_start(tmp_path: Path) -> None:
    exe = tmp_path / "my venv, 100% $HOME" / "bin" / "loki"  # a space, a specifier and a variable: all literal
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n", encoding="utf-8")
    exe.chmod(0o755)
    text = systemd_unit([str(exe), "run"], tmp_path / "work dir")
    lines = text.splitlines()
    for line in ("Type=notify", "NotifyAccess=main", f"WatchdogSec={WATCHDOG_S}", "Restart=on-failure"):
        assert line in lines
    assert "WantedBy=default.target" in lines, "it starts in sessions without graphical-session.target too"
    (exec_start,) = [line for line in lines if line.startswith("ExecStart=")]
    assert exec_start == 'ExecStart="' + str(exe).replace("%", "%%") + '" run'
    assert f"WorkingDirectory={tmp_path / 'work dir'}" in lines

    need("systemd-analyze")
    units = tmp_path / "units"
    units.mkdir()
    (units / "loki.service").write_text(text, encoding="utf-8")
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    env = {**os.environ, "HOME": str(tmp_path), "XDG_RUNTIME_DIR": str(runtime), "XDG_CONFIG_HOME": str(tmp_path)}

    def verify(unit_text: str) -> subprocess.CompletedProcess[str]:
        (units / "loki.service").write_text(unit_text, encoding="utf-8")
        return subprocess.run(
            ["systemd-analyze", "--user", "--man=no", "verify", str(units / "loki.service")],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    checked = verify(text)
    assert checked.returncode == 0, checked.stderr
    assert [line for line in checked.stderr.splitlines() if "loki" in line] == [], checked.stderr
    # The check is real: the unquoted ExecStart of old splits the path at its space, and systemd says so.
    unquoted = verify(text.replace(exec_start, f"ExecStart={str(exe).replace('%', '%%')} run"))
    assert unquoted.returncode != 0 and "not executable" in unquoted.stderr


def test_the_autostart_entry_gives_systemd_the_sessions_display_and_restarts_loki(tmp_path: Path) -> None:
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    entry.read_string(autostart_entry())
    desktop = entry["Desktop Entry"]
    assert desktop["Type"] == "Application" and desktop["NoDisplay"] == "true"
    # Run its command as a session would, with a systemctl that records what it was asked.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls"
    fake = bin_dir / "systemctl"
    fake.write_text(f'#!/bin/sh\necho "$* DISPLAY=$DISPLAY" >> "{calls}"\n', encoding="utf-8")
    fake.chmod(0o755)
    argv = shlex.split(desktop["Exec"])
    assert argv[:2] == ["sh", "-c"]
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "DISPLAY": ":7"}
    subprocess.run(argv, env=env, check=True, timeout=30)
    variables = "DISPLAY XAUTHORITY WAYLAND_DISPLAY XDG_RUNTIME_DIR"
    assert calls.read_text(encoding="utf-8").splitlines() == [
        f"--user unset-environment {variables} DISPLAY=:7",
        f"--user import-environment {variables} DISPLAY=:7",
        "--user is-enabled -q loki.service DISPLAY=:7",
        "--user restart loki.service DISPLAY=:7",
    ]


def test_the_launchd_agent_keeps_loki_alive_and_logs_to_a_file(tmp_path: Path) -> None:
    argv = [str(tmp_path / "my venv" / "bin" / "loki"), "run"]
    log_path = tmp_path / "Library" / "Logs" / "loki.log"
    agent = plistlib.loads(launchd_agent(argv, tmp_path, log_path).encode("utf-8"))
    assert agent["ProgramArguments"] == argv
    assert agent["KeepAlive"] is True and agent["RunAtLoad"] is True
    assert agent["StandardOutPath"] == agent["StandardErrorPath"] == str(log_path)


# `loki service status` ----------------------------------------------------------------------
def test_status_exits_4_when_no_unit_is_installed(tmp_path: Path, settings_env: dict[str, str]) -> None:
    env = {**settings_env, "HOME": str(tmp_path), "XDG_CONFIG_HOME": str(tmp_path / "config")}
    out = loki("service", "status", "--json", env=env, cwd=tmp_path)
    assert out.returncode == 4, out.stderr
    report = json.loads(out.stdout)
    assert report["state"] == "not installed" and report["installed"] is False and report["exit"] == 4
    human = loki("service", "status", env=env, cwd=tmp_path)
    assert human.returncode == 4 and "not installed" in human.stdout and "loki service install" in human.stdout


def test_status_follows_systemctls_exit_codes() -> None:
    """systemctl(1): 0 active, 3 not active, 4 no such unit; anything else means it could not tell.

    This container has no user service manager (`systemctl --user` cannot reach a bus), so the mapping is checked
    on those documented codes; where one runs, also on what systemctl really says about a unit that does not exist.
    """
    assert systemctl_state(0).state == "active"
    assert systemctl_state(3).state == "inactive" and "systemctl --user start loki" in systemctl_state(3).meaning
    assert systemctl_state(4).state == "not installed"
    unknown = systemctl_state(1, "Failed to connect to bus")
    assert unknown.state == "unknown" and unknown.code == 1 and unknown.detail == "Failed to connect to bus"
    if shutil.which("systemctl") is not None:
        real = subprocess.run(
            ["systemctl", "--user", "status", "--no-pager", f"loki-test-{uuid.uuid4().hex}.service"],
            capture_output=True,
            timeout=30,
        )
        if real.returncode in (0, 3, 4):  # a user manager answered
            assert systemctl_state(real.returncode).state == "not installed"


# The notify protocol ------------------------------------------------------------------------
class NotifySocket:
    """The socket systemd listens on for a Type=notify service: a real AF_UNIX datagram socket."""

    def __init__(self, tmp_path: Path, abstract: bool) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            self.address = f"@loki-test-{uuid.uuid4().hex}"
            self.sock.bind("\0" + self.address[1:])
        else:
            self.address = str(tmp_path / "notify")
            self.sock.bind(self.address)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)  # who sent it (NotifyAccess=main)
        self.messages: list[tuple[int, list[str]]] = []

    def until(self, done, proc: subprocess.Popen[bytes], stderr: Path) -> None:
        """Collect messages until `done(messages)` holds."""
        deadline = time.monotonic() + DEADLINE_S
        while not done([lines for _, lines in self.messages]):
            if time.monotonic() > deadline:
                pytest.fail(f"no such messages within {DEADLINE_S:g} s: {self.messages}")
            ended = proc.poll() is not None
            self.sock.settimeout(0.05 if ended else 0.5)
            try:
                data, ancillary, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(struct.calcsize("3i")))
            except TimeoutError:
                if ended:  # and nothing more is coming
                    pytest.fail(f"loki ended ({proc.returncode}): {self.messages}\n{stderr.read_text('utf-8')}")
                continue
            pid = next((struct.unpack("3i", d)[0] for _, kind, d in ancillary if kind == socket.SCM_CREDENTIALS), -1)
            self.messages.append((pid, data.decode("utf-8").split("\n")))

    def close(self) -> None:
        self.sock.close()


def sent(messages: list[list[str]], line: str) -> int:
    return sum(line in lines for lines in messages)


@pytest.mark.skipif(sys.platform != "linux", reason="systemd is Linux")
@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_run_tells_systemd_ready_status_watchdog_and_stopping(
    tmp_path: Path, settings_env: dict[str, str], abstract: bool
) -> None:
    notify = NotifySocket(tmp_path, abstract)
    stderr = tmp_path / "stderr.txt"
    env = run_env(settings_env, NOTIFY_SOCKET=notify.address, WATCHDOG_USEC="1000000")
    with stderr.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "loki", "run", "--text", "--dry-run"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=err,
            env=env,
            cwd=tmp_path,
        )
    try:
        assert proc.stdin is not None
        notify.until(lambda m: sent(m, "READY=1") and sent(m, "WATCHDOG=1") >= 2, proc, stderr)
        proc.stdin.write(b"open the browser\n")
        proc.stdin.flush()
        notify.until(lambda m: sent(m, "STATUS=thinking; commands from stdin"), proc, stderr)
        proc.stdin.close()  # the input ends: LOKI stops
        notify.until(lambda m: sent(m, "STOPPING=1"), proc, stderr)
        assert proc.wait(DEADLINE_S) == 0, stderr.read_text("utf-8")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        notify.close()
    messages = [lines for _, lines in notify.messages]
    assert messages[0] == ["STATUS=loading the models; commands from stdin"]
    ready = next(i for i, lines in enumerate(messages) if "READY=1" in lines)
    assert messages[ready] == ["READY=1", "STATUS=idle; commands from stdin"]
    first_ping = next(i for i, lines in enumerate(messages) if "WATCHDOG=1" in lines)
    assert ready < first_ping, "the watchdog runs in the supervisor, which starts after the models are loaded"
    assert {pid for pid, _ in notify.messages} == {proc.pid}, "only the main process speaks (NotifyAccess=main)"


def test_the_notifier_does_nothing_without_systemd_and_takes_its_variables_out_of_the_environment() -> None:
    assert Notifier.from_environment({}).send("READY=1") is False
    env = {"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid()), "HOME": "/h"}
    notifier = Notifier.from_environment(env)
    assert notifier.watchdog_interval_s == 15.0 and env == {"HOME": "/h"}, "apps LOKI launches do not inherit them"
    other = Notifier.from_environment({"NOTIFY_SOCKET": "@x", "WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"})
    assert other.enabled and other.watchdog_interval_s is None, "a watchdog meant for another process"


def test_the_status_says_what_the_microphone_does_once_and_readiness_does_not_wait_for_it(tmp_path: Path) -> None:
    notify = NotifySocket(tmp_path, abstract=False)
    notifier = Notifier(notify.address)
    status = StatusReporter(notifier)
    try:
        status.ready("idle")
        lost = "Cannot open the microphone 'default': Error querying device -1"
        for event in (
            MicrophoneChanged("lost", lost),
            MicrophoneChanged("retry", "default"),
            MicrophoneChanged("lost", lost),  # the same again: nothing new to say
            MicrophoneChanged("open", "USB mic"),
            StateChanged(State.IDLE, State.LISTENING),
        ):
            status(event)
        notify.sock.settimeout(5)
        received = [notify.sock.recv(4096).decode("utf-8") for _ in range(4)]
    finally:
        notifier.close()
        notify.close()
    assert received == [
        "READY=1\nSTATUS=idle; opening the microphone",
        f"STATUS=idle; no microphone ({lost}); run `loki doctor`, set LOKI_MIC_DEVICE",
        "STATUS=idle; listening on 'USB mic'",
        "STATUS=listening; listening on 'USB mic'",
    ]


# Logs ---------------------------------------------------------------------------------------
TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def run_with_stderr_pipe(tmp_path: Path, env: dict[str, str]) -> str:
    """`loki run --text` with a non-UTF-8 line (an error) and a command (state changes, at INFO); its stderr."""
    read_fd, write_fd = os.pipe()
    try:
        info = os.fstat(write_fd)
        env = {**env, "JOURNAL_STREAM": env["JOURNAL_STREAM"].format(dev=info.st_dev, ino=info.st_ino)}
        proc = subprocess.Popen(
            [sys.executable, "-m", "loki", "run", "--text", "--dry-run"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=write_fd,
            env=env,
            cwd=tmp_path,
        )
    finally:
        os.close(write_fd)
    assert proc.stdin is not None
    proc.stdin.write(b"\xff\xfe\nopen the browser\n")
    proc.stdin.close()
    with os.fdopen(read_fd, encoding="utf-8") as stream:
        text = stream.read()
    assert proc.wait(DEADLINE_S) == 0, text
    return text


def test_under_systemd_log_lines_carry_journald_priorities_and_no_timestamps(
    tmp_path: Path, settings_env: dict[str, str]
) -> None:
    text = run_with_stderr_pipe(tmp_path, run_env(settings_env, JOURNAL_STREAM="{dev}:{ino}"))
    lines = text.splitlines()
    assert lines and all(re.match(r"<[2-7]>\S+: ", line) for line in lines), text
    assert not any(TIMESTAMP.search(line[3:]) for line in lines), "the journal keeps its own timestamps"
    assert "<6>loki.daemon: state idle -> thinking" in lines
    assert any(line.startswith("<3>loki: input line 1 is not UTF-8") for line in lines)
    assert not (Path(settings_env["LOKI_STATE_DIR"]) / "loki.log").exists(), "the journal keeps the log"


def test_without_a_terminal_loki_run_also_keeps_a_private_rotating_log_file(
    tmp_path: Path, settings_env: dict[str, str]
) -> None:
    # JOURNAL_STREAM names another stream (inherited from a session), so this stderr is not the journal.
    text = run_with_stderr_pipe(tmp_path, run_env(settings_env, JOURNAL_STREAM="1:1"))
    lines = text.splitlines()
    assert any(TIMESTAMP.match(line) and "INFO loki.daemon: state idle -> thinking" in line for line in lines), text
    log_file = Path(settings_env["LOKI_STATE_DIR"]) / "loki.log"
    assert mode(log_file) == 0o600 and mode(log_file.parent) == 0o700
    assert log_file.read_text(encoding="utf-8") == text, "the file holds the same lines as stderr"
