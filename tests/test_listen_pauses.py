"""A request said in more than one breath: what follows a short pause is more of the same request.

The daemon acts at once on a rule said whole ("volume up"); dictation and words no rule says as they
are wait GO_ON_S for more, and speech that starts again by then is joined to them and heard as one.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from loki.audio.fake import ArrayMicrophone
from loki.audio.vad import Utterance, vad_utterances
from loki.cli.replay import replay
from loki.config import Settings
from loki.listen import clips
from loki.listen.recognizer import GO_ON_S, heard_in_turns, joined
from loki.screen.fake import FixedWindow
from loki.stt.fake import ScriptedTranscriber
from loki.wiring import build_daemon, build_tiers, load_all_profiles, says_whole


def _utt(start_s: float, seconds: float, speech_end_s: float, value: int) -> Utterance:
    return Utterance(np.full(int(seconds * 16000), value, np.int16), start_s, speech_end_s, 0.0)


def test_joined_audio_runs_on_from_where_the_first_part_ends() -> None:
    first = _utt(1.0, 1.0, 1.9, 1)  # audio to 2.0 s
    overlapping = _utt(1.8, 1.0, 2.6, 2)  # its pre-roll repeats 0.2 s of the first part's tail
    both = joined(first, overlapping)
    assert both.start_s == 1.0 and len(both.audio) == 16000 + 12800
    assert (both.audio[:16000] == 1).all() and (both.audio[16000:] == 2).all()
    assert both.speech_end_s == 2.6
    later = _utt(2.25, 0.5, 2.7, 3)  # 0.25 s nobody kept: silence
    both = joined(first, later)
    assert len(both.audio) == 16000 + 4000 + 8000 and (both.audio[16000:20000] == 0).all()


def test_offline_parts_are_joined_as_the_daemon_joins_them() -> None:
    """Each part is heard; one that is not a complete command takes the next when it began within GO_ON_S."""
    parts = [
        _utt(0.0, 1.0, 0.9, 1),  # "type I'll be late"
        _utt(1.2, 1.0, 2.1, 2),  # "the train is stuck": began 0.3 s (pre-roll) + 0.3 s after the end
        _utt(2.1 + GO_ON_S, 1.0, 3.5, 3),  # began too late to be part of it
        _utt(5.0, 1.0, 5.9, 4),  # "volume up"
        _utt(6.0, 1.0, 6.9, 5),  # "next tab": "volume up" was whole, so a request of its own
    ]
    words = {1: "type I'll be late", 2: "the train is stuck", 3: "hello", 4: "volume up", 5: "next tab"}

    def text_of(audio: np.ndarray) -> str:
        return " ".join(words[v] for v in dict.fromkeys(int(x) for x in audio if x))

    texts = heard_in_turns(parts, text_of, lambda text: text in ("volume up", "next tab"), preroll_s=0.3)
    assert texts == ["type I'll be late the train is stuck", "hello", "volume up", "next tab"]


def test_only_commands_said_whole_are_complete(tmp_path: Path, dry_run_settings: Callable[..., Settings]) -> None:
    settings = dry_run_settings()
    whole = says_whole(build_tiers(settings, load_all_profiles(settings)))
    for text in ("Volume up.", "open the browser", "next tab", "help", "go to sleep", "press enter"):
        assert whole(text, "en"), text
    for text in ("type I'll be late", "open the", "get rid of this tab", "what's the weather", "search for"):
        assert not whole(text, "en"), text
    assert whole("громче", "ru") and whole("открой браузер", "ru") and not whole("открой", "ru")


def _bursts(gaps_s: list[float]) -> np.ndarray:
    """Voiced buzzes the VAD takes for speech, `gaps_s` apart."""
    burst = clips.buzz()
    parts = [clips.silence(0.5), burst]
    for gap in gaps_s:
        parts += [clips.silence(gap), burst]
    return clips.join(*parts, clips.silence(1.5))


async def _turns(settings: Settings, audio: np.ndarray, texts: list[str]) -> tuple[list[Any], ScriptedTranscriber]:
    holder: dict[str, Any] = {}
    results: list[Any] = []

    async def paced() -> None:
        await holder["daemon"].wait_idle()

    stt = ScriptedTranscriber(texts)
    daemon = build_daemon(
        settings,
        mic=ArrayMicrophone(audio, gate=paced),
        transcriber=stt,
        context=FixedWindow("xterm", "~"),
        on_turn=lambda result, _command: results.append(result),
        rescue_commands=False,  # rescoring needs a real speech model and real speech
    )
    holder["daemon"] = daemon
    await daemon.run()
    return results, stt


async def test_dictation_goes_on_after_a_pause(dry_run_settings: Callable[..., Settings]) -> None:
    """The two parts are transcribed again as one, and the one turn types all of it."""
    results, stt = await _turns(
        dry_run_settings(),
        _bursts([0.45]),
        ["Hey Loki, type I'll be late.", "Hey Loki, type I'll be late, the train is stuck."],
    )
    assert [r.actions for r in results] == [[{"type": "type", "text": "I'll be late, the train is stuck"}]]
    assert not stt.texts  # both scripted transcripts were used: the first part, then both parts as one


async def test_a_command_said_whole_is_acted_on_at_once(dry_run_settings: Callable[..., Settings]) -> None:
    """ "volume up" is not held for more: what follows the pause is a request of its own (in the follow-up)."""
    results, _stt = await _turns(dry_run_settings(), _bursts([0.45]), ["Hey Loki, volume up.", "next tab"])
    assert [r.actions for r in results] == [
        [{"type": "volume", "delta": 10}],
        [{"type": "hotkey", "keys": ["ctrl", "tab"]}],
    ]


async def test_the_wake_phrase_again_starts_a_request_of_its_own(dry_run_settings: Callable[..., Settings]) -> None:
    results, _stt = await _turns(
        dry_run_settings(),
        _bursts([0.45]),
        [
            "Hey Loki, get rid of this tab.",
            "Hey Loki, get rid of this tab. Hey Loki, volume up.",
            "Hey Loki, volume up.",
        ],
    )
    assert [r.actions for r in results] == [
        [{"type": "hotkey", "keys": ["ctrl", "w"]}],
        [{"type": "volume", "delta": 10}],
    ]


async def test_a_longer_pause_ends_the_request(dry_run_settings: Callable[..., Settings]) -> None:
    results, _stt = await _turns(
        dry_run_settings(), _bursts([1.5]), ["Hey Loki, type I'll be late.", "Hey Loki, type see you."]
    )
    assert [r.actions for r in results] == [
        [{"type": "type", "text": "I'll be late"}],
        [{"type": "type", "text": "see you"}],
    ]


# With the real speech model ---------------------------------------------------------------------------
def _said(parts: list[str], voice: clips.Voice, gap_s: float = 0.5) -> np.ndarray:
    audio = [clips.silence(0.5), clips.say(parts[0], voice)]
    for part in parts[1:]:
        audio += [clips.silence(gap_s), clips.say(part, voice)]
    return clips.with_noise(clips.join(*audio, clips.silence(1.5)), snr_db=28, seed=1)


@pytest.mark.models
@pytest.mark.parametrize(
    ("parts", "action"),
    [
        (["hey loki, open the", "browser"], {"type": "launch", "app": "browser"}),
        (["hey loki, type I'll be late", "the train is stuck"], "I'll be late"),
    ],
)
async def test_real_speech_after_a_pause_is_the_same_request(
    parts: list[str], action: Any, dry_run_settings: Callable[..., Settings]
) -> None:
    """Piper's voice with half a second between the parts: one turn, the whole request (tiny.en)."""
    audio = _said(parts, clips.Voice("piper"))
    assert len(vad_utterances(audio)) >= 2  # the VAD did cut it (Piper, which samples, may pause once more)
    (turn,) = await replay(audio, dry_run_settings())
    if isinstance(action, dict):
        assert turn.actions == [action]
    else:
        (typed,) = turn.actions
        assert typed["type"] == "type" and typed["text"].startswith(action) and "train" in typed["text"], typed


@pytest.mark.models
async def test_real_russian_speech_after_a_pause_is_the_same_request(
    festival_ru: clips.Voice, dry_run_settings: Callable[..., Settings]
) -> None:
    """«эй локи, открой» … «браузер» in festival's Russian voice (the multilingual model)."""
    audio = _said(["эй локи, открой", "браузер"], festival_ru)
    assert len(vad_utterances(audio)) >= 2
    (turn,) = await replay(audio, dry_run_settings(LOKI_LANGUAGE="ru"))
    assert turn.actions == [{"type": "launch", "app": "browser"}]
