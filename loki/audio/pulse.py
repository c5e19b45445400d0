"""A private PulseAudio server whose default sink is a null sink (its monitor is the default source).

For tests and benchmarks on machines without sound hardware, and for trying LOKI without speakers:
what LOKI plays can be recorded from `loki_null.monitor`, and what is played into the sink is what
the microphone path hears.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from loki.errors import AudioError

NULL_SINK = "loki_null"
MONITOR = f"{NULL_SINK}.monitor"


@contextmanager
def private_pulse(
    *, rate_hz: int = 16000, set_environ: bool = True, start_timeout_s: float = 10.0
) -> Iterator[dict[str, str]]:
    """Start PulseAudio in a fresh runtime folder; yield the variables that point clients at it.

    With `set_environ` they are also put in os.environ (and restored afterwards). The server is
    killed and its folder removed on exit.
    """
    if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
        raise AudioError(
            "A private audio server needs pulseaudio and pactl: sudo apt-get install pulseaudio pulseaudio-utils"
        )
    runtime = Path(tempfile.mkdtemp(prefix="loki-pulse-"))
    runtime.chmod(0o700)
    env = {"XDG_RUNTIME_DIR": str(runtime), "PULSE_SERVER": f"unix:{runtime}/pulse/native"}
    full_env = {**os.environ, **env}
    saved = {k: os.environ.get(k) for k in env}
    try:
        subprocess.run(
            ["pulseaudio", "-n", "--daemonize=yes", "--exit-idle-time=-1", "--use-pid-file=yes",
             "-L", "module-native-protocol-unix", "-L", f"module-null-sink sink_name={NULL_SINK} rate={rate_hz}",
             "-L", "module-always-sink"],
            env=full_env, check=True, capture_output=True,
        )  # fmt: skip
        deadline = time.monotonic() + start_timeout_s
        while subprocess.run(["pactl", "info"], env=full_env, capture_output=True).returncode != 0:
            if time.monotonic() > deadline:
                raise AudioError(f"PulseAudio did not come up within {start_timeout_s:g} s")
            time.sleep(0.05)
        if set_environ:
            os.environ.update(env)
        yield env
    finally:
        subprocess.run(["pulseaudio", "--kill"], env=full_env, capture_output=True)
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        shutil.rmtree(runtime, ignore_errors=True)


class MonitorRecorder:
    """Records the null sink's monitor with parec from a reader thread, noting when each chunk arrived.

    What LOKI plays into the private server can be checked here: that it was heard, and when it stopped.
    """

    def __init__(self, rate_hz: int = 16000, source: str = MONITOR) -> None:
        import threading

        self.rate_hz = rate_hz
        self._proc = subprocess.Popen(
            [
                "parec",
                "--raw",
                "--format=s16le",
                f"--rate={rate_hz}",
                "--channels=1",
                "--latency-msec=20",
                "-d",
                source,
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        self.chunks: list[tuple[float, bytes]] = []  # (monotonic arrival time, s16le bytes)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._proc.stdout is not None
        while chunk := self._proc.stdout.read1(640):  # type: ignore[attr-defined]  # ~20 ms at 16 kHz: fine arrival times
            self.chunks.append((time.monotonic(), chunk))

    def received_s(self) -> float:
        """Seconds of audio received so far."""
        return sum(len(c) for _, c in self.chunks) / 2 / self.rate_hz

    def wait_flowing(self, timeout_s: float = 10.0) -> None:
        """Until the recording really runs (the server may hold a new stream back for a while)."""
        deadline = time.monotonic() + timeout_s
        while self.received_s() < 0.5:
            if time.monotonic() > deadline:
                raise AudioError("parec delivered no audio from the monitor")
            time.sleep(0.02)

    def last_loud_arrival(self, since: float, loud: float) -> float | None:
        """Arrival time of the last chunk after `since` holding a sample louder than `loud` (0..1)."""
        import numpy as np

        last = None
        for arrived, chunk in list(self.chunks):
            samples = np.frombuffer(chunk[: len(chunk) // 2 * 2], dtype="<i2")
            if arrived >= since and len(samples) and int(np.max(np.abs(samples.astype(np.int32)))) > loud * 32768:
                last = arrived
        return last

    def stop(self) -> Any:
        """Stop recording; everything received, as float32 samples."""
        import numpy as np

        self._proc.terminate()
        self._proc.wait(5)
        self._thread.join(5)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        data = b"".join(c for _, c in self.chunks)
        return np.frombuffer(data[: len(data) // 2 * 2], dtype="<i2").astype(np.float32) / 32768.0
