"""Seeing (issue 16, deliver 1): capture with its frame, the coordinate contract, display profiles, calibration.

Real components: the session's Xvfb + openbox (tests/conftest.py), mss, a real Tk window
(tests/apps/screenprobe.py, and the calibration window itself), pyautogui through `loki screen
calibrate` in a child process. Xvfb shows mss one monitor whatever you do, so monitor offsets are
checked on synthetic frames built from mss-style monitor lists, and for real on the 1280x800 Xvfb
screen described as two monitors by a display profile.
"""

from __future__ import annotations

import json
import math
import os
import random
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from loki.errors import ScreenError
from loki.screen.coords import (
    MODEL_CONVENTIONS,
    Box,
    Convention,
    Frame,
    Monitor,
    click_to_image,
    convert,
    fit_size,
    image_to_click,
    logical_to_screen,
    monitor_at,
    toolkit_scale,
    window_relative_to_screen,
)
from loki.screen.display import NO_PROFILE, find_display_profile, load_display_profile

REPO = Path(__file__).resolve().parent.parent
PROBE = Path(__file__).parent / "apps" / "screenprobe.py"
TWO_MONITORS = """
[[monitor]]
left = 0
top = 0
width = 640
height = 800

[[monitor]]
left = 640
top = 0
width = 640
height = 800
scale = 2
"""

# A left monitor at negative x, as mss lists it: 0 is the whole virtual screen, then each monitor.
MSS_MONITORS = [
    {"left": -1920, "top": 0, "width": 4480, "height": 1600},
    {"left": -1920, "top": 400, "width": 1920, "height": 1080},
    {"left": 0, "top": 0, "width": 2560, "height": 1600},
]


# The coordinate contract, on synthetic frames -------------------------------------------------------


def _frames() -> list[Frame]:
    left, right = (Monitor.from_mss(i, MSS_MONITORS[i], scale) for i, scale in ((1, 1.0), (2, 2.0)))
    window = Box(-1500, 650, 900, 620)  # a window on the left monitor
    return [
        Frame(left, left.box, 1920, 1080),  # the monitor as is
        Frame(right, right.box, 1280, 800),  # downscaled to half
        Frame(right, right.box, 1288, 812),  # smart-resized: multiples of 28, x and y scaled apart
        Frame(left, window, 900, 620),  # a window crop at full size
        Frame(left, window, 360, 248),  # ... downscaled to 0.4
        Frame(right, Box(100, 100, 640, 400), 1280, 800),  # macOS-like: points, image at the backing scale
        Frame(right, Box(2000, 1200, 500, 300), 500, 300, click_offset=(3, -2)),
    ]


@pytest.mark.parametrize("convention", list(Convention))
def test_every_screen_pixel_round_trips_through_every_convention(convention: Convention) -> None:
    rng = random.Random(16)
    for frame in _frames():
        for _ in range(300):
            x = int(frame.crop.left) + rng.randrange(int(frame.crop.width))
            y = int(frame.crop.top) + rng.randrange(int(frame.crop.height))
            cx, cy = x + frame.click_offset[0], y + frame.click_offset[1]
            ix, iy = click_to_image(cx, cy, frame, convention)
            assert image_to_click(ix, iy, frame, convention) == (cx, cy), (frame, convention, (x, y))


@pytest.mark.parametrize("convention", list(Convention))
def test_a_models_rounded_answer_lands_within_2_px(convention: Convention) -> None:
    """Models answer whole numbers (or 3 decimals for 0-1): on a downscaled image that is still within 2 px."""
    rng = random.Random(1000)
    digits = 3 if convention is Convention.UNIT else 0
    for frame in _frames():
        for _ in range(300):
            x = int(frame.crop.left) + rng.randrange(int(frame.crop.width))
            y = int(frame.crop.top) + rng.randrange(int(frame.crop.height))
            ix, iy = click_to_image(x + frame.click_offset[0], y + frame.click_offset[1], frame, convention)
            cx, cy = image_to_click(round(ix, digits), round(iy, digits), frame, convention)
            assert abs(cx - frame.click_offset[0] - x) <= 2 and abs(cy - frame.click_offset[1] - y) <= 2


def test_the_mapping_goes_through_the_frame() -> None:
    right = Monitor.from_mss(2, MSS_MONITORS[2])
    half = Frame(right, right.box, 1280, 800)
    assert half.scale == (0.5, 0.5)
    assert image_to_click(0, 0, half) == (1, 1)  # image pixel 0 covers screen 0-1: its centre
    assert image_to_click(640, 400, half) == (1281, 801)  # and pixel 640 covers 1280-1281
    assert image_to_click(500, 500, half, Convention.PERMILLE) == (1280, 800)
    assert image_to_click(0.25, 0.5, half, Convention.UNIT) == (640, 800)
    # 1000 and 1.0 are the crop's last pixel, never the next monitor's first
    assert image_to_click(1000, 1000, half, Convention.PERMILLE) == (2559, 1599)
    assert image_to_click(1.0, 1.0, half, Convention.UNIT) == (2559, 1599)
    left = Monitor.from_mss(1, MSS_MONITORS[1])
    window = Frame(left, Box(-1500, 650, 900, 620), 450, 310)
    assert window.crop_in_monitor == (420, 250)
    assert image_to_click(0, 0, window) == (-1499, 651)  # at the crop origin, left of the primary monitor
    assert image_to_click(500, 500, window, Convention.PERMILLE) == (-1050, 960)
    assert monitor_at(-1050, 960, [Monitor.from_mss(i, m) for i, m in enumerate(MSS_MONITORS)]) == left
    assert convert(639.5, 399.5, half, Convention.PIXELS, Convention.PERMILLE) == (500.0, 500.0)
    offset = Frame(right, right.box, 2560, 1600, click_offset=(5, -3))
    assert image_to_click(10, 10, offset) == (15, 7)
    assert click_to_image(15, 7, offset) == (10.0, 10.0)
    assert json.loads(json.dumps(window.as_dict()))["image"] == [450, 310]


@pytest.mark.parametrize("convention", list(Convention))
def test_an_offset_monitor_layout_maps_back_within_2_px(convention: Convention) -> None:
    """mss-style monitors (the left one at negative x, lower, smaller), captured downscaled, found and mapped back."""
    from PIL import Image, ImageDraw

    from loki.screen.calibrate import find_targets
    from loki.screen.fake import ImageScreen

    whole = MSS_MONITORS[0]
    image = Image.new("RGB", (whole["width"], whole["height"]), "white")
    marks = {1: [(-1000, 900), (-1800, 1450)], 2: [(1500, 300), (2500, 1550)]}
    draw = ImageDraw.Draw(image)
    for points in marks.values():
        for x, y in points:
            px, py = x - whole["left"], y - whole["top"]
            draw.rectangle((px - 8, py - 8, px + 8, py + 8), fill=(255, 0, 0))
    screen = ImageScreen(image, MSS_MONITORS, load_display_profile(REPO / "profiles" / "display" / "hidpi-2x.toml"))
    screen.active = Box(-1500, 650, 900, 620)
    shots = screen.every_monitor(longest=1000)
    assert [s.frame.monitor.scale for s in shots] == [2.0, 2.0]
    for shot in [*shots, screen.window(longest=300)]:
        expected = [p for points in marks.values() for p in points if shot.frame.crop.contains(*p)]
        found = find_targets(shot)
        assert len(found) == len(expected) >= 1
        for point in found:
            written = convert(point[0], point[1], shot.frame, Convention.PIXELS, convention)
            digits = 3 if convention is Convention.UNIT else 0
            x, y = image_to_click(round(written[0], digits), round(written[1], digits), shot.frame, convention)
            assert min(math.hypot(x - ex, y - ey) for ex, ey in expected) <= 2, (shot.frame, point)


def test_model_settings_name_their_convention() -> None:
    assert MODEL_CONVENTIONS["qwen25"] is Convention.PIXELS
    assert MODEL_CONVENTIONS["qwen3"] is Convention.PERMILLE
    assert MODEL_CONVENTIONS["moondream"] is Convention.UNIT
    assert MODEL_CONVENTIONS["gemini"] is Convention.PERMILLE
    assert fit_size(1280, 800, 640) == (640, 400)
    assert fit_size(1280, 800, 2000) == (1280, 800)


def test_toolkit_boxes_become_screen_pixels() -> None:
    # GNOME/gtk#1505: gedit under GDK_SCALE=2 reports (32, 23) for a widget really at (64, 46).
    assert logical_to_screen(Box(32, 23, 50, 20), 2) == Box(64, 46, 100, 40)
    # GTK4 answers window-relative boxes: shifted by where the window really is, its own offsets scaled.
    assert window_relative_to_screen(Box(10, 20, 30, 40), (1000, 500)) == Box(1010, 520, 30, 40)
    assert window_relative_to_screen(Box(10, 20, 30, 40), (1000, 500), 2, inset=(5, 5)) == Box(1030, 550, 60, 80)
    hidpi = Monitor(2, 1920, 0, 3840, 2160, 2.0)
    assert toolkit_scale(hidpi, {}) == 2.0
    assert toolkit_scale(hidpi, {"GDK_SCALE": "1"}) == 1.0
    assert toolkit_scale(None, {"GDK_SCALE": "nonsense"}) == 1.0


# Display profiles -----------------------------------------------------------------------------------


def test_the_shipped_display_profiles_load() -> None:
    files = sorted((REPO / "profiles" / "display").glob("*.toml"))
    assert files
    profiles = {p.stem: load_display_profile(p) for p in files}
    assert profiles["hidpi-2x"].scale == 2
    side = profiles["side-by-side"]
    assert [(m.left, m.width) for m in side.monitors] == [(0, 1920), (1920, 1920)]
    assert side.layout([Monitor(0, 0, 0, 3840, 1080), Monitor(1, 0, 0, 3840, 1080)]) == list(side.monitors)
    detected = [Monitor(0, 0, 0, 3840, 2160), Monitor(1, 0, 0, 3840, 2160)]
    assert profiles["hidpi-2x"].layout(detected) == [Monitor(1, 0, 0, 3840, 2160, 2.0)]
    assert NO_PROFILE.layout(detected) == [detected[1]]


def test_the_readme_display_profile_example_loads(tmp_path: Path) -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```toml\n(# ~/\.config/loki/profiles/display/([\w-]+\.toml)\n.*?)```", readme, re.S)
    assert block, "README.md has no display profile example"
    path = tmp_path / "display" / block.group(2)
    path.parent.mkdir()
    path.write_text(block.group(1), encoding="utf-8")
    profile = load_display_profile(path)
    assert profile.screen == (3840, 1080) and profile.monitors[0].width == 1920


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("scael = 2", "unknown key 'scael'"),
        ("click_offset = [1]", "click_offset must be [x, y]"),
        ("click_offset = [1.5, 0]", "whole number of pixels"),
        ("scale = 0", "scale must be above 0"),
        ('screen = "big"', 'screen must look like "1920x1080"'),
        ("[[monitor]]\nleft = 0\ntop = 0\nwidth = 10", "monitor 1 needs height"),
        ("[[monitor]]\nleft=0\ntop=0\nwidth=10\nheight=10\n[[monitor]]\nleft=5\ntop=0\nwidth=10\nheight=10", "overlap"),
        ("scale = ", "not valid TOML"),
    ],
)
def test_a_broken_display_profile_says_what_to_fix(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "display" / "mine.toml"
    path.parent.mkdir()
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScreenError) as caught:
        load_display_profile(path)
    assert str(path) in str(caught.value) and fragment in str(caught.value)


def test_a_profile_is_found_by_name_path_or_screen_size(tmp_path: Path) -> None:
    shipped, mine = tmp_path / "shipped", tmp_path / "mine"
    for folder in (shipped, mine):
        (folder / "display").mkdir(parents=True)
    (shipped / "display" / "desk.toml").write_text("click_offset = [1, 1]\n", encoding="utf-8")
    (mine / "display" / "desk.toml").write_text('screen = "1280x800"\nclick_offset = [2, 0]\n', encoding="utf-8")
    folders = [shipped, mine]
    assert find_display_profile("desk", folders).click_offset == (2, 0)  # your own folder wins
    assert find_display_profile("", folders, (1280, 800)).click_offset == (2, 0)
    assert find_display_profile("", folders, (1920, 1080)) is NO_PROFILE
    assert find_display_profile("none", folders, (1280, 800)) is NO_PROFILE
    assert find_display_profile(str(shipped / "display" / "desk.toml"), folders).click_offset == (1, 1)
    with pytest.raises(ScreenError, match="No display profile named 'laptop' \\(known: desk\\)"):
        find_display_profile("laptop", folders)


# Capture on the real X server -----------------------------------------------------------------------


class ProbeWindow:
    def __init__(self, log: Path, proc: subprocess.Popen[bytes]) -> None:
        self.log, self.proc = log, proc

    def box(self) -> list[int]:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.log.exists():
                for line in self.log.read_text().splitlines():
                    record = json.loads(line)
                    if record.get("ready"):
                        return record["box"]
            time.sleep(0.05)
        raise AssertionError("the probe window never became ready")


@pytest.fixture
def probe_window(xserver: str, tmp_path: Path) -> Iterator[ProbeWindow]:
    log = tmp_path / "probe.jsonl"
    proc = subprocess.Popen([sys.executable, str(PROBE), str(log), "400x300+300+200"])
    try:
        window = ProbeWindow(log, proc)
        window.box()
        deadline = time.monotonic() + 10  # until the window manager has made it the active window
        while _xdotool("getactivewindow", "getwindowname") != "LOKI screen probe" and time.monotonic() < deadline:
            time.sleep(0.05)
        yield window
    finally:
        proc.terminate()
        proc.wait(5)


def _xdotool(*args: str) -> str:
    return subprocess.run(["xdotool", *args], capture_output=True, text=True, timeout=5).stdout.strip()


def test_every_monitor_and_the_whole_screen_come_with_their_frame(xserver: str) -> None:
    from loki.screen.capture import Screen

    with Screen() as screen:
        monitors = screen.monitors()
        assert [(m.left, m.top, m.width, m.height) for m in monitors] == [(0, 0, 1280, 800)]
        shots = screen.every_monitor()
        assert [s.image.size for s in shots] == [(1280, 800)]
        whole = screen.whole()
        assert whole.image.size == (1280, 800) and whole.frame.monitor.index == 0
        small = screen.whole(longest=640)
        assert small.image.size == (640, 400)
        frame = small.frame
        assert (frame.image_width, frame.image_height) == (640, 400) and frame.scale == (0.5, 0.5)
        assert frame.crop == Box(0, 0, 1280, 800)
        with pytest.raises(ScreenError, match="reaches outside the screen"):
            screen.grab(Box(1000, 0, 400, 100))


def test_a_profile_describes_the_wide_screen_as_two_monitors(
    xserver: str, tmp_path: Path, probe_window: ProbeWindow
) -> None:
    """The Xvfb screen as two monitors side by side: each shot is exactly its half of the whole screen."""
    from loki.screen.capture import Screen

    path = tmp_path / "two.toml"
    path.write_text(TWO_MONITORS, encoding="utf-8")
    with Screen(load_display_profile(path)) as screen:
        left, right = screen.every_monitor()
        whole = screen.whole()
    assert (left.frame.monitor.left, right.frame.monitor.left) == (0, 640)
    assert (left.frame.monitor.scale, right.frame.monitor.scale) == (1.0, 2.0)
    assert left.image.size == right.image.size == (640, 800)
    assert right.frame.crop == Box(640, 0, 640, 800)
    assert left.image.tobytes() == whole.image.crop((0, 0, 640, 800)).tobytes()
    assert right.image.tobytes() == whole.image.crop((640, 0, 1280, 800)).tobytes()
    # A point of the right monitor's image maps into the right half of the screen.
    assert image_to_click(0, 0, right.frame) == (640, 0)


def test_the_window_crop_is_where_the_window_really_is(probe_window: ProbeWindow) -> None:
    from loki.screen.capture import Screen, active_window_box

    x, y, width, height = probe_window.box()  # Tk's own winfo_rootx/rooty: the truth
    geometry = dict(
        line.split("=") for line in _xdotool("getactivewindow", "getwindowgeometry", "--shell").splitlines()
    )
    assert (int(geometry["WIDTH"]), int(geometry["HEIGHT"])) == (width, height)
    # xdotool's X/Y add the window manager frame's offset twice (jordansissel/xdotool#176), so the
    # origin comes from XTranslateCoordinates; it must be where Tk says its window is.
    assert active_window_box() == Box(x, y, width, height)
    with Screen() as screen:
        shot = screen.window()
        small = screen.window(longest=200)
    assert shot.frame.crop == Box(x, y, width, height)
    assert shot.image.size == (width, height) and small.image.size == (200, 150)
    # The pixels are the window's: stripes 16 px wide, blue then green.
    assert shot.image.getpixel((8, 150)) == (0x20, 0x40, 0xC0)
    assert shot.image.getpixel((24, 150)) == (0x40, 0xC0, 0x20)
    # ... and a point of the downscaled crop maps back into the same stripe on the screen.
    cx, cy = image_to_click(10, 75, small.frame)  # small image x 10 = screen x 25..26 into the window
    assert (cx - x) // 16 == 1 and y <= cy < y + height


# `loki screen calibrate` ---------------------------------------------------------------------------


def _loki(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    if (
        env is None
    ):  # out of the corners, where pyautogui's fail-safe would stop the clicks (an earlier test may leave it there)
        _xdotool("mousemove", "700", "500")
    environment = {**(env if env is not None else os.environ), "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-m", "loki", *args], capture_output=True, text=True, timeout=120, env=environment, cwd=REPO
    )


@pytest.mark.parametrize(
    ("convention", "image_size"), [("pixels", 0), ("permille", 500), ("unit", 333), ("qwen25", 700)]
)
def test_calibrate_clicks_every_target_within_2_px(
    xserver: str, tmp_path: Path, convention: str, image_size: int
) -> None:
    profile = tmp_path / "two.toml"
    profile.write_text(TWO_MONITORS, encoding="utf-8")
    done = _loki(
        "screen", "calibrate", "--json", "--profile", str(profile),
        "--convention", convention, "--image-size", str(image_size),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["missed"] == 0 and len(report["targets"]) == 10
    assert {t["monitor"] for t in report["targets"]} == {1, 2}
    assert all(t["error_px"] is not None and t["error_px"] <= 2 for t in report["targets"])
    assert report["median_px"] <= 2 and report["max_px"] <= 2
    assert [f["monitor"]["left"] for f in report["frames"]] == [0, 640]
    longest = image_size or 800
    assert all(max(f["image"]) == longest for f in report["frames"])


def test_a_click_offset_in_the_profile_moves_every_click_by_it(xserver: str, tmp_path: Path) -> None:
    profile = tmp_path / "shifted.toml"
    profile.write_text("click_offset = [7, -4]\n", encoding="utf-8")
    done = _loki("screen", "calibrate", "--json", "--profile", str(profile))
    assert done.returncode == 1, done.stderr  # 8.1 px off: calibration fails, and says how to fix it
    report = json.loads(done.stdout)
    moved = {(t["landed"][0] - t["target"][0], t["landed"][1] - t["target"][1]) for t in report["targets"]}
    assert moved == {(7, -4)}
    assert report["click_offset"] == [7, -4] and report["suggested_click_offset"] == [0, 0]
    assert math.isclose(report["median_px"], math.hypot(7, 4), abs_tol=0.01)
    _xdotool("mousemove", "700", "500")
    human = _loki("screen", "calibrate", env={**os.environ, "LOKI_DISPLAY_PROFILE": str(profile)})  # the setting
    assert "put click_offset = [0, 0] in the display profile" in human.stdout


def test_calibrate_says_plainly_when_there_is_no_display(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    done = _loki("screen", "calibrate", "--json", env=env)
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"] == "no_display"
    assert "No display: DISPLAY is not set" in done.stderr
    gone = _loki("screen", "calibrate", env={**env, "DISPLAY": ":1999"})
    assert gone.returncode == 1
    assert "No display: the X display :1999 does not answer" in gone.stderr
    assert "Traceback" not in done.stderr + gone.stderr


def test_calibrate_stops_plainly_with_the_mouse_in_a_corner(xserver: str) -> None:
    """pyautogui's fail-safe stays on for calibration too, and says why it stopped."""
    _xdotool("mousemove", "0", "0")
    try:
        done = _loki("screen", "calibrate", "--json", env=dict(os.environ))
    finally:
        _xdotool("mousemove", "640", "400")  # later tests click
    assert done.returncode == 1
    assert json.loads(done.stdout)["error"] == "fail_safe"
    assert "move it away" in done.stderr and "Traceback" not in done.stderr


def test_two_real_monitors_if_this_x_server_can_show_them(xserver: str, tmp_path: Path) -> None:
    """Two X screens under Xinerama: the real multi-monitor case, where the X server can show it."""
    display = f":{200 + os.getpid() % 100}"
    server = subprocess.Popen(
        ["Xvfb", display, "+xinerama", "-screen", "0", "800x600x24", "-screen", "1", "640x480x24", "-nolisten", "tcp"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    script = (
        "import json; from loki.screen.capture import Screen\n"
        "with Screen() as s:\n"
        "    shots = s.every_monitor()\n"
        "    print(json.dumps([[sh.frame.as_dict(), list(sh.image.size)] for sh in shots]))\n"
    )
    env = {**os.environ, "DISPLAY": display, "PYTHONPATH": str(REPO)}
    try:
        for _ in range(100):
            done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=30)
            if done.returncode == 0:
                break
            time.sleep(0.1)
        assert done.returncode == 0, done.stderr
    finally:
        server.terminate()
        server.wait(5)
    shots = json.loads(done.stdout)
    if len(shots) < 2:
        pytest.skip(
            "Xvfb with two screens under +xinerama still shows mss one monitor (RandR reports a single output); "
            "two monitors are tested as one wide screen described by a display profile, and offset layouts "
            "on mss-style monitor lists"
        )
    assert [s[1] for s in shots] == [[800, 600], [640, 480]]
    assert shots[1][0]["crop"]["left"] == 800
