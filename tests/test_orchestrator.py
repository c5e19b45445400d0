"""The orchestrator: tiers in order, repeat, failures turned into replies, traces with timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loki.actions.drivers import RecordingDriver
from loki.brain.tiers import Plan, Turn
from loki.brain.trace import TraceWriter
from loki.config import settings_from
from loki.errors import LlmError
from loki.screen.window import Context
from loki.wiring import build_orchestrator


def make(settings_env: dict[str, str], *, tiers=None, **extra: str):
    settings = settings_from({**settings_env, **extra})
    driver = RecordingDriver()
    orch = build_orchestrator(settings, driver_factory=lambda: driver, tiers=tiers)
    orch.context = lambda: Context("linux", "xterm", "bash")
    return orch, driver


async def test_tier0_turn_executes_and_traces(settings_env: dict[str, str]) -> None:
    orch, driver = make(settings_env)
    result = await orch.handle("new tab please")
    assert result.tier == 0 and result.ok and driver.calls == [("hotkey", ("ctrl", "t"))]
    assert {"context", "route", "execute", "total"} <= set(result.timings_ms)
    trace_dir = Path(settings_env["LOKI_STATE_DIR"]) / "traces"
    (trace,) = trace_dir.glob("*.jsonl")
    record = json.loads(trace.read_text(encoding="utf-8").splitlines()[-1])
    assert record["turn"]["actions"] == [{"type": "hotkey", "keys": ["ctrl", "t"]}]


async def test_repeat_runs_the_last_turn_again(settings_env: dict[str, str]) -> None:
    orch, driver = make(settings_env)
    nothing = await orch.handle("repeat that")
    assert nothing.tier == 0 and "nothing to repeat" in nothing.reply.lower() and driver.calls == []
    await orch.handle("scroll down two")
    again = await orch.handle("say that again")
    assert again.actions == [{"type": "scroll", "clicks": -2}]
    assert driver.calls == [("scroll", (-2,)), ("scroll", (-2,))]


async def test_unmatched_text_goes_nowhere_and_says_so(settings_env: dict[str, str]) -> None:
    orch, driver = make(settings_env)
    result = await orch.handle("open the pod bay doors and sing me a song")
    assert result.tier is None and result.actions == [] and driver.calls == []
    assert result.reply.startswith("Sorry")


@pytest.mark.parametrize(
    "text",
    ["closed the tab", "scrolled down", "paused the music", "took a screenshot", "закрыла вкладку", "сделал громче"],
)
async def test_a_rule_said_in_the_past_tense_tells_and_does_nothing(settings_env: dict[str, str], text: str) -> None:
    # One or two edits from a rule ("close the tab"), but someone telling what was done is not asking.
    orch, driver = make(settings_env, LOKI_LANGUAGE="auto")
    result = await orch.handle(text)
    assert result.actions == [] and driver.calls == []


async def test_a_near_miss_of_a_rule_still_acts(settings_env: dict[str, str]) -> None:
    orch, driver = make(settings_env)
    result = await orch.handle("close the tap")
    assert result.tier == 0 and driver.calls == [("hotkey", ("ctrl", "w"))]


async def test_language_auto_picks_russian_profiles(settings_env: dict[str, str]) -> None:
    orch, driver = make(settings_env, LOKI_LANGUAGE="auto")
    result = await orch.handle("открой, пожалуйста, новую вкладку")
    assert result.language == "ru"
    result = await orch.handle("переключи вкладку")
    assert result.tier == 0 and driver.calls[-1] == ("hotkey", ("ctrl", "tab"))


class Exploding:
    number = 1

    async def plan(self, turn: Turn) -> Plan | None:
        raise RuntimeError("a bug in a tier")


class Failing:
    number = 1

    async def plan(self, turn: Turn) -> Plan | None:
        raise LlmError("The language model at http://127.0.0.1:9 did not answer.")


class Answering:
    number = 2

    async def plan(self, turn: Turn) -> Plan | None:
        return Plan(2, [{"type": "launch", "app": "bash"}], reply="Launching bash.")


class Entering:
    number = 2

    async def plan(self, turn: Turn) -> Plan | None:
        return Plan(2, [{"type": "hotkey", "keys": ["enter"]}], reply="Pressing Enter.")


async def test_a_failing_tier_does_not_take_the_turn_down(settings_env: dict[str, str]) -> None:
    from loki.brain.tier0 import LocalCommands
    from loki.profiles.loader import load_profiles, shipped_profiles_dir
    from loki.profiles.matcher import Matcher

    tier0 = LocalCommands(Matcher(load_profiles([(shipped_profiles_dir(), False)])))
    orch, _ = make(settings_env, tiers=[tier0, Exploding()])
    result = await orch.handle("what is the meaning of life")
    assert not result.ok and result.error == "internal"
    assert result.reply == "Something went wrong while I was working out what you meant: RuntimeError."
    # The next turn works as usual.
    assert (await orch.handle("copy")).tier == 0

    orch, driver = make(settings_env, tiers=[tier0, Failing(), Answering()])
    result = await orch.handle("get me a bash session going")
    # Tier 1 failed, tier 2 planned a launch the policy denies: nothing ran, and the reply says why.
    assert result.tier == 2 and not result.ok and driver.calls == []
    assert "allowlist" in result.reply


@pytest.mark.parametrize("stdin", ["open the browser\nnew tab\n"])
def test_say_reads_stdin_and_prints_json_lines(stdin: str, settings_env: dict[str, str], tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "loki", "say", "--dry-run", "--json", "-"],
        input=stdin,
        env={**os.environ, **settings_env},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [(r["text"], r["tier"], r["actions"]) for r in lines] == [
        ("open the browser", 0, [{"type": "launch", "app": "browser"}]),
        ("new tab", 0, [{"type": "hotkey", "keys": ["ctrl", "t"]}]),
    ]
    assert all("route" in r["timings_ms"] for r in lines)


def test_bad_setting_stops_start_up_with_the_name(settings_env: dict[str, str], tmp_path: Path) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "loki", "say", "--dry-run", "hi"],
        env={**os.environ, **settings_env, "LOKI_LLM_TIMEOUT_S": "-1"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2 and "LOKI_LLM_TIMEOUT_S" in out.stderr and out.stdout == ""


def test_broken_user_profile_is_reported_with_file_and_line(settings_env: dict[str, str], tmp_path: Path) -> None:
    user = Path(settings_env["LOKI_USER_PROFILES_DIR"]) / "en"
    user.mkdir(parents=True)
    (user / "mine.loki").write_text("open mail: launch thunderbird\nzap: explode now\n", encoding="utf-8")
    env = {**os.environ, **settings_env}
    check = subprocess.run(
        [sys.executable, "-m", "loki", "profiles", "check"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert check.returncode == 1
    assert f"{user / 'mine.loki'}:2: unknown action 'explode'" in check.stdout
    say = subprocess.run(
        [sys.executable, "-m", "loki", "say", "--dry-run", "new tab"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert say.returncode == 1 and "mine.loki:2" in say.stderr


async def test_a_failure_in_any_stage_reads_right(settings_env: dict[str, str]) -> None:
    def no_window() -> Context:
        raise RuntimeError("xdotool crashed")

    orch, _ = make(settings_env)
    orch.context = no_window
    assert (await orch.handle("new tab")).reply.endswith("while I was looking at the active window: RuntimeError.")

    async def broken_confirm(prompt: str) -> bool:
        raise ValueError("the confirmation broke")

    orch, _ = make(settings_env, tiers=[Entering()])
    orch.executor.confirm = broken_confirm
    orch.context = lambda: Context("linux")  # focus unknown: a model's Enter needs a yes
    assert (await orch.handle("do it")).reply.endswith("while I was carrying out the plan: ValueError.")

    async def broken_voice(text: str, language: str) -> None:
        raise OSError("no audio device")

    orch, _ = make(settings_env, tiers=[Entering()])
    orch.reply = broken_voice
    orch.context = lambda: Context("linux", "firefox", "Mozilla Firefox")
    assert (await orch.handle("do it")).reply.endswith("while I was putting the reply together: OSError.")


def test_the_trace_writer_follows_the_brain_settings(tmp_path: Path) -> None:
    settings = settings_from({"LOKI_STATE_DIR": str(tmp_path), "LOKI_TRACE_MAX_KB": "8", "LOKI_TRACE_TYPED_TEXT": "1"})
    for given in (settings.brain, settings):
        writer = TraceWriter.from_settings(given)
        assert (writer.folder, writer.max_bytes, writer.typed_text) == (tmp_path / "traces", 8 * 1024, True)
    assert TraceWriter.from_settings(settings_from({"LOKI_TRACE": "0"}).brain).folder is None
