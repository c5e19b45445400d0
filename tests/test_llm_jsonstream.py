"""Reading a JSON plan while it streams: actions known early, the reply handed out piece by piece."""

from __future__ import annotations

import json
import random
import time

import pytest

from loki.errors import LlmError
from loki.llm.jsonstream import MAX_DEPTH, ObjectStream

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


def test_a_400_kb_answer_in_8_character_pieces_is_read_in_linear_time() -> None:
    # Re-joining the text on every piece and re-decoding the whole reply each time took minutes.
    reply = "All work and no play makes Jack a dull boy. \\u00e9 " * 8000
    text = '{"actions": [], "reply": "' + reply + '"}'
    assert len(text) > 400_000
    reader = ObjectStream("reply")
    started = time.perf_counter()
    streamed = []
    for i in range(0, len(text), 8):
        reader.feed(text[i : i + 8])
        streamed.append(reader.take_streamed())
    assert time.perf_counter() - started < 5.0
    assert "".join(streamed) == json.loads(text)["reply"] and reader.whole()["actions"] == []


def test_json_nested_a_thousand_deep_is_refused_as_it_arrives() -> None:
    reader = ObjectStream("reply")
    with pytest.raises(LlmError, match=f"more than {MAX_DEPTH} levels deep"):
        reader.feed('{"actions": ' + "[" * 1000)


def test_a_lone_high_surrogate_does_not_stall_the_streamed_field() -> None:
    reader = ObjectStream("reply")
    reader.feed('{"reply": "a\\ud83d b')
    first = reader.take_streamed()
    reader.feed(' c"}')
    assert first + reader.take_streamed() == "a\ud83d b c"
