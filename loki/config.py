"""Settings: one typed, frozen object built once at start-up from the environment and the settings files.

Every field names its environment variable; `.env.example` lists them all with their defaults.
The environment wins over `./.env` (or `--env-file`), which wins over the user's own file,
`$XDG_CONFIG_HOME/loki/loki.env` (`~/.config/loki/loki.env`). A bad value stops start-up with a
`ConfigError` that names the variable, what is allowed and the file (and line) it was set in.

A stage receives only its own group of settings (`settings.listen`, `settings.stt`, `settings.tts`,
`settings.llm`, `settings.actions`, `settings.brain`, `settings.profiles`): frozen views that carry
the stage's own fields plus the few global ones it reads (`GLOBAL_SETTINGS`).
"""

from __future__ import annotations

import difflib
import io
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Self

from loki.errors import ConfigError

LANGUAGES = ("en", "ru", "auto")
LLM_BACKENDS = ("llama_cpp", "openai", "ollama", "gemini", "none")
REPLY_MODES = ("voice", "text", "both")
VISION_BACKENDS = ("none", "openai", "ollama", "gemini", "llama_cpp")
VISION_COORDS = ("qwen25", "uitars15", "qwen3", "uitars1", "moondream", "gemini", "pixels")
OCR_ENGINES = ("auto", "rapidocr", "tesseract", "none")
PTT_MODES = ("hold", "toggle")
WAKE_ENGINES = ("auto", "whisper", "porcupine", "openwakeword", "none")


def _xdg(var: str, fallback: str) -> Path:
    return Path(os.environ.get(var) or Path.home() / fallback) / "loki"


def _models_path(models_dir: str) -> Path:
    """The model store: LOKI_MODELS_DIR, else the checkout's models/ when it holds models, else $XDG_DATA_HOME/loki/models.

    Found from where LOKI is installed, never from the working directory, so that LOKI started
    from any folder finds the same store (and never joins the PyPI models again into another).
    """
    if models_dir:
        return Path(models_dir)
    checkout = _checkout_models()
    return checkout if checkout is not None else _xdg("XDG_DATA_HOME", ".local/share") / "models"


def _checkout_models() -> Path | None:
    """`models/` beside the `loki` package of a source checkout (an editable install), if anything but its README is in it."""
    root = Path(__file__).resolve().parent.parent
    folder = root / "models"
    if not (root / "pyproject.toml").is_file():  # an installed wheel: site-packages has no store of LOKI's
        return None
    try:
        held = any(entry.name != "README.md" and not entry.name.startswith(".") for entry in folder.iterdir())
    except OSError:
        return None
    return folder if held else None


def _state_path(state_dir: str) -> Path:
    """Folder for traces and other runtime state: LOKI_STATE_DIR, else $XDG_STATE_HOME/loki."""
    return Path(state_dir) if state_dir else _xdg("XDG_STATE_HOME", ".local/state")


def _user_profiles_path(user_profiles_dir: str) -> Path:
    """The user's own profiles: LOKI_USER_PROFILES_DIR, else $XDG_CONFIG_HOME/loki/profiles."""
    if user_profiles_dir:
        return Path(user_profiles_dir)
    return _xdg("XDG_CONFIG_HOME", ".config") / "profiles"


def _setting(env: str, default: Any, doc: str, parse: str = "str", choices: tuple[str, ...] = ()) -> Any:
    """Declare one setting: its environment variable, default, unit-bearing doc and parser."""
    return field(
        default=default,
        metadata={"env": env, "doc": doc, "parse": parse, "choices": choices},
    )


@dataclass(frozen=True)
class Settings:
    """Everything LOKI can be told; built by `load_settings()`."""

    # General
    language: str = _setting(
        "LOKI_LANGUAGE", "en", "Command language: en, ru or auto (detected per utterance).", choices=LANGUAGES
    )
    dry_run: bool = _setting("LOKI_DRY_RUN", False, "1: plan and report actions, never touch the desktop.", "bool")
    log_level: str = _setting(
        "LOKI_LOG_LEVEL", "INFO", "Log level on stderr.", choices=("DEBUG", "INFO", "WARNING", "ERROR")
    )
    profiles_dirs: tuple[str, ...] = _setting(
        "LOKI_PROFILES_DIRS",
        (),
        "Extra profile folders, separated by ':' (the shipped and user folders are always read).",
        "paths",
    )
    user_profiles_dir: str = _setting(
        "LOKI_USER_PROFILES_DIR",
        "",
        "Where your own profiles and learned commands live (default: $XDG_CONFIG_HOME/loki/profiles).",
    )
    state_dir: str = _setting("LOKI_STATE_DIR", "", "Where turn traces are written (default: $XDG_STATE_HOME/loki).")
    trace: bool = _setting(
        "LOKI_TRACE", True, "1: write a JSON line per turn with stage timings under the state dir.", "bool"
    )
    trace_typed_text: bool = _setting(
        "LOKI_TRACE_TYPED_TEXT",
        False,
        "1: traces keep the text of type actions and dictated slots; 0: they keep only its length.",
        "bool",
    )
    trace_max_kb: int = _setting(
        "LOKI_TRACE_MAX_KB",
        1024,
        "Kilobytes a trace file may grow to before it is rotated (3 old files are kept).",
        "pos_int",
    )
    models_dir: str = _setting(
        "LOKI_MODELS_DIR",
        "",
        "Model store (default: the checkout's models/ when it holds models, else $XDG_DATA_HOME/loki/models).",
    )
    meaning: bool = _setting(
        "LOKI_MEANING",
        True,
        "1: what the phrase rules miss is matched to them by meaning ('fire up the browser') before the language model.",
        "bool",
    )
    # Actions and policy
    apps_allow: tuple[str, ...] = _setting(
        "LOKI_APPS_ALLOW", (), "Extra executables LOKI may launch, separated by ','.", "list"
    )
    confirm_timeout_s: float = _setting(
        "LOKI_CONFIRM_TIMEOUT_S", 6.0, "Seconds to wait for yes/no before a risky step counts as 'no'.", "pos_float"
    )
    step_timeout_s: float = _setting(
        "LOKI_STEP_TIMEOUT_S",
        10.0,
        "Seconds one action (a wait included) may take before the plan is abandoned.",
        "pos_float",
    )
    plan_timeout_s: float = _setting(
        "LOKI_PLAN_TIMEOUT_S",
        30.0,
        "Seconds a whole plan may take, confirmations excluded, before the rest is abandoned.",
        "pos_float",
    )
    volume_max_percent: int = _setting(
        "LOKI_VOLUME_MAX_PERCENT", 100, "Highest volume LOKI sets, in percent of the sink's normal level.", "pos_int"
    )
    volume_turn_max_percent: int = _setting(
        "LOKI_VOLUME_TURN_MAX_PERCENT", 50, "Most the volume may change in one turn, in percentage points.", "pos_int"
    )
    screenshot_dir: str = _setting(
        "LOKI_SCREENSHOT_DIR", "", "Where 'take a screenshot' saves (default: $XDG_PICTURES_DIR or ~/Pictures)."
    )
    display_profile: str = _setting(
        "LOKI_DISPLAY_PROFILE",
        "",
        "A display profile for clicks on the screen: a name in profiles/display/, a .toml path, or none (default: the one whose screen size matches, if any).",
    )
    # Listening
    wake_phrase: str = _setting("LOKI_WAKE_PHRASE", "hey loki", "The spoken wake phrase.")
    wake_engine: str = _setting(
        "LOKI_WAKE_ENGINE",
        "auto",
        "auto, whisper (keyless default), porcupine, openwakeword or none (push-to-talk only).",
        choices=WAKE_ENGINES,
    )
    wake_model: str = _setting(
        "LOKI_WAKE_MODEL", "", "Porcupine .ppn / built-in keyword, or openWakeWord .onnx model path."
    )
    wake_threshold: float = _setting(
        "LOKI_WAKE_THRESHOLD", 0.5, "Detection threshold for model-based wake engines (0..1).", "unit_float"
    )
    picovoice_access_key: str = _setting(
        "PICOVOICE_ACCESS_KEY", "", "Picovoice key; when set, Porcupine detects the wake word. Never logged.", "secret"
    )
    mic_device: str = _setting(
        "LOKI_MIC_DEVICE", "", "Microphone by name (substring) or index; empty: the system default."
    )
    vad_aggressiveness: int = _setting(
        "LOKI_VAD_AGGRESSIVENESS", 2, "webrtcvad aggressiveness, 0 (lenient) to 3 (strict).", "vad_level"
    )
    vad_silence_ms: int = _setting(
        "LOKI_VAD_SILENCE_MS", 300, "Milliseconds of silence that end an utterance.", "pos_int"
    )
    vad_preroll_ms: int = _setting(
        "LOKI_VAD_PREROLL_MS", 300, "Milliseconds of audio kept from before speech starts.", "pos_int"
    )
    max_utterance_s: float = _setting(
        "LOKI_MAX_UTTERANCE_S", 12.0, "Seconds after which an utterance is cut, even in steady noise.", "pos_float"
    )
    followup_s: float = _setting(
        "LOKI_FOLLOWUP_S",
        5.0,
        "Seconds after LOKI acts or answers during which no wake word is needed.",
        "nonneg_float",
    )
    command_window_s: float = _setting(
        "LOKI_COMMAND_WINDOW_S",
        6.0,
        "Seconds after the wake phrase said alone during which the command may begin.",
        "pos_float",
    )
    ptt_key: str = _setting("LOKI_PTT_KEY", "", "Push-to-talk key (pyautogui/X11 name, e.g. 'f9'); empty: off.")
    ptt_mode: str = _setting(
        "LOKI_PTT_MODE", "hold", "hold (talk while held) or toggle (press to start, press to stop).", choices=PTT_MODES
    )
    # Speech recognition
    stt_model: str = _setting(
        "LOKI_STT_MODEL", "", "faster-whisper model name or folder (default: the embedded model for LOKI_LANGUAGE)."
    )
    stt_threads: int = _setting("LOKI_STT_THREADS", 0, "CPU threads for Whisper (0: all cores).", "nonneg_int")
    stt_fast: bool = _setting(
        "LOKI_STT_FAST",
        True,
        "1: short utterances use a shortened Whisper encoder window (about 2x the audio, at least 6 s); 0: always 30 s.",
        "bool",
    )
    # Speaking
    voice: str = _setting(
        "LOKI_VOICE", "", "Piper voice (.onnx path or name in the model store; default: the embedded voice)."
    )
    voice_ru: str = _setting("LOKI_VOICE_RU", "", "Piper voice for Russian replies; empty: espeak-ng.")
    speaker_device: str = _setting(
        "LOKI_SPEAKER_DEVICE", "", "Speaker by name (substring) or index; empty: the system default."
    )
    tts_threads: int = _setting(
        "LOKI_TTS_THREADS",
        0,
        "CPU threads for Piper (0: all cores, fastest first audio; 1 leaves a core to listening on a busy machine).",
        "nonneg_int",
    )
    speaker_latency_ms: float = _setting(
        "LOKI_SPEAKER_LATENCY_MS",
        100.0,
        "Milliseconds of audio the speaker device buffers: lower cuts the voice sooner on barge-in, "
        "too low stutters on a busy machine.",
        "pos_float",
    )
    reply_mode: str = _setting("LOKI_REPLY_MODE", "both", "voice, text (stdout/log) or both.", choices=REPLY_MODES)
    earcons: bool = _setting("LOKI_EARCONS", True, "1: short sounds for listening / done / error.", "bool")
    max_spoken_chars: int = _setting(
        "LOKI_MAX_SPOKEN_CHARS", 400, "Longer replies are shortened before they are spoken.", "pos_int"
    )
    # Language models
    llm_backend: str = _setting(
        "LOKI_LLM_BACKEND",
        "llama_cpp",
        "llama_cpp, openai (any OpenAI-compatible server), ollama, gemini, or none.",
        choices=LLM_BACKENDS,
    )
    llm_url: str = _setting("LOKI_LLM_URL", "", "Base URL of an HTTP backend (default per backend).")
    llm_model: str = _setting(
        "LOKI_LLM_MODEL", "", "Model name, or a GGUF path for llama_cpp (default: the embedded gemma-3-270m)."
    )
    llm_api_key: str = _setting("LOKI_LLM_API_KEY", "", "Key for a remote backend. Never logged.", "secret")
    llm_timeout_s: float = _setting(
        "LOKI_LLM_TIMEOUT_S", 20.0, "Seconds before a backend call is abandoned.", "pos_float"
    )
    llm_max_reply_kb: int = _setting(
        "LOKI_LLM_MAX_REPLY_KB", 64, "Kilobytes of a model's answer read before it is abandoned as too long.", "pos_int"
    )
    llm_fallback: tuple[str, ...] = _setting(
        "LOKI_LLM_FALLBACK", (), "Backends tried in order when the main one fails, e.g. 'ollama,llama_cpp'.", "list"
    )
    # The screen (tier 2)
    vision_backend: str = _setting(
        "LOKI_VISION_BACKEND",
        "none",
        "The vision model for tier 2: none, openai (any OpenAI-compatible server), ollama, gemini or llama_cpp.",
        choices=VISION_BACKENDS,
    )
    vision_url: str = _setting("LOKI_VISION_URL", "", "Base URL of the vision backend (default per backend).")
    vision_model: str = _setting(
        "LOKI_VISION_MODEL", "", "Vision model name, or a GGUF path for llama_cpp (none is embedded)."
    )
    vision_mmproj: str = _setting(
        "LOKI_VISION_MMPROJ", "", "The multimodal projector GGUF that goes with LOKI_VISION_MODEL for llama_cpp."
    )
    vision_api_key: str = _setting(
        "LOKI_VISION_API_KEY", "", "Key for a remote vision backend. Never logged.", "secret"
    )
    vision_coords: str = _setting(
        "LOKI_VISION_COORDS",
        "qwen25",
        "How the vision model writes a point: qwen25, uitars15, qwen3, uitars1, moondream, gemini or pixels.",
        choices=VISION_COORDS,
    )
    vision_timeout_s: float = _setting(
        "LOKI_VISION_TIMEOUT_S", 30.0, "Seconds before a vision call is abandoned.", "pos_float"
    )
    vision_image_px: int = _setting(
        "LOKI_VISION_IMAGE_PX", 1280, "Longest side, in pixels, of a screenshot sent to the vision model.", "pos_int"
    )
    ocr: str = _setting(
        "LOKI_OCR",
        "auto",
        "Text recognition on the screen: auto (rapidocr, tesseract for Russian), rapidocr, tesseract or none.",
        choices=OCR_ENGINES,
    )
    screen_redact_apps: tuple[str, ...] = _setting(
        "LOKI_SCREEN_REDACT_APPS",
        ("keepassxc", "1password", "bitwarden", "seahorse"),
        "Apps whose windows are never sent to a remote vision backend, separated by ','.",
        "list",
    )
    screen_tries: int = _setting(
        "LOKI_SCREEN_TRIES", 3, "Corrections tier 2 may make after a click that did not work.", "nonneg_int"
    )
    screen_budget_s: float = _setting(
        "LOKI_SCREEN_BUDGET_S", 20.0, "Seconds one screen command may take, corrections included.", "pos_float"
    )
    screen_settle_s: float = _setting(
        "LOKI_SCREEN_SETTLE_S", 2.0, "Most seconds to wait for the screen to settle after a click.", "pos_float"
    )

    def redacted(self) -> dict[str, Any]:
        """The settings as a dict with secrets masked, safe to log or print."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.metadata["env"]] = "***" if f.metadata["parse"] == "secret" and value else value
        return out

    def __repr__(self) -> str:
        return f"Settings({self.redacted()!r})"

    # Derived locations ---------------------------------------------------------------
    @property
    def state_path(self) -> Path:
        """Folder for traces and other runtime state."""
        return _state_path(self.state_dir)

    @property
    def cache_path(self) -> Path:
        """Folder for things LOKI can compute again (the profiles' sentence vectors)."""
        return _xdg("XDG_CACHE_HOME", ".cache")

    @property
    def user_profiles_path(self) -> Path:
        """Folder of the user's own profiles (learned commands are written here)."""
        return _user_profiles_path(self.user_profiles_dir)

    @property
    def models_path(self) -> Path:
        """The model store."""
        return _models_path(self.models_dir)

    # Per-stage groups ----------------------------------------------------------------
    @cached_property
    def listen(self) -> ListenSettings:
        """What the listener reads: microphone, voice activity, wake word, push-to-talk."""
        return ListenSettings.of(self)

    @cached_property
    def stt(self) -> SttSettings:
        """What speech recognition reads: the Whisper model and its threads."""
        return SttSettings.of(self)

    @cached_property
    def tts(self) -> TtsSettings:
        """What LOKI's voice reads: voices, speaker, reply mode, earcons."""
        return TtsSettings.of(self)

    @cached_property
    def llm(self) -> LlmSettings:
        """What the language-model backends read."""
        return LlmSettings.of(self)

    @cached_property
    def actions(self) -> ActionSettings:
        """What the policy and the executor read: allowlist, time limits, volume caps, screenshots."""
        return ActionSettings.of(self)

    @cached_property
    def screen(self) -> ScreenSettings:
        """What tier 2 reads: the display profile, the vision model, text recognition, privacy, its budget."""
        return ScreenSettings.of(self)

    @cached_property
    def brain(self) -> BrainSettings:
        """What the orchestrator and its tiers read: meaning, spoken confirmation, turn traces."""
        return BrainSettings.of(self)

    @cached_property
    def profiles(self) -> ProfileSettings:
        """Where profiles are read from and learned commands written."""
        return ProfileSettings.of(self)


# Per-stage groups ------------------------------------------------------------------------
# Each field keeps its name, type, default and doc from `Settings`; a group takes its own fields
# and, at the end, the global ones its stage reads. tests/test_config.py checks both stay in step.

GLOBAL_SETTINGS = ("language", "log_level", "dry_run", "models_dir", "wake_phrase")
"""Fields of LOKI as a whole, not of one stage (several stages read most); a group may carry them beside its own."""


class _Group:
    """What every group of settings shares: built from a whole `Settings`, secrets masked in its repr."""

    __dataclass_fields__: ClassVar[dict[str, Any]]

    @classmethod
    def of(cls, settings: Settings | Self) -> Self:
        """This group as is, or taken from a whole `Settings` (for callers that still pass one)."""
        if isinstance(settings, cls):
            return settings
        return cls(**{f.name: getattr(settings, f.name) for f in fields(cls)})

    def __repr__(self) -> str:
        shown = (
            f"{f.name}={'***' if f.name in _SECRET_FIELDS and getattr(self, f.name) else repr(getattr(self, f.name))}"
            for f in fields(self)
        )
        return f"{type(self).__name__}({', '.join(shown)})"


@dataclass(frozen=True, repr=False)
class ListenSettings(_Group):
    """What the listener reads: microphone, voice activity, wake word, push-to-talk."""

    wake_engine: str = "auto"
    """auto, whisper (keyless default), porcupine, openwakeword or none (push-to-talk only)."""
    wake_model: str = ""
    """Porcupine .ppn / built-in keyword, or openWakeWord .onnx model path."""
    wake_threshold: float = 0.5
    """Detection threshold for model-based wake engines (0..1)."""
    picovoice_access_key: str = ""
    """Picovoice key; when set, Porcupine detects the wake word. Never logged."""
    mic_device: str = ""
    """Microphone by name (substring) or index; empty: the system default."""
    vad_aggressiveness: int = 2
    """webrtcvad aggressiveness, 0 (lenient) to 3 (strict)."""
    vad_silence_ms: int = 300
    """Milliseconds of silence that end an utterance."""
    vad_preroll_ms: int = 300
    """Milliseconds of audio kept from before speech starts."""
    max_utterance_s: float = 12.0
    """Seconds after which an utterance is cut, even in steady noise."""
    followup_s: float = 5.0
    """Seconds after LOKI acts or answers during which no wake word is needed."""
    command_window_s: float = 6.0
    """Seconds after the wake phrase said alone during which the command may begin."""
    ptt_key: str = ""
    """Push-to-talk key (pyautogui/X11 name, e.g. 'f9'); empty: off."""
    ptt_mode: str = "hold"
    """hold (talk while held) or toggle (press to start, press to stop)."""
    # Global
    wake_phrase: str = "hey loki"
    """The spoken wake phrase."""
    language: str = "en"
    """Command language: en, ru or auto (detected per utterance)."""
    models_dir: str = ""
    """Model store (default: the checkout's models/ when it holds models, else $XDG_DATA_HOME/loki/models)."""

    @property
    def models_path(self) -> Path:
        """The model store (wake-word models live under its wake/ folder)."""
        return _models_path(self.models_dir)


@dataclass(frozen=True, repr=False)
class SttSettings(_Group):
    """What speech recognition reads: the Whisper model and its threads."""

    stt_model: str = ""
    """faster-whisper model name or folder (default: the embedded model for LOKI_LANGUAGE)."""
    stt_threads: int = 0
    """CPU threads for Whisper (0: all cores)."""
    stt_fast: bool = True
    """1: short utterances use a shortened Whisper encoder window (about 2x the audio, at least 6 s); 0: always 30 s."""
    # Global
    language: str = "en"
    """Command language: en, ru or auto (detected per utterance)."""
    models_dir: str = ""
    """Model store (default: the checkout's models/ when it holds models, else $XDG_DATA_HOME/loki/models)."""
    wake_phrase: str = "hey loki"
    """The spoken wake phrase."""

    @property
    def models_path(self) -> Path:
        """The model store."""
        return _models_path(self.models_dir)


@dataclass(frozen=True, repr=False)
class TtsSettings(_Group):
    """What LOKI's voice reads: voices, speaker, reply mode, earcons."""

    voice: str = ""
    """Piper voice (.onnx path or name in the model store; default: the embedded voice)."""
    voice_ru: str = ""
    """Piper voice for Russian replies; empty: espeak-ng."""
    speaker_device: str = ""
    """Speaker by name (substring) or index; empty: the system default."""
    tts_threads: int = 0
    """CPU threads for Piper (0: all cores, fastest first audio; 1 leaves a core to listening on a busy machine)."""
    speaker_latency_ms: float = 100.0
    """Milliseconds of audio the speaker device buffers: lower cuts the voice sooner on barge-in, too low stutters on a busy machine."""
    reply_mode: str = "both"
    """voice, text (stdout/log) or both."""
    earcons: bool = True
    """1: short sounds for listening / done / error."""
    max_spoken_chars: int = 400
    """Longer replies are shortened before they are spoken."""
    # Global
    language: str = "en"
    """Command language: en, ru or auto (detected per utterance)."""
    models_dir: str = ""
    """Model store (default: the checkout's models/ when it holds models, else $XDG_DATA_HOME/loki/models)."""

    @property
    def models_path(self) -> Path:
        """The model store."""
        return _models_path(self.models_dir)


@dataclass(frozen=True, repr=False)
class LlmSettings(_Group):
    """What the language-model backends read."""

    llm_backend: str = "llama_cpp"
    """llama_cpp, openai (any OpenAI-compatible server), ollama, gemini, or none."""
    llm_url: str = ""
    """Base URL of an HTTP backend (default per backend)."""
    llm_model: str = ""
    """Model name, or a GGUF path for llama_cpp (default: the embedded gemma-3-270m)."""
    llm_api_key: str = ""
    """Key for a remote backend. Never logged."""
    llm_timeout_s: float = 20.0
    """Seconds before a backend call is abandoned."""
    llm_max_reply_kb: int = 64
    """Kilobytes of a model's answer read before it is abandoned as too long."""
    llm_fallback: tuple[str, ...] = ()
    """Backends tried in order when the main one fails, e.g. 'ollama,llama_cpp'."""
    # Global
    models_dir: str = ""
    """Model store (default: the checkout's models/ when it holds models, else $XDG_DATA_HOME/loki/models)."""

    @property
    def models_path(self) -> Path:
        """The model store."""
        return _models_path(self.models_dir)


@dataclass(frozen=True, repr=False)
class ActionSettings(_Group):
    """What the policy and the executor read: allowlist, time limits, volume caps, screenshots."""

    apps_allow: tuple[str, ...] = ()
    """Extra executables LOKI may launch, separated by ','."""
    step_timeout_s: float = 10.0
    """Seconds one action (a wait included) may take before the plan is abandoned."""
    plan_timeout_s: float = 30.0
    """Seconds a whole plan may take, confirmations excluded, before the rest is abandoned."""
    volume_max_percent: int = 100
    """Highest volume LOKI sets, in percent of the sink's normal level."""
    volume_turn_max_percent: int = 50
    """Most the volume may change in one turn, in percentage points."""
    screenshot_dir: str = ""
    """Where 'take a screenshot' saves (default: $XDG_PICTURES_DIR or ~/Pictures)."""
    # Global
    dry_run: bool = False
    """1: plan and report actions, never touch the desktop."""


@dataclass(frozen=True, repr=False)
class ScreenSettings(_Group):
    """What tier 2 reads: the display profile, the vision model, text recognition, privacy, its budget."""

    display_profile: str = ""
    """A display profile for clicks on the screen: a name in profiles/display/, a .toml path, or none (default: the one whose screen size matches, if any)."""
    vision_backend: str = "none"
    """The vision model for tier 2: none, openai (any OpenAI-compatible server), ollama, gemini or llama_cpp."""
    vision_url: str = ""
    """Base URL of the vision backend (default per backend)."""
    vision_model: str = ""
    """Vision model name, or a GGUF path for llama_cpp (none is embedded)."""
    vision_mmproj: str = ""
    """The multimodal projector GGUF that goes with LOKI_VISION_MODEL for llama_cpp."""
    vision_api_key: str = ""
    """Key for a remote vision backend. Never logged."""
    vision_coords: str = "qwen25"
    """How the vision model writes a point: qwen25, uitars15, qwen3, uitars1, moondream, gemini or pixels."""
    vision_timeout_s: float = 30.0
    """Seconds before a vision call is abandoned."""
    vision_image_px: int = 1280
    """Longest side, in pixels, of a screenshot sent to the vision model."""
    ocr: str = "auto"
    """Text recognition on the screen: auto (rapidocr, tesseract for Russian), rapidocr, tesseract or none."""
    screen_redact_apps: tuple[str, ...] = ("keepassxc", "1password", "bitwarden", "seahorse")
    """Apps whose windows are never sent to a remote vision backend, separated by ','."""
    screen_tries: int = 3
    """Corrections tier 2 may make after a click that did not work."""
    screen_budget_s: float = 20.0
    """Seconds one screen command may take, corrections included."""
    screen_settle_s: float = 2.0
    """Most seconds to wait for the screen to settle after a click."""
    # Global
    language: str = "en"
    """Command language: en, ru or auto (detected per utterance)."""
    dry_run: bool = False
    """1: plan and report actions, never touch the desktop."""


@dataclass(frozen=True, repr=False)
class BrainSettings(_Group):
    """What the orchestrator and its tiers read: meaning, spoken confirmation, turn traces."""

    meaning: bool = True
    """1: what the phrase rules miss is matched to them by meaning ('fire up the browser') before the language model."""
    confirm_timeout_s: float = 6.0
    """Seconds to wait for yes/no before a risky step counts as 'no'."""
    state_dir: str = ""
    """Where turn traces are written (default: $XDG_STATE_HOME/loki)."""
    trace: bool = True
    """1: write a JSON line per turn with stage timings under the state dir."""
    trace_typed_text: bool = False
    """1: traces keep the text of type actions and dictated slots; 0: they keep only its length."""
    trace_max_kb: int = 1024
    """Kilobytes a trace file may grow to before it is rotated (3 old files are kept)."""
    # Global
    language: str = "en"
    """Command language: en, ru or auto (detected per utterance)."""
    dry_run: bool = False
    """1: plan and report actions, never touch the desktop."""

    @property
    def state_path(self) -> Path:
        """Folder for traces and other runtime state."""
        return _state_path(self.state_dir)

    @property
    def cache_path(self) -> Path:
        """Folder for things LOKI can compute again (the profiles' sentence vectors)."""
        return _xdg("XDG_CACHE_HOME", ".cache")


@dataclass(frozen=True, repr=False)
class ProfileSettings(_Group):
    """Where profiles are read from and learned commands written."""

    profiles_dirs: tuple[str, ...] = ()
    """Extra profile folders, separated by ':' (the shipped and user folders are always read)."""
    user_profiles_dir: str = ""
    """Where your own profiles and learned commands live (default: $XDG_CONFIG_HOME/loki/profiles)."""

    @property
    def user_profiles_path(self) -> Path:
        """Folder of the user's own profiles (learned commands are written here)."""
        return _user_profiles_path(self.user_profiles_dir)


STAGE_SETTINGS: tuple[type[_Group], ...] = (
    ListenSettings,
    SttSettings,
    TtsSettings,
    LlmSettings,
    ActionSettings,
    BrainSettings,
    ScreenSettings,
    ProfileSettings,
)
"""Every group; each field of `Settings` outside `GLOBAL_SETTINGS` is in exactly one."""

_SECRET_FIELDS = frozenset(f.name for f in fields(Settings) if f.metadata["parse"] == "secret")


def _parse_bool(env: str, raw: str) -> bool:
    low = raw.strip().lower()
    if low in ("1", "true", "yes", "on"):
        return True
    if low in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"{env}={raw!r} is not a boolean: use 1 or 0.")


def _parse_number(kind: type, low: float | None, high: float | None, strict_low: bool) -> Callable[[str, str], Any]:
    def parse(env: str, raw: str) -> Any:
        try:
            value = kind(raw.strip())
        except ValueError:
            raise ConfigError(f"{env}={raw!r} is not a number: use e.g. {env}=1.") from None
        if not math.isfinite(value):
            raise ConfigError(f"{env}={raw!r} is not a finite number: use e.g. {env}=1.")
        if low is not None and (value <= low if strict_low else value < low):
            bound = f"greater than {low}" if strict_low else f"at least {low}"
            raise ConfigError(f"{env}={raw!r} is out of range: it must be {bound}.")
        if high is not None and value > high:
            raise ConfigError(f"{env}={raw!r} is out of range: it must be at most {high}.")
        return value

    return parse


def _parse_secret(env: str, raw: str) -> str:
    value = raw.strip()
    bad = next((i for i, ch in enumerate(value) if not (ch.isascii() and ch.isprintable())), None)
    if bad is not None:  # never echo the key itself
        raise ConfigError(
            f"{env} has a character that is not plain ASCII at position {bad + 1}: keys are ASCII letters, "
            "digits and signs; copy the key again (a dash or quote may have become a look-alike)."
        )
    return value


_PARSERS: dict[str, Callable[[str, str], Any]] = {
    "str": lambda env, raw: raw.strip(),
    "secret": _parse_secret,
    "bool": _parse_bool,
    "pos_float": _parse_number(float, 0, None, True),
    "nonneg_float": _parse_number(float, 0, None, False),
    "unit_float": _parse_number(float, 0, 1, False),
    "pos_int": _parse_number(int, 0, None, True),
    "nonneg_int": _parse_number(int, 0, None, False),
    "vad_level": _parse_number(int, 0, 3, False),
    "list": lambda env, raw: tuple(p.strip() for p in raw.split(",") if p.strip()),
    "paths": lambda env, raw: tuple(p.strip() for p in raw.split(os.pathsep) if p.strip()),
}


def env_names() -> list[str]:
    """Every environment variable LOKI reads."""
    return [f.metadata["env"] for f in fields(Settings)]


_ENV_NAMES = frozenset(env_names())


def settings_from(values: Mapping[str, str], origins: Mapping[str, str] | None = None) -> Settings:
    """Build and check settings from a mapping of environment variables.

    An unknown `LOKI_*` name is an error that names the closest real setting.

    Args:
        values: variable name to raw value.
        origins: where each name was set, for messages (e.g. ".env line 3"); default "the environment".
    """
    kwargs: dict[str, Any] = {}
    for name, text in values.items():
        if name.startswith("LOKI_") or name in _ENV_NAMES:
            _check_text(name, text)
    origins = origins or {}
    for f in fields(Settings):
        env = f.metadata["env"]
        raw = values.get(env)
        if raw is None:
            continue
        try:
            value = _PARSERS[f.metadata["parse"]](env, raw)
            choices = f.metadata["choices"]
            if choices:
                match = next((c for c in choices if c.lower() == str(value).lower()), None)
                if match is None:
                    raise ConfigError(f"{env}={raw!r} is not allowed: use one of {', '.join(choices)}.")
                value = match
        except ConfigError as exc:
            raise _set_in(exc, env, origins) from None
        kwargs[f.name] = value
    unknown = sorted(k for k in values if k.startswith("LOKI_") and k not in _ENV_NAMES)
    if unknown:
        name = unknown[0]
        where = origins.get(name, "the environment")
        close = difflib.get_close_matches(name, sorted(_ENV_NAMES), n=1, cutoff=0.6)
        hint = f"did you mean {close[0]}?" if close else "see .env.example for the names LOKI reads."
        raise ConfigError(f"Unknown setting {name}: {hint} (set in {where})")
    settings = Settings(**kwargs)
    _check_paths(settings, origins)
    return settings


def _set_in(error: ConfigError, env: str, origins: Mapping[str, str]) -> ConfigError:
    """The error, naming the file and line that set `env` (a value from the environment is not named)."""
    return ConfigError(f"{error} (set in {origins[env]})") if env in origins else error


def _check_text(env: str, raw: str) -> None:
    """A value from the environment with bytes that are not UTF-8 (they arrive as lone surrogates)."""
    try:
        raw.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ConfigError(
            f"{env} has a byte that is not UTF-8 at position {exc.start + 1}: set it again as UTF-8 text."
        ) from None


def _looks_like_path(value: str) -> bool:
    return value.startswith((".", "/", "~")) or os.sep in value or value.endswith((".gguf", ".onnx", ".ppn"))


def _check_paths(s: Settings, origins: Mapping[str, str]) -> None:
    for env, value in (
        ("LOKI_LLM_MODEL", s.llm_model if s.llm_backend == "llama_cpp" else ""),
        ("LOKI_STT_MODEL", s.stt_model),
        ("LOKI_VOICE", s.voice),
        ("LOKI_VOICE_RU", s.voice_ru),
        ("LOKI_WAKE_MODEL", s.wake_model),
        ("LOKI_VISION_MODEL", s.vision_model if s.vision_backend == "llama_cpp" else ""),
        ("LOKI_VISION_MMPROJ", s.vision_mmproj),
    ):
        if value and _looks_like_path(value) and not Path(value).expanduser().exists():
            raise _set_in(
                ConfigError(
                    f"{env}={value!r}: no such file or folder. Fix the path, or unset {env} to use the embedded default."
                ),
                env,
                origins,
            )
    if s.vision_backend == "openai" and not s.vision_url and not s.vision_api_key:
        raise _set_in(
            ConfigError(
                "LOKI_VISION_BACKEND=openai needs LOKI_VISION_URL (e.g. http://127.0.0.1:8080/v1) or LOKI_VISION_API_KEY for api.openai.com."
            ),
            "LOKI_VISION_BACKEND",
            origins,
        )
    if s.vision_backend == "llama_cpp" and not (s.vision_model and s.vision_mmproj):
        raise _set_in(
            ConfigError(
                "LOKI_VISION_BACKEND=llama_cpp needs LOKI_VISION_MODEL (a vision GGUF) and LOKI_VISION_MMPROJ (its projector GGUF): no vision model is embedded."
            ),
            "LOKI_VISION_BACKEND",
            origins,
        )
    if s.llm_backend == "openai" and not s.llm_url and not s.llm_api_key:
        # An OpenAI-compatible server needs a URL unless it is OpenAI itself, with a key.
        raise _set_in(
            ConfigError(
                "LOKI_LLM_BACKEND=openai needs LOKI_LLM_URL (e.g. http://127.0.0.1:8080/v1) or LOKI_LLM_API_KEY for api.openai.com."
            ),
            "LOKI_LLM_BACKEND",
            origins,
        )
    for name in s.llm_fallback:
        if name not in LLM_BACKENDS:
            raise _set_in(
                ConfigError(f"LOKI_LLM_FALLBACK names {name!r}: use backends from {', '.join(LLM_BACKENDS)}."),
                "LOKI_LLM_FALLBACK",
                origins,
            )


USER_ENV_FILE = "loki.env"
"""The name of the user's own settings file, in $XDG_CONFIG_HOME/loki/."""


def user_env_path(environ: Mapping[str, str] | None = None) -> Path:
    """The user's settings file: $XDG_CONFIG_HOME/loki/loki.env, by default ~/.config/loki/loki.env."""
    environ = os.environ if environ is None else environ
    home = Path(environ["HOME"]) if environ.get("HOME") else Path.home()
    return Path(environ.get("XDG_CONFIG_HOME") or home / ".config") / "loki" / USER_ENV_FILE


def load_settings(
    env_file: str | os.PathLike[str] | None = ".env",
    environ: Mapping[str, str] | None = None,
    *,
    user_file: bool = True,
) -> Settings:
    """Read the settings and check every value: the environment wins over `env_file`, which wins over loki.env.

    Args:
        env_file: `./.env` or the `--env-file`; None or a missing file: none.
        environ: the environment (default `os.environ`); it also says where loki.env is.
        user_file: False: do not read `$XDG_CONFIG_HOME/loki/loki.env`.
    """
    environ = os.environ if environ is None else environ
    values: dict[str, str] = {}
    origins: dict[str, str] = {}
    files = [user_env_path(environ)] if user_file else []
    if env_file is not None:
        files.append(Path(env_file))
    for path in files:  # later files win
        if path.is_file():
            from_file, where = read_env_file(path)
            values.update(from_file)
            origins.update(where)
    origins = {k: v for k, v in origins.items() if k not in environ}
    return settings_from({**values, **environ}, origins)


def read_env_file(path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """The `NAME=value` pairs of a `.env` file and where each was set; a line LOKI cannot read is an error."""
    from dotenv import dotenv_values
    from dotenv.parser import parse_stream

    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{path} line {line}: byte 0x{data[exc.start]:02x} at column {column} is not UTF-8: save the file as UTF-8."
        ) from None
    origins: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        raw = binding.original.string
        blank = raw[: len(raw) - len(raw.lstrip())].count("\n")  # blank lines before it belong to the binding
        where = f"{path} line {binding.original.line + blank}"
        if binding.error:
            raise ConfigError(
                f"{where}: cannot read {binding.original.string.strip()!r}: write NAME=value, "
                "quoting a value with spaces or # in double quotes."
            )
        if binding.key is not None:
            origins[binding.key] = where
    values = {k: v for k, v in dotenv_values(stream=io.StringIO(text)).items() if v is not None}
    return values, origins


def fail(error: ConfigError) -> None:
    """Print a configuration error the way start-up reports it."""
    print(f"loki: configuration error: {error}", file=sys.stderr)


def env_example() -> str:
    """The text of `.env.example`: every setting, commented, with its default."""
    lines = [
        "# LOKI settings. Copy to ~/.config/loki/loki.env (yours, read from any folder) or to ./.env and uncomment",
        "# what you change; the environment wins over .env, which wins over loki.env.",
        "# Generated by: python -m loki.config --example > .env.example",
    ]
    section = None
    for f in fields(Settings):
        group = _GROUPS.get(f.name)
        if group and group != section:
            section = group
            lines += ["", f"# --- {group} ---"]
        default = f.default
        if isinstance(default, bool):
            default = int(default)
        elif isinstance(default, tuple):
            default = ("," if f.metadata["parse"] == "list" else os.pathsep).join(default)
        lines.append(f"# {f.metadata['doc']}")
        lines.append(f"#{f.metadata['env']}={default}")
    return "\n".join(lines) + "\n"


_GROUPS = {
    "language": "General",
    "apps_allow": "Actions and policy",
    "wake_phrase": "Listening",
    "stt_model": "Speech recognition",
    "voice": "Speaking",
    "llm_backend": "Language models",
    "vision_backend": "The screen (tier 2)",
}

if __name__ == "__main__":
    if sys.argv[1:] == ["--example"]:
        print(env_example(), end="")
    else:
        print("usage: python -m loki.config --example > .env.example", file=sys.stderr)
