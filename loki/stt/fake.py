"""A transcriber for tests: scripted texts at the speech-recognition seam, so a whole turn runs on any CPU."""

from __future__ import annotations

import numpy as np

from loki.audio.frames import SAMPLE_RATE_HZ
from loki.stt.transcriber import Transcript


class ScriptedTranscriber:
    """Implements `loki.stt.protocol.SpeechRecognizer`: returns `texts` in order ("" once they run out).

    Args:
        texts: what each call "hears".
        fail_first: the first call raises RuntimeError (a crashed model).
        language: the language every transcript reports.
    """

    def __init__(self, texts: list[str], *, fail_first: bool = False, language: str = "en") -> None:
        self.texts = list(texts)
        self.fail_first = fail_first
        self.language = language
        self.calls = 0

    def transcribe(self, audio: np.ndarray, *, language: str | None = None) -> Transcript:
        """The next scripted text, as a `Transcript` of this audio."""
        self.calls += 1
        if self.fail_first and self.calls == 1:
            raise RuntimeError("model crashed")
        text = self.texts.pop(0) if self.texts else ""
        return Transcript(
            text=text,
            language=language or self.language,
            audio_s=len(audio) / SAMPLE_RATE_HZ,
            stt_ms=1.0,
            model="scripted",
            path="scripted",
        )
