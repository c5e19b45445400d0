"""`loki transcribe [--json] FILE...`: speech to text with the configured model, one line per file."""

from __future__ import annotations

import argparse
import sys

from loki.config import Settings
from loki.errors import LokiError


def command(args: argparse.Namespace, settings: Settings) -> int:
    """Transcribe each file; prints {"file", "text", "audio_s", "stt_ms", "model"} per file."""
    from loki.cli import emit
    from loki.stt import Transcriber

    transcriber = Transcriber(settings, vocabulary=_vocabulary(settings))
    failures = 0
    for name in args.files:
        try:
            transcript = transcriber.transcribe_file(name)
        except LokiError as exc:
            failures += 1
            emit({"file": name, "error": exc.message}, args.json, f"{name}: ERROR {exc.message}")
            continue
        line = {
            "file": name,
            "text": transcript.text,
            "audio_s": transcript.audio_s,
            "stt_ms": transcript.stt_ms,
            "model": transcript.model,
            "language": transcript.language,
            "path": transcript.path,
        }
        emit(line, args.json, f"{name}: {transcript.text}")
        if not args.json:
            print(
                f"  {transcript.audio_s:.2f} s of audio, {transcript.stt_ms:.0f} ms, {transcript.model} "
                f"({transcript.path} path{', ' + transcript.fallback if transcript.fallback else ''})",
                file=sys.stderr,
            )
    return 1 if failures else 0


def _vocabulary(settings: Settings) -> list[str]:
    """The profiles' words for LOKI_LANGUAGE (both languages for auto), as the daemon uses them."""
    from loki.app import load_all_profiles

    try:
        profiles = load_all_profiles(settings)
    except LokiError:
        return []  # a broken profile must not stop transcription; `loki profiles check` reports it
    languages = ("en", "ru") if settings.language == "auto" else (settings.language,)
    words: dict[str, None] = {}
    for language in languages:
        words.update(dict.fromkeys(profiles.vocabulary(language)))
    return list(words)
