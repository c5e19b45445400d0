"""Settings: typed values, clear errors that name the variable, secrets never shown."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from loki.config import (
    GLOBAL_SETTINGS,
    STAGE_SETTINGS,
    ActionSettings,
    BrainSettings,
    ListenSettings,
    LlmSettings,
    ProfileSettings,
    ScreenSettings,
    Settings,
    SttSettings,
    TtsSettings,
    env_names,
    load_settings,
    settings_from,
)
from loki.errors import ConfigError

REPO = Path(__file__).resolve().parent.parent


def test_defaults_match_the_contract() -> None:
    s = settings_from({})
    assert (s.language, s.wake_phrase, s.llm_backend, s.llm_timeout_s, s.dry_run) == (
        "en",
        "hey loki",
        "llama_cpp",
        20.0,
        False,
    )


def test_values_are_parsed() -> None:
    s = settings_from(
        {"LOKI_LANGUAGE": "RU", "LOKI_DRY_RUN": "1", "LOKI_LLM_TIMEOUT_S": "2.5", "LOKI_APPS_ALLOW": "gimp, inkscape"}
    )
    assert s.language == "ru" and s.dry_run is True and s.llm_timeout_s == 2.5 and s.apps_allow == ("gimp", "inkscape")


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"LOKI_LLM_BACKEND": "gpt5"}, "LOKI_LLM_BACKEND='gpt5' is not allowed: use one of llama_cpp"),
        ({"LOKI_LLM_TIMEOUT_S": "-3"}, "LOKI_LLM_TIMEOUT_S='-3' is out of range"),
        ({"LOKI_LLM_TIMEOUT_S": "soon"}, "LOKI_LLM_TIMEOUT_S='soon' is not a number"),
        ({"LOKI_LLM_MODEL": "/nowhere/model.gguf"}, "LOKI_LLM_MODEL='/nowhere/model.gguf': no such file"),
        ({"LOKI_DRY_RUN": "maybe"}, "LOKI_DRY_RUN='maybe' is not a boolean"),
        ({"LOKI_VAD_AGGRESSIVENESS": "7"}, "LOKI_VAD_AGGRESSIVENESS='7' is out of range"),
        ({"LOKI_LANGAUGE": "en"}, "Unknown setting LOKI_LANGAUGE: did you mean LOKI_LANGUAGE?"),
        ({"LOKI_DRYRUN": "1"}, "Unknown setting LOKI_DRYRUN: did you mean LOKI_DRY_RUN? (set in the environment)"),
        ({"LOKI_LLM_TIMEOUT_S": "nan"}, "LOKI_LLM_TIMEOUT_S='nan' is not a finite number"),
        ({"LOKI_CONFIRM_TIMEOUT_S": "inf"}, "LOKI_CONFIRM_TIMEOUT_S='inf' is not a finite number"),
        ({"LOKI_FOLLOWUP_S": "-inf"}, "LOKI_FOLLOWUP_S='-inf' is"),
        ({"LOKI_WAKE_THRESHOLD": "NaN"}, "LOKI_WAKE_THRESHOLD='NaN' is not a finite number"),
        ({"LOKI_SPEAKER_LATENCY_MS": "Infinity"}, "LOKI_SPEAKER_LATENCY_MS='Infinity' is not a finite number"),
        ({"LOKI_WAKE_PHRASE": "hey \udcff"}, "LOKI_WAKE_PHRASE has a byte that is not UTF-8 at position 5"),
        ({"LOKI_LLM_FALLBACK": "ollama,skynet"}, "LOKI_LLM_FALLBACK names 'skynet'"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        settings_from(env)
    assert fragment in str(err.value)


def test_dotenv_is_read_and_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LOKI_LANGUAGE=ru\nLOKI_LLM_TIMEOUT_S=5\n", encoding="utf-8")
    s = load_settings(env_file, environ={"LOKI_LLM_TIMEOUT_S": "7"} | {k: v for k, v in [("LOKI_LANGUAGE", "ru")]})
    assert s.language == "ru" and s.llm_timeout_s == 7.0


def test_secrets_are_masked() -> None:
    s = settings_from({"LOKI_LLM_API_KEY": "sk-very-secret", "LOKI_LLM_BACKEND": "openai"})
    assert "sk-very-secret" not in repr(s)
    assert s.redacted()["LOKI_LLM_API_KEY"] == "***"


def test_env_example_lists_every_setting() -> None:
    text = (REPO / ".env.example").read_text(encoding="utf-8")
    missing = [name for name in env_names() if f"{name}=" not in text]
    assert not missing, f".env.example lacks {missing}: run python -m loki.config --example > .env.example"


def test_a_typo_in_the_environment_is_an_error_not_ignored(tmp_path: Path) -> None:
    """LOKI_DRYRUN=1 used to be dropped silently, so dry-run was off and text was really typed."""
    with pytest.raises(ConfigError, match="Unknown setting LOKI_DRYRUN: did you mean LOKI_DRY_RUN"):
        load_settings(None, environ={"LOKI_DRYRUN": "1", "HOME": str(tmp_path)})
    out = subprocess.run(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", "say", "--json", "hello"],
        env={**_clean_env(), "LOKI_DRYRUN": "1", "LOKI_LLM_BACKEND": "none"},
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 2
    assert json.loads(out.stdout) == {  # under --json the error is one object, with no "tier" (issue 17)
        "error": "config",
        "message": "Unknown setting LOKI_DRYRUN: did you mean LOKI_DRY_RUN? (set in the environment)",
    }
    assert "Unknown setting LOKI_DRYRUN: did you mean LOKI_DRY_RUN?" in out.stderr


def test_a_typo_in_dotenv_names_the_file_and_line(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LOKI_LANGUAGE=en\n\nLOKI_DRY_RUNN=1\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(env_file, environ={})
    assert str(err.value) == f"Unknown setting LOKI_DRY_RUNN: did you mean LOKI_DRY_RUN? (set in {env_file} line 3)"


def test_dotenv_with_bytes_that_are_not_utf8_names_file_line_and_byte(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_bytes(b"LOKI_LANGUAGE=ru\nLOKI_WAKE_PHRASE=\xfd\xe9 \xeb\xee\xea\xe8\n")  # cp1251
    with pytest.raises(ConfigError) as err:
        load_settings(env_file, environ={})
    assert str(err.value).startswith(f"{env_file} line 2: byte 0xfd at column 18 is not UTF-8")


@pytest.mark.parametrize("line", ["LOKI_DRY_RUN = '1", "LOKI_DRY_RUN 1", "'LOKI_DRY_RUN'=\"1"])
def test_a_dotenv_line_that_cannot_be_read_is_an_error_not_skipped(tmp_path: Path, line: str) -> None:
    """A skipped line could be the LOKI_DRY_RUN=1 the user counts on."""
    env_file = tmp_path / ".env"
    env_file.write_text(f"LOKI_LANGUAGE=en\n{line}\nLOKI_TRACE=0\n", encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(env_file, environ={})
    assert str(err.value).startswith(f"{env_file} line 2: cannot read ")


def test_a_good_dotenv_still_reads_quotes_comments_and_export(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        '# comment\nexport LOKI_WAKE_PHRASE="hey  loki" # trailing\nLOKI_LANGUAGE=ru\n\nLOKI_DRY_RUN=1\n',
        encoding="utf-8",
    )
    s = load_settings(env_file, environ={})
    assert (s.wake_phrase, s.language, s.dry_run) == ("hey  loki", "ru", True)


@pytest.mark.parametrize("key", ["sk-\u2014abc", "sk-\u00a0abc", "ключ", "sk-abc\ndef"])
def test_an_api_key_that_is_not_ascii_is_rejected_without_showing_it(key: str) -> None:
    """httpx cannot put such a key in a header: it was a traceback on the first request."""
    with pytest.raises(ConfigError) as err:
        settings_from({"LOKI_LLM_BACKEND": "openai", "LOKI_LLM_API_KEY": key})
    assert "LOKI_LLM_API_KEY has a character that is not plain ASCII" in str(err.value)
    assert key.strip() not in str(err.value)


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith("LOKI_")}


# Per-stage groups ------------------------------------------------------------------------

# A value other than the default for every setting, as the environment would give it.
_EVERY_SETTING_CHANGED = {
    "LOKI_LANGUAGE": "ru",
    "LOKI_DRY_RUN": "1",
    "LOKI_LOG_LEVEL": "DEBUG",
    "LOKI_PROFILES_DIRS": "/srv/profiles-a:/srv/profiles-b",
    "LOKI_USER_PROFILES_DIR": "/srv/mine",
    "LOKI_STATE_DIR": "/srv/state",
    "LOKI_TRACE": "0",
    "LOKI_TRACE_TYPED_TEXT": "1",
    "LOKI_TRACE_MAX_KB": "12",
    "LOKI_MODELS_DIR": "/srv/models",
    "LOKI_MEANING": "0",
    "LOKI_APPS_ALLOW": "gimp,inkscape",
    "LOKI_CONFIRM_TIMEOUT_S": "3.5",
    "LOKI_STEP_TIMEOUT_S": "4.5",
    "LOKI_PLAN_TIMEOUT_S": "15",
    "LOKI_VOLUME_MAX_PERCENT": "80",
    "LOKI_VOLUME_TURN_MAX_PERCENT": "20",
    "LOKI_SCREENSHOT_DIR": "/srv/shots",
    "LOKI_DISPLAY_PROFILE": "side-by-side",
    "LOKI_WAKE_PHRASE": "hey jarvis",
    "LOKI_WAKE_ENGINE": "porcupine",
    "LOKI_WAKE_MODEL": "jarvis",
    "LOKI_WAKE_THRESHOLD": "0.7",
    "PICOVOICE_ACCESS_KEY": "pico-secret",
    "LOKI_MIC_DEVICE": "USB",
    "LOKI_VAD_AGGRESSIVENESS": "3",
    "LOKI_VAD_SILENCE_MS": "450",
    "LOKI_VAD_PREROLL_MS": "200",
    "LOKI_MAX_UTTERANCE_S": "8",
    "LOKI_FOLLOWUP_S": "0",
    "LOKI_COMMAND_WINDOW_S": "4",
    "LOKI_PTT_KEY": "f9",
    "LOKI_PTT_MODE": "toggle",
    "LOKI_STT_MODEL": "small",
    "LOKI_STT_THREADS": "2",
    "LOKI_STT_FAST": "0",
    "LOKI_VOICE": "my-voice",
    "LOKI_VOICE_RU": "my-russian-voice",
    "LOKI_SPEAKER_DEVICE": "HDMI",
    "LOKI_TTS_THREADS": "1",
    "LOKI_SPEAKER_LATENCY_MS": "60",
    "LOKI_REPLY_MODE": "voice",
    "LOKI_EARCONS": "0",
    "LOKI_MAX_SPOKEN_CHARS": "200",
    "LOKI_LLM_BACKEND": "ollama",
    "LOKI_LLM_URL": "http://127.0.0.1:11434",
    "LOKI_LLM_MODEL": "qwen",
    "LOKI_LLM_API_KEY": "sk-very-secret",
    "LOKI_LLM_TIMEOUT_S": "9",
    "LOKI_LLM_MAX_REPLY_KB": "16",
    "LOKI_LLM_FALLBACK": "llama_cpp",
    "LOKI_VISION_BACKEND": "ollama",
    "LOKI_VISION_URL": "http://127.0.0.1:11434",
    "LOKI_VISION_MODEL": "qwen2.5vl:3b",
    "LOKI_VISION_MMPROJ": "/dev/null",
    "LOKI_VISION_API_KEY": "vk-test",
    "LOKI_VISION_COORDS": "qwen3",
    "LOKI_VISION_TIMEOUT_S": "9",
    "LOKI_VISION_IMAGE_PX": "1024",
    "LOKI_OCR": "tesseract",
    "LOKI_SCREEN_REDACT_APPS": "keepassxc",
    "LOKI_SCREEN_TRIES": "2",
    "LOKI_SCREEN_BUDGET_S": "12",
    "LOKI_SCREEN_SETTLE_S": "1.5",
}
_GROUP_OF: dict[type, str] = {
    ListenSettings: "listen",
    SttSettings: "stt",
    TtsSettings: "tts",
    LlmSettings: "llm",
    ActionSettings: "actions",
    BrainSettings: "brain",
    ScreenSettings: "screen",
    ProfileSettings: "profiles",
}


def _names(cls: type) -> list[str]:
    return [f.name for f in dataclasses.fields(cls)]


def test_every_setting_belongs_to_exactly_one_group_or_is_global() -> None:
    assert set(STAGE_SETTINGS) == set(_GROUP_OF)
    assert set(GLOBAL_SETTINGS) <= set(_names(Settings))
    for f in dataclasses.fields(Settings):
        if f.name in GLOBAL_SETTINGS:
            continue
        owners = [cls.__name__ for cls in STAGE_SETTINGS if f.name in _names(cls)]
        assert len(owners) == 1, f"{f.name} ({f.metadata['env']}) is in {owners or 'no group'}"


def test_a_group_field_has_the_type_default_and_doc_of_its_setting() -> None:
    settings_fields = {f.name: f for f in dataclasses.fields(Settings)}
    docs = {cls.__name__: _field_docs(cls) for cls in STAGE_SETTINGS}
    for cls in STAGE_SETTINGS:
        for f in dataclasses.fields(cls):
            setting = settings_fields.get(f.name)
            assert setting is not None, f"{cls.__name__}.{f.name} is not a setting"
            assert (f.type, f.default) == (setting.type, setting.default), f"{cls.__name__}.{f.name}"
            assert docs[cls.__name__].get(f.name) == setting.metadata["doc"], f"{cls.__name__}.{f.name}: doc"


def _field_docs(cls: type) -> dict[str, str]:
    """Each field's docstring: the string right below it in the class body."""
    tree = ast.parse(inspect.getsource(cls))
    body = next(node for node in tree.body if isinstance(node, ast.ClassDef)).body
    docs = {}
    for line, after in itertools.pairwise(body):
        if (
            isinstance(line, ast.AnnAssign)
            and isinstance(line.target, ast.Name)
            and isinstance(after, ast.Expr)
            and isinstance(after.value, ast.Constant)
        ):
            docs[line.target.id] = str(after.value.value)
    return docs


def test_every_group_carries_the_values_from_the_environment() -> None:
    assert sorted(_EVERY_SETTING_CHANGED) == sorted(env_names())
    settings = settings_from(_EVERY_SETTING_CHANGED)
    for cls in STAGE_SETTINGS:
        group = getattr(settings, _GROUP_OF[cls])
        assert type(group) is cls
        for name in _names(cls):
            assert getattr(group, name) == getattr(settings, name), f"{cls.__name__}.{name}"
            assert getattr(group, name) != getattr(cls(), name), f"{cls.__name__}.{name} kept its default"
    assert settings.listen.models_path == settings.stt.models_path == settings.llm.models_path == Path("/srv/models")
    assert settings.brain.state_path == settings.state_path == Path("/srv/state")
    assert settings.profiles.user_profiles_path == settings.user_profiles_path == Path("/srv/mine")


def test_groups_are_frozen_and_built_once() -> None:
    settings = settings_from({"LOKI_VAD_SILENCE_MS": "450"})
    for cls in STAGE_SETTINGS:
        group = getattr(settings, _GROUP_OF[cls])
        assert group is getattr(settings, _GROUP_OF[cls])
        assert cls.of(group) is group and cls.of(settings) == group
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(group, _names(cls)[0], None)
    assert dataclasses.replace(settings, vad_silence_ms=600).listen.vad_silence_ms == 600
    assert settings.listen.vad_silence_ms == 450


def test_group_reprs_mask_secrets() -> None:
    settings = settings_from(_EVERY_SETTING_CHANGED)
    assert "sk-very-secret" not in repr(settings.llm) and "llm_api_key=***" in repr(settings.llm)
    assert "pico-secret" not in repr(settings.listen) and "picovoice_access_key=***" in repr(settings.listen)
    assert "llm_api_key=''" in repr(LlmSettings())
    assert "dry_run=True" in repr(ActionSettings(dry_run=True))
