"""Tier-0 grammar, normalization and matching on the shipped profiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from loki.errors import ProfileError
from loki.profiles.grammar import GrammarError, compile_phrase
from loki.profiles.keys import key_pattern
from loki.profiles.loader import load_file, load_profiles, shipped_profiles_dir
from loki.profiles.matcher import Matcher
from loki.profiles.normalize import detect_script_language, normalize


@pytest.fixture(scope="module")
def matcher() -> Matcher:
    return Matcher(load_profiles([(shipped_profiles_dir(), False)]))


def actions(matcher: Matcher, text: str, language: str = "en", **ctx: str) -> list[dict] | None:
    m = matcher.match(
        text, language, os_name=ctx.get("os", "linux"), app=ctx.get("app", ""), title=ctx.get("title", "")
    )
    return None if m is None else m.actions


# Normalization ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Could you please open the browser for me?", "open the browser"),
        ("Close the tab for me, would you?", "close the tab"),
        ("I wonder if you could scroll up", "scroll up"),
        ("Hey Loki, volume up by twenty-five percent please", "volume up by 25 percent"),
        ("um, scroll down, uh, three", "scroll down 3"),
        ("What's the time?", "what is the time"),
        ("Открой, пожалуйста, браузер!", "открой браузер"),
        ("прокрути вниз на сто двадцать три", "прокрути вниз на 123"),
        ("Ещё раз", "еще раз"),
        ("one two", "1 2"),
        ("a hundred and five", "a 105"),
    ],
)
def test_normalize(raw: str, expected: str) -> None:
    assert normalize(raw).text == expected


def test_surface_keeps_original_case_and_punctuation() -> None:
    norm = normalize("Type Hello, World")
    start = norm.text.index("hello")
    assert norm.surface(start, len(norm.text)) == "Hello, World"


def test_script_language() -> None:
    assert detect_script_language("открой браузер") == "ru"
    assert detect_script_language("open the browser") == "en"


# Grammar ---------------------------------------------------------------------------------
def test_grammar_optional_alternatives_and_slots() -> None:
    import re

    lists = {"app": {"browser": "browser", "web browser": "browser"}}
    c = compile_phrase("(open | launch) [the] {app} [please]", lists, key_pattern("en"))
    rx = re.compile(c.pattern)
    assert rx.fullmatch(" open the web browser")
    assert rx.fullmatch(" launch browser")
    assert not rx.fullmatch(" open the the browser")
    assert c.slots == ("app",)
    n = re.compile(compile_phrase("scroll down [<number>]", {}, key_pattern("en")).pattern)
    assert n.fullmatch(" scroll down 12").group("number") == "12"
    assert n.fullmatch(" scroll down").group("number") is None
    # The longer alternative is tried first, whichever the author wrote first: "in" is not typed.
    t = re.compile(compile_phrase("(type | type in) <text>", {}, key_pattern("en")).pattern)
    assert t.fullmatch(" type in good night").group("text") == "good night"
    assert t.fullmatch(" type good night").group("text") == "good night"


@pytest.mark.parametrize(
    ("phrase", "message"),
    [
        ("open [the browser", "never closed"),
        ("previous tab(s)", "touches a bracket"),  # a choice picks whole words, never a word's ending
        ("закрой вкладк(у | и)", "touches a bracket"),
        ("open <thing>", "unknown slot"),
        ("open {nolist}", "not defined"),
        ("type <text> and <text>", "used twice"),
        ("open ( | x)", "empty"),
    ],
)
def test_grammar_errors(phrase: str, message: str) -> None:
    with pytest.raises(GrammarError, match=message):
        compile_phrase(phrase, {}, key_pattern("en"))


def test_profile_error_names_file_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "en" / "mine.loki"
    bad.parent.mkdir()
    bad.write_text("# my commands\nopen mail: launch thunderbird\nclose it: hotkey ctrl nosuchkey\n", encoding="utf-8")
    with pytest.raises(ProfileError) as err:
        load_file(bad, default_language="en")
    assert err.value.path == str(bad) and err.value.line == 3
    assert "nosuchkey" in str(err.value) and f"{bad}:3:" in str(err.value)


def test_profile_header_scopes_rules(tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    (folder / "en").mkdir(parents=True)
    (folder / "en" / "firefox.loki").write_text(
        "app: firefox | chromium\n-\nnew tab: hotkey ctrl shift n\n", encoding="utf-8"
    )
    m = Matcher(load_profiles([(shipped_profiles_dir(), False), (folder, True)]))
    assert actions(m, "new tab", app="firefox") == [{"type": "hotkey", "keys": ["ctrl", "shift", "n"]}]
    assert actions(m, "new tab", app="xterm") == [{"type": "hotkey", "keys": ["ctrl", "t"]}]


def test_raw_regex_rule(tmp_path: Path) -> None:
    path = tmp_path / "x.loki"
    path.write_text("language: en\n-\n/zoom (?P<number>\\d+) percent/: hotkey ctrl 0\n", encoding="utf-8")
    m = Matcher(load_profiles([(tmp_path, True)]))
    assert actions(m, "zoom 150 percent") == [{"type": "hotkey", "keys": ["ctrl", "0"]}]


# Matching the shipped profiles -----------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("open the browser", {"type": "launch", "app": "browser"}),
        ("Open a terminal.", {"type": "launch", "app": "terminal"}),
        ("open the file manager", {"type": "launch", "app": "file manager"}),
        ("launch the text editor", {"type": "launch", "app": "editor"}),
        ("open calculator", {"type": "launch", "app": "calculator"}),
        ("new tab", {"type": "hotkey", "keys": ["ctrl", "t"]}),
        ("next tab", {"type": "hotkey", "keys": ["ctrl", "tab"]}),
        ("previous tab", {"type": "hotkey", "keys": ["ctrl", "shift", "tab"]}),
        ("close tab", {"type": "hotkey", "keys": ["ctrl", "w"]}),
        ("close the window", {"type": "window", "op": "close"}),
        ("minimize window", {"type": "window", "op": "minimize"}),
        ("maximize the window", {"type": "window", "op": "maximize"}),
        ("switch window", {"type": "window", "op": "next"}),
        ("scroll down", {"type": "scroll", "clicks": -5}),
        ("scroll up ten", {"type": "scroll", "clicks": 10}),
        ("page down", {"type": "hotkey", "keys": ["pagedown"]}),
        ("page up", {"type": "hotkey", "keys": ["pageup"]}),
        ("volume up", {"type": "volume", "delta": 10}),
        ("turn it down by 20 percent", {"type": "volume", "delta": -20}),
        ("mute", {"type": "volume", "mute": True}),
        ("pause the music", {"type": "media", "op": "playpause"}),
        ("next track", {"type": "media", "op": "next"}),
        ("previous song", {"type": "media", "op": "previous"}),
        ("type Hello, World", {"type": "type", "text": "Hello, World"}),
        ("dictate see you at five", {"type": "type", "text": "see you at five"}),
        ("press control shift t", {"type": "hotkey", "keys": ["ctrl", "shift", "t"]}),
        ("press enter", {"type": "hotkey", "keys": ["enter"]}),
        ("copy", {"type": "hotkey", "keys": ["ctrl", "c"]}),
        ("paste", {"type": "hotkey", "keys": ["ctrl", "v"]}),
        ("cut", {"type": "hotkey", "keys": ["ctrl", "x"]}),
        ("undo", {"type": "hotkey", "keys": ["ctrl", "z"]}),
        ("redo", {"type": "hotkey", "keys": ["ctrl", "shift", "z"]}),
        ("select all", {"type": "hotkey", "keys": ["ctrl", "a"]}),
        ("save the file", {"type": "hotkey", "keys": ["ctrl", "s"]}),
        ("go back", {"type": "hotkey", "keys": ["alt", "left"]}),
        ("go forward", {"type": "hotkey", "keys": ["alt", "right"]}),
        ("take a screenshot", {"type": "screenshot"}),
        ("minimize all windows", {"type": "hotkey", "keys": ["win", "d"]}),
        ("go to my terminal", {"type": "window", "op": "focus", "target": "terminal"}),
        ("stop", {"type": "stop"}),
        ("cancel", {"type": "stop"}),
    ],
)
def test_english_commands(matcher: Matcher, text: str, expected: dict) -> None:
    assert actions(matcher, text) == [expected]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("открой браузер", {"type": "launch", "app": "browser"}),
        ("переключи вкладку", {"type": "hotkey", "keys": ["ctrl", "tab"]}),
        ("закрой окно", {"type": "window", "op": "close"}),
        ("сделай громче", {"type": "volume", "delta": 10}),
        ("напечатай привет мир", {"type": "type", "text": "привет мир"}),
        ("Открой, пожалуйста, терминал.", {"type": "launch", "app": "terminal"}),
        ("прокрути вниз на десять", {"type": "scroll", "clicks": -10}),
        ("стоп", {"type": "stop"}),
        ("переключись на калькулятор", {"type": "window", "op": "focus", "target": "calculator"}),
        ("вернись к терминалу", {"type": "window", "op": "focus", "target": "terminal"}),
        ("восстанови закрытую вкладку", {"type": "hotkey", "keys": ["ctrl", "shift", "t"]}),
        ("в самый конец страницы", {"type": "hotkey", "keys": ["end"]}),
        ("новая строка", {"type": "hotkey", "keys": ["enter"]}),
    ],
)
def test_russian_commands(matcher: Matcher, text: str, expected: dict) -> None:
    assert actions(matcher, text, "ru") == [expected]


def test_asking_to_write_something_is_not_dictation(matcher: Matcher) -> None:
    """Words to compose are the language model's job: only "type"/«напечатай» dictate."""
    assert actions(matcher, "write an email to my boss") is None
    assert actions(matcher, "напиши письмо начальнику", "ru") is None


def test_a_near_miss_is_never_another_rules_word(matcher: Matcher) -> None:
    # "maximize" is two letters from "minimize", but it is a word LOKI knows: not a mishearing of it.
    assert matcher.match("maximize all windows", "en") is None
    assert actions(matcher, "value up") == [{"type": "volume", "delta": 10}]  # "value" is no rule's word


def test_dictated_text_keeps_the_words_that_end_it(matcher: Matcher) -> None:
    """ "now", "thanks" or "please" at the end of a command are said to LOKI; at the end of dictation they are
    the message, unless the request opened politely too."""
    assert actions(matcher, "type see you now") == [{"type": "type", "text": "see you now"}]
    assert actions(matcher, "type thank you") == [{"type": "type", "text": "thank you"}]
    assert actions(matcher, "type can you send that over please") == [
        {"type": "type", "text": "can you send that over please"}
    ]
    assert actions(matcher, "could you type hi there please") == [{"type": "type", "text": "hi there"}]
    assert actions(matcher, "type can you please send it") == [{"type": "type", "text": "can you please send it"}]
    assert actions(matcher, "напечатай, пожалуйста, привет", "ru") == [{"type": "type", "text": "привет"}]
    assert actions(matcher, "напечатай спасибо", "ru") == [{"type": "type", "text": "спасибо"}]
    # Words that hand the text over are not typed: "type this for me: ...".
    assert actions(matcher, "would you type this for me dear friend") == [{"type": "type", "text": "dear friend"}]
    assert actions(matcher, "type this is a test") == [{"type": "type", "text": "this is a test"}]
    # A command's ending is still not dictation: "now" and "thanks" are LOKI's.
    assert actions(matcher, "open the browser now thanks") == [{"type": "launch", "app": "browser"}]
    # A friendly word that ends a command calls LOKI; in a message it is the message's.
    assert actions(matcher, "open the browser buddy") == [{"type": "launch", "app": "browser"}]
    assert actions(matcher, "type cheers mate") == [{"type": "type", "text": "cheers mate"}]
    assert matcher.match("find garlic on this page now", "en").values["text"] == "garlic"
    assert matcher.match("find weather in dis page", "en").values["text"] == "weather"  # "dis" as heard


def test_free_text_never_runs_past_the_words_a_rule_ends_with(matcher: Matcher) -> None:
    # "find <text> [on this page]" is whole at "page": the rest is no text to find, and no exact match.
    assert matcher.match("find garlic on this page i need to know how many cloves", "en") is None
    assert matcher.match("find garlic on this page", "en").values["text"] == "garlic"
    assert matcher.match("find the word page", "en").values["text"] == "page"


def test_time_and_date_are_spoken(matcher: Matcher) -> None:
    (time_action,) = actions(matcher, "what time is it?")
    assert time_action["type"] == "speak" and time_action["text"].startswith("It's ")
    (date_action,) = actions(matcher, "what's the date")
    assert date_action["text"].startswith("Today is ")
    (ru_time,) = actions(matcher, "который час", "ru")
    assert ru_time["text"].startswith("Сейчас ")


def test_repeat_rule(matcher: Matcher) -> None:
    m = matcher.match("repeat that", "en", os_name="linux")
    assert m is not None and m.is_repeat and m.actions == []


@pytest.mark.parametrize(
    ("heard", "meant"),
    [
        ("value up", {"type": "volume", "delta": 10}),
        ("new tap", {"type": "hotkey", "keys": ["ctrl", "t"]}),
        ("minimise window", {"type": "window", "op": "minimize"}),
        ("scroll dawn", {"type": "scroll", "clicks": -5}),
        ("open the browsers", {"type": "launch", "app": "browser"}),
    ],
)
def test_near_misses_are_tolerated(matcher: Matcher, heard: str, meant: dict) -> None:
    assert actions(matcher, heard) == [meant]


@pytest.mark.parametrize(
    "text",
    [
        "open the pod bay doors and sing me a song",
        "could you start up the web browser for me",
        "turn on the living room lamp",
        "what is the capital of france",
        "the new tablet is great",
        "mutex",
        "page no",  # "no" is like neither "up" nor "down": not a guess at either
        "stopwatch",
        "americano",
        "tell me a joke",
        "",
        "um uh",
    ],
)
def test_unrelated_speech_matches_nothing(matcher: Matcher, text: str) -> None:
    assert actions(matcher, text) is None


def test_a_small_word_stands_for_no_word_of_a_rule(matcher: Matcher) -> None:
    # «сверни это» is "minimize this", three edits from «сверни все» (show the desktop): no near miss
    assert actions(matcher, "сверни это", "ru") is None
    assert actions(matcher, "сверни все", "ru") == [{"type": "hotkey", "keys": ["win", "d"]}]


def test_find_on_page_without_an_article(matcher: Matcher) -> None:
    found = [{"type": "hotkey", "keys": ["ctrl", "f"]}, {"type": "type", "text": "timeout"}]
    assert actions(matcher, "find timeout on page") == found
    assert actions(matcher, "look for timeout in page") == found


def test_what_is_sought_is_a_thing_in_the_world() -> None:
    from loki.brain.tier0 import _sought_of_theirs as elsewhere

    find = [{"type": "hotkey", "keys": ["ctrl", "f"]}, {"type": "type", "text": "x"}]
    assert elsewhere("your center", find, "find your center, find your breath")  # a yoga class
    assert elsewhere("свою тетрадку", find, "найди свою тетрадку")
    assert elsewhere("my phone", find, "find my phone, it's somewhere in the couch")
    assert elsewhere("me a good restaurant", find, "find me a good restaurant")
    assert not elsewhere("my name", find, "find my name on this page")  # the page is named
    assert not elsewhere("invoice", find, "find invoice")
    assert not elsewhere("your order is ready", [{"type": "type", "text": "x"}], "type your order is ready")


def test_a_request_said_again_after_an_apology(matcher: Matcher) -> None:
    assert actions(matcher, "type, sorry, type off sick today") == [{"type": "type", "text": "off sick today"}]
    assert actions(matcher, "type sorry") == [{"type": "type", "text": "sorry"}]
    # a "please" that opens a message is the message's
    assert actions(matcher, "type please revert by end of day") == [
        {"type": "type", "text": "please revert by end of day"}
    ]


def test_a_stutter_is_said_once() -> None:
    from loki.profiles.normalize import normalize

    assert normalize("p p page up").tokens == ("page", "up")
    assert normalize("c-c-close the tab").tokens == ("close", "the", "tab")
    assert normalize("type a apple").tokens == ("type", "a", "apple")  # "a" is a word of its own
    assert normalize("в вкладке").tokens == ("в", "вкладке")
    assert normalize("press x x").tokens == ("press", "x", "x")  # two keys, no word they start


def test_a_near_miss_never_makes_up_a_number(matcher: Matcher) -> None:
    # "прокрути вниз 10" was read as «… на 0» by the edits: scroll 0
    assert actions(matcher, "прокрути вниз 10", "ru") == [{"type": "scroll", "clicks": -10}]
    assert actions(matcher, "листай вниз десять", "ru") == [{"type": "scroll", "clicks": -10}]


def test_a_letter_is_a_key(matcher: Matcher) -> None:
    assert actions(matcher, "press ctrl o") == [{"type": "hotkey", "keys": ["ctrl", "o"]}]
    assert actions(matcher, "press o") == [{"type": "hotkey", "keys": ["o"]}]


def test_the_russian_ka_particle_is_not_part_of_the_request() -> None:
    from loki.profiles.normalize import normalize

    assert normalize("выключи-ка звук").tokens == ("выключи", "звук")
    assert normalize("ка").tokens == ("ка",)  # a word alone is kept
    assert normalize("напиши привет ка").tokens == ("напиши", "привет", "ка")  # and one not joined by a hyphen


def test_find_names_a_document_as_well_as_a_page(matcher: Matcher) -> None:
    assert actions(matcher, "find entropy in this document") == [
        {"type": "hotkey", "keys": ["ctrl", "f"]},
        {"type": "type", "text": "entropy"},
    ]
    assert actions(matcher, "найди слово энтропия в этом документе", "ru") == [
        {"type": "hotkey", "keys": ["ctrl", "f"]},
        {"type": "type", "text": "энтропия"},
    ]
