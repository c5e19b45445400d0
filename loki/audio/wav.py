"""Reading and writing WAV files as 16 kHz mono audio."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

from loki.audio.frames import SAMPLE_RATE_HZ, resample, to_int16, to_mono
from loki.errors import AudioError


def read_wav(path: str | Path, sample_rate_hz: int = SAMPLE_RATE_HZ) -> np.ndarray:
    """A sound file as float32 mono at `sample_rate_hz` (PCM WAV directly, anything else through PyAV)."""
    path = Path(path)
    if not path.is_file():
        raise AudioError(f"No such audio file: {path}", code="no_file")
    try:
        with wave.open(str(path), "rb") as w:
            width, channels, rate = w.getsampwidth(), w.getnchannels(), w.getframerate()
            raw = w.readframes(w.getnframes())
    except (wave.Error, EOFError):
        return _decode_any(path, sample_rate_hz)
    if width == 2:
        audio = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
    elif width == 4:
        audio = np.frombuffer(raw, dtype="<i4").astype(np.float32) / 2147483648.0
    elif width == 1:
        audio = (np.frombuffer(raw, dtype=np.uint8).astype(np.float32) - 128.0) / 128.0
    else:
        return _decode_any(path, sample_rate_hz)
    audio = to_mono(audio.reshape(-1, channels))
    return resample(audio, rate, sample_rate_hz) if rate != sample_rate_hz else audio


def _decode_any(path: Path, sample_rate_hz: int) -> np.ndarray:
    try:
        from faster_whisper.audio import decode_audio
    except ImportError as exc:  # pragma: no cover - faster-whisper is a core dependency
        raise AudioError(f"{path}: not a PCM WAV file, and no decoder is installed.") from exc
    try:
        return decode_audio(str(path), sampling_rate=sample_rate_hz).astype(np.float32)
    except Exception as exc:
        raise AudioError(f"{path}: cannot decode this audio file ({exc}).", code="bad_file") from exc


def write_wav(path: str | Path, audio: np.ndarray, sample_rate_hz: int = SAMPLE_RATE_HZ) -> None:
    """Write mono audio (float or int16) as a 16-bit PCM WAV."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(sample_rate_hz)
        w.writeframes(to_int16(np.asarray(audio)).tobytes())
