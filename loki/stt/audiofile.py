"""Reading audio files for transcription: float32 mono at 16 kHz, whatever the file's rate and channels."""

from __future__ import annotations

import wave
from pathlib import Path
from typing import TYPE_CHECKING

from loki.errors import SttError

if TYPE_CHECKING:
    import numpy as np

SAMPLE_RATE_HZ = 16_000
"""Whisper's sample rate; every array this package takes or returns is at this rate."""


def read_audio(path: str | Path) -> np.ndarray:
    """Samples of an audio file as float32 mono at 16 kHz in [-1, 1].

    16-bit PCM WAV at 16 kHz mono is read directly; anything else (other rates, stereo, float WAV,
    FLAC, MP3, ...) is decoded and resampled with PyAV, as faster-whisper does for files.
    """
    import numpy as np

    path = Path(path)
    if not path.is_file():
        raise SttError(f"{path}: no such audio file.")
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getframerate() == SAMPLE_RATE_HZ and wav.getnchannels() == 1 and wav.getsampwidth() == 2:
                pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
                return (pcm.astype(np.float32) / 32768.0).astype(np.float32)
    except (wave.Error, EOFError):
        pass  # not a plain PCM WAV: let PyAV decode it
    except OSError as exc:
        raise SttError(f"{path}: cannot read it ({exc}).") from exc
    try:
        from faster_whisper.audio import decode_audio

        return np.asarray(decode_audio(str(path), sampling_rate=SAMPLE_RATE_HZ), dtype=np.float32)
    except Exception as exc:  # PyAV raises its own error family (av.error.*) for unreadable files
        raise SttError(f"{path}: not an audio file LOKI can decode ({type(exc).__name__}: {exc}).") from exc


def as_mono_16k(audio: np.ndarray) -> np.ndarray:
    """Check and normalise an input array: 1-D float32 (int16 is scaled; (n, channels) is averaged)."""
    import numpy as np

    array = np.asarray(audio)
    if array.dtype == np.int16:
        array = array.astype(np.float32) / 32768.0
    elif not np.issubdtype(array.dtype, np.floating):
        raise SttError(f"Audio must be float32 in [-1, 1] or int16, got {array.dtype}.")
    if array.ndim == 2:
        # (samples, channels) from sounddevice, or (channels, samples): average the short axis
        array = array.mean(axis=1 if array.shape[1] <= array.shape[0] else 0)
    if array.ndim != 1:
        raise SttError(f"Audio must be mono samples (a 1-D array), got shape {array.shape}.")
    return np.ascontiguousarray(array, dtype=np.float32)
