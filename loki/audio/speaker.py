"""The speaker seam: a queue of audio drained by the device callback in small blocks.

`PlaybackQueue` holds what is waiting to be played and is filled into the device one block at a
time (about 12 ms), so barge-in can fade out and drop everything within one block. `Speaker`
plays the queue through sounddevice/PortAudio; `RecordingSpeaker` is the fake for tests: it drains
the same queue at the same pace from a thread and keeps what it "played".

numpy and sounddevice are imported lazily: importing this module costs nothing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from loki.audio.devices import find_device, sounddevice
from loki.errors import AudioError

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

BLOCK_MS = 11.6
"""Milliseconds of audio per device callback (256 frames at 22.05 kHz)."""
FADE_MS = 10.0
"""Milliseconds of the fade-out applied on barge-in."""
START_SETTLE_S = 0.1
"""Seconds of audio past its buffer the device must take before the speaker counts as started."""
START_TIMEOUT_S = 3.0
"""Seconds to wait for a newly opened device to start taking audio."""
SILENCE_LEVEL = 1e-4
"""Absolute sample value below which a sample counts as silent (-80 dBFS)."""

# (kind, tag, monotonic time): kinds are "segment_started", "segment_done", "drained", "faded".
QueueListener = Callable[[str, Any, float], None]


@dataclass
class _Segment:
    samples: np.ndarray  # float32 mono at the queue's rate
    tag: Any
    offset: int = 0


class PlaybackQueue:
    """Audio waiting for the device; `fill()` runs on the audio thread, the rest on any thread."""

    def __init__(self, sample_rate_hz: int = 22050, fade_ms: float = FADE_MS) -> None:
        self._lock = threading.Lock()
        self._segments: deque[_Segment] = deque()
        self._fading: deque[_Segment] = deque()  # cut by barge-in: faded out, then dropped
        self._fade_left_frames = 0
        self._fade_total_frames = 1
        self._was_busy = False
        self.sample_rate_hz = sample_rate_hz
        self.fade_ms = fade_ms
        self.listener: QueueListener | None = None
        self.frames_written: dict[Any, int] = {}
        """Frames of each tagged segment handed to the device so far (kept until `forget`)."""
        self.last_sound_at = 0.0
        """Monotonic time of the last block with a non-silent sample handed to the device."""
        self.frames_filled = 0
        """Frames handed to the device since the queue was made, silence included."""

    # Producer side ----------------------------------------------------------------------
    def push(self, samples: np.ndarray, tag: Any = None) -> None:
        """Queue mono float32 samples at `sample_rate_hz`, played after everything already queued."""
        if len(samples) == 0:
            return
        with self._lock:
            self._segments.append(_Segment(samples, tag))
            self.frames_written.setdefault(tag, 0)

    def fade_out(self) -> bool:
        """Barge-in: fade what is queued now over `fade_ms` from the next block, then drop it.

        Audio pushed after this call is not affected. Returns True when there was audio to cut.
        """
        with self._lock:
            if not self._segments:
                return False
            if not self._fading:
                frames = max(1, round(self.sample_rate_hz * self.fade_ms / 1000))
                self._fade_left_frames = self._fade_total_frames = frames
            self._fading.extend(self._segments)
            self._segments.clear()
            return True

    def clear(self) -> None:
        """Drop everything queued at once, without a fade (for a closed device)."""
        with self._lock:
            self._segments.clear()
            self._fading.clear()

    def forget(self, tags: set[Any]) -> None:
        """Stop keeping the written-frame counts of these tags."""
        with self._lock:
            for tag in tags:
                self.frames_written.pop(tag, None)

    @property
    def pending_frames(self) -> int:
        """Frames still queued (being faded out included)."""
        with self._lock:
            return sum(len(s.samples) - s.offset for s in (*self._fading, *self._segments))

    def pending_tags(self) -> set[Any]:
        """Tags of the segments still queued."""
        with self._lock:
            return {s.tag for s in (*self._fading, *self._segments)}

    # Device side ------------------------------------------------------------------------
    def _take(
        self, source: deque[_Segment], mono: np.ndarray, start: int, limit: int, events: list[tuple[str, Any]]
    ) -> int:
        """Copy from `source` into mono[start:limit]; returns the new write position."""
        pos = start
        while pos < limit and source:
            seg = source[0]
            if seg.offset == 0:
                events.append(("segment_started", seg.tag))
            take = min(limit - pos, len(seg.samples) - seg.offset)
            mono[pos : pos + take] = seg.samples[seg.offset : seg.offset + take]
            seg.offset += take
            pos += take
            self.frames_written[seg.tag] = self.frames_written.get(seg.tag, 0) + take
            if seg.offset >= len(seg.samples):
                source.popleft()
                events.append(("segment_done", seg.tag))
        return pos

    def fill(self, out: np.ndarray) -> None:
        """Fill one device block, (frames, channels) or (frames,), with queued audio and silence after."""
        import numpy as np

        frames = out.shape[0]
        mono = out[:, 0] if out.ndim == 2 else out
        events: list[tuple[str, Any]] = []
        with self._lock:
            pos = 0
            if self._fading:
                pos = self._take(self._fading, mono, 0, min(frames, self._fade_left_frames), events)
                left = self._fade_left_frames
                gain = (left - np.arange(pos, dtype=np.float32)) / self._fade_total_frames
                mono[:pos] *= np.clip(gain, 0.0, 1.0)
                self._fade_left_frames = left - pos
                if self._fade_left_frames <= 0 or not self._fading:
                    self._fading.clear()
                    events.append(("faded", None))
            pos = self._take(self._segments, mono, pos, frames, events)
            mono[pos:] = 0.0
            self.frames_filled += frames
            busy = bool(self._segments or self._fading)
            drained, self._was_busy = self._was_busy and not busy, busy
        if out.ndim == 2 and out.shape[1] > 1:
            out[:, 1:] = mono[:, None]
        now = time.monotonic()
        if pos and float(np.max(np.abs(mono[:pos]))) > SILENCE_LEVEL:
            self.last_sound_at = now
        if drained:
            events.append(("drained", None))
        listener = self.listener
        if listener is not None:
            for kind, tag in events:
                listener(kind, tag, now)


class AudioSink(Protocol):
    """What speech output needs from a speaker: a queue, its rate, and start/stop."""

    queue: PlaybackQueue
    sample_rate_hz: int
    output_latency_s: float

    @property
    def running(self) -> bool:
        """True while the device drains the queue."""
        ...

    def start(self, preferred_rate_hz: int) -> None:
        """Open (if needed) and start the device; blocking, idempotent."""
        ...

    def stop(self) -> None:
        """Stop draining (the device may sleep); blocking, idempotent."""
        ...

    def close(self) -> None:
        """Release the device."""
        ...


def resample(samples: np.ndarray, from_rate_hz: int, to_rate_hz: int) -> np.ndarray:
    """Resample one whole chunk (band-limited, via the FFT); chunks are sentences with quiet edges."""
    import numpy as np

    if from_rate_hz == to_rate_hz or len(samples) == 0:
        return samples
    n_in = len(samples)
    n_out = max(1, round(n_in * to_rate_hz / from_rate_hz))
    spectrum = np.fft.rfft(samples)
    bins_out = n_out // 2 + 1
    if bins_out <= len(spectrum):
        spectrum = spectrum[:bins_out]
    else:
        spectrum = np.concatenate([spectrum, np.zeros(bins_out - len(spectrum), dtype=spectrum.dtype)])
    out = np.fft.irfft(spectrum, n_out) * (n_out / n_in)
    return out.astype(np.float32)


class Speaker:
    """A sounddevice output stream whose callback drains a `PlaybackQueue` in small blocks."""

    def __init__(self, device: str = "", *, latency_ms: float = 100.0, block_ms: float = BLOCK_MS) -> None:
        self.device_spec = device
        self.latency_ms = latency_ms
        self.block_ms = block_ms
        self.queue = PlaybackQueue()
        self.sample_rate_hz = 0
        self.channels = 1
        self.output_latency_s = latency_ms / 1000
        self.device_name = ""
        self._stream: Any = None
        self._callback_errors = 0
        self.underflows = 0

    @property
    def running(self) -> bool:
        """True while the stream is started and healthy."""
        stream = self._stream
        return bool(stream is not None and stream.active)

    def start(self, preferred_rate_hz: int) -> None:
        """Open the device (at the voice's rate when it accepts it) and start it; blocking."""
        if self._stream is not None and self._stream.active:
            return
        if self._stream is not None:
            try:
                self._stream.start()
                return
            except Exception as exc:  # a device that went away: open it again
                log.warning("speaker: restart failed (%s); reopening", exc)
                self.close()
        self._open(preferred_rate_hz)

    def _open(self, preferred_rate_hz: int) -> None:
        sd = sounddevice()
        index, info = self._device(sd)
        self.device_name = str(info["name"])
        rate, channels = self._settings_for(sd, index, preferred_rate_hz, info)
        self.queue.sample_rate_hz = rate
        block_frames = max(32, round(rate * self.block_ms / 1000))
        try:
            stream = sd.OutputStream(
                device=index,
                samplerate=rate,
                channels=channels,
                dtype="float32",
                blocksize=block_frames,
                latency=self.latency_ms / 1000,
                callback=self._callback,
            )
            stream.start()
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioError(
                f"Cannot open the speaker {self.device_name!r} ({exc}). Check that it is connected and not held "
                "by another program, or pick another with LOKI_SPEAKER_DEVICE ('loki doctor' lists them).",
                code="speaker_open",
            ) from exc
        self._stream = stream
        self.sample_rate_hz, self.channels = rate, channels
        self.output_latency_s = float(stream.latency)
        self._wait_until_flowing(rate)
        log.info(
            "speaker: %r at %d Hz, %d ch, %d-frame blocks, %.0f ms device latency",
            self.device_name,
            rate,
            channels,
            block_frames,
            self.output_latency_s * 1000,
        )

    def _device(self, sd: Any) -> tuple[int, Any]:
        """Index and PortAudio info of the device LOKI_SPEAKER_DEVICE names (or the default output)."""
        try:
            device = find_device(self.device_spec or None, kind="output")
            index = device.index if device is not None else int(sd.query_devices(kind="output")["index"])
            return index, sd.query_devices(index)
        except AudioError as exc:
            raise AudioError(f"LOKI_SPEAKER_DEVICE={self.device_spec!r}: {exc}", code=exc.code) from exc
        except (sd.PortAudioError, ValueError) as exc:
            raise AudioError(
                f"No speaker found ({exc}). Connect one, or set LOKI_SPEAKER_DEVICE ('loki doctor' lists devices).",
                code="no_device",
            ) from exc

    def _wait_until_flowing(self, rate_hz: int) -> None:
        """Block until the device really takes audio at its pace.

        Some servers (PulseAudio through ALSA) take the first buffer at once and then stall for up
        to ~2 s before playing; audio queued in that time would start late.
        """
        target = self.queue.frames_filled + int(rate_hz * (self.output_latency_s + START_SETTLE_S))
        deadline = time.monotonic() + START_TIMEOUT_S
        started = time.monotonic()
        while self.queue.frames_filled < target:
            if time.monotonic() > deadline:
                log.warning("speaker: %r is slow to start playing; continuing", self.device_name)
                return
            time.sleep(0.005)
        log.debug("speaker: flowing after %.0f ms", (time.monotonic() - started) * 1000)

    def _settings_for(self, sd: Any, index: int, rate: int, info: Any) -> tuple[int, int]:
        max_channels = int(info["max_output_channels"])
        rates = [rate, int(info["default_samplerate"]), 48000, 44100]
        for try_rate in dict.fromkeys(rates):
            for channels in dict.fromkeys((1, min(2, max_channels))):
                try:
                    sd.check_output_settings(device=index, samplerate=try_rate, channels=channels, dtype="float32")
                except (sd.PortAudioError, ValueError):
                    continue
                if try_rate != rate:
                    log.info("speaker: %r will not play %d Hz; resampling to %d Hz", self.device_name, rate, try_rate)
                return try_rate, channels
        raise AudioError(
            f"The speaker {self.device_name!r} accepts none of {sorted(set(rates))} Hz in mono or stereo. "
            "Pick another with LOKI_SPEAKER_DEVICE ('loki doctor' lists them).",
            code="speaker_format",
        )

    def _callback(self, outdata: Any, frames: int, time_info: Any, status: Any) -> None:
        try:
            if status.output_underflow:
                self.underflows += 1
            self.queue.fill(outdata)
        except Exception:  # never let an exception kill the audio thread
            outdata.fill(0)
            self._callback_errors += 1
            if self._callback_errors == 1:
                log.exception("speaker callback failed; playing silence")

    def stop(self) -> None:
        """Stop the stream after what the device holds has played; the queue is kept."""
        stream = self._stream
        if stream is not None and stream.active:
            try:
                stream.stop()
            except Exception as exc:
                log.warning("speaker: stop failed (%s); closing", exc)
                self.close()

    def close(self) -> None:
        """Close the stream and drop whatever is queued."""
        stream, self._stream = self._stream, None
        self.queue.clear()
        if stream is not None:
            try:
                stream.abort()
                stream.close()
            except Exception as exc:
                log.debug("speaker: close failed: %s", exc)


class RecordingSpeaker:
    """A fake speaker: drains the queue in device-sized blocks from a thread and keeps what it played.

    `speed` 1.0 plays in real time; 4.0 drains four times faster (tests that need no real pacing).
    """

    def __init__(self, sample_rate_hz: int = 22050, *, block_ms: float = BLOCK_MS, speed: float = 1.0) -> None:
        self.queue = PlaybackQueue(sample_rate_hz)
        self.sample_rate_hz = sample_rate_hz
        self.output_latency_s = 0.0
        self.block_frames = max(32, round(sample_rate_hz * block_ms / 1000))
        self.speed = speed
        self.blocks: list[tuple[float, np.ndarray]] = []
        """(monotonic time, samples) of every block it played, silence included."""
        self.starts = 0
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    @property
    def running(self) -> bool:
        """True while the draining thread runs."""
        return self._thread is not None and self._thread.is_alive()

    def start(self, preferred_rate_hz: int) -> None:
        """Start draining (the rate stays the one given at construction, as a real device's would)."""
        if self.running:
            return
        self.starts += 1
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="loki-fake-speaker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import numpy as np

        period_s = self.block_frames / self.sample_rate_hz / self.speed
        next_at = time.monotonic()
        while not self._stop.is_set():
            block = np.zeros(self.block_frames, dtype=np.float32)
            self.queue.fill(block)
            self.blocks.append((time.monotonic(), block))
            next_at += period_s
            self._stop.wait(max(0.0, next_at - time.monotonic()))

    def recorded(self) -> np.ndarray:
        """Everything played so far, silence included."""
        import numpy as np

        blocks = list(self.blocks)
        return np.concatenate([b for _, b in blocks]) if blocks else np.zeros(0, dtype=np.float32)

    def stop(self) -> None:
        """Stop draining."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2.0)
            self._thread = None

    def close(self) -> None:
        """Stop and drop whatever is queued."""
        self.stop()
        self.queue.clear()
