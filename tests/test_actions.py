"""Action schema, policy and executor (with the shipped recording driver at the device seam)."""

from __future__ import annotations

import json

import pytest

from loki.actions.apps import AppCatalog
from loki.actions.drivers import RecordingDriver
from loki.actions.executor import Executor, confirmation_prompt
from loki.actions.policy import Decision, Policy
from loki.actions.schema import ACTION_TYPES, action_json_schema, plan_json_schema, validate_action, validate_plan
from loki.config import settings_from
from loki.errors import ActionError
from loki.screen.window import Context

VALID = [
    {"type": "launch", "app": "browser"},
    {"type": "hotkey", "keys": ["ctrl", "t"]},
    {"type": "type", "text": "hello world"},
    {"type": "click", "x": 640, "y": 412, "button": "left", "count": 1},
    {"type": "move", "x": 10, "y": 10},
    {"type": "drag", "x": 10, "y": 10, "to_x": 90, "to_y": 10},
    {"type": "scroll", "clicks": -5},
    {"type": "volume", "delta": 10},
    {"type": "volume", "mute": True},
    {"type": "media", "op": "playpause"},
    {"type": "window", "op": "close"},
    {"type": "window", "op": "focus", "target": "Firefox"},
    {"type": "screenshot"},
    {"type": "speak", "text": "It is ten past four."},
    {"type": "wait", "seconds": 0.5},
    {"type": "stop"},
]


@pytest.mark.parametrize("action", VALID, ids=lambda a: a["type"])
def test_contract_examples_are_valid(action: dict) -> None:
    out = validate_action(action)
    assert out["type"] == action["type"]
    assert json.loads(json.dumps(out)) == out


def test_defaults_are_filled() -> None:
    assert validate_action({"type": "click", "x": 1, "y": 2}) == {
        "type": "click",
        "x": 1,
        "y": 2,
        "button": "left",
        "count": 1,
    }


@pytest.mark.parametrize(
    ("action", "fragment"),
    [
        ({"type": "format_disk"}, "Unknown action type 'format_disk'"),
        ("launch browser", "must be a JSON object"),
        ({"type": "click", "x": 10}, "needs 'y'"),
        ({"type": "click", "x": -1, "y": 2}, "out of range"),
        ({"type": "click", "x": 1.5, "y": 2}, "whole number"),
        ({"type": "hotkey", "keys": ["ctrl", "sparkle"]}, "unknown key 'sparkle'"),
        ({"type": "hotkey", "keys": []}, "list of 1 to 5"),
        ({"type": "volume"}, "exactly one of"),
        ({"type": "volume", "delta": 5, "mute": True}, "exactly one of"),
        ({"type": "window", "op": "focus"}, "needs 'target'"),
        ({"type": "launch", "app": "x", "args": ["-rf"]}, "unknown field 'args'"),
        ({"type": "type", "text": ""}, "non-empty string"),
        ({"type": "wait", "seconds": 3600}, "out of range"),
        ({"type": "scroll", "clicks": True}, "must be a number"),
    ],
)
def test_invalid_actions_are_rejected_with_a_reason(action: object, fragment: str) -> None:
    with pytest.raises(ActionError, match=fragment):
        validate_action(action)


def test_plan_rejects_whole_plan_and_names_the_step() -> None:
    with pytest.raises(ActionError, match="Step 2"):
        validate_plan([{"type": "stop"}, {"type": "nope"}])


def test_json_schema_covers_every_type() -> None:
    variants = action_json_schema()["anyOf"]
    assert {v["properties"]["type"]["const"] for v in variants} == set(ACTION_TYPES)
    assert plan_json_schema()["required"] == ["reply", "actions"]


# Policy ------------------------------------------------------------------------------------
@pytest.fixture
def policy() -> Policy:
    return Policy(AppCatalog(["xclock"]))


@pytest.mark.parametrize(
    ("action", "untrusted", "trusted"),
    [
        ({"type": "launch", "app": "browser"}, "safe", "safe"),
        ({"type": "launch", "app": "xclock"}, "safe", "safe"),
        ({"type": "launch", "app": "rm"}, "deny", "deny"),
        ({"type": "launch", "app": "/bin/sh"}, "deny", "deny"),
        ({"type": "hotkey", "keys": ["ctrl", "alt", "delete"]}, "deny", "deny"),
        ({"type": "hotkey", "keys": ["alt", "f4"]}, "confirm", "safe"),
        ({"type": "hotkey", "keys": ["ctrl", "c"]}, "safe", "safe"),
        ({"type": "window", "op": "close"}, "confirm", "safe"),
        ({"type": "type", "text": "rm -rf ~"}, "deny", "confirm"),
        ({"type": "type", "text": "line one\nline two"}, "confirm", "safe"),
        ({"type": "type", "text": "ls -la\r"}, "confirm", "safe"),
        ({"type": "type", "text": "café ls\x0f"}, "confirm", "safe"),  # Ctrl+O runs a shell's line
        ({"type": "hotkey", "keys": ["enter"]}, "confirm", "safe"),  # it may go to a terminal: LOKI cannot tell
        ({"type": "hotkey", "keys": ["ctrl", "alt", "shift", "f2"]}, "deny", "deny"),
        ({"type": "wait", "seconds": 30}, "deny", "deny"),  # longer than LOKI_STEP_TIMEOUT_S
        ({"type": "scroll", "clicks": 3}, "safe", "safe"),
    ],
)
def test_policy_classes(policy: Policy, action: dict, untrusted: str, trusted: str) -> None:
    action = validate_action(action)
    assert policy.check(action).decision is Decision(untrusted)
    assert policy.check(action, trusted=True).decision is Decision(trusted)


def test_enter_is_judged_by_the_window_it_goes_to(policy: Policy) -> None:
    enter = validate_action({"type": "hotkey", "keys": ["enter"]})
    assert policy.check(enter, context=Context("linux", "firefox", "Mozilla Firefox")).decision is Decision.SAFE
    assert policy.check(enter, context=Context("linux", "konsole", "")).decision is Decision.CONFIRM
    assert policy.check(enter, context=Context("linux")).decision is Decision.CONFIRM


# Executor ----------------------------------------------------------------------------------
def executor(*, dry_run: bool = False, confirm=None) -> tuple[Executor, RecordingDriver]:
    driver = RecordingDriver()
    ex = Executor(Policy(AppCatalog(), dry_run=dry_run), driver_factory=lambda: driver, confirm=confirm)
    return ex, driver


async def test_executor_runs_steps_in_order() -> None:
    ex, driver = executor()
    report = await ex.run(
        [{"type": "hotkey", "keys": ["ctrl", "t"]}, {"type": "type", "text": "héllo"}, {"type": "scroll", "clicks": -2}]
    )
    assert report.ok and report.executed == 3
    assert driver.calls == [("hotkey", ("ctrl", "t")), ("type_text", ("héllo",)), ("scroll", (-2,))]


async def test_invalid_plan_runs_nothing() -> None:
    ex, driver = executor()
    report = await ex.run([{"type": "hotkey", "keys": ["ctrl", "t"]}, {"type": "self_destruct"}])
    assert not report.ok and report.executed == 0 and driver.calls == []
    assert "Unknown action type" in report.message


async def test_denied_step_runs_nothing() -> None:
    ex, driver = executor()
    report = await ex.run([{"type": "type", "text": "hello"}, {"type": "launch", "app": "bash"}])
    assert not report.ok and driver.calls == [] and "allowlist" in report.message


async def test_risky_untrusted_step_needs_a_yes() -> None:
    asked: list[str] = []

    async def say_no(prompt: str) -> bool:
        asked.append(prompt)
        return False

    ex, driver = executor(confirm=say_no)
    report = await ex.run([{"type": "hotkey", "keys": ["ctrl", "w"]}, {"type": "window", "op": "close"}])
    assert asked == ["I'm about to press ctrl+w and close the window. Okay?"]
    assert not report.ok and driver.calls == []

    async def say_yes(prompt: str) -> bool:
        return True

    ex, driver = executor(confirm=say_yes)
    report = await ex.run([{"type": "hotkey", "keys": ["ctrl", "w"]}])
    assert report.ok and driver.calls == [("hotkey", ("ctrl", "w"))]


async def test_no_confirmer_means_no() -> None:
    ex, driver = executor()
    report = await ex.run([{"type": "window", "op": "close"}])
    assert not report.ok and driver.calls == [] and "Okay?" in report.message


async def test_trusted_plan_skips_confirmation() -> None:
    ex, driver = executor()
    report = await ex.run([{"type": "hotkey", "keys": ["alt", "f4"]}], trusted=True)
    assert report.ok and driver.calls == [("hotkey", ("alt", "f4"))]


async def test_dry_run_touches_nothing() -> None:
    ex, driver = executor(dry_run=True)
    report = await ex.run(
        [{"type": "launch", "app": "terminal"}, {"type": "type", "text": "x"}, {"type": "speak", "text": "hi"}]
    )
    assert report.ok and report.executed == 3 and driver.calls == [] and report.said == ["hi"]
    assert report.ran == report.actions and report.refused == []


async def test_dry_run_asks_as_a_real_run_would() -> None:
    ex, driver = executor(dry_run=True)
    report = await ex.run([{"type": "hotkey", "keys": ["ctrl", "t"]}, {"type": "window", "op": "close"}])
    assert not report.ok and report.ran == [] and [r["action"]["type"] for r in report.refused] == ["hotkey", "window"]


def test_confirmation_prompt_counts_repeats() -> None:
    prompt = confirmation_prompt([{"type": "window", "op": "close"}] * 3)
    assert prompt == "I'm about to close three windows. Okay?"


def test_the_executor_and_its_policy_follow_the_action_settings() -> None:
    settings = settings_from(
        {
            "LOKI_DRY_RUN": "1",
            "LOKI_APPS_ALLOW": "gimp",
            "LOKI_STEP_TIMEOUT_S": "4",
            "LOKI_PLAN_TIMEOUT_S": "9",
            "LOKI_VOLUME_MAX_PERCENT": "80",
            "LOKI_VOLUME_TURN_MAX_PERCENT": "20",
            "LOKI_SCREENSHOT_DIR": "/srv/shots",
        }
    )
    for given in (settings.actions, settings):
        ex = Executor.from_settings(given, driver_factory=RecordingDriver)
        assert (ex.policy.dry_run, ex.step_timeout_s, ex.plan_timeout_s) == (True, 4.0, 9.0)
        assert (ex.volume_max_percent, ex.volume_turn_max_percent, ex.screenshot_dir) == (80, 20, "/srv/shots")
        assert ex.policy.check({"type": "launch", "app": "gimp"}).decision is Decision.SAFE
        assert Policy.from_settings(given).check({"type": "launch", "app": "gimp"}).decision is Decision.SAFE
        assert Policy(AppCatalog()).check({"type": "launch", "app": "gimp"}).decision is Decision.DENY
