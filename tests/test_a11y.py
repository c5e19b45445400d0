"""The accessibility finder on real GTK apps over a real AT-SPI bus (Xvfb + openbox + dbus + at-spi2-core).

Buttons are grounded, then really clicked with xdotool: the app's exit code or its display says which
control the click landed on. GTK4 (gnome-calculator) and GTK3 under GDK_SCALE=2 on a 2560x1600 screen
check the per-toolkit coordinate corrections.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest
from apps.a11y_desktop import a11y_session, click, launched, wait_for, x_display, xdotool

from loki.errors import ScreenError
from loki.screen.a11y import AccessibilityFinder, role_matches
from loki.screen.coords import Box
from loki.screen.ground import Target, Window, label_score, pick

pytestmark = pytest.mark.x11


def soon() -> float:
    return time.monotonic() + 15.0


@pytest.fixture(scope="module")
def finder(a11y: str) -> Iterator[AccessibilityFinder]:
    with AccessibilityFinder() as f:
        yield f


def ground(finder: AccessibilityFinder, target: Target, window) -> list:  # type: ignore[no-untyped-def]
    return pick(finder.find(target, window, soon()), target)


def zenity_question(ok: str, cancel: str) -> list[str]:
    return ["zenity", "--question", f"--ok-label={ok}", f"--cancel-label={cancel}", "--text=Keep the changes?"]


@pytest.mark.parametrize(
    ("ok", "cancel", "asked", "code"),
    [("Save", "Discard", "Save", 0), ("Save", "Discard", "discard", 1), ("Сохранить", "Отмена", "сохранить", 0)],
)
def test_a_grounded_zenity_button_is_the_one_clicked(finder, a11y, xserver, ok, cancel, asked, code) -> None:
    with launched(zenity_question(ok, cancel), xserver, a11y) as app:
        found = ground(finder, Target(asked, role="button"), app.window)
        assert found and found[0].score >= 0.85 and found[0].role == "push button"
        assert "enabled" in found[0].states and "showing" in found[0].states
        assert app.window.box.contains(*found[0].point)
        hit = finder.hit_test(*found[0].point, app.window)
        assert hit is not None and hit.ref == found[0].ref  # the point lands on the button, not its label
        click(*found[0].point)
        assert app.wait() == code


def test_yad_buttons_by_name(finder, a11y, xserver) -> None:
    buttons = {"Open": 3, "Print": 5, "Save As": 7, "Close": 4}
    argv = ["yad", "--text=Pick one", *[f"--button={name}:{code}" for name, code in buttons.items()]]
    for asked, code in (("Print", 5), ("save as", 7)):
        with launched(argv, xserver, a11y) as app:
            for name in buttons:
                assert ground(finder, Target(name, role="button"), app.window), name
            best = ground(finder, Target(asked, role="button"), app.window)[0]
            click(*best.point)
            assert app.wait() == code


def test_password_fields_are_marked_and_never_read(finder, a11y, xserver) -> None:
    with launched(["zenity", "--password", "--title=Unlock"], xserver, a11y) as app:
        secret = finder.secret_boxes(app.window, soon())
        assert len(secret) == 1 and app.window.box.contains(*secret[0].center)
        xdotool("type", "--delay", "20", "hunter2")
        time.sleep(0.5)
        shown = " ".join(finder.texts(app.window, soon()))
        assert "hunter2" not in shown
        fields = finder.find(Target("password", role="password"), app.window, soon())
        assert all(c.role == "password text" for c in fields)


def test_widget_factory_duplicates_states_and_fingerprint(finder, a11y, xserver) -> None:
    with launched(["gtk3-widget-factory"], xserver, a11y) as app:
        boxes = ground(finder, Target("checkbutton", role="checkbox"), app.window)
        assert len(boxes) >= 2 and all(c.role == "check box" for c in boxes)
        first = ground(finder, Target("checkbutton", role="check box", nth=1), app.window)[0]
        second = ground(finder, Target("checkbutton", role="check box", nth=2), app.window)[0]
        assert first.ref != second.ref and first.box.top <= second.box.top
        # Greyed-out ones are found, but never sure; pick the first one that can be clicked.
        enabled = [c for c in boxes if "enabled" in c.states]
        greyed = [c for c in boxes if not c.states & {"enabled", "sensitive"}]
        assert enabled and greyed and all(c.score < 0.85 for c in greyed)
        box = enabled[0]
        before = finder.fingerprint(app.window, soon())
        click(*box.point)

        def toggled() -> bool:
            after = [
                c for c in finder.find(Target("checkbutton", role="check box"), app.window, soon()) if c.ref == box.ref
            ]
            return bool(after) and ("checked" in after[0].states) != ("checked" in box.states)

        wait_for(toggled, "the check box toggling")
        assert finder.fingerprint(app.window, soon()) != before
        assert role_matches("button", "toggle button") and role_matches("menu", "menu item")
        assert any(label_score("Inset", t) == 1.0 for t in finder.texts(app.window, soon()))


def test_mousepad_menu_bar(finder, a11y, xserver) -> None:
    with launched(["mousepad", "--disable-server"], xserver, a11y) as app:
        for name in ("File", "Edit"):
            found = ground(finder, Target(name, role="menu"), app.window)
            assert found and found[0].role == "menu", name
            assert app.window.box.contains(*found[0].point)
        file_, edit = (ground(finder, Target(n, role="menu"), app.window)[0] for n in ("File", "Edit"))
        assert file_.box.left < edit.box.left and abs(file_.box.top - edit.box.top) < 5


def test_gtk4_calculator_boxes_land_on_the_buttons(finder, a11y, xserver) -> None:
    with launched(["gnome-calculator"], xserver, a11y) as app:
        for key in ("7", "+", "2", "="):
            button = ground(finder, Target(key, role="button"), app.window)[0]
            assert app.window.box.contains(*button.point)
            hit = finder.hit_test(*button.point, app.window)
            assert hit is not None and hit.ref == button.ref
            click(*button.point)
            time.sleep(0.2)
        wait_for(lambda: "9" in finder.texts(app.window, soon()), "the calculator showing 9")


def test_no_bus_says_what_to_start(tmp_path) -> None:
    with AccessibilityFinder(session_bus=f"unix:path={tmp_path}/none") as finder:
        window = Window(1, Box(0, 0, 10, 10))
        with pytest.raises(ScreenError) as caught:
            finder.find(Target("Save"), window, soon())
    assert caught.value.code == "a11y" and "at-spi" in str(caught.value)


# GDK_SCALE=2 on a 2560x1600 screen: GTK3 reports logical pixels --------------------------------


@pytest.fixture(scope="module")
def hidpi(xserver: str) -> Iterator[tuple[str, str]]:
    """A second X display, 2560x1600, with its own openbox, session bus and AT-SPI bus: (DISPLAY, session)."""
    with x_display(10 + os.getpid() % 80 + 100, "2560x1600") as display, a11y_session(display) as session:
        yield display, session


@pytest.fixture
def on_hidpi(hidpi: tuple[str, str], monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    monkeypatch.setenv("DISPLAY", hidpi[0])
    return hidpi


def test_gdk_scale_2_clicks_land(on_hidpi) -> None:
    display, session = on_hidpi
    with AccessibilityFinder(session_bus=session) as finder:
        for asked, code in (("Save", 0), ("Discard", 1)):
            with launched(zenity_question("Save", "Discard"), display, session, {"GDK_SCALE": "2"}) as app:
                found = ground(finder, Target(asked, role="button"), app.window)
                assert found and app.window.box.contains(*found[0].point)
                assert found[0].box.height >= 50  # 34 logical pixels, doubled
                hit = finder.hit_test(*found[0].point, app.window)
                assert hit is not None and hit.ref == found[0].ref
                click(*found[0].point, display=display)
                assert app.wait() == code
