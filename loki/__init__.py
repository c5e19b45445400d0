"""LOKI: a local-first voice assistant daemon for the desktop."""

__version__ = "0.1.0"
