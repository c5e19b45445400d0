"""Tier 2: screen requests read in both languages, click targets in the schema and the policy, and
"click Save" / «нажми Сохранить» end to end on real apps (Xvfb, AT-SPI, zenity, Tk + OCR)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from apps.a11y_desktop import launched

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


# End to end: `loki say` on real apps ------------------------------------------------------------


def loki_say(text: str, env: dict[str, str], *flags: str) -> dict:  # type: ignore[type-arg]
    """Run `loki say --json TEXT` as a user would; its one JSON line."""
    out = subprocess.run(
        [sys.executable, "-m", "loki", "say", "--json", *flags, text],
        env={**os.environ, **env, "PYTHONPATH": str(Path(__file__).parents[1])},
        capture_output=True,
        text=True,
        timeout=120,
    )
    lines = [line for line in out.stdout.splitlines() if line.startswith("{")]
    assert lines, out.stderr[-2000:]
    return json.loads(lines[-1])


@pytest.fixture
def screen_env(settings_env: dict[str, str], xserver: str, a11y: str) -> dict[str, str]:
    return {
        **settings_env,
        "DISPLAY": xserver,
        "DBUS_SESSION_BUS_ADDRESS": a11y,
        "LOKI_SCREEN_SETTLE_S": "1.5",
    }


def zenity(ok: str, cancel: str) -> list[str]:
    return ["zenity", "--question", f"--ok-label={ok}", f"--cancel-label={cancel}", "--text=Keep the changes?"]


@pytest.mark.parametrize(
    ("said", "ok", "cancel", "code"),
    [
        ("нажми Сохранить", "Сохранить", "Отмена", 0),
        ("click Cancel", "Save", "Cancel", 1),
        ("press the Save button", "Save", "Cancel", 0),
    ],
)
def test_say_click_presses_the_named_button(screen_env, xserver, a11y, said, ok, cancel, code) -> None:
    with launched(zenity(ok, cancel), xserver, a11y) as app:
        turn = loki_say(said, screen_env)
        assert app.wait(10) == code, turn
    assert turn["tier"] == 2 and turn["ok"], turn
    [action] = turn["actions"]
    assert action["type"] == "click" and app.window.box.contains(action["x"], action["y"])
    assert label_score(action["target"]["name"], action["target"]["label"]) == 1.0
    assert turn["screen"]["source"] == "a11y"
    assert turn["screen"]["attempts"][-1]["why"] == ""
    for stage in ("ground", "act", "verify"):
        assert stage in turn["timings_ms"], turn["timings_ms"]


def test_dry_run_shows_where_it_would_click_and_clicks_nothing(screen_env, xserver, a11y) -> None:
    with launched(zenity("Save", "Cancel"), xserver, a11y) as app:
        turn = loki_say("click Save", screen_env, "--dry-run")
        time.sleep(0.5)
        assert app.returncode is None  # still open: nothing was clicked
    [action] = turn["actions"]
    assert turn["tier"] == 2 and app.window.box.contains(action["x"], action["y"])


def test_a_risky_button_waits_for_a_yes(screen_env, xserver, a11y) -> None:
    argv = ["yad", "--text=Remove the file?", "--button=Delete:5", "--button=Keep:6"]
    with launched(argv, xserver, a11y) as app:
        turn = loki_say("click Delete", screen_env)
        time.sleep(0.5)
        assert app.returncode is None  # nobody said yes: not clicked
    assert turn["actions"] == [] and not turn["ok"]
    assert "Delete" in turn["refused"][0]["reason"] and "yes" in turn["reply"]


def test_a_name_that_is_not_there_is_said_so(screen_env, xserver, a11y) -> None:
    with launched(zenity("Save", "Cancel"), xserver, a11y) as app:
        turn = loki_say("click Frobnicate", screen_env)
        assert app.returncode is None
    assert turn["tier"] == 2 and not turn["ok"] and turn["actions"] == []
    assert "Frobnicate" in turn["reply"]


@pytest.mark.parametrize(("said", "shows"), [("read me the error", "The window"), ("что на экране", "В окне")])
def test_what_is_on_my_screen_reads_the_window(screen_env, xserver, a11y, said, shows) -> None:
    argv = ["zenity", "--error", "--text=Disk quota exceeded on /home"]
    with launched(argv, xserver, a11y):
        turn = loki_say(said, screen_env)
    assert turn["tier"] == 2 and turn["actions"] == []
    assert "Disk quota exceeded" in turn["reply"] and turn["reply"].startswith(shows), turn


def test_screen_find_names_the_control_and_its_box(screen_env, xserver, a11y) -> None:
    def find(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "loki", "screen", "find", *args],
            env={**os.environ, **screen_env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    with launched(zenity("Сохранить", "Отмена"), xserver, a11y) as app:
        out = find("--json", "Отмена")
        missing = find("Frobnicate", "--json")
        assert app.returncode is None  # finding clicks nothing
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.splitlines()[0])
    assert found["target"] == "Отмена" and found["source"] == "a11y" and found["score"] == 1.0
    left, top, width, height = found["box"]
    assert app.window.box.contains(left + width / 2, top + height / 2)
    assert missing.returncode == 1 and json.loads(missing.stdout.splitlines()[-1])["target"] is None


# Act, check, correct on a real Tk window (no accessibility): OCR, and a vision model that is often wrong.


def test_click_without_accessibility_goes_through_ocr(screen_env, tkbuttons) -> None:
    buttons = tkbuttons(5, 12, "--labels", "Apply,Export,Print Preview")
    turn = loki_say("click Print Preview", screen_env)
    assert buttons.clicks() == ["Print Preview"], (turn["reply"], turn.get("screen"), turn["timings_ms"])
    assert turn["tier"] == 2 and turn["ok"] and turn["screen"]["source"] == "ocr", turn
    assert "ground_ocr" in turn["timings_ms"] and "verify" in turn["timings_ms"]


def test_a_wrong_vision_answer_is_never_clicked_and_is_corrected(tkbuttons, xserver) -> None:
    from loki.config import ScreenSettings
    from loki.llm.vision import build_model
    from loki.screen.act import ScreenActor
    from loki.screen.ground import Grounder
    from loki.screen.ocr import OcrFinder
    from loki.screen.vision import VisionFinder
    from tests.apps.vision_standin import Modes, VisionStandin

    names = ["Apply", "Export", "Rename", "Refresh", "Download", "Settings"]
    buttons = tkbuttons(11, 14, "--labels", ",".join(names))
    with VisionStandin(Modes(coords="qwen3", wrong=0.3, seed=7)).start() as standin:
        screen = ScreenSettings(
            vision_backend="openai", vision_url=standin.url("openai"), vision_model="standin-vl", vision_coords="qwen3"
        )
        vision = VisionFinder(screen, model=build_model(screen))
        actor = ScreenActor(Grounder([vision]), reader=OcrFinder(), settle_s=1.0, tries=3, budget_s=60)
        reached, corrected = 0, 0
        for name in names:
            before = len(buttons.clicks())
            report = actor.click(Target(name), xdotool_click)
            time.sleep(0.3)  # the app's log is written as the click arrives
            clicked = buttons.clicks()[before:]
            assert clicked in ([], [name]), f"asked for {name}, the app says {clicked}"  # never a wrong button
            reached += report.ok and clicked == [name]
            corrected += any(a.why for a in report.attempts)
    assert reached >= len(names) - 1 and corrected >= 1, (reached, corrected)


def xdotool_click(x: int, y: int) -> None:
    subprocess.run(["xdotool", "mousemove", str(x), str(y), "click", "1"], check=True, timeout=10)


def test_stop_before_the_click_clicks_nothing(tkbuttons) -> None:
    import threading

    from loki.screen.act import ScreenActor
    from loki.screen.ground import Grounder
    from loki.screen.ocr import OcrFinder

    buttons = tkbuttons(12, 8, "--labels", "Apply")
    stop = threading.Event()
    stop.set()
    actor = ScreenActor(Grounder([OcrFinder()]))
    report = actor.click(Target("Apply"), xdotool_click, cancelled=stop)
    assert not report.ok and report.message == "Stopped." and buttons.clicks() == []


def test_the_second_button_is_counted_in_reading_order(screen_env, xserver, a11y) -> None:
    argv = ["yad", "--text=Pick one", "--button=Alpha:3", "--button=Beta:5", "--button=Gamma:7"]
    with launched(argv, xserver, a11y) as app:
        turn = loki_say("click the second button", screen_env)
        assert app.wait(10) == 5, turn
    assert turn["tier"] == 2 and turn["actions"][0]["target"]["label"] == "Beta"


def test_the_display_profiles_click_offset_is_added_to_screen_clicks(xserver, tmp_path) -> None:
    from loki.brain.tier2 import ScreenTier
    from loki.config import ScreenSettings

    profile = tmp_path / "desk.toml"
    profile.write_text('name = "desk"\nclick_offset = [4, -2]\n', encoding="utf-8")
    tier = ScreenTier(ScreenSettings(display_profile=str(profile)))
    assert tier._click_offset() == (4, -2)
    assert ScreenTier(ScreenSettings(display_profile="none"))._click_offset() == (0, 0)


def test_a_click_that_changes_nothing_is_noticed_said_and_not_repeated(tkbuttons) -> None:
    from loki.screen.act import ScreenActor
    from loki.screen.ground import Grounder
    from loki.screen.ocr import OcrFinder

    buttons = tkbuttons(13, 6, "--labels", "Apply")
    said: list[str] = []
    clicks: list[tuple[int, int]] = []

    def click(x: int, y: int) -> None:
        clicks.append((x, y))
        xdotool_click(x, y)

    # "nothing" is written in the status line ("Clicked: nothing"), which is no button: clicking it does nothing.
    report = ScreenActor(Grounder([OcrFinder()]), settle_s=1.0).click(Target("nothing"), click, notify=said.append)
    assert not report.ok and buttons.clicks() == []
    assert report.attempts[0].why == "nothing changed after the click" and len(clicks) == 1  # not clicked again
    assert said == ["That did not work; trying another way."]
    assert "nothing changed" in report.message


def test_a_window_gone_after_the_click_was_closed_by_it(tkbuttons) -> None:
    """A dialog slower to close than the check after the click: it is still there when checked, and gone when
    the next look begins ("The window … has gone"). The click closed it; it is not a failure."""
    from loki.errors import ScreenError
    from loki.screen.act import ScreenActor, active_window
    from loki.screen.ground import Grounder
    from loki.screen.ocr import OcrFinder

    buttons = tkbuttons(13, 6, "--labels", "Apply")
    clicks: list[tuple[int, int]] = []

    def window() -> object:
        if clicks:
            raise ScreenError("The window 0x400008 has gone", code="screen")
        return active_window()

    def click(x: int, y: int) -> None:
        clicks.append((x, y))
        xdotool_click(x, y)

    actor = ScreenActor(Grounder([OcrFinder()]), window=window, settle_s=1.0)  # type: ignore[arg-type]
    _, found = actor.locate(Target("nothing"), time.monotonic() + 30)  # as the plan grounded it, before the click
    # clicking the status line changes nothing on the screen; the next look finds the window gone
    report = actor.click(Target("nothing"), click, first=found.candidates[0])
    assert report.ok and len(clicks) == 1 and report.attempts[-1].why == "", report
    assert buttons.clicks() == []


def test_a_key_to_press_is_no_control_on_the_screen() -> None:
    from loki.brain.tier2 import parse

    assert parse("нажмите клавишу ввод", "ru") is None  # tier 0 presses the key
    assert parse("press the escape key", "en") is None
    click = parse("click Enter", "en")  # "click" is always the screen's
    assert click is not None and click.target is not None and click.target.name == "Enter"
    polite = parse("нажмите, пожалуйста, Сохранить", "ru")
    assert polite is not None and polite.target is not None and polite.target.name == "Сохранить"
