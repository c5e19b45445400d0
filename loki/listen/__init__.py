"""Listening: wake word, push-to-talk and the gate that decides what is a command (voice activity: loki.audio.vad)."""
