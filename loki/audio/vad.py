"""Voice activity: webrtcvad plus an adaptive noise floor cut a frame stream into utterances.

Steady noise never records forever: a frame counts as voiced only when webrtcvad says speech
*and* it stands above the recent noise floor (minimum statistics over a few seconds), and an
utterance is cut at `max_utterance_s`, after which the segmenter waits for silence to re-arm.
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from loki.audio.frames import FRAME_MS, FRAME_SAMPLES, SAMPLE_RATE_HZ, SPEECH_MIN_RMS, Frame, to_int16
from loki.audio.ring import FrameRing
from loki.config import ListenSettings, Settings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class VadOptions:
    """How the segmenter decides where speech starts and ends."""

    aggressiveness: int = 2
    silence_ms: int = 300  # trailing silence that ends an utterance
    preroll_ms: int = 300  # audio kept from before speech starts
    max_utterance_s: float = 12.0  # cut here even in steady noise
    tail_ms: int = 90  # trailing silence kept in the utterance (and when the early guess fires)
    start_frames: int = 4  # voiced frames among the last `start_window_frames` that start speech
    start_window_frames: int = 6
    min_speech_ms: int = 150  # shorter bursts are dropped as clicks
    noise_window_s: float = 4.0  # minimum-statistics window for the noise floor
    noise_ratio: float = 2.0  # a voiced frame's RMS must exceed floor * ratio (about 6 dB)
    min_rms: float = SPEECH_MIN_RMS  # int16 units; quieter frames are never speech (about -55 dBFS)

    @classmethod
    def from_settings(cls, settings: ListenSettings | Settings) -> VadOptions:
        """The options the listening settings ask for (a whole `Settings` is taken apart here)."""
        listen = ListenSettings.of(settings)
        return cls(
            aggressiveness=listen.vad_aggressiveness,
            silence_ms=listen.vad_silence_ms,
            preroll_ms=listen.vad_preroll_ms,
            max_utterance_s=listen.max_utterance_s,
        )


@dataclass(frozen=True)
class SpeechStart:
    """Speech began at this point of the stream."""

    stream_s: float
    at: float


@dataclass(frozen=True)
class Utterance:
    """One stretch of speech, 16 kHz mono int16, with pre-roll and a short silent tail.

    `final` is False for the early guess made when the silence began (`tail_ms` in): the same
    audio the final utterance will carry if speech does not resume, so a recognizer may start on it.
    """

    audio: np.ndarray
    start_s: float  # stream time of the first sample
    speech_end_s: float  # stream time at the end of the last voiced frame
    speech_end_at: float  # monotonic wall time that frame reached LOKI
    source: str = "vad"  # "vad" | "ptt"
    truncated: bool = False  # cut at max_utterance_s
    final: bool = True
    id: int = 0
    overlaps_voice: bool = False  # LOKI was speaking while it was recorded (set by the listener)

    @property
    def duration_s(self) -> float:
        """Length of the audio in seconds."""
        return len(self.audio) / SAMPLE_RATE_HZ


@dataclass
class _Current:
    frames: list[Frame] = field(default_factory=list)
    voiced_frames: int = 0
    trailing_silence: int = 0
    last_voiced: Frame | None = None
    guessed: bool = False
    source: str = "vad"
    id: int = 0


class VadSegmenter:
    """Feed 30 ms frames with `push()`; it returns SpeechStart and Utterance events."""

    def __init__(self, options: VadOptions | None = None) -> None:
        import webrtcvad

        self.options = options or VadOptions()
        self._vad = webrtcvad.Vad(self.options.aggressiveness)
        self._preroll = FrameRing(self.options.preroll_ms)
        self._recent: deque[bool] = deque(maxlen=self.options.start_window_frames)
        self._levels: deque[float] = deque(maxlen=max(1, int(self.options.noise_window_s * 1000 / FRAME_MS)))
        self._current: _Current | None = None
        self._rearm = False  # after a cut: wait for silence before the next start
        self._rearm_silence = 0
        self._forced = False
        self._next_id = 1
        self.silence_frames = max(1, -(-self.options.silence_ms // FRAME_MS))
        self.tail_frames = min(self.silence_frames, max(1, -(-self.options.tail_ms // FRAME_MS)))
        self.max_frames = max(1, int(self.options.max_utterance_s * 1000 / FRAME_MS))
        self.min_speech_frames = max(1, -(-self.options.min_speech_ms // FRAME_MS))

    @property
    def in_speech(self) -> bool:
        """True while an utterance is being recorded."""
        return self._current is not None

    @property
    def noise_floor_rms(self) -> float:
        """The current noise floor estimate in int16 RMS units."""
        return min(self._levels) if self._levels else 0.0

    def is_voiced(self, frame: Frame) -> bool:
        """webrtcvad's verdict, gated by the noise floor."""
        rms = frame.rms
        floor = self.noise_floor_rms
        self._levels.append(rms)
        if rms < self.options.min_rms or rms < floor * self.options.noise_ratio:
            return False
        return bool(self._vad.is_speech(frame.pcm.tobytes(), SAMPLE_RATE_HZ))

    def reset(self) -> None:
        """Forget any utterance in progress (the noise floor is kept)."""
        self._current = None
        self._forced = False
        self._recent.clear()
        self._preroll.drain()

    def force_start(self, source: str = "ptt") -> SpeechStart:
        """Start recording now, whatever the VAD says (push-to-talk)."""
        self._forced = True
        now = self._preroll.drain()
        self._current = _Current(frames=now, source=source, id=self._new_id())
        stream_s = now[0].stream_s if now else 0.0
        at = now[-1].captured_at if now else 0.0
        return SpeechStart(stream_s, at)

    def force_end(self) -> list[Utterance]:
        """Stop a forced recording and return it (empty when nothing was voiced)."""
        self._forced = False
        current, self._current = self._current, None
        if current is None or not current.frames or current.voiced_frames < self.min_speech_frames:
            return []
        return [self._utterance(current, keep_tail=len(current.frames), final=True)]

    def cut(self) -> list[Utterance]:
        """End the utterance in progress now and keep recording a new one (no re-arm wait)."""
        current = self._current
        if current is None or not current.frames:
            return []
        self._current = _Current(source=current.source, id=self._new_id())
        if current.voiced_frames < self.min_speech_frames:
            return []
        return [self._utterance(current, keep_tail=len(current.frames), final=True)]

    @property
    def current_ms(self) -> int:
        """Length of the utterance in progress in milliseconds (0 when none)."""
        return len(self._current.frames) * FRAME_MS if self._current is not None else 0

    @property
    def current_start_s(self) -> float | None:
        """Stream time of the first sample of the utterance in progress (None when none)."""
        if self._current is None or not self._current.frames:
            return None
        return self._current.frames[0].stream_s - FRAME_MS / 1000

    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1

    def push(self, frame: Frame) -> list[SpeechStart | Utterance]:
        """Add one frame; returns what happened (usually nothing)."""
        voiced = self.is_voiced(frame)
        out: list[SpeechStart | Utterance] = []
        current = self._current
        if current is None:
            self._preroll.push(frame)
            if self._rearm:
                self._rearm_silence = 0 if voiced else self._rearm_silence + 1
                if self._rearm_silence >= self.silence_frames:
                    self._rearm = False
                return out
            self._recent.append(voiced)
            if sum(self._recent) >= self.options.start_frames:
                frames = self._preroll.drain()
                self._current = _Current(frames=frames, id=self._new_id())
                self._current.voiced_frames = sum(self._recent)
                self._current.last_voiced = frame
                self._recent.clear()
                out.append(SpeechStart(frames[0].stream_s - FRAME_MS / 1000, frame.captured_at))
            return out

        current.frames.append(frame)
        if voiced:
            current.voiced_frames += 1
            current.trailing_silence = 0
            current.last_voiced = frame
            current.guessed = False
        else:
            current.trailing_silence += 1
        if len(current.frames) >= self.max_frames:
            self._current = None
            self._forced = False
            self._rearm, self._rearm_silence = True, 0
            log.info("utterance cut at %.1f s (max_utterance_s)", self.options.max_utterance_s)
            out.append(self._utterance(current, keep_tail=len(current.frames), final=True, truncated=True))
            return out
        if self._forced:
            return out
        if (
            current.trailing_silence == self.tail_frames
            and not current.guessed
            and self.tail_frames < self.silence_frames
        ):
            current.guessed = True
            if current.voiced_frames >= self.min_speech_frames:
                out.append(self._utterance(current, keep_tail=self.tail_frames, final=False))
        if current.trailing_silence >= self.silence_frames:
            self._current = None
            # The silence that ended it is the next utterance's pre-roll: a quiet onset heard as silence
            # ("s" of "hey loki, scroll up" after a short pause) would otherwise be lost between the two.
            for quiet in current.frames[-current.trailing_silence :]:
                self._preroll.push(quiet)
            if current.voiced_frames >= self.min_speech_frames:
                out.append(self._utterance(current, keep_tail=self.tail_frames, final=True))
        return out

    def _utterance(self, current: _Current, *, keep_tail: int, final: bool, truncated: bool = False) -> Utterance:
        frames = current.frames
        cut = len(frames) - current.trailing_silence + min(keep_tail, current.trailing_silence)
        frames = frames[:cut] if current.trailing_silence else frames
        last = current.last_voiced or frames[-1]
        return Utterance(
            audio=np.concatenate([f.pcm for f in frames]),
            start_s=frames[0].stream_s - FRAME_MS / 1000,
            speech_end_s=last.stream_s,
            speech_end_at=last.captured_at,
            source=current.source,
            truncated=truncated,
            final=final,
            id=current.id,
        )


def vad_utterances(samples: np.ndarray, options: VadOptions | None = None) -> list[Utterance]:
    """A recording (float32, 16 kHz) cut as the microphone's VAD cuts a stream, followed by a second of silence."""
    segmenter = VadSegmenter(options)
    pcm = to_int16(np.concatenate([samples, np.zeros(SAMPLE_RATE_HZ, np.float32)]))
    out = []
    for index in range(len(pcm) // FRAME_SAMPLES):
        frame = Frame(pcm[index * FRAME_SAMPLES : (index + 1) * FRAME_SAMPLES], (index + 1) * FRAME_MS / 1000, 0.0)
        out += [e for e in segmenter.push(frame) if isinstance(e, Utterance) and e.final]
    return out
