"""Audio frames: 30 ms of 16 kHz mono int16, plus the resampling and chunking that make them."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

SAMPLE_RATE_HZ = 16000
FRAME_MS = 30
FRAME_SAMPLES = SAMPLE_RATE_HZ * FRAME_MS // 1000  # 480
SPEECH_MIN_RMS = 60.0  # int16 RMS below which audio is never taken for speech (about -55 dBFS)


@dataclass(frozen=True)
class Frame:
    """30 ms of 16 kHz mono int16 audio.

    `stream_s` is the audio clock (seconds of audio since the stream began, at the frame's end);
    `captured_at` is the monotonic wall time the frame's last sample reached LOKI.
    """

    pcm: np.ndarray  # int16, FRAME_SAMPLES long
    stream_s: float
    captured_at: float

    @property
    def rms(self) -> float:
        """Root mean square of the samples, in int16 units."""
        return rms(self.pcm)


def rms(pcm: np.ndarray) -> float:
    """Root mean square of int16 samples, in int16 units."""
    return float(np.sqrt(np.mean(pcm.astype(np.float32) ** 2)))


def to_int16(audio: np.ndarray) -> np.ndarray:
    """Float (-1..1) or int16 samples as int16."""
    if audio.dtype == np.int16:
        return audio
    return (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)


def to_float32(audio: np.ndarray) -> np.ndarray:
    """int16 or float samples as float32 in -1..1 (what speech recognition takes)."""
    if audio.dtype == np.int16:
        return audio.astype(np.float32) / 32768.0
    return audio.astype(np.float32, copy=False)


def to_mono(block: np.ndarray) -> np.ndarray:
    """Average the channels of a (samples, channels) block; 1-D blocks pass through."""
    if block.ndim == 1:
        return block
    if block.shape[1] == 1:
        return block[:, 0]
    return block.mean(axis=1)


def _lowpass_taps(cutoff: float, taps: int) -> np.ndarray:
    """Windowed-sinc low-pass FIR; `cutoff` is a fraction of the input Nyquist rate."""
    n = np.arange(taps) - (taps - 1) / 2
    h = cutoff * np.sinc(cutoff * n) * np.blackman(taps)
    return (h / h.sum()).astype(np.float32)


class StreamResampler:
    """Resamples a float32 mono stream block by block to 16 kHz, keeping filter and phase state."""

    def __init__(self, in_rate_hz: int, out_rate_hz: int = SAMPLE_RATE_HZ, taps: int = 63) -> None:
        self.in_rate_hz = int(in_rate_hz)
        self.out_rate_hz = int(out_rate_hz)
        self.step = self.in_rate_hz / self.out_rate_hz  # input samples per output sample
        self.passthrough = self.in_rate_hz == self.out_rate_hz
        if self.step > 1:
            self._taps = _lowpass_taps(0.9 / self.step, taps)
        else:
            self._taps = np.ones(1, dtype=np.float32)
        self._history = np.zeros(len(self._taps) - 1, dtype=np.float32)
        self._tail = np.zeros(0, dtype=np.float32)  # filtered samples not yet consumed
        self._pos = 0.0  # position of the next output sample within _tail

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """Resample one block; the output length varies by a sample to keep the exact rate."""
        block = to_float32(block)
        if self.passthrough:
            return block
        padded = np.concatenate([self._history, block])
        filtered = np.convolve(padded, self._taps, mode="valid").astype(np.float32)
        if len(self._taps) > 1:
            self._history = padded[-(len(self._taps) - 1) :]
        data = np.concatenate([self._tail, filtered])
        if len(data) < 2:
            self._tail = data
            return np.zeros(0, dtype=np.float32)
        count = max(0, math.floor((len(data) - 1 - self._pos) / self.step) + 1)
        positions = self._pos + np.arange(count) * self.step
        out = np.interp(positions, np.arange(len(data)), data).astype(np.float32)
        next_pos = self._pos + count * self.step
        keep_from = min(int(next_pos), len(data) - 1)
        self._tail = data[keep_from:]
        self._pos = next_pos - keep_from
        return out


def resample(audio: np.ndarray, in_rate_hz: int, out_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """Resample a whole float32 mono signal."""
    return StreamResampler(in_rate_hz, out_rate_hz)(audio)


class FrameChunker:
    """Cuts a stream of int16 blocks of any size into exact 30 ms frames on the audio clock."""

    def __init__(self, frame_samples: int = FRAME_SAMPLES, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
        self.frame_samples = frame_samples
        self.sample_rate_hz = sample_rate_hz
        self._pending = np.zeros(0, dtype=np.int16)
        self.samples_out = 0

    def __call__(self, block: np.ndarray, captured_at: float) -> list[Frame]:
        """Frames completed by this block (all stamped with the block's arrival time)."""
        self._pending = np.concatenate([self._pending, to_int16(block)])
        frames = []
        while len(self._pending) >= self.frame_samples:
            pcm, self._pending = self._pending[: self.frame_samples], self._pending[self.frame_samples :]
            self.samples_out += self.frame_samples
            frames.append(Frame(pcm, self.samples_out / self.sample_rate_hz, captured_at))
        return frames
