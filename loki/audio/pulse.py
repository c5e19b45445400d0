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
