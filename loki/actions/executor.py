"""The one executor: validates, asks the policy, confirms risky steps, then acts — or, in dry-run, only reports."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loki.actions import desktop
from loki.actions.apps import AppCatalog
from loki.actions.drivers import InputDriver, PyAutoGuiDriver
from loki.actions.policy import Decision, Policy, Verdict, is_risky_label, looks_like_terminal, submit_reason
from loki.actions.schema import validate_action
from loki.config import ActionSettings, Settings
from loki.errors import ActionError

if TYPE_CHECKING:
    from loki.screen.window import Context

log = logging.getLogger(__name__)

Confirm = Callable[[str], Awaitable[bool]]
SpeakFn = Callable[[str], Awaitable[None]]
InterruptFn = Callable[[], Awaitable[None]]
ScreenClick = Callable[..., Any]
"""The screen tier's click: (action, click(x, y), cancelled, risky(label), notify(text)) -> a report with
ok, message, attempts, clicked and timings_ms (`loki.brain.tier2.ScreenTier.click`)."""


@dataclass
class Report:
    """What happened to a plan: `ok` only if every step ran (or would run, in dry-run)."""

    actions: list[dict[str, Any]] = field(default_factory=list)  # the validated plan
    ran: list[dict[str, Any]] = field(default_factory=list)  # the steps that ran (in dry-run: would run)
    refused: list[dict[str, Any]] = field(default_factory=list)  # [{"action", "reason"}] for steps that did not
    ok: bool = True
    failed: bool = False  # a step was tried and failed (not merely refused)
    executed: int = 0
    message: str = ""  # why it stopped, for the user
    said: list[str] = field(default_factory=list)  # text of speak actions
    artifacts: list[str] = field(default_factory=list)  # files made (screenshots)
    timings_ms: dict[str, float] = field(default_factory=dict)  # stages of screen clicks: hit_test, act, settle, verify
    screen: list[dict[str, Any]] = field(default_factory=list)  # a screen click's attempts: where, on what, why not

    def refuse(self, actions: list[Any], start: int, index: int, reason: str, *, verb: str = "was refused") -> None:
        """List `actions[start:]` as not run: step `index` for `reason`, the others because of it."""
        for i, action in enumerate(actions[start:], start):
            why = reason if i == index else f"not run because step {index + 1} {verb}"
            self.refused.append({"action": action, "reason": why})


def describe(action: dict[str, Any]) -> str:
    """A short phrase for an action, used when asking for confirmation."""
    kind = action["type"]
    if kind == "window":
        return f"{action['op']} the window" + (f" {action['target']}" if action.get("target") else "")
    if kind == "hotkey":
        return f"press {'+'.join(action['keys'])}"
    if kind == "type":
        text = action["text"]
        return f"type “{text[:40]}{'…' if len(text) > 40 else ''}”"
    if kind == "launch":
        return f"open {action['app']}"
    if kind == "wait":
        return f"wait {action['seconds']:g} s"
    if kind == "volume":
        if "mute" in action:
            return "mute the sound" if action["mute"] else "unmute the sound"
        return f"turn the volume {'up' if action['delta'] > 0 else 'down'} by {abs(action['delta'])}"
    if kind == "media":
        return {"playpause": "play or pause", "next": "skip to the next track"}.get(action["op"], "go back a track")
    if kind == "scroll":
        return f"scroll {'up' if action['clicks'] > 0 else 'down'}"
    if kind == "screenshot":
        return "take a screenshot"
    if kind == "click" and "target" in action:
        named = action["target"].get("label") or action["target"].get("name") or action["target"].get("description")
        return f"click “{named}”"
    return kind


def _describe_step(action: dict[str, Any], verdict: Verdict) -> str:
    """What a confirmation asks about: a terminal's command line as the command it runs."""
    if verdict.command is None:
        return describe(action)
    command = verdict.command.strip()
    where = "in a terminal" if verdict.reason == submit_reason(True) else "in what may be a terminal"
    if not command:
        return f"press Enter {where}"
    return f"run “{command[:60]}{'…' if len(command) > 60 else ''}” {where}"


_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def _plural(text: str, n: int) -> str:
    count = _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)
    if text.endswith(" the window"):
        return text.removesuffix(" the window") + f" {count} windows"
    return f"{text} {count} times"


def confirmation_prompt(actions: list[dict[str, Any]], phrases: list[str] | None = None) -> str:
    """'I'm about to close the window and press ctrl+q. Okay?' (`phrases` replace the actions' descriptions)."""
    counts: dict[str, int] = {}
    for text in phrases if phrases is not None else [describe(a) for a in actions]:
        counts[text] = counts.get(text, 0) + 1
    parts = [text if n == 1 else _plural(text, n) for text, n in counts.items()]
    return f"I'm about to {', '.join(parts[:-1]) + ' and ' if len(parts) > 1 else ''}{parts[-1]}. Okay?"


class Executor:
    """Runs validated, policy-checked actions on the desktop, one at a time, in its own thread."""

    def __init__(
        self,
        policy: Policy,
        *,
        driver_factory: Callable[[], InputDriver] = PyAutoGuiDriver,
        volume_max_percent: int = 100,
        volume_turn_max_percent: int = 50,
        screenshot_dir: str = "",
        speak: SpeakFn | None = None,
        interrupt: InterruptFn | None = None,
        confirm: Confirm | None = None,
        screen: ScreenClick | None = None,
        progress: SpeakFn | None = None,
    ) -> None:
        self.policy = policy
        self.screen = screen
        self.progress = progress
        """Says how a long step is going ("That did not work; trying another way.") without waiting for it."""
        self._driver_factory = driver_factory
        self._driver: InputDriver | None = None
        self.volume_max_percent = volume_max_percent
        self.volume_turn_max_percent = volume_turn_max_percent
        self.screenshot_dir = screenshot_dir
        self.speak = speak
        self.interrupt = interrupt
        self.confirm = confirm
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loki-actions")

    @classmethod
    def from_settings(
        cls,
        settings: ActionSettings | Settings,
        *,
        driver_factory: Callable[[], InputDriver] = PyAutoGuiDriver,
        speak: SpeakFn | None = None,
        interrupt: InterruptFn | None = None,
        confirm: Confirm | None = None,
        screen: ScreenClick | None = None,
        progress: SpeakFn | None = None,
    ) -> Executor:
        """An executor and its policy as the action settings ask (volume caps, screenshot folder)."""
        actions = ActionSettings.of(settings)
        return cls(
            Policy.from_settings(actions),
            driver_factory=driver_factory,
            volume_max_percent=actions.volume_max_percent,
            volume_turn_max_percent=actions.volume_turn_max_percent,
            screenshot_dir=actions.screenshot_dir,
            speak=speak,
            interrupt=interrupt,
            confirm=confirm,
            screen=screen,
            progress=progress,
        )

    @property
    def step_timeout_s(self) -> float:
        """Seconds one step may take (the policy's, which also refuses longer waits)."""
        return self.policy.step_timeout_s

    @property
    def plan_timeout_s(self) -> float:
        """Seconds a whole plan may take, confirmations excluded."""
        return self.policy.plan_timeout_s

    @property
    def apps(self) -> AppCatalog:
        """The launch allowlist."""
        return self.policy.apps

    def close(self) -> None:
        """Release the action thread."""
        self._thread.shutdown(wait=False, cancel_futures=True)

    async def run(
        self,
        actions: Iterable[Any],
        *,
        trusted: bool = False,
        context: Context | None = None,
        focus: Callable[[], Context] | None = None,
        unasked: Mapping[int, str] | None = None,
    ) -> Report:
        """Validate and policy-check the whole plan, confirm if needed, then execute in order.

        `context` is the window focused when the plan starts (None: unknown); `focus`, when given,
        reads the focused window again before an untrusted Enter, which is confirmed if it would go
        to a terminal. `unasked` steps (index: why) are confirmed even when the policy finds them safe.
        Nothing runs when any step is invalid or denied, or when the user declines.
        """
        report = Report()
        raw = list(actions)
        for index, action in enumerate(raw):
            try:
                report.actions.append(validate_action(action))
            except ActionError as exc:
                report.actions = []
                report.ok, report.message = False, f"I can't do that: Step {index + 1}: {exc}"
                report.refuse(raw, 0, index, f"Step {index + 1}: {exc}")
                return report
        plan = report.actions
        verdicts = self.policy.check_plan(plan, trusted=trusted, context=context)
        for index, why in (unasked or {}).items():
            if index < len(verdicts) and verdicts[index].decision is Decision.SAFE:
                verdicts[index] = Verdict(Decision.CONFIRM, why)
        denied = [i for i, v in enumerate(verdicts) if v.decision is Decision.DENY]
        if denied:
            first = denied[0]
            report.ok, report.message = False, f"I won't {describe(plan[first])}: {verdicts[first].reason}"
            report.refuse(plan, 0, first, verdicts[first].reason)
            for i in denied[1:]:
                report.refused[i]["reason"] = verdicts[i].reason
            return report
        risky = [i for i, v in enumerate(verdicts) if v.decision is Decision.CONFIRM]
        if risky:
            prompt = confirmation_prompt(
                [plan[i] for i in risky], [_describe_step(plan[i], verdicts[i]) for i in risky]
            )
            if not await self._ask(prompt, report):
                report.refuse(plan, 0, risky[0], "", verb="was not confirmed")
                for i in risky:
                    report.refused[i]["reason"] = self._unconfirmed(verdicts[i].reason)
                return report
        deadline = time.monotonic() + self.plan_timeout_s
        limits = desktop.VolumeLimits(self.volume_max_percent, self.volume_turn_max_percent)
        for index, action in enumerate(plan):
            if focus is not None and not trusted and not self.policy.dry_run and index not in risky:
                asked_at = time.monotonic()
                refusal = await self._confirm_focus(action, verdicts[index], focus, report)
                deadline += time.monotonic() - asked_at  # time spent asking is not the plan's
                if refusal:
                    report.refuse(plan, index, index, self._unconfirmed(refusal), verb="was not confirmed")
                    return report
            try:
                await self._step(action, report, limits, deadline)
            except ActionError as exc:
                report.ok, report.failed, report.message = False, True, str(exc)
                report.refuse(plan, index, index, str(exc), verb="failed")
                break
            report.ran.append(action)
            report.executed += 1
        return report

    async def _ask(self, prompt: str, report: Report) -> bool:
        """Ask the user; on anything but a yes, say so in `report`."""
        agreed = await self.confirm(prompt) if self.confirm else False
        if not agreed:
            report.ok = False
            report.message = "Okay, I won't do it." if self.confirm else f"{prompt} I need a yes first."
        return agreed

    def _unconfirmed(self, reason: str) -> str:
        """A refused step's reason when the yes did not come."""
        return f"{'declined' if self.confirm else 'waiting for a yes nobody gave'}: {reason}"

    async def _confirm_focus(
        self, action: dict[str, Any], verdict: Verdict, focus: Callable[[], Context], report: Report
    ) -> str:
        """Before an Enter the plan thought safe: ask if the focused window is a terminal; returns why not, or ""."""
        if not self.policy.is_submit(action):
            return ""
        loop = asyncio.get_running_loop()
        try:
            now = await asyncio.wait_for(loop.run_in_executor(self._thread, focus), self.step_timeout_s)
        except Exception:  # xdotool missing or hung, the display gone: unknown
            log.warning("could not read the focused window before pressing Enter", exc_info=True)
            now = None
        terminal = looks_like_terminal(now)
        if terminal is False:
            return ""
        reason = submit_reason(terminal)
        step = _describe_step(action, Verdict(Decision.CONFIRM, reason, verdict.command or ""))
        return "" if await self._ask(confirmation_prompt([action], [step]), report) else reason

    async def _step(
        self, action: dict[str, Any], report: Report, limits: desktop.VolumeLimits, deadline: float
    ) -> None:
        """Run one step within the step's and the plan's time; raises ActionError when it fails or overruns."""
        left_s = deadline - time.monotonic()
        limit_s = min(self.step_timeout_s, left_s)
        over = (
            f"Stopped: '{describe(action)}' took longer than {self.step_timeout_s:g} s (LOKI_STEP_TIMEOUT_S)."
            if limit_s == self.step_timeout_s
            else f"Stopped: the plan took longer than {self.plan_timeout_s:g} s (LOKI_PLAN_TIMEOUT_S)."
        )
        if left_s <= 0:
            raise ActionError(over)
        kind = action["type"]
        if kind == "speak":
            report.said.append(action["text"])
            if self.speak and not self.policy.dry_run:
                await self._within(self.speak(action["text"]), left_s, over)
            return
        if kind == "stop":
            if self.interrupt and not self.policy.dry_run:
                await self._within(self.interrupt(), left_s, over)
            return
        if kind == "wait":
            if not self.policy.dry_run:
                await asyncio.sleep(min(action["seconds"], limit_s))
                if action["seconds"] > limit_s:
                    raise ActionError(over)
            return
        if self.policy.dry_run:
            return
        if kind == "click" and "target" in action:
            await self._click_target(action, report, left_s)
            return
        loop = asyncio.get_running_loop()
        try:
            result = await self._within(loop.run_in_executor(self._thread, self._act, action, limits), limit_s, over)
        except ActionError:
            raise
        except Exception as exc:  # pyautogui.FailSafeException, Xlib errors, OSError from tools
            if type(exc).__name__ == "FailSafeException":
                raise ActionError("Stopped: the mouse is in a screen corner (pyautogui's fail-safe).") from exc
            raise ActionError(f"Could not {describe(action)}: {exc}") from exc
        if result:
            report.artifacts.append(result)

    async def _click_target(self, action: dict[str, Any], report: Report, left_s: float) -> None:
        """Click a named control through the screen tier, which checks it worked and corrects itself.

        It has the plan's time left (the screen tier keeps to LOKI_SCREEN_BUDGET_S); a cancelled or
        overrun step stops before its next click. The step records where it clicked and what it read.
        """
        if self.screen is None:
            raise ActionError("Clicking a named control needs the screen tier, which is not running here.")
        loop = asyncio.get_running_loop()
        cancelled = threading.Event()

        def notify(text: str) -> None:  # "That did not work; trying another way." (from the action thread)
            log.info("screen: %s", text)
            if self.progress is not None and not self.policy.dry_run:
                say = self.progress
                loop.call_soon_threadsafe(lambda: asyncio.ensure_future(say(text)))

        def run() -> Any:
            driver = self._get_driver()
            press = lambda x, y: driver.click(x, y, action["button"], action["count"])  # noqa: E731
            return self.screen(action, press, cancelled, is_risky_label, notify)  # type: ignore[misc]

        over = f"Stopped: clicking took longer than the plan's {self.plan_timeout_s:g} s (LOKI_PLAN_TIMEOUT_S)."
        try:
            result = await self._within(loop.run_in_executor(self._thread, run), left_s, over)
        except ActionError:
            raise
        except Exception as exc:  # pyautogui's fail-safe, the display gone
            if type(exc).__name__ == "FailSafeException":
                raise ActionError("Stopped: the mouse is in a screen corner (pyautogui's fail-safe).") from exc
            raise ActionError(f"Could not {describe(action)}: {exc}") from exc
        finally:
            cancelled.set()  # a cancelled turn ("stop") or an overrun: no further click
        report.timings_ms.update(result.timings_ms)
        report.screen.extend(a.as_dict() for a in result.attempts)
        if not result.ok:
            raise ActionError(result.message)
        clicked = result.clicked
        action["x"], action["y"] = clicked.at
        action["target"]["label"] = clicked.label

    @staticmethod
    async def _within(awaitable: Awaitable[Any], limit_s: float, over: str) -> Any:
        try:
            return await asyncio.wait_for(awaitable, limit_s)
        except TimeoutError:
            raise ActionError(over) from None

    def _get_driver(self) -> InputDriver:
        if self._driver is None:
            self._driver = self._driver_factory()
        return self._driver

    def _act(self, action: dict[str, Any], limits: desktop.VolumeLimits) -> str | None:
        """Carry out one desktop action (in the action thread). Returns a path for screenshots."""
        kind = action["type"]
        log.info("action %s", action if kind != "type" else {"type": "type", "chars": len(action["text"])})
        if kind == "launch":
            argv = self.apps.resolve(action["app"])
            if argv is None:
                raise ActionError(
                    f"No program for '{action['app']}' is installed; install one or add it to LOKI_APPS_ALLOW."
                )
            desktop.launch(argv)
        elif kind == "screenshot":
            return str(desktop.screenshot(self.screenshot_dir))
        elif kind == "volume":
            desktop.volume(action, self._get_driver_or_none(), limits)
        elif kind == "media":
            desktop.media(action["op"], self._get_driver())
        elif kind == "window":
            desktop.window(action["op"], action.get("target"), self._get_driver())
        else:
            driver = self._get_driver()
            if kind == "hotkey":
                driver.hotkey(action["keys"])
            elif kind == "type":
                driver.type_text(action["text"])
            elif kind == "click":
                driver.click(action["x"], action["y"], action["button"], action["count"])
            elif kind == "move":
                driver.move(action["x"], action["y"])
            elif kind == "drag":
                driver.drag(action["x"], action["y"], action["to_x"], action["to_y"], action["button"])
            elif kind == "scroll":
                driver.scroll(action["clicks"])
        return None

    def _get_driver_or_none(self) -> Any:
        """Volume works through OS mixers without a display; the driver is only a fallback."""
        try:
            return self._get_driver()
        except ActionError:
            return None
