"""STT time for 1-3 s commands: LOKI's fast path against faster-whisper's plain transcribe().

Same model, same audio, runs interleaved; prints per-clip medians, the ratio and whether the texts
match, then a summary. Two comparisons:

  same-options  LOKI fast path without vocabulary vs WhisperModel.transcribe() with the same decoding
                options (greedy, temperature 0, no previous-text conditioning): only the encoder window
                differs, so this is the "same text" check.
  as-deployed   LOKI as the daemon runs it (profile vocabulary, n-best rescoring, spoken-to prompt) vs
                WhisperModel.transcribe() with faster-whisper's defaults (beam 5, temperature fallback).

Then the encoder alone over the full 30 s window against plain transcribe(): the one pass the same
text by construction needs, and why "same text" and "<= 0.3x" cannot both hold with window truncation.

Usage:
    .venv/bin/python benchmarks/stt_bench.py [--runs 5] [--language en|ru] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loki.config import load_settings  # noqa: E402
from loki.listen import clips  # noqa: E402
from loki.stt import SAMPLE_RATE_HZ, SttOptions, Transcriber, read_audio  # noqa: E402
from loki.words import words_of  # noqa: E402

TESTDATA = REPO.parent / "shared" / "testdata"
EN_COMMANDS = [
    ("open the browser", clips.Voice("espeak", "en-us", 160)),
    ("volume up", clips.Voice("espeak", "en-gb", 150)),
    ("minimize everything", clips.Voice("espeak", "en-us+f3", 170)),
    ("take a screenshot", clips.Voice("espeak", "en-us", 180)),
    ("close this window", clips.Voice("espeak", "en-gb-scotland", 150)),
    ("scroll down", clips.Voice("espeak", "en-us+m3", 160)),
    ("what time is it", clips.Voice("piper")),
    ("open the file manager", clips.Voice("piper")),
    ("switch to the previous tab", clips.Voice("piper")),
    ("next tab", clips.Voice("piper", length_scale=1.1)),
]
RU_COMMANDS = [  # festival's Russian voice (festival + festvox-ru): Whisper cannot make out espeak-ng's
    ("сегодня хорошая погода", clips.festival_ru(1.15)),
    ("открой браузер", clips.festival_ru(1.0)),
    ("закрой окно", clips.festival_ru(1.0)),
    ("сделай громче", clips.festival_ru(0.9)),
    ("который час", clips.festival_ru(1.15)),
    ("следующий трек", clips.festival_ru(1.0)),
]


@dataclass
class Row:
    """One clip's figures."""

    clip: str
    audio_s: float
    fast_ms: float
    plain_ms: float
    fast_text: str
    plain_text: str
    fast_path: str

    @property
    def ratio(self) -> float:
        return self.fast_ms / self.plain_ms

    @property
    def same(self) -> bool:
        return self.fast_text == self.plain_text

    @property
    def same_words(self) -> bool:
        return words_of(self.fast_text) == words_of(self.plain_text)


def _clips(language: str) -> list[tuple[str, np.ndarray]]:
    out: list[tuple[str, np.ndarray]] = []
    if language == "en":
        for name in ("turn_on_the_living_room_light_en.wav", "human_turn_on_the_living_room_lamp.wav"):
            if (TESTDATA / name).is_file():
                out.append((name, read_audio(TESTDATA / name)))
    pad = clips.silence(0.3)
    for text, voice in EN_COMMANDS if language == "en" else RU_COMMANDS:
        speech = piper_fixed(text, voice.length_scale) if voice.engine == "piper" else clips.say(text, voice)
        out.append((f"{text!r} ({voice})", clips.join(pad, speech, pad)))
    return out


def piper_fixed(text: str, length_scale: float = 1.0) -> np.ndarray:
    """`text` in the embedded Piper voice with its noise turned off, so every run hears the same clip."""
    from piper import PiperVoice, SynthesisConfig

    from loki.audio.frames import resample
    from loki.config import Settings
    from loki.models import piper_voice

    onnx = piper_voice(Settings())
    voice = PiperVoice.load(onnx, config_path=f"{onnx}.json")
    config = SynthesisConfig(length_scale=length_scale, noise_scale=0.0, noise_w_scale=0.0)
    audio = np.concatenate([c.audio_float_array for c in voice.synthesize(text, syn_config=config)])
    return resample(audio.astype(np.float32), int(voice.config.sample_rate), SAMPLE_RATE_HZ)


def _timed(fn):
    started = time.perf_counter()
    result = fn()
    return (time.perf_counter() - started) * 1000, result


def _plain_text(model, audio: np.ndarray, language: str, same_options: bool) -> str:
    kwargs = dict(beam_size=1, temperature=0.0, condition_on_previous_text=False) if same_options else {}
    segments, _info = model.transcribe(audio, language=language, **kwargs)
    return "".join(s.text for s in segments).strip()


def run(comparison: str, transcriber: Transcriber, plain, language: str, samples, runs: int) -> list[Row]:
    """Interleave fast and plain runs on each clip; medians of `runs` each after one warm-up."""
    same_options = comparison == "same-options"
    rows = []
    for name, audio in samples:
        transcriber.transcribe(audio, language=language)  # warm-up
        _plain_text(plain, audio, language, same_options)
        fast_times, plain_times = [], []
        fast_result = plain_result = None
        for _ in range(runs):
            ms, fast_result = _timed(lambda a=audio: transcriber.transcribe(a, language=language))
            fast_times.append(ms)
            ms, plain_result = _timed(lambda a=audio: _plain_text(plain, a, language, same_options))
            plain_times.append(ms)
        rows.append(
            Row(
                name,
                round(len(audio) / SAMPLE_RATE_HZ, 2),
                statistics.median(fast_times),
                statistics.median(plain_times),
                fast_result.text,
                str(plain_result),
                fast_result.path,
            )
        )
    return rows


def encoder_cost(transcriber: Transcriber, plain, language: str, samples, runs: int) -> dict:
    """The encoder alone over the full 30 s window and over the fast path's window, interleaved with plain
    transcribe() (same options) on each clip; medians.

    Identical text by construction needs identical encoder output, i.e. the full window; this shows
    what that pass alone costs against the whole of plain transcribe().
    """
    import ctranslate2

    model = transcriber.load()
    full, fast, ratios = [], [], []
    for _name, audio in samples:
        features = model.feature_extractor(audio)[:, :-1]
        padded = np.zeros((features.shape[0], 3000), dtype=np.float32)
        padded[:, : features.shape[1]] = features[:, :3000]
        window = transcriber._window_frames(len(audio) / SAMPLE_RATE_HZ) or 3000
        views = [ctranslate2.StorageView.from_array(np.ascontiguousarray(padded[None, :, :f])) for f in (3000, window)]
        full_ms, fast_ms, plain_ms = [], [], []
        for _ in range(runs):
            full_ms.append(_timed(lambda v=views[0]: model.model.encode(v))[0])
            fast_ms.append(_timed(lambda v=views[1]: model.model.encode(v))[0])
            plain_ms.append(_timed(lambda a=audio: _plain_text(plain, a, language, True))[0])
        full.append(statistics.median(full_ms))
        fast.append(statistics.median(fast_ms))
        ratios.append(full[-1] / statistics.median(plain_ms))
    return {
        "full_window_ms": round(statistics.median(full), 1),
        "fast_window_ms": round(statistics.median(fast), 1),
        "full_window_vs_plain": round(statistics.median(ratios), 3),
    }


def report(comparison: str, rows: list[Row], as_json: bool) -> dict:
    """Print the rows and return the summary."""
    if as_json:
        for r in rows:
            print(
                json.dumps(
                    {
                        "comparison": comparison,
                        "clip": r.clip,
                        "audio_s": r.audio_s,
                        "fast_ms": round(r.fast_ms, 1),
                        "plain_ms": round(r.plain_ms, 1),
                        "ratio": round(r.ratio, 3),
                        "same_text": r.same,
                        "same_words": r.same_words,
                        "fast_text": r.fast_text,
                        "plain_text": r.plain_text,
                        "path": r.fast_path,
                    },
                    ensure_ascii=False,
                )
            )
    else:
        print(f"\n== {comparison} ==")
        print(f"{'clip':52s} {'audio':>6s} {'fast':>7s} {'plain':>7s} {'ratio':>6s}  text")
        for r in rows:
            mark = "same" if r.same else ("same words" if r.same_words else "DIFFERENT")
            print(
                f"{r.clip[:52]:52s} {r.audio_s:5.2f}s {r.fast_ms:5.0f}ms {r.plain_ms:5.0f}ms {r.ratio:6.2f}  "
                f"{mark}: {r.fast_text!r}"
                + ("" if r.same else f" vs {r.plain_text!r}")
                + ("" if r.fast_path == "fast" else f" [{r.fast_path} path]")
            )
    summary = {
        "comparison": comparison,
        "clips": len(rows),
        "median_fast_ms": round(statistics.median(r.fast_ms for r in rows), 1),
        "median_plain_ms": round(statistics.median(r.plain_ms for r in rows), 1),
        "median_ratio": round(statistics.median(r.ratio for r in rows), 3),
        "worst_ratio": round(max(r.ratio for r in rows), 3),
        "same_text": sum(r.same for r in rows),
        "same_words": sum(r.same_words for r in rows),
    }
    if as_json:
        print(json.dumps({"summary": True, **summary}))
    else:
        print(
            f"median fast {summary['median_fast_ms']} ms, plain {summary['median_plain_ms']} ms, "
            f"median ratio {summary['median_ratio']} (worst {summary['worst_ratio']}); "
            f"same text {summary['same_text']}/{len(rows)}, same words {summary['same_words']}/{len(rows)}"
        )
    return summary


def main() -> int:
    """Run both comparisons and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per clip and path (median reported)")
    parser.add_argument("--language", choices=("en", "ru"), default="en", help="en: tiny.en; ru: the base model")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    args = parser.parse_args()

    from faster_whisper import WhisperModel

    settings = load_settings(None, environ={**os.environ, "LOKI_LANGUAGE": args.language, "LOKI_LLM_BACKEND": "none"})
    from loki.profiles.loader import load_profiles, shipped_profiles_dir

    vocabulary = load_profiles([(shipped_profiles_dir(), False)]).vocabulary(args.language)
    bare = Transcriber(settings, options=SttOptions(spoken_to_prompt=False))  # only the window differs
    deployed = Transcriber(settings, vocabulary=vocabulary)
    model = bare.load()
    deployed._model = model  # one model in memory for both
    threads = settings.stt_threads or os.cpu_count() or 1
    plain = WhisperModel(str(bare.model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
    samples = _clips(args.language)
    load_before = os.getloadavg()
    header = {
        "model": bare.model_name,
        "language": args.language,
        "cores": os.cpu_count(),
        "threads": threads,
        "runs": args.runs,
        "loadavg_before": [round(x, 2) for x in load_before],
    }
    print(json.dumps(header) if args.json else f"STT benchmark: {header}")
    summaries = [
        report("same-options", run("same-options", bare, plain, args.language, samples, args.runs), args.json),
        report("as-deployed", run("as-deployed", deployed, plain, args.language, samples, args.runs), args.json),
    ]
    encoder = encoder_cost(bare, plain, args.language, samples, args.runs)
    if args.json:
        print(json.dumps({"encoder": True, **encoder}))
    else:
        print(
            f"\nencoder alone: full 30 s window {encoder['full_window_ms']} ms "
            f"({encoder['full_window_vs_plain']}x plain transcribe()), fast window {encoder['fast_window_ms']} ms "
            "- the same text by construction needs the full window"
        )
    load_after = [round(x, 2) for x in os.getloadavg()]
    if args.json:
        print(json.dumps({"loadavg_after": load_after}))
    else:
        print(f"\nload average before {header['loadavg_before']}, after {load_after} ({os.cpu_count()} cores)")
    return 0 if summaries else 1


if __name__ == "__main__":
    raise SystemExit(main())
