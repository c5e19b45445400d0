"""Voice activity moved to `loki.audio.vad` (speech recognition uses it too); re-exported for the daemon."""

from loki.audio.vad import SpeechStart, Utterance, VadOptions, VadSegmenter

__all__ = ["SpeechStart", "Utterance", "VadOptions", "VadSegmenter"]
