"""Speaking: time to first audio and barge-in latency, with the default voice on a real audio server.

    .venv/bin/python benchmarks/tts_bench.py [--runs 7] [--system] [--latency-ms 100] [--threads 1]

By default it starts its own PulseAudio with a null sink (as the tests do), so it runs on a machine
without a sound card; `--system` plays on the default device instead.

- ttfa: from `say()` of a two-sentence reply to its first sample handed to the device (the voice
  loaded and the speaker open, as in the daemon). Also for a token stream, from its first token.
- barge-in: from the `interrupt()` call to the last non-silent sample handed to the device
  (written), and to the last loud sample at the null sink's monitor (heard; includes the device
  buffer, LOKI_SPEAKER_LATENCY_MS, and parec's ~20 ms capture latency).

Prints medians (and min/max) over the runs, plus the load average: the machine may be shared.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator

from loki.audio.pulse import MonitorRecorder, private_pulse
from loki.config import settings_from
from loki.tts import SpeechOutput

TWO_SENTENCES = [
    "It is ten past four. Anything else?",
    "Okay, I opened the browser for you. Anything else?",
    "The volume is now at fifty percent. Say louder or quieter to change it.",
    "Done. I closed the window.",
    "Your next meeting starts at three. It is in room twelve.",
]
LONG_REPLY = (
    "Here is the forecast for the whole week, as you asked. Monday will be sunny and warm, "
    "with a light breeze from the south. Tuesday brings clouds in the morning and rain in the evening."
)
MONITOR_RATE_HZ = 16000
LOUD = 0.02


def summary(name: str, values: list[float], target: str = "") -> None:
    """One line: median, min, max."""
    if not values:
        print(f"{name}: no data")
        return
    print(
        f"{name}: median {statistics.median(values):.1f} ms (min {min(values):.1f}, max {max(values):.1f}, "
        f"n={len(values)}){'  target ' + target if target else ''}"
    )


async def tokens(text: str, delay_s: float) -> AsyncIterator[str]:
    for word in text.split(" "):
        yield word + " "
        await asyncio.sleep(delay_s)


async def bench(runs: int, monitor: MonitorRecorder | None, latency_ms: float, threads: int) -> None:
    tmp = tempfile.mkdtemp()
    settings = settings_from(
        {
            "LOKI_REPLY_MODE": "voice",
            "LOKI_STATE_DIR": tmp,
            "LOKI_LLM_BACKEND": "none",
            "LOKI_SPEAKER_LATENCY_MS": str(latency_ms),
            "LOKI_TTS_THREADS": str(threads),
        }
    )
    output = SpeechOutput(settings)
    started = time.perf_counter()
    (voice,) = await output.start(("en",))
    print(f"LOKI_TTS_THREADS={threads}, LOKI_SPEAKER_LATENCY_MS={latency_ms:g}")
    print(
        f"voice {voice}; voice loaded + speaker open in {(time.perf_counter() - started) * 1000:.0f} ms; "
        f"device rate {output.speaker.sample_rate_hz} Hz, device latency {output.output_latency_s * 1000:.0f} ms"
    )

    ttfa: list[float] = []
    for i in range(runs):
        result = await output.say(TWO_SENTENCES[i % len(TWO_SENTENCES)])
        if result.ttfa_ms is not None:
            ttfa.append(result.ttfa_ms)
    summary("ttfa, two-sentence reply (call -> first sample written)", ttfa, "<= 200 ms")

    stream_ttfa: list[float] = []
    for i in range(runs):
        result = await output.say_stream(tokens(TWO_SENTENCES[i % len(TWO_SENTENCES)], 0.02))
        if result.ttfa_ms is not None:
            stream_ttfa.append(result.ttfa_ms)
    summary("ttfa, same replies as a 50-token/s stream (first token -> first sample written)", stream_ttfa)

    written: list[float] = []
    heard: list[float] = []
    returned: list[float] = []
    rng = random.Random(4)
    gaps = 0
    while len(written) < runs and gaps < runs:
        speaking = asyncio.create_task(output.say(LONG_REPLY))
        await asyncio.wait_for(output.playing.wait(), 10)
        await asyncio.sleep(rng.uniform(0.5, 1.5))
        if output.speaker.queue.pending_frames == 0:  # between two segments (synthesis fell behind): nothing to cut
            gaps += 1
            await output.interrupt()
            await speaking
            continue
        cut_at = time.monotonic()
        await output.interrupt()
        returned.append((time.monotonic() - cut_at) * 1000)
        await speaking
        await asyncio.sleep(0.4)
        written.append((output.last_sample_at - cut_at) * 1000)
        if monitor is not None:
            last = monitor.last_loud_arrival(cut_at - 1.0, LOUD)
            if last is not None:
                heard.append((last - cut_at) * 1000)
        await asyncio.sleep(0.2)
    summary("barge-in, interrupt() -> last non-silent sample written to the device", written, "<= 50 ms")
    summary("barge-in, interrupt() returned (fade handed to the device)", returned)
    if monitor is not None:
        summary("barge-in, interrupt() -> last loud sample heard at the monitor (device buffer included)", heard)
    speaker = output.speaker
    print(f"runs that hit a gap between segments (nothing playing, not counted): {gaps}")
    print(f"device underflows during the run: {getattr(speaker, 'underflows', 'n/a')}")
    await output.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7, help="runs per figure (default 7)")
    parser.add_argument("--system", action="store_true", help="play on the default device, not a private null sink")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="LOKI_SPEAKER_LATENCY_MS (default 100)")
    parser.add_argument("--threads", type=int, default=0, help="LOKI_TTS_THREADS (default 0: all cores)")
    args = parser.parse_args()
    with contextlib.ExitStack() as stack:
        monitor = None
        if not args.system:
            if not shutil.which("pulseaudio"):
                sys.exit("needs pulseaudio (or pass --system)")
            stack.enter_context(private_pulse())
            monitor = MonitorRecorder(MONITOR_RATE_HZ)
            stack.callback(monitor.stop)
        print(f"cores {os.cpu_count()}, load average before {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        try:
            asyncio.run(bench(max(5, args.runs), monitor, args.latency_ms, args.threads))
        finally:
            print(f"load average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
