"""LOKI's voice: replies synthesized sentence by sentence and played as soon as the first is ready.

`SpeechOutput` is the `reply=` object the orchestrator calls. It also tells the microphone side
when LOKI's own voice may be reaching the microphone (`playing`, `last_sample_at`, `audible()`)
and keeps the one record of what LOKI said (`record`, a `SaidRecord`) that tells its own voice from the user's.

Threads: Piper/espeak-ng run in one "loki-tts" thread, PortAudio open/start/close in one
"loki-speaker" thread; the device callback drains a `PlaybackQueue` on PortAudio's own thread and
reports back to the event loop with `call_soon_threadsafe`.

The output stream stays open (writing silence, about 1% of a core) from first use to `close()`:
PulseAudio through ALSA holds a newly started stream back for up to ~2 s, which would delay
every reply's first word.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loki.audio.speaker import AudioSink, Speaker, resample
from loki.config import Settings, TtsSettings
from loki.errors import AudioError, LokiError, ModelError, TtsError
from loki.events import Event, SpeechFinished
from loki.tts.earcons import EARCONS, earcon_samples
from loki.tts.said import Said, SaidRecord
from loki.tts.text import (
    Segment,
    SentenceSplitter,
    clean_for_speech,
    script_language,
    shorten_for_speech,
    spoken_prefix,
    tee,
    words,
)
from loki.tts.voices import EspeakSynthesizer, PiperSynthesizer, Synthesizer, locate_voice

if TYPE_CHECKING:
    import numpy as np

log = logging.getLogger(__name__)

VOICE_RATE_HZ = 22050
"""Rate the speaker is opened at before any voice is loaded (Piper medium voices)."""
LEAD_SILENCE_MS = 15.0
"""Silence kept before the first word of a reply (Piper pads about 45 ms)."""
CLAUSE_PAUSE_MS = 120.0
"""Silence kept after a clause cut mid-sentence (Piper pads about 200-250 ms)."""
STALL_GRACE_S = 2.0
"""Seconds past the queued audio's length after which a silent device counts as stalled."""
INTERRUPT_WAIT_S = 1.0
"""Seconds `interrupt()` waits for the cut reply to wind up."""
FADE_WAIT_S = 0.5
"""Seconds `interrupt()` waits for the fade-out to reach the device."""
TASK_CANCEL_S = 2.0
"""Seconds to wait for a cancelled task before logging it as stuck."""
_WARM_UP = {"en": "Hello.", "ru": "Привет."}


@dataclass
class SpeechResult:
    """What one reply did: the text meant for speech, what was actually played, and timings."""

    text: str
    spoken: str
    interrupted: bool = False
    ttfa_ms: float | None = None
    """Milliseconds from the call to the first sample handed to the device."""
    audio_s: float = 0.0
    """Seconds of speech synthesized."""
    language: str = "en"
    truncated: bool = False
    """True when the reply was longer than LOKI_MAX_SPOKEN_CHARS and only its start was spoken."""
    full_text: str = ""
    """The whole reply as it arrived (streamed replies), before shortening."""


@dataclass
class _Utterance:
    id: int
    language: str
    called_at: float
    segments: list[str] = field(default_factory=list)
    frames: list[int] = field(default_factory=list)
    first_sample_at: float | None = None
    audio_s: float = 0.0
    truncated: bool = False
    full_text: list[str] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    progress: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class SpeechOutput:
    """LOKI's voice: `await output(text, lang)`, `await output.stream(pieces, lang)`, `await output.interrupt()`.

    Args:
        settings: the voice's settings (a whole `Settings` is taken apart here).
        speaker: the device seam; default a sounddevice `Speaker` for settings.speaker_device.
        show_text: shows a reply as text (reply modes text/both); default prints it to stdout.
        on_event: receives a `SpeechFinished` after every reply (on the event loop).
        voices: already loaded synthesizers by language ("en", "ru"), to share them.
    """

    def __init__(
        self,
        settings: TtsSettings | Settings,
        *,
        speaker: AudioSink | None = None,
        show_text: Callable[[str], None] | None = None,
        on_event: Callable[[Event], None] | None = None,
        voices: Mapping[str, Synthesizer] | None = None,
    ) -> None:
        self.settings = TtsSettings.of(settings)
        self.speaker: AudioSink = speaker or Speaker(
            self.settings.speaker_device, latency_ms=self.settings.speaker_latency_ms
        )
        self.show_text = show_text or _print_reply
        self.on_event = on_event
        self.playing = asyncio.Event()
        """Set from the first sample written until the last one has left the device (earcons too)."""
        self.last_result: SpeechResult | None = None
        self.last_error: LokiError | None = None
        self.interrupted_at = 0.0
        """Monotonic time of the last `interrupt()` that cut a reply or sound."""
        self._tts_pool = ThreadPoolExecutor(1, thread_name_prefix="loki-tts")
        self._device_pool = ThreadPoolExecutor(1, thread_name_prefix="loki-speaker")
        self._voices: dict[str, Synthesizer] = dict(voices or {})
        self._turn_lock = asyncio.Lock()
        self._epoch = 0
        self._ids = itertools.count(1)
        self._current: _Utterance | None = None
        self.record = SaidRecord()
        """What LOKI said lately: replies as asked for, sentences as played (the echo filter reads it)."""
        self._said_by_tag: dict[Any, Said] = {}
        self._tag_waiters: dict[Any, asyncio.Event] = {}
        self._fade_done = asyncio.Event()
        self._fade_done.set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._playing_off: asyncio.TimerHandle | None = None
        self._closed = False

    # The microphone side ------------------------------------------------------------------
    @property
    def speaking(self) -> bool:
        """True from a reply's call until its audio has played (or it was interrupted)."""
        return self._current is not None

    @property
    def last_sample_at(self) -> float:
        """Monotonic time the last non-silent sample was handed to the device (0.0: never)."""
        return self.speaker.queue.last_sound_at

    @property
    def output_latency_s(self) -> float:
        """Seconds between handing a sample to the device and it being heard."""
        return self.speaker.output_latency_s

    def audible(self, now: float | None = None, tail_s: float = 0.0) -> bool:
        """True while LOKI's own sound may be reaching the microphone (playing, or within latency + tail)."""
        now = time.monotonic() if now is None else now
        return self.playing.is_set() or now < self.last_sample_at + self.output_latency_s + tail_s

    # Replies ------------------------------------------------------------------------------
    async def __call__(self, text: str, language: str = "en") -> None:
        """Reply to the user (reply modes voice/text/both); speech failures are logged, never raised."""
        mode = self.settings.reply_mode
        self.record.add(text)
        if mode in ("text", "both"):
            self.show_text(text)
        if mode == "text":
            return
        try:
            await self.say(text, language)
        except LokiError as exc:
            self._speech_failed(exc, text if mode == "voice" else "")

    async def stream(self, pieces: AsyncIterator[str], language: str = "en") -> None:
        """Reply from text arriving in pieces (an LLM token stream), speaking each sentence when complete.

        Errors of the stream itself propagate; speech failures are logged and the text is shown.
        """
        mode = self.settings.reply_mode
        got: list[str] = []

        def keep(piece: str) -> None:
            got.append(piece)
            self.record.add(piece)

        if mode == "text":
            self.show_text("".join([piece async for piece in tee(pieces, keep)]))
            return
        try:
            result = await self.say_stream(tee(pieces, keep), language)
        except (AudioError, TtsError, ModelError) as exc:
            rest = "".join([piece async for piece in pieces])  # keep the reply whole for the caller
            self._speech_failed(exc, "".join(got) + rest)
            return
        if mode == "both" and result.full_text:
            self.show_text(result.full_text)

    async def say(self, text: str, language: str = "en") -> SpeechResult:
        """Speak `text` (shortened to LOKI_MAX_SPOKEN_CHARS); returns what was actually spoken. Raises on failure."""
        return await self._speak(_one(text), language)

    async def say_stream(self, pieces: AsyncIterable[str], language: str = "en") -> SpeechResult:
        """Speak text arriving in pieces; returns what was actually spoken. Raises on failure."""
        return await self._speak(pieces, language)

    async def interrupt(self) -> SpeechResult | None:
        """Barge-in: fade out within one device block, drop queued audio and pending replies.

        Returns the cut reply's result (`spoken` is what was played), or None if nothing was speaking.
        """
        now = time.monotonic()
        self._epoch += 1  # replies waiting for their turn are dropped
        utt = self._current
        if self.speaker.queue.fade_out():
            self._fade_done.clear()
            self.interrupted_at = now
        elif utt is not None:
            self.interrupted_at = now
        if utt is None:
            await self._wait_faded()
            return None
        utt.stop.set()
        for synth in self._voices.values():
            synth.cancel()  # the segment being synthesized now would only be dropped
        try:
            await asyncio.wait_for(utt.finished.wait(), INTERRUPT_WAIT_S)
        except TimeoutError:
            log.warning("speech: the interrupted reply did not wind up within %.1f s", INTERRUPT_WAIT_S)
        return self.last_result

    async def earcon(self, name: str, *, wait: bool = False) -> None:
        """Play the listening / done / error sound (nothing when LOKI_EARCONS=0); returns once queued."""
        if name not in EARCONS:
            raise ValueError(f"unknown earcon {name!r}; known: {', '.join(EARCONS)}")
        if not self.settings.earcons:
            return
        try:
            await self._ensure_started()
        except AudioError as exc:
            self._speech_failed(exc, "")
            return
        tag = ("earcon", next(self._ids))
        samples = earcon_samples(name, self.speaker.sample_rate_hz)
        done = asyncio.Event()
        self._tag_waiters[tag] = done
        self.speaker.queue.push(samples, tag)
        try:
            if wait:
                budget_s = len(samples) / self.speaker.sample_rate_hz + STALL_GRACE_S
                try:
                    await asyncio.wait_for(done.wait(), budget_s)
                except TimeoutError:
                    log.warning("speech: the %s earcon did not play within %.1f s", name, budget_s)
        finally:
            self._tag_waiters.pop(tag, None)
            self.speaker.queue.forget({tag})

    # Lifecycle ----------------------------------------------------------------------------
    async def load(self, languages: tuple[str, ...] | None = None) -> list[str]:
        """Load and warm up the voices (default: those LOKI_LANGUAGE needs); returns their names."""
        loop = asyncio.get_running_loop()
        if languages is None:
            languages = ("en", "ru") if self.settings.language == "auto" else (self.settings.language,)
        names = []
        for language in languages:
            synth = await self._voice(language)
            await loop.run_in_executor(self._tts_pool, synth.synthesize, _WARM_UP.get(language, "Hello."))
            names.append(synth.name)
        return names

    async def start(self, languages: tuple[str, ...] | None = None) -> list[str]:
        """Load the voices and open the speaker now, so the first reply is slowed by neither; returns voice names."""
        device = asyncio.create_task(self._ensure_started(), name="speech-device")
        try:
            names = await self.load(languages)
        finally:
            await asyncio.wait({device})
        device.result()
        return names

    async def synthesize(self, text: str, language: str = "en") -> AsyncIterator[tuple[str, np.ndarray, int]]:
        """Segments of `text` as (text, float32 samples, rate Hz), without playing them (for files)."""
        loop = asyncio.get_running_loop()
        splitter = SentenceSplitter()
        for segment in splitter.feed(shorten_for_speech(text, self.settings.max_spoken_chars)) + splitter.flush():
            spoken = clean_for_speech(segment.text)
            synth = await self._voice(script_language(spoken, language))
            samples = await loop.run_in_executor(self._tts_pool, synth.synthesize, spoken)
            yield segment.text, samples, synth.sample_rate_hz

    async def close(self) -> None:
        """Stop speaking, release the speaker and the worker threads."""
        if self._closed:
            return
        self._closed = True
        await self.interrupt()
        loop = asyncio.get_running_loop()
        try:
            await asyncio.wait_for(loop.run_in_executor(self._device_pool, self.speaker.close), TASK_CANCEL_S)
        except TimeoutError:
            log.warning("speech: the speaker did not close within %.1f s", TASK_CANCEL_S)
        self._device_pool.shutdown(wait=False, cancel_futures=True)
        self._tts_pool.shutdown(wait=False, cancel_futures=True)

    # Internals ----------------------------------------------------------------------------
    async def _speak(self, source: AsyncIterable[str], language: str) -> SpeechResult:
        called_at = time.monotonic()
        epoch = self._epoch
        async with self._turn_lock:
            if epoch != self._epoch:  # interrupted while waiting for the previous reply
                return SpeechResult(text="", spoken="", interrupted=True, language=language)
            utt = _Utterance(next(self._ids), language, called_at)
            self._current = utt
            try:
                return await self._play(utt, source)
            finally:
                self._current = None
                utt.finished.set()

    async def _play(self, utt: _Utterance, source: AsyncIterable[str]) -> SpeechResult:
        segments: asyncio.Queue[Segment | None] = asyncio.Queue()
        device = asyncio.create_task(self._ensure_started(), name="speech-device")
        producer = asyncio.create_task(self._produce(utt, source, segments), name="speech-text")
        renderer = asyncio.create_task(self._render(utt, segments, device), name="speech-synth")
        stopper = asyncio.create_task(utt.stop.wait(), name="speech-stop")
        tasks = {device, producer, renderer, stopper}
        interrupted = finished = False
        try:
            waiting: set[asyncio.Task[Any]] = {producer, renderer, stopper}
            while not (renderer.done() or stopper.done()):
                done, waiting = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if producer in done and producer.exception() is not None:
                    break
            interrupted = utt.stop.is_set()
            if not interrupted:
                if producer.done():
                    producer.result()  # a failed reply stream
                renderer.result()  # a failed voice or device
                await self._wait_played(utt)
                interrupted = utt.stop.is_set()
            finished = True
        finally:
            if not finished:  # failed or cancelled by the caller: its audio must not play on
                utt.stop.set()
                if self.speaker.queue.fade_out():
                    self._fade_done.clear()
                interrupted = True
            for task in tasks:
                task.cancel()
            await _settle(tasks)
            if interrupted:
                await self._wait_faded()
                await _aclose(source)
            result = self._result(utt, interrupted)
            self.last_result = result
            if self.on_event is not None:
                try:
                    self.on_event(SpeechFinished(spoken=result.spoken, interrupted=interrupted))
                except Exception:
                    log.exception("speech: the event observer failed")
        return result

    async def _produce(self, utt: _Utterance, source: AsyncIterable[str], out: asyncio.Queue[Segment | None]) -> None:
        """Split the text into segments as it arrives; stop queueing them past LOKI_MAX_SPOKEN_CHARS."""
        splitter = SentenceSplitter()
        max_chars = self.settings.max_spoken_chars
        queued_chars = 0

        def queue(segments: list[Segment]) -> None:
            nonlocal queued_chars
            for segment in segments:
                if utt.truncated:
                    return
                text = clean_for_speech(segment.text).strip()
                if not words(text):
                    continue
                if queued_chars + len(text) > max_chars:
                    utt.truncated = True
                    if queued_chars:
                        return
                    text = shorten_for_speech(text, max_chars)
                queued_chars += len(text) + 1
                out.put_nowait(Segment(text, segment.clause))

        try:
            async for piece in source:
                utt.full_text.append(piece)
                queue(splitter.feed(piece))
            queue(splitter.flush())
        finally:
            out.put_nowait(None)

    async def _render(
        self, utt: _Utterance, segments: asyncio.Queue[Segment | None], device: asyncio.Task[None]
    ) -> None:
        """Synthesize segments one by one in the TTS thread and queue their audio for the device."""
        loop = asyncio.get_running_loop()
        while True:
            segment = await segments.get()
            if segment is None or utt.stop.is_set():
                return
            synth = await self._voice(script_language(segment.text, utt.language))
            first = not utt.segments
            samples, rate = await loop.run_in_executor(self._tts_pool, _synthesize_segment, synth, segment, first)
            await device  # opened while the voice worked; its rate decides the resampling
            if rate != self.speaker.sample_rate_hz:
                samples = await loop.run_in_executor(
                    self._tts_pool, resample, samples, rate, self.speaker.sample_rate_hz
                )
            if utt.stop.is_set():
                return
            index = len(utt.segments)
            utt.segments.append(segment.text)
            utt.frames.append(len(samples))
            utt.audio_s += len(samples) / self.speaker.sample_rate_hz
            self.speaker.queue.push(samples, (utt.id, index))

    async def _wait_played(self, utt: _Utterance) -> None:
        """Until every queued segment was handed to the device and has left it (or the reply is stopped)."""
        queue = self.speaker.queue
        while not utt.stop.is_set():
            utt.progress.clear()
            pending = {tag for tag in queue.pending_tags() if isinstance(tag, tuple) and tag[0] == utt.id}
            if not pending:
                break
            budget_s = queue.pending_frames / max(1, self.speaker.sample_rate_hz) + STALL_GRACE_S
            try:
                await asyncio.wait_for(utt.progress.wait(), budget_s)
            except TimeoutError:
                await self._reset_speaker()
                raise AudioError(
                    f"The speaker stopped taking audio for {budget_s:.1f} s: is the device still there? "
                    "LOKI will reopen it for the next reply.",
                    code="speaker_stalled",
                ) from None
        if not utt.stop.is_set():
            heard_at = queue.last_sound_at + self.speaker.output_latency_s
            try:
                await asyncio.wait_for(utt.stop.wait(), max(0.0, heard_at - time.monotonic()))
            except TimeoutError:
                pass

    def _result(self, utt: _Utterance, interrupted: bool) -> SpeechResult:
        queue = self.speaker.queue
        tags = {(utt.id, i) for i in range(len(utt.segments))}
        parts: list[str] = []
        for index, text in enumerate(utt.segments):
            written = queue.frames_written.get((utt.id, index), 0)
            fraction = written / max(1, utt.frames[index])
            part = spoken_prefix(text, fraction)
            if part:
                parts.append(part)
            if fraction < 1.0:
                break
        queue.forget(tags)
        for tag in tags:
            self._said_by_tag.pop(tag, None)
        ttfa = None if utt.first_sample_at is None else round((utt.first_sample_at - utt.called_at) * 1000, 1)
        return SpeechResult(
            text=" ".join(utt.segments),
            spoken=" ".join(parts),
            interrupted=interrupted,
            ttfa_ms=ttfa,
            audio_s=round(utt.audio_s, 3),
            language=utt.language,
            truncated=utt.truncated,
            full_text="".join(utt.full_text),
        )

    async def _voice(self, language: str) -> Synthesizer:
        """The synthesizer for a language, loaded in the TTS thread on first use."""
        key = "ru" if language == "ru" else "en"
        synth = self._voices.get(key)
        if synth is None:
            loop = asyncio.get_running_loop()
            synth = await loop.run_in_executor(self._tts_pool, self._load_voice, key)
            self._voices[key] = synth
        return synth

    def _load_voice(self, language: str) -> Synthesizer:
        spec = self.settings.voice_ru if language == "ru" else self.settings.voice
        if language == "ru" and not spec:
            return EspeakSynthesizer("ru")
        try:
            return PiperSynthesizer(locate_voice(spec, self.settings), threads=self.settings.tts_threads)
        except ModelError as exc:  # never silence: espeak-ng speaks when the Piper voice cannot
            log.warning("speech: %s; speaking %s with espeak-ng instead", exc, language)
            try:
                return EspeakSynthesizer("ru" if language == "ru" else "en-us")
            except TtsError:
                raise exc from None

    async def _wait_faded(self) -> None:
        """Until the barge-in fade has been handed to the device (one or two blocks)."""
        if not self.speaker.running:
            self._fade_done.set()
            self.speaker.queue.clear()
            return
        try:
            await asyncio.wait_for(self._fade_done.wait(), FADE_WAIT_S)
        except TimeoutError:
            log.warning("speech: the speaker did not take the fade-out within %.1f s", FADE_WAIT_S)

    async def _ensure_started(self) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self.speaker.queue.listener = self._from_audio_thread
        if not self.speaker.running:
            en = self._voices.get("en")
            rate = en.sample_rate_hz if en is not None else VOICE_RATE_HZ
            await loop.run_in_executor(self._device_pool, self.speaker.start, rate)

    async def _reset_speaker(self) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._device_pool, self.speaker.close)

    def _from_audio_thread(self, kind: str, tag: Any, at: float) -> None:
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            loop.call_soon_threadsafe(self._on_queue_event, kind, tag, at)
        except RuntimeError:  # the loop closed between the check and the call
            pass

    def _on_queue_event(self, kind: str, tag: Any, at: float) -> None:
        utt = self._current
        mine = utt is not None and isinstance(tag, tuple) and tag[0] == utt.id
        if kind == "segment_started":
            self._set_playing()
            if mine and utt is not None:
                if utt.first_sample_at is None:
                    utt.first_sample_at = at
                self._said_by_tag[tag] = self.record.started(utt.segments[tag[1]], at)
        elif kind == "segment_done":
            finished = self._said_by_tag.get(tag)
            if finished is not None:
                self.record.ended(finished, at)
        if kind == "faded":
            self._fade_done.set()
        if kind in ("drained", "faded"):
            self.record.all_ended(at)
            if self.speaker.queue.pending_frames == 0:
                self._schedule_playing_off(at)
        if utt is not None:
            utt.progress.set()
        if self._tag_waiters and kind in ("segment_done", "faded"):
            pending = self.speaker.queue.pending_tags()
            for waiting, done in self._tag_waiters.items():
                if waiting not in pending:
                    done.set()

    def _set_playing(self) -> None:
        if self._playing_off is not None:
            self._playing_off.cancel()
            self._playing_off = None
        self.playing.set()

    def _schedule_playing_off(self, at: float) -> None:
        if self._loop is None:
            return
        if self._playing_off is not None:
            self._playing_off.cancel()
        delay_s = max(0.0, at + self.speaker.output_latency_s - time.monotonic())
        self._playing_off = self._loop.call_later(delay_s, self._playing_done)

    def _playing_done(self) -> None:
        self._playing_off = None
        if self.speaker.queue.pending_frames == 0:
            self.playing.clear()

    def _speech_failed(self, exc: LokiError, fallback_text: str) -> None:
        self.last_error = exc
        log.error("speech: %s", exc)
        if fallback_text:
            self.show_text(fallback_text)


def _synthesize_segment(synth: Synthesizer, segment: Segment, first: bool) -> tuple[np.ndarray, int]:
    """Synthesize one segment and trim Piper's padding where it would delay the start or drag a clause."""
    import numpy as np

    samples = synth.synthesize(segment.text)
    rate = synth.sample_rate_hz
    loud = np.flatnonzero(np.abs(samples) > 0.01)
    if len(loud):
        if first:
            start = max(0, int(loud[0]) - int(rate * LEAD_SILENCE_MS / 1000))
            samples = samples[start:]
            loud = loud - start
        if segment.clause:
            samples = samples[: int(loud[-1]) + int(rate * CLAUSE_PAUSE_MS / 1000)]
    return np.ascontiguousarray(samples, dtype=np.float32), rate


async def _one(text: str) -> AsyncIterator[str]:
    yield text


async def _aclose(source: AsyncIterable[str]) -> None:
    close = getattr(source, "aclose", None)
    if close is None:
        return
    try:
        await close()
    except Exception as exc:  # a stream that fails while closing must not hide the interrupt
        log.debug("speech: closing the reply stream failed: %s", exc)


async def _settle(tasks: set[asyncio.Task[Any]]) -> None:
    """Wait for cancelled tasks, logging any that will not stop."""
    pending = [t for t in tasks if not t.done()]
    if pending:
        done, stuck = await asyncio.wait(pending, timeout=TASK_CANCEL_S)
        for task in stuck:
            log.warning("speech: task %s did not stop within %.1f s", task.get_name(), TASK_CANCEL_S)
    for task in tasks:
        if task.done() and not task.cancelled():
            task.exception()  # retrieved, so asyncio does not log it again


def _print_reply(text: str) -> None:
    print(text, flush=True)
