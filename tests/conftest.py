"""Shared fixtures: a real X server (Xvfb + openbox) and a real audio server (PulseAudio, null sink).

Both are started once per session by the tests themselves; tests that need one skip with a clear
reason only when the program is not installed (`.ci/run` installs them, so CI never skips).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from loki.config import Settings, settings_from
from loki.screen.coords import Box
from loki.screen.ground import Window

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO.parent / "shared" / "testdata"


def _need(*programs: str) -> None:
    missing = [p for p in programs if shutil.which(p) is None]
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install {', '.join(missing)} (see .ci/run)")
        pytest.skip(f"needs {', '.join(missing)}: run the README's test command to install it")


@pytest.fixture(scope="session")
def festival_ru():
    """festival's Russian voice (festvox-ru), for Russian clips: espeak-ng's Russian is too garbled for Whisper.

    Skips with the reason when festival or festvox-ru is missing; fails under CI (`scripts/setup.sh test`
    installs both).
    """
    from loki.listen import clips

    problem = clips.festival_ru_missing()
    if problem:
        if os.environ.get("CI"):
            pytest.fail(f"CI must install festival and festvox-ru (scripts/setup.sh test): {problem}")
        pytest.skip(f"needs festival's Russian voice: {problem}")
    return clips.festival_ru()


def _wait_for(check, what: str, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not come up within {timeout_s:g} s")


@pytest.fixture(scope="session")
def xserver() -> Iterator[str]:
    """A real X display with a window manager; yields the DISPLAY value and sets it."""
    _need("Xvfb", "openbox", "xdotool")
    sys.path.insert(0, str(Path(__file__).parent))
    from apps.a11y_desktop import start_xvfb

    xvfb, display = start_xvfb("1280x800")
    env = {**os.environ, "DISPLAY": display}
    _wait_for(
        lambda: subprocess.run(["xdotool", "getmouselocation"], env=env, capture_output=True).returncode == 0, "Xvfb"
    )
    wm = subprocess.Popen(["openbox"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.3)
    old = os.environ.get("DISPLAY")
    os.environ["DISPLAY"] = display
    # python-xlib insists on an Xauthority file; Xvfb runs without access control, so an empty one does.
    xauth = Path(tempfile.mkstemp(prefix="loki-xauth-")[1])
    old_xauth = os.environ.get("XAUTHORITY")
    os.environ["XAUTHORITY"] = str(xauth)
    try:
        yield display
    finally:
        xauth.unlink(missing_ok=True)
        if old_xauth is None:
            os.environ.pop("XAUTHORITY", None)
        else:
            os.environ["XAUTHORITY"] = old_xauth
        from loki.actions import desktop

        for app in desktop._launched:  # apps the tests launched on this display (LOKI itself leaves them running)
            app.terminate()
            app.wait(5)
        wm.terminate()
        xvfb.terminate()
        wm.wait(5)
        xvfb.wait(5)
        if old is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = old


@pytest.fixture(scope="session")
def pulse() -> Iterator[dict[str, str]]:
    """A real PulseAudio server whose default sink is a null sink (its monitor is the default source).

    Yields the environment variables that point clients at it (already set in os.environ).
    """
    _need("pulseaudio", "pactl")
    from loki.audio.pulse import private_pulse

    with private_pulse() as env:
        yield env


@pytest.fixture
def testdata() -> Path:
    """The shared real recordings (../shared/testdata)."""
    if not TESTDATA.is_dir():
        pytest.skip(f"shared recordings not found at {TESTDATA}")
    return TESTDATA


# openWakeWord's own classifiers (CC BY-NC-SA 4.0), shipped inside its 0.5.1 wheel on PyPI: test fixtures
# only, never installed. Their features come from the same melspectrogram/embedding models LOKI uses.
OPENWAKEWORD_WHEEL = "openwakeword==0.5.1"
OPENWAKEWORD_MODELS = {
    "hey_jarvis_v0.1.onnx": "94a13cfe60075b132f6a472e7e462e8123ee70861bc3fb58434a73712ee0d2cb",
    "alexa_v0.1.onnx": "6ff566a01d12670e8d9e3c59da32651db1575d17272a601b7f8a39283dfbae3e",
}


@pytest.fixture(scope="session")
def openwakeword_models() -> Path:
    """A folder with real openWakeWord models, taken from the openwakeword wheel on PyPI (cached, sha256-checked)."""
    import hashlib
    import sys
    import zipfile

    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "loki-tests" / "openwakeword"

    def cached(name: str) -> bool:
        path = cache / name
        return path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == OPENWAKEWORD_MODELS[name]

    if all(cached(name) for name in OPENWAKEWORD_MODELS):
        return cache
    cache.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        command = [sys.executable, "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
        try:
            got = subprocess.run(
                [*command, "--disable-pip-version-check", OPENWAKEWORD_WHEEL, "-d", tmp],
                capture_output=True,
                text=True,
                timeout=300,
            )
            problem = got.stderr.strip()[-300:] if got.returncode else ""
        except subprocess.TimeoutExpired:
            problem = "pip download timed out"
        wheels = list(Path(tmp).glob("openwakeword-*.whl"))
        if problem or not wheels:
            message = f"could not download {OPENWAKEWORD_WHEEL} from PyPI: {problem or 'no wheel'}"
            if os.environ.get("CI"):
                pytest.fail(message)
            pytest.skip(message)
        with zipfile.ZipFile(wheels[0]) as wheel:
            for name, sha256 in OPENWAKEWORD_MODELS.items():
                data = wheel.read(f"openwakeword/resources/models/{name}")
                assert hashlib.sha256(data).hexdigest() == sha256, f"{name} in {wheels[0].name} is not the model"
                partial = cache / f".{name}.{os.getpid()}.tmp"
                partial.write_bytes(data)
                os.replace(partial, cache / name)  # never a half-written model in the cache
    return cache


@pytest.fixture
def settings_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a Settings object that writes only under tmp_path."""
    return {
        "LOKI_STATE_DIR": str(tmp_path / "state"),
        "LOKI_USER_PROFILES_DIR": str(tmp_path / "user-profiles"),
        "LOKI_SCREENSHOT_DIR": str(tmp_path / "shots"),
        "LOKI_LLM_BACKEND": "none",
        # Tier-1 tests reach the model with wordings the meaning layer would catch; tests/test_meaning.py turns it on.
        "LOKI_MEANING": "0",
    }


@pytest.fixture
def dry_run_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Makes Settings for a dry run that writes only under tmp_path: no LLM, no traces; keywords add LOKI_* values."""

    def make(**extra: str) -> Settings:
        return settings_from(
            {
                "LOKI_STATE_DIR": str(tmp_path / "state"),
                "LOKI_USER_PROFILES_DIR": str(tmp_path / "p"),
                "LOKI_LLM_BACKEND": "none",
                "LOKI_DRY_RUN": "1",
                "LOKI_TRACE": "0",
                **extra,
            }
        )

    return make


def pytest_unconfigure(config: pytest.Config) -> None:
    """llama-cpp-python opens two /dev/null files at import and never closes them: close them before exit.

    Otherwise, with warnings as errors, interpreter shutdown prints ResourceWarnings after pytest's summary.
    """
    import sys

    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, name, None)
        if handle is not None:
            handle.close()


@pytest.fixture(scope="session")
def a11y(xserver: str) -> Iterator[str]:
    """A D-Bus session bus with the AT-SPI accessibility bus (accessibility on) for the test display.

    Yields the session bus address, set as DBUS_SESSION_BUS_ADDRESS while it runs (restored after);
    apps started with that environment expose their widgets. Everything it starts is ended after.
    """
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    from apps import a11y_desktop

    lacking = a11y_desktop.missing()
    if lacking:
        _need(*lacking)
    old = os.environ.get("DBUS_SESSION_BUS_ADDRESS")
    with a11y_desktop.a11y_session(xserver) as address:
        os.environ["DBUS_SESSION_BUS_ADDRESS"] = address
        try:
            yield address
        finally:
            if old is None:
                os.environ.pop("DBUS_SESSION_BUS_ADDRESS", None)
            else:
                os.environ["DBUS_SESSION_BUS_ADDRESS"] = old


TKBUTTONS = Path(__file__).parent / "apps" / "tkbuttons.py"


@dataclass
class Buttons:
    """A running tkbuttons window."""

    log: Path
    window: Window
    boxes: dict[str, Box]
    """Each button's box, screen pixels, by label."""

    def clicks(self) -> list[str]:
        """The labels clicked so far, in order."""
        lines = self.log.read_text(encoding="utf-8").splitlines()
        return [json.loads(line)["clicked"] for line in lines if '"clicked"' in line]


def _ready(log: Path) -> dict | None:
    if not log.exists():
        return None
    for line in log.read_text(encoding="utf-8").splitlines():
        if '"ready"' in line:
            return json.loads(line)
    return None


@pytest.fixture
def tkbuttons(xserver: str, tmp_path: Path) -> Iterator[Callable[..., Buttons]]:
    """Starts tkbuttons windows (seed, count, extra args) and waits until each is shown; kills them after."""
    apps: list[subprocess.Popen] = []

    def start(seed: int, count: int = 12, *extra: str) -> Buttons:
        log = tmp_path / f"tkbuttons-{seed}-{len(apps)}.jsonl"
        apps.append(subprocess.Popen([sys.executable, str(TKBUTTONS), str(log), str(seed), str(count), *extra]))
        deadline = time.monotonic() + 30
        while (ready := _ready(log)) is None:
            assert apps[-1].poll() is None, f"tkbuttons exited with {apps[-1].returncode}"
            assert time.monotonic() < deadline, "the tkbuttons window did not show within 30 s"
            time.sleep(0.05)
        x, y, w, h = ready["box"]
        boxes = {b["label"]: Box(*b["box"]) for b in ready["buttons"]}
        return Buttons(log, Window(ready["id"], Box(x, y, w, h)), boxes)

    try:
        yield start
    finally:
        for app in apps:
            app.terminate()
            app.wait(10)
