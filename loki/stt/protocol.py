"""The speech-recognition seam: what the recognizer needs from a transcriber (`loki.stt.Transcriber` provides it)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from loki.stt.transcriber import Transcript


class SpeechRecognizer(Protocol):
    """Blocking speech to text (run it in a thread of its own)."""

    def transcribe(self, audio: np.ndarray, *, language: str | None = None) -> Transcript:
        """What was said in 16 kHz mono audio (int16 or float32)."""
        ...
