"""OCR grounding (issue 16, tier 2): find Tk buttons (no accessibility) by their text, click them, check.

Real components: the session's Xvfb + openbox, real Tk windows (tests/apps/tkbuttons.py, a seeded
random layout of buttons that logs its buttons' boxes and every click), rapidocr's PP-OCRv6 models from
its wheel, Debian's tesseract with Russian, xdotool clicks. OCR strings are compared with
`label_score`, never exactly.
"""

from __future__ import annotations

import time

import pytest
from apps.a11y_desktop import click, wait_for
from conftest import Buttons

from loki.errors import ScreenError
from loki.screen.coords import Box, Frame, Monitor
from loki.screen.ground import MATCH, SURE, Target, Window, label_score, pick
from loki.screen.ocr import OcrFinder, TextBox, _phrases, choose_engine, match
from loki.words import has_cyrillic


def _click(buttons: Buttons, point: tuple[int, int]) -> str:
    """Clicks the point and returns the label the app says was clicked (fails when nothing was)."""
    before = len(buttons.clicks())
    click(*point)
    return wait_for(lambda: buttons.clicks()[before:], "a click the app saw", timeout_s=10)[0]


def _ground(finder: OcrFinder, buttons: Buttons, name: str, language: str = "en") -> list:
    target = Target(name, language=language)
    return pick(finder.find(target, buttons.window, time.monotonic() + 60), target)


# Pure parts -------------------------------------------------------------------------------------------


def test_engine_choice_follows_the_script_and_language():
    assert choose_engine("auto", "Save") == "rapidocr"
    assert choose_engine("auto", "Сохранить") == "tesseract"
    assert choose_engine("auto", "OK", "ru") == "tesseract"
    assert choose_engine("rapidocr", "Сохранить") == "rapidocr"
    assert choose_engine("none", "Save") == "none"
    assert has_cyrillic("Ёлка") and not has_cyrillic("Save As")
    with pytest.raises(ScreenError):
        choose_engine("paddle", "Save")


def test_a_wide_gap_splits_a_line_into_phrases_and_a_whole_phrase_beats_a_part():
    frame = Frame(Monitor(1, 0, 0, 1280, 800), Box(100, 50, 600, 100), 600, 100)
    words = [  # one engine line: "Save As" (a space apart), then "Save" a button's width away
        ("Save", 0.99, (10.0, 10.0, 50.0, 30.0), 0),
        ("As", 0.99, (56.0, 10.0, 75.0, 30.0), 0),
        ("Save", 0.99, (120.0, 10.0, 160.0, 30.0), 0),
    ]
    boxes = _phrases(words, frame, 0.6)
    assert [b.phrase for b in boxes] == [0, 0, 1]
    assert boxes[0].box.left == pytest.approx(110)  # edges shift by the crop's origin
    best = pick(match("Save", boxes), Target("Save"))
    assert best[0].box.left == pytest.approx(220) and best[0].score >= SURE
    save_as = pick(match("Save As", boxes), Target("Save As"))
    assert save_as[0].label == "Save As" and save_as[0].box.width == pytest.approx(65)
    assert label_score("Get Started", "GetStarted") >= SURE  # a space OCR dropped


def test_an_ocr_finder_that_is_off_finds_nothing(xserver: str):
    window = Window(0, Box(0, 0, 100, 100))
    assert OcrFinder(engine="none").find(Target("Save"), window, time.monotonic() + 5) == []
    with pytest.raises(ScreenError) as caught:
        OcrFinder(engine="none").texts(window, time.monotonic() + 5)
    assert caught.value.code == "ocr_off"


# Real Tk windows -------------------------------------------------------------------------------------


@pytest.mark.parametrize("seed", [5, 11])
def test_buttons_found_by_name_are_the_ones_clicked(tkbuttons, seed: int):
    buttons = tkbuttons(seed, 12)
    finder = OcrFinder(engine="rapidocr")
    for name in list(buttons.boxes)[::2]:
        found = _ground(finder, buttons, name)
        assert found, f"OCR did not find {name!r}"
        assert found[0].source == "ocr" and found[0].score >= SURE
        assert _click(buttons, found[0].point) == name


def test_multi_word_labels_and_a_word_inside_another_label(tkbuttons):
    buttons = tkbuttons(21, 10, "--labels", "Save As,Print Preview,Check for Updates,Save,Zoom In")
    finder = OcrFinder()
    for name in ("Save As", "Check for Updates", "Save", "Print Preview", "Zoom In"):
        found = _ground(finder, buttons, name)
        assert found and label_score(name, found[0].label) >= SURE, f"{name!r}: {found[:2]}"
        assert _click(buttons, found[0].point) == name
    part = _ground(finder, buttons, "Preview")  # only inside "Print Preview": found, but not sure
    assert part and part[0].score < SURE and buttons.boxes["Print Preview"].contains(*part[0].point)


def test_a_russian_button_is_read_by_tesseract(tkbuttons):
    buttons = tkbuttons(33, 8, "--labels", "Сохранить,Open,Отмена", "--ru")
    finder = OcrFinder(engine="auto")
    for name in ("Сохранить", "Отмена"):
        found = _ground(finder, buttons, name, "ru")
        assert found, f"tesseract did not find {name!r}"
        assert found[0].score >= MATCH
        assert _click(buttons, found[0].point) == name


def test_reread_says_yes_on_the_right_box_and_no_on_a_wrong_one(tkbuttons):
    buttons = tkbuttons(8, 10, "--labels", "Settings,Download,Сохранить")
    finder = OcrFinder()
    found = _ground(finder, buttons, "Download")
    assert found
    assert finder.reread(found[0].box, "Download") >= SURE
    assert finder.reread(found[0].box, "Settings") < MATCH
    assert finder.reread(buttons.boxes["Settings"], "Download") < MATCH
    assert finder.reread(buttons.boxes["Сохранить"], "Сохранить") >= MATCH  # tesseract for Cyrillic


def test_texts_has_the_visible_labels_in_reading_order(tkbuttons):
    buttons = tkbuttons(14, 12)
    lines = OcrFinder(engine="rapidocr").texts(buttons.window, time.monotonic() + 60)
    for label in buttons.boxes:
        assert max(label_score(label, line) for line in lines) >= MATCH, f"{label!r} not in {lines}"
    assert max(label_score("Clicked: nothing", line) for line in lines[-3:]) >= MATCH  # the status line comes last


def test_text_boxes_are_in_screen_pixels_inside_their_buttons(tkbuttons):
    buttons = tkbuttons(2, 12)
    from loki.screen.capture import Screen
    from loki.screen.ocr import read

    with Screen() as screen:
        words = read(screen.window(buttons.window.box))
    assert all(isinstance(w, TextBox) for w in words)
    for label, box in buttons.boxes.items():
        first = label.split()[0]
        hits = [w for w in words if label_score(first, w.text) >= SURE]
        assert any(box.contains(*w.box.center) for w in hits), f"no word of {label!r} inside {box}"
