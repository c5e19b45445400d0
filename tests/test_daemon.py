"""The daemon: text mode, supervision, barge-in, confirmation listening, states, self-hearing on PulseAudio."""

from __future__ import annotations

import asyncio
import json
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from loki.audio.fake import ArrayMicrophone
from loki.config import Settings
from loki.daemon import Daemon
from loki.events import (
    Event,
    Interrupt,
    MicrophoneChanged,
    SpeechStarted,
    State,
    StateChanged,
    Transcribed,
    TurnFailed,
    WakeDetected,
)
from loki.listen import clips
from loki.stt.fake import ScriptedTranscriber
from loki.tts.fake import FakeVoice
from loki.tts.said import SaidRecord
from loki.wiring import build_daemon

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture
def settings(dry_run_settings: Callable[..., Settings]) -> Settings:
    return dry_run_settings()


def _beeps(count: int, gap_s: float = 1.0, lead_s: float = 0.5) -> np.ndarray:
    """Speech-like bursts (a voiced buzz) the VAD takes for utterances."""
    burst = clips.buzz()
    parts = [clips.silence(lead_s)]
    for _ in range(count):
        parts += [burst, clips.silence(gap_s)]
    return clips.join(*parts)


def test_run_text_mode_reads_stdin_lines(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LOKI_STATE_DIR": str(tmp_path / "s"),
        "LOKI_USER_PROFILES_DIR": str(tmp_path / "p"),
        "LOKI_LLM_BACKEND": "none",
        "LOKI_REPLY_MODE": "text",
    }
    out = subprocess.run(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", "run", "--text", "--dry-run", "--json"],
        input="open the browser\nnew tab\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    assert [line["actions"] for line in lines] == [
        [{"type": "launch", "app": "browser"}],
        [{"type": "hotkey", "keys": ["ctrl", "t"]}],
    ]
    assert lines[0]["transcript"] == "open the browser"


def test_ctrl_c_exits_cleanly(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "LOKI_STATE_DIR": str(tmp_path / "s"),
        "LOKI_USER_PROFILES_DIR": str(tmp_path / "p"),
        "LOKI_LLM_BACKEND": "none",
        "LOKI_REPLY_MODE": "text",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", "run", "--text", "--dry-run"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stdin is not None
    proc.stdin.write("open the browser\n")
    proc.stdin.flush()
    deadline = time.monotonic() + 30
    line = ""
    assert proc.stdout is not None
    while time.monotonic() < deadline and "tier 0" not in line:
        line = proc.stdout.readline()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)
    assert proc.returncode in (0, 130), err
    assert "Traceback" not in err


async def test_a_failing_stage_is_restarted(settings: Settings) -> None:
    """The recognizer crashes on the first utterance; the supervisor restarts it and the next works."""
    events: list[Event] = []
    stt = ScriptedTranscriber(["hey loki open the browser", "hey loki new tab"], fail_first=True)
    daemon = build_daemon(settings, mic=ArrayMicrophone(_beeps(3)), transcriber=stt, on_event=events.append)
    await daemon.run()
    failures = [e for e in events if isinstance(e, TurnFailed)]
    assert [f.stage for f in failures] == ["recognize"]
    assert [r.actions for r in daemon.results] == [
        [{"type": "launch", "app": "browser"}],
        [{"type": "hotkey", "keys": ["ctrl", "t"]}],
    ]


async def test_turn_events_and_states(settings: Settings) -> None:
    events: list[Event] = []
    voice = FakeVoice(seconds_per_reply=0.3)
    stt = ScriptedTranscriber(["Hey Loki, what time is it?"])
    daemon = build_daemon(
        settings,
        mic=ArrayMicrophone(_beeps(1), realtime=True, pad_s=1.5),
        transcriber=stt,
        voice=voice,
        on_event=events.append,
    )
    await daemon.run()
    (turn,) = daemon.results
    assert turn.tier == 0 and turn.reply.startswith("It's")
    kinds = [type(e).__name__ for e in events if not isinstance(e, (StateChanged, MicrophoneChanged))]
    assert kinds[:4] == ["SpeechStarted", "SpeechEnded", "Transcribed", "WakeDetected"]
    states = [(e.old, e.new) for e in events if isinstance(e, StateChanged)]
    assert (State.IDLE, State.THINKING) in states or (State.LISTENING, State.THINKING) in states
    assert (State.THINKING, State.SPEAKING) in states
    assert states[-1][1] in (State.IDLE, State.LISTENING)
    assert voice.said == [turn.reply]


async def test_stop_while_speaking_interrupts_at_once(settings: Settings) -> None:
    voice = FakeVoice()
    stt = ScriptedTranscriber(["Stop."])
    events: list[Event] = []
    daemon = build_daemon(
        settings, mic=ArrayMicrophone(_beeps(1), realtime=True), transcriber=stt, voice=voice, on_event=events.append
    )
    voice.speak_for(30.0, "A long answer about the weather in many places.")
    await daemon.run()
    assert voice.interrupts and not voice.speaking
    assert [e.reason for e in events if isinstance(e, Interrupt)] == ["stop"]
    assert daemon.results == []


async def test_wake_word_while_speaking_interrupts_and_takes_the_command(settings: Settings) -> None:
    voice = FakeVoice()
    stt = ScriptedTranscriber(["weather in many places hey loki new tab"])
    daemon = build_daemon(settings, mic=ArrayMicrophone(_beeps(1), realtime=True), transcriber=stt, voice=voice)
    daemon.said.add("A long answer about the weather in many places.")
    voice.speak_for(30.0)
    await daemon.run()
    assert voice.interrupts
    assert [r.actions for r in daemon.results] == [[{"type": "hotkey", "keys": ["ctrl", "t"]}]]


async def test_own_voice_is_not_a_command_even_without_wake_word(settings: Settings) -> None:
    voice = FakeVoice()
    stt = ScriptedTranscriber(["open the browser and a new tab"])
    daemon = build_daemon(
        settings, mic=ArrayMicrophone(_beeps(1), realtime=True), transcriber=stt, voice=voice, require_wake=False
    )
    voice.speak_for(30.0)
    await daemon.run()
    assert daemon.results == [] and not voice.interrupts


async def test_listen_returns_the_next_utterance_or_none(settings: Settings) -> None:
    stt = ScriptedTranscriber(["Yes, do it."])
    daemon = build_daemon(settings, mic=ArrayMicrophone(_beeps(1, gap_s=2.5), realtime=True), transcriber=stt)
    runner = asyncio.create_task(daemon.run())
    assert await daemon.listen(5.0) == "Yes, do it."
    assert await daemon.listen(0.5) is None
    await runner
    assert daemon.results == []  # the answer was not taken for a command


async def test_spoken_confirmation_uses_listen(settings: Settings) -> None:
    from loki.brain.confirm import SpokenConfirm

    stt = ScriptedTranscriber(["yes"])
    voice = FakeVoice(seconds_per_reply=0.2)
    mic = ArrayMicrophone(_beeps(1, gap_s=1.0, lead_s=1.5), realtime=True)  # the answer comes after the question
    daemon = build_daemon(settings, mic=mic, transcriber=stt, voice=voice)
    confirm = SpokenConfirm(lambda text: voice(text), daemon.listen, timeout_s=5.0)
    runner = asyncio.create_task(daemon.run())
    assert await confirm("I'm about to close the window. Okay?") is True
    await runner
    assert voice.said == ["I'm about to close the window. Okay?"]


def test_said_log_separates_loki_words() -> None:
    said = SaidRecord()
    said.add("The weather is sunny today.")
    assert said.foreign("the weather is sunny stop today") == "stop"


# Real audio server: LOKI's own voice comes back through the microphone ----------------------------
@pytest.mark.audio
@pytest.mark.models
async def test_self_hearing_never_makes_a_turn(pulse: dict[str, str], settings: Settings) -> None:
    """LOKI says command-like text on the null sink; the mic records its monitor; no wake word needed; no turn."""
    from loki.audio.mic import SoundDeviceMicrophone
    from loki.tts import SpeechOutput

    events: list[Event] = []
    voice = SpeechOutput(settings, show_text=lambda text: None)
    await voice.start(("en",))
    mic = SoundDeviceMicrophone(None)
    daemon = build_daemon(settings, mic=mic, voice=voice, require_wake=False, on_event=events.append)
    await daemon.warm_up()
    runner = asyncio.create_task(daemon.run())
    try:
        await asyncio.sleep(0.5)
        await daemon.orchestrator.reply("Open the browser. Then open a new tab, and scroll down.", "en")
        await asyncio.sleep(2.5)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await voice.close()
    assert any(isinstance(e, SpeechStarted) for e in events), "the microphone never heard LOKI's voice"
    assert daemon.results == []
    assert not any(isinstance(e, WakeDetected) for e in events)
    heard = [e.text for e in events if isinstance(e, Transcribed)]
    assert heard, "nothing was transcribed: the loopback did not work"


@pytest.mark.audio
@pytest.mark.models
def test_loki_run_on_the_real_microphone(pulse: dict[str, str], tmp_path: Path) -> None:
    """`loki run`: a command played into the audio server's null sink (the default source is its monitor)."""
    from loki.audio.wav import write_wav

    wav = tmp_path / "command.wav"
    speech = clips.say("hey loki, open a new tab", clips.Voice("espeak", "en-us", 160))
    write_wav(wav, clips.join(clips.silence(0.3), speech, clips.silence(0.6)))
    env = {
        **os.environ,
        **pulse,
        "LOKI_STATE_DIR": str(tmp_path / "s"),
        "LOKI_USER_PROFILES_DIR": str(tmp_path / "p"),
        "LOKI_LLM_BACKEND": "none",
        "LOKI_REPLY_MODE": "text",
        "LOKI_EARCONS": "0",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", "run", "--dry-run", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=REPO,
    )
    assert proc.stderr is not None and proc.stdout is not None
    lines: queue.Queue[tuple[str, str]] = queue.Queue()
    for name, stream in (("out", proc.stdout), ("err", proc.stderr)):
        threading.Thread(target=lambda n=name, s=stream: [lines.put((n, line)) for line in s], daemon=True).start()

    def wait_for(kind: str, needle: str, timeout_s: float) -> str:
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            try:
                name, line = lines.get(timeout=left)
            except queue.Empty:
                break
            if name == kind and needle in line:
                return line
        raise AssertionError(f"no {needle!r} on std{kind} within {timeout_s:g} s")

    try:
        wait_for("err", "LOKI is listening", 90)
        subprocess.run(["paplay", str(wav)], env=env, check=True, timeout=20)
        turn = json.loads(wait_for("out", "{", 60))
        assert turn["actions"] == [{"type": "hotkey", "keys": ["ctrl", "t"]}]
        assert turn["timings_ms"]["speech_end_to_action"] >= turn["timings_ms"]["speech_end_to_transcript"]
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    said = "".join(line for name, line in list(lines.queue) if name == "err")
    assert proc.returncode in (0, 130), f"no clean exit on SIGINT; last log lines:\n{said[-3000:]}"
    errors = [line for name, line in list(lines.queue) if name == "err" and "Traceback" in line]
    assert not errors


def test_daemon_is_importable_without_audio_libraries() -> None:
    assert Daemon.__doc__
