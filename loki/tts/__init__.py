"""Speaking: Piper voices streamed sentence by sentence to the speaker, cut at once on barge-in."""

from loki.tts.output import SpeechOutput, SpeechResult

__all__ = ["SpeechOutput", "SpeechResult"]
