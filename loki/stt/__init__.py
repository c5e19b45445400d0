"""Speech to text: faster-whisper with a fast path for short commands (see transcriber.py)."""

from loki.stt.audiofile import SAMPLE_RATE_HZ, read_audio
from loki.stt.transcriber import SttOptions, Transcriber, Transcript

__all__ = ["SAMPLE_RATE_HZ", "SttOptions", "Transcriber", "Transcript", "read_audio"]
