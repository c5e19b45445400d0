"""The microphone seam: a stream of 30 ms frames at 16 kHz mono, from a real device or a fake.

`SoundDeviceMicrophone` captures through PortAudio at whatever rate the device offers and
resamples; `keep_open()` wraps any microphone so that a device that vanishes or errors is
logged and reopened with back-off while the daemon keeps running.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from loki.audio.devices import Device, find_device, sounddevice
from loki.audio.frames import FRAME_MS, SAMPLE_RATE_HZ, Frame, FrameChunker, StreamResampler, to_mono
from loki.errors import AudioError

log = logging.getLogger(__name__)


class Microphone(Protocol):
    """A source of frames. `frames()` is one open session: it raises AudioError when the device fails."""

    name: str

    def frames(self) -> AsyncGenerator[Frame, None]:
        """Frames until the source ends (a file) or fails (AudioError)."""
        ...


class SoundDeviceMicrophone:
    """A PortAudio input device (by name substring or index), resampled to 16 kHz mono."""

    def __init__(
        self,
        device: str | int | None = None,
        *,
        block_ms: int = FRAME_MS,
        stall_s: float = 2.0,
        max_queue_blocks: int = 200,
    ) -> None:
        self.device_spec = device
        self.block_ms = block_ms
        self.stall_s = stall_s
        self.max_queue_blocks = max_queue_blocks
        self.name = str(device) if device not in (None, "") else "default"
        self.overflows = 0
        self.dropped_blocks = 0
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loki-mic")

    def _open(self, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[tuple[np.ndarray, float]]) -> tuple[Any, int]:
        """Open and start the stream (runs in the mic thread); returns it and its rate."""
        sd = sounddevice()
        try:
            device: Device | None = find_device(self.device_spec, kind="input")
            index = device.index if device else None
            info = sd.query_devices(index, "input")
            self.name = str(info["name"])
            rate_hz, channels = SAMPLE_RATE_HZ, 1
            try:
                sd.check_input_settings(device=index, samplerate=SAMPLE_RATE_HZ, channels=1, dtype="float32")
            except Exception:
                rate_hz = int(info["default_samplerate"])
                channels = 1
                try:
                    sd.check_input_settings(device=index, samplerate=rate_hz, channels=1, dtype="float32")
                except Exception:
                    channels = max(1, int(info["max_input_channels"]))

            def put(block: np.ndarray, at: float) -> None:
                if queue.qsize() >= self.max_queue_blocks:
                    queue.get_nowait()
                    self.dropped_blocks += 1
                queue.put_nowait((block, at))

            def callback(indata: np.ndarray, frames: int, time_info: Any, status: Any) -> None:
                if status and status.input_overflow:
                    self.overflows += 1
                try:
                    loop.call_soon_threadsafe(put, indata.copy(), time.monotonic())
                except RuntimeError:  # the loop closed under us
                    pass

            stream = sd.InputStream(
                device=index,
                samplerate=rate_hz,
                channels=channels,
                dtype="float32",
                blocksize=int(rate_hz * self.block_ms / 1000),
                callback=callback,
            )
            stream.start()
        except AudioError:
            raise
        except Exception as exc:
            raise AudioError(f"Cannot open the microphone {self.name!r}: {exc}", code="mic_open") from exc
        log.info("microphone %r open at %d Hz, %d channel(s)", self.name, rate_hz, channels)
        return stream, rate_hz

    @staticmethod
    def _close(stream: Any) -> None:
        try:
            stream.stop()
        finally:
            stream.close()

    async def frames(self) -> AsyncGenerator[Frame, None]:
        """Capture until the device fails: no audio for `stall_s` or a PortAudio error raises AudioError."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[np.ndarray, float]] = asyncio.Queue()
        stream, rate_hz = await loop.run_in_executor(self._executor, self._open, loop, queue)
        resampler = StreamResampler(rate_hz)
        chunker = FrameChunker()
        try:
            while True:
                try:
                    block, at = await asyncio.wait_for(queue.get(), self.stall_s)
                except TimeoutError:
                    raise AudioError(
                        f"The microphone {self.name!r} stopped delivering audio.", code="mic_stalled"
                    ) from None
                for frame in chunker(resampler(to_mono(block)), at):
                    yield frame
        finally:
            try:
                await loop.run_in_executor(self._executor, self._close, stream)
            except Exception as exc:  # a vanished device may fail to close
                log.debug("closing the microphone failed: %s", exc)

    def close(self) -> None:
        """Release the mic thread."""
        self._executor.shutdown(wait=False, cancel_futures=True)


NO_MIC_HINT = (
    "run `loki doctor` to list the input devices and set LOKI_MIC_DEVICE to one of them, "
    "or type commands with `loki run --text`"
)
"""What a person can do when no microphone opens (said once, with the first failure)."""


async def keep_open(
    mic: Microphone,
    *,
    backoff_s: tuple[float, ...] = (0.5, 1.0, 2.0, 5.0, 10.0),
    on_state: Callable[[str, str], None] | None = None,
    sleep: Callable[[float], Any] = asyncio.sleep,
) -> AsyncGenerator[Frame, None]:
    """Frames from `mic` forever: a failure is logged and the device reopened with back-off.

    An outage is one warning that says what to do (and one line when the device is back); the
    retries in between are logged at debug level only. The audio clock stays continuous across
    reopenings (gaps count as elapsed time). Returns when the microphone ends normally (a file).
    `on_state(state, detail)` hears "open", "lost", "retry".
    """
    attempt = 0
    offset_s = 0.0
    last: Frame | None = None
    while True:
        started = False
        try:
            async with contextlib.aclosing(mic.frames()) as frames:
                async for frame in frames:
                    if not started:
                        started = True
                        if last is not None:
                            offset_s = last.stream_s + max(0.0, frame.captured_at - last.captured_at) - frame.stream_s
                        if on_state:
                            on_state("open", mic.name)
                        if attempt and last is not None:
                            log.info("microphone %r is back", mic.name)
                        attempt = 0
                    last = replace(frame, stream_s=frame.stream_s + offset_s) if offset_s else frame
                    yield last
            return
        except AudioError as exc:
            delay = backoff_s[min(attempt, len(backoff_s) - 1)]
            attempt += 1
            if attempt > 1:
                log.debug("microphone still unavailable: %s (attempt %d, next in %.1f s)", exc, attempt, delay)
            elif last is None:
                log.warning("no microphone: %s. LOKI keeps trying quietly in the background; %s.", exc, NO_MIC_HINT)
            else:
                log.warning(
                    "microphone %r lost: %s. LOKI reopens it quietly when it is back; %s.", mic.name, exc, NO_MIC_HINT
                )
            if on_state:
                on_state("lost", str(exc))
            await sleep(delay)
            if on_state:
                on_state("retry", mic.name)
