"""Typed input the user did not mean: bytes that are not UTF-8 on stdin, and answers to questions in `loki run --text`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from loki.llm.fakeserver import CannedLlmServer

REPO = Path(__file__).resolve().parent.parent
CLOSE_TAB = json.dumps({"actions": [{"type": "hotkey", "keys": ["ctrl", "w"]}], "reply": "Closing the tab."})


def _env(settings_env: dict[str, str], **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOKI_") and k != "DISPLAY"}
    return {**env, **settings_env, "LOKI_REPLY_MODE": "text", "LOKI_EARCONS": "0", **extra}


def _loki(args: list[str], stdin: bytes, env: dict[str, str]) -> tuple[int, list[dict[str, Any]], str]:
    out = subprocess.run(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", *args],
        input=stdin,
        capture_output=True,
        env=env,
        cwd=REPO,
        timeout=90,
    )
    stdout, stderr = out.stdout.decode(), out.stderr.decode(errors="replace")
    return out.returncode, [json.loads(line) for line in stdout.splitlines() if line.startswith("{")], stderr


def test_say_from_stdin_skips_a_line_that_is_not_utf8_and_keeps_the_rest(settings_env: dict[str, str]) -> None:
    """It crashed with UnicodeDecodeError and lost every line."""
    stdin = b"open a new tab\nscroll d\xffown\nscroll down\n\xe7\xe0\xea\xf0\xee\xe9 \xee\xea\xed\xee\nnew tab\n"
    code, results, stderr = _loki(["say", "--dry-run", "--json", "-"], stdin, _env(settings_env))
    assert [r["text"] for r in results] == ["open a new tab", "scroll down", "new tab"]
    assert [r["actions"] for r in results] == [
        [{"type": "hotkey", "keys": ["ctrl", "t"]}],
        [{"type": "scroll", "clicks": -5}],
        [{"type": "hotkey", "keys": ["ctrl", "t"]}],
    ]
    assert "input line 2 is not UTF-8 (byte 0xff at column 9), so it was skipped" in stderr
    assert "input line 4 is not UTF-8 (byte 0xe7 at column 1)" in stderr
    assert "Traceback" not in stderr
    assert code == 1  # a line was not carried out


def test_run_text_skips_a_line_that_is_not_utf8_and_keeps_the_rest(settings_env: dict[str, str]) -> None:
    """The bad line reached a turn as lone surrogates: the trace write failed and the stage restarted."""
    stdin = b"open a new tab\n\xff\xfe bad\nscroll down\nnew tab\n"
    code, results, stderr = _loki(["run", "--text", "--dry-run", "--json"], stdin, _env(settings_env))
    assert code == 0, stderr
    assert [r["transcript"] for r in results] == ["open a new tab", "scroll down", "new tab"]
    assert "Traceback" not in stderr and "restarting" not in stderr
    assert "input line 2 is not UTF-8 (byte 0xff at column 1), so it was skipped" in stderr


def test_run_text_takes_the_next_line_as_the_answer_to_a_question(settings_env: dict[str, str]) -> None:
    """The command reader took "yes" first: the question timed out and "yes" became a new request.

    A model's plan (from a real server on 127.0.0.1) needs a yes; the lines are piped all at once.
    """
    lines = "get rid of this tab\nno\nget rid of this tab\nyes\nwhat time is it\n"
    with CannedLlmServer(CLOSE_TAB) as server:
        env = _env(settings_env, LOKI_LLM_BACKEND="openai", LOKI_LLM_URL=server.openai_url, LOKI_CONFIRM_TIMEOUT_S="4")
        code, results, stderr = _loki(["run", "--text", "--json"], lines.encode(), env)
        asked = len(server.requests)
    assert code == 0, stderr
    assert [r["transcript"] for r in results] == ["get rid of this tab", "get rid of this tab", "what time is it"]
    assert asked == 2  # "no" and "yes" were answers, not requests for the model
    declined, agreed, _ = results
    assert declined["reply"].endswith("Okay, I won't do it.") and declined["error"] == "not_executed"
    assert "confirmation answer 'no' -> no" in stderr
    assert "confirmation answer 'yes' -> yes" in stderr
    # Without a desktop the key press itself fails, which proves the yes was taken.
    assert "Cannot reach the desktop" in agreed["reply"] and "won't do it" not in agreed["reply"]
