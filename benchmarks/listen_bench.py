"""Listening figures: end of speech to tier-0 action, idle CPU, command and wake-word accuracy.

    .venv/bin/python benchmarks/listen_bench.py [--quick] [--clips N] [--seed K] [--language en|ru] [--only PART]
        [--skip-cpu] [--json] [--set LOKI_X=VALUE ...] [--say-wake PHRASE]

- latency: one-breath "hey loki, <command>" clips in varied synthetic voices with light noise,
  played through a fake microphone at real time; from the true end of speech in the clip (the
  last loud sample) to the moment the executor is handed the tier-0 actions (dry-run). The VAD's
  silence wait (LOKI_VAD_SILENCE_MS) is included. Also the daemon's own speech_end_to_action.
- CPU: the daemon listening to ~20 s of silence through the real microphone path (sounddevice
  on a private PulseAudio server with a null sink), psutil process CPU time / wall time.
- accuracy: the same kind of clips (more voices, faster than real time): right tier-0 action?
- wake: "hey loki" alone in varied voices (caught?), and speech without it (commands, the shared
  human keyword recording, other wake words): never a wake.

--language ru: «эй локи, <команда>» in festival's Russian voice at three speeds (espeak-ng's Russian voices
when festival is not installed), with LOKI_LANGUAGE=ru.
--say-wake "hey jarvis" with --set LOKI_WAKE_MODEL=...: the clips say another phrase (an openWakeWord
model's); the shared clip of that phrase leaves the negatives.
Prints medians; reports the load average before and after (the machine is shared).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from loki.audio.fake import ArrayMicrophone
from loki.audio.wav import read_wav
from loki.brain.orchestrator import TurnResult
from loki.config import Settings, settings_from
from loki.events import Event, WakeDetected
from loki.listen import clips

REPO = Path(__file__).resolve().parent.parent
TESTDATA = REPO.parent / "shared" / "testdata"

COMMANDS = [
    "open the browser",
    "open a new tab",
    "close the tab",
    "scroll down",
    "scroll up",
    "volume up",
    "volume down",
    "mute the sound",
    "next track",
    "pause the music",
    "take a screenshot",
    "go back",
    "reload the page",
    "minimize the window",
    "maximize the window",
    "copy that",
    "paste it",
    "undo",
    "open the terminal",
    "what time is it",
    "select all",
    "page down",
    "switch window",
    "save the file",
]
COMMANDS_RU = [
    "открой браузер",
    "новая вкладка",
    "переключи вкладку",
    "закрой вкладку",
    "прокрути вниз",
    "прокрути вверх",
    "сделай громче",
    "сделай тише",
    "выключи звук",
    "следующий трек",
    "пауза",
    "сделай скриншот",
    "назад",
    "обнови страницу",
    "сверни окно",
    "разверни окно",
    "скопируй",
    "вставь",
    "отмени",
    "открой терминал",
    "выдели все",
    "страница вниз",
    "сохрани файл",
    "закрой окно",
]
NOT_FOR_LOKI_RU = [
    "открой браузер",
    "сделай громче",
    "привет, как дела",
    "эй, посмотри сюда",
    "я люблю сериал про локи",
    "окей гугл",
    "алиса, поставь таймер",
    "закрой дверь",
]
NOT_FOR_LOKI = [
    "open the browser",
    "turn the volume up",
    "what time is it",
    "hey there, how are you",
    "hello kitty",
    "hey look at this",
    "I like the Loki series",
    "okay google",
    "hey siri, set a timer",
    "lock it now",
]


@dataclass(frozen=True)
class Language:
    """What one language's clips say, and in which voices."""

    code: str
    wake: str
    commands: list[str]
    not_for_loki: list[str]
    voices: list[clips.Voice]


def _language(code: str) -> Language:
    if code == "ru":
        return Language("ru", "эй локи", COMMANDS_RU, NOT_FOR_LOKI_RU, clips.voices_ru())
    return Language("en", "hey loki", COMMANDS, NOT_FOR_LOKI, clips.voices_en())


def _settings(tmp: Path, **extra: str) -> Settings:
    return settings_from(
        {
            "LOKI_STATE_DIR": str(tmp / "state"),
            "LOKI_USER_PROFILES_DIR": str(tmp / "profiles"),
            "LOKI_LLM_BACKEND": "none",
            "LOKI_DRY_RUN": "1",
            "LOKI_TRACE": "0",
            **extra,
        }
    )


def _median(values: list[float]) -> float:
    return round(statistics.median(values), 1) if values else float("nan")


def _pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 1) if values else float("nan")


def _shape(actions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": "speak"} if a.get("type") == "speak" else a for a in actions]


async def _expected(settings: Settings, lang: Language) -> dict[str, list[dict[str, Any]]]:
    from loki.wiring import build_orchestrator

    orchestrator = build_orchestrator(settings)
    out = {}
    for text in lang.commands:
        result = await orchestrator.handle(text)
        assert result.tier == 0, f"{text!r} is not a tier-0 command"
        out[text] = _shape(result.actions)
    orchestrator.executor.close()
    return out


def _clip(text: str, voice: clips.Voice, seed: int) -> np.ndarray:
    return clips.with_noise(clips.say(text, voice), snr_db=25, seed=seed)


class Session:
    """One daemon over one long fake-microphone stream of clips separated by silence."""

    def __init__(
        self, settings: Settings, transcriber: Any, parts: list[np.ndarray], *, realtime: bool, gap_s: float
    ) -> None:
        self.settings = settings
        self.transcriber = transcriber
        self.gap_s = gap_s
        self.realtime = realtime
        pieces = [clips.silence(0.6)]
        self.spans: list[tuple[int, int]] = []  # (first, last loud sample) of each clip in the stream
        offset = len(pieces[0])
        for part in parts:
            loud = np.flatnonzero(np.abs(part) > 0.02)
            self.spans.append((offset + int(loud[0]), offset + int(loud[-1])))
            pieces += [part, clips.silence(gap_s)]
            offset += len(part) + int(gap_s * 16000)
        self.audio = clips.join(*pieces)
        self.turns: list[tuple[TurnResult, Any, float]] = []
        self.events: list[Event] = []

    async def run(self) -> None:
        from loki.wiring import build_daemon

        holder: dict[str, Any] = {}

        async def gate() -> None:
            await holder["daemon"].wait_idle()

        self.mic = ArrayMicrophone(self.audio, realtime=self.realtime, gate=None if self.realtime else gate, pad_s=1.0)
        daemon = build_daemon(
            self.settings,
            mic=self.mic,
            transcriber=self.transcriber,
            on_event=self.events.append,
            on_turn=lambda result, command: self.turns.append((result, command, time.monotonic())),
        )
        holder["daemon"] = daemon
        await daemon.warm_up()
        await daemon.run()
        self.guesses = dict(daemon.recognizer.guesses) if daemon.recognizer else {}
        daemon.orchestrator.executor.close()

    def clip_of(self, speech_end_s: float) -> int:
        """Index of the clip whose last loud sample is nearest this audio-clock time."""
        sample = speech_end_s * 16000
        return min(range(len(self.spans)), key=lambda i: abs(self.spans[i][1] - sample))


async def latency_and_accuracy(
    settings: Settings, transcriber: Any, lang: Language, *, count: int, realtime: bool, seed0: int
) -> dict[str, Any]:
    expected = await _expected(settings, lang)
    voices = lang.voices
    rng = np.random.default_rng(seed0)
    plan = [(lang.commands[i % len(lang.commands)], voices[int(rng.integers(len(voices)))]) for i in range(count)]
    parts = [_clip(f"{lang.wake}, {text}", voice, seed0 + i) for i, (text, voice) in enumerate(plan)]
    session = Session(settings, transcriber, parts, realtime=realtime, gap_s=2.2 if realtime else 1.2)
    await session.run()
    hits, misses, true_ms, vad_ms, transcript_ms, stt_ms = 0, [], [], [], [], []
    by_engine: dict[str, list[int]] = {}
    by_clip: dict[int, tuple[TurnResult, Any]] = {}
    for result, command, _done in session.turns:
        if command.speech_end_at is None or command.speech_end_s is None:
            continue
        index = session.clip_of(command.speech_end_s)
        by_clip.setdefault(index, (result, command))
    for i, (text, voice) in enumerate(plan):
        got = by_clip.get(i)
        right = got is not None and _shape(got[0].actions) == expected[text]
        by_engine.setdefault(voice.engine, []).append(int(right))
        if right:
            hits += 1
        else:
            misses.append(f"{voice}: {text!r} -> {got[0].text if got else None!r} {got[0].actions if got else ''}")
        if realtime and got is not None and "speech_end_to_action" in got[0].timings_ms:
            result, command = got
            true_end = session.mic.delivered_at(session.spans[i][1])
            vad_ms.append(result.timings_ms["speech_end_to_action"])
            dispatched = command.speech_end_at + result.timings_ms["speech_end_to_action"] / 1000
            true_ms.append((dispatched - true_end) * 1000)
            transcript_ms.append(result.timings_ms["speech_end_to_transcript"])
            stt_ms.append(result.timings_ms.get("stt", float("nan")))
    return {
        "count": count,
        "hits": hits,
        "accuracy": round(hits / count, 3),
        "misses": misses,
        "true_end_to_action_ms": true_ms,
        "vad_end_to_action_ms": vad_ms,
        "end_to_transcript_ms": transcript_ms,
        "stt_ms": stt_ms,
        "early_guesses": session.guesses,
        "by_engine": {k: f"{sum(v)}/{len(v)}" for k, v in by_engine.items()},
    }


async def wake(settings: Settings, transcriber: Any, lang: Language, *, count: int, seed0: int) -> dict[str, Any]:
    voices = lang.voices
    rng = np.random.default_rng(seed0)
    chosen = [voices[int(rng.integers(len(voices)))] for _ in range(count)]
    positives = Session(
        settings,
        transcriber,
        [_clip(lang.wake, v, seed0 + i) for i, v in enumerate(chosen)],
        realtime=False,
        gap_s=1.2,
    )
    await positives.run()
    caught = sum(isinstance(e, WakeDetected) for e in positives.events)
    negatives_parts = [
        _clip(text, voices[(i * 5) % len(voices)], seed0 + 100 + i)
        for i, text in enumerate(lang.not_for_loki + lang.commands)
    ]
    own = f"wake_{lang.wake.lower().replace(' ', '_')}.wav"
    negatives_parts += [
        read_wav(TESTDATA / name)
        for name in ("wake_alexa.wav", "wake_computer.wav", "wake_hey_jarvis.wav", "wake_okay_nabu.wav")
        if name != own
    ]
    negatives_parts.append(read_wav(TESTDATA / "human_keywords_en.wav"))
    negatives = Session(settings, transcriber, negatives_parts, realtime=False, gap_s=1.2)
    await negatives.run()
    false_wakes = [e for e in negatives.events if isinstance(e, WakeDetected)]
    negative_s = sum(len(p) for p in negatives_parts) / 16000
    return {
        "positives": count,
        "caught": caught,
        "catch_rate": round(min(caught, count) / count, 3),
        "negative_clips": len(negatives_parts),
        "negative_speech_s": round(negative_s, 1),
        "false_wakes": len(false_wakes),
        "false_wake_phrases": [e.phrase for e in false_wakes],
        "false_turns": len(negatives.turns),
    }


def idle_cpu(seconds: float, extra: dict[str, str]) -> dict[str, Any]:
    """Run the daemon on the real mic path (PulseAudio null-sink monitor, silence) in a child process."""
    if shutil.which("pulseaudio") is None:
        return {"skipped": "pulseaudio is not installed"}
    from loki.audio.pulse import private_pulse

    with private_pulse(set_environ=False) as pulse_env:
        child = subprocess.run(
            [sys.executable, __file__, "--cpu-child", str(seconds), *[f"--set={k}={v}" for k, v in extra.items()]],
            env={**os.environ, **pulse_env},
            capture_output=True,
            text=True,
            timeout=seconds + 120,
        )
    if child.returncode != 0:
        return {"error": child.stderr[-2000:]}
    return json.loads(child.stdout.strip().splitlines()[-1])


async def _cpu_child(seconds: float, extra: dict[str, str]) -> dict[str, Any]:
    import psutil

    from loki.audio.mic import SoundDeviceMicrophone
    from loki.wiring import build_daemon

    with tempfile.TemporaryDirectory() as tmp:
        settings = _settings(Path(tmp), **extra)
        daemon = build_daemon(settings, mic=SoundDeviceMicrophone(None))
        await daemon.warm_up()  # the model is loaded and warm, as in a running daemon
        runner = asyncio.create_task(daemon.run())
        await asyncio.sleep(3.0)  # let the stream settle
        me = psutil.Process()
        pulse = next((p for p in psutil.process_iter(["name"]) if p.info["name"] == "pulseaudio"), None)
        before, wall0 = me.cpu_times(), time.monotonic()
        pulse_before = pulse.cpu_times() if pulse else None
        await asyncio.sleep(seconds)
        after, wall = me.cpu_times(), time.monotonic() - wall0
        pulse_after = pulse.cpu_times() if pulse else None
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        frames = daemon.listener.now_s if daemon.listener else 0.0
    used = (after.user - before.user) + (after.system - before.system)
    out = {
        "seconds": round(wall, 1),
        "cpu_pct_of_one_core": round(100 * used / wall, 2),
        "audio_clock_s": round(frames, 1),
    }
    if pulse_before and pulse_after:
        pulse_used = (pulse_after.user - pulse_before.user) + (pulse_after.system - pulse_before.system)
        out["pulseaudio_server_pct"] = round(100 * pulse_used / wall, 2)
    return out


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer clips")
    parser.add_argument("--skip-cpu", action="store_true")
    parser.add_argument("--only", choices=("latency", "accuracy", "wake", "cpu"))
    parser.add_argument("--json", action="store_true")
    parser.add_argument(
        "--clips", type=int, help="clips per measurement (default 30, 12 with --quick; accuracy: twice)"
    )
    parser.add_argument("--language", choices=("en", "ru"), default="en", help="the clips' language (LOKI_LANGUAGE)")
    parser.add_argument("--say-wake", metavar="PHRASE", help="the wake phrase the clips say (default: hey loki)")
    parser.add_argument("--seed", type=int, default=0, help="another seed draws other voices and noise")
    parser.add_argument(
        "--set", action="append", default=[], metavar="LOKI_X=VALUE", help="a setting, e.g. LOKI_STT_MODEL=base"
    )
    parser.add_argument("--cpu-child", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    if args.cpu_child:
        print(json.dumps(asyncio.run(_cpu_child(args.cpu_child, dict(item.split("=", 1) for item in args.set)))))
        return
    report: dict[str, Any] = {"load_before": _load()}
    with tempfile.TemporaryDirectory() as tmp:
        lang = _language(args.language)
        if args.say_wake:
            lang = replace(lang, wake=args.say_wake)
        extra = {"LOKI_LANGUAGE": lang.code, **dict(item.split("=", 1) for item in args.set)}
        settings = _settings(Path(tmp), **extra)
        report["settings"] = [f"{k}={v}" for k, v in extra.items()]
        from loki.listen.wake import build_wake
        from loki.wiring import load_all_profiles, load_transcriber, stt_vocabulary

        transcriber = load_transcriber(
            settings, stt_vocabulary(settings, load_all_profiles(settings), build_wake(settings))
        )
        n = args.clips or (12 if args.quick else 30)
        if args.only in (None, "latency"):
            lat = asyncio.run(
                latency_and_accuracy(settings, transcriber, lang, count=n, realtime=True, seed0=args.seed + 1)
            )
            report["latency"] = {
                "clips": n,
                "turns_measured": len(lat["true_end_to_action_ms"]),
                "true_speech_end_to_action_ms_p50": _median(lat["true_end_to_action_ms"]),
                "true_speech_end_to_action_ms_p90": _pct(lat["true_end_to_action_ms"], 90),
                "vad_speech_end_to_action_ms_p50": _median(lat["vad_end_to_action_ms"]),
                "speech_end_to_transcript_ms_p50": _median(lat["end_to_transcript_ms"]),
                "vad_silence_ms": settings.vad_silence_ms,
                "stt_ms_p50": _median(lat["stt_ms"]),
                "early_guesses": lat["early_guesses"],
                "accuracy_realtime": lat["accuracy"],
                "by_engine": lat["by_engine"],
                "misses": lat["misses"],
            }
            _show(report, args.json)
        if args.only in (None, "accuracy"):
            acc = asyncio.run(
                latency_and_accuracy(settings, transcriber, lang, count=2 * n, realtime=False, seed0=args.seed + 101)
            )
            report["accuracy"] = {
                "clips": acc["count"],
                "right_action": acc["hits"],
                "rate": acc["accuracy"],
                "by_engine": acc["by_engine"],
                "misses": acc["misses"],
            }
            _show(report, args.json)
        if args.only in (None, "wake"):
            report["wake"] = asyncio.run(wake(settings, transcriber, lang, count=n, seed0=args.seed + 201))
            _show(report, args.json)
    if not args.skip_cpu and args.only in (None, "cpu"):
        report["idle_cpu"] = idle_cpu(20.0, extra)
    report["load_after"] = _load()
    _show(report, args.json, final=True)


def _show(report: dict[str, Any], as_json: bool, final: bool = False) -> None:
    if as_json:
        if final:
            print(json.dumps(report, ensure_ascii=False))
        return
    print(json.dumps(report, indent=2, ensure_ascii=False), flush=True) if final else print(
        "...", ", ".join(k for k in report), file=sys.stderr, flush=True
    )


if __name__ == "__main__":
    main()
