"""Real voices: LOKI's transcripts of real recordings against plain faster-whisper transcribe(), WER and speed.

The recordings are ../shared/testdata/real (what is said in refs.tsv; see SOURCES.md). For each language
(English with tiny.en, Russian with the multilingual base, LOKI's defaults) it prints per file, then a
summary, the word error rate of

  plain      WhisperModel.transcribe(file, language=...) with faster-whisper's default options
  transcribe LOKI's Transcriber as `loki transcribe` runs it (the profiles' words for rescoring)
  daemon     LOKI as the daemon runs it: the file cut into utterances by the microphone VAD, each
             transcribed with the wake phrase as vocabulary and the daemon's short silent tail, and
             joined with the next when it began within GO_ON_S and what came before is not a complete
             command (the daemon waits for more of a request said in more than one breath)

and how many transcripts were empty or doubled a word, then the speed: LOKI's `transcribe` time over
plain transcribe()'s, per file the median of --runs interleaved runs, and the median of those.
The speed is also given apart for command-length files (up to 2 s) and longer ones. WER normalises case,
punctuation and number formats (loki.stt.wer). On a loaded machine the times are noisy; the ratios are
medians for that reason.

With --festvox MAX_S, Russian is also measured on the real recordings Debian's festvox-ru voice was made
from (one reader; those up to MAX_S seconds that refs.tsv does not already hold): 22 shared files are
115 words, so one word is 0.9 points there.

Usage:
    .venv/bin/python benchmarks/real_speech_bench.py [--runs 5] [--language en|ru|both] [--festvox 6] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from loki.audio.frames import to_float32  # noqa: E402
from loki.config import load_settings  # noqa: E402
from loki.stt import SAMPLE_RATE_HZ, Transcriber, read_audio  # noqa: E402
from loki.stt.guards import doubled_run  # noqa: E402
from loki.stt.wer import error_rate, normal_words, word_errors  # noqa: E402
from loki.words import words_of  # noqa: E402

REAL = REPO.parent / "shared" / "testdata" / "real"
SHORT_S = 2.0
"""Recordings up to this long are command-length; the speed is also reported for them and the rest apart."""


def references(language: str) -> list[tuple[Path, str]]:
    """(file, what is said) for one language, from refs.tsv."""
    rows = [line.split("\t") for line in (REAL / "refs.tsv").read_text(encoding="utf-8").splitlines() if line]
    return [(REAL / row[0], row[1]) for row in rows if row[0].startswith(f"{language}_")]


def festvox_references(max_s: float) -> list[tuple[Path, str]]:
    """More real Russian: the recordings festvox-ru was made from, up to `max_s` long, less those in refs.tsv."""
    from loki.listen.clips import festvox_recordings

    shared = {path.name for path, _ in references("ru")}
    return [(path, text) for path, text in festvox_recordings(max_s) if f"ru_nsh_{path.name}" not in shared]


def daemon_text(transcriber: Transcriber, samples: np.ndarray, language: str, complete) -> str:
    """What the daemon hears in a recording: its VAD utterances, each transcribed with the daemon's tail pad,
    and joined with the next while what was heard is not a complete command and the next began within
    GO_ON_S (as the daemon waits for more of a request said in more than one breath)."""
    from loki.audio.vad import vad_utterances
    from loki.listen.recognizer import STT_TAIL_PAD_S, heard_in_turns

    pad = np.zeros(int(STT_TAIL_PAD_S * SAMPLE_RATE_HZ), np.float32)

    def text_of(audio: np.ndarray) -> str:
        return transcriber.transcribe(np.concatenate([to_float32(audio), pad]), language=language).text

    texts = heard_in_turns(vad_utterances(samples), text_of, lambda text: complete(text, language))
    return " ".join(t for t in texts if t)


def plain_text(model, path: Path, language: str) -> str:
    """faster-whisper's transcribe() with its defaults."""
    segments, _info = model.transcribe(str(path), language=language)
    return "".join(s.text for s in segments).strip()


def says_whole(language: str):
    """(text, language) -> True for a complete command, as the daemon's tiers tell it (loki.wiring.says_whole)."""
    from loki.wiring import build_tiers, load_all_profiles, says_whole

    settings = load_settings(None, environ={**os.environ, "LOKI_LANGUAGE": language, "LOKI_LLM_BACKEND": "none"})
    return says_whole(build_tiers(settings, load_all_profiles(settings)))


def transcribers(language: str) -> tuple[Transcriber, Transcriber, object]:
    """(as `loki transcribe`, as the daemon, plain WhisperModel), one model file for all three."""
    from faster_whisper import WhisperModel

    from loki.cli.transcribe import _vocabulary
    from loki.listen.wake.phrase import default_phrases

    settings = load_settings(None, environ={**os.environ, "LOKI_LANGUAGE": language, "LOKI_LLM_BACKEND": "none"})
    cli = Transcriber(settings, vocabulary=_vocabulary(settings))
    wake = [p.title() if p.isascii() else p.capitalize() for p in default_phrases(settings.wake_phrase)]
    daemon = Transcriber(settings, vocabulary=wake)
    daemon._model = cli.load()
    threads = settings.stt_threads or os.cpu_count() or 1
    plain = WhisperModel(str(cli.model_dir), device="cpu", compute_type="int8", cpu_threads=threads)
    return cli, daemon, plain


def bench(language: str, files: list[tuple[Path, str]], runs: int, as_json: bool, label: str = "") -> dict:
    """One language's `files`: per-file texts and times, then the summary."""
    cli, daemon, plain = transcribers(language)
    complete = says_whole(language)
    rows = []
    for path, reference in files:
        name = path.name
        samples = read_audio(path)
        cli.transcribe(samples, language=language)  # warm-up
        plain_text(plain, path, language)
        loki_ms, plain_ms = [], []
        for _ in range(runs):
            started = time.perf_counter()
            transcript = cli.transcribe(read_audio(path), language=language)
            loki_ms.append((time.perf_counter() - started) * 1000)
            started = time.perf_counter()
            plain_said = plain_text(plain, path, language)
            plain_ms.append((time.perf_counter() - started) * 1000)
        row = {
            "file": name,
            "reference": reference,
            "plain": plain_said,
            "transcribe": transcript.text,
            "daemon": daemon_text(daemon, samples, language, complete),
            "path": transcript.path,
            "audio_s": round(len(samples) / SAMPLE_RATE_HZ, 2),
            "loki_ms": round(statistics.median(loki_ms), 1),
            "plain_ms": round(statistics.median(plain_ms), 1),
        }
        row["ratio"] = round(row["loki_ms"] / row["plain_ms"], 3)
        rows.append(row)
        if as_json:
            print(json.dumps(row, ensure_ascii=False))
        else:
            marks = {k: word_errors(reference, row[k])[0] for k in ("plain", "transcribe", "daemon")}
            print(
                f"{name:28s} {row['ratio']:5.2f}x  errors plain {marks['plain']} transcribe {marks['transcribe']} "
                f"daemon {marks['daemon']}: {row['transcribe']!r}"
                + ("" if row["daemon"] == row["transcribe"] else f" / daemon {row['daemon']!r}")
                + (
                    ""
                    if normal_words(row["plain"]) == normal_words(row["transcribe"])
                    else f" / plain {row['plain']!r}"
                )
            )
    summary = {"summary": True, "language": language, "set": label or language, "model": cli.model_name}
    summary["files"] = len(rows)
    summary["words"] = sum(len(normal_words(r["reference"])) for r in rows)
    for kind in ("plain", "transcribe", "daemon"):
        summary[f"wer_{kind}"] = round(error_rate([(r["reference"], r[kind]) for r in rows]), 3)
        summary[f"empty_{kind}"] = sum(not r[kind].strip() for r in rows)
        summary[f"doubled_{kind}"] = sum(
            doubled_run(words_of(r[kind])) is not None and doubled_run(words_of(r["reference"])) is None for r in rows
        )
    summary["median_ratio"] = round(statistics.median(r["ratio"] for r in rows), 3)
    for kind, part in (
        ("short", [r for r in rows if r["audio_s"] <= SHORT_S]),
        ("long", [r for r in rows if r["audio_s"] > SHORT_S]),
    ):
        summary[f"median_ratio_{kind}"] = round(statistics.median(r["ratio"] for r in part), 3) if part else None
        summary[f"files_{kind}"] = len(part)
    summary["median_loki_ms"] = round(statistics.median(r["loki_ms"] for r in rows), 1)
    summary["median_plain_ms"] = round(statistics.median(r["plain_ms"] for r in rows), 1)
    summary["full_window_files"] = sum(r["path"] == "full" for r in rows)
    if as_json:
        print(json.dumps(summary, ensure_ascii=False))
    else:
        apart = ", ".join(
            f"{summary[f'median_ratio_{kind}']}x over {summary[f'files_{kind}']} {which}"
            for kind, which in (("short", f"files of <= {SHORT_S:g} s"), ("long", "longer"))
            if summary[f"files_{kind}"]
        )
        print(
            f"== {summary['set']} ({summary['model']}, {len(rows)} files, {summary['words']} words): WER plain {summary['wer_plain']:.1%}, "
            f"transcribe {summary['wer_transcribe']:.1%}, daemon {summary['wer_daemon']:.1%}; "
            f"empty {summary['empty_plain']}/{summary['empty_transcribe']}/{summary['empty_daemon']}, "
            f"doubled {summary['doubled_plain']}/{summary['doubled_transcribe']}/{summary['doubled_daemon']} "
            f"(plain/transcribe/daemon); speed: median ratio {summary['median_ratio']}x "
            f"({summary['median_loki_ms']} vs {summary['median_plain_ms']} ms; {apart}), "
            f"{summary['full_window_files']} files on the full window\n"
        )
    return summary


def main() -> int:
    """Run the languages asked for and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="timed runs per file and path (median reported)")
    parser.add_argument("--language", choices=("en", "ru", "both"), default="both")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "--festvox",
        type=float,
        metavar="MAX_S",
        default=0.0,
        help="with Russian, also the recordings festvox-ru was made from, up to MAX_S seconds (6 gives 45 files)",
    )
    args = parser.parse_args()
    header = {"cores": os.cpu_count(), "runs": args.runs, "loadavg_before": [round(x, 2) for x in os.getloadavg()]}
    print(json.dumps(header) if args.json else f"real speech benchmark: {header}")
    for language in ("en", "ru") if args.language == "both" else (args.language,):
        bench(language, references(language), args.runs, args.json)
        if language == "ru" and args.festvox:
            bench(language, festvox_references(args.festvox), args.runs, args.json, label="ru festvox-ru")
    after = [round(x, 2) for x in os.getloadavg()]
    print(json.dumps({"loadavg_after": after}) if args.json else f"load average after {after}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
