"""Privacy: traces and screenshots only the user can read, no typed text in traces, bounded traces and results."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_daemon import _beeps
from test_tier1 import loki, plan

from loki.config import Settings
from loki.llm.fakeserver import CannedLlmServer
from loki.stt.fake import ScriptedTranscriber

REPO = Path(__file__).resolve().parent.parent
SECRET = "hunter2"


@pytest.fixture
def permissive_umask() -> Iterator[None]:
    """The umask many desktops run with: new files 0644, new folders 0755."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def files_holding(folder: Path, text: str) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file() and text.encode() in p.read_bytes()]


def trace_records(settings_env: dict[str, str]) -> list[dict]:
    folder = Path(settings_env["LOKI_STATE_DIR"]) / "traces"
    return [json.loads(line) for p in sorted(folder.glob("*.jsonl")) for line in p.read_text("utf-8").splitlines()]


async def test_traces_are_private_even_with_a_permissive_umask(
    settings_env: dict[str, str], permissive_umask: None
) -> None:
    async with loki(settings_env, LOKI_LLM_BACKEND="none") as (orch, _):
        assert (await orch.handle("new tab")).ok
    state = Path(settings_env["LOKI_STATE_DIR"])
    (trace,) = (state / "traces").glob("*.jsonl")
    assert mode(trace) == 0o600
    assert mode(state / "traces") == 0o700
    assert mode(state) == 0o700, "a state folder LOKI makes is private too"


async def test_looser_modes_of_existing_traces_are_fixed(settings_env: dict[str, str], permissive_umask: None) -> None:
    async with loki(settings_env, LOKI_LLM_BACKEND="none") as (orch, _):
        await orch.handle("new tab")
        (trace,) = (Path(settings_env["LOKI_STATE_DIR"]) / "traces").glob("*.jsonl")
        os.chmod(trace, 0o644)
        os.chmod(trace.parent, 0o755)
        await orch.handle("new tab")
    assert mode(trace) == 0o600 and mode(trace.parent) == 0o700
    assert len(trace.read_text(encoding="utf-8").splitlines()) == 2


async def test_typed_text_stays_out_of_every_file_in_the_state_folder(settings_env: dict[str, str]) -> None:
    async with loki(settings_env, LOKI_LLM_BACKEND="none") as (orch, driver):
        result = await orch.handle("type my password is hunter2")
        await orch.handle("remember this as log me in")
        await orch.handle("what is the weather like")  # not understood: the transcript is kept whole
    assert result.ok and driver.calls == [("type_text", ("my password is hunter2",))]
    assert files_holding(Path(settings_env["LOKI_STATE_DIR"]), SECRET) == []
    typed, learned, unknown = trace_records(settings_env)
    assert typed["turn"]["text"] == "type ‹22 chars›"
    assert typed["turn"]["actions"] == [{"type": "type", "chars": 22}]
    assert learned["turn"]["text"] == "remember this as log me in" and "‹22 chars›" in learned["turn"]["reply"]
    assert unknown["turn"]["text"] == "what is the weather like"


async def test_typed_text_is_traced_when_asked_for(settings_env: dict[str, str]) -> None:
    async with loki(settings_env, LOKI_LLM_BACKEND="none", LOKI_TRACE_TYPED_TEXT="1") as (orch, _):
        await orch.handle("type my password is hunter2")
    (record,) = trace_records(settings_env)
    assert record["turn"]["text"] == "type my password is hunter2"
    assert record["turn"]["actions"] == [{"type": "type", "text": "my password is hunter2"}]


async def test_a_models_typed_text_and_its_echo_stay_out_of_traces(settings_env: dict[str, str]) -> None:
    answer = plan({"type": "type", "text": "Hunter2 is my password"}, reply="I typed hunter2 is my password.")
    with CannedLlmServer(answer) as server:
        async with loki(settings_env, server) as (orch, driver):
            result = await orch.handle("fill in my password for the forum")
    assert result.tier == 1 and driver.calls == [("type_text", ("Hunter2 is my password",))]
    assert files_holding(Path(settings_env["LOKI_STATE_DIR"]), SECRET) == []
    (record,) = trace_records(settings_env)
    assert record["turn"]["reply"] == "I typed ‹22 chars›."
    assert record["turn"]["text"] == "fill in my password for the forum"


def test_loki_say_in_dry_run_writes_only_a_private_trace(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_STATE_HOME": str(home / ".local/state"),
        "XDG_CONFIG_HOME": str(home / ".config"),
        "XDG_CACHE_HOME": str(home / ".cache"),
        "XDG_DATA_HOME": str(home / ".local/share"),
        "LOKI_LLM_BACKEND": "none",
        "LOKI_DRY_RUN": "1",
    }
    for name in ("LOKI_STATE_DIR", "LOKI_USER_PROFILES_DIR", "LOKI_SCREENSHOT_DIR", "LOKI_TRACE"):
        env.pop(name, None)
    home.mkdir()
    out = subprocess.run(
        [sys.executable, "-m", "loki", "say", "--json", "-"],
        input="type my password is hunter2\nremember this as log me in\ntake a screenshot\n",
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    replies = [json.loads(line)["reply"] for line in out.stdout.splitlines()]
    assert replies[1].startswith("Dry run: I would remember “log me in”")
    written = sorted(str(p.relative_to(home)) for p in home.rglob("*") if p.is_file())
    assert written == [".local/state/loki/traces/turns.jsonl"]
    trace = home / ".local/state/loki/traces/turns.jsonl"
    assert mode(trace) == 0o600 and SECRET not in trace.read_text(encoding="utf-8")
    assert len(trace.read_text(encoding="utf-8").splitlines()) == 3


async def test_traces_rotate_at_the_size_cap_and_keep_three_old_files(settings_env: dict[str, str]) -> None:
    async with loki(settings_env, LOKI_LLM_BACKEND="none", LOKI_TRACE_MAX_KB="1") as (orch, _):
        for n in range(40):
            await orch.handle(f"what is {n}" if n % 2 else "new tab")  # some not understood
        await orch.handle("scroll down")
    folder = Path(settings_env["LOKI_STATE_DIR"]) / "traces"
    files = sorted(p.name for p in folder.iterdir())
    assert files == ["turns.1.jsonl", "turns.2.jsonl", "turns.3.jsonl", "turns.jsonl"]
    for name in files:
        path = folder / name
        assert path.stat().st_size <= 1024 and mode(path) == 0o600
        assert all(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines())
    last = json.loads((folder / "turns.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert last["turn"]["text"] == "scroll down"
    older = json.loads((folder / "turns.1.jsonl").read_text(encoding="utf-8").splitlines()[-1])
    assert older["ts"] <= last["ts"]


def test_a_screenshot_is_private(xserver: str, tmp_path: Path, permissive_umask: None) -> None:
    from loki.actions import desktop

    made = desktop.screenshot(str(tmp_path / "new" / "shots"))
    assert made.read_bytes().startswith(b"\x89PNG")
    assert mode(made) == 0o600
    assert mode(made.parent) == 0o700 and mode(made.parent.parent) == 0o700
    pictures = tmp_path / "Pictures"
    pictures.mkdir(mode=0o755)
    shot = desktop.screenshot(str(pictures))
    assert mode(shot) == 0o600 and mode(pictures) == 0o755, "the user's own folder keeps its mode"


async def test_the_daemon_keeps_only_recent_results(dry_run_settings: Callable[..., Settings]) -> None:
    from loki.daemon import RESULTS_KEPT
    from loki.events import CommandHeard
    from loki.wiring import build_daemon

    settings = dry_run_settings()
    daemon = build_daemon(settings, mic=None, transcriber=ScriptedTranscriber([]))
    try:
        for n in range(RESULTS_KEPT * 3):
            await daemon.handle(CommandHeard(f"scroll down {n}", source="text"))
    finally:
        await daemon.aclose()
        daemon.orchestrator.executor.close()
    assert len(daemon.results) == RESULTS_KEPT
    assert daemon.results[-1].text == f"scroll down {RESULTS_KEPT * 3 - 1}"


async def test_replay_still_reports_every_turn(
    dry_run_settings: Callable[..., Settings], monkeypatch: pytest.MonkeyPatch
) -> None:
    from loki import daemon
    from loki.cli.replay import replay

    monkeypatch.setattr(daemon, "RESULTS_KEPT", 1)
    settings = dry_run_settings()
    lines: list[str] = []
    # replay warms the recognizer up on silence first (the "")
    stt = ScriptedTranscriber(["", "hey loki open the moon", "hey loki new tab", "hey loki scroll down"])
    results = await replay(_beeps(3), settings, transcriber=stt, on_turn=lambda r, _: lines.append(r.text))
    assert [r.ok for r in results] == [False, True, True], "the failed first turn still decides the exit code"
    assert lines == ["open the moon", "new tab", "scroll down"]
