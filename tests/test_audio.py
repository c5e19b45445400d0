"""Audio stage: resampling, frames, WAV reading, the fake microphones and the real one on PulseAudio."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from loki.audio.devices import find_device, list_devices
from loki.audio.fake import ArrayMicrophone, FlakyMicrophone
from loki.audio.frames import FRAME_SAMPLES, FrameChunker, StreamResampler, resample
from loki.audio.mic import SoundDeviceMicrophone, keep_open
from loki.audio.ring import FrameRing
from loki.audio.vad import Utterance, VadOptions, VadSegmenter
from loki.audio.wav import read_wav, write_wav
from loki.errors import AudioError


@pytest.mark.parametrize(("rate_hz", "block"), [(44100, 1323), (48000, 1440), (22050, 661), (8000, 240)])
def test_stream_resampler_keeps_rate_and_shape(rate_hz: int, block: int) -> None:
    t = np.arange(rate_hz) / rate_hz
    tone = np.sin(2 * np.pi * 440 * t).astype(np.float32)
    resampler = StreamResampler(rate_hz)
    out = np.concatenate([resampler(tone[i : i + block]) for i in range(0, len(tone), block)])
    assert abs(len(out) - 16000) <= 1
    delay_s = 31 / rate_hz if rate_hz > 16000 else 0.0  # the FIR's group delay
    expected = np.sin(2 * np.pi * 440 * (np.arange(len(out)) / 16000 - delay_s))
    assert np.max(np.abs(out[200:-200] - expected[200:-200])) < 0.02


def test_resampling_removes_what_16k_cannot_carry() -> None:
    rate = 48000
    tone = np.sin(2 * np.pi * 12000 * np.arange(rate) / rate).astype(np.float32)  # above 8 kHz Nyquist
    assert np.sqrt(np.mean(resample(tone, rate)[200:] ** 2)) < 0.01


def test_chunker_makes_exact_30ms_frames_on_the_audio_clock() -> None:
    chunker = FrameChunker()
    frames = chunker(np.zeros(1000, dtype=np.int16), 1.0) + chunker(np.zeros(500, dtype=np.int16), 2.0)
    assert [len(f.pcm) for f in frames] == [FRAME_SAMPLES] * 3
    assert [round(f.stream_s, 3) for f in frames] == [0.03, 0.06, 0.09]
    assert frames[-1].captured_at == 2.0


def test_ring_keeps_only_the_preroll() -> None:
    ring = FrameRing(300)
    chunker = FrameChunker()
    for frame in chunker(np.arange(480 * 20, dtype=np.int16), 0.0):
        ring.push(frame)
    assert len(ring) == 10
    assert ring.audio()[0] == 480 * 10
    assert len(ring.drain()) == 10 and len(ring) == 0


def test_read_wav_converts_44k_stereo_to_16k_mono(testdata: Path, tmp_path: Path) -> None:
    audio = read_wav(testdata / "human_turn_on_the_living_room_lamp.wav")
    assert audio.dtype == np.float32
    assert 1.5 < len(audio) / 16000 < 3.5
    write_wav(tmp_path / "x.wav", audio)
    again = read_wav(tmp_path / "x.wav")
    assert np.max(np.abs(again - audio)) < 1e-3


def test_read_wav_missing_file_is_an_audio_error(tmp_path: Path) -> None:
    with pytest.raises(AudioError, match="No such audio file"):
        read_wav(tmp_path / "nope.wav")


async def _collect(mic, **kwargs) -> list:
    frames = []
    async with contextlib.aclosing(keep_open(mic, **kwargs)) as stream:
        async for frame in stream:
            frames.append(frame)
    return frames


async def test_array_microphone_plays_audio_then_ends() -> None:
    mic = ArrayMicrophone(np.ones(16000, dtype=np.float32) * 0.5, pad_s=0.5)
    frames = await _collect(mic)
    assert len(frames) == 1.5 * 16000 // FRAME_SAMPLES
    assert frames[0].pcm[0] == 16383 and frames[-1].pcm[0] == 0


async def test_vanished_device_is_reopened_and_the_clock_keeps_running() -> None:
    """A device that fails (twice, and refuses one reopen) is logged and reopened; no audio is lost."""
    speech = np.sin(2 * np.pi * 200 * np.arange(16000 * 3) / 16000).astype(np.float32) * 0.3
    mic = FlakyMicrophone(speech, fail_at_frames=(30, 60), refuse_opens=1, pad_s=0.0)
    states: list[str] = []
    sleeps: list[float] = []

    async def fake_sleep(delay_s: float) -> None:
        sleeps.append(delay_s)

    frames = await _collect(mic, on_state=lambda state, detail: states.append(state), sleep=fake_sleep)
    assert mic.failures == 2 and mic.opens == 4
    assert len(frames) == len(mic.pcm) // FRAME_SAMPLES  # every frame delivered once
    clock = [f.stream_s for f in frames]
    assert all(b > a for a, b in zip(clock, clock[1:], strict=False))
    assert states.count("lost") == 3 and states.count("open") == 3
    assert sleeps == [0.5, 1.0, 0.5]  # back-off grows while the device stays away, resets once it is back


# A real audio server ---------------------------------------------------------------------------
def _play(path: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(["paplay", str(path)], env={**__import__("os").environ, **env})


@pytest.mark.audio
async def test_microphone_captures_from_pulseaudio(pulse: dict[str, str], testdata: Path) -> None:
    """sounddevice records the null sink's monitor while paplay plays a real recording into it."""
    if shutil.which("paplay") is None:
        pytest.skip("needs paplay")
    mic = SoundDeviceMicrophone(None)
    segmenter = VadSegmenter(VadOptions())
    utterances: list[Utterance] = []
    captured = []
    player = None
    started = time.monotonic()
    async with contextlib.aclosing(keep_open(mic)) as frames:
        async for frame in frames:
            captured.append(frame)
            if player is None and time.monotonic() - started > 0.3:
                player = _play(testdata / "turn_on_the_living_room_light_en.wav", pulse)
            utterances += [e for e in segmenter.push(frame) if isinstance(e, Utterance) and e.final]
            if utterances or time.monotonic() - started > 8:
                break
    mic.close()
    assert player is not None and player.wait(5) == 0
    assert len(utterances) == 1
    assert 1.0 < utterances[0].duration_s < 2.6
    assert max(int(np.abs(f.pcm).max()) for f in captured) > 3000


@pytest.mark.audio
def test_devices_are_listed_and_found_by_name_or_index(pulse: dict[str, str]) -> None:
    devices = list_devices()
    inputs = [d for d in devices if d.max_input_channels > 0]
    assert inputs, devices
    assert find_device("") is None
    by_name = find_device(inputs[0].name.upper())
    assert by_name is not None and by_name.index == inputs[0].index
    assert find_device(str(inputs[0].index)) == by_name
    with pytest.raises(AudioError, match="No input device matches 'no-such-mic'"):
        find_device("no-such-mic")


@pytest.mark.audio
async def test_microphone_by_name_on_pulseaudio(pulse: dict[str, str]) -> None:
    mic = SoundDeviceMicrophone("pulse")
    frames = []
    async with contextlib.aclosing(mic.frames()) as stream:
        async for frame in stream:
            frames.append(frame)
            if len(frames) >= 10:
                break
    mic.close()
    assert mic.name == "pulse"
    assert all(len(f.pcm) == FRAME_SAMPLES for f in frames)


async def test_missing_device_raises_audio_error_naming_the_devices() -> None:
    mic = SoundDeviceMicrophone("no-such-mic-anywhere")
    with pytest.raises(AudioError, match="no-such-mic-anywhere"):
        async with contextlib.aclosing(mic.frames()) as stream:
            async for _ in stream:
                break
    mic.close()
    await asyncio.sleep(0)
