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
    if args.action == "shot":
        return _shot(args, settings, as_json)
    if args.action == "find":
        return _find(args, settings, as_json)
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


def _shot(args: argparse.Namespace, settings: Settings, as_json: bool) -> int:
    """Save the whole screen (or the active window) as PNG, with its frame; only the user can read it."""
    import io
    import time
    from pathlib import Path

    from loki.private import private_dir, write_private_bytes
    from loki.screen.capture import Screen

    with Screen() as probe:
        whole = probe.virtual()
    profile = display_profile(settings.screen.display_profile, settings, (whole.width, whole.height))
    with Screen(profile) as screen:
        shot = screen.window() if args.window else screen.whole()
    if args.out:
        path = Path(args.out).expanduser()
    else:
        path = private_dir(settings.state_path / "screenshots") / time.strftime("screen-%Y%m%d-%H%M%S.png")
    png = io.BytesIO()
    shot.image.save(png, format="PNG")
    write_private_bytes(path, png.getvalue())  # a screenshot may show anything: 0600
    data = {"command": "screen shot", "file": str(path), "frame": shot.frame.as_dict()}
    emit(data, as_json, f"saved {path} ({shot.frame.image_width}x{shot.frame.image_height})")
    return 0


def _find(args: argparse.Namespace, settings: Settings, as_json: bool) -> int:
    """Ground a named control in the active window: one line per candidate, best first; 1 when none."""
    import time

    from loki.brain.tier2 import default_finders, parse
    from loki.screen.act import ScreenActor
    from loki.screen.ground import Target

    said = " ".join(args.text).strip()
    if not said:
        raise ScreenError("Say what to find: loki screen find Save", code="bad_arguments")
    request = parse(f"click {said}", settings.language if settings.language != "auto" else "en")
    target = request.target if request is not None and request.target is not None else Target(said)
    if args.role:
        target = Target(target.name, args.role, target.nth, target.description, target.language)
    actor = ScreenActor.from_settings(settings, default_finders(settings.screen))
    try:
        started = time.perf_counter()
        window, found = actor.locate(target, time.monotonic() + settings.screen.screen_budget_s)
        total_ms = round((time.perf_counter() - started) * 1000, 1)
    finally:
        actor.close()
    for candidate in found.candidates:
        data = {
            **candidate.as_dict(),
            "window": window.title,
            "timings_ms": {**found.ms, **found.stages, "ground": total_ms},
        }
        b = candidate.box
        emit(
            data,
            as_json,
            f"{candidate.label!r} {candidate.role or '-'} at {int(b.left)},{int(b.top)} "
            f"{int(b.width)}x{int(b.height)} from {candidate.source} (score {candidate.score:.2f})",
        )
    if not found.candidates:
        data = {
            "target": None,
            "asked": target.as_dict(),
            "window": window.title,
            "tried": found.tried,
            "timings_ms": {**found.ms, **found.stages, "ground": total_ms},
        }
        emit(
            data, as_json, f"no '{target.said}' in {window.title!r} (looked with {', '.join(found.tried) or 'nothing'})"
        )
        return 1
    return 0
