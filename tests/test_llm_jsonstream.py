"""Reading a JSON plan while it streams: actions known early, the reply handed out piece by piece."""

from __future__ import annotations

import json
import random

import pytest

from loki.llm.jsonstream import ObjectStream

REPLY = 'Paris — "the city of light" \\ café ☕ 😀\nend'
TEXT = json.dumps(
    {
        "actions": [{"type": "hotkey", "keys": ["ctrl", "}"]}, {"type": "type", "text": 'a"]}{'}],
        "reply": REPLY,
        "n": -1.5,
        "ok": True,
    }
)


@pytest.mark.parametrize("seed", range(20))
def test_any_split_gives_the_same_reading(seed: int) -> None:
    rng = random.Random(seed)
    reader = ObjectStream("reply")
    streamed, i, actions_seen_before_reply_done = [], 0, False
    while i < len(TEXT):
        step = rng.randint(1, 9)
        reader.feed(TEXT[i : i + step])
        i += step
        streamed.append(reader.take_streamed())
        if reader.has("actions") and not reader.streamed_done:
            actions_seen_before_reply_done = True
    assert actions_seen_before_reply_done
    assert "".join(streamed) == REPLY
    assert reader.closed and reader.whole() == json.loads(TEXT)
    assert reader.value("actions")[1]["text"] == 'a"]}{'
    assert reader.value("n") == -1.5 and reader.value("ok") is True


def test_escapes_split_across_pieces_are_held_back() -> None:
    reader = ObjectStream("reply")
    reader.feed('{"actions": [], "reply": "caf\\u00')
    assert reader.take_streamed() == "caf"
    reader.feed("e9 \\ud83d")
    assert reader.take_streamed() == "é "
    reader.feed("\\ude00 \\")
    assert reader.take_streamed() == "😀 "
    reader.feed('n"}')
    assert reader.take_streamed() == "\n" and reader.streamed_done and reader.closed


def test_text_around_the_object_is_ignored_and_incomplete_objects_are_errors() -> None:
    reader = ObjectStream("reply")
    reader.feed('```json\n{"reply": "hi", "actions": [')
    assert reader.started and reader.streamed_done and not reader.has("actions")
    with pytest.raises(ValueError, match="incomplete"):
        reader.whole()
    reader.feed("]}\n```")
    assert reader.whole() == {"reply": "hi", "actions": []}
    nothing = ObjectStream("reply")
    nothing.feed("I cannot help with that.")
    assert not nothing.started
    with pytest.raises(ValueError):
        nothing.whole()
