"""Settings: typed values, clear errors that name the variable, secrets never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from loki.config import env_names, load_settings, settings_from
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
        ({"LOKI_LANGAUGE": "en"}, "Unknown setting LOKI_LANGAUGE"),
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
