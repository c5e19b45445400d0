"""Push-to-talk on a real X server (Xvfb): the key watcher, and a command said while the key is held."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Callable

import pytest

from loki.actions.keysyms import keysym_name
from loki.audio.fake import ArrayMicrophone
from loki.config import Settings
from loki.listen import clips
from loki.listen.ptt import PttError, PushToTalk

pytestmark = pytest.mark.x11


def xdotool(*args: str) -> None:
    subprocess.run(["xdotool", *args], check=True)


async def _settle(seconds: float = 0.3) -> None:
    await asyncio.sleep(seconds)


def test_key_names_follow_pyautogui() -> None:
    assert keysym_name("f9") == "F9"
    assert keysym_name("ctrlright") == "Control_R"
    assert keysym_name("scrolllock") == "Scroll_Lock"
    assert keysym_name("Pause") == "Pause"


async def test_hold_mode(xserver: str) -> None:
    events: list[str] = []
    ptt = PushToTalk("f9", mode="hold", on_start=lambda: events.append("start"), on_stop=lambda: events.append("stop"))
    ptt.start()
    try:
        xdotool("keydown", "F9")
        await _settle(0.6)
        assert events == ["start"] and ptt.talking
        xdotool("keyup", "F9")
        await _settle()
        xdotool("key", "F8")  # other keys are ignored
        await _settle()
        assert events == ["start", "stop"]
    finally:
        ptt.stop()


async def test_toggle_mode(xserver: str) -> None:
    events: list[str] = []
    ptt = PushToTalk(
        "scrolllock", mode="toggle", on_start=lambda: events.append("start"), on_stop=lambda: events.append("stop")
    )
    ptt.start()
    try:
        xdotool("key", "Scroll_Lock")
        await _settle()
        assert events == ["start"]
        xdotool("key", "Scroll_Lock")
        await _settle()
        assert events == ["start", "stop"]
    finally:
        ptt.stop()


async def test_unknown_key_is_reported(xserver: str) -> None:
    ptt = PushToTalk("no-such-key", on_start=lambda: None, on_stop=lambda: None)
    with pytest.raises(PttError, match="not a key name"):
        ptt.start()


@pytest.mark.models
async def test_command_while_key_held_needs_no_wake_word(
    xserver: str, dry_run_settings: Callable[..., Settings]
) -> None:
    """The daemon with the real key watcher: hold F9, say "open the browser", release -> one turn."""
    from loki.wiring import build_daemon

    settings = dry_run_settings(LOKI_PTT_KEY="f9", LOKI_PTT_MODE="hold")
    speech = clips.say("open the browser", clips.Voice("espeak", "en-gb", 150))
    audio = clips.join(clips.silence(1.0), speech, clips.silence(0.8))
    mic = ArrayMicrophone(audio, realtime=True, pad_s=1.5)
    daemon = build_daemon(settings, mic=mic, require_wake=True)
    await daemon.warm_up()

    async def press() -> None:
        await asyncio.sleep(0.6)
        xdotool("keydown", "F9")
        await asyncio.sleep(len(audio) / 16000 - 0.4)
        xdotool("keyup", "F9")

    pressing = asyncio.create_task(press())
    await daemon.run()
    await pressing
    (turn,) = daemon.results
    assert turn.actions == [{"type": "launch", "app": "browser"}]
