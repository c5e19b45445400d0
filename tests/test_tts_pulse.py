"""Speaking on a real audio server: PulseAudio with a null sink, recorded back from its monitor.

What reached the server is checked in the recording (parec on `loki_null.monitor`), never timed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator

import numpy as np
import pytest

from loki.audio.pulse import MonitorRecorder
from loki.audio.speaker import Speaker
from loki.config import settings_from
from loki.errors import AudioError
from loki.tts import SpeechOutput
from loki.tts.voices import PiperSynthesizer, default_voice_files

pytestmark = pytest.mark.audio

MONITOR_RATE_HZ = 16000
LOUD = 0.02  # -34 dBFS: speech is far above, the null sink's silence is exactly 0
LONG_REPLY = (
    "Here is the forecast for the whole week, as you asked. Monday will be sunny and warm. "
    "Tuesday brings clouds in the morning and light rain in the evening. Wednesday stays grey and cool. "
    "Thursday and Friday should be dry again, with a light wind from the west."
)


@pytest.fixture(scope="module")
def piper_en() -> PiperSynthesizer:
    """The embedded default voice, loaded and warmed once."""
    synth = PiperSynthesizer(default_voice_files())
    synth.synthesize("Hello.")
    return synth


@pytest.fixture
def recorder(pulse: dict[str, str]) -> Iterator[MonitorRecorder]:
    """A running recording of everything played on the null sink."""
    rec = MonitorRecorder()
    rec.wait_flowing()
    yield rec
    rec.stop()


def loud_span_s(audio: np.ndarray) -> float:
    """Seconds from the first to the last loud sample."""
    loud = np.flatnonzero(np.abs(audio) > LOUD)
    return 0.0 if len(loud) == 0 else (loud[-1] - loud[0]) / MONITOR_RATE_HZ


def quiet_tail_s(audio: np.ndarray) -> float:
    """Seconds of quiet after the last loud sample."""
    loud = np.flatnonzero(np.abs(audio) > LOUD)
    return len(audio) / MONITOR_RATE_HZ if len(loud) == 0 else (len(audio) - 1 - loud[-1]) / MONITOR_RATE_HZ


def make_output(settings_env: dict[str, str], piper_en: PiperSynthesizer, **env: str) -> SpeechOutput:
    settings = settings_from({**settings_env, "LOKI_REPLY_MODE": "voice", **env})
    return SpeechOutput(settings, voices={"en": piper_en})


async def test_speech_reaches_the_audio_server(settings_env, piper_en, recorder) -> None:
    output = make_output(settings_env, piper_en)
    await output.start(("en",))
    result = await output.say("Okay, I opened the browser for you. It is ten past four.")
    await asyncio.sleep(0.3)
    audio = recorder.stop()
    await output.close()
    assert not result.interrupted and result.spoken == result.text and result.ttfa_ms is not None
    assert loud_span_s(audio) > 0.6 * result.audio_s  # the sentences were played, not a click
    assert np.sqrt(np.mean(audio[np.abs(audio) > LOUD] ** 2)) > 0.05
    assert not output.speaking and not output.playing.is_set()


async def test_barge_in_stops_the_audio_and_keeps_only_what_was_said(settings_env, piper_en, recorder) -> None:
    output = make_output(settings_env, piper_en)
    await output.start(("en",))
    speaking = asyncio.create_task(output.say(LONG_REPLY))
    await asyncio.wait_for(output.playing.wait(), 10)
    await asyncio.sleep(1.2)  # mid-sentence
    assert output.audible()
    cut = await output.interrupt()
    await asyncio.sleep(1.5)
    audio = recorder.stop()
    result = await speaking
    await output.close()
    assert cut is result and result.interrupted
    assert result.spoken and LONG_REPLY.startswith(result.spoken) and len(result.spoken) < len(LONG_REPLY) / 2
    assert loud_span_s(audio) > 0.5  # it did speak...
    assert loud_span_s(audio) < 4.0  # ...but far less than the ~12 s the whole reply takes
    assert quiet_tail_s(audio) > 1.0  # and then it stayed silent
    assert output.last_sample_at < output.interrupted_at + 0.5  # nothing was written after the fade


async def test_streamed_reply_plays_from_an_async_generator(settings_env, piper_en, recorder) -> None:
    text = "Sure, here is the plan. First I open the browser. Then I search for the weather."

    async def llm_tokens() -> AsyncIterator[str]:
        for word in text.split(" "):
            await asyncio.sleep(0.03)
            yield word + " "

    output = make_output(settings_env, piper_en)
    await output.start(("en",))
    await output.stream(llm_tokens(), "en")
    await asyncio.sleep(0.3)
    audio = recorder.stop()
    await output.close()
    result = output.last_result
    assert result is not None and result.spoken == text and not result.interrupted
    assert loud_span_s(audio) > 3.0


async def test_russian_reply_uses_espeak_and_is_heard(settings_env, piper_en, recorder) -> None:
    output = make_output(settings_env, piper_en)
    await output.start(("en",))
    result = await output.say("Привет! Сейчас десять минут пятого.", "ru")
    await asyncio.sleep(0.3)
    audio = recorder.stop()
    await output.close()
    assert result.spoken == "Привет! Сейчас десять минут пятого."
    assert loud_span_s(audio) > 1.0


async def test_earcons_off_play_nothing(settings_env, piper_en, recorder) -> None:
    output = make_output(settings_env, piper_en, LOKI_EARCONS="0")
    await output.earcon("listening", wait=True)
    await output.close()
    await asyncio.sleep(0.3)
    assert loud_span_s(recorder.stop()) == 0.0


async def test_earcon_is_heard(settings_env, piper_en, recorder) -> None:
    output = make_output(settings_env, piper_en)
    await output.earcon("done", wait=True)
    await asyncio.sleep(0.3)
    audio = recorder.stop()
    await output.close()
    assert 0.1 < loud_span_s(audio) < 0.5


def test_unknown_speaker_is_an_actionable_error(pulse) -> None:
    with pytest.raises(AudioError, match="LOKI_SPEAKER_DEVICE='no-such-speaker'.*default"):
        Speaker("no-such-speaker").start(22050)


async def test_a_broken_speaker_never_takes_the_daemon_down(settings_env, piper_en, pulse) -> None:
    shown: list[str] = []
    settings = settings_from({**settings_env, "LOKI_REPLY_MODE": "voice", "LOKI_SPEAKER_DEVICE": "no-such-speaker"})
    output = SpeechOutput(settings, voices={"en": piper_en}, show_text=shown.append)
    await output("It is ten past four.", "en")  # logs, shows the text instead, does not raise
    await output.earcon("error")
    await output.close()
    assert shown == ["It is ten past four."]
    assert output.last_error is not None and output.last_error.code == "no_device"


def test_speak_command_plays_and_reports(pulse, tmp_path, capsys, monkeypatch) -> None:
    from loki.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["speak", "--json", "It is ten past four.", "Anything else?"]) == 0
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["ttfa_ms"] > 0 and report["audio_s"] > 1.0 and report["voice"] == "en_US-joe-medium"
