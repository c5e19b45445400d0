"""`loki speak TEXT [--out FILE.wav] [--json]`: synthesize, play (or write), report time to first audio.

With --out the report also names the file written: `path`, `audio_s` (its length in seconds) and
`sample_rate_hz`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import wave
from pathlib import Path

from loki.cli import emit
from loki.config import Settings
from loki.errors import LokiError
from loki.tts.output import SpeechOutput
from loki.tts.text import script_language


def command(args: argparse.Namespace, settings: Settings) -> int:
    """Speak the text on the speaker, or write it to --out; prints {"ttfa_ms", "audio_s", ...} (+ "path", "sample_rate_hz")."""
    text = " ".join(args.text).strip()
    if not text:
        raise LokiError("Nothing to speak: give the text as arguments.")
    report = asyncio.run(_speak(text, os.path.abspath(args.out) if args.out else None, settings))
    human = f"{report['audio_s']:.2f} s of speech, first audio after {report['ttfa_ms']:.0f} ms"
    if args.out:
        human += f", written to {report['path']} ({report['sample_rate_hz']} Hz)"
    human += f" (voice {report['voice']}, loaded in {report['load_ms']:.0f} ms)"
    emit(report, args.json, human)
    return 0


async def _speak(text: str, out: str | None, settings: Settings) -> dict[str, object]:
    fallback = settings.language if settings.language in ("en", "ru") else "en"
    language = script_language(text, fallback)
    output = SpeechOutput(settings, show_text=lambda _text: None)
    try:
        started = time.perf_counter()
        voices = await (output.load((language,)) if out else output.start((language,)))
        load_ms = (time.perf_counter() - started) * 1000
        written: dict[str, object] = {}
        if out:
            ttfa_ms, audio_s, rate_hz = await _write(output, text, language, Path(out))
            written = {"path": out, "sample_rate_hz": rate_hz}
        else:
            result = await output.say(text, language)
            ttfa_ms, audio_s = result.ttfa_ms or 0.0, result.audio_s
    finally:
        await output.close()
    return {
        "ttfa_ms": round(ttfa_ms, 1),
        "audio_s": round(audio_s, 3),
        "load_ms": round(load_ms, 1),
        "voice": voices[0],
        "language": language,
        **written,
    }


async def _write(output: SpeechOutput, text: str, language: str, path: Path) -> tuple[float, float, int]:
    """Write the speech to a 16-bit mono WAV at the voice's rate: (ttfa ms, seconds, Hz); ttfa is the time to the first chunk."""
    import numpy as np

    from loki.audio.speaker import resample

    started = time.perf_counter()
    ttfa_ms = 0.0
    rate_hz = 0
    chunks: list[np.ndarray] = []
    async for _segment, samples, segment_rate_hz in output.synthesize(text, language):
        if not chunks:
            ttfa_ms = (time.perf_counter() - started) * 1000
            rate_hz = segment_rate_hz
        chunks.append(resample(samples, segment_rate_hz, rate_hz))
    if not chunks:
        raise LokiError("Nothing to speak: the text has no words.")
    audio = np.concatenate(chunks)
    try:
        with wave.open(str(path), "wb") as w:
            w.setnchannels(1)
            w.setsampwidth(2)
            w.setframerate(rate_hz)
            w.writeframes((np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes())
    except OSError as exc:
        raise LokiError(f"Cannot write {path}: {exc.strerror or exc}.") from exc
    return ttfa_ms, len(audio) / rate_hz, rate_hz
