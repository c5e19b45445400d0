"""Wake word: the phrase matcher, true triggers on synthesized voices, no triggers on other speech.

Audio goes through the same path as the microphone (`loki.cli.replay`, dry-run), with the
real speech model.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from loki.audio.wav import read_wav, write_wav
from loki.cli.replay import replay
from loki.config import Settings, settings_from
from loki.events import Event, WakeDetected
from loki.listen import clips
from loki.listen.wake.phrase import DEFAULT_ALIASES, WakePhrases, default_phrases, sound_key

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize(
    ("text", "remainder"),
    [
        ("Hey Loki!", ""),
        ("Hey, Loki, open the browser.", "open the browser."),
        ("Hey Lokey.", ""),
        ("hey low key open the browser", "open the browser"),
        ("Hi Loki, new tab", "new tab"),
        ("Okay, hey Loki.", ""),
        ("Эй, Локи, открой браузер", "открой браузер"),
        ("Hey Loggy, scroll down!", "scroll down!"),
        # a word after the phrase that adds nothing to its sound is the command's: "undo" heard as "I do"
        ("Hey Loki, I do.", "I do."),
        ("эй локи и открой браузер", "и открой браузер"),
    ],
)
def test_phrase_found_at_the_start(text: str, remainder: str) -> None:
    match = WakePhrases(default_phrases("hey loki"), aliases=DEFAULT_ALIASES).match(text)
    assert match is not None and match.remainder == remainder


@pytest.mark.parametrize(
    "text",
    [
        "Hey Jarvis.",
        "Okay, Naboo.",
        "Alexa.",
        "Computer.",
        "hey siri",
        "Hey, look at this.",
        "hello kitty",
        "Hey lucky",
        "Hey Mickey",
        "hey, Rocky",
        "Open the browser",
        "I like Loki movies",
        "Hey look",
        "Lock it",
        "Hello kid",  # how tiny.en sometimes writes "hey loki" - but only the audio can tell (see below)
        "",
    ],
)
def test_phrase_not_found(text: str) -> None:
    assert WakePhrases(default_phrases("hey loki"), aliases=DEFAULT_ALIASES).match(text) is None


def test_custom_phrase_and_sound_key() -> None:
    phrases = WakePhrases(default_phrases("computer"))
    assert phrases.phrases == ["computer"]
    assert phrases.match("Computer, new tab").remainder == "new tab"
    assert sound_key("Lokey") == sound_key("Loky") == sound_key("Локи") == sound_key("low key")


# With the real speech model -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def listen_settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    tmp = tmp_path_factory.mktemp("wake")
    return settings_from(
        {
            "LOKI_STATE_DIR": str(tmp / "state"),
            "LOKI_USER_PROFILES_DIR": str(tmp / "profiles"),
            "LOKI_LLM_BACKEND": "none",
            "LOKI_DRY_RUN": "1",
            "LOKI_TRACE": "0",
        }
    )


@pytest.fixture(scope="module")
def transcriber(listen_settings: Settings):
    from loki.listen.wake import build_wake
    from loki.wiring import load_all_profiles, load_transcriber, stt_vocabulary

    profiles = load_all_profiles(listen_settings)
    return load_transcriber(listen_settings, stt_vocabulary(listen_settings, profiles, build_wake(listen_settings)))


async def _run(audio: np.ndarray, settings: Settings, transcriber, *, require_wake: bool = True):
    events: list[Event] = []
    results = await replay(audio, settings, transcriber=transcriber, require_wake=require_wake, on_event=events.append)
    wakes = [e for e in events if isinstance(e, WakeDetected)]
    return results, wakes


def _spaced(parts: list[np.ndarray], gap_s: float = 1.5) -> np.ndarray:
    out = [clips.silence(0.5)]
    for part in parts:
        out += [part, clips.silence(gap_s)]
    return clips.join(*out)


TRUE_TRIGGER_VOICES = [
    clips.Voice("espeak", "en-us", 160),
    clips.Voice("espeak", "en-gb", 140),
    clips.Voice("espeak", "en-us+f3", 175),
    clips.Voice("espeak", "en-gb-scotland", 150),
    clips.Voice("espeak", "en-029", 165),
    clips.Voice("espeak", "en-us+m7", 140),
    clips.Voice("espeak", "en-gb-x-rp+f2", 170),
    clips.Voice("espeak", "en-us+klatt2", 150),
    clips.Voice("piper", length_scale=1.0),
    clips.Voice("piper", length_scale=1.2),
]


@pytest.mark.models
async def test_wake_phrase_is_caught_in_varied_voices(listen_settings: Settings, transcriber) -> None:
    parts = [clips.with_noise(clips.say("hey loki", v), snr_db=30, seed=i) for i, v in enumerate(TRUE_TRIGGER_VOICES)]
    results, wakes = await _run(_spaced(parts, gap_s=1.2), listen_settings, transcriber)
    assert len(wakes) >= 0.9 * len(parts), [str(v) for v in TRUE_TRIGGER_VOICES]
    # The phrase alone opens a window; nothing to do. A clip misheard outright (once in CI: "love you.")
    # lands in the window opened by the one before and is routed: it may only be one of the clips the
    # wake count above missed, and it must not act.
    assert len(results) <= len(parts) - len(wakes), [r.text for r in results]
    assert not [r.actions for r in results if r.actions], [r.text for r in results]


@pytest.mark.models
async def test_human_keyword_list_never_wakes(listen_settings: Settings, transcriber, testdata: Path) -> None:
    results, wakes = await _run(read_wav(testdata / "human_keywords_en.wav"), listen_settings, transcriber)
    assert wakes == [] and results == []


@pytest.mark.models
async def test_other_wake_words_do_not_wake_loki(listen_settings: Settings, transcriber, testdata: Path) -> None:
    names = ("wake_alexa.wav", "wake_computer.wav", "wake_hey_jarvis.wav", "wake_okay_nabu.wav")
    others = [read_wav(testdata / name) for name in names]
    assert len(others) == 4
    results, wakes = await _run(_spaced(others), listen_settings, transcriber)
    assert wakes == [] and results == []


@pytest.mark.models
async def test_commands_without_the_wake_phrase_are_ignored(
    listen_settings: Settings, transcriber, testdata: Path
) -> None:
    audio = _spaced(
        [
            read_wav(testdata / "human_turn_on_the_living_room_lamp.wav"),
            clips.say("open the browser", clips.Voice("espeak")),
        ]
    )
    results, wakes = await _run(audio, listen_settings, transcriber)
    assert wakes == [] and results == []


@pytest.mark.models
async def test_one_breath_wake_and_command(listen_settings: Settings, transcriber) -> None:
    audio = _spaced([clips.say("hey loki, open the browser", clips.Voice("espeak", "en-us", 165))])
    results, wakes = await _run(audio, listen_settings, transcriber)
    assert len(wakes) == 1
    (turn,) = results
    assert turn.tier == 0 and turn.actions == [{"type": "launch", "app": "browser"}]
    assert "loki" not in turn.text.lower()
    assert {"speech_end_to_transcript", "speech_end_to_action"} <= set(turn.timings_ms)


@pytest.mark.models
async def test_wake_phrase_then_pause_then_command(listen_settings: Settings, transcriber) -> None:
    voice = clips.Voice("piper")
    audio = _spaced([clips.join(clips.say("hey loki", voice), clips.silence(1.2), clips.say("open a new tab", voice))])
    results, wakes = await _run(audio, listen_settings, transcriber)
    assert len(wakes) == 1
    (turn,) = results
    assert turn.tier == 0 and turn.actions == [{"type": "hotkey", "keys": ["ctrl", "t"]}]


@pytest.mark.models
async def test_command_window_closes(listen_settings: Settings, transcriber) -> None:
    """The wake phrase alone, then a command long after the window: nothing happens."""
    voice = clips.Voice("espeak", "en-us", 160)
    late = listen_settings.command_window_s + 2.0
    audio = _spaced([clips.join(clips.say("hey loki", voice), clips.silence(late), clips.say("open a new tab", voice))])
    results, wakes = await _run(audio, listen_settings, transcriber)
    assert len(wakes) == 1 and results == []


@pytest.mark.models
async def test_follow_up_needs_no_wake_word(listen_settings: Settings, transcriber) -> None:
    voice = clips.Voice("espeak", "en-us", 160)
    audio = _spaced(
        [
            clips.say("hey loki, open a new tab", voice),
            clips.say("scroll down", voice),  # within the follow-up window
            clips.join(clips.silence(listen_settings.followup_s + 1.5), clips.say("close the tab", voice)),  # too late
        ],
        gap_s=1.0,
    )
    results, _ = await _run(audio, listen_settings, transcriber)
    assert [r.actions for r in results] == [
        [{"type": "hotkey", "keys": ["ctrl", "t"]}],
        [{"type": "scroll", "clicks": -5}],
    ]


@pytest.mark.models
def test_replay_command_line_prints_one_json_line_per_turn(tmp_path: Path, listen_settings: Settings) -> None:
    voice = clips.Voice("espeak", "en-us", 160)
    audio = _spaced(
        [
            clips.say("hey loki, open the browser", voice),
            clips.say("hey loki", voice),
            clips.join(clips.silence(0.5), clips.say("new tab", voice)),
        ]
    )
    wav = tmp_path / "two_turns.wav"
    write_wav(wav, audio)
    env = {
        **os.environ,
        "LOKI_STATE_DIR": str(tmp_path / "state"),
        "LOKI_USER_PROFILES_DIR": str(tmp_path / "p"),
        "LOKI_LLM_BACKEND": "none",
    }
    out = subprocess.run(
        [sys.executable, "-m", "loki", "--env-file", "/dev/null", "replay", "--dry-run", "--json", str(wav)],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert [line["actions"] for line in lines] == [
        [{"type": "launch", "app": "browser"}],
        [{"type": "hotkey", "keys": ["ctrl", "t"]}],
    ]
    for line in lines:
        assert {"transcript", "tier", "actions", "reply", "timings_ms"} <= set(line)
        assert line["timings_ms"]["speech_end_to_transcript"] <= line["timings_ms"]["speech_end_to_action"]


def test_russian_clips_come_in_festivals_voice_at_three_speeds(festival_ru: clips.Voice) -> None:
    voices = clips.voices_ru()
    assert [v.engine for v in voices] == ["festival"] * 3 and festival_ru in voices
    seconds = [len(clips.say("закрой вкладку", v)) / 16000 for v in voices]
    assert seconds == sorted(seconds) and seconds[-1] > seconds[0] * 1.2, seconds  # slower really is slower


@pytest.mark.models
async def test_russian_wake_phrase_then_command(tmp_path: Path, festival_ru: clips.Voice) -> None:
    """LOKI_LANGUAGE=ru: «эй локи», a pause, «закрой вкладку» -> close the tab (multilingual base model,
    festival's Russian voice)."""
    settings = settings_from(
        {
            "LOKI_LANGUAGE": "ru",
            "LOKI_LLM_BACKEND": "none",
            "LOKI_DRY_RUN": "1",
            "LOKI_TRACE": "0",
            "LOKI_STATE_DIR": str(tmp_path / "s"),
            "LOKI_USER_PROFILES_DIR": str(tmp_path / "p"),
        }
    )
    voice = festival_ru
    audio = _spaced([clips.join(clips.say("эй локи", voice), clips.silence(1.0), clips.say("закрой вкладку", voice))])
    events: list[Event] = []
    results = await replay(audio, settings, on_event=events.append)
    assert [e.phrase for e in events if isinstance(e, WakeDetected)] == ["эй локи"]
    (turn,) = results
    assert turn.language == "ru" and turn.actions == [{"type": "hotkey", "keys": ["ctrl", "w"]}]


def test_wake_engine_follows_the_settings(tmp_path: Path) -> None:
    from loki.errors import ConfigError, ModelError
    from loki.listen.wake import build_wake

    base = {
        "LOKI_STATE_DIR": str(tmp_path / "s"),
        "LOKI_USER_PROFILES_DIR": str(tmp_path / "p"),
        "LOKI_MODELS_DIR": str(tmp_path / "m"),
    }
    assert build_wake(settings_from(base)).kind == "whisper"  # keyless default
    assert build_wake(settings_from({**base, "LOKI_WAKE_ENGINE": "none"})).kind == "none"
    assert build_wake(settings_from({**base, "PICOVOICE_ACCESS_KEY": "k"})).kind == "whisper"  # a key but no keyword
    with pytest.raises(ConfigError, match="PICOVOICE_ACCESS_KEY"):
        build_wake(settings_from({**base, "LOKI_WAKE_ENGINE": "porcupine"}))
    with pytest.raises(ModelError, match="Porcupine could not start"):
        build_wake(settings_from({**base, "PICOVOICE_ACCESS_KEY": "not-a-key", "LOKI_WAKE_MODEL": "jarvis"}))
    with pytest.raises(ModelError, match="no built-in keyword"):
        build_wake(
            settings_from(
                {**base, "LOKI_WAKE_ENGINE": "porcupine", "PICOVOICE_ACCESS_KEY": "k", "LOKI_WAKE_MODEL": "hey loki"}
            )
        )
    with pytest.raises(ConfigError, match="openWakeWord"):
        build_wake(settings_from({**base, "LOKI_WAKE_ENGINE": "openwakeword"}))
    bad = tmp_path / "m" / "wake" / "hey_loki.onnx"
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not onnx")
    with pytest.raises(ModelError, match="Cannot load the wake-word model"):
        build_wake(settings_from({**base, "LOKI_WAKE_MODEL": "hey_loki"}))  # auto picks openWakeWord for a model


# A real openWakeWord model (openWakeWord's own "hey jarvis" and "alexa", from its wheel on PyPI) ---------
def _heard(engine, audio: np.ndarray) -> list[str]:
    """What a streaming engine detects in `audio`, fed in the microphone's 30 ms frames."""
    from loki.audio.frames import to_int16

    pcm = to_int16(audio)
    found = [engine.process(pcm[i : i + 480]) for i in range(0, len(pcm), 480)]
    return [d.name for d in found if d is not None]


@pytest.mark.models
def test_an_openwakeword_model_wakes_on_its_phrase_only(openwakeword_models: Path, testdata: Path) -> None:
    from loki.listen.wake import OnnxWake

    jarvis = OnnxWake(openwakeword_models / "hey_jarvis_v0.1.onnx")
    assert _heard(jarvis, read_wav(testdata / "wake_hey_jarvis.wav")) == ["hey_jarvis_v0.1"]
    for voice in (clips.Voice("piper"), clips.Voice("espeak", "en-us", 140), clips.Voice("espeak", "en-gb+f1", 140)):
        jarvis.reset()
        said = clips.join(clips.silence(0.5), clips.say("hey jarvis", voice), clips.silence(1.0))
        assert _heard(jarvis, said) == ["hey_jarvis_v0.1"], voice
    others = ["wake_alexa.wav", "wake_computer.wav", "wake_okay_nabu.wav", "human_keywords_en.wav"]
    for name in others:
        jarvis.reset()
        assert _heard(jarvis, read_wav(testdata / name)) == [], name
    jarvis.reset()
    assert _heard(jarvis, clips.say("hey loki, open the browser", clips.Voice("piper"))) == []

    # A quiet room (noise at -66 dBFS) rests the embedding model; the first word after it still wakes.
    wake = clips.join(clips.silence(4.0), read_wav(testdata / "wake_hey_jarvis.wav"))
    quiet_room = wake + np.random.default_rng(3).normal(0.0, 0.0005, len(wake)).astype(np.float32)
    jarvis.reset()
    assert _heard(jarvis, quiet_room) == ["hey_jarvis_v0.1"]
    assert jarvis.skipped_chunks >= 20  # 4 s is 50 chunks; resting starts 2 s after the last sound
    # A noisy room (speech 3 dB over the noise) never rests: soft speech in it is not missed.
    jarvis.reset()
    _heard(jarvis, clips.with_noise(wake, snr_db=3, seed=1))
    assert jarvis.skipped_chunks == 0

    alexa = OnnxWake(openwakeword_models / "alexa_v0.1.onnx")
    assert _heard(alexa, read_wav(testdata / "wake_alexa.wav")) == ["alexa_v0.1"]
    alexa.reset()
    assert _heard(alexa, read_wav(testdata / "human_keywords_en.wav")) == ["alexa_v0.1"]  # the list's first word


@pytest.mark.models
async def test_replay_with_an_openwakeword_model(
    openwakeword_models: Path, testdata: Path, tmp_path: Path, transcriber
) -> None:
    """LOKI_WAKE_MODEL=hey_jarvis (in models/wake/): the model wakes LOKI, Whisper hears only the command."""
    store = tmp_path / "models"
    (store / "wake").mkdir(parents=True)
    (store / "wake" / "hey_jarvis.onnx").symlink_to(openwakeword_models / "hey_jarvis_v0.1.onnx")
    settings = settings_from(
        {
            "LOKI_STATE_DIR": str(tmp_path / "state"),
            "LOKI_USER_PROFILES_DIR": str(tmp_path / "profiles"),
            "LOKI_MODELS_DIR": str(store),
            "LOKI_WAKE_MODEL": "hey_jarvis",
            "LOKI_LLM_BACKEND": "none",
            "LOKI_DRY_RUN": "1",
            "LOKI_TRACE": "0",
        }
    )
    voice = clips.Voice("piper")
    audio = _spaced(
        [
            clips.say("open the browser", voice),  # no wake word: not even transcribed
            clips.say("hey loki, open the browser", voice),  # not this engine's phrase
            clips.join(read_wav(testdata / "wake_hey_jarvis.wav"), clips.say("open a new tab", voice)),
            clips.join(clips.silence(settings.followup_s), clips.say("hey jarvis, scroll down", voice)),  # one breath
        ],
        gap_s=2.0,
    )
    results, wakes = await _run(audio, settings, transcriber)
    assert [(w.source, w.phrase) for w in wakes] == [("wake", "hey_jarvis"), ("wake", "hey_jarvis")]
    assert [r.actions for r in results] == [
        [{"type": "hotkey", "keys": ["ctrl", "t"]}],
        [{"type": "scroll", "clicks": -5}],
    ]
    assert all("jarvis" not in r.text.lower() for r in results)
