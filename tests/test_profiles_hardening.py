"""A stray regex or a careless rule cannot freeze LOKI, and `loki profiles check` says what is wrong.

Slow patterns are ones the shape check does not know ((a|aa)+$ backtracks for ever on a near
miss, like (a+)+$): they must cost at most the time limit wherever they sit, in a raw phrase or a
window-title scope, and neither the event loop nor SIGTERM may wait for them.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from loki.brain.tier0 import LocalCommands
from loki.brain.tiers import Turn
from loki.errors import ProfileError
from loki.profiles.loader import ProfileWarning, check_profiles, load_file, load_profiles, shipped_profiles_dir
from loki.profiles.matcher import Matcher
from loki.profiles.regexes import MATCH_TIMEOUT_S, catastrophic_shape
from loki.screen.window import Context

REPO = Path(__file__).resolve().parent.parent
SLOW = "(a|aa)+$"  # not one of the named shapes, and exponential on "aaa...ab"
NEAR_MISS = "a" * 48 + "b"


def profile(folder: Path, text: str, name: str = "mine.loki") -> Path:
    (folder / "en").mkdir(parents=True, exist_ok=True)
    path = folder / "en" / name
    path.write_text(text, encoding="utf-8")
    return path


# The shapes `profiles check` names -------------------------------------------------------
@pytest.mark.parametrize("pattern", ["(a+)+$", "(a|a)*b", "(.*)*x", "(a*)*", r"(\w+\s?)+$", "((?:ab)+)+"])
def test_catastrophic_shapes_are_named(pattern: str) -> None:
    assert catastrophic_shape(pattern)


@pytest.mark.parametrize(
    "pattern", [r"(\w+\s)+$", "(a+b)+", r"^open (?:the )?(?P<text>.+)$", "terminal|xterm", r"(\d+,)*\d+", "(a|b)+"]
)
def test_ordinary_patterns_are_not_named(pattern: str) -> None:
    assert catastrophic_shape(pattern) == ""


def test_a_catastrophic_raw_phrase_fails_the_check_with_file_and_line(tmp_path: Path) -> None:
    path = profile(tmp_path, "# mine\nhello: speak hi\n/(a+)+$/: speak many a\n")
    with pytest.raises(ProfileError) as err:
        load_file(path, default_language="en")
    assert err.value.path == str(path) and err.value.line == 3
    assert "(a+)+" in str(err.value) and "a+ instead of (a+)+" in str(err.value)


def test_a_catastrophic_title_pattern_fails_the_check(tmp_path: Path) -> None:
    path = profile(tmp_path, "title: /(.*)*editor/\n-\nsave it: hotkey ctrl s\n")
    with pytest.raises(ProfileError) as err:
        load_file(path, default_language="en")
    assert err.value.line == 1 and "for ever" in str(err.value)


# Slow patterns cost at most the time limit -----------------------------------------------
def test_a_slow_raw_phrase_costs_at_most_the_time_limit(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = profile(tmp_path, f"/{SLOW}/: speak many a\n")
    matcher = Matcher(load_profiles([(tmp_path, True)]))
    started = time.monotonic()
    assert matcher.match(NEAR_MISS, "en") is None
    assert matcher.match(NEAR_MISS, "en") is None
    assert time.monotonic() - started < 20 * MATCH_TIMEOUT_S + 1.0
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len([w for w in warnings if f"{path}:1" in w]) == 1  # logged once, with file and line
    assert matcher.match("aaa", "en") is not None  # a fast match still works


def test_a_slow_title_scope_does_not_hang_other_rules(tmp_path: Path) -> None:
    profile(tmp_path, f"title: /{SLOW}/\n-\nsave it: hotkey ctrl s\n")
    matcher = Matcher(load_profiles([(shipped_profiles_dir(), False), (tmp_path, True)]))
    started = time.monotonic()
    match = matcher.match("what time is it", "en", os_name="linux", app="xterm", title=NEAR_MISS)
    assert time.monotonic() - started < 2.0
    assert match is not None and match.actions[0]["type"] == "speak"


async def test_routing_keeps_the_event_loop_responsive(tmp_path: Path) -> None:
    rules = "".join(f"/{SLOW}{'x' * i}/: speak rule {i}\n" for i in range(15))
    profile(tmp_path, rules)
    tier0 = LocalCommands(Matcher(load_profiles([(tmp_path, True)])))
    gaps: list[float] = []

    async def tick() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(time.monotonic() - last)
            last = time.monotonic()

    ticker = asyncio.create_task(tick())
    started = time.monotonic()
    plan = await tier0.plan(Turn(NEAR_MISS, "en", Context("linux", "", ""), ()))
    elapsed_s = time.monotonic() - started
    ticker.cancel()
    await asyncio.gather(ticker, return_exceptions=True)
    assert plan is None and elapsed_s < 30 * 2 * MATCH_TIMEOUT_S + 2.0
    assert len(gaps) > 5 and max(gaps) < 0.3


def test_sigterm_stops_the_daemon_within_two_seconds(tmp_path: Path, settings_env: dict[str, str]) -> None:
    profile(Path(settings_env["LOKI_USER_PROFILES_DIR"]), f"/{SLOW}/: speak many a\n")
    env = {
        **os.environ,
        **settings_env,
        "LOKI_DRY_RUN": "1",
        "LOKI_REPLY_MODE": "text",
        "LOKI_EARCONS": "0",
        "PYTHONPATH": str(REPO),
    }
    daemon = subprocess.Popen(
        [sys.executable, "-m", "loki", "run", "--text", "--json"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert daemon.stdin is not None and daemon.stdout is not None
        daemon.stdin.write("what time is it\n")
        daemon.stdin.flush()
        first = daemon.stdout.readline()  # the daemon is up and answering
        assert '"tier": 0' in first, first + (daemon.stderr.read() if daemon.poll() is not None else "")
        daemon.stdin.write(NEAR_MISS + "\n")
        daemon.stdin.flush()
        time.sleep(0.3)
        sent = time.monotonic()
        daemon.send_signal(signal.SIGTERM)
        daemon.wait(timeout=10)
        assert time.monotonic() - sent < 2.0
    finally:
        if daemon.poll() is None:
            daemon.kill()
            daemon.wait()


# Rules that can never match, and duplicates ----------------------------------------------
@pytest.mark.parametrize(
    ("rule", "dropped"),
    [
        ("please dim: volume -10", "please"),
        ("dim the screen please: volume -10", "please"),
        ("just dim: volume -10", "just"),
    ],
)
def test_a_rule_with_filler_words_is_an_error(tmp_path: Path, rule: str, dropped: str) -> None:
    path = profile(tmp_path, f"# mine\n\n{rule}\n")
    with pytest.raises(ProfileError) as err:
        load_file(path, default_language="en")
    assert err.value.line == 3 and "can never match" in str(err.value) and repr(dropped) in str(err.value)


def test_fillers_that_leave_the_rule_reachable_are_fine(tmp_path: Path) -> None:
    path = profile(
        tmp_path, "[please] dim: volume -10\nthank you: speak You're welcome.\n(please dim | dim it): volume -5\n"
    )
    assert len(load_file(path, default_language="en")) == 3


def test_duplicates_are_warned_about_with_file_and_line(tmp_path: Path) -> None:
    path = profile(
        tmp_path,
        "{app} browser: browser | web browser | browser\n{app} browser: web browser\nopen (browser | browser): launch browser\n",
    )
    warnings: list[ProfileWarning] = []
    rules = load_file(path, default_language="en", warnings=warnings)
    assert len(rules) == 1
    assert [(w.line, w.message) for w in warnings] == [
        (1, "'browser' is listed twice in list {app}"),
        (2, "'web browser' is listed twice in list {app}"),
        (3, "the alternative 'browser' is written twice"),
    ]
    assert str(warnings[0]).startswith(f"{path}:1: ")


def test_a_spoken_form_that_means_two_things_is_an_error(tmp_path: Path) -> None:
    path = profile(tmp_path, "{app} firefox: browser\n{app} chromium: browser\nopen {app}: launch {app}\n")
    with pytest.raises(ProfileError) as err:
        load_file(path, default_language="en")
    assert err.value.line == 2 and "already stands for 'firefox'" in str(err.value)


def test_the_shipped_profiles_pass_the_check_without_warnings() -> None:
    warnings: list[ProfileWarning] = []
    ok, errors = check_profiles([(shipped_profiles_dir(), False)], warnings)
    assert ok and errors == [] and warnings == []


def test_profiles_check_reports_errors_and_warnings(settings_env: dict[str, str]) -> None:
    folder = Path(settings_env["LOKI_USER_PROFILES_DIR"])
    bad = profile(folder, "/(a+)+$/: speak many a\n", "bad.loki")
    redundant = profile(folder, "open (browser | browser): launch browser\n", "redundant.loki")
    run = subprocess.run(
        [sys.executable, "-m", "loki", "profiles", "check"],
        env={**os.environ, **settings_env, "PYTHONPATH": str(REPO)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 1
    assert f"ERROR  {bad}:1:" in run.stdout and f"WARN   {redundant}:1:" in run.stdout


# Dictation keeps the user's symbols ------------------------------------------------------
@pytest.mark.parametrize(
    ("said", "typed"),
    [
        ("type 50%", "50%"),
        ("type ~/notes.txt", "~/notes.txt"),
        ("type -v --verbose", "-v --verbose"),
        ("type Hello, World!", "Hello, World!"),
        ("type (a + b) * c", "(a + b) * c"),
    ],
)
def test_the_text_slot_keeps_leading_and_trailing_symbols(said: str, typed: str) -> None:
    match = Matcher(load_profiles([(shipped_profiles_dir(), False)])).match(said, "en")
    assert match is not None and match.actions == [{"type": "type", "text": typed}]
