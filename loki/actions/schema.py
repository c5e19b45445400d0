"""The action schema: one table that validates actions and generates the JSON schema for LLMs.

An action is a plain JSON object with a `type`; `validate_action` returns a normalized copy
(defaults filled, keys lower-cased) or raises `ActionError` saying what to change.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from loki.errors import ActionError

# pyautogui.KEY_NAMES (multi-character names), copied because importing pyautogui needs a display.
_NAMED_KEYS = frozenset(
    """accept add alt altleft altright apps backspace browserback browserfavorites browserforward
    browserhome browserrefresh browsersearch browserstop capslock clear convert ctrl ctrlleft
    ctrlright decimal del delete divide down end enter esc escape execute f1 f2 f3 f4 f5 f6 f7 f8
    f9 f10 f11 f12 f13 f14 f15 f16 f17 f18 f19 f20 f21 f22 f23 f24 final fn hanguel hangul hanja
    help home insert junja kana kanji launchapp1 launchapp2 launchmail launchmediaselect left
    modechange multiply nexttrack nonconvert num0 num1 num2 num3 num4 num5 num6 num7 num8 num9
    numlock pagedown pageup pause pgdn pgup playpause prevtrack print printscreen prntscrn prtsc
    prtscr return right scrolllock select separator shift shiftleft shiftright sleep space stop
    subtract tab up volumedown volumemute volumeup win winleft winright yen command option
    optionleft optionright""".split()
)


def is_key_name(name: str) -> bool:
    """True if pyautogui knows this key (a single printable character or a named key)."""
    return (len(name) == 1 and name.isprintable()) or name in _NAMED_KEYS


@dataclass(frozen=True)
class Field:
    """One argument of an action type."""

    kind: str  # "str" | "int" | "num" | "bool" | "keys" | "enum"
    required: bool = True
    default: Any = None
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] = ()
    doc: str = ""


_COORD = Field("int", low=0, high=100_000, doc="physical screen pixels")
_BUTTON = Field("enum", required=False, default="left", choices=("left", "right", "middle"))

ACTION_TYPES: dict[str, dict[str, Field]] = {
    "launch": {"app": Field("str", high=200, doc="logical app name (browser, terminal, ...) or executable")},
    "hotkey": {"keys": Field("keys", low=1, high=5, doc="pyautogui key names, pressed together")},
    "type": {"text": Field("str", high=5000, doc="text to type, any script")},
    "click": {
        "x": Field("int", required=False, low=0, high=100_000, doc="physical screen pixels"),
        "y": Field("int", required=False, low=0, high=100_000, doc="physical screen pixels"),
        "button": _BUTTON,
        "count": Field("int", required=False, default=1, low=1, high=3),
        "target": Field(
            "target",
            required=False,
            doc="a named control, grounded on the screen just before the click: {name, role, nth}",
        ),
    },
    "move": {"x": _COORD, "y": _COORD},
    "drag": {"x": _COORD, "y": _COORD, "to_x": _COORD, "to_y": _COORD, "button": _BUTTON},
    "scroll": {"clicks": Field("int", low=-100, high=100, doc="negative scrolls down")},
    "volume": {
        "delta": Field("int", required=False, low=-100, high=100, doc="percent"),
        "mute": Field("bool", required=False),
    },
    "media": {"op": Field("enum", choices=("playpause", "next", "previous"))},
    "window": {
        "op": Field("enum", choices=("close", "minimize", "maximize", "next", "focus")),
        "target": Field("str", required=False, high=200, doc="window title or app, for focus"),
    },
    "screenshot": {},
    "speak": {"text": Field("str", high=5000)},
    "wait": {"seconds": Field("num", low=0, high=30)},
    "stop": {},
}


def _check_field(kind: str, name: str, spec: Field, value: Any) -> Any:
    where = f"{kind}.{name}"
    if spec.kind == "str":
        if not isinstance(value, str) or not value.strip():
            raise ActionError(f"'{where}' must be a non-empty string, got {value!r}.")
        if spec.high is not None and len(value) > spec.high:
            raise ActionError(f"'{where}' is longer than {int(spec.high)} characters.")
        return value
    if spec.kind in ("int", "num"):
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ActionError(f"'{where}' must be a number, got {value!r}.")
        if spec.kind == "int":
            if float(value) != int(value):
                raise ActionError(f"'{where}' must be a whole number, got {value!r}.")
            value = int(value)
        if (spec.low is not None and value < spec.low) or (spec.high is not None and value > spec.high):
            raise ActionError(f"'{where}'={value} is out of range {spec.low:g}..{spec.high:g}.")
        return value
    if spec.kind == "bool":
        if not isinstance(value, bool):
            raise ActionError(f"'{where}' must be true or false, got {value!r}.")
        return value
    if spec.kind == "enum":
        if not isinstance(value, str) or value.lower() not in spec.choices:
            raise ActionError(f"'{where}' must be one of {', '.join(spec.choices)}, got {value!r}.")
        return value.lower()
    if spec.kind == "target":
        return _check_target(where, value)
    if spec.kind == "keys":
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not (spec.low or 1) <= len(value) <= (spec.high or 5):
            raise ActionError(f"'{where}' must be a list of 1 to {int(spec.high or 5)} key names, got {value!r}.")
        keys = []
        for key in value:
            if not isinstance(key, str) or not is_key_name(key.lower() if len(key) > 1 else key):
                raise ActionError(
                    f"'{where}' has an unknown key {key!r}: use pyautogui key names such as ctrl, alt, enter, f5, a."
                )
            keys.append(key.lower() if len(key) > 1 else key)
        return keys
    raise AssertionError(spec.kind)


_TARGET_FIELDS = {"name": 200, "role": 40, "description": 300, "label": 200}


def _check_target(where: str, value: Any) -> dict[str, Any]:
    """A click's `target`: {name, role, nth, description} (at least a name or a description)."""
    if not isinstance(value, Mapping):
        raise ActionError(f'\'{where}\' must be an object like {{"name": "Save", "role": "button"}}, got {value!r}.')
    extra = sorted(set(value) - set(_TARGET_FIELDS) - {"nth"})
    if extra:
        raise ActionError(f"'{where}' has unknown field {extra[0]!r}; it takes name, role, nth, description.")
    out: dict[str, Any] = {}
    for name, longest in _TARGET_FIELDS.items():
        text = value.get(name)
        if text is None or text == "":
            continue
        if not isinstance(text, str) or len(text) > longest or not text.isprintable():
            raise ActionError(f"'{where}.{name}' must be printable text of at most {longest} characters, got {text!r}.")
        out[name] = text
    nth = value.get("nth", 0)
    if isinstance(nth, bool) or not isinstance(nth, int) or not 0 <= nth <= 50:
        raise ActionError(f"'{where}.nth' must be a whole number 0..50 (1 = the first in reading order), got {nth!r}.")
    if nth:
        out["nth"] = nth
    if not out.get("name", "").strip() and not out.get("description", "").strip():
        raise ActionError(f"'{where}' needs a 'name' (the control's visible label) or a 'description'.")
    return out


def validate_action(obj: Any) -> dict[str, Any]:
    """Check one action against the schema; return a normalized copy or raise `ActionError`."""
    if not isinstance(obj, Mapping):
        raise ActionError(f"An action must be a JSON object, got {type(obj).__name__}.")
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in ACTION_TYPES:
        raise ActionError(f"Unknown action type {kind!r}: use one of {', '.join(ACTION_TYPES)}.")
    spec = ACTION_TYPES[kind]
    extra = sorted(set(obj) - set(spec) - {"type"})
    if extra:
        raise ActionError(f"Action '{kind}' has unknown field {extra[0]!r}; it takes {', '.join(spec) or 'no fields'}.")
    out: dict[str, Any] = {"type": kind}
    for name, field_spec in spec.items():
        if name in obj and obj[name] is not None:
            out[name] = _check_field(kind, name, field_spec, obj[name])
        elif field_spec.required:
            raise ActionError(f"Action '{kind}' needs '{name}'.")
        elif field_spec.default is not None:
            out[name] = field_spec.default
    if kind == "volume" and ("delta" in out) == ("mute" in out):
        raise ActionError("Action 'volume' needs exactly one of 'delta' (percent) or 'mute' (true/false).")
    if kind == "click" and ("x" in out) != ("y" in out):
        missing = "y" if "x" in out else "x"
        raise ActionError(f"Action 'click' needs '{missing}': a point is x and y in physical screen pixels.")
    if kind == "click" and "x" not in out and "target" not in out:
        raise ActionError("Action 'click' needs 'x' and 'y' (physical screen pixels) or a 'target' (a named control).")
    if kind == "window" and out["op"] == "focus" and "target" not in out:
        raise ActionError("Action 'window' with op 'focus' needs 'target' (a window title or app).")
    return out


def validate_plan(actions: Iterable[Any]) -> list[dict[str, Any]]:
    """Validate every action of a plan; one invalid action rejects the whole plan."""
    out = []
    for index, action in enumerate(actions):
        try:
            out.append(validate_action(action))
        except ActionError as exc:
            raise ActionError(f"Step {index + 1}: {exc}") from None
    return out


def _field_schema(spec: Field) -> dict[str, Any]:
    if spec.kind == "str":
        schema: dict[str, Any] = {"type": "string", "minLength": 1}
        if spec.high is not None:
            schema["maxLength"] = int(spec.high)
    elif spec.kind in ("int", "num"):
        schema = {"type": "integer" if spec.kind == "int" else "number"}
        if spec.low is not None:
            schema["minimum"] = spec.low
        if spec.high is not None:
            schema["maximum"] = spec.high
    elif spec.kind == "bool":
        schema = {"type": "boolean"}
    elif spec.kind == "enum":
        schema = {"type": "string", "enum": list(spec.choices)}
    elif spec.kind == "target":
        schema = {
            "type": "object",
            "properties": {
                "name": {"type": "string", "maxLength": _TARGET_FIELDS["name"]},
                "role": {"type": "string", "maxLength": _TARGET_FIELDS["role"]},
                "nth": {"type": "integer", "minimum": 0, "maximum": 50},
                "description": {"type": "string", "maxLength": _TARGET_FIELDS["description"]},
            },
            "additionalProperties": False,
        }
    else:
        schema = {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": int(spec.high or 5)}
    if spec.doc:
        schema["description"] = spec.doc
    return schema


def action_json_schema() -> dict[str, Any]:
    """JSON schema of one action (`anyOf` over the types), for schema-constrained LLM output."""
    variants = []
    for kind, spec in ACTION_TYPES.items():
        props: dict[str, Any] = {"type": {"const": kind}}
        props.update({name: _field_schema(f) for name, f in spec.items()})
        required = ["type", *(name for name, f in spec.items() if f.required)]
        variants.append({"type": "object", "properties": props, "required": required, "additionalProperties": False})
    return {"anyOf": variants}


def plan_json_schema(max_steps: int = 8) -> dict[str, Any]:
    """JSON schema of a plan: a short list of actions plus an optional spoken reply."""
    return {
        "type": "object",
        "properties": {
            "reply": {"type": "string", "description": "what to say to the user (may be empty)"},
            "actions": {"type": "array", "items": action_json_schema(), "maxItems": max_steps},
        },
        "required": ["reply", "actions"],
        "additionalProperties": False,
    }
