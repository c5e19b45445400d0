"""The orchestrator: one turn = context, tiers in order, policy + executor, reply, trace.

Failures of a turn become a spoken or logged message in exactly one place (`handle`), and the
`finally` there always closes the turn. It publishes `ActionsPlanned` when a tier has a plan,
`ActionsDone` when the executor is through with it, and `TurnFailed` when something went wrong.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from loki.actions.executor import Executor
from loki.brain.tiers import Plan, Tier, Turn
from loki.brain.trace import Stopwatch, TraceWriter
from loki.config import BrainSettings, Settings
from loki.errors import LokiError
from loki.events import ActionsDone, ActionsPlanned, Event, TurnFailed
from loki.profiles.normalize import detect_script_language
from loki.screen.window import ActiveWindow, active_context
from loki.tts.text import tee

log = logging.getLogger(__name__)

ReplyFn = Callable[[str, str], Awaitable[None]]  # (text, language)

_NOT_UNDERSTOOD = {
    "en": "Sorry, I don't know how to do that.",
    "ru": "Извините, я не знаю, как это сделать.",
}
_NOTHING_TO_REPEAT = {"en": "There is nothing to repeat yet.", "ru": "Пока нечего повторять."}
# "Something went wrong while I was ...", per stage of a turn.
_DOING = {
    "context": "looking at the active window",
    "route": "working out what you meant",
    "execute": "carrying out the plan",
    "reply": "putting the reply together",
}


def turn_failed(result: TurnResult) -> bool:
    """True when something went wrong (an action failed, a backend, a bug), not when LOKI only refused or did not understand."""
    return result.error not in (None, "not_executed")


@dataclass
class TurnResult:
    """What one turn did; `as_json()` is the `loki say` / `loki replay` line."""

    text: str
    tier: int | None = None
    actions: list[dict[str, Any]] = field(default_factory=list)  # what ran (in dry-run: would run)
    refused: list[dict[str, Any]] = field(default_factory=list)  # [{"action", "reason"}] for steps that did not
    reply: str = ""
    language: str = "en"
    ok: bool = True
    error: str | None = None  # short code when the turn failed
    timings_ms: dict[str, float] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)

    def as_json(self, text_key: str = "text") -> dict[str, Any]:
        """The contract's JSON object."""
        out: dict[str, Any] = {
            text_key: self.text,
            "tier": self.tier,
            "actions": self.actions,
            "refused": self.refused,
            "rule": self.detail.get("rule"),
            "reply": self.reply,
            "timings_ms": self.timings_ms,
            "language": self.language,
            "ok": self.ok,
        }
        if self.error:
            out["error"] = self.error
        if "screen" in self.detail:  # tier 2: the window, what was found where, and each try
            out["screen"] = self.detail["screen"]
        return out


class Orchestrator:
    """Routes an utterance through the tiers and acts on the first plan.

    Args:
        settings: the settings.
        tiers: tried in order; the first plan wins.
        executor: runs a plan's actions through the policy.
        context: the screen seam (the active window).
        trace: where each turn is written.
        reply: says replies (a `loki.tts.protocol.Voice`, or any `(text, language)` coroutine function).
        publish: receives the turn's events.
    """

    def __init__(
        self,
        settings: BrainSettings | Settings,
        tiers: Sequence[Tier],
        executor: Executor,
        *,
        context: ActiveWindow = active_context,
        trace: TraceWriter | None = None,
        reply: ReplyFn | None = None,
        publish: Callable[[Event], None] | None = None,
    ) -> None:
        self.settings = BrainSettings.of(settings)
        self.tiers = list(tiers)
        self.executor = executor
        self.context = context
        self.trace = trace or TraceWriter(None)
        self.reply = reply
        self.publish = publish or (lambda event: None)
        self.history: deque[dict[str, Any]] = deque(maxlen=6)
        self._last_plan: Plan | None = None

    def close(self) -> None:
        """Release the executor's thread and what the tiers hold (tier 2's accessibility bus and screen)."""
        self.executor.close()
        for tier in self.tiers:
            close = getattr(tier, "close", None)
            if close is not None:
                close()

    def language_for(self, text: str, detected: str | None = None) -> str:
        """The language whose profiles handle this utterance."""
        if self.settings.language != "auto":
            return self.settings.language
        if detected in ("en", "ru"):
            return detected
        return detect_script_language(text)

    async def handle(
        self,
        text: str,
        *,
        language: str | None = None,
        timings: dict[str, float] | None = None,
        speech_end_at: float | None = None,
    ) -> TurnResult:
        """Run one turn; never raises for a failed stage (the result says what went wrong).

        Args:
            text: what was said (or typed).
            language: the recognizer's language, if any.
            timings: timings measured before the turn (speech to text, ...), copied into the result.
            speech_end_at: monotonic time the speech ended, for `speech_end_to_action`.
        """
        watch = Stopwatch()
        lang = self.language_for(text, language)
        result = TurnResult(text=text, language=lang)
        stage = "context"
        try:
            ctx = await asyncio.to_thread(self.context) if not self.settings.dry_run else self.context()
            watch.lap("context")
            turn = Turn(text, lang, ctx, tuple(self.history))
            stage = "route"
            plan = await self._route(turn, watch)
            if plan is None:
                result.reply = _NOT_UNDERSTOOD[lang]
                result.ok = False
                return result
            if plan.repeat:
                if self._last_plan is None:
                    result.tier, result.reply = 0, _NOTHING_TO_REPEAT[lang]
                    return result
                last = self._last_plan  # a model's plan stays untrusted: its risky steps are asked again
                plan = Plan(last.tier, list(last.actions), last.reply, trusted=last.trusted)
            result.tier, result.detail = plan.tier, plan.detail
            stage = "execute"
            self.publish(ActionsPlanned(text, plan.tier, tuple(plan.actions), plan.reply))
            focus = None if self.settings.dry_run else self.context
            if speech_end_at is not None:
                result.timings_ms["speech_end_to_action"] = round((time.monotonic() - speech_end_at) * 1000, 1)
            report = await self.executor.run(
                plan.actions, trusted=plan.trusted, context=ctx, focus=focus, unasked=plan.unasked
            )
            watch.lap("execute")
            result.timings_ms.update(plan.detail.pop("timings", {}))  # tier 2: capture, ground
            result.timings_ms.update(report.timings_ms)  # tier 2: hit_test, act, settle, verify
            if report.screen:
                result.detail.setdefault("screen", {})["attempts"] = report.screen
            self.publish(ActionsDone(report.ok, tuple(report.ran), report.message))
            result.actions = report.ran
            # Tier 1 lists the steps of a model plan it refused to run (bad JSON, unknown or denied step).
            result.refused = [*plan.detail.pop("refused", []), *report.refused]
            stage = "reply"
            # A plan that did not (all) run must not say "Done.": only what LOKI did and why it stopped.
            reply_parts = [plan.reply if report.ok else "", *report.said, report.message]
            if plan.reply_stream is not None:
                reply_parts[0] = await self._consume_stream(plan, lang)
            result.reply = " ".join(p.strip() for p in reply_parts if p and p.strip())
            # Tier 1 marks a model plan it refused to run with detail["rejected"]: nothing ran, as
            # when the executor refuses a plan.
            result.ok = report.ok and not plan.detail.get("rejected")
            if not result.ok:
                result.error = "action_failed" if report.failed else "not_executed"
            elif plan.actions or plan.reply:
                reply = "" if report.said else result.reply
                self._last_plan = Plan(plan.tier, report.actions, reply, trusted=plan.trusted)
            if self.reply and result.reply and plan.reply_stream is None:
                await self.reply(result.reply, lang)
            return result
        except LokiError as exc:
            log.warning("turn failed in %s: %s", stage, exc)
            result.ok, result.error, result.reply = False, exc.code, str(exc)
            return result
        except Exception as exc:  # a bug in a stage must not take the daemon down
            log.exception("turn failed in %s", stage)
            result.ok, result.error = False, "internal"
            result.reply = f"Something went wrong while I was {_DOING[stage]}: {exc.__class__.__name__}."
            return result
        finally:
            if turn_failed(result):
                self.publish(TurnFailed(stage, result.error or "internal", result.reply))
            result.timings_ms.update(timings or {})
            result.timings_ms.update(watch.stages)
            result.timings_ms["total"] = round((time.perf_counter() - watch.start) * 1000, 2)
            # "ok" lets "remember this as ..." (loki.brain.learn) learn only plans that worked.
            self.history.append(
                {"text": text, "tier": result.tier, "actions": result.actions, "reply": result.reply, "ok": result.ok}
            )
            self.trace.write({"turn": result.as_json(), "stage": stage}, typed=result.detail.get("typed", ()))

    async def _route(self, turn: Turn, watch: Stopwatch) -> Plan | None:
        for tier in self.tiers:
            try:
                plan = await tier.plan(turn)
            except LokiError as exc:
                log.warning("tier %s failed: %s", tier.number, exc)
                plan = None
                watch.lap(f"tier{tier.number}")
                if tier is self.tiers[-1]:
                    raise
                continue
            watch.lap("route" if tier.number == 0 else f"tier{tier.number}")
            if plan is not None:
                return plan
        return None

    async def _consume_stream(self, plan: Plan, language: str) -> str:
        """Collect a streamed reply, speaking it as it arrives when a voice is attached."""
        assert plan.reply_stream is not None
        if self.reply is None:
            return "".join([piece async for piece in plan.reply_stream])
        speak_stream = getattr(self.reply, "stream", None)  # a plain (text, language) function cannot stream
        if speak_stream is None:
            text = "".join([piece async for piece in plan.reply_stream])
            await self.reply(text, language)
            return text
        chunks: list[str] = []
        await speak_stream(tee(plan.reply_stream, chunks.append), language)
        return "".join(chunks)
