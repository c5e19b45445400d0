"""`loki transcribe [--json] FILE...`: speech to text with the configured model, one line per file."""

from __future__ import annotations

import argparse
import sys

from loki.cli import emit
from loki.config import Settings
from loki.errors import LokiError
from loki.listen.wake.phrase import default_phrases
from loki.stt import Transcriber


def command(args: argparse.Namespace, settings: Settings) -> int:
    """Transcribe each file; prints {"file", "text", "audio_s", "stt_ms", "model"} per file."""
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
    """The words the daemon biases recognition with (loki.wiring.stt_vocabulary): the wake phrases.

    The profiles' words are left out, as in the daemon: rescoring with them turned real speech into
    command words ("ten of clubs" -> "10 of close.", benchmarks/real_speech_bench.py).
    """
    return [p.title() if p.isascii() else p.capitalize() for p in default_phrases(settings.wake_phrase)]
