"""Tier 2: screen requests read in both languages, click targets in the schema and the policy, and
"click Save" / «нажми Сохранить» end to end on real apps (Xvfb, AT-SPI, zenity, Tk + OCR)."""

from __future__ import annotations

import pytest

from loki.actions.apps import AppCatalog
from loki.actions.policy import Decision, Policy, is_risky_label
from loki.actions.schema import validate_action
from loki.brain.tier2 import parse
from loki.errors import ActionError
from loki.screen.coords import Box
from loki.screen.ground import Candidate, Target, label_score, pick, reading_order


@pytest.mark.parametrize(
    ("said", "name", "role", "nth", "button", "count"),
    [
        ("click Save", "Save", "", 0, "left", 1),
        ("Click on “Save As…”", "Save As", "", 0, "left", 1),
        ("press the OK button", "OK", "button", 0, "left", 1),
        ("tap the Settings tab", "Settings", "page tab", 0, "left", 1),
        ("double-click the Report link", "Report", "link", 0, "left", 2),
        ("right click the Downloads folder", "Downloads folder", "", 0, "right", 1),
        ("click the second result", "", "link", 2, "left", 1),
        ("нажми Сохранить", "Сохранить", "", 0, "left", 1),
        ("нажми на кнопку «Отмена»", "Отмена", "button", 0, "left", 1),
        ("кликни по ссылке Новости", "Новости", "link", 0, "left", 1),
        ("щёлкни дважды по файлу", "файлу", "", 0, "left", 2),
        ("выбери вторую ссылку", "", "link", 2, "left", 1),
    ],
)
def test_click_requests_name_the_control(said: str, name: str, role: str, nth: int, button: str, count: int) -> None:
    request = parse(said, "en")
    assert request is not None and request.target is not None
    assert (request.target.name, request.target.role, request.target.nth) == (name, role, nth)
    assert (request.button, request.count) == (button, count)


def test_a_description_goes_to_the_vision_model_not_to_the_names() -> None:
    request = parse("click the red icon at the top", "en")
    assert request is not None and request.target is not None
    assert request.target.name == "" and request.target.description == "red icon at the top"


@pytest.mark.parametrize(
    "said", ["what's on my screen?", "What is on the screen", "read me the error", "что на экране", "прочитай ошибку"]
)
def test_questions_about_the_screen(said: str) -> None:
    request = parse(said, "en")
    assert request is not None and request.question


@pytest.mark.parametrize(
    "said", ["open the browser", "click", "what is the meaning of life", "the screen is too bright", "save the file"]
)
def test_other_requests_are_not_the_screens(said: str) -> None:
    assert parse(said, "en") is None


def test_weak_verbs_leave_what_is_not_on_the_screen_to_other_tiers() -> None:
    assert not parse("select all the text", "en").insists  # type: ignore[union-attr]
    assert parse("click all the text", "en").insists  # type: ignore[union-attr]


def test_click_targets_in_the_schema() -> None:
    ok = validate_action({"type": "click", "target": {"name": "Save", "role": "button"}})
    assert ok == {"type": "click", "target": {"name": "Save", "role": "button"}, "button": "left", "count": 1}
    grounded = validate_action({"type": "click", "x": 5, "y": 7, "target": {"name": "Save", "nth": 2}})
    assert (grounded["x"], grounded["y"], grounded["target"]["nth"]) == (5, 7, 2)
    for bad, says in [
        ({"type": "click"}, "needs 'x' and 'y'"),
        ({"type": "click", "target": {}}, "needs a 'name'"),
        ({"type": "click", "target": "Save"}, "must be an object"),
        ({"type": "click", "target": {"name": "Save", "actions": ["rm"]}}, "unknown field 'actions'"),
        ({"type": "click", "target": {"name": "x" * 500}}, "at most 200"),
        ({"type": "click", "target": {"name": "Save", "nth": -1}}, "0..50"),
        ({"type": "click", "x": 5, "target": {"name": "Save"}}, "needs 'y'"),
    ]:
        with pytest.raises(ActionError, match=says):
            validate_action(bad)


@pytest.mark.parametrize(
    "label",
    ["Delete", "Remove account", "Send", "Pay now", "Buy", "Uninstall", "Format disk", "Submit", "Удалить", "Отправить",
     "Оплатить", "Купить", "Форматировать"],
)  # fmt: skip
def test_risky_controls_need_a_yes(label: str) -> None:
    assert is_risky_label(label)
    policy = Policy(AppCatalog())
    verdict = policy.check(validate_action({"type": "click", "x": 1, "y": 1, "target": {"name": "it", "label": label}}))
    assert verdict.decision is Decision.CONFIRM and label in verdict.reason


@pytest.mark.parametrize("label", ["Save", "Cancel", "OK", "Open", "Сохранить", "Отмена", "Settings", "Next"])
def test_ordinary_controls_do_not(label: str) -> None:
    assert not is_risky_label(label)
    verdict = Policy(AppCatalog()).check(validate_action({"type": "click", "target": {"name": label}}))
    assert verdict.decision is Decision.SAFE


def test_names_match_tolerantly() -> None:
    assert label_score("save", "_Save") == 1.0
    assert label_score("Save as", "Save As…") == 1.0
    assert label_score("Сохранить", "сохранить") == 1.0
    assert label_score("ещё", "Еще") == 1.0
    assert label_score("Save", "Sav") >= 0.85  # a misread letter
    assert 0.6 <= label_score("Save", "Save As…") < label_score("Save", "Save")
    assert label_score("Save", "Cancel") < 0.6


def test_the_second_one_is_in_reading_order() -> None:
    def at(x: float, y: float, label: str) -> Candidate:
        return Candidate(Box(x, y, 60, 20), label, "ocr", 1.0)

    found = [at(300, 100, "OK"), at(10, 102, "OK"), at(10, 200, "OK")]
    assert [c.box.left for c in reading_order(found)] == [10, 300, 10]
    assert pick(found, Target("OK", nth=2))[0].box.left == 300
    assert pick(found, Target("OK", nth=4)) == []
