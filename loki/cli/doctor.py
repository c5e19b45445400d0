"""`loki doctor [--json]`: check devices, display, models, profiles, the LLM backend and permissions.

One line per check, `{"check", "ok", "detail"}`; exit status 1 when any check fails. Checks that
do not apply (no push-to-talk key, no LLM) report ok with a detail saying so.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from loki.cli import emit
from loki.config import Settings


@dataclass(frozen=True)
class Check:
    """One line of the report."""

    check: str
    ok: bool
    detail: str

    def as_json(self) -> dict[str, Any]:
        """The contract's JSON object."""
        return {"check": self.check, "ok": self.ok, "detail": self.detail}


def _names(devices: list[Any], kind: str) -> str:
    chosen = [d for d in devices if (d.max_input_channels if kind == "input" else d.max_output_channels) > 0]
    marks = [
        f"{d.index}: {d.name}{' (default)' if (d.is_default_input if kind == 'input' else d.is_default_output) else ''}"
        for d in chosen
    ]
    return "; ".join(marks) or "none"


def check_microphone(settings: Settings, listen_s: float = 0.3) -> Check:
    """The configured (or default) microphone opens and delivers audio; lists input devices."""
    from loki.audio.devices import find_device, list_devices
    from loki.audio.mic import SoundDeviceMicrophone
    from loki.errors import AudioError

    try:
        devices = list_devices()
        find_device(settings.mic_device or None, kind="input")
    except AudioError as exc:
        return Check("microphone", False, str(exc))
    listing = _names(devices, "input")
    mic = SoundDeviceMicrophone(settings.mic_device or None)

    async def sample() -> int:
        count = 0
        async with contextlib.aclosing(mic.frames()) as frames:
            async for _frame in frames:
                count += 1
                if count * 0.03 >= listen_s:
                    break
        return count

    try:
        frames = asyncio.run(asyncio.wait_for(sample(), 5.0))
    except (AudioError, TimeoutError) as exc:
        return Check("microphone", False, f"{exc or 'no audio within 5 s'}. Input devices: {listing}")
    finally:
        mic.close()
    return Check(
        "microphone",
        frames > 0,
        f"{mic.name!r} delivers audio ({frames} frames in {listen_s:g} s). Input devices: {listing}",
    )


def check_speaker(settings: Settings) -> Check:
    """The configured (or default) speaker exists; lists output devices."""
    from loki.audio.devices import find_device, list_devices
    from loki.errors import AudioError

    try:
        devices = list_devices()
        device = find_device(settings.speaker_device or None, kind="output")
    except AudioError as exc:
        return Check("speaker", False, str(exc))
    outputs = [d for d in devices if d.max_output_channels > 0]
    if not outputs:
        return Check("speaker", False, "no output devices")
    name = device.name if device else next((d.name for d in outputs if d.is_default_output), outputs[0].name)
    return Check("speaker", True, f"{name!r}. Output devices: {_names(devices, 'output')}")


def check_display() -> Check:
    """An X display LOKI can act on (DISPLAY + xdotool), or Wayland (reported, limited)."""
    if sys.platform == "darwin" or sys.platform.startswith("win"):
        return Check("display", True, f"{sys.platform}: desktop actions through pyautogui")
    display = os.environ.get("DISPLAY")
    if not display:
        if os.environ.get("WAYLAND_DISPLAY"):
            return Check("display", False, "Wayland without XWayland DISPLAY: desktop actions need X11 (set DISPLAY)")
        return Check("display", False, "DISPLAY is not set: LOKI cannot act on the desktop (and push-to-talk is off)")
    tool = shutil.which("xdotool")
    if tool is None:
        return Check("display", False, f"DISPLAY={display}, but xdotool is missing: apt install xdotool")
    out = subprocess.run([tool, "getmouselocation"], capture_output=True, text=True, timeout=5, check=False)
    if out.returncode != 0:
        return Check("display", False, f"DISPLAY={display} does not answer: {out.stderr.strip() or out.returncode}")
    return Check("display", True, f"DISPLAY={display}, xdotool works ({out.stdout.strip()})")


def check_models(settings: Settings) -> Check:
    """The models LOKI needs are installed (speech recognition, voice, wake word features)."""
    from loki.models import list_models

    try:
        entries = list_models(settings)
    except Exception as exc:
        return Check("models", False, f"cannot list models: {exc}")
    ready = [e for e in entries if e.ready]
    missing = [e for e in entries if not e.ready]
    kinds = {e.kind for e in ready}
    needed = {"whisper", "piper"} if entries else set()
    ok = bool(ready) and needed <= kinds if needed else bool(ready)
    detail = "ready: " + (", ".join(f"{e.name} ({e.kind})" for e in ready) or "none")
    if missing:
        detail += "; not installed: " + ", ".join(e.name for e in missing)
    return Check("models", ok, detail)


def check_wake(settings: Settings) -> Check:
    """The wake-word engine the settings ask for can be built."""
    from loki.errors import LokiError
    from loki.listen.wake import build_wake

    try:
        wake = build_wake(settings)
    except LokiError as exc:
        return Check("wake word", False, str(exc))
    if wake.engine is not None:
        wake.engine.close()
    detail = {
        "whisper": f"keyless: {' / '.join(wake.phrases.phrases)!r} read from transcripts",
        "none": "off: push-to-talk only",
    }.get(wake.kind, f"{wake.kind}: {settings.wake_model}")
    return Check("wake word", True, detail)


def check_ptt(settings: Settings) -> Check:
    """The push-to-talk key can be watched (X11 RECORD extension)."""
    if not settings.ptt_key:
        return Check("push-to-talk", True, "off (LOKI_PTT_KEY is empty)")
    from loki.listen.ptt import PttError, PushToTalk

    ptt = PushToTalk(settings.ptt_key, mode=settings.ptt_mode, on_start=lambda: None, on_stop=lambda: None)

    async def probe() -> None:
        ptt.start()

    try:
        asyncio.run(probe())
    except PttError as exc:
        return Check("push-to-talk", False, str(exc))
    finally:
        ptt.stop()
    return Check("push-to-talk", True, f"{settings.ptt_key!r} ({settings.ptt_mode})")


def check_profiles(settings: Settings) -> Check:
    """Every profile file compiles."""
    from loki.profiles.loader import check_profiles as check
    from loki.wiring import profile_folders

    ok, errors = check(profile_folders(settings))
    if errors:
        return Check(
            "profiles",
            False,
            "; ".join(str(e) for e in errors[:3]) + (f" (+{len(errors) - 3} more)" if len(errors) > 3 else ""),
        )
    return Check("profiles", True, f"{len(ok)} file(s) valid")


def check_llm(settings: Settings, timeout_s: float = 2.0) -> Check:
    """The language-model backend: the embedded GGUF is present, or the HTTP server answers."""
    if settings.llm_backend == "none":
        return Check("llm", True, "off (LOKI_LLM_BACKEND=none): tier 0 only")
    from loki.llm.factory import build_backend

    try:
        backend = build_backend(settings.llm_backend, settings, main=True)
    except Exception as exc:
        return Check("llm", False, f"{settings.llm_backend}: {exc}")
    url = getattr(backend, "url", None)
    if url is None:  # llama_cpp: a local file
        try:
            from loki.llm.factory import gguf_path
            from loki.llm.llamacpp import embedded_model_path

            path = (
                gguf_path(settings, settings.llm_model)
                if settings.llm_model
                else embedded_model_path(settings.models_path)
            )
        except Exception as exc:
            return Check("llm", False, f"llama_cpp: {exc}")
        return Check("llm", Path(path).is_file(), f"llama_cpp: {path}")
    import httpx

    try:
        response = httpx.get(url, timeout=timeout_s)
    except httpx.HTTPError as exc:
        return Check(
            "llm",
            False,
            f"{settings.llm_backend} at {url} does not answer ({type(exc).__name__}); is the server running?",
        )
    return Check("llm", True, f"{settings.llm_backend} at {url} answers (HTTP {response.status_code})")


def _writable(path: Path) -> str | None:
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path):
            pass
    except OSError as exc:
        return f"{path}: {exc.strerror or exc}"
    return None


def check_permissions(settings: Settings) -> Check:
    """LOKI can write its state, profiles and screenshots, and reach the audio server."""
    problems = []
    for path in (settings.state_path, settings.user_profiles_path):
        problem = _writable(path)
        if problem:
            problems.append(problem)
    if sys.platform.startswith("linux"):
        runtime = os.environ.get("XDG_RUNTIME_DIR")
        if not runtime or not os.access(runtime, os.W_OK):
            problems.append("XDG_RUNTIME_DIR is missing or not writable (the audio server may be unreachable)")
        if (
            not os.access("/dev/snd", os.R_OK)
            and not (runtime and Path(runtime, "pulse").exists())
            and not os.environ.get("PULSE_SERVER")
        ):
            problems.append("no access to /dev/snd and no PulseAudio/PipeWire socket")
    if problems:
        return Check("permissions", False, "; ".join(problems))
    return Check("permissions", True, f"state {settings.state_path}, profiles {settings.user_profiles_path} writable")


def check_screen(settings: Settings) -> Check:
    """The screen can be captured (monitors, the display profile) for tier 2."""
    from loki.errors import ScreenError
    from loki.screen.capture import Screen
    from loki.screen.coords import Box

    try:
        with Screen() as screen:
            monitors = screen.monitors()
            whole = screen.virtual()
            screen.grab(Box(whole.left, whole.top, 1, 1))
    except ScreenError as exc:
        return Check("screen", False, f"{exc.message} (tier 2 cannot see the screen)")
    shown = ", ".join(f"{m.width}x{m.height}+{m.left}+{m.top}" for m in monitors)
    return Check("screen", True, f"{len(monitors)} monitor(s): {shown}")


def check_accessibility(settings: Settings) -> Check:
    """The AT-SPI bus tier 2 reads controls from (GTK and Qt apps; without it tier 2 reads the screen with OCR)."""
    import time

    from loki.errors import ScreenError
    from loki.screen.a11y import AccessibilityFinder

    try:
        with AccessibilityFinder() as finder:
            pids = finder.applications(time.monotonic() + 5.0)
    except ScreenError as exc:
        return Check("accessibility", False, f"{exc.message} (tier 2 falls back to OCR)")
    return Check("accessibility", True, f"AT-SPI bus answers, {len(pids)} app(s) expose their controls")


def check_ocr(settings: Settings) -> Check:
    """Text recognition for tier 2: rapidocr's embedded model, Tesseract with Russian."""
    engine = settings.screen.ocr
    if engine == "none":
        return Check("ocr", True, "off (LOKI_OCR=none): tier 2 finds controls through accessibility and vision only")
    problems, have = [], []
    if engine in ("auto", "rapidocr"):
        try:
            import rapidocr  # noqa: F401

            have.append("rapidocr (PP-OCR, embedded)")
        except ImportError:
            problems.append("rapidocr is not installed: pip install rapidocr")
    if engine in ("auto", "tesseract"):
        exe = shutil.which("tesseract")
        langs = ""
        if exe:
            out = subprocess.run([exe, "--list-langs"], capture_output=True, text=True, timeout=10)
            langs = out.stdout
        if not exe:
            problems.append(
                "tesseract is missing (Russian text on the screen): apt install tesseract-ocr tesseract-ocr-rus"
            )
        elif "rus" not in langs.split():
            problems.append("Tesseract has no Russian: apt install tesseract-ocr-rus")
        else:
            have.append("tesseract (eng, rus)")
    return Check("ocr", not problems, "; ".join([*have, *problems]))


CHECKS: list[Callable[[Settings], Check]] = [
    check_microphone,
    check_speaker,
    lambda s: check_display(),
    check_models,
    check_wake,
    check_ptt,
    check_profiles,
    check_llm,
    check_screen,
    check_accessibility,
    check_ocr,
    check_permissions,
]


def run_checks(settings: Settings) -> Iterator[Check]:
    """Every check in order; one that crashes is reported as failed, never raised."""
    for check in CHECKS:
        try:
            yield check(settings)
        except Exception as exc:
            name = getattr(check, "__name__", "check").removeprefix("check_")
            yield Check(name, False, f"{type(exc).__name__}: {exc}")


def command(args: argparse.Namespace, settings: Settings) -> int:
    """Print one line per check; exit 1 if any failed."""
    failed = 0
    for check in run_checks(settings):
        failed += not check.ok
        emit(check.as_json(), args.json, f"{'ok  ' if check.ok else 'FAIL'}  {check.check:13s} {check.detail}")
    return 1 if failed else 0
