"""Speaking without a sound card: text splitting, the playback queue, and SpeechOutput with the real
Piper voice playing into the fake speaker (`RecordingSpeaker`, the device seam)."""

from __future__ import annotations

import asyncio
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest

from loki.audio.speaker import PlaybackQueue, RecordingSpeaker, resample
from loki.config import Settings, settings_from
from loki.errors import LlmError, ModelError
from loki.events import Event, SpeechFinished
from loki.screen.window import Context
from loki.tts import SpeechOutput
from loki.tts.earcons import EARCONS, earcon_samples
from loki.tts.text import SentenceSplitter, echo_score, shorten_for_speech, split_text
from loki.tts.voices import (
    DEFAULT_VOICE_SHA256,
    EspeakSynthesizer,
    PiperSynthesizer,
    default_voice_files,
    locate_voice,
    sha256_of,
)
from loki.wiring import build_orchestrator

LONG_REPLY = (
    "Here is the forecast for the whole week, as you asked. Monday will be sunny and warm. "
    "Tuesday brings clouds in the morning and light rain in the evening. Wednesday stays grey and cool. "
    "Thursday and Friday should be dry again."
)


@pytest.fixture(scope="session")
def piper_en() -> PiperSynthesizer:
    """The embedded default voice, loaded and warmed once."""
    synth = PiperSynthesizer(default_voice_files())
    synth.synthesize("Hello.")
    return synth


def make_output(settings_env: dict[str, str], piper_en: PiperSynthesizer, *, speed: float = 1.0, **env: str):
    """SpeechOutput on the fake speaker; returns (output, speaker, shown texts, events)."""
    settings = settings_from({**settings_env, "LOKI_REPLY_MODE": "voice", **env})
    speaker = RecordingSpeaker(piper_en.sample_rate_hz, speed=speed)
    shown: list[str] = []
    events: list[Event] = []
    output = SpeechOutput(
        settings, speaker=speaker, show_text=shown.append, on_event=events.append, voices={"en": piper_en}
    )
    return output, speaker, shown, events


def loud_seconds(audio: np.ndarray, rate_hz: int, level: float = 0.02) -> float:
    """Seconds between the first and the last sample louder than `level`."""
    loud = np.flatnonzero(np.abs(audio) > level)
    return 0.0 if len(loud) == 0 else (loud[-1] - loud[0]) / rate_hz


async def tokens(text: str, delay_s: float = 0.01) -> AsyncIterator[str]:
    """Text as an LLM would stream it: word by word."""
    for word in text.split(" "):
        await asyncio.sleep(delay_s)
        yield word + " "


# Text ---------------------------------------------------------------------------------------
def test_split_text_sentences_clause_first_and_abbreviations() -> None:
    segments = split_text("Okay, I opened the browser. Dr. Smith paid 3.5 dollars, e.g. cash! Done?\n- next item")
    assert [s.text for s in segments] == [
        "Okay,",
        "I opened the browser.",
        "Dr. Smith paid 3.5 dollars, e.g. cash!",
        "Done?",
        "- next item",
    ]
    assert segments[0].clause and not segments[1].clause


def test_splitter_emits_sentences_while_tokens_arrive() -> None:
    splitter = SentenceSplitter()
    seen: list[list[str]] = []
    for word in "Sure thing, the weather is nice. Tomorrow it rains".split(" "):
        seen.append([s.text for s in splitter.feed(word + " ")])
    assert seen[1] == ["Sure thing,"]  # the first clause goes out as soon as it is complete
    assert seen[5] == ["the weather is nice."]
    assert [s.text for s in splitter.flush()] == ["Tomorrow it rains"]


def test_splitter_cuts_a_long_unpunctuated_start_at_a_space() -> None:
    splitter = SentenceSplitter()
    out = splitter.feed("word " * 40)
    assert out and len(out[0].text) <= 100 and out[0].text.endswith("word")


def test_russian_sentences_split() -> None:
    assert [s.text for s in split_text("Привет, как дела? Всё хорошо, т.е. отлично.")] == [
        "Привет,",
        "как дела?",
        "Всё хорошо, т.е. отлично.",
    ]


def test_shorten_for_speech_cuts_at_a_sentence_boundary() -> None:
    text = "One two three. Four five six seven. Eight nine ten eleven twelve."
    assert shorten_for_speech(text, 40) == "One two three. Four five six seven."
    assert shorten_for_speech(text, 500) == text
    assert shorten_for_speech("alpha beta gamma delta epsilon zeta eta theta", 20) == "alpha beta gamma."


def test_echo_score() -> None:
    said = "Okay. It is ten past four. Anything else?"
    assert echo_score("it is ten past four", said) == 1.0
    assert echo_score("it's ten pass four", said) >= 0.5
    assert echo_score("open the browser", said) == 0.0


# Playback queue -------------------------------------------------------------------------------
def test_queue_fills_blocks_and_reports_segments() -> None:
    queue = PlaybackQueue(1000)
    events: list[tuple[str, object]] = []
    queue.listener = lambda kind, tag, at: events.append((kind, tag))
    queue.push(np.full(150, 0.5, dtype=np.float32), "a")
    queue.push(np.full(30, 0.25, dtype=np.float32), "b")
    block = np.zeros((100, 2), dtype=np.float32)
    queue.fill(block)
    assert np.all(block == 0.5)  # both channels
    queue.fill(block)
    assert np.all(block[:50, 0] == 0.5) and np.all(block[50:80, 1] == 0.25) and np.all(block[80:] == 0)
    assert queue.frames_written == {"a": 150, "b": 30}
    assert [k for k, _ in events] == ["segment_started", "segment_done", "segment_started", "segment_done", "drained"]
    assert queue.last_sound_at > 0


def test_fade_out_ramps_down_drops_the_rest_and_spares_later_audio() -> None:
    queue = PlaybackQueue(1000, fade_ms=20)  # 20 frames of fade
    queue.push(np.ones(500, dtype=np.float32), "speech")
    block = np.zeros(10, dtype=np.float32)
    queue.fill(block)
    assert queue.fade_out()
    queue.push(np.full(5, 0.5, dtype=np.float32), "earcon")  # pushed after the cut: must play
    block = np.zeros(32, dtype=np.float32)
    queue.fill(block)
    fade = block[:20]
    assert fade[0] == 1.0 and np.all(np.diff(fade) < 0) and fade[-1] < 0.1
    assert np.all(block[20:25] == 0.5) and np.all(block[25:] == 0)
    assert queue.frames_written["speech"] == 30 and queue.pending_frames == 0
    assert not queue.fade_out()


def test_resample_keeps_pitch_and_duration() -> None:
    t = np.arange(22050) / 22050
    tone = np.sin(2 * np.pi * 1000 * t).astype(np.float32)
    out = resample(tone, 22050, 16000)
    assert len(out) == 16000
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * 16000 / len(out) - 1000) < 2


def test_earcons_are_short_quiet_and_cached() -> None:
    for name in EARCONS:
        audio = earcon_samples(name, 16000)
        assert 0.1 < len(audio) / 16000 < 0.5 and 0.2 < np.max(np.abs(audio)) <= 0.25
    assert earcon_samples("done", 16000) is earcon_samples("done", 16000)


# Voices ---------------------------------------------------------------------------------------
def test_default_voice_is_the_pinned_embedded_one() -> None:
    files = default_voice_files()
    assert files.sha256 == DEFAULT_VOICE_SHA256 == sha256_of(files.model)
    assert locate_voice("", Settings(models_dir="/nonexistent")) == files


def test_voice_by_name_in_the_model_store(tmp_path: Path) -> None:
    files = default_voice_files()
    store = tmp_path / "piper"
    store.mkdir()
    (store / "my-voice.onnx").symlink_to(files.model)
    (store / "my-voice.onnx.json").symlink_to(files.config)
    found = locate_voice("my-voice", Settings(models_dir=str(tmp_path)))
    assert found.model == store / "my-voice.onnx" and found.config == store / "my-voice.onnx.json"
    with pytest.raises(ModelError, match="No Piper voice 'other'"):
        locate_voice("other", Settings(models_dir=str(tmp_path)))


def test_corrupt_voice_is_refused(tmp_path: Path) -> None:
    files = default_voice_files()
    model = tmp_path / "v.onnx"
    model.write_bytes(b"not a model")
    (tmp_path / "v.onnx.json").symlink_to(files.config)
    (tmp_path / "v.onnx.sha256").write_text(DEFAULT_VOICE_SHA256 + "  v.onnx\n")
    with pytest.raises(ModelError, match="corrupt"):
        PiperSynthesizer(locate_voice(str(model), Settings(models_dir=str(tmp_path))))


def test_espeak_speaks_russian() -> None:
    audio = EspeakSynthesizer("ru").synthesize("Привет, как дела?")
    assert len(audio) > 0.5 * 22050 and np.max(np.abs(audio)) > 0.1


# SpeechOutput on the fake speaker ---------------------------------------------------------------
async def test_reply_is_spoken_whole_and_reported(settings_env, piper_en) -> None:
    output, speaker, shown, events = make_output(settings_env, piper_en, speed=4.0)
    result = await output.say("It is ten past four. Anything else?")
    await output.close()
    assert result.spoken == result.text == "It is ten past four. Anything else?"
    assert not result.interrupted and result.ttfa_ms is not None and result.audio_s > 1.0
    assert loud_seconds(speaker.recorded(), speaker.sample_rate_hz) > 1.0
    assert events == [SpeechFinished(spoken=result.spoken, interrupted=False, at=events[0].at)]
    assert output.record.repeats("it is ten past four") and not output.record.repeats("open the browser")
    assert not output.record.repeats("anything")  # one word: never taken for an echo


async def test_reply_modes(settings_env, piper_en) -> None:
    for mode, shows, speaks in (("text", True, False), ("both", True, True), ("voice", False, True)):
        output, speaker, shown, _ = make_output(settings_env, piper_en, speed=4.0, LOKI_REPLY_MODE=mode)
        await output("Done.", "en")
        await output.close()
        assert (shown == ["Done."]) is shows
        assert bool(loud_seconds(speaker.recorded(), speaker.sample_rate_hz) > 0.1) is speaks, mode


async def test_long_reply_is_shortened_at_a_sentence(settings_env, piper_en) -> None:
    output, _, shown, _ = make_output(
        settings_env, piper_en, speed=8.0, LOKI_MAX_SPOKEN_CHARS="80", LOKI_REPLY_MODE="both"
    )
    await output(LONG_REPLY, "en")
    await output.close()
    result = output.last_result
    assert result is not None and result.truncated and len(result.text) <= 80
    assert result.text.endswith(".") and LONG_REPLY.startswith(result.text.replace("as you asked.", ""))
    assert shown == [LONG_REPLY]  # the screen gets all of it


async def test_streamed_reply_is_spoken_sentence_by_sentence(settings_env, piper_en) -> None:
    output, speaker, shown, _ = make_output(settings_env, piper_en, speed=4.0, LOKI_REPLY_MODE="both")
    text = "Sure, here it is. This came in token by token. Bye."
    await output.stream(tokens(text), "en")
    await output.close()
    result = output.last_result
    assert result is not None and result.spoken == text and result.full_text.strip() == text
    assert shown == [result.full_text]
    assert loud_seconds(speaker.recorded(), speaker.sample_rate_hz) > 2.0


async def test_a_failing_reply_stream_raises_its_own_error(settings_env, piper_en) -> None:
    output, _, _, _ = make_output(settings_env, piper_en, speed=4.0)

    async def broken() -> AsyncIterator[str]:
        yield "Let me think. "
        raise LlmError("backend went away")

    with pytest.raises(LlmError):
        await output.stream(broken(), "en")
    assert not output.speaking
    await output.close()


async def test_interrupt_keeps_only_what_was_played_and_drops_pending_replies(settings_env, piper_en) -> None:
    output, speaker, _, events = make_output(settings_env, piper_en)
    first = asyncio.create_task(output.say(LONG_REPLY))
    second = asyncio.create_task(output.say("This reply was waiting and must never be heard."))
    await asyncio.wait_for(output.playing.wait(), 10)
    await asyncio.sleep(0.8)
    assert output.speaking and output.audible()
    cut = await output.interrupt()
    dropped = await second
    result = await first
    await output.close()
    assert cut is result and result.interrupted
    assert result.spoken and LONG_REPLY.startswith(result.spoken) and len(result.spoken) < len(LONG_REPLY) / 2
    assert dropped.interrupted and dropped.spoken == ""
    assert events[-1] == SpeechFinished(spoken=result.spoken, interrupted=True, at=events[-1].at)
    assert speaker.queue.pending_frames == 0 and not output.speaking


async def test_cancelling_a_reply_silences_it(settings_env, piper_en) -> None:
    output, speaker, _, events = make_output(settings_env, piper_en)
    speaking = asyncio.create_task(output.say(LONG_REPLY))
    await asyncio.wait_for(output.playing.wait(), 10)
    speaking.cancel()
    with pytest.raises(asyncio.CancelledError):
        await speaking
    assert speaker.queue.pending_frames == 0 and not output.speaking
    assert output.last_result is not None and output.last_result.interrupted
    assert isinstance(events[-1], SpeechFinished) and events[-1].interrupted
    await output.close()


async def test_stop_command_cuts_the_voice(settings_env, piper_en) -> None:
    output, _, _, _ = make_output(settings_env, piper_en)
    settings = settings_from({**settings_env, "LOKI_DRY_RUN": "0"})
    orch = build_orchestrator(settings, reply=output)
    orch.context = lambda: Context("linux", "xterm", "bash")
    speaking = asyncio.create_task(output.say(LONG_REPLY))
    await asyncio.wait_for(output.playing.wait(), 10)
    turn = await orch.handle("stop")
    result = await speaking
    orch.executor.close()
    await output.close()
    assert turn.actions == [{"type": "stop"}] and result.interrupted


async def test_earcons_play_unless_turned_off(settings_env, piper_en) -> None:
    output, speaker, _, _ = make_output(settings_env, piper_en, speed=4.0)
    await output.earcon("listening", wait=True)
    await output.close()
    assert 0.1 < loud_seconds(speaker.recorded(), speaker.sample_rate_hz) < 0.5

    output, speaker, _, _ = make_output(settings_env, piper_en, speed=4.0, LOKI_EARCONS="0")
    await output.earcon("listening", wait=True)
    await output.close()
    assert speaker.starts == 0 and loud_seconds(speaker.recorded(), speaker.sample_rate_hz) == 0.0
    with pytest.raises(ValueError, match="unknown earcon"):
        await output.earcon("fanfare")


async def test_missing_voice_falls_back_to_espeak(settings_env, piper_en) -> None:
    settings = settings_from(
        {**settings_env, "LOKI_VOICE": "no-such-voice", "LOKI_MODELS_DIR": str(Path(settings_env["LOKI_STATE_DIR"]))}
    )
    output = SpeechOutput(settings, speaker=RecordingSpeaker(speed=4.0))
    (name,) = await output.load(("en",))
    await output.close()
    assert name == "espeak-ng:en-us"


async def test_russian_uses_the_piper_voice_set_in_voice_ru(settings_env) -> None:
    # No Russian Piper voice ships on PyPI; any Piper voice proves the wiring (users `loki models pull`).
    settings = settings_from({**settings_env, "LOKI_VOICE_RU": str(default_voice_files().model)})
    output = SpeechOutput(settings, speaker=RecordingSpeaker(speed=4.0))
    assert await output.load(("ru",)) == ["en_US-joe-medium"]
    await output.close()
    espeak = SpeechOutput(settings_from(settings_env), speaker=RecordingSpeaker(speed=4.0))
    assert await espeak.load(("ru",)) == ["espeak-ng:ru"]
    await espeak.close()


def test_speak_out_writes_a_wav(tmp_path: Path, capsys, monkeypatch) -> None:
    from loki.cli import main

    monkeypatch.chdir(tmp_path)
    wav = tmp_path / "reply.wav"
    assert main(["speak", "--json", "--out", str(wav), "It is ten past four.", "Anything else?"]) == 0
    report = __import__("json").loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["ttfa_ms"] > 0 and report["audio_s"] > 1.0
    with wave.open(str(wav), "rb") as w:
        assert (w.getnchannels(), w.getsampwidth(), w.getframerate()) == (1, 2, 22050)
        assert abs(w.getnframes() / 22050 - report["audio_s"]) < 0.01
        audio = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2")
    assert np.max(np.abs(audio)) > 3000
