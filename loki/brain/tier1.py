"""Tier 1: a text language model turns what was said into a plan of actions or into an answer.

The model sees the utterance, where it was said (OS, active app, window title), the last few
turns, the actions it may use and the apps it may launch, and must answer with one JSON object
`{"actions": [...], "reply": "..."}` (a grammar for llama.cpp, structured output over HTTP).
`actions` comes first, so as soon as it is complete the planner knows whether this is a command
or a question; a question's reply is then streamed (`Plan.reply_stream`) as the model writes it.

Whatever the model writes is parsed defensively: malformed or cut-off JSON, a schema failure, an
unknown action or a step the policy denies means the plan executes nothing, and the reply says
what LOKI could not do, in the user's language.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from loki.actions.executor import describe
from loki.actions.policy import Decision, Policy
from loki.actions.schema import ACTION_TYPES, plan_json_schema, validate_plan
from loki.brain.grounding import QUIET_TYPES, unasked_steps
from loki.brain.tiers import Plan, Turn
from loki.config import Settings
from loki.errors import ActionError, LlmError
from loki.llm.base import Llm, Message, Schema, shorten
from loki.llm.jsonstream import ObjectStream
from loki.profiles.loader import ProfileSet

log = logging.getLogger(__name__)

MAX_STEPS = 8
HISTORY_TURNS = 3
# Tier 1 cannot see the screen, so it never guesses pointer coordinates (tier 2 does that).
POINTER_TYPES = frozenset({"click", "move", "drag"})
PLANNER_TYPES = tuple(t for t in ACTION_TYPES if t not in POINTER_TYPES)

# One example per action type: shown to the model, and checked against the schema by the tests.
ACTION_EXAMPLES: dict[str, dict[str, Any]] = {
    "launch": {"type": "launch", "app": "browser"},
    "hotkey": {"type": "hotkey", "keys": ["ctrl", "t"]},
    "type": {"type": "type", "text": "hello world"},
    "scroll": {"type": "scroll", "clicks": -5},
    "volume": {"type": "volume", "delta": 10},
    "media": {"type": "media", "op": "playpause"},
    "window": {"type": "window", "op": "minimize"},
    "screenshot": {"type": "screenshot"},
    "speak": {"type": "speak", "text": "It is ten past four."},
    "wait": {"type": "wait", "seconds": 0.5},
    "stop": {"type": "stop"},
}

_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "language": "English",
        "unreachable": "I can't reach the language model right now ({why}).",
        "truncated": "Sorry, the model's answer was cut off, so I did nothing.",
        "not_json": "Sorry, the model did not answer with a plan I can read, so I did nothing.",
        "schema": "Sorry, the model's plan was malformed ({why}), so I did nothing.",
        "invalid": "Sorry, I can't do that: {why}",
        "pointer": "Sorry, I can't click or move the mouse without looking at the screen, so I did nothing.",
        "denied": "Sorry, I won't {what}: {why}",
        "unasked": "I'm not sure what you want me to do, so I did nothing.",
        "cut_off": " … Sorry, the answer was cut off.",
    },
    "ru": {
        "language": "Russian",
        "unreachable": "Языковая модель сейчас недоступна ({why}).",
        "truncated": "Ответ модели оборвался, поэтому я ничего не сделал.",
        "not_json": "Модель ответила не планом, поэтому я ничего не сделал.",
        "schema": "План модели составлен неверно, поэтому я ничего не сделал.",
        "invalid": "Я не могу это сделать: модель предложила недопустимое действие.",
        "pointer": "Я не могу нажимать мышью, не видя экрана, поэтому я ничего не сделал.",
        "denied": "Я не буду этого делать: это запрещено правилами безопасности.",
        "unasked": "Я не понял, что нужно сделать, поэтому ничего не сделал.",
        "cut_off": " … Извините, ответ оборвался.",
    },
}

# Chosen on gemma-3-270m, which copies examples: mixed kinds, and a refusal, so that copying is rarely harmful.
_EXAMPLES: dict[str, list[tuple[str, dict[str, Any]]]] = {
    "en": [
        (
            "open the terminal please",
            {"actions": [{"type": "launch", "app": "terminal"}], "reply": "Opening the terminal."},
        ),
        ("what is the capital of France?", {"actions": [], "reply": "Paris is the capital of France."}),
        ("scroll down a bit", {"actions": [{"type": "scroll", "clicks": -5}], "reply": "Scrolling down."}),
        ("delete all my files", {"actions": [], "reply": "Sorry, I can't delete files."}),
    ],
    "ru": [
        ("открой терминал", {"actions": [{"type": "launch", "app": "terminal"}], "reply": "Открываю терминал."}),
        ("какая столица франции?", {"actions": [], "reply": "Столица Франции — Париж."}),
        ("прокрути немного вниз", {"actions": [{"type": "scroll", "clicks": -5}], "reply": "Прокручиваю вниз."}),
        ("удали все мои файлы", {"actions": [], "reply": "Извините, я не могу удалять файлы."}),
    ],
}


def _text(language: str, key: str, **values: str) -> str:
    return _TEXT.get(language, _TEXT["en"])[key].format(**values)


def planner_schema(max_steps: int = MAX_STEPS) -> Schema:
    """The plan schema the model must follow: LOKI's schema with `actions` first, pointer actions left out."""
    base = plan_json_schema(max_steps)
    actions = base["properties"]["actions"]
    variants = [v for v in actions["items"]["anyOf"] if v["properties"]["type"]["const"] in PLANNER_TYPES]
    return {
        "type": "object",
        "properties": {
            "actions": {**actions, "items": {"anyOf": variants}},
            "reply": base["properties"]["reply"],
        },
        "required": ["actions", "reply"],
        "additionalProperties": False,
    }


def _field_note(name: str, spec: dict[str, Any]) -> str:
    if "enum" in spec:
        return f"{name}: {' | '.join(spec['enum'])}"
    if spec.get("description"):
        return f"{name}: {spec['description']}"
    return ""


def action_lines(schema: Schema) -> list[str]:
    """One line per action type, generated from the schema: an example and what its fields mean."""
    lines = []
    for variant in schema["properties"]["actions"]["items"]["anyOf"]:
        kind = variant["properties"]["type"]["const"]
        notes = [n for name, spec in variant["properties"].items() if name != "type" and (n := _field_note(name, spec))]
        optional = [name for name in variant["properties"] if name not in variant["required"]]
        if optional:
            notes.append(f"optional: {', '.join(optional)}")
        example = json.dumps(ACTION_EXAMPLES.get(kind, {"type": kind}), ensure_ascii=False)
        lines.append(f"{example}" + (f"  ({'; '.join(notes)})" if notes else ""))
    return lines


@dataclass
class PromptBuilder:
    """Builds the chat: a fixed system prompt and examples (cached, so llama.cpp reuses its KV cache),
    then this turn's context and request."""

    apps: list[str]
    schema: Schema
    _fixed: dict[str, list[Message]] = field(default_factory=dict)

    def fixed(self, language: str) -> list[Message]:
        """The system prompt and examples for a language (built once)."""
        cached = self._fixed.get(language)
        if cached is None:
            lang = language if language in _TEXT else "en"
            system = "\n".join(
                [
                    "You are LOKI, a voice assistant that acts on the user's computer.",
                    'Answer with one JSON object only: {"actions": [...], "reply": "..."}.',
                    f'"actions": the steps to run, in order, at most {MAX_STEPS}; [] when nothing needs doing on the computer.',
                    f'"reply": one or two short sentences to say aloud, in {_TEXT[lang]["language"]}. '
                    "A question's answer goes here.",
                    "The only actions (you cannot see the screen, so never click):",
                    *action_lines(self.schema),
                    f"Apps you may launch: {', '.join(self.apps)}.",
                    "If a request needs anything else, use no actions and say in the reply what you cannot do.",
                ]
            )
            cached = [{"role": "system", "content": system}]
            for said, plan in _EXAMPLES[lang]:
                cached.append({"role": "user", "content": f"Request: {said}"})
                cached.append({"role": "assistant", "content": json.dumps(plan, ensure_ascii=False)})
            self._fixed[language] = cached
        return cached

    def messages(self, turn: Turn) -> list[Message]:
        """The whole chat for one turn."""
        ctx = turn.context
        where = [f"OS {ctx.os}"]
        if ctx.app:
            where.append(f"active app {ctx.app!r}")
        if ctx.title:
            where.append(f"window title {shorten(ctx.title, 80)!r}")
        lines = [f"Context: {'; '.join(where)}."]
        recent = [h for h in turn.history if h.get("text")][-HISTORY_TURNS:]
        for h in recent:
            did = ", ".join(describe(a) for a in h.get("actions") or []) or "nothing"
            reply = f'; replied "{shorten(h["reply"], 80)}"' if h.get("reply") else ""
            lines.append(f'Earlier: "{shorten(h["text"], 80)}" -> {did}{reply}.')
        lines.append(f"Request: {turn.text}")
        return [*self.fixed(turn.language), {"role": "user", "content": "\n".join(lines)}]


@dataclass
class _Judged:
    """What the planner made of a finished answer."""

    actions: list[dict[str, Any]]
    reply: str
    rejected: str = ""  # why nothing runs: truncated, not_json, schema, invalid, pointer, denied
    why: str = ""  # the detail, for the log and the English reply
    what: str = ""  # the denied step, described
    refused: list[dict[str, Any]] = field(default_factory=list)  # the model's steps, each with why it did not run


class LlmPlanner:
    """Tier 1: plans with a language model; validates and policy-checks every step before returning it."""

    number = 1

    def __init__(self, llm: Llm, policy: Policy, *, max_steps: int = MAX_STEPS) -> None:
        self.llm = llm
        self.policy = policy
        self.max_steps = max_steps
        self.schema = planner_schema(max_steps)
        self.prompt = PromptBuilder(policy.apps.allowed_names(), self.schema)

    async def aclose(self) -> None:
        """Release the backend."""
        await self.llm.aclose()

    async def plan(self, turn: Turn) -> Plan | None:
        """A plan, a (possibly streamed) answer, an explanation of what could not be done, or None."""
        started = time.perf_counter()
        lang = turn.language if turn.language in _TEXT else "en"
        messages = self.prompt.messages(turn)
        reader = ObjectStream("reply")
        pieces = self.llm.stream(messages, schema=self.schema)
        wait_s = 0.0
        failure: LlmError | None = None
        handed_over = False
        try:
            while not reader.closed:
                t0 = time.perf_counter()
                try:
                    piece = await anext(pieces, None)
                finally:
                    wait_s += time.perf_counter() - t0
                if piece is None:
                    break
                reader.feed(piece)
                if self._is_answer_so_far(reader) and (reader.streamed_has_text or reader.streamed_done):
                    if not reader.streamed_done:
                        handed_over = True
                        detail = self._detail(started, wait_s, streamed=True)
                        return Plan(1, [], reply_stream=self._rest_of_reply(reader, pieces, lang), detail=detail)
        except LlmError as exc:
            failure = exc
        finally:
            if not handed_over:
                await pieces.aclose()
        if failure is not None and not reader.closed:
            if reader.text.strip():
                log.warning("tier 1: the answer broke off: %s", failure)
                return self._rejected(
                    _Judged([], "", "truncated", why=str(failure)), lang, started, wait_s, raw=reader.text
                )
            raise LlmError(_text(lang, "unreachable", why=str(failure)), code=failure.code) from failure
        judged = self._judge(reader)
        if judged.rejected:
            return self._rejected(judged, lang, started, wait_s, raw=reader.text)
        if not judged.actions and not judged.reply.strip():
            return None
        # The model's steps must follow from what was said: what nobody asked for needs a yes, and a
        # plan of nothing but such steps ("help" -> open the browser) is not run at all.
        unasked = unasked_steps(turn.text, lang, judged.actions)
        touching = [i for i, a in enumerate(judged.actions) if a["type"] not in QUIET_TYPES]
        if touching and all(i in unasked for i in touching):
            log.info("tier 1: the model's plan does not follow from %r; nothing runs", turn.text)
            detail = self._detail(started, wait_s)
            detail.update(rejected="unasked", refused=_refused(judged.actions, unasked))
            return Plan(1, [], _text(lang, "unasked"), detail=detail)
        return Plan(1, judged.actions, judged.reply.strip(), detail=self._detail(started, wait_s), unasked=unasked)

    # Reading the answer ----------------------------------------------------------------------
    @staticmethod
    def _is_answer_so_far(reader: ObjectStream) -> bool:
        """`actions` is complete and empty, and the reply has begun: a question, not a command."""
        if not reader.has("actions") or not reader.streamed_started:
            return False
        try:
            return reader.value("actions") == []
        except ValueError:
            return False

    async def _rest_of_reply(
        self, reader: ObjectStream, pieces: AsyncGenerator[str, None], lang: str
    ) -> AsyncIterator[str]:
        """The reply as the model writes it; a broken-off stream ends with an apology, never an exception."""
        try:
            first = reader.take_streamed()
            if first:
                yield first
            while not reader.streamed_done:
                try:
                    piece = await anext(pieces, None)
                except LlmError as exc:
                    log.warning("tier 1: the streamed answer broke off: %s", exc)
                    yield _text(lang, "cut_off")
                    return
                if piece is None:
                    if not reader.streamed_done:
                        yield _text(lang, "cut_off")
                    return
                reader.feed(piece)
                new = reader.take_streamed()
                if new:
                    yield new
        finally:
            await pieces.aclose()

    def _judge(self, reader: ObjectStream) -> _Judged:
        """Decide what a finished answer may do."""
        try:
            obj = reader.whole()
        except ValueError:
            return _Judged([], "", "truncated" if reader.started and not reader.closed else "not_json")
        problem = self._schema_problem(obj)
        if problem:
            steps = obj["actions"] if isinstance(obj, dict) and isinstance(obj.get("actions"), list) else []
            return _Judged([], "", "schema", why=problem, refused=_refused(steps, {}, problem))
        steps = obj["actions"]
        try:
            actions = validate_plan(steps)
        except ActionError as exc:
            index = int(str(exc).split(":", 1)[0].removeprefix("Step ")) - 1
            return _Judged([], "", "invalid", why=str(exc), refused=_refused(steps, {index: str(exc)}))
        pointers = {
            i: "tier 1 cannot see the screen to point" for i, a in enumerate(actions) if a["type"] in POINTER_TYPES
        }
        if pointers:
            return _Judged([], "", "pointer", refused=_refused(actions, pointers))
        verdicts = self.policy.check_plan(actions, trusted=False)
        denied = {i: v.reason for i, v in enumerate(verdicts) if v.decision is Decision.DENY}
        if denied:
            first = min(denied)
            why, what = denied[first].rstrip("."), describe(actions[first])
            return _Judged([], "", "denied", why=why, what=what, refused=_refused(actions, denied))
        return _Judged(actions, obj.get("reply", ""))

    def _schema_problem(self, obj: Any) -> str:
        if not isinstance(obj, dict):
            return "the answer is not a JSON object"
        extra = sorted(set(obj) - {"actions", "reply"})
        if extra:
            return f"unexpected field {extra[0]!r}"
        if not isinstance(obj.get("actions"), list):
            return "'actions' is missing or not a list"
        if len(obj["actions"]) > self.max_steps:
            return f"more than {self.max_steps} steps"
        if not isinstance(obj.get("reply", ""), str):
            return "'reply' is not text"
        return ""

    def _rejected(self, judged: _Judged, lang: str, started: float, wait_s: float, *, raw: str = "") -> Plan:
        kind = judged.rejected
        reply = _text(lang, kind, why=judged.why, what=judged.what)
        if kind == "denied" and lang == "en":
            reply += "."
        log.warning("tier 1 did not run the model's plan (%s): %s", kind, shorten(judged.why or raw))
        detail = self._detail(started, wait_s)
        detail.update(rejected=kind, why=judged.why, model_output=shorten(raw, 500), refused=judged.refused)
        return Plan(1, [], reply, detail=detail)

    def _detail(self, started: float, wait_s: float, *, streamed: bool = False) -> dict[str, Any]:
        total_ms = (time.perf_counter() - started) * 1000
        return {
            "backend": getattr(self.llm, "last_used", None) or self.llm.name,
            "llm_ms": round(wait_s * 1000, 2),
            "overhead_ms": round(total_ms - wait_s * 1000, 2),
            "streamed": streamed,
        }


def _refused(steps: list[Any], reasons: dict[int, str], reason: str = "") -> list[dict[str, Any]]:
    """The model's steps as `refused` entries: each with its own reason, or why the plan as a whole was not run."""
    first = min(reasons) if reasons else None
    return [
        {
            "action": step,
            "reason": reasons.get(i) or reason or f"not run because step {(first or 0) + 1} was refused",
        }
        for i, step in enumerate(steps)
    ]


def build_tier1(settings: Settings, profiles: ProfileSet) -> LlmPlanner | None:
    """Tier 1 from the settings, or None when `LOKI_LLM_BACKEND=none`."""
    from loki.llm.factory import build_llm

    llm = build_llm(settings.llm)
    if llm is None:
        return None
    return LlmPlanner(llm, Policy.from_settings(settings.actions))
