"""Learned commands: "remember this as <phrase>" writes a tier-0 rule that works on the next turn."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from test_tier1 import loki, plan

from loki.brain.learn import LEARNED_FILE, action_template, learned_phrase, save_rule
from loki.errors import ProfileError
from loki.llm.fakeserver import CannedLlmServer
from loki.profiles.loader import load_file


def learned(settings_env: dict[str, str], language: str = "en") -> Path:
    return Path(settings_env["LOKI_USER_PROFILES_DIR"]) / language / LEARNED_FILE


def everything(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*"))


def test_the_request_is_recognized() -> None:
    assert learned_phrase("Hey Loki, remember this as open my mail!", "en") == "open my mail"
    assert learned_phrase("please save that as start surfing", "en") == "start surfing"
    assert learned_phrase("Запомни это как «открой почту»", "ru") == "открой почту"
    assert learned_phrase("remember to buy milk", "en") is None
    assert learned_phrase("open the browser", "en") is None


async def test_a_local_command_learned_works_at_once(settings_env: dict[str, str]) -> None:
    async with loki(settings_env, LOKI_LLM_BACKEND="none") as (orch, driver):
        assert (await orch.handle("new tab")).tier == 0
        result = await orch.handle("remember this as fresh tab")
        assert result.ok and result.reply == "Okay. When you say “fresh tab”, I'll press ctrl+t."
        again = await orch.handle("fresh tab")
    assert again.tier == 0 and again.actions == [{"type": "hotkey", "keys": ["ctrl", "t"]}]
    assert driver.calls == [("hotkey", ("ctrl", "t"))] * 2
    text = learned(settings_env).read_text(encoding="utf-8")
    assert text.splitlines()[-1] == 'fresh tab: { "type": "hotkey", "keys": ["ctrl", "t"]}'


async def test_learned_commands_are_private_to_the_user(settings_env: dict[str, str]) -> None:
    path = learned(settings_env)
    path.parent.mkdir(parents=True, mode=0o755)
    path.write_text("# my own rules\n", encoding="utf-8")
    old_umask = os.umask(0o022)
    try:
        os.chmod(path.parent, 0o755)
        os.chmod(path, 0o644)
        async with loki(settings_env, LOKI_LLM_BACKEND="none") as (orch, _):
            await orch.handle("type my password is hunter2")
            assert (await orch.handle("remember this as log me in")).ok
    finally:
        os.umask(old_umask)
    assert "hunter2" in path.read_text(encoding="utf-8"), "the rule itself keeps what it types"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.parent.parent.stat().st_mode) == 0o700


async def test_dry_run_learns_nothing_on_disk(settings_env: dict[str, str], tmp_path: Path) -> None:
    before = everything(tmp_path)
    async with loki(settings_env, LOKI_DRY_RUN="1", LOKI_LLM_BACKEND="none", LOKI_TRACE="0") as (orch, driver):
        assert (await orch.handle("new tab")).ok
        result = await orch.handle("remember this as fresh tab")
        again = await orch.handle("fresh tab")
    assert result.ok and result.reply == "Dry run: I would remember “fresh tab” as: press ctrl+t. Nothing was saved."
    assert again.tier is None and not again.ok, "nothing was learned"
    assert driver.calls == []
    assert everything(tmp_path) == before, "dry-run with traces off writes nothing at all"


async def test_a_model_plan_becomes_a_local_rule(settings_env: dict[str, str]) -> None:
    tricky = "a; b {text} {x=1}\nПривет"
    answer = plan({"type": "hotkey", "keys": ["ctrl", "t"]}, {"type": "type", "text": tricky}, reply="Done.")

    async def yes(prompt: str) -> bool:  # the line break makes the typing a step to confirm
        return True

    with CannedLlmServer(answer) as server:
        async with loki(settings_env, server, confirm=yes) as (orch, driver):
            first = await orch.handle("open a tab and greet everyone")
            assert first.tier == 1 and first.ok
            assert (await orch.handle("remember this as greet the team")).ok
            asked = len(server.requests)
            again = await orch.handle("greet the team")
            assert len(server.requests) == asked, "a learned phrase is tier 0: the model is not asked"
    assert again.tier == 0 and again.actions == first.actions
    assert driver.calls == [("hotkey", ("ctrl", "t")), ("type_text", (tricky,))] * 2
    rules = load_file(learned(settings_env), default_language="en", user=True)
    assert [r.phrase for r in rules] == ["greet the team"]


async def test_only_a_plan_that_worked_is_learned(settings_env: dict[str, str]) -> None:
    with CannedLlmServer(plan({"type": "launch", "app": "rm"})) as server:
        async with loki(settings_env, server) as (orch, _):
            nothing = await orch.handle("remember this as do it again")
            await orch.handle("delete everything")
            failed = await orch.handle("remember this as wipe")
    assert nothing.reply.startswith("There is nothing to remember yet")
    assert failed.reply == "The last command did not work, so I won't remember it."
    assert not learned(settings_env).exists()


async def test_relearning_a_phrase_replaces_it_and_russian_works(settings_env: dict[str, str]) -> None:
    async with loki(settings_env, LOKI_LLM_BACKEND="none", LOKI_LANGUAGE="ru") as (orch, driver):
        await orch.handle("новую вкладку")
        assert (await orch.handle("запомни это как хочу вкладку")).reply.startswith("Хорошо.")
        await orch.handle("закрой вкладку")
        await orch.handle("запомни это как хочу вкладку")
        result = await orch.handle("хочу вкладку")
    assert result.actions == [{"type": "hotkey", "keys": ["ctrl", "w"]}]
    assert driver.calls[-1] == ("hotkey", ("ctrl", "w"))
    rules = [
        line
        for line in learned(settings_env, "ru").read_text(encoding="utf-8").splitlines()
        if not line.startswith("#")
    ]
    assert rules == ['хочу вкладку: { "type": "hotkey", "keys": ["ctrl", "w"]}']


async def test_a_broken_learned_file_is_never_made_worse(settings_env: dict[str, str]) -> None:
    path = learned(settings_env)
    path.parent.mkdir(parents=True)
    path.write_text("this line: is not an action\n", encoding="utf-8")
    before = path.read_bytes()
    with pytest.raises(ProfileError):
        save_rule(path.parent.parent, "en", "fresh tab", [{"type": "hotkey", "keys": ["ctrl", "t"]}])
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [LEARNED_FILE], "no temporary file is left behind"


def test_templates_escape_what_the_profile_syntax_would_misread() -> None:
    template = action_template({"type": "type", "text": "x; {y}\u2028z"})
    assert ";" not in template and "{y}" not in template and "\u2028" not in template
    assert template.startswith('{ "type"')
