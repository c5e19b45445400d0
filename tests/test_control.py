"""The control socket: a real `loki run --text` daemon driven through its socket with the real command line."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import pytest

from loki.audio.fake import ArrayMicrophone
from loki.config import settings_from
from loki.errors import LokiError
from loki.events import (
    CommandHeard,
    Event,
    MuteChanged,
    SpeechEnded,
    SpeechStarted,
    State,
    StateChanged,
    Transcribed,
    WakeDetected,
)
from loki.listen import clips
from loki.service.control import (
    NOT_RUNNING,
    ControlError,
    NotRunning,
    event_json,
    own_folder,
    peer_allowed,
    peer_credentials,
    request,
    socket_path,
)
from loki.stt.fake import ScriptedTranscriber
from loki.wiring import build_daemon

REPO = Path(__file__).resolve().parent.parent
NOBODY_UID = 65534
STARTUP_S = 90.0


class Running:
    """A `loki run --text --dry-run` daemon with its stdin kept open."""

    def __init__(self, proc: subprocess.Popen[str], env: dict[str, str], runtime: Path, err: Path) -> None:
        self.proc = proc
        self.env = env
        self.runtime = runtime
        self.err = err

    @property
    def sock(self) -> Path:
        return self.runtime / "loki" / "control.sock"

    def type_line(self, line: str) -> None:
        """A line on the daemon's stdin, as if typed into `loki run --text`."""
        assert self.proc.stdin is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()

    def loki(self, *args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
        return loki(*args, env=self.env, timeout_s=timeout_s)

    def status(self) -> dict[str, Any]:
        out = self.loki("status", "--json")
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)


def loki(*args: str, env: dict[str, str], timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=timeout_s,
    )


def _env(runtime: Path, state: Path) -> dict[str, str]:
    return {
        **os.environ,
        "XDG_RUNTIME_DIR": str(runtime),
        "LOKI_LLM_BACKEND": "none",
        "LOKI_REPLY_MODE": "text",
        "LOKI_TRACE": "0",
        "LOKI_STATE_DIR": str(state / "state"),
        "LOKI_USER_PROFILES_DIR": str(state / "profiles"),
    }


def _start(env: dict[str, str], err: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", "run", "--text", "--dry-run", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=err.open("w"),
        text=True,
        env=env,
        cwd=REPO,
    )


def _stop(proc: subprocess.Popen[str]) -> None:
    if proc.stdin is not None:
        proc.stdin.close()  # the end of its input ends `loki run --text`
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.terminate()
        proc.wait(10)


def _until(check: Any, what: str, timeout_s: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if got := check():
            return got
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {timeout_s:g} s")


@pytest.fixture(scope="module")
def daemon() -> Iterator[Running]:
    # Not under pytest's 0700 tmp folders: the test of another user's connection needs a path `nobody` can walk.
    top = Path(tempfile.mkdtemp(prefix="loki-control-"))
    runtime = top / "run"
    runtime.mkdir(mode=0o700)
    env = _env(runtime, top)
    err = top / "daemon.log"
    proc = _start(env, err)
    running = Running(proc, env, runtime, err)
    try:
        _until(lambda: running.sock.exists() or proc.poll() is not None, "the control socket", STARTUP_S)
        assert proc.poll() is None, err.read_text()
        yield running
    finally:
        _stop(proc)
        shutil.rmtree(top, ignore_errors=True)


# Driving the daemon -----------------------------------------------------------------------------
def test_status_reports_the_state_and_the_uptime(daemon: Running) -> None:
    status = daemon.status()
    assert status["state"] in {s.value for s in State}
    assert status["uptime_s"] >= 0
    assert (status["sleeping"], status["muted"], status["input"]) == (False, False, "text")
    assert status["models"]["wake"] == "whisper"
    human = daemon.loki("status")
    assert human.returncode == 0, human.stderr
    assert human.stdout.startswith("state:")
    assert "up:" in human.stdout


def test_sleep_and_wake_are_the_spoken_sleep_state(daemon: Running) -> None:
    out = daemon.loki("sleep")
    assert out.returncode == 0, out.stderr
    assert "asleep" in out.stdout
    assert daemon.status()["sleeping"] is True
    assert daemon.loki("wake").returncode == 0
    assert daemon.status()["sleeping"] is False

    daemon.type_line("go to sleep")  # the spoken "go to sleep", typed
    _until(lambda: daemon.status()["sleeping"], "the spoken 'go to sleep'")
    assert daemon.loki("wake").returncode == 0
    assert daemon.status()["sleeping"] is False


def test_mute_and_unmute_show_in_the_status(daemon: Running) -> None:
    muted = daemon.loki("mute", "--json")
    assert muted.returncode == 0, muted.stderr
    assert json.loads(muted.stdout)["muted"] is True
    assert daemon.status()["muted"] is True
    assert daemon.loki("unmute").returncode == 0
    assert daemon.status()["muted"] is False


def test_events_follow_sees_the_turn_of_say_daemon(daemon: Running) -> None:
    follower = subprocess.Popen(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", "events", "--follow", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=daemon.env,
        cwd=REPO,
    )
    lines, notes = _lines(follower.stdout), _lines(follower.stderr)
    try:
        _until(lambda: "following" in notes.get(timeout=30), "the event stream")
        said = daemon.loki("say", "--daemon", "--json", "open the browser")
        assert said.returncode == 0, said.stderr
        turn = json.loads(said.stdout)
        assert (turn["tier"], turn["actions"]) == (0, [{"type": "launch", "app": "browser"}])
        assert daemon.loki("mute").returncode == 0
        assert daemon.loki("unmute").returncode == 0

        events: list[dict[str, Any]] = []
        while not [e for e in events if e["type"] == "MuteChanged" and e["muted"] is False]:
            events.append(json.loads(lines.get(timeout=30)))
    finally:
        follower.send_signal(signal.SIGINT)
        follower.wait(10)
    kinds = [e["type"] for e in events]
    heard = events[kinds.index("CommandHeard")]
    assert (heard["text"], heard["source"]) == ("open the browser", "control")
    planned = events[kinds.index("ActionsPlanned")]
    assert (planned["tier"], planned["actions"]) == (0, [{"type": "launch", "app": "browser"}])
    assert events[kinds.index("ActionsDone")]["ok"] is True
    assert [e["muted"] for e in events if e["type"] == "MuteChanged"] == [True, False]
    assert kinds.index("CommandHeard") < kinds.index("ActionsPlanned") < kinds.index("ActionsDone")
    for event in events:
        assert datetime.fromisoformat(event["time"]).tzinfo is not None
    last = daemon.status()["last_turn"]
    assert last["text"] == "open the browser"
    assert isinstance(last["timings_ms"], dict)


def test_say_daemon_prints_the_turn_like_say(daemon: Running) -> None:
    out = daemon.loki("say", "--daemon", "new", "tab")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("[tier 0] 'new tab'")
    assert '"keys": ["ctrl", "t"]' in out.stdout


def test_say_daemon_while_asleep_wakes_loki_as_push_to_talk_does(daemon: Running) -> None:
    assert daemon.loki("sleep").returncode == 0
    out = daemon.loki("say", "--daemon", "--json", "open the browser")
    assert json.loads(out.stdout)["actions"] == [{"type": "launch", "app": "browser"}]
    assert daemon.status()["sleeping"] is False


def test_stop_is_the_stop_action(daemon: Running) -> None:
    out = daemon.loki("stop", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["state"] in {s.value for s in State}


def test_socket_is_0600_in_a_0700_folder_of_its_user(daemon: Running) -> None:
    sock, folder = daemon.sock.stat(), daemon.sock.parent.stat()
    assert stat.S_ISSOCK(sock.st_mode)
    assert stat.S_IMODE(sock.st_mode) == 0o600
    assert stat.S_IMODE(folder.st_mode) == 0o700
    assert sock.st_uid == folder.st_uid == os.getuid()


_CLIENT = """
import json, socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(sys.argv[1])
print(s.makefile("rb").readline().decode())  # a refused peer is told at once, before it asks anything
"""


def test_a_connection_from_another_user_is_refused(daemon: Running) -> None:
    """Even with the folder and socket opened up by mistake, a process of another user is refused."""
    if os.getuid() != 0:
        pytest.skip("needs root to run a client as another user (the socketpair test checks the credentials)")
    walk = [daemon.runtime.parent, daemon.runtime, daemon.sock.parent]
    modes = [stat.S_IMODE(p.stat().st_mode) for p in walk]
    try:
        for path in walk:
            os.chmod(path, 0o711)
        os.chmod(daemon.sock, 0o666)
        out = subprocess.run(
            [
                "/usr/bin/python3" if Path("/usr/bin/python3").exists() else sys.executable,
                "-c",
                _CLIENT,
                str(daemon.sock),
            ],
            capture_output=True,
            text=True,
            timeout=30,
            user=NOBODY_UID,
            group=NOBODY_UID,
            extra_groups=[],
            cwd="/",
        )
    finally:
        for path, mode in zip(walk, modes, strict=True):
            os.chmod(path, mode)
        os.chmod(daemon.sock, 0o600)
    assert out.returncode == 0, out.stderr
    reply = json.loads(out.stdout)
    assert (reply["ok"], reply["error"]) == (False, "forbidden")
    assert "state" not in reply
    assert daemon.status()["state"]  # and our own user is still served


def test_a_second_daemon_leaves_the_first_ones_socket_alone(daemon: Running, tmp_path: Path) -> None:
    err = tmp_path / "second.log"
    second = _start({**daemon.env, "LOKI_STATE_DIR": str(tmp_path / "s")}, err)
    try:
        _until(
            lambda: "another LOKI already answers" in err.read_text() or second.poll() is not None,
            "the refusal",
            STARTUP_S,
        )
    finally:
        _stop(second)
    assert "another LOKI already answers" in err.read_text()
    assert daemon.sock.exists()
    assert daemon.status()["state"]


# Without a daemon ---------------------------------------------------------------------------------
def test_without_a_daemon_the_commands_say_so_and_exit_3(tmp_path: Path) -> None:
    env = _env(tmp_path / "run", tmp_path)
    (tmp_path / "run").mkdir()
    for args in (["status"], ["sleep"], ["say", "--daemon", "open the browser"], ["events", "--follow"]):
        out = loki(*args, env=env)
        assert out.returncode == 3, (args, out.stderr)
        assert NOT_RUNNING in out.stderr
    out = loki("status", "--json", env=env)
    assert out.returncode == 3
    assert json.loads(out.stdout) == {"error": "not_running", "message": NOT_RUNNING}


# The pieces ---------------------------------------------------------------------------------------
def test_peer_credentials_of_a_real_socketpair() -> None:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with a, b:
        assert peer_credentials(a) == (os.getpid(), os.getuid(), os.getgid())
        assert peer_allowed(a)
        assert not peer_allowed(a, uid=os.getuid() + 1)


def test_without_xdg_runtime_dir_the_socket_is_in_a_private_tmp_folder_named_for_the_user() -> None:
    assert socket_path({}) == Path(f"/tmp/loki-{os.getuid()}/control.sock")
    assert socket_path({"XDG_RUNTIME_DIR": "/run/user/1000"}) == Path("/run/user/1000/loki/control.sock")


def test_a_folder_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    mine = own_folder(tmp_path / "mine" / "loki")
    assert stat.S_IMODE(mine.stat().st_mode) == 0o700
    if os.getuid() != 0:
        pytest.skip("needs root to make a folder that belongs to another user")
    theirs = tmp_path / "theirs"
    theirs.mkdir(mode=0o700)
    os.chown(theirs, NOBODY_UID, NOBODY_UID)
    with pytest.raises(ControlError, match="not a folder of this user"):
        own_folder(theirs)
    link = tmp_path / "link"
    link.symlink_to(mine)
    with pytest.raises(LokiError):
        own_folder(link)


def test_events_carry_the_wall_clock_and_audio_only_as_its_length() -> None:
    ended = event_json(SpeechEnded(b"\0" * 32000, 16000, "ptt", at=100.0), now_s=1_000_000.0, monotonic_s=101.0)
    assert ended["type"] == "SpeechEnded"
    assert ended["audio_s"] == 1.0
    assert "audio" not in ended
    assert datetime.fromisoformat(ended["time"]).timestamp() == pytest.approx(999_999.0)
    changed = event_json(StateChanged(State.IDLE, State.THINKING))
    assert (changed["old"], changed["new"]) == ("idle", "thinking")


@pytest.mark.parametrize("muted", [False, True])
async def test_a_muted_microphone_is_not_heard(tmp_path: Path, muted: bool) -> None:
    """The same speech on the fake microphone: heard as a command, or not heard at all while muted."""
    settings = settings_from(
        {
            "LOKI_STATE_DIR": str(tmp_path / "state"),
            "LOKI_USER_PROFILES_DIR": str(tmp_path / "p"),
            "LOKI_LLM_BACKEND": "none",
            "LOKI_DRY_RUN": "1",
            "LOKI_TRACE": "0",
        }
    )
    burst = clips.buzz()
    speech = clips.join(clips.silence(0.5), burst, clips.silence(1.0))
    events: list[Event] = []
    stt = ScriptedTranscriber(["hey loki open the browser"])
    daemon = build_daemon(settings, mic=ArrayMicrophone(speech), transcriber=stt, on_event=events.append)
    if muted:
        daemon.mute()
    await daemon.run()
    heard = [
        e for e in events if isinstance(e, SpeechStarted | SpeechEnded | Transcribed | WakeDetected | CommandHeard)
    ]
    if muted:
        assert heard == []
        assert daemon.results == []
        assert [e.muted for e in events if isinstance(e, MuteChanged)] == [True]
        assert daemon.status()["muted"] is True
    else:
        assert [r.actions for r in daemon.results] == [[{"type": "launch", "app": "browser"}]]


async def test_a_stale_socket_left_by_a_crash_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A socket file nobody listens on (LOKI was killed) is taken over; on the way out it is removed."""
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path))
    path = socket_path()
    own_folder(path.parent)
    with socket.socket(socket.AF_UNIX) as stale:
        stale.bind(str(path))
    settings = settings_from(
        {"LOKI_STATE_DIR": str(tmp_path / "s"), "LOKI_LLM_BACKEND": "none", "LOKI_TRACE": "0", "LOKI_MEANING": "0"}
    )
    daemon = build_daemon(settings, mic=None, control=True)
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    async def typed() -> AsyncIterator[str]:
        while (line := await lines.get()) is not None:
            yield line

    runner = asyncio.create_task(daemon.run(lines=typed()))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                status = await asyncio.to_thread(request, "status")
                break
            except NotRunning:
                assert time.monotonic() < deadline, "the stale socket was not replaced"
                await asyncio.sleep(0.1)
        assert status["ok"] is True
        assert status["input"] == "text"
    finally:
        lines.put_nowait(None)
        await asyncio.wait_for(runner, 10)
    assert not path.exists()


def _lines(stream: IO[str] | None) -> queue.Queue[str]:
    """The lines of a child's output, read in a thread of their own (so a test can wait with a timeout)."""
    assert stream is not None
    got: queue.Queue[str] = queue.Queue()

    def read() -> None:
        for line in stream:
            got.put(line)

    threading.Thread(target=read, daemon=True).start()
    return got
