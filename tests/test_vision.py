"""The vision stage against a stand-in model on 127.0.0.1 (tests/apps/vision_standin.py): real HTTP in each
backend's protocol, real OCR on the pixels LOKI sent, answers in each model family's convention and shape.

Screens are synthetic (text drawn in DejaVu Sans on mss-style layouts: a second monitor at x=1920, a 2x
backing scale, a window larger than the image sent) and one real Xvfb window.
"""

from __future__ import annotations

import json
import logging
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from loki.config import ScreenSettings
from loki.errors import ScreenError
from loki.llm.vision import LlamaCppVision, build_model
from loki.screen.capture import Screen, Screenshot
from loki.screen.coords import MODEL_CONVENTIONS, Box, Frame, Monitor, click_to_image
from loki.screen.fake import ImageScreen
from loki.screen.ground import Candidate, Grounder, Target, Window
from loki.screen.vision import (
    VisionFinder,
    black_out,
    is_loopback,
    leaves_machine,
    prepare,
    read_answer,
    smart_resize,
)
from tests.apps.vision_standin import Modes, VisionStandin, qwen_smart_resize

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
WORDS = {"Save": (120, 90), "Cancel": (620, 90), "Preferences": (300, 300), "Quit": (700, 470)}
CONVENTION_API = {
    "qwen25": "openai",
    "uitars15": "ollama",
    "qwen3": "openai",
    "uitars1": "ollama",
    "moondream": "openai",
    "gemini": "gemini",
    "pixels": "ollama",
}
KEY = "sk-test-0123456789abcdef"


def vision_finder(settings: ScreenSettings, **kw: Any) -> VisionFinder:
    """The vision finder with the model its settings name (as tier 2 builds it)."""
    return VisionFinder(settings, model=build_model(settings), **kw)


def ink_box(image: Image.Image, region: tuple[int, int, int, int]) -> tuple[int, int, int, int]:
    """Inclusive pixel bounds of the dark pixels in `region` (the truth for a drawn word)."""
    x0, y0, x1, y1 = region
    gray = np.asarray(image.crop(region).convert("L"), dtype=np.float32)
    ys, xs = np.nonzero(gray < 128)
    return (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()), y0 + int(ys.max()))


def ink_centre(image: Image.Image, bbox: tuple[float, float, float, float]) -> tuple[float, float]:
    """The true centre of a drawn word: the middle of its ink, continuous image coordinates."""
    left, top, right, bottom = (round(v) for v in bbox)
    x0, y0, x1, y1 = ink_box(image, (left - 2, top - 2, right + 2, bottom + 2))
    return ((x0 + x1 + 1) / 2, (y0 + y1 + 1) / 2)


def draw_window(
    image: Image.Image, origin: tuple[int, int], size: tuple[int, int], scale: int = 1
) -> dict[str, tuple[float, float]]:
    """A light window with WORDS at their places; the true centre of each word's ink, in image pixels."""
    draw = ImageDraw.Draw(image)
    ox, oy = origin
    draw.rectangle((ox, oy, ox + size[0] * scale - 1, oy + size[1] * scale - 1), fill=(236, 238, 240))
    font = ImageFont.truetype(FONT, 18 * scale)
    truth = {}
    for word, (x, y) in WORDS.items():
        at = (ox + x * scale, oy + y * scale)
        draw.text(at, word, font=font, fill=(20, 20, 20))
        truth[word] = ink_centre(image, draw.textbbox(at, word, font=font))
    return truth


class RetinaScreen(ImageScreen):
    """A screen whose pixels are `backing` times denser than its coordinates (macOS: mss gives points, the image pixels)."""

    backing = 2

    def __init__(self, image: Image.Image, monitors: list[dict[str, int]]) -> None:
        small = image.resize((image.width // self.backing, image.height // self.backing))
        super().__init__(small, monitors)
        self.dense = image

    def _pixels(self, left: int, top: int, width: int, height: int) -> Any:
        k, origin = self.backing, self._monitors[0]
        x, y = left - origin["left"], top - origin["top"]
        return self.dense.crop((x * k, y * k, (x + width) * k, (y + height) * k))


# Scenes: (screen factory, window, true centres in screen pixels) ---------------------------------


def scene_second_monitor() -> tuple[Any, Window, dict[str, tuple[float, float]]]:
    """A window on the second monitor (x from 1920), 1:1."""
    monitors = [
        {"left": 0, "top": 0, "width": 3200, "height": 1080},
        {"left": 0, "top": 0, "width": 1920, "height": 1080},
        {"left": 1920, "top": 0, "width": 1280, "height": 1024},
    ]
    image = Image.new("RGB", (3200, 1080), (40, 60, 90))
    truth = draw_window(image, (2100, 200), (900, 560))
    window = Window(0x400001, Box(2100, 200, 900, 560), app="editor", title="Notes")
    return (lambda: ImageScreen(image, monitors)), window, truth


def scene_retina() -> tuple[Any, Window, dict[str, tuple[float, float]]]:
    """A 2x backing scale: screen coordinates in points, the image in device pixels (monitor left of the primary)."""
    monitors = [
        {"left": -1440, "top": 0, "width": 2880, "height": 900},
        {"left": -1440, "top": 0, "width": 1440, "height": 900},
        {"left": 0, "top": 0, "width": 1440, "height": 900},
    ]
    dense = Image.new("RGB", (2880 * 2, 900 * 2), (40, 60, 90))
    # the window at (-1300, 100) in points = (140, 100) in the virtual screen = (280, 200) in dense pixels
    truth_dense = draw_window(dense, (280, 200), (800, 520), scale=2)
    truth = {w: (x / 2 - 1440, y / 2) for w, (x, y) in truth_dense.items()}
    window = Window(0x400002, Box(-1300, 100, 800, 520), app="editor")
    return (lambda: RetinaScreen(dense, monitors)), window, truth


def scene_downscaled() -> tuple[Any, Window, dict[str, tuple[float, float]]]:
    """A window larger than LOKI_VISION_IMAGE_PX (1280): the image sent is scaled down."""
    monitors = [
        {"left": 0, "top": 0, "width": 1920, "height": 1080},
        {"left": 0, "top": 0, "width": 1920, "height": 1080},
    ]
    image = Image.new("RGB", (1920, 1080), (40, 60, 90))
    draw = ImageDraw.Draw(image)
    draw.rectangle((100, 50, 1799, 1049), fill=(236, 238, 240))
    font = ImageFont.truetype(FONT, 30)
    truth = {}
    for word, (x, y) in WORDS.items():
        at = (100 + x * 2, 50 + y * 2)
        draw.text(at, word, font=font, fill=(20, 20, 20))
        truth[word] = ink_centre(image, draw.textbbox(at, word, font=font))
    window = Window(0x400003, Box(100, 50, 1700, 1000), app="editor")
    return (lambda: ImageScreen(image, monitors)), window, truth


# Fixtures ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server() -> Any:
    with VisionStandin(Modes()).start() as standin:
        yield standin


@pytest.fixture
def standin(server: VisionStandin) -> VisionStandin:
    """The module's stand-in, back to honest answers in Qwen2.5-VL's convention, its record emptied."""
    server.configure(**vars(Modes()))
    server.requests.clear()
    return server


def settings(standin: VisionStandin, convention: str, api: str | None = None, **extra: Any) -> ScreenSettings:
    api = api or CONVENTION_API[convention]
    standin.configure(coords=convention)
    return ScreenSettings(
        vision_backend=api,
        vision_url=standin.url(api),
        vision_model="standin-vl",
        vision_api_key=KEY if api != "ollama" else "",
        vision_coords=convention,
        vision_timeout_s=extra.pop("vision_timeout_s", 60.0),
        **extra,
    )


def soon(seconds: float = 90.0) -> float:
    return time.monotonic() + seconds


def off_by(candidate: Candidate, truth: tuple[float, float]) -> float:
    """Distance from the clicked pixel's centre to the true centre, in screen pixels."""
    x, y = candidate.point
    return math.hypot(x + 0.5 - truth[0], y + 0.5 - truth[1])


# Every convention lands on the word --------------------------------------------------------------


@pytest.mark.parametrize("convention", list(MODEL_CONVENTIONS))
def test_every_convention_lands_on_the_word_on_a_second_monitor(standin: VisionStandin, convention: str) -> None:
    factory, window, truth = scene_second_monitor()
    finder = vision_finder(settings(standin, convention), screen_factory=factory)
    for word in ("Save", "Preferences", "Quit"):
        [found] = finder.find(Target(word), window, soon())
        assert off_by(found, truth[word]) <= 2.0, (convention, word, found.point, truth[word])
        assert found.source == "vision" and 0.6 <= found.score < 0.85
        assert window.box.contains(*found.point)
    sent = standin.requests[-1]
    assert not sent.resized, f"{convention}: the model had to resize {sent.size}"
    assert sent.api == CONVENTION_API[convention]
    if convention in ("qwen25", "uitars15"):
        assert sent.size[0] % 28 == 0 and sent.size[1] % 28 == 0
    else:
        assert sent.size == (900, 560)  # the window's crop, not the screen


@pytest.mark.parametrize("convention", ["qwen25", "qwen3", "moondream", "gemini", "uitars1"])
@pytest.mark.parametrize("scene", [scene_retina, scene_downscaled], ids=["retina2x", "downscaled"])
def test_scaled_frames_land_on_the_word(standin: VisionStandin, convention: str, scene: Any) -> None:
    factory, window, truth = scene()
    finder = vision_finder(settings(standin, convention), screen_factory=factory)
    for word in ("Cancel", "Quit"):
        [found] = finder.find(Target(word), window, soon())
        assert off_by(found, truth[word]) <= 2.0, (convention, word, found.point, truth[word])
    assert not standin.requests[-1].resized
    assert max(standin.requests[-1].size) <= 1288


def test_smart_resize_matches_the_reference_and_its_limits() -> None:
    for height, width in [(800, 1280), (1080, 1920), (560, 900), (30, 40), (2160, 3840), (5000, 7000), (100, 4000)]:
        h, w = smart_resize(height, width)
        assert (h, w) == qwen_smart_resize(height, width)
        assert h % 28 == 0 and w % 28 == 0 and 3136 <= h * w <= 12845056
    with pytest.raises(ScreenError) as err:
        smart_resize(10, 4000)
    assert err.value.code == "vision_image"


def test_prepare_bounds_the_image_and_its_frame_describes_it() -> None:
    frame = Frame(Monitor(1, 1920, 0, 1920, 1080), Box(1920, 0, 1920, 1080), 1920, 1080)
    shot = Screenshot(Image.new("RGB", (1920, 1080)), frame)
    for convention in MODEL_CONVENTIONS:
        sent = prepare(shot, convention, 1280)
        assert sent.image.size == (sent.frame.image_width, sent.frame.image_height)
        assert sent.frame.crop == frame.crop
        if convention in ("qwen25", "uitars15"):
            assert sent.image.width % 28 == 0 and sent.image.height % 28 == 0
            assert sent.image.width * sent.image.height <= 1280 * 720
        else:
            assert sent.image.size == (1280, 720)


# Answers that must not be acted on ---------------------------------------------------------------


@pytest.mark.parametrize("convention", ["pixels", "qwen3", "gemini"])
def test_a_swapped_answer_is_refused_or_stays_in_the_window(standin: VisionStandin, convention: str) -> None:
    factory, window, truth = scene_second_monitor()
    finder = vision_finder(settings(standin, convention), screen_factory=factory)
    standin.configure(swap=True)
    for word in WORDS:
        try:
            found = finder.find(Target(word), window, soon())
        except ScreenError as exc:
            assert exc.code == "vision_bad_answer"
        else:
            assert window.box.contains(*found[0].point)


@pytest.mark.parametrize("mode", ["malformed", "nan", "outside"])
@pytest.mark.parametrize("convention", ["qwen25", "qwen3", "moondream", "gemini", "pixels"])
def test_unusable_answers_are_a_clear_error(standin: VisionStandin, mode: str, convention: str) -> None:
    factory, window, _ = scene_second_monitor()
    finder = vision_finder(settings(standin, convention), screen_factory=factory)
    standin.configure(**{mode: True})
    with pytest.raises(ScreenError) as err:
        finder.find(Target("Save"), window, soon())
    assert err.value.code == "vision_bad_answer"
    assert "could not be used" in str(err.value)


def test_a_cascade_with_an_unusable_answer_finds_nothing(standin: VisionStandin) -> None:
    factory, window, _ = scene_second_monitor()
    standin.configure(malformed=True)
    found = Grounder([vision_finder(settings(standin, "qwen25"), screen_factory=factory)]).find(
        Target("Save"), window, soon()
    )
    assert found.candidates == [] and found.tried == ["vision"]


@pytest.mark.parametrize("convention", ["qwen25", "uitars15", "pixels", "gemini"])
def test_actions_in_the_answer_are_ignored(standin: VisionStandin, convention: str) -> None:
    factory, window, truth = scene_second_monitor()
    finder = vision_finder(settings(standin, convention), screen_factory=factory)
    standin.configure(actions=True)
    [found] = finder.find(Target("Cancel"), window, soon())
    assert "rm -rf" in standin.requests[-1].answer
    assert off_by(found, truth["Cancel"]) <= 2.0
    assert "rm" not in found.label and found.ref is None


def test_a_slow_model_times_out_with_the_setting_named(standin: VisionStandin) -> None:
    factory, window, _ = scene_second_monitor()
    finder = vision_finder(settings(standin, "qwen3", vision_timeout_s=1.0), screen_factory=factory)
    standin.configure(slow_s=4.0)
    with pytest.raises(ScreenError) as err:
        finder.find(Target("Save"), window, soon())
    assert err.value.code == "vision_timeout" and "LOKI_VISION_TIMEOUT_S" in str(err.value)
    standin.configure(slow_s=0.0)
    with pytest.raises(ScreenError) as err:  # the screen command's own deadline bounds the call too
        vision_finder(settings(standin, "qwen3"), screen_factory=factory).find(Target("Save"), window, time.monotonic())
    assert err.value.code == "vision_timeout"


@pytest.mark.parametrize(
    ("answer", "point"),
    [
        ('```json\n[{"bbox_2d": [10, 20, 30, 40], "label": "Save"}]\n```', (20, 30)),
        ('{"point": [15, 25], "label": "OK", "actions": [{"type": "type", "text": "x"}]}', (15, 25)),
        ("Thought: it is there.\nAction: click(start_box='(33,44)')", (33, 44)),
        ("Action: click(start_box='<|box_start|>(50,60)<|box_end|>')", (50, 60)),
        ("<|box_start|>(12,13)<|box_end|>", (12, 13)),
        ("Action: click(point='<point>70 80</point>')", (70, 80)),
    ],
)
def test_answer_shapes_in_pixels(answer: str, point: tuple[int, int]) -> None:
    frame = Frame(Monitor(1, 0, 0, 200, 100), Box(1000, 500, 200, 100), 200, 100)
    assert read_answer(answer, "pixels", frame).point == (1000 + point[0], 500 + point[1])


def test_answer_shapes_in_relative_conventions() -> None:
    frame = Frame(Monitor(1, 0, 0, 1000, 500), Box(0, 0, 1000, 500), 500, 250)
    assert read_answer('{"points": [{"x": 0.25, "y": 0.5}]}', "moondream", frame).point == (250, 250)
    assert read_answer('[{"point_2d": [250, 500], "label": "a"}]', "qwen3", frame).point == (250, 250)
    gemini = read_answer('```json\n[{"box_2d": [400, 200, 600, 300], "label": "Save"}]\n```', "gemini", frame)
    assert gemini.point == (250, 250) and gemini.label == "Save"  # [y_min, x_min, y_max, x_max]
    assert read_answer('{"point": [500, 250]}', "gemini", frame).point == (250, 250)  # Gemini points are [y, x]


@pytest.mark.parametrize(
    "answer",
    [
        '{"action": "type", "text": "hello"}',
        '{"actions": [{"type": "click", "point": [5, 5]}]}',
        "type(content='hello')",
        '{"point": [5]}',
        '{"point": ["5", 6]}',
        '{"point": [true, 6]}',
        '{"box": [30, 30, 10, 10]}',
        '{"point": [NaN, 5]}',
        '{"point": [Infinity, 5]}',
        '{"point": [-1, 5]}',
        '{"point": [5, 5], "label": 7}',
        "[]",
        "",
        '{"point": [5, 5]}' + " " * 9000,
    ],
)
def test_unusable_answers(answer: str) -> None:
    frame = Frame(Monitor(1, 0, 0, 200, 100), Box(0, 0, 200, 100), 200, 100)
    with pytest.raises(ScreenError) as err:
        read_answer(answer, "pixels", frame)
    assert err.value.code == "vision_bad_answer"


def test_out_of_range_per_convention() -> None:
    frame = Frame(Monitor(1, 0, 0, 200, 100), Box(0, 0, 200, 100), 200, 100)
    for convention, answer in [
        ("qwen3", '{"point": [1001, 5]}'),
        ("moondream", '{"x": 1.5, "y": 0.5}'),
        ("pixels", '{"point": [201, 5]}'),
    ]:
        with pytest.raises(ScreenError):
            read_answer(answer, convention, frame)
    # the far edges are the last pixel, never the next monitor
    assert read_answer('{"point": [1000, 1000]}', "qwen3", frame).point == (199, 99)


# Corrections -------------------------------------------------------------------------------------


@pytest.mark.parametrize("convention", ["qwen25", "gemini", "moondream"])
def test_find_again_tells_what_was_tried_in_the_models_convention(standin: VisionStandin, convention: str) -> None:
    factory, window, truth = scene_second_monitor()
    finder = vision_finder(settings(standin, convention), screen_factory=factory)
    cancel = (round(truth["Cancel"][0]), round(truth["Cancel"][1]))
    tried = Candidate(Box(cancel[0] - 4, cancel[1] - 4, 9, 9), "Cancel", "vision", 0.7)
    [found] = finder.find_again(Target("Save"), window, [tried], soon())
    assert off_by(found, truth["Save"]) <= 2.0
    prompt = standin.requests[-1].prompt
    assert "Before, I clicked at" in prompt and "'Cancel' and nothing changed" in prompt
    numbers = [float(n) for n in prompt.split("clicked at ")[1].split(" on ")[0].strip("()[]").split(", ")]
    x, y = (numbers[1], numbers[0]) if convention == "gemini" else tuple(numbers)
    assert finder.last_sent is not None
    expected = click_to_image(*tried.point, finder.last_sent.frame, MODEL_CONVENTIONS[convention])
    assert abs(x - expected[0]) <= 1 and abs(y - expected[1]) <= 1


# Describe ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("api", ["openai", "ollama", "gemini"])
def test_describe_returns_the_models_words(standin: VisionStandin, api: str) -> None:
    factory, window, _ = scene_second_monitor()
    finder = vision_finder(settings(standin, "qwen3", api), screen_factory=factory)
    standin.configure(description="A notes editor with Save and Cancel buttons.")
    assert finder.describe(window, "What's on my screen?", soon()) == "A notes editor with Save and Cancel buttons."
    assert standin.requests[-1].prompt.startswith("What's on my screen?")
    standin.configure(description="")
    said = finder.describe(window, "what's on my screen?", soon())
    assert said.startswith("A window showing:") and "Preferences" in said


# Privacy -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8080/v1", True),
        ("http://127.3.4.5", True),
        ("http://localhost:11434", True),
        ("http://LOCALHOST.:11434", True),
        ("http://[::1]:8080", True),
        ("http://[::ffff:127.0.0.1]:8080", True),
        ("https://generativelanguage.googleapis.com/v1beta", False),
        ("https://api.openai.com/v1", False),
        ("http://192.168.1.20:8080/v1", False),
        ("http://10.0.0.2", False),
        ("http://0.0.0.0:8080", False),
        ("http://localhost.example.com", False),
        ("http://127.0.0.1.nip.io", False),
        ("http://gpu-box:11434", False),
    ],
)
def test_loopback_decision(url: str, loopback: bool) -> None:
    assert is_loopback(url) is loopback


def test_which_backends_leave_the_machine() -> None:
    base = {"vision_coords": "qwen25"}
    assert not leaves_machine(build_model(ScreenSettings(vision_backend="ollama", **base)))  # 127.0.0.1:11434
    assert not leaves_machine(build_model(ScreenSettings(vision_backend="openai", **base)))  # llama-server
    assert leaves_machine(build_model(ScreenSettings(vision_backend="openai", vision_api_key=KEY, **base)))
    assert leaves_machine(build_model(ScreenSettings(vision_backend="gemini", vision_api_key=KEY, **base)))
    assert not leaves_machine(build_model(ScreenSettings(vision_backend="llama_cpp", **base)))


def test_remote_backend_gets_the_crop_with_password_fields_black(standin: VisionStandin) -> None:
    factory, window, truth = scene_second_monitor()
    secret = Box(2100 + 600, 200 + 280, 200, 40)  # screen pixels of a password field
    finder = vision_finder(
        settings(standin, "qwen25"), screen_factory=factory, secret_boxes=lambda w: [secret], remote=True
    )
    [found] = finder.find(Target("Save"), window, soon())
    assert off_by(found, truth["Save"]) <= 2.0
    sent = standin.requests[-1]
    frame = finder.last_sent.frame if finder.last_sent else None
    assert frame is not None and frame.crop == window.box  # the window's crop only
    sx, sy = frame.scale
    region = np.asarray(sent.image)[
        math.floor(280 * sy) : math.ceil(320 * sy), math.floor(600 * sx) : math.ceil(800 * sx)
    ]
    assert region.size and region.max() == 0, "the password field was sent"
    assert np.asarray(sent.image).mean() > 100  # the rest was not
    # a loopback backend sees the field (it never leaves the machine)
    local = vision_finder(settings(standin, "qwen25"), screen_factory=factory, secret_boxes=lambda w: [secret])
    local.find(Target("Save"), window, soon())
    assert np.asarray(standin.requests[-1].image).min() > 0


def test_redacted_apps_never_reach_a_remote_backend(standin: VisionStandin) -> None:
    factory, window, _ = scene_second_monitor()
    vault = Window(window.id, window.box, app="KeePassXC", title="Passwords.kdbx")
    finder = vision_finder(settings(standin, "qwen25"), screen_factory=factory, remote=True)
    for call in (
        lambda: finder.find(Target("Save"), vault, soon()),
        lambda: finder.describe(vault, "what is this?", soon()),
    ):
        with pytest.raises(ScreenError) as err:
            call()
        assert err.value.code == "vision_private" and "LOKI_SCREEN_REDACT_APPS" in str(err.value)
    assert standin.requests == []
    vision_finder(settings(standin, "qwen25"), screen_factory=factory).find(Target("Save"), vault, soon())
    assert len(standin.requests) == 1  # a local model may look at it


def test_no_backend_no_screenshot() -> None:
    grabbed: list[int] = []

    def factory() -> Screen:
        grabbed.append(1)
        raise AssertionError("no screenshot may be taken without a vision backend")

    finder = vision_finder(ScreenSettings(vision_backend="none"), screen_factory=factory)
    window = Window(1, Box(0, 0, 100, 100))
    assert not finder.enabled and finder.find(Target("Save"), window, soon()) == []
    with pytest.raises(ScreenError) as err:
        finder.describe(window, "what's on my screen?", soon())
    assert err.value.code == "vision_off" and "LOKI_VISION_BACKEND" in str(err.value)
    assert grabbed == []


@pytest.mark.parametrize(("api", "header"), [("openai", "authorization"), ("gemini", "x-goog-api-key")])
def test_the_key_goes_in_a_header_and_nowhere_else(
    standin: VisionStandin, api: str, header: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    factory, window, _ = scene_second_monitor()
    finder = vision_finder(settings(standin, "gemini", api), screen_factory=factory)
    finder.find(Target("Save"), window, soon())
    sent = standin.requests[-1]
    assert KEY in sent.headers[header] and KEY not in sent.path
    assert KEY not in repr(finder.model) and KEY not in caplog.text
    standin.configure(malformed=True)
    with pytest.raises(ScreenError) as err:
        finder.find(Target("Save"), window, soon())
    assert KEY not in str(err.value)


def test_unreachable_backend_names_the_setting() -> None:
    s = ScreenSettings(
        vision_backend="openai", vision_url="http://127.0.0.1:9/v1", vision_coords="qwen3", vision_timeout_s=5
    )
    frame_image = Image.new("RGB", (300, 200), (255, 255, 255))
    monitors = [{"left": 0, "top": 0, "width": 300, "height": 200}] * 2
    finder = vision_finder(s, screen_factory=lambda: ImageScreen(frame_image, monitors))
    with pytest.raises(ScreenError) as err:
        finder.find(Target("Save"), Window(1, Box(0, 0, 300, 200)), soon())
    assert err.value.code == "vision_unreachable" and "LOKI_VISION_URL" in str(err.value)


def test_black_out_covers_every_touched_pixel() -> None:
    frame = Frame(Monitor(1, 0, 0, 400, 400), Box(100, 100, 300, 300), 200, 200)
    shot = black_out(Screenshot(Image.new("RGB", (200, 200), (255, 255, 255)), frame), [Box(151, 151, 3, 3)])
    pixels = np.asarray(shot.image)
    black = np.argwhere(pixels.max(axis=2) == 0)
    assert sorted(map(tuple, black.tolist())) == [(34, 34), (34, 35), (35, 34), (35, 35)]


def test_llama_cpp_names_the_missing_files(tmp_path: Path) -> None:
    import asyncio

    model = LlamaCppVision(str(tmp_path / "qwen2.5-vl-3b.gguf"), "", "qwen25", timeout_s=5)
    with pytest.raises(ScreenError) as err:
        asyncio.run(model.ask("", "where is Save?", ""))
    assert err.value.code == "vision_model" and "LOKI_VISION_MODEL" in str(err.value)
    (tmp_path / "qwen2.5-vl-3b.gguf").write_bytes(b"GGUF")
    model = LlamaCppVision(str(tmp_path / "qwen2.5-vl-3b.gguf"), "", "qwen25", timeout_s=5)
    with pytest.raises(ScreenError) as err:
        asyncio.run(model.ask("", "where is Save?", ""))
    assert "LOKI_VISION_MMPROJ" in str(err.value)
    model.close()


# A real window ----------------------------------------------------------------------------------

TK_WORD = r"""
import json, sys, tkinter as tk
root = tk.Tk(className="visionprobe")
root.geometry("640x400+160+120")
canvas = tk.Canvas(root, width=640, height=400, bg="#f4f4f4", highlightthickness=0)
canvas.pack(fill="both", expand=True)
canvas.create_text(80, 60, text="Open", font=("DejaVu Sans", 16), anchor="nw")
word = canvas.create_text(380, 250, text="Settings", font=("DejaVu Sans", 16), anchor="nw")
def ready():
    root.update_idletasks()
    x0, y0, x1, y1 = canvas.bbox(word)
    ox, oy = canvas.winfo_rootx(), canvas.winfo_rooty()
    with open(sys.argv[1], "a") as f:
        f.write(json.dumps({"box": [root.winfo_rootx(), root.winfo_rooty(), root.winfo_width(), root.winfo_height()],
                            "word": [ox + x0, oy + y0, x1 - x0, y1 - y0], "id": int(root.wm_frame(), 16)}) + "\n")
root.after(600, ready)
root.mainloop()
"""


def test_a_real_window_end_to_end(xserver: str, standin: VisionStandin, tmp_path: Path) -> None:
    log = tmp_path / "probe.jsonl"
    app = subprocess.Popen([sys.executable, "-c", TK_WORD, str(log)])
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not (log.exists() and log.read_text().strip()):
            time.sleep(0.1)
        assert log.exists() and log.read_text().strip(), "the Tk window did not come up"
        info = json.loads(log.read_text().splitlines()[-1])
        window = Window(info["id"], Box(*info["box"]), app="visionprobe")
        word = Box(*info["word"])
        for convention in ("qwen25", "gemini"):
            finder = vision_finder(settings(standin, convention))
            [found] = finder.find(Target("Settings"), window, soon())
            assert word.contains(*found.point), (convention, found.point, word)
    finally:
        app.terminate()
        app.wait(10)
