"""A language model never acts on a guess: its steps must follow from what was said.

Plans come from a real OpenAI-compatible server on 127.0.0.1 (the canned answers are what
gemma-3-270m gave for these requests); the desktop is the recording driver.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from loki.actions.drivers import RecordingDriver
from loki.brain.grounding import unasked_steps
from loki.config import settings_from
from loki.llm.fakeserver import CannedLlmServer
from loki.screen.window import Context
from loki.wiring import build_orchestrator

BROWSER = {"type": "launch", "app": "browser"}


def plan(*actions: dict[str, Any], reply: str = "Done.") -> str:
    return json.dumps({"actions": list(actions), "reply": reply})


async def turn(
    settings_env: dict[str, str], answer: str, text: str, confirm: Any = None, **env: str
) -> tuple[Any, list]:
    driver = RecordingDriver()
    with CannedLlmServer(answer) as server:
        values = {**settings_env, "LOKI_LLM_BACKEND": "openai", "LOKI_LLM_URL": server.openai_url, **env}
        orch = build_orchestrator(settings_from(values), driver_factory=lambda: driver, confirm=confirm)
        orch.context = lambda: Context("linux", "firefox", "News - Mozilla Firefox")
        try:
            result = await orch.handle(text)
        finally:
            orch.executor.close()
            for tier in orch.tiers:
                close = getattr(tier, "aclose", None)
                if close is not None:
                    await close()
    return result, driver.calls


@pytest.mark.parametrize(
    ("text", "answer"),
    [
        ("so what now", plan(BROWSER, reply="Opening the browser.")),  # ("help" is built in)
        ("what is the meaning of life", plan(BROWSER, reply="Opening the browser.")),
        ("the terminal at the airport was crowded", plan({"type": "launch", "app": "terminal"})),
        ("don't close the window yet", plan({"type": "window", "op": "close"})),
        ("Malum up.", plan(BROWSER)),
        ("presenter.", plan(BROWSER)),
        ("2.", plan({"type": "volume", "delta": 10})),
        ("не закрывай окно", plan({"type": "window", "op": "close"})),
    ],
)
async def test_a_plan_nobody_asked_for_never_runs(settings_env: dict[str, str], text: str, answer: str) -> None:
    result, calls = await turn(settings_env, answer, text)
    assert calls == [] and result.actions == [] and result.tier == 1 and not result.ok
    assert result.refused and all("did not ask" in r["reason"] for r in result.refused)
    assert "Opening" not in result.reply and result.reply  # the model's claim is not repeated


async def test_a_multi_step_request_runs_when_each_step_was_asked_for(settings_env: dict[str, str]) -> None:
    answer = plan({"type": "launch", "app": "editor"}, {"type": "type", "text": "milk, eggs, bread"})
    result, _ = await turn(settings_env, answer, "open the editor and type a shopping list", LOKI_DRY_RUN="1")
    assert result.ok and result.actions == [
        {"type": "launch", "app": "editor"},
        {"type": "type", "text": "milk, eggs, bread"},
    ]


async def test_a_step_nobody_asked_for_waits_for_a_yes(settings_env: dict[str, str]) -> None:
    answer = plan(BROWSER, {"type": "volume", "delta": 30})
    said = "bring up the browser"  # not a phrase rule: tier 1 plans it
    result, calls = await turn(settings_env, answer, said, LOKI_DRY_RUN="1")  # no one to ask: `loki say | ...`
    assert calls == [] and result.actions == [] and not result.ok
    assert [r["action"] for r in result.refused] == [BROWSER, {"type": "volume", "delta": 30}]
    assert "you did not ask for it" in result.refused[1]["reason"]

    asked: list[str] = []

    async def yes(prompt: str) -> bool:
        asked.append(prompt)
        return True

    result, _ = await turn(settings_env, answer, said, confirm=yes, LOKI_DRY_RUN="1")
    assert asked == ["I'm about to turn the volume up by 30. Okay?"]
    assert result.ok and result.actions == [BROWSER, {"type": "volume", "delta": 30}]


@pytest.mark.parametrize(
    ("text", "language", "actions", "unasked"),
    [
        (
            "search the web for the weather in Oslo",
            "en",
            [
                {"type": "hotkey", "keys": ["ctrl", "t"]},
                {"type": "type", "text": "weather in Oslo"},
                {"type": "hotkey", "keys": ["enter"]},
            ],
            [],
        ),
        ("write an email to my boss", "en", [{"type": "type", "text": "Dear boss, ..."}], []),
        ("turn it up a notch", "en", [{"type": "volume", "delta": 10}], []),
        ("turn it up a notch", "en", [{"type": "volume", "delta": -10}], [0]),
        ("close this tab", "en", [{"type": "hotkey", "keys": ["ctrl", "w"]}], []),
        ("close this tab", "en", [{"type": "hotkey", "keys": ["ctrl", "alt", "t"]}], [0]),
        ("what time is it in Tokyo", "en", [{"type": "speak", "text": "It is 2 AM."}], []),
        ("what time is it in Tokyo", "en", [BROWSER], [0]),
        ("открой браузер и найди погоду", "ru", [BROWSER], []),
        ("сделай потише", "ru", [{"type": "volume", "delta": 20}], [0]),
        # gemma-3-270m answered "go up a page" with scroll -5 (down): the direction said must agree
        ("go up a page", "en", [{"type": "scroll", "clicks": -5}], [0]),
        ("go up a page", "en", [{"type": "scroll", "clicks": 5}], []),
        ("scroll to the bottom", "en", [{"type": "scroll", "clicks": -50}], []),
        ("scroll a bit", "en", [{"type": "scroll", "clicks": -3}], []),
        ("прокрути вверх", "ru", [{"type": "scroll", "clicks": -5}], [0]),
        ("turn the volume up", "en", [{"type": "scroll", "clicks": 5}], [0]),
        # gemma-3-270m scrolled for these remarks: a page or a spinning song asks for no scroll
        ("давай перевернём эту страницу и забудем", "ru", [{"type": "scroll", "clicks": -5}], [0]),
        ("опять эта песня в голове крутится", "ru", [{"type": "scroll", "clicks": -5}], [0]),
        ("scrolling through my phone all night was a bad idea", "en", [{"type": "scroll", "clicks": -5}], [0]),
        ("kids, turn the volume down on the tv", "en", [{"type": "volume", "delta": -10}], [0]),
        # the words after a dictation verb are the text, never a refusal or a remark
        ("type don't forget the milk tomorrow", "en", [{"type": "type", "text": "don't forget the milk tomorrow"}], []),
        ("i'll scroll through the news later", "en", [{"type": "scroll", "clicks": -5}], [0]),
        ("i left the browser open all night yesterday", "en", [BROWSER], [0]),
        # gemma-3-270m scrolled for these: «убавь» is "down", but of the sound, not of the page
        ("ой что-то радио орёт убавь немного", "ru", [{"type": "scroll", "clicks": -5}], [0]),
        ("опусти страницу пониже", "ru", [{"type": "scroll", "clicks": -5}], []),
        ("i'm scrolling down the list right now", "en", [{"type": "scroll", "clicks": -5}], [0]),  # telling
        ("i'm trying to read, turn it down", "en", [{"type": "volume", "delta": -10}], []),
        ("a little lower", "en", [{"type": "scroll", "clicks": -5}], []),
        ("давай пониже", "ru", [{"type": "scroll", "clicks": -5}], []),
        ("щас сделай потише", "ru", [{"type": "volume", "delta": -10}], []),
        ("grandpa how do you make a screenshot", "en", [{"type": "screenshot"}], [0]),  # asked of someone else
        ("мама сделай радио потише", "ru", [{"type": "volume", "delta": -10}], [0]),
    ],
)
def test_each_step_is_checked_against_the_words(text: str, language: str, actions: list, unasked: list) -> None:
    assert sorted(unasked_steps(text, language, actions)) == unasked
