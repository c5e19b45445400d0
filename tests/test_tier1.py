"""Tier 1 end to end: orchestrator -> planner -> real HTTP server on 127.0.0.1 -> policy -> executor.

The model's answers are canned; the faults are the ones a real model or server produces. In
every fault LOKI must stay up, run nothing (the recording driver stays empty), and say why.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from loki.actions.drivers import RecordingDriver
from loki.actions.schema import ACTION_TYPES, validate_action, validate_plan
from loki.brain.orchestrator import Orchestrator
from loki.brain.tier1 import _EXAMPLES, ACTION_EXAMPLES, POINTER_TYPES, LlmPlanner, action_lines, planner_schema
from loki.config import settings_from
from loki.llm.fakeserver import CannedLlmServer
from loki.screen.window import Context
from loki.wiring import build_orchestrator

KEY = "sk-tier1-test-9b7e5d3c1a-SECRET"
REPO = Path(__file__).resolve().parent.parent


def plan(*actions: dict[str, Any], reply: str = "Done.") -> str:
    return json.dumps({"actions": list(actions), "reply": reply})


@contextlib.asynccontextmanager
async def loki(
    settings_env: dict[str, str],
    server: CannedLlmServer | None = None,
    *,
    reply: Any = None,
    confirm: Any = None,
    **env: str,
) -> AsyncIterator[tuple[Orchestrator, RecordingDriver]]:
    """An orchestrator with tier 1 on the canned server (OpenAI protocol unless told otherwise)."""
    values = {**settings_env, "LOKI_LLM_BACKEND": "openai", "LOKI_LLM_API_KEY": KEY, "LOKI_LLM_TIMEOUT_S": "3"}
    if server is not None:
        values["LOKI_LLM_URL"] = server.openai_url
    values.update(env)
    driver = RecordingDriver()
    orch = build_orchestrator(settings_from(values), driver_factory=lambda: driver, reply=reply, confirm=confirm)
    orch.context = lambda: Context("linux", "firefox", "LOKI issues - Mozilla Firefox")
    try:
        yield orch, driver
    finally:
        for tier in orch.tiers:
            close = getattr(tier, "aclose", None)
            if close is not None:
                await close()
        orch.executor.close()


def free_port_or_skip(port: int) -> None:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            pytest.skip(f"127.0.0.1:{port} is in use on this machine")


async def still_up(orch: Orchestrator, driver: RecordingDriver) -> None:
    """After a fault, a local command still works."""
    calls = len(driver.calls)
    result = await orch.handle("new tab")
    assert result.ok and result.tier == 0
    assert driver.calls[calls:] == [("hotkey", ("ctrl", "t"))]


# The prompt and the schema --------------------------------------------------------------------
def test_examples_shown_to_the_model_are_valid_actions() -> None:
    for kind, example in ACTION_EXAMPLES.items():
        assert validate_action(example) == {**example, **validate_action(example)}, kind
    for examples in _EXAMPLES.values():
        for _, answer in examples:
            validate_plan(answer["actions"])
    schema = planner_schema()
    kinds = [v["properties"]["type"]["const"] for v in schema["properties"]["actions"]["items"]["anyOf"]]
    assert set(kinds) == set(ACTION_TYPES) - POINTER_TYPES
    assert list(schema["properties"]) == ["actions", "reply"]  # actions first: a question is known early
    assert len(action_lines(schema)) == len(kinds)


async def test_the_prompt_carries_context_history_schema_and_apps(settings_env: dict[str, str]) -> None:
    with CannedLlmServer(plan(reply="It is a bug tracker.")) as server:
        async with loki(settings_env, server, LOKI_APPS_ALLOW="gimp") as (orch, _):
            assert (await orch.handle("open the browser")).tier == 0
            assert not server.requests, "tier 1 must not run when tier 0 has a rule"
            result = await orch.handle("what is this page about")
    assert result.tier == 1 and result.reply == "It is a bug tracker."
    body = server.requests[-1]["body"]
    system, last = body["messages"][0]["content"], body["messages"][-1]["content"]
    assert '{"type": "hotkey", "keys": ["ctrl", "t"]}' in system
    assert "Apps you may launch: browser, calculator, editor, file manager, terminal, gimp." in system
    assert "OS linux" in last and "'firefox'" in last and "LOKI issues - Mozilla Firefox" in last
    assert 'Earlier: "open the browser" -> open browser.' in last
    assert last.endswith("Request: what is this page about")
    assert body["response_format"]["json_schema"]["schema"] == planner_schema()


# Plans that run ---------------------------------------------------------------------------------
async def test_a_valid_plan_runs_in_order(settings_env: dict[str, str]) -> None:
    answer = plan(
        {"type": "hotkey", "keys": ["ctrl", "t"]},
        {"type": "type", "text": "weather in Oslo"},
        {"type": "hotkey", "keys": ["enter"]},
        reply="Searching.",
    )
    with CannedLlmServer(answer) as server:
        async with loki(settings_env, server) as (orch, driver):
            result = await orch.handle("search the web for the weather in Oslo")
    assert result.ok and result.tier == 1 and result.reply == "Searching."
    assert driver.calls == [("hotkey", ("ctrl", "t")), ("type_text", ("weather in Oslo",)), ("hotkey", ("enter",))]
    assert result.detail["overhead_ms"] >= 0 and result.detail["backend"] == "openai"


@pytest.mark.parametrize("kind", ["ollama", "gemini"])
async def test_the_other_protocols_plan_too(settings_env: dict[str, str], kind: str) -> None:
    with CannedLlmServer(plan({"type": "launch", "app": "browser"}, reply="Opening it.")) as server:
        url = server.ollama_url if kind == "ollama" else server.gemini_url
        async with loki(settings_env, LOKI_LLM_BACKEND=kind, LOKI_LLM_URL=url, LOKI_DRY_RUN="1") as (orch, _):
            result = await orch.handle("could you start up the web browser for me")
    assert result.ok and result.tier == 1
    assert result.actions == [{"type": "launch", "app": "browser"}]


# Faults: nothing runs, LOKI says why, and stays up ----------------------------------------------
REJECTED = {
    "not JSON": ("Sure! Opening the browser now.", "did not answer with a plan"),
    "JSON failing the schema": ('{"actions": {"type": "launch", "app": "browser"}, "reply": "ok"}', "malformed"),
    "an unexpected field": ('{"actions": [], "reply": "ok", "confidence": 0.9}', "malformed"),
    "a forbidden action type": (
        plan({"type": "format_disk", "device": "/dev/sda"}),
        "Unknown action type 'format_disk'",
    ),
    "one bad step among good ones": (
        plan({"type": "hotkey", "keys": ["ctrl", "t"]}, {"type": "shell", "cmd": "ls"}),
        "Step 2",
    ),
    "an out-of-range value": (plan({"type": "scroll", "clicks": 100000}), "out of range"),
    "a policy-denied launch": (plan({"type": "launch", "app": "rm"}), "not on the launch allowlist"),
    "a denied key chord": (plan({"type": "hotkey", "keys": ["ctrl", "alt", "delete"]}), "never pressed"),
    "a destructive command": (plan({"type": "type", "text": "sudo rm -rf /\n"}), "destructive shell command"),
    "a pointer action": (plan({"type": "click", "x": 10, "y": 10}), "without looking at the screen"),
}


@pytest.mark.parametrize("case", list(REJECTED))
async def test_a_bad_plan_executes_nothing_and_says_why(settings_env: dict[str, str], case: str) -> None:
    answer, why = REJECTED[case]
    with CannedLlmServer(answer) as server:
        async with loki(settings_env, server) as (orch, driver):
            result = await orch.handle("do something clever")
            assert driver.calls == [] and result.actions == []
            assert result.tier == 1 and not result.ok and result.error == "not_executed"
            assert why in result.reply
            await still_up(orch, driver)


@pytest.mark.parametrize("fault", ["truncate", "eof"])
async def test_a_truncated_plan_executes_nothing(settings_env: dict[str, str], fault: str) -> None:
    answer = plan({"type": "hotkey", "keys": ["ctrl", "t"]}, {"type": "type", "text": "hello"})
    with CannedLlmServer(answer, fault=fault, chunk_chars=6) as server:
        async with loki(settings_env, server) as (orch, driver):
            result = await orch.handle("open a tab and say hello")
            assert driver.calls == [] and not result.ok
            assert "cut off" in result.reply
            await still_up(orch, driver)


async def test_an_unreachable_backend_is_reported_quickly(settings_env: dict[str, str]) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{s.getsockname()[1]}/v1"
    async with loki(settings_env, LOKI_LLM_URL=url) as (orch, driver):
        started = time.monotonic()
        result = await orch.handle("tell me a joke")
        assert time.monotonic() - started < 3
        assert not result.ok and result.error == "llm_unreachable" and result.tier is None
        assert result.reply.startswith("I can't reach the language model right now")
        assert "is the server running" in result.reply and KEY not in result.reply
        await still_up(orch, driver)


async def test_a_hung_backend_costs_at_most_the_timeout(settings_env: dict[str, str]) -> None:
    with CannedLlmServer(plan(), fault="sleep", delay_s=10) as server:
        async with loki(settings_env, server, LOKI_LLM_TIMEOUT_S="0.8") as (orch, driver):
            started = time.monotonic()
            result = await orch.handle("summarize my day")
            elapsed_s = time.monotonic() - started
            assert result.error == "llm_timeout" and "0.8 s" in result.reply
            assert elapsed_s < 0.8 + 0.7
            await still_up(orch, driver)


async def test_the_fallback_from_settings_answers_after_an_outage(settings_env: dict[str, str]) -> None:
    free_port_or_skip(11434)  # the fallback is Ollama at its default address
    with (
        CannedLlmServer(plan({"type": "hotkey", "keys": ["ctrl", "t"]}, reply="New tab."), port=11434) as ollama,
        CannedLlmServer(plan(), fault="sleep", delay_s=10) as hung,
    ):
        async with loki(settings_env, hung, LOKI_LLM_TIMEOUT_S="1", LOKI_LLM_FALLBACK="ollama") as (orch, driver):
            started = time.monotonic()
            result = await orch.handle("give me a fresh tab to work in")
            elapsed_s = time.monotonic() - started
    assert result.ok and result.tier == 1 and result.reply == "New tab."
    assert driver.calls == [("hotkey", ("ctrl", "t"))]
    assert result.detail["backend"] == "ollama"
    assert elapsed_s < 1 + 0.8
    assert "authorization" not in {k.lower() for k in ollama.requests[-1]["headers"]}, (
        "the key stays with the main backend"
    )


# Questions: answers streamed to the voice --------------------------------------------------------
class Voice:
    """A reply sink with a `stream` method, like the TTS the daemon attaches."""

    def __init__(self) -> None:
        self.pieces: list[tuple[float, str]] = []
        self.said: list[str] = []

    async def __call__(self, text: str, language: str) -> None:
        self.said.append(text)

    async def stream(self, pieces: AsyncIterator[str], language: str) -> None:
        async for piece in pieces:
            self.pieces.append((time.monotonic(), piece))


ANSWER = "The Eiffel Tower is about three hundred and thirty metres tall. It was finished in 1889."


@pytest.mark.parametrize("kind", ["openai", "ollama", "gemini"])
async def test_an_answer_is_streamed_in_pieces(settings_env: dict[str, str], kind: str) -> None:
    voice = Voice()
    with CannedLlmServer(plan(reply=ANSWER), chunk_chars=6, chunk_delay_s=0.01) as server:
        url = {"openai": server.openai_url, "ollama": server.ollama_url, "gemini": server.gemini_url}[kind]
        async with loki(settings_env, reply=voice, LOKI_LLM_BACKEND=kind, LOKI_LLM_URL=url) as (orch, driver):
            result = await orch.handle("how tall is the eiffel tower")
    assert result.ok and result.tier == 1 and result.detail["streamed"]
    assert len(voice.pieces) > 5
    assert "".join(p for _, p in voice.pieces) == ANSWER == result.reply
    assert voice.pieces[-1][0] > voice.pieces[0][0]  # spoken while it was still being written
    assert driver.calls == [] and voice.said == []


async def test_an_answer_cut_off_mid_stream_ends_with_an_apology(settings_env: dict[str, str]) -> None:
    voice = Voice()
    with CannedLlmServer(plan(reply=ANSWER), fault="truncate", chunk_chars=10) as server:
        async with loki(settings_env, server, reply=voice) as (orch, driver):
            result = await orch.handle("how tall is the eiffel tower")
            assert result.reply.startswith("The Eiffel") and result.reply.endswith("the answer was cut off.")
            await still_up(orch, driver)


# Russian -----------------------------------------------------------------------------------------
async def test_russian_users_hear_why_in_russian(settings_env: dict[str, str]) -> None:
    with CannedLlmServer(plan({"type": "launch", "app": "rm"}, reply="Запускаю.")) as server:
        async with loki(settings_env, server, LOKI_LANGUAGE="ru") as (orch, driver):
            result = await orch.handle("удали все мои файлы")
            assert (
                driver.calls == [] and result.reply == "Я не буду этого делать: это запрещено правилами безопасности."
            )
            assert "in Russian" in server.requests[-1]["body"]["messages"][0]["content"]
    async with loki(settings_env, LOKI_LANGUAGE="ru", LOKI_LLM_URL="http://127.0.0.1:9/v1") as (orch, _):
        result = await orch.handle("расскажи анекдот")
        assert result.reply.startswith("Языковая модель сейчас недоступна")


# The command line --------------------------------------------------------------------------------
@pytest.fixture
def cli_env(settings_env: dict[str, str]) -> Iterator[dict[str, str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOKI_")}
    yield {**env, **settings_env}


def test_loki_say_reaches_tier1_and_prints_only_valid_actions(cli_env: dict[str, str]) -> None:
    answer = plan({"type": "launch", "app": "browser"}, reply="Starting the web browser.")
    with CannedLlmServer(answer) as server:
        env = {**cli_env, "LOKI_LLM_BACKEND": "ollama", "LOKI_LLM_URL": server.ollama_url, "LOKI_LLM_API_KEY": KEY}
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "loki",
                "-v",
                "say",
                "--dry-run",
                "--json",
                "could you start up the web browser for me",
            ],
            env=env,
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 0, out.stderr
    (line,) = out.stdout.splitlines()
    result = json.loads(line)
    assert result["tier"] == 1 and result["actions"] == validate_plan(result["actions"]) == [
        {"type": "launch", "app": "browser"}
    ]
    assert KEY not in out.stderr and KEY not in out.stdout


def test_planner_is_the_tier1_of_the_app(settings_env: dict[str, str]) -> None:
    from loki.wiring import build_tiers, load_all_profiles

    settings = settings_from({**settings_env, "LOKI_LLM_BACKEND": "ollama"})
    tiers = build_tiers(settings, load_all_profiles(settings))
    names = ["LearnCommands", "HelpCommand", "SleepCommand", "LocalCommands", "ScreenTier", "LlmPlanner"]
    assert [type(t).__name__ for t in tiers] == names and [t.number for t in tiers] == [0, 0, 0, 0, 2, 1]
    meaning = settings_from({**settings_env, "LOKI_LLM_BACKEND": "ollama", "LOKI_MEANING": "1"})
    with_meaning = build_tiers(meaning, load_all_profiles(meaning))
    assert [type(t).__name__ for t in with_meaning][3:] == [
        "LocalCommands",
        "ScreenTier",
        "MeaningCommands",
        "LlmPlanner",
    ]
    assert isinstance(tiers[-1], LlmPlanner)
