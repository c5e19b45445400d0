"""Listening: voice activity, wake word, push-to-talk and the gate that decides what is a command."""
