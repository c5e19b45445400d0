"""Real actions on a real X server (Xvfb + openbox) against real applications.

Each test checks the effect on the application — the text that arrived, the key chord it
received, the window that opened or closed — not merely that pyautogui was called.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loki.actions.apps import AppCatalog
from loki.actions.executor import Executor
from loki.actions.policy import Policy

pytestmark = pytest.mark.x11
PROBE = Path(__file__).parent / "apps" / "keyprobe.py"
REPO = Path(__file__).resolve().parent.parent


def wait_until(check, timeout_s: float = 8.0, what: str = "condition"):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def xdotool(*args: str) -> str:
    return subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=5).stdout.strip()


class Probe:
    """The running key-probe app and its event log."""

    def __init__(self, log: Path, proc: subprocess.Popen[bytes]) -> None:
        self.log, self.proc = log, proc

    def events(self) -> list[dict]:
        if not self.log.exists():
            return []
        return [json.loads(line) for line in self.log.read_text(encoding="utf-8").splitlines() if line.strip()]

    def text(self) -> str:
        texts = [e["text"] for e in self.events() if "text" in e]
        return texts[-1] if texts else ""

    def wait_text(self, expected: str) -> str:
        wait_until(lambda: self.text() == expected, what=f"text {expected!r} (have {self.text()!r})")
        return self.text()


@pytest.fixture
def probe(xserver: str, tmp_path: Path) -> Iterator[Probe]:
    log = tmp_path / "probe.jsonl"
    proc = subprocess.Popen([sys.executable, str(PROBE), str(log)])
    p = Probe(log, proc)
    wait_until(lambda: any(e.get("ready") for e in p.events()), what="the probe window")
    wid = wait_until(lambda: xdotool("search", "--name", "LOKI key probe").split("\n")[0], what="probe window id")
    xdotool("windowactivate", "--sync", wid)
    wait_until(lambda: xdotool("getactivewindow") == wid, what="probe focus")
    # The window manager may say "active" before X input focus has moved: prove it with a key.
    wait_until(
        lambda: xdotool("key", "F12") is not None and any(e.get("key") == "F12" for e in p.events()),
        what="keyboard focus on the probe",
    )
    yield p
    proc.terminate()
    proc.wait(5)


def real_executor(tmp_path: Path, *, apps: AppCatalog | None = None) -> Executor:
    return Executor(Policy(apps or AppCatalog()), screenshot_dir=str(tmp_path / "shots"))


async def test_typed_ascii_text_arrives(probe: Probe, tmp_path: Path) -> None:
    report = await real_executor(tmp_path).run([{"type": "type", "text": "Hello, World 42!"}])
    assert report.ok, report.message
    assert probe.wait_text("Hello, World 42!")


async def test_typed_non_ascii_text_arrives(probe: Probe, tmp_path: Path) -> None:
    text = "привет мир, café ñ ü ✓"
    report = await real_executor(tmp_path).run([{"type": "type", "text": text}])
    assert report.ok, report.message
    assert probe.wait_text(text)


async def test_hotkey_chord_is_received(probe: Probe, tmp_path: Path) -> None:
    report = await real_executor(tmp_path).run([{"type": "hotkey", "keys": ["ctrl", "shift", "t"]}])
    assert report.ok, report.message
    control, shift = 0x4, 0x1

    def chord() -> bool:
        return any(
            e.get("key", "").lower() == "t" and e["state"] & control and e["state"] & shift for e in probe.events()
        )

    wait_until(chord, what=f"ctrl+shift+t at the probe (got {probe.events()})")


async def test_media_key_reaches_the_focused_app(probe: Probe, tmp_path: Path) -> None:
    report = await real_executor(tmp_path).run([{"type": "media", "op": "playpause"}])
    assert report.ok, report.message
    wait_until(lambda: any(e.get("key") == "XF86AudioPlay" for e in probe.events()), what="XF86AudioPlay")


async def test_click_and_scroll_reach_the_app(probe: Probe, tmp_path: Path) -> None:
    report = await real_executor(tmp_path).run(
        [{"type": "click", "x": 300, "y": 250}, {"type": "scroll", "clicks": -3}]
    )
    assert report.ok, report.message
    wait_until(
        lambda: any(e.get("click") == 1 and e["x"] == 300 and e["y"] == 250 for e in probe.events()), what="click"
    )
    wait_until(lambda: any(e.get("wheel") == "down" for e in probe.events()), what="wheel down")


async def test_launch_minimize_maximize_and_close_a_real_terminal(xserver: str, tmp_path: Path) -> None:
    ex = real_executor(tmp_path)
    before = set(xdotool("search", "--class", "xterm").split())
    report = await ex.run([{"type": "launch", "app": "terminal"}])
    assert report.ok, report.message
    new = wait_until(
        lambda: set(xdotool("search", "--onlyvisible", "--class", "xterm").split()) - before,
        what="a new terminal window",
    )
    wid = next(iter(new))
    xdotool("windowactivate", "--sync", wid)

    report = await ex.run([{"type": "window", "op": "maximize"}])
    assert report.ok, report.message
    wait_until(
        lambda: (
            "MAXIMIZED_HORZ"
            in subprocess.run(["xprop", "-id", wid, "_NET_WM_STATE"], capture_output=True, text=True).stdout
        ),
        what="maximized",
    )

    report = await ex.run([{"type": "window", "op": "minimize"}])
    assert report.ok, report.message
    wait_until(
        lambda: (
            "HIDDEN" in subprocess.run(["xprop", "-id", wid, "_NET_WM_STATE"], capture_output=True, text=True).stdout
        ),
        what="minimized",
    )

    xdotool("windowactivate", "--sync", wid)
    report = await ex.run([{"type": "window", "op": "close"}], trusted=True)
    assert report.ok, report.message
    wait_until(lambda: wid not in xdotool("search", "--class", "xterm").split(), what="the terminal to close")
    from loki.actions import desktop

    for proc in desktop._launched:
        assert proc.wait(10) is not None  # the terminal process really ended


async def test_screenshot_is_a_png_of_the_screen(xserver: str, tmp_path: Path) -> None:
    from PIL import Image

    report = await real_executor(tmp_path).run([{"type": "screenshot"}])
    assert report.ok, report.message
    (path,) = report.artifacts
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (1280, 800)


async def test_volume_changes_the_real_default_sink(pulse: dict[str, str], tmp_path: Path) -> None:
    def volume_percent() -> int:
        out = subprocess.run(["pactl", "get-sink-volume", "@DEFAULT_SINK@"], capture_output=True, text=True).stdout
        return int(out.split("/")[1].strip().rstrip("%"))

    def muted() -> bool:
        return (
            "yes" in subprocess.run(["pactl", "get-sink-mute", "@DEFAULT_SINK@"], capture_output=True, text=True).stdout
        )

    subprocess.run(["pactl", "set-sink-volume", "@DEFAULT_SINK@", "50%"], check=True)  # noqa: ASYNC221
    ex = real_executor(tmp_path)
    assert (await ex.run([{"type": "volume", "delta": 10}])).ok
    assert volume_percent() == 60
    assert (await ex.run([{"type": "volume", "delta": -25}])).ok
    assert volume_percent() == 35
    assert (await ex.run([{"type": "volume", "mute": True}])).ok
    assert muted()
    try:
        assert (await ex.run([{"type": "volume", "mute": False}])).ok
        assert not muted()
    finally:  # the audio server is shared by the session: leave it as found
        subprocess.run(["pactl", "set-sink-volume", "@DEFAULT_SINK@", "100%"], check=True)  # noqa: ASYNC221
        subprocess.run(["pactl", "set-sink-mute", "@DEFAULT_SINK@", "0"], check=True)  # noqa: ASYNC221


def test_loki_say_types_into_the_focused_app_end_to_end(
    probe: Probe, tmp_path: Path, settings_env: dict[str, str]
) -> None:
    env = {**os.environ, **settings_env}
    out = subprocess.run(
        [sys.executable, "-m", "loki", "say", "--json", "type Привет from LOKI"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    result = json.loads(out.stdout)
    assert result["tier"] == 0 and result["actions"] == [{"type": "type", "text": "Привет from LOKI"}]
    assert probe.wait_text("Привет from LOKI")
    # The turn was traced with its stage timings (and the length of what was typed, not the text).
    traces = list((Path(settings_env["LOKI_STATE_DIR"]) / "traces").glob("*.jsonl"))
    record = json.loads(traces[0].read_text(encoding="utf-8").splitlines()[-1])
    assert record["turn"]["text"] == "type ‹16 chars›" and "route" in record["turn"]["timings_ms"]


def test_say_hotkey_in_russian_end_to_end(probe: Probe, tmp_path: Path, settings_env: dict[str, str]) -> None:
    env = {**os.environ, **settings_env, "LOKI_LANGUAGE": "ru"}
    out = subprocess.run(
        [sys.executable, "-m", "loki", "say", "--json", "напечатай привет мир"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert probe.wait_text("привет мир")


async def test_rules_are_scoped_by_the_real_active_window(
    probe: Probe, tmp_path: Path, settings_env: dict[str, str]
) -> None:
    from loki.config import settings_from
    from loki.wiring import build_orchestrator

    user = Path(settings_env["LOKI_USER_PROFILES_DIR"]) / "en"
    user.mkdir(parents=True)
    (user / "probe.loki").write_text("title: /key probe/\n-\nsign it: type -- LOKI\n", encoding="utf-8")
    orch = build_orchestrator(settings_from(settings_env))
    result = await orch.handle("sign it")
    assert (
        result.tier == 0 and result.detail["rule"]["file"].endswith("probe.loki") and result.detail["rule"]["line"] == 3
    )
    assert probe.wait_text("-- LOKI")
    # Elsewhere the rule does not apply.
    other = build_orchestrator(settings_from(settings_env))
    other.context = lambda: __import__("loki.screen.window", fromlist=["Context"]).Context("linux", "xterm", "bash")
    assert (await other.handle("sign it")).tier is None


async def test_fail_safe_corner_stops_the_plan(probe: Probe, tmp_path: Path) -> None:
    ex = real_executor(tmp_path)
    try:
        report = await ex.run([{"type": "move", "x": 0, "y": 0}, {"type": "type", "text": "never typed"}])
    finally:
        xdotool("mousemove", "640", "400")  # leave the corner so later tests can act
    assert not report.ok and "fail-safe" in report.message and report.executed == 1
    assert "never typed" not in probe.text()


# A model's shell command (issue 13): the rule is where the text goes, read from the real focused window.
@pytest.fixture
def xterm(xserver: str, tmp_path: Path) -> Iterator[str]:
    """A real xterm running bash in tmp_path, focused, with keyboard focus proven; yields its window id."""
    if subprocess.run(["which", "xterm"], capture_output=True).returncode != 0:
        pytest.skip("needs xterm: run the README's test command to install it")
    before = set(xdotool("search", "--class", "xterm").split())
    proc = subprocess.Popen(["xterm", "-T", "scratch", "-e", "bash", "--norc", "--noprofile"], cwd=tmp_path)
    wid = wait_until(lambda: next(iter(set(xdotool("search", "--class", "xterm").split()) - before), ""), what="xterm")
    xdotool("windowactivate", "--sync", wid)
    wait_until(lambda: xdotool("getwindowfocus") == wid, what="xterm focus")
    xdotool("type", "touch ready")
    xdotool("key", "Return")
    wait_until(lambda: (tmp_path / "ready").exists(), what="the shell in xterm to run a command")
    yield wid
    proc.terminate()
    proc.wait(5)


async def test_a_models_command_into_a_real_xterm_runs_only_after_a_yes(
    xterm: str, tmp_path: Path, settings_env: dict[str, str]
) -> None:
    from loki.config import settings_from
    from loki.llm.fakeserver import CannedLlmServer
    from loki.wiring import build_orchestrator

    answer = json.dumps(
        {"actions": [{"type": "type", "text": "touch pwned"}, {"type": "hotkey", "keys": ["enter"]}], "reply": "Done."}
    )
    env = {**settings_env, "LOKI_LLM_BACKEND": "openai", "LOKI_LLM_TIMEOUT_S": "5"}
    with CannedLlmServer(answer) as server:
        orch = build_orchestrator(settings_from({**env, "LOKI_LLM_URL": server.openai_url}))  # real window, real keys
        try:
            result = await orch.handle("write the command that makes a file called pwned")
            assert result.tier == 1 and not result.ok and result.actions == [] and len(result.refused) == 2
            assert "run “touch pwned” in a terminal" in result.reply
            time.sleep(1.0)  # noqa: ASYNC251 - give a typed command time to run if it was typed
            assert not (tmp_path / "pwned").exists()

            async def yes(prompt: str) -> bool:
                return True

            orch.executor.confirm = yes
            result = await orch.handle("write the command that makes a file called pwned")
            assert result.ok and len(result.actions) == 2, result.reply
            wait_until(lambda: (tmp_path / "pwned").exists(), what="the confirmed command to run")
        finally:
            for tier in orch.tiers:
                if hasattr(tier, "aclose"):
                    await tier.aclose()
            orch.executor.close()


async def test_enter_is_checked_against_the_window_focused_when_it_is_pressed(xterm: str, tmp_path: Path) -> None:
    from loki.screen.window import Context, active_context

    ex = real_executor(tmp_path)
    # The plan was judged while a browser had the focus; by the time of Enter, a terminal has it.
    report = await ex.run(
        [{"type": "type", "text": "touch late"}, {"type": "hotkey", "keys": ["enter"]}],
        context=Context("linux", "firefox", "Mozilla Firefox"),
        focus=active_context,
    )
    try:
        assert not report.ok and report.ran == [{"type": "type", "text": "touch late"}]
        assert report.refused == [
            {
                "action": {"type": "hotkey", "keys": ["enter"]},
                "reason": "waiting for a yes nobody gave: Enter in a terminal runs the typed text as a command",
            }
        ]
        time.sleep(1.0)  # noqa: ASYNC251
        assert not (tmp_path / "late").exists()
    finally:
        xdotool("key", "ctrl+u")  # clear the shell's line


async def test_a_window_titled_like_a_prompt_gets_no_unconfirmed_enter(
    probe: Probe, tmp_path: Path, settings_env: dict[str, str]
) -> None:
    from loki.config import settings_from
    from loki.llm.fakeserver import CannedLlmServer
    from loki.wiring import build_orchestrator

    xdotool("set_window", "--name", "me@box: ~/work", xdotool("getactivewindow"))
    answer = json.dumps(
        {"actions": [{"type": "type", "text": "ls"}, {"type": "hotkey", "keys": ["enter"]}], "reply": "Listing."}
    )
    env = {**settings_env, "LOKI_LLM_BACKEND": "openai", "LOKI_LLM_TIMEOUT_S": "5"}
    with CannedLlmServer(answer) as server:
        orch = build_orchestrator(settings_from({**env, "LOKI_LLM_URL": server.openai_url}))
        try:
            result = await orch.handle("write the command that lists the files here")
        finally:
            for tier in orch.tiers:
                if hasattr(tier, "aclose"):
                    await tier.aclose()
            orch.executor.close()
    assert not result.ok and result.actions == [] and "in a terminal" in result.reply
    time.sleep(0.5)  # noqa: ASYNC251
    assert probe.text() == "" and not any(e.get("key") == "Return" for e in probe.events())
