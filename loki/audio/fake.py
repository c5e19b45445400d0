"""Fake microphones fed from arrays or WAV files: for tests, benchmarks and `loki replay`.

Shipped in the package (not only in tests) so users can check their profiles against recordings.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from pathlib import Path

import numpy as np

from loki.audio.frames import FRAME_SAMPLES, SAMPLE_RATE_HZ, Frame, to_int16
from loki.audio.wav import read_wav
from loki.errors import AudioError


class ArrayMicrophone:
    """Plays 16 kHz mono audio as microphone frames, at real time or as fast as the reader takes them.

    Args:
        audio: float32 (-1..1) or int16 samples at 16 kHz.
        realtime: pace frames at the audio's own rate (else as fast as they are read).
        speed: with `realtime`, play this many times faster.
        pad_s: silence appended so the last utterance can end.
        gate: awaited before every frame (the replay uses it to hold the audio clock while a turn runs).
        noise_rms: int16 RMS of white noise added to the audio (0: none).
    """

    def __init__(
        self,
        audio: np.ndarray,
        *,
        realtime: bool = False,
        speed: float = 1.0,
        pad_s: float = 1.0,
        gate: Callable[[], Awaitable[None]] | None = None,
        noise_rms: float = 0.0,
        name: str = "array",
        seed: int = 0,
    ) -> None:
        pcm = to_int16(np.asarray(audio))
        pad = np.zeros(int(pad_s * SAMPLE_RATE_HZ), dtype=np.int16)
        pcm = np.concatenate([pcm, pad])
        if noise_rms:
            rng = np.random.default_rng(seed)
            noisy = pcm.astype(np.float32) + rng.normal(0.0, noise_rms, len(pcm))
            pcm = np.clip(noisy, -32768, 32767).astype(np.int16)
        self.pcm = pcm
        self.realtime = realtime
        self.speed = speed
        self.gate = gate
        self.name = name
        self.frames_out = 0
        self.started_at: float | None = None  # monotonic time the first frame's first sample was due
        self.finished_at: float | None = None

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: object) -> ArrayMicrophone:
        """A fake microphone playing a sound file (any rate; resampled to 16 kHz mono)."""
        return cls(read_wav(path), name=str(path), **kwargs)  # type: ignore[arg-type]

    @property
    def duration_s(self) -> float:
        """Length of the audio (with padding) in seconds."""
        return len(self.pcm) / SAMPLE_RATE_HZ

    def delivered_at(self, sample_index: int) -> float:
        """With `realtime`: the monotonic time the frame holding `sample_index` was (or will be) delivered."""
        if self.started_at is None:
            raise RuntimeError("the microphone has not started")
        frame_end = -(-(sample_index + 1) // FRAME_SAMPLES) * FRAME_SAMPLES
        return self.started_at + frame_end / SAMPLE_RATE_HZ / self.speed

    async def frames(self) -> AsyncGenerator[Frame, None]:
        """The audio as 30 ms frames; returns at the end."""
        start = time.monotonic()
        first = self.frames_out
        if self.started_at is None:
            self.started_at = start
        total = len(self.pcm) // FRAME_SAMPLES
        for i in range(self.frames_out, total):
            if self.gate is not None:
                await self.gate()
            end_sample = (i + 1) * FRAME_SAMPLES
            if self.realtime:
                due = start + (end_sample - first * FRAME_SAMPLES) / SAMPLE_RATE_HZ / self.speed
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            else:
                await asyncio.sleep(0)
            self.frames_out = i + 1
            yield Frame(self.pcm[i * FRAME_SAMPLES : end_sample], end_sample / SAMPLE_RATE_HZ, time.monotonic())
        self.finished_at = time.monotonic()


class FlakyMicrophone(ArrayMicrophone):
    """An ArrayMicrophone whose device 'vanishes' (raises AudioError) after given frame counts.

    `fail_at_frames=(50, 120)` fails once after the 50th frame and once after the 120th; the
    audio resumes where it stopped when reopened. `refuse_opens` makes that many reopen attempts
    fail outright, as a device that is still gone would.
    """

    def __init__(
        self, audio: np.ndarray, *, fail_at_frames: tuple[int, ...] = (), refuse_opens: int = 0, **kwargs: object
    ) -> None:
        super().__init__(audio, **kwargs)  # type: ignore[arg-type]
        self.fail_at_frames = list(fail_at_frames)
        self.refuse_opens = refuse_opens
        self.opens = 0
        self.failures = 0

    async def frames(self) -> AsyncGenerator[Frame, None]:
        """Frames until the next scheduled failure."""
        self.opens += 1
        if self.failures and self.refuse_opens > 0:
            self.refuse_opens -= 1
            raise AudioError("fake device is still gone", code="mic_open")
        async for frame in super().frames():
            yield frame
            if self.fail_at_frames and self.frames_out >= self.fail_at_frames[0]:
                self.fail_at_frames.pop(0)
                self.failures += 1
                raise AudioError("fake device vanished", code="mic_lost")
