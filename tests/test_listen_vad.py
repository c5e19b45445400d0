"""VAD segmentation on real recordings, synthetic noise, and the max-length / push-to-talk paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loki.audio.frames import FrameChunker
from loki.audio.vad import SpeechStart, Utterance, VadOptions, VadSegmenter
from loki.audio.wav import read_wav


def segment(
    audio: np.ndarray, options: VadOptions | None = None, *, pad_s: float = 1.0
) -> list[SpeechStart | Utterance]:
    seg = VadSegmenter(options or VadOptions())
    audio = np.concatenate([audio, np.zeros(int(pad_s * 16000), dtype=np.float32)])
    events: list[SpeechStart | Utterance] = []
    for frame in FrameChunker()(audio, 0.0):
        events += seg.push(frame)
    return events


def finals(events: list) -> list[Utterance]:
    return [e for e in events if isinstance(e, Utterance) and e.final]


def test_one_command_is_one_utterance(testdata: Path) -> None:
    events = segment(read_wav(testdata / "turn_on_the_living_room_light_en.wav"))
    (utt,) = finals(events)
    assert isinstance(events[0], SpeechStart)
    assert 1.2 < utt.speech_end_s - utt.start_s < 2.2
    assert utt.audio.dtype == np.int16 and not utt.truncated


def test_human_keyword_list_splits_into_words(testdata: Path) -> None:
    """A person reading ~25 keywords with pauses: about one utterance per keyword, none long."""
    utterances = finals(segment(read_wav(testdata / "human_keywords_en.wav")))
    assert 18 <= len(utterances) <= 30
    assert all(u.duration_s < 3.0 for u in utterances)
    starts = [u.start_s for u in utterances]
    assert starts == sorted(starts)


def test_early_guess_carries_the_same_audio_as_the_final(testdata: Path) -> None:
    events = segment(read_wav(testdata / "turn_on_the_living_room_light_en.wav"))
    guesses = [e for e in events if isinstance(e, Utterance) and not e.final]
    (final,) = finals(events)
    assert guesses and guesses[-1].id == final.id
    assert np.array_equal(guesses[-1].audio, final.audio)


def test_preroll_is_kept(testdata: Path) -> None:
    audio = read_wav(testdata / "turn_on_the_living_room_light_en.wav")
    lead = np.zeros(16000, dtype=np.float32)
    with_preroll = finals(segment(np.concatenate([lead, audio]), VadOptions(preroll_ms=300)))[0]
    without = finals(segment(np.concatenate([lead, audio]), VadOptions(preroll_ms=30)))[0]
    assert len(with_preroll.audio) - len(without.audio) == pytest.approx(270 * 16, abs=480)


def test_speech_after_a_short_pause_keeps_its_preroll(testdata: Path) -> None:
    """The silence that ends one utterance is the next one's pre-roll: after a pause just longer than
    the silence wait ("hey loki, | scroll up"), a quiet onset is not lost between the two."""
    audio = read_wav(testdata / "turn_on_the_living_room_light_en.wav")
    loud = np.flatnonzero(np.abs(audio) > 0.02)
    speech = audio[loud[0] : loud[-1] + 1]
    lead, pause = np.zeros(16000, dtype=np.float32), np.zeros(int(0.35 * 16000), dtype=np.float32)
    first, second = finals(segment(np.concatenate([lead, speech, pause, speech]), VadOptions(silence_ms=300)))
    assert second.start_s < first.speech_end_s + 0.3  # it reaches back into the silence that ended the first
    assert abs(len(second.audio) - len(first.audio)) <= 480  # the same speech and pre-roll, to a frame


@pytest.mark.parametrize("kind", ["white", "hum", "babble-like"])
def test_steady_noise_never_records_forever(kind: str) -> None:
    rng = np.random.default_rng(1)
    n = 16000 * 30
    t = np.arange(n) / 16000
    if kind == "white":
        noise = rng.normal(0, 0.05, n)
    elif kind == "hum":
        noise = 0.2 * np.sin(2 * np.pi * 120 * t) + 0.1 * np.sin(2 * np.pi * 240 * t)
    else:  # amplitude-modulated band noise, speech-like in spectrum and rhythm
        band = np.convolve(rng.normal(0, 1, n), np.hanning(12), mode="same")
        noise = 0.05 * band * (1 + 0.8 * np.sin(2 * np.pi * 4 * t))
    options = VadOptions(max_utterance_s=6.0)
    utterances = finals(segment(noise.astype(np.float32), options))
    assert all(u.duration_s <= 6.0 + 0.05 for u in utterances)
    recorded_s = sum(u.duration_s for u in utterances)
    assert recorded_s < 12.0, f"{kind}: recorded {recorded_s:.1f} s of 30 s of noise"


def test_speech_is_still_heard_over_steady_noise(testdata: Path) -> None:
    rng = np.random.default_rng(2)
    speech = read_wav(testdata / "turn_on_the_living_room_light_en.wav")
    noise = rng.normal(0, 0.01, 16000 * 8).astype(np.float32)
    noise[16000 * 5 : 16000 * 5 + len(speech)] += speech
    utterances = finals(segment(noise))
    spoken = [u for u in utterances if u.start_s > 4.5]
    assert len(spoken) == 1 and spoken[0].duration_s > 1.0


def test_max_length_cuts_and_waits_for_silence(testdata: Path) -> None:
    speech = read_wav(testdata / "turn_on_the_living_room_light_en.wav")
    long = np.concatenate([speech[:22000]] * 6)  # ~8 s of speech without a pause
    utterances = finals(segment(long, VadOptions(max_utterance_s=3.0)))
    assert utterances[0].truncated and utterances[0].duration_s == pytest.approx(3.0, abs=0.35)
    assert all(u.duration_s <= 3.05 for u in utterances)


def test_push_to_talk_records_regardless_of_pauses(testdata: Path) -> None:
    speech = read_wav(testdata / "turn_on_the_living_room_light_en.wav")
    gap = np.zeros(16000, dtype=np.float32)
    audio = np.concatenate([speech, gap, speech])
    seg = VadSegmenter(VadOptions())
    seg.force_start("ptt")
    events = []
    for frame in FrameChunker()(audio, 0.0):
        events += seg.push(frame)
    assert not finals(events)  # the pause did not end it
    (utt,) = seg.force_end()
    assert utt.source == "ptt" and utt.duration_s == pytest.approx(len(audio) / 16000, abs=0.05)


def test_push_to_talk_with_nothing_said_gives_nothing() -> None:
    seg = VadSegmenter(VadOptions())
    seg.force_start("ptt")
    for frame in FrameChunker()(np.zeros(16000, dtype=np.float32), 0.0):
        seg.push(frame)
    assert seg.force_end() == []
