"""Display profiles: what LOKI cannot ask the screen itself (HiDPI scale, a monitor layout, a click offset).

A profile is a TOML file in a `display/` folder of a profiles folder (`profiles/display/*.toml`
shipped, `~/.config/loki/profiles/display/*.toml` your own):

    screen = "2560x1440"     # optional: apply by itself when the whole screen has this size
    scale = 2                # optional: device pixels per toolkit pixel, every monitor (default 1)
    click_offset = [0, 0]    # optional: screen pixels added to every click (see `loki screen calibrate`)

    [[monitor]]              # optional, repeated: replaces the layout the screen reports
    left = 0
    top = 0
    width = 1280
    height = 1440
    scale = 1                # optional: this monitor's own scale

The README's "Display profiles" section says the same for users.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from loki.errors import ScreenError
from loki.screen.coords import Monitor

FOLDER = "display"
SUFFIX = ".toml"
_KEYS = {"screen", "scale", "click_offset", "monitor", "name"}
_MONITOR_KEYS = {"left", "top", "width", "height", "scale"}


@dataclass(frozen=True)
class DisplayProfile:
    """A display profile, read and checked."""

    name: str
    path: Path | None = None
    screen: tuple[int, int] | None = None
    scale: float | None = None
    monitors: tuple[Monitor, ...] = ()
    click_offset: tuple[int, int] = (0, 0)

    def layout(self, detected: list[Monitor]) -> list[Monitor]:
        """The monitors to use, 1-based like mss: the profile's layout if it has one, else the detected ones.

        The profile's `scale` applies to every detected monitor (a [[monitor]] has its own, or the profile's).
        """
        if self.monitors:
            return list(self.monitors)
        detected = [m for m in detected if m.index != 0]
        if self.scale is None:
            return detected
        return [replace(m, scale=self.scale) for m in detected]


NO_PROFILE = DisplayProfile("none")


def _fail(path: Path, message: str) -> ScreenError:
    return ScreenError(f"{path}: {message}", code="display_profile")


def _number(path: Path, where: str, value: Any, *, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _fail(path, f"{where} must be a number, not {value!r}")
    if positive and value <= 0:
        raise _fail(path, f"{where} must be above 0, not {value!r}")
    return float(value)


def _integer(path: Path, where: str, value: Any, *, positive: bool = False) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _fail(path, f"{where} must be a whole number of pixels, not {value!r}")
    if positive and value <= 0:
        raise _fail(path, f"{where} must be above 0, not {value!r}")
    return value


def _size(path: Path, value: Any) -> tuple[int, int]:
    text = str(value).lower().replace(" ", "")
    width, sep, height = text.partition("x")
    if not (sep and width.isdigit() and height.isdigit()):
        raise _fail(path, f'screen must look like "1920x1080", not {value!r}')
    return (int(width), int(height))


def load_display_profile(path: Path) -> DisplayProfile:
    """Read one profile file; a mistake raises ScreenError naming the file and what to fix."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise _fail(path, f"cannot read it ({exc.strerror or exc})") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise _fail(path, f"not valid TOML: {exc}") from exc
    unknown = sorted(set(data) - _KEYS)
    if unknown:
        raise _fail(path, f"unknown key {unknown[0]!r} (known: {', '.join(sorted(_KEYS))})")
    screen = _size(path, data["screen"]) if "screen" in data else None
    scale = _number(path, "scale", data["scale"], positive=True) if "scale" in data else None
    offset = data.get("click_offset", [0, 0])
    if not isinstance(offset, list) or len(offset) != 2:
        raise _fail(path, f"click_offset must be [x, y], not {offset!r}")
    click_offset = (_integer(path, "click_offset x", offset[0]), _integer(path, "click_offset y", offset[1]))
    monitors: list[Monitor] = []
    entries = data.get("monitor", [])
    if not isinstance(entries, list):
        raise _fail(path, "monitor must be a list of [[monitor]] tables")
    for number, entry in enumerate(entries, start=1):
        where = f"monitor {number}"
        if not isinstance(entry, dict):
            raise _fail(path, f"{where} must be a [[monitor]] table")
        bad = sorted(set(entry) - _MONITOR_KEYS)
        if bad:
            raise _fail(path, f"{where}: unknown key {bad[0]!r} (known: {', '.join(sorted(_MONITOR_KEYS))})")
        missing = [k for k in ("left", "top", "width", "height") if k not in entry]
        if missing:
            raise _fail(path, f"{where} needs {', '.join(missing)}")
        monitors.append(
            Monitor(
                number,
                _integer(path, f"{where} left", entry["left"]),
                _integer(path, f"{where} top", entry["top"]),
                _integer(path, f"{where} width", entry["width"], positive=True),
                _integer(path, f"{where} height", entry["height"], positive=True),
                _number(path, f"{where} scale", entry.get("scale", scale or 1.0), positive=True),
            )
        )
    for a in monitors:
        for b in monitors:
            if a.index < b.index and _overlap(a, b):
                raise _fail(path, f"monitor {a.index} and monitor {b.index} overlap")
    name = str(data.get("name") or path.stem)
    return DisplayProfile(name, path, screen, scale, tuple(monitors), click_offset)


def _overlap(a: Monitor, b: Monitor) -> bool:
    return (
        a.left < b.left + b.width
        and b.left < a.left + a.width
        and a.top < b.top + b.height
        and b.top < a.top + a.height
    )


def display_profile_files(folders: Iterable[Path]) -> list[Path]:
    """Every display profile in these profiles folders, in order (later folders win ties)."""
    found: list[Path] = []
    for folder in folders:
        found += sorted((Path(folder) / FOLDER).glob(f"*{SUFFIX}"))
    return found


def find_display_profile(
    name: str, folders: Iterable[Path], screen_size: tuple[int, int] | None = None
) -> DisplayProfile:
    """The profile to use.

    `name` is a file path, the stem of a profile in the folders' `display/` (a later folder wins), or
    "none". Empty: the last profile whose `screen` is `screen_size` (your own folder comes last, so it
    wins), else no profile.
    """
    if name == "none":
        return NO_PROFILE
    files = display_profile_files(folders)
    if name:
        as_path = Path(name).expanduser()
        if as_path.suffix == SUFFIX or "/" in name:
            if not as_path.is_file():
                raise ScreenError(f"No display profile at {as_path}", code="display_profile")
            return load_display_profile(as_path)
        named = [f for f in files if f.stem == name]
        if not named:
            known = ", ".join(sorted({f.stem for f in files})) or "none"
            raise ScreenError(f"No display profile named {name!r} (known: {known})", code="display_profile")
        return load_display_profile(named[-1])
    chosen = NO_PROFILE
    if screen_size is not None:
        for path in files:
            profile = load_display_profile(path)
            if profile.screen == screen_size:
                chosen = profile
    return chosen
