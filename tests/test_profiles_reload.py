"""Profiles reload when a file changes: a new rule works at once, a broken edit is reported and the old rules stay."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loki.actions.drivers import RecordingDriver
from loki.audio.fake import ArrayMicrophone
from loki.brain.orchestrator import TurnResult
from loki.config import Settings, settings_from
from loki.events import CommandHeard
from loki.screen.fake import FixedWindow
from loki.stt.fake import ScriptedTranscriber
from loki.wiring import build_daemon

REPO = Path(__file__).resolve().parent.parent
POLL_S = 0.05
WAIT_S = 30.0  # generous: a busy machine may be slow to look, never wrong


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {
        "LOKI_STATE_DIR": str(tmp_path / "state"),
        "LOKI_USER_PROFILES_DIR": str(tmp_path / "profiles"),
        "LOKI_DRY_RUN": "1",
        "LOKI_LLM_BACKEND": "none",
        "LOKI_MEANING": "0",
        "LOKI_TRACE": "0",
        "LOKI_LANGUAGE": "en",
    }


@pytest.fixture
def settings(env: dict[str, str]) -> Settings:
    return settings_from(env)


def rule_file(settings: Settings) -> Path:
    return settings.user_profiles_path / "en" / "mine.loki"


def write(path: Path, *lines: str) -> None:
    """Write the file whole, as an editor saving it would (every edit here changes its size)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


async def until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(POLL_S)


class TypedDaemon:
    """An in-process daemon (text lines, the fake screen, dry run) that watches the profiles."""

    def __init__(self, settings: Settings, **wiring: Any) -> None:
        self.results: asyncio.Queue[TurnResult] = asyncio.Queue()
        self.lines: asyncio.Queue[str | None] = asyncio.Queue()
        self.daemon = build_daemon(
            settings,
            mic=None,
            on_turn=self._turn,
            context=FixedWindow("firefox", "LOKI - Mozilla Firefox", "linux"),
            watch_profiles=True,
            profiles_poll_s=POLL_S,
            **wiring,
        )

    def _turn(self, result: TurnResult, command: CommandHeard) -> None:
        self.results.put_nowait(result)

    async def _typed(self) -> AsyncIterator[str]:
        while (line := await self.lines.get()) is not None:
            yield line

    async def say(self, text: str) -> TurnResult:
        self.lines.put_nowait(text)
        return await asyncio.wait_for(self.results.get(), WAIT_S)

    def run(self) -> asyncio.Task[None]:
        return asyncio.create_task(self.daemon.run(lines=self._typed()))


def reloads(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("profiles reloaded: ")]


def refusals(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.getMessage().startswith("profiles not reloaded")]


KRAKEN = [{"type": "hotkey", "keys": ["ctrl", "shift", "k"]}]
RELEASE = [{"type": "hotkey", "keys": ["ctrl", "shift", "r"]}]


async def test_an_edited_profile_is_reloaded_and_a_broken_edit_keeps_the_old_rules(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="loki")
    path = rule_file(settings)
    loki = TypedDaemon(settings)
    runner = loki.run()

    before = await loki.say("summon the kraken")
    assert before.tier is None and before.actions == [], "no rule says this yet"

    # A new file in a folder that did not exist when LOKI started: its rule works at tier 0.
    write(path, "# my rules", "summon the kraken: hotkey ctrl shift k")
    await until(lambda: len(reloads(caplog)) == 1, "the new file to be loaded")
    assert reloads(caplog)[0].endswith(" files") and "rules from" in reloads(caplog)[0]
    summoned = await loki.say("summon the kraken")
    assert summoned.tier == 0 and summoned.actions == KRAKEN
    assert summoned.detail["rule"] == {"file": str(path), "line": 2, "match": "exact"}

    # A broken edit: reported once with its file and line; the rule before it still works.
    write(path, "# my rules", "summon the kraken: hotkey ctrl shift k", "release the kraken hotkey ctrl shift r")
    await until(lambda: bool(refusals(caplog)), "the broken edit to be reported")
    assert f"{path}:3: " in refusals(caplog)[0] and "colon is missing" in refusals(caplog)[0]
    assert "old rules stay in force" in refusals(caplog)[0]
    still = await loki.say("summon the kraken")
    assert still.tier == 0 and still.actions == KRAKEN
    assert (await loki.say("release the kraken")).tier is None
    # The same error again (the file saved once more, unchanged) is not reported again.
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000_000))
    await asyncio.sleep(20 * POLL_S)
    assert len(refusals(caplog)) == 1 and len(reloads(caplog)) == 1

    # The fix: both rules work.
    write(path, "# my rules", "summon the kraken: hotkey ctrl shift k", "release the kraken: hotkey ctrl shift r")
    await until(lambda: len(reloads(caplog)) == 2, "the fixed file to be loaded")
    released = await loki.say("release the kraken")
    assert released.tier == 0 and released.actions == RELEASE
    assert released.detail["rule"]["line"] == 3
    assert (await loki.say("summon the kraken")).actions == KRAKEN

    # Help lists the rules tier 0 has now; a deleted file takes its rules with it.
    helped = await loki.say("what can I say")
    assert {c["say"] for c in helped.detail["commands"] if c["file"] == str(path)} == {
        "summon the kraken",
        "release the kraken",
    }
    path.unlink()
    await until(lambda: len(reloads(caplog)) == 3, "the deleted file to be noticed")
    assert (await loki.say("summon the kraken")).tier is None

    loki.lines.put_nowait(None)
    await asyncio.wait_for(runner, WAIT_S)


async def test_a_learned_command_reloads_through_the_same_path(
    env: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    """With dry run off, "remember this as" writes learned.loki and reloads at once; the watcher agrees."""
    caplog.set_level(logging.INFO, logger="loki")
    driver = RecordingDriver()
    loki = TypedDaemon(settings_from({**env, "LOKI_DRY_RUN": "0"}), driver_factory=lambda: driver)
    runner = loki.run()
    assert (await loki.say("new tab")).tier == 0
    learned = await loki.say("remember this as fresh tab")
    assert learned.ok and "fresh tab" in learned.reply
    assert reloads(caplog), "learning reloads the profiles through the same path"
    again = await loki.say("fresh tab")
    assert again.tier == 0 and again.actions == [{"type": "hotkey", "keys": ["ctrl", "t"]}]
    await until(lambda: len(reloads(caplog)) == 2, "the watcher to see learned.loki")  # and agree with it
    assert (await loki.say("fresh tab")).tier == 0
    loki.lines.put_nowait(None)
    await asyncio.wait_for(runner, WAIT_S)
    assert not refusals(caplog)
    assert driver.calls == [("hotkey", ("ctrl", "t"))] * 3


async def test_the_command_rescorer_picks_from_the_reloaded_rules(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Near-miss commands are scored against the rules in force: a reload reaches the rescorer too."""
    caplog.set_level(logging.INFO, logger="loki")
    mic = ArrayMicrophone(np.zeros(60 * 16000, dtype=np.float32), realtime=True)  # a quiet room, for a minute
    daemon = build_daemon(
        settings, mic=mic, transcriber=ScriptedTranscriber([]), watch_profiles=True, profiles_poll_s=POLL_S
    )
    assert daemon.recognizer is not None and daemon.recognizer.rescorer is not None
    rescorer = daemon.recognizer.rescorer
    assert "summon the kraken" not in {c.phrase for c in rescorer.candidates("en")}
    runner = asyncio.create_task(daemon.run())
    write(rule_file(settings), "summon the kraken: hotkey ctrl shift k")
    await until(lambda: bool(reloads(caplog)), "the new file to be loaded")
    assert "summon the kraken" in {c.phrase for c in rescorer.candidates("en")}
    assert not rescorer.worth_trying("summon the kraken", "en"), "tier 0 understands it now"
    daemon.stop("test")
    await asyncio.wait_for(runner, WAIT_S)


def test_loki_run_reloads_a_profile_edited_while_it_runs(env: dict[str, str]) -> None:
    """`loki run --text` watches the profiles: a rule written while it runs is used without a restart."""
    path = Path(env["LOKI_USER_PROFILES_DIR"]) / "en" / "mine.loki"
    base = {k: v for k, v in os.environ.items() if not k.startswith("LOKI_") and k != "DISPLAY"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", "run", "--text", "--dry-run", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**base, **env, "LOKI_REPLY_MODE": "text", "LOKI_EARCONS": "0"},
        cwd=REPO,
    )
    assert proc.stdin is not None and proc.stdout is not None

    def say(text: str) -> dict[str, object]:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(text + "\n")
        proc.stdin.flush()
        while not (line := proc.stdout.readline()).startswith("{"):
            assert line, "loki run ended early"
        return json.loads(line)

    try:
        assert say("summon the kraken")["tier"] is None
        write(path, "summon the kraken: hotkey ctrl shift k")
        deadline = time.monotonic() + WAIT_S
        while (turn := say("summon the kraken"))["tier"] is None:
            assert time.monotonic() < deadline, "the new rule was never loaded"
            time.sleep(0.2)
        assert turn["tier"] == 0 and turn["actions"] == KRAKEN
        _, err = proc.communicate(timeout=WAIT_S)  # closes stdin: the input ends
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "profiles reloaded: " in err and "Traceback" not in err


class CountingEncoder:
    """The real sentence encoder, counting the sentences it is asked to encode."""

    name = "counting"

    def __init__(self) -> None:
        from loki.brain.meaning import UniversalSentenceEncoder

        self.inner = UniversalSentenceEncoder()
        self.texts: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.texts += texts
        return self.inner.encode(texts)


def test_matching_by_meaning_encodes_only_the_new_wordings_after_a_reload(settings: Settings) -> None:
    """Vectors of rules that did not change are kept across a reload (even in dry run, with no cache written)."""
    from loki.brain.meaning import MeaningCommands
    from loki.brain.tier0 import LocalCommands
    from loki.profiles.matcher import Matcher
    from loki.profiles.watch import ProfileReload
    from loki.wiring import load_all_profiles

    encoder = CountingEncoder()
    local = LocalCommands(Matcher(load_all_profiles(settings)))
    meaning = MeaningCommands(local, cache_dir=None, encoder_factory=lambda: encoder)
    reload = ProfileReload(lambda: load_all_profiles(settings))
    reload.follow(local.use)
    meaning.warm_up(["en"])
    before = len(encoder.texts)
    assert before > 0 and "summon the kraken" not in encoder.texts
    write(rule_file(settings), "summon the kraken: hotkey ctrl shift k", "~ wake the sea monster")
    reload()
    meaning.warm_up(["en"])
    assert sorted(encoder.texts[before:]) == ["summon the kraken", "wake the sea monster"]
    match = meaning.index.match("wake the sea monster", "en")
    assert match is not None and match.actions == KRAKEN
