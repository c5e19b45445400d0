"""`loki screen calibrate`: click targets through the screenshot mapping and report the error in pixels."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from loki.cli import emit
from loki.config import Settings
from loki.errors import ActionError, ScreenError
from loki.screen.coords import MODEL_CONVENTIONS, Convention

if TYPE_CHECKING:
    from loki.screen.capture import Screen
    from loki.screen.display import DisplayProfile


def display_profile(name: str, settings: Settings, screen_size: tuple[int, int] | None) -> DisplayProfile:
    """The display profile named on the command line, else the one made for this screen size, else none."""
    from loki.screen.display import find_display_profile
    from loki.wiring import profile_folders

    return find_display_profile(name, [folder for folder, _ in profile_folders(settings)], screen_size)


def command(args: argparse.Namespace, settings: Settings) -> int:
    """Run the sub-command."""
    from loki.screen.capture import Screen, require_display

    require_display()  # before anything touches pyautogui: a plain "no display" message
    as_json = bool(args.json)
    with Screen() as probe:
        whole = probe.virtual()
    name = args.profile or settings.screen.display_profile
    profile = display_profile(name, settings, (whole.width, whole.height))
    convention = Convention(MODEL_CONVENTIONS.get(args.convention, args.convention))
    with Screen(profile) as screen:
        return _calibrate(args, screen, convention, as_json)


def _calibrate(args: argparse.Namespace, screen: Screen, convention: Convention, as_json: bool) -> int:
    from loki.actions.drivers import PyAutoGuiDriver
    from loki.screen.calibrate import calibrate

    try:
        driver = PyAutoGuiDriver()
    except ActionError as exc:
        raise ScreenError(f"No display to click on: {exc.message}", code="no_display") from exc
    try:
        report = calibrate(
            screen, lambda x, y: driver.click(x, y, "left", 1), convention=convention, longest=args.image_size or None
        )
    except Exception as exc:
        if type(exc).__name__ != "FailSafeException":
            raise
        raise ScreenError(
            "The mouse is in a corner of the screen, so pyautogui's fail-safe stopped the calibration: "
            "move it away and run it again.",
            code="fail_safe",
        ) from exc
    data = {"command": "screen calibrate", "profile": screen.profile.name, **report.as_dict()}
    lines = [f"display profile: {screen.profile.name}; points written as {convention}"]
    for frame in report.frames:
        m, image = frame["monitor"], frame["image"]
        lines.append(
            f"monitor {m['index']}: {m['width']}x{m['height']}+{m['left']}+{m['top']} scale {m['scale']:g}, "
            f"image {image[0]}x{image[1]}"
        )
    for t in report.targets:
        error = t.error_px
        where = (
            "not seen in the screenshot"
            if t.seen is None
            else "click not received"
            if error is None
            else f"{error:.1f} px"
        )
        landed = f" -> landed {t.landed[0]},{t.landed[1]}" if t.landed else ""
        lines.append(f"  monitor {t.monitor} target {t.target[0]},{t.target[1]}{landed}: {where}")
    if report.median_px is None:
        lines.append("no click landed on a target")
    else:
        lines.append(f"median error {report.median_px:.1f} px, worst {report.max_px:.1f} px, missed {report.missed}")
        offset = report.suggested_click_offset
        if offset is not None and offset != report.click_offset:
            lines.append(f"put click_offset = [{offset[0]}, {offset[1]}] in the display profile to cancel it")
    emit(data, as_json, "\n".join(lines))
    good = report.missed == 0 and report.max_px is not None and report.max_px <= args.tolerance
    return 0 if good else 1
