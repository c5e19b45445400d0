"""Synthetic speech clips (espeak-ng voices, festival's Russian voice and the embedded Piper voice) for tests,
benchmarks and wake checks.

Every clip comes back as float32 mono at 16 kHz, so it can be fed to a fake microphone directly.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from loki.audio.frames import SAMPLE_RATE_HZ, resample
from loki.errors import TtsError

# Varied espeak-ng voices (language + variant); all ship with espeak-ng.
ESPEAK_VOICES_EN = (
    "en-us",
    "en-gb",
    "en-us+f3",
    "en-gb-scotland",
    "en-us+m3",
    "en-029",
    "en-gb-x-rp+f2",
    "en-us+f4",
    "en-gb-x-gbclan",
    "en-us+m7",
    "en-gb+f1",
    "en-us+klatt2",
    "en-gb-x-gbcwmd+m2",
    "en-us+f2",
)
ESPEAK_VOICES_RU = ("ru", "ru+f3", "ru+m3")


@dataclass(frozen=True)
class Voice:
    """One way of saying things: espeak-ng `name` at `speed_wpm`, Piper or festival at `length_scale`."""

    engine: str  # "espeak" | "piper" | "festival" (`name` is the festival voice)
    name: str = "en-us"
    speed_wpm: int = 160
    length_scale: float = 1.0
    pitch: int = 50

    def __str__(self) -> str:
        if self.engine in ("piper", "festival"):
            return f"{self.engine} x{self.length_scale:g}"
        return f"{self.name}@{self.speed_wpm}"


def espeak(text: str, voice: str = "en-us", speed_wpm: int = 160, pitch: int = 50) -> np.ndarray:
    """`text` said by espeak-ng, as 16 kHz float32."""
    exe = shutil.which("espeak-ng") or shutil.which("espeak")
    if exe is None:
        raise TtsError("espeak-ng is not installed (apt install espeak-ng).", code="no_espeak")
    out = subprocess.run(
        [exe, "-v", voice, "-s", str(speed_wpm), "-p", str(pitch), "--stdout", text], capture_output=True, check=False
    )
    if out.returncode != 0 or not out.stdout:
        raise TtsError(f"espeak-ng failed for voice {voice}: {out.stderr.decode(errors='replace').strip()}")
    with wave.open(io.BytesIO(out.stdout)) as w:
        rate = w.getframerate()
        pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return resample(pcm, rate, SAMPLE_RATE_HZ)


FESTIVAL_RU = "msu_ru_nsh_clunits"
"""Debian's festvox-ru voice: far clearer Russian than espeak-ng (Whisper base: 14 of 22 short commands vs 2)."""


def festival(text: str, voice: str = FESTIVAL_RU, length_scale: float = 1.0) -> np.ndarray:
    """`text` said by festival's `voice` (UTF-8 text), as 16 kHz float32.

    `length_scale` > 1 is slower and lower, like a tape played slower: the Russian voice is a unit-selection
    (clunits) voice, which ignores festival's Duration_Stretch, so the recording itself is stretched.
    """
    exe = shutil.which("text2wave")
    if exe is None:
        raise TtsError("festival is not installed (apt install festival festvox-ru).", code="no_festival")
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "text.txt", Path(tmp) / "out.wav"
        source.write_text(text, encoding="utf-8")
        run = subprocess.run(
            [exe, "-eval", f"(voice_{voice})", "-o", str(out), str(source)],
            capture_output=True,
            check=False,
            timeout=60,
        )
        if run.returncode != 0 or not out.is_file():
            raise TtsError(f"festival failed for voice {voice}: {run.stderr.decode(errors='replace').strip()}")
        with wave.open(str(out)) as w:
            rate = w.getframerate()
            pcm = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return resample(pcm, round(rate / length_scale), SAMPLE_RATE_HZ)


def festival_ru(length_scale: float = 1.0) -> Voice:
    """festival's Russian voice (festvox-ru) at `length_scale` (> 1 is slower and lower)."""
    return Voice("festival", FESTIVAL_RU, length_scale=length_scale)


@lru_cache(maxsize=1)
def festival_ru_missing() -> str | None:
    """Why festival's Russian voice cannot speak here (festival or festvox-ru not installed), or None if it can."""
    if shutil.which("text2wave") is None:
        return "festival is not installed (apt install festival festvox-ru)"
    try:
        festival("да")
    except (TtsError, OSError, subprocess.SubprocessError) as exc:
        return f"festival cannot speak Russian (apt install festvox-ru): {exc}"
    return None


FESTVOX_RU_DIR = Path("/usr/share/festival/voices/russian") / FESTIVAL_RU
"""Where Debian's festvox-ru keeps the voice, with the recordings it was built from (wav/, etc/txt.done.data)."""


def festvox_recordings(max_s: float = 6.0, folder: Path = FESTVOX_RU_DIR) -> list[tuple[Path, str]]:
    """The real recordings festival's Russian voice was made from (one reader, N. Shmyrev), with their text.

    (wav file, what is said) for each recording of at most `max_s` seconds, sorted by name; the text has
    festvox's stress marks ("вол+ос") taken out. Empty when festvox-ru is not installed.
    """
    import re

    index = folder / "etc" / "txt.done.data"
    if not index.is_file():
        return []
    out = []
    for line in index.read_text(encoding="utf-8").splitlines():
        match = re.match(r'\(\s*(\S+)\s+"(.*)"\s*\)\s*$', line)
        if match is None or not (path := folder / "wav" / f"{match.group(1)}.wav").is_file():
            continue
        with wave.open(str(path)) as w:
            if w.getnframes() > max_s * w.getframerate():
                continue
        out.append((path, match.group(2).replace("+", "")))
    return sorted(out)


def voices_ru() -> list[Voice]:
    """Russian voices: festival's at three speeds when it is installed, else espeak-ng's variants."""
    if festival_ru_missing() is None:
        return [festival_ru(s) for s in (0.9, 1.0, 1.15)]
    return [Voice("espeak", name, speed) for name in ESPEAK_VOICES_RU for speed in (140, 175)]


@lru_cache(maxsize=1)
def _piper() -> Any:
    from piper import PiperVoice

    from loki.tts.voices import default_voice_files

    files = default_voice_files()
    return PiperVoice.load(files.model, config_path=files.config)


def piper(text: str, length_scale: float = 1.0, noise_scale: float = 0.667) -> np.ndarray:
    """`text` said by the embedded Piper voice, as 16 kHz float32."""
    from piper import SynthesisConfig

    voice = _piper()
    config = SynthesisConfig(length_scale=length_scale, noise_scale=noise_scale)
    chunks = [c.audio_float_array for c in voice.synthesize(text, syn_config=config)]
    audio = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, dtype=np.float32)
    return resample(audio, int(voice.config.sample_rate), SAMPLE_RATE_HZ)


def say(text: str, voice: Voice) -> np.ndarray:
    """`text` in `voice`, trimmed of leading/trailing silence."""
    if voice.engine == "piper":
        audio = piper(text, voice.length_scale)
    elif voice.engine == "festival":
        audio = festival(text, voice.name, voice.length_scale)
    else:
        audio = espeak(text, voice.name, voice.speed_wpm, voice.pitch)
    loud = np.flatnonzero(np.abs(audio) > 0.01)
    return audio[loud[0] : loud[-1] + 1] if len(loud) else audio


def silence(seconds: float) -> np.ndarray:
    """Digital silence."""
    return np.zeros(int(seconds * SAMPLE_RATE_HZ), dtype=np.float32)


def buzz(seconds: float = 0.6) -> np.ndarray:
    """A voiced buzz (140 Hz, faded in and out) that the VAD takes for speech: an utterance without words."""
    t = np.arange(int(seconds * SAMPLE_RATE_HZ)) / SAMPLE_RATE_HZ
    return (0.3 * np.sign(np.sin(2 * np.pi * 140 * t)) * np.hanning(len(t))).astype(np.float32)


def join(*parts: np.ndarray) -> np.ndarray:
    """Clips and silences one after another."""
    return np.concatenate([p.astype(np.float32) for p in parts])


def with_noise(audio: np.ndarray, snr_db: float = 25.0, seed: int = 0, level: float = 0.3) -> np.ndarray:
    """`audio` scaled to peak `level` with white noise `snr_db` below its speech RMS."""
    rng = np.random.default_rng(seed)
    peak = float(np.max(np.abs(audio))) or 1.0
    audio = audio * (level / peak)
    loud = audio[np.abs(audio) > 0.02]
    speech_rms = float(np.sqrt(np.mean(loud**2))) if len(loud) else 0.05
    noise = rng.normal(0.0, speech_rms / (10 ** (snr_db / 20)), len(audio)).astype(np.float32)
    return np.clip(audio + noise, -1.0, 1.0).astype(np.float32)


def voices_en(count: int | None = None, *, with_piper: bool = True) -> list[Voice]:
    """A spread of English voices and speeds (espeak-ng variants, plus Piper at three speeds)."""
    voices = [Voice("espeak", name, speed) for name in ESPEAK_VOICES_EN for speed in (140, 175)]
    if with_piper:
        voices += [Voice("piper", length_scale=s) for s in (0.85, 1.0, 1.2)]
    if count is None:
        return voices
    step = max(1, len(voices) // count)
    return voices[::step][:count]
