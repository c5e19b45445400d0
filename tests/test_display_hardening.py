"""The X display is missing, needs no cookie, or goes away and comes back: each on a real Xvfb of its own.

These servers are started here on their own display numbers (not the session's `xserver`), and
LOKI runs as a real subprocess, so pyautogui's one X connection per process is the real one.
"""

from __future__ import annotations

import asyncio
import json
import os
import queue
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.x11
REPO = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).parent / "apps" / "keyprobe.py"


def _need(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        pytest.skip(f"needs {', '.join(missing)} (scripts/setup.sh installs them)")


def _wait_until(check: Any, what: str, timeout_s: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _free_display() -> str:
    for number in range(300 + os.getpid() % 200, 700):
        if not Path(f"/tmp/.X11-unix/X{number}").exists() and not Path(f"/tmp/.X{number}-lock").exists():
            return f":{number}"
    raise AssertionError("no free X display number")


class OwnX:
    """An Xvfb this test starts, kills and starts again on the same display number."""

    def __init__(self, display: str) -> None:
        self.display = display
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display, "XAUTHORITY": os.devnull}

    def answers(self) -> bool:
        return subprocess.run(["xdotool", "getmouselocation"], env=self.env, capture_output=True).returncode == 0

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["Xvfb", self.display, "-screen", "0", "1024x768x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_until(self.answers, f"Xvfb on {self.display}")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(5)
        self.proc = None
        _wait_until(lambda: not self.answers(), f"Xvfb on {self.display} to stop")


@pytest.fixture
def own_x() -> Iterator[OwnX]:
    _need("Xvfb", "xdotool")
    server = OwnX(_free_display())
    server.start()
    try:
        yield server
    finally:
        if server.proc is not None:
            server.proc.kill()
            server.proc.wait(5)


def _no_cookie_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a session whose X server needs no cookie: no XAUTHORITY, no ~/.Xauthority."""
    home.mkdir(exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOKI_") and k not in ("XAUTHORITY", "DISPLAY")}
    return {
        **env,
        "HOME": str(home),
        "LOKI_STATE_DIR": str(home / "state"),
        "LOKI_USER_PROFILES_DIR": str(home / "profiles"),
        "LOKI_LLM_BACKEND": "none",
        "LOKI_REPLY_MODE": "text",
        "LOKI_EARCONS": "0",
        **extra,
    }


def _say(text: str, env: dict[str, str]) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", "say", "--json", text],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "Traceback" not in out.stderr, out.stderr
    return json.loads(out.stdout.splitlines()[-1])


def test_a_server_that_needs_no_cookie_works_without_an_xauthority_file(own_x: OwnX, tmp_path: Path) -> None:
    """python-xlib raised XauthError and LOKI said "DISPLAY must be set" although it was."""
    _need("openbox")
    home = tmp_path / "home"
    env = _no_cookie_env(home, DISPLAY=own_x.display)
    assert not (home / ".Xauthority").exists() and "XAUTHORITY" not in env
    wm = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    log = tmp_path / "probe.jsonl"
    probe = subprocess.Popen([sys.executable, str(PROBE), str(log)], env=env)

    def events() -> list[dict[str, Any]]:
        lines = log.read_text(encoding="utf-8").splitlines() if log.exists() else []
        return [json.loads(line) for line in lines if line.strip()]

    try:
        wid = _wait_until(
            lambda: subprocess.run(
                ["xdotool", "search", "--name", "LOKI key probe"], env=env, capture_output=True, text=True
            ).stdout.split(),
            "the probe window",
        )[0]
        subprocess.run(["xdotool", "windowactivate", "--sync", wid], env=env, capture_output=True, timeout=5)
        _wait_until(lambda: any(e.get("ready") for e in events()), "the probe to start")
        result = _say("type Привет, LOKI", env)
        assert result["ok"] is True, result
        _wait_until(
            lambda: [e["text"] for e in events() if "text" in e][-1:] == ["Привет, LOKI"], "the text in the probe"
        )
    finally:
        probe.kill()
        wm.kill()
        probe.wait(5)
        wm.wait(5)


async def test_push_to_talk_works_without_an_xauthority_file(
    own_x: OwnX, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its python-xlib connections raised XauthError too: "push-to-talk is off"."""
    from loki.listen.ptt import PushToTalk

    monkeypatch.delenv("XAUTHORITY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    events: list[str] = []
    stopped = asyncio.Event()
    ptt = PushToTalk(
        "f9",
        on_start=lambda: events.append("start"),
        on_stop=lambda: (events.append("stop"), stopped.set()),
        display=own_x.display,
    )
    ptt.start()
    try:
        subprocess.run(["xdotool", "key", "F9"], env=own_x.env, check=True, timeout=5)  # noqa: ASYNC221
        await asyncio.wait_for(stopped.wait(), 5)
        assert events == ["start", "stop"]
    finally:
        ptt.stop()


def test_no_display_says_so(tmp_path: Path) -> None:
    result = _say("scroll down", _no_cookie_env(tmp_path / "home"))
    assert result["ok"] is False
    assert "Cannot reach the desktop: no DISPLAY is set." in result["reply"]


def test_a_display_nobody_answers_is_named_with_the_reason(tmp_path: Path) -> None:
    """Not "DISPLAY must be set" when it is set: which display, and why the connection failed."""
    display = _free_display()
    result = _say("scroll down", _no_cookie_env(tmp_path / "home", DISPLAY=display))
    assert result["ok"] is False
    assert f"Cannot connect to the X display {display}: " in result["reply"]
    assert "DISPLAY must be set" not in result["reply"]


class TextDaemon:
    """`loki run --text --json` as a subprocess: one line in, one JSON result out."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "loki", "--env-file", "/dev/null", "run", "--text", "--json"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=REPO,
        )
        self.results: queue.Queue[dict[str, Any]] = queue.Queue()
        self.stderr: list[str] = []
        assert self.proc.stdout is not None and self.proc.stderr is not None
        out, err = self.proc.stdout, self.proc.stderr
        threading.Thread(target=lambda: [self.results.put(json.loads(x)) for x in out if x.startswith("{")]).start()
        threading.Thread(target=lambda: [self.stderr.append(x) for x in err], daemon=True).start()

    def turn(self, text: str, timeout_s: float = 60.0) -> tuple[dict[str, Any], float]:
        assert self.proc.stdin is not None
        started = time.monotonic()
        self.proc.stdin.write(text + "\n")
        self.proc.stdin.flush()
        try:
            result = self.results.get(timeout=timeout_s)
        except queue.Empty:
            raise AssertionError(f"no answer to {text!r}: {''.join(self.stderr)[-3000:]}") from None
        return result, time.monotonic() - started


def test_the_display_goes_away_and_comes_back(own_x: OwnX, tmp_path: Path) -> None:
    """X died: errors read "'BrokenPipeError' object is not subscriptable", minimize said ok, every later
    action waited 10 s, LOKI never reconnected when X returned, and it hung at exit."""
    env = _no_cookie_env(tmp_path / "home", DISPLAY=own_x.display, XAUTHORITY=os.devnull)
    daemon = TextDaemon(env)
    try:
        result, _ = daemon.turn("scroll down")
        assert result["ok"] is True, result

        own_x.kill()
        gone = f"The X display {own_x.display} went away"
        result, took_s = daemon.turn("scroll down")
        assert result["ok"] is False and gone in result["reply"], result
        assert took_s < 5
        result, took_s = daemon.turn("minimize the window")
        assert result["ok"] is False and gone in result["reply"], result
        assert took_s < 5
        result, took_s = daemon.turn("open a new tab")
        assert result["ok"] is False and f"X display {own_x.display}" in result["reply"], result
        assert took_s < 5

        own_x.start()
        result, _ = daemon.turn("scroll down")
        assert result["ok"] is True, result
        result, _ = daemon.turn("open a new tab")
        assert result["ok"] is True, result
    finally:
        assert daemon.proc.stdin is not None
        daemon.proc.stdin.close()
        try:
            code = daemon.proc.wait(15)  # it hung here at exit
        finally:
            if daemon.proc.poll() is None:
                daemon.proc.kill()
                daemon.proc.wait(5)
    assert code == 0, "".join(daemon.stderr)[-3000:]
    assert "not subscriptable" not in "".join(daemon.stderr)
