"""Built-in commands: "what can I say" / «что ты умеешь» answer without touching the desktop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loki.actions.drivers import RecordingDriver
from loki.config import settings_from
from loki.screen.window import Context
from loki.wiring import build_orchestrator

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "language", "words"),
    [
        ("What can I say?", "en", "commands here"),
        ("help", "en", "commands here"),
        ("Что ты умеешь?", "ru", "команд"),
    ],
)
async def test_help_says_what_can_be_said_here_without_acting(
    tmp_path: Path, settings_env: dict[str, str], text: str, language: str, words: str
) -> None:
    (tmp_path / "user-profiles" / "en").mkdir(parents=True)
    (tmp_path / "user-profiles" / "en" / "gedit.loki").write_text(
        "app: gedit\n-\nsave a copy: hotkey ctrl shift s\n", encoding="utf-8"
    )
    driver = RecordingDriver()
    settings = settings_from({**settings_env, "LOKI_LANGUAGE": language})
    orch = build_orchestrator(settings, driver_factory=lambda: driver)
    try:
        orch.context = lambda: Context("linux", "gedit", "notes.txt - gedit")
        in_gedit = await orch.handle(text)
        orch.context = lambda: Context("linux", "firefox", "News")
        elsewhere = await orch.handle(text)
    finally:
        orch.executor.close()
    assert driver.calls == [] and in_gedit.actions == [] and in_gedit.tier == 0 and words in in_gedit.reply
    said_in_gedit = {c["say"] for c in in_gedit.detail["commands"]}
    said_elsewhere = {c["say"] for c in elsewhere.detail["commands"]}
    if language == "en":
        assert "save a copy" in said_in_gedit and "save a copy" not in said_elsewhere
        assert "open browser" in said_elsewhere
    assert len(said_in_gedit) > 10


def test_profiles_list_shows_the_commands_of_an_app(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "gedit.loki").write_text("app: gedit\n-\nsave a copy: hotkey ctrl shift s\n", encoding="utf-8")
    env = {"LOKI_USER_PROFILES_DIR": str(tmp_path), "LOKI_LLM_BACKEND": "none", "PATH": "/usr/bin:/bin"}
    command = [sys.executable, "-m", "loki", "profiles", "list", "--json"]
    in_gedit = subprocess.run(
        [*command, "--app", "gedit"], env=env, cwd=REPO, capture_output=True, text=True, timeout=60
    )
    plain = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert in_gedit.returncode == 0, in_gedit.stderr
    rules = [json.loads(line) for line in in_gedit.stdout.splitlines()]
    assert rules[0]["say"] == "save a copy" and rules[0]["line"] == 3  # the app's own rules first
    assert {"say": "open browser"}.items() <= next(r for r in rules if r["say"] == "open browser").items()
    assert "save a copy" not in plain.stdout


@pytest.mark.parametrize(
    ("lines", "language"),
    [
        ("new tab\ngo to sleep\nnew tab\nscroll down\nhey loki, wake up\nscroll down\n", "en"),
        ("новая вкладка\nспи\nновая вкладка\nпроснись\nпрокрути вниз\n", "ru"),
    ],
)
def test_asleep_only_wake_up_is_heard(settings_env: dict[str, str], lines: str, language: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOKI_") and k != "DISPLAY"}
    env = {**env, **settings_env, "LOKI_REPLY_MODE": "text", "LOKI_EARCONS": "0", "LOKI_LANGUAGE": language}
    out = subprocess.run(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", "run", "--text", "--dry-run", "--json"],
        input=lines.encode(),
        capture_output=True,
        env=env,
        cwd=REPO,
        timeout=90,
    )
    assert out.returncode == 0, out.stderr.decode()
    turns = [json.loads(line) for line in out.stdout.decode().splitlines() if line.startswith("{")]
    said = [t["transcript"] for t in turns]
    asleep, woke = lines.splitlines()[1], lines.splitlines()[-1]
    assert said == [lines.splitlines()[0], asleep, woke]  # nothing between sleeping and waking was acted on
    assert turns[1]["actions"] == [] and turns[1]["reply"] and turns[2]["actions"]
    assert "asleep" in out.stderr.decode() and "awake again" in out.stderr.decode()
