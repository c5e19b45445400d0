"""What LOKI asks a vision model, and how its answer is read: one adapter per coordinate convention.

A grounding answer must come down to a small object: `{"point": [x, y]}` or `{"box": [x1, y1, x2,
y2]}`, with an optional `"label"` (the text on the control) and `"description"`. The shapes real
models write are turned into it first: a JSON code fence, Qwen's `[{"bbox_2d": [...], "label": ...}]`
(or `point_2d`), Gemini's `box_2d`, moondream's `{"points": [{"x": .., "y": ..}]}`, UI-TARS's
`click(start_box='(x,y)')` and `<|box_start|>(x,y)<|box_end|>`. Everything else the model wrote —
"actions", key presses, text to type — is dropped unread: a vision model only ever says where.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from loki.errors import ScreenError
from loki.screen.coords import MODEL_CONVENTIONS, Convention, Frame, image_to_click
from loki.screen.ground import Target

MAX_ANSWER_CHARS = 8192
"""A grounding answer is a few dozen characters; a longer one is not read."""
MAX_LABEL_CHARS = 200

SYSTEM = (
    "You look at screenshots for a desktop voice assistant. Say only where things are, or what is shown; "
    "never plan or write actions, key presses or text to type (they would be ignored)."
)

_POINT_KEYS = ("point", "point_2d")
_BOX_KEYS = ("box", "bbox", "bbox_2d", "box_2d")
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_NUMBER = r"\s*(-?\d+(?:\.\d+)?)\s*"
_TUPLE = re.compile(r"\(" + _NUMBER + "," + _NUMBER + r"(?:," + _NUMBER + "," + _NUMBER + r")?\)")
_UITARS = re.compile(r"(?:start_box\s*=\s*['\"]?\s*(?:<\|box_start\|>)?|<\|box_start\|>)\s*(?=\()")
_POINT_TAG = re.compile(r"<point>" + _NUMBER + r"[\s,]" + _NUMBER + r"</point>")


@dataclass(frozen=True)
class Located:
    """Where the model said the target is."""

    point: tuple[int, int]
    """The screen pixel to click (through `coords.image_to_click`, click offset included)."""
    label: str
    """The text the model read on it ('' when it gave none)."""
    image_point: tuple[float, float]
    """The point as the model wrote it, x first, in its convention (for traces)."""


def _bad(why: str, text: str) -> ScreenError:
    shown = " ".join(text.split())
    shown = shown if len(shown) <= 160 else shown[:159] + "…"
    return ScreenError(
        f"The vision model's answer could not be used: {why} (it said: {shown!r}).", code="vision_bad_answer"
    )


# Asking -------------------------------------------------------------------------------------------


def _what(target: Target) -> str:
    said = json.dumps(target.name or target.description, ensure_ascii=False)
    parts = [said]
    if target.name and target.description:
        parts.append(f"({target.description})")
    if target.role:
        parts.append(f"(a {target.role})")
    if target.nth:
        parts.append(f"(number {target.nth} of them, in reading order)")
    return " ".join(parts)


def locate_prompt(target: Target, convention: str, frame: Frame) -> str:
    """The question that asks for `target`, worded the way the model of `convention` was trained to answer."""
    what = _what(target)
    w, h = frame.image_width, frame.image_height
    if convention == "qwen25":
        return (
            f"Locate {what} in this {w}x{h} screenshot and output its bbox coordinates in JSON format: "
            '[{"bbox_2d": [x1, y1, x2, y2], "label": "the text on it"}].'
        )
    if convention in ("uitars15", "uitars1"):
        return (
            "Output only the coordinate of one point in your response. "
            f"What element matches the following task: click {what}"
        )
    if convention == "qwen3":
        return (
            f"Locate {what} in this screenshot and output its point in JSON format, with coordinates from 0 to "
            '1000 of the width and height: [{"point_2d": [x, y], "label": "the text on it"}].'
        )
    if convention == "moondream":
        return f'Point at {what}. Answer in JSON: {{"points": [{{"x": 0..1, "y": 0..1}}]}}.'
    if convention == "gemini":
        return (
            f"Detect {what} in this screenshot. Answer in JSON: "
            '[{"box_2d": [y_min, x_min, y_max, x_max], "label": "the text on it"}], normalized to 0-1000.'
        )
    return (
        f"Where is {what} in this {w}x{h} screenshot? Answer with JSON only: "
        '{"point": [x, y], "label": "the text on it"}, x and y in pixels of this image (0, 0 at the top left).'
    )


def write_point(x: float, y: float, convention: str) -> str:
    """A point of the sent image (x, y in the convention's units) as this model writes one."""
    unit = MODEL_CONVENTIONS[convention]
    fx, fy = (f"{x:.3f}", f"{y:.3f}") if unit is Convention.UNIT else (str(round(x)), str(round(y)))
    return f"[{fy}, {fx}]" if convention == "gemini" else f"({fx}, {fy})"


# Reading ------------------------------------------------------------------------------------------


def _json_values(text: str) -> list[Any]:
    """Every JSON object or list that can be read out of the text (fences first, then bare)."""
    decoder = json.JSONDecoder()
    found: list[Any] = []
    sources = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for source in sources:
        try:
            found.append(json.loads(source))
            continue
        except ValueError:
            pass
        i = 0
        while len(found) < 8:
            starts = [p for p in (source.find("{", i), source.find("[", i)) if p >= 0]
            if not starts:
                break
            i = min(starts)
            try:
                value, end = decoder.raw_decode(source, i)
            except (ValueError, RecursionError):
                i += 1
                continue
            found.append(value)
            i = end
    return found


def _coordinates(value: Any) -> dict[str, Any] | None:
    """The first {"point"|"box", "label"} object inside a decoded JSON value (lists and "points" searched)."""
    if isinstance(value, list):
        for item in value[:16]:
            got = _coordinates(item)
            if got is not None:
                return got
        return None
    if not isinstance(value, dict):
        return None
    label = value.get("label", value.get("description", ""))
    for key in _POINT_KEYS:
        if key in value:
            return {"point": value[key], "label": label}
    for key in _BOX_KEYS:
        if key in value:
            return {"box": value[key], "label": label}
    if "x" in value and "y" in value:
        return {"point": [value["x"], value["y"]], "label": label}
    if "points" in value:
        return _coordinates(value["points"])
    return None


def _uitars(text: str) -> dict[str, Any] | None:
    """UI-TARS: `click(start_box='(x,y)')`, `<|box_start|>(x,y)<|box_end|>` or `<point>x y</point>`."""
    for start in _UITARS.finditer(text):
        m = _TUPLE.match(text, start.end())
        if m:
            numbers = [g for g in m.groups() if g is not None]
            key = "point" if len(numbers) == 2 else "box"
            return {key: [float(n) for n in numbers], "label": ""}
    m = _POINT_TAG.search(text)
    if m:
        return {"point": [float(m.group(1)), float(m.group(2))], "label": ""}
    return None


def _numbers(value: Any, count: int, what: str, text: str) -> list[float]:
    if not isinstance(value, list | tuple) or len(value) != count:
        raise _bad(f"its {what} is not a list of {count} numbers", text)
    out: list[float] = []
    for n in value:
        if isinstance(n, bool) or not isinstance(n, int | float):
            raise _bad(f"its {what} holds {n!r}, not a number", text)
        if not math.isfinite(n):
            raise _bad(f"its {what} holds {n!r}", text)
        out.append(float(n))
    return out


def read_answer(text: str, convention: str, frame: Frame) -> Located:
    """Where the answer says the target is, mapped to the screen pixel to click.

    Raises ScreenError(code="vision_bad_answer") for an answer without a point or box, with a
    coordinate that is not a finite number, or that lies outside the image the model was sent.
    """
    if convention not in MODEL_CONVENTIONS:
        raise ScreenError(
            f"Unknown LOKI_VISION_COORDS {convention!r}: one of {', '.join(MODEL_CONVENTIONS)}.", code="vision_config"
        )
    if len(text) > MAX_ANSWER_CHARS:
        raise _bad(f"it is {len(text)} characters long, far more than a place on the screen takes", text)
    found = next((c for c in map(_coordinates, _json_values(text)) if c is not None), None) or _uitars(text)
    if found is None:
        raise _bad("it names no point or box", text)
    label = found.get("label") or ""
    if not isinstance(label, str):
        raise _bad("its label is not text", text)
    gemini = convention == "gemini"
    if "point" in found:
        a, b = _numbers(found["point"], 2, "point", text)
        x, y = (b, a) if gemini else (a, b)
    else:
        a, b, c, d = _numbers(found["box"], 4, "box", text)
        x1, y1, x2, y2 = (b, a, d, c) if gemini else (a, b, c, d)
        if x2 < x1 or y2 < y1:
            raise _bad("its box ends before it starts", text)
        x, y = (x1 + x2) / 2, (y1 + y2) / 2
    unit = MODEL_CONVENTIONS[convention]
    span_x, span_y = {
        Convention.PIXELS: (frame.image_width, frame.image_height),
        Convention.PERMILLE: (1000, 1000),
        Convention.UNIT: (1, 1),
    }[unit]
    if not (0 <= x <= span_x and 0 <= y <= span_y):
        raise _bad(f"({x:g}, {y:g}) lies outside the image (0..{span_x} x 0..{span_y} for {convention})", text)
    return Located(image_to_click(x, y, frame, unit), label.strip()[:MAX_LABEL_CHARS], (x, y))
