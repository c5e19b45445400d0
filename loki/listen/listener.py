"""The ears: microphone frames -> (streaming wake engine) -> VAD -> utterances on a queue.

Frames carry the audio clock; utterances are tagged when LOKI's own voice was playing while they
were recorded, and while it plays they are cut into short chunks so that a wake word or "stop"
said over it is heard quickly. Push-to-talk forces a recording regardless of the VAD. The
listener publishes `SpeechStarted`, `SpeechEnded` and `MicrophoneChanged`; a wake engine's
detection goes to `on_wake`, every frame's clock to `on_frame`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any

from loki.audio.frames import SAMPLE_RATE_HZ, Frame
from loki.audio.mic import Microphone, keep_open
from loki.audio.vad import SpeechStart, Utterance, VadOptions, VadSegmenter
from loki.errors import LokiError
from loki.events import Event, Interrupt, MicrophoneChanged, SpeechEnded, SpeechStarted, WakeDetected
from loki.listen.wake.engines import Detection, WakeEngine

log = logging.getLogger(__name__)


class Listener:
    """Reads a microphone and puts `Utterance`s (final and early guesses) on `utterances`; None at the end.

    Args:
        mic: the frame source.
        options: VAD settings.
        wake_engine: a streaming wake engine, or None (keyless: the wake phrase is read from transcripts).
        voice_active: True while LOKI's voice is playing.
        echo_tail_s: after LOKI stops, audio still counts as overlapping its voice this long.
        speaking_chunk_s: while LOKI speaks, utterances are cut this often.
        publish: receives `SpeechStarted`, `SpeechEnded` and `MicrophoneChanged` (on the event loop).
        on_wake: called with the wake engine's detection.
        on_frame: called with every frame (the audio clock).
    """

    def __init__(
        self,
        mic: Microphone,
        options: VadOptions,
        *,
        wake_engine: WakeEngine | None = None,
        voice_active: Callable[[], bool] = lambda: False,
        echo_tail_s: float = 0.6,
        speaking_chunk_s: float = 2.5,
        publish: Callable[[Event], None] | None = None,
        on_wake: Callable[[Detection], None] | None = None,
        on_frame: Callable[[Frame], None] | None = None,
    ) -> None:
        self.mic = mic
        self.options = options
        self.segmenter = VadSegmenter(options)
        self.wake_engine = wake_engine
        self.voice_active = voice_active
        self.echo_tail_s = echo_tail_s
        self.speaking_chunk_s = speaking_chunk_s
        self.publish = publish or (lambda event: None)
        self.on_wake = on_wake or (lambda detection: None)
        self.on_frame = on_frame or (lambda frame: None)
        self.utterances: asyncio.Queue[Utterance | None] = asyncio.Queue()
        self.now_s = 0.0
        self.mic_state = "closed"
        self._speaking_until_s = float("-inf")
        self._utt_overlap = False
        self._wake_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loki-wake") if wake_engine else None
        self.talking = False
        """True while the push-to-talk key holds the microphone open."""
        self.muted = False
        """True while nothing is heard (`set_muted`): frames only move the clock."""
        self._key: Any = None

    # Push-to-talk -----------------------------------------------------------------------
    def start_key(self, key: str, mode: str = "hold") -> None:
        """Watch the push-to-talk key (X11); a key that cannot be watched is logged and left off."""
        from loki.listen.ptt import PushToTalk

        ptt = PushToTalk(key, mode=mode, on_start=self.ptt_start, on_stop=self.ptt_stop)
        try:
            ptt.start()
        except LokiError as exc:
            log.warning("push-to-talk is off: %s", exc)
            return
        self._key = ptt

    @property
    def key_watched(self) -> bool:
        """True while the push-to-talk key is being watched."""
        return self._key is not None

    def ptt_start(self) -> None:
        """Start a forced recording (the key went down): the user is talking to LOKI, so LOKI stops talking."""
        if self.muted:
            return
        self.talking = True
        self.publish(WakeDetected("ptt"))
        self.publish(Interrupt("ptt", plan=False))
        self.segmenter.reset()
        start = self.segmenter.force_start("ptt")
        self._utt_overlap = False
        self._speech_started(start)

    def ptt_stop(self) -> None:
        """End the forced recording and queue it (the key came up)."""
        if self.muted:
            return
        self.talking = False
        for utt in self.segmenter.force_end():
            self._emit(replace(utt, overlaps_voice=False))

    def set_muted(self, muted: bool) -> None:
        """Hear nothing (or hear again): while muted no frame reaches the wake engine or the VAD; speech under way is dropped."""
        self.muted = muted
        if muted:
            self.talking = False
            self.segmenter.reset()

    # Main loop --------------------------------------------------------------------------
    def _mic_state(self, state: str, detail: str) -> None:
        self.mic_state = state
        self.publish(MicrophoneChanged(state, detail))

    def _speech_started(self, start: SpeechStart) -> None:
        self.publish(SpeechStarted(at=start.at or time.monotonic()))

    def _emit(self, utt: Utterance) -> None:
        if utt.final:
            self.publish(SpeechEnded(utt.audio.tobytes(), SAMPLE_RATE_HZ, utt.source))
        self.utterances.put_nowait(utt)

    async def run(self) -> None:
        """Listen until the microphone ends (a file); a live device is reopened when it fails."""
        loop = asyncio.get_running_loop()
        try:
            async with contextlib.aclosing(keep_open(self.mic, on_state=self._mic_state)) as frames:
                async for frame in frames:
                    await self._frame(frame, loop)
        finally:
            self.segmenter.reset()
        self.utterances.put_nowait(None)  # the source ended (not on failure: the supervisor restarts run())

    async def _frame(self, frame: Frame, loop: asyncio.AbstractEventLoop) -> None:
        self.now_s = frame.stream_s
        if self.voice_active():
            self._speaking_until_s = frame.stream_s + self.echo_tail_s
        overlapped = frame.stream_s <= self._speaking_until_s
        self.on_frame(frame)
        if self.muted:
            return
        if self.wake_engine is not None and self._wake_thread is not None:
            detection: Detection | None = await loop.run_in_executor(
                self._wake_thread, self.wake_engine.process, frame.pcm
            )
            if self.muted:  # muted while the engine ran
                return
            if detection is not None:
                log.info("wake word %r (%.2f)", detection.name, detection.score)
                self.segmenter.reset()  # what follows the wake word is the command
                self.on_wake(detection)
                return
        for event in self.segmenter.push(frame):
            if isinstance(event, SpeechStart):
                self._utt_overlap = overlapped or event.stream_s <= self._speaking_until_s
                self._speech_started(event)
            else:
                self._utt_overlap = self._utt_overlap or overlapped
                self._emit(replace(event, overlaps_voice=self._utt_overlap))
        if self.segmenter.in_speech:
            self._utt_overlap = self._utt_overlap or overlapped
            if self._utt_overlap and self.segmenter.current_ms >= self.speaking_chunk_s * 1000:
                for utt in self.segmenter.cut():
                    self._emit(replace(utt, overlaps_voice=True))

    def stop_key(self) -> None:
        """Stop watching the push-to-talk key (joins its thread: call it off the event loop)."""
        if self._key is not None:
            self._key.stop()
            self._key = None

    def close(self) -> None:
        """Release the wake thread and engine."""
        if self._wake_thread is not None:
            self._wake_thread.shutdown(wait=False, cancel_futures=True)
        if self.wake_engine is not None:
            self.wake_engine.close()
