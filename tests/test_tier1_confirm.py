"""Confirmation of risky steps from a model's plan: spoken yes/no (English, Russian), silence means no,
and `loki say` in a terminal asking on the tty."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
import time
from pathlib import Path

import pytest
from test_tier1 import loki, plan

from loki.brain.confirm import SpokenConfirm, parse_answer
from loki.llm.fakeserver import CannedLlmServer

REPO = Path(__file__).resolve().parent.parent
CLOSE_TAB = plan({"type": "hotkey", "keys": ["ctrl", "w"]}, reply="Closing the tab.")


@pytest.mark.parametrize(
    "text",
    [
        "yes",
        "Yes, sure.",
        "okay",
        "OK, do it",
        "go ahead",
        "sure thing",
        "all right",
        "да",
        "Да, давай!",
        "конечно",
        "ладно",
        "не вопрос",
    ],
)
def test_yes(text: str) -> None:
    assert parse_answer(text) is True


@pytest.mark.parametrize(
    "text",
    [
        "no",
        "No, cancel that.",
        "stop",
        "don't",
        "no, don't do it",
        "yes... no, wait, cancel",
        "нет",
        "отмена",
        "не надо",
        "Нет, не делай этого",
    ],
)
def test_no(text: str) -> None:
    assert parse_answer(text) is False


@pytest.mark.parametrize("text", ["", "what?", "maybe later", "the weather is nice", "хм"])
def test_neither(text: str) -> None:
    assert parse_answer(text) is None


class Dialog:
    """The daemon's side of a confirmation: what was said, and the next utterance to hear."""

    def __init__(self, answer: str | None, *, delay_s: float = 0.0) -> None:
        self.answer = answer
        self.delay_s = delay_s
        self.said: list[str] = []
        self.listened_for_s: list[float] = []

    async def speak(self, text: str) -> None:
        self.said.append(text)

    async def listen(self, timeout_s: float) -> str | None:
        self.listened_for_s.append(timeout_s)
        await asyncio.sleep(self.delay_s)
        return self.answer


@pytest.mark.parametrize(
    ("answer", "runs"), [("yes, do it", True), ("давай", True), ("no", False), (None, False), ("hmm, what?", False)]
)
async def test_a_risky_step_waits_for_a_spoken_yes(
    settings_env: dict[str, str], answer: str | None, runs: bool
) -> None:
    dialog = Dialog(answer)
    confirm = SpokenConfirm(dialog.speak, dialog.listen, timeout_s=2.0)
    with CannedLlmServer(CLOSE_TAB) as server:
        async with loki(settings_env, server, confirm=confirm) as (orch, driver):
            result = await orch.handle("get rid of this tab")
    assert dialog.said == ["I'm about to press ctrl+w. Okay?"]
    assert dialog.listened_for_s == [2.0]
    assert driver.calls == ([("hotkey", ("ctrl", "w"))] if runs else [])
    assert result.ok is runs
    if not runs:
        assert result.reply.endswith("Okay, I won't do it.")


async def test_no_answer_in_time_means_no(settings_env: dict[str, str]) -> None:
    dialog = Dialog("yes", delay_s=30)  # a listener that ignores its timeout
    with CannedLlmServer(CLOSE_TAB) as server:
        async with loki(settings_env, server, LOKI_CONFIRM_TIMEOUT_S="0.3") as (orch, driver):
            orch.executor.confirm = SpokenConfirm.from_settings(orch.settings, dialog.speak, dialog.listen)
            started = time.monotonic()
            result = await orch.handle("get rid of this tab")
            elapsed_s = time.monotonic() - started
    assert driver.calls == [] and not result.ok
    assert elapsed_s < 0.3 + 1.0 + 0.7


async def test_a_voice_that_fails_means_no(settings_env: dict[str, str]) -> None:
    async def broken_speak(text: str) -> None:
        raise OSError("no audio device")

    dialog = Dialog("yes")
    with CannedLlmServer(CLOSE_TAB) as server:
        async with loki(settings_env, server, confirm=SpokenConfirm(broken_speak, dialog.listen)) as (orch, driver):
            result = await orch.handle("get rid of this tab")
    assert driver.calls == [] and not result.ok and dialog.listened_for_s == []


async def test_the_users_own_rule_needs_no_confirmation(settings_env: dict[str, str]) -> None:
    dialog = Dialog("no")
    async with loki(settings_env, confirm=SpokenConfirm(dialog.speak, dialog.listen)) as (orch, driver):
        result = await orch.handle("close the tab")
    assert result.tier == 0 and driver.calls == [("hotkey", ("ctrl", "w"))] and dialog.said == []


@pytest.mark.parametrize(("typed", "agreed"), [("n", False), ("нет", False), ("sure", True)])
def test_loki_say_in_a_terminal_asks_on_the_tty(settings_env: dict[str, str], typed: str, agreed: bool) -> None:
    with CannedLlmServer(CLOSE_TAB) as server:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LOKI_") and k != "DISPLAY"}
        env.update(settings_env, LOKI_LLM_BACKEND="openai", LOKI_LLM_URL=server.openai_url)
        leader, follower = pty.openpty()
        try:
            os.write(leader, f"{typed}\n".encode())
            out = subprocess.run(
                [sys.executable, "-m", "loki", "say", "--json", "get rid of this tab"],
                stdin=follower,
                env=env,
                cwd=REPO,
                capture_output=True,
                text=True,
                timeout=60,
            )
        finally:
            os.close(leader)
            os.close(follower)
    assert "I'm about to press ctrl+w. Okay? [y/N]" in out.stdout + out.stderr  # input() picks the stream
    result = json.loads(out.stdout.splitlines()[-1].split("[y/N] ", 1)[-1])
    assert result["tier"] == 1
    if agreed:  # without a desktop the key press itself fails, which proves the yes was taken
        assert "Cannot reach the desktop" in result["reply"]
    else:
        assert result["reply"] == "Okay, I won't do it." and result["error"] == "not_executed"
        assert result["actions"] == [] and result["refused"][0]["reason"].startswith("declined")
