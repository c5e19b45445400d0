"""Wake word: the keyless transcript matcher by default, Porcupine or openWakeWord models when set up.

`LOKI_WAKE_ENGINE=auto` picks, in order: an openWakeWord `.onnx` model (`LOKI_WAKE_MODEL`),
Porcupine when `PICOVOICE_ACCESS_KEY` and a keyword are set, else the keyless whisper matcher,
which needs no key and no extra model: every utterance is transcribed anyway, and the phrase
is looked for at its start ("hey loki, open the browser" in one breath works).
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

from loki.config import ListenSettings, Settings
from loki.errors import ConfigError
from loki.listen.wake.engines import Detection, OnnxWake, PorcupineWake, WakeEngine
from loki.listen.wake.phrase import DEFAULT_ALIASES, PhraseMatch, WakePhrases, default_phrases, sound_key

log = logging.getLogger(__name__)

__all__ = [
    "Detection",
    "OnnxWake",
    "PhraseMatch",
    "PorcupineWake",
    "WakeEngine",
    "WakePhrases",
    "WakeSetup",
    "build_wake",
    "default_phrases",
    "sound_key",
]


@dataclass
class WakeSetup:
    """The chosen engine: `engine` is None for the keyless transcript matcher (or none at all)."""

    kind: str  # "whisper" | "porcupine" | "openwakeword" | "none"
    phrases: WakePhrases
    engine: WakeEngine | None = None

    @property
    def whisper(self) -> bool:
        """True when the wake phrase is read from transcripts."""
        return self.kind == "whisper"


def _phrases(settings: ListenSettings) -> WakePhrases:
    phrases = default_phrases(settings.wake_phrase)
    aliases = DEFAULT_ALIASES if sound_key(settings.wake_phrase) == sound_key("hey loki") else ()
    return WakePhrases(phrases, aliases=aliases)


def _onnx_model(settings: ListenSettings) -> Path | None:
    spec = settings.wake_model
    if not spec:
        return None
    path = Path(spec).expanduser()
    if path.suffix == ".onnx":
        return path if path.is_file() else settings.models_path / "wake" / path.name
    if not spec.endswith(".ppn"):
        candidate = settings.models_path / "wake" / f"{spec}.onnx"
        if candidate.is_file():
            return candidate
    return None


def build_wake(settings: ListenSettings | Settings) -> WakeSetup:
    """The wake-word setup the listening settings ask for (raises ConfigError/ModelError when it cannot be built)."""
    settings = ListenSettings.of(settings)
    phrases = _phrases(settings)
    kind = settings.wake_engine
    onnx = _onnx_model(settings)
    if kind == "auto":
        if onnx is not None:
            kind = "openwakeword"
        elif settings.picovoice_access_key and settings.wake_model:
            kind = "porcupine"
        else:
            kind = "whisper"
    if kind == "none" or kind == "whisper":
        return WakeSetup(kind, phrases)
    if kind == "porcupine":
        if not settings.picovoice_access_key:
            raise ConfigError("LOKI_WAKE_ENGINE=porcupine needs PICOVOICE_ACCESS_KEY (free at console.picovoice.ai).")
        if not settings.wake_model:
            raise ConfigError(
                "LOKI_WAKE_ENGINE=porcupine needs LOKI_WAKE_MODEL: a built-in keyword (e.g. jarvis, computer) "
                "or a .ppn file for your phrase."
            )
        keywords = [k.strip() for k in settings.wake_model.split(",") if k.strip()]
        return WakeSetup(
            kind, phrases, PorcupineWake(settings.picovoice_access_key, keywords, sensitivity=settings.wake_threshold)
        )
    if onnx is None:
        raise ConfigError(
            "LOKI_WAKE_ENGINE=openwakeword needs LOKI_WAKE_MODEL: an openWakeWord .onnx file (or its name in models/wake/)."
        )
    return WakeSetup(kind, phrases, OnnxWake(onnx, threshold=settings.wake_threshold))


def what_to_say(settings: ListenSettings, wake: WakeSetup, *, require_wake: bool, key_watched: bool = True) -> str:
    """What to say first, for the "LOKI is listening" line: "say 'hey loki, open the browser'" and its variants.

    `key_watched` False: the push-to-talk key could not be watched (no display), so it is not offered.
    """
    example = "открой браузер" if settings.language == "ru" else "open the browser"
    key = settings.ptt_key.upper() if key_watched else ""
    if key and wake.kind == "none":
        if settings.ptt_mode == "hold":
            return f"hold {key} and say '{example}'"
        return f"press {key}, say '{example}', press {key} again"
    if not require_wake:
        return f"say '{example}' (every utterance is a command)"
    if wake.engine is not None:  # a model's phrase from its name: hey_jarvis_v0.1, jarvis, hey-loki_en_linux.ppn
        model = wake.engine.name if wake.kind == "openwakeword" else settings.wake_model
        model = re.sub(r"(_v\d[\d.]*|_en_.*|\.ppn)$", "", model.rpartition("/")[2])
        phrase = model.replace("_", " ").replace("-", " ") or "the wake word"
    elif settings.language == "ru" and settings.wake_phrase == "hey loki":
        phrase = "эй локи"
    else:
        phrase = settings.wake_phrase
    return f"say '{phrase}, {example}'" + (f" (or hold {key} and speak)" if key else "")
