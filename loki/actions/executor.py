"""The one executor: validates, asks the policy, confirms risky steps, then acts — or, in dry-run, only reports."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from loki.actions import desktop
from loki.actions.apps import AppCatalog
from loki.actions.drivers import InputDriver, PyAutoGuiDriver
from loki.actions.policy import Decision, Policy
from loki.actions.schema import validate_plan
from loki.errors import ActionError

log = logging.getLogger(__name__)

Confirm = Callable[[str], Awaitable[bool]]
SpeakFn = Callable[[str], Awaitable[None]]
InterruptFn = Callable[[], Awaitable[None]]


@dataclass
class Report:
    """What happened to a plan: `ok` only if every step ran (or would run, in dry-run)."""

    actions: list[dict[str, Any]] = field(default_factory=list)
    ok: bool = True
    executed: int = 0
    message: str = ""  # why it stopped, for the user
    said: list[str] = field(default_factory=list)  # text of speak actions
    artifacts: list[str] = field(default_factory=list)  # files made (screenshots)


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
    return kind


_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]


def _plural(text: str, n: int) -> str:
    count = _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)
    if text.endswith(" the window"):
        return text.removesuffix(" the window") + f" {count} windows"
    return f"{text} {count} times"


def confirmation_prompt(actions: list[dict[str, Any]]) -> str:
    """'I'm about to close the window and press ctrl+q. Okay?'"""
    counts: dict[str, int] = {}
    for action in actions:
        counts[describe(action)] = counts.get(describe(action), 0) + 1
    parts = [text if n == 1 else _plural(text, n) for text, n in counts.items()]
    return f"I'm about to {', '.join(parts[:-1]) + ' and ' if len(parts) > 1 else ''}{parts[-1]}. Okay?"


class Executor:
    """Runs validated, policy-checked actions on the desktop, one at a time, in its own thread."""

    def __init__(
        self,
        policy: Policy,
        *,
        driver_factory: Callable[[], InputDriver] = PyAutoGuiDriver,
        step_timeout_s: float = 10.0,
        screenshot_dir: str = "",
        speak: SpeakFn | None = None,
        interrupt: InterruptFn | None = None,
        confirm: Confirm | None = None,
    ) -> None:
        self.policy = policy
        self._driver_factory = driver_factory
        self._driver: InputDriver | None = None
        self.step_timeout_s = step_timeout_s
        self.screenshot_dir = screenshot_dir
        self.speak = speak
        self.interrupt = interrupt
        self.confirm = confirm
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loki-actions")

    @property
    def apps(self) -> AppCatalog:
        """The launch allowlist."""
        return self.policy.apps

    def close(self) -> None:
        """Release the action thread."""
        self._thread.shutdown(wait=False, cancel_futures=True)

    async def run(self, actions: Iterable[Any], *, trusted: bool = False) -> Report:
        """Validate and policy-check the whole plan, confirm if needed, then execute in order.

        Nothing runs when any step is invalid or denied, or when the user declines.
        """
        report = Report()
        try:
            report.actions = validate_plan(actions)
        except ActionError as exc:
            return Report(ok=False, message=f"I can't do that: {exc}")
        verdicts = self.policy.check_plan(report.actions, trusted=trusted)
        denied = [(a, v) for a, v in zip(report.actions, verdicts, strict=True) if v.decision is Decision.DENY]
        if denied:
            action, verdict = denied[0]
            report.ok, report.message = False, f"I won't {describe(action)}: {verdict.reason}"
            return report
        risky = [a for a, v in zip(report.actions, verdicts, strict=True) if v.decision is Decision.CONFIRM]
        if risky and not self.policy.dry_run:
            prompt = confirmation_prompt(risky)
            agreed = await self.confirm(prompt) if self.confirm else False
            if not agreed:
                report.ok, report.message = (
                    False,
                    "Okay, I won't do it." if self.confirm else f"{prompt} I need a yes first.",
                )
                return report
        for action in report.actions:
            try:
                await self._step(action, report)
            except TimeoutError:
                report.ok, report.message = (
                    False,
                    f"Stopped: '{describe(action)}' took longer than {self.step_timeout_s:g} s.",
                )
                break
            except ActionError as exc:
                report.ok, report.message = False, str(exc)
                break
            report.executed += 1
        return report

    async def _step(self, action: dict[str, Any], report: Report) -> None:
        kind = action["type"]
        if kind == "speak":
            report.said.append(action["text"])
            if self.speak and not self.policy.dry_run:
                await self.speak(action["text"])
            return
        if kind == "stop":
            if self.interrupt and not self.policy.dry_run:
                await self.interrupt()
            return
        if kind == "wait":
            if not self.policy.dry_run:
                await asyncio.sleep(action["seconds"])
            return
        if self.policy.dry_run:
            return
        loop = asyncio.get_running_loop()
        try:
            result = await asyncio.wait_for(loop.run_in_executor(self._thread, self._act, action), self.step_timeout_s)
        except (ActionError, TimeoutError):
            raise
        except Exception as exc:  # pyautogui.FailSafeException, Xlib errors, OSError from tools
            if type(exc).__name__ == "FailSafeException":
                raise ActionError("Stopped: the mouse is in a screen corner (pyautogui's fail-safe).") from exc
            raise ActionError(f"Could not {describe(action)}: {exc}") from exc
        if result:
            report.artifacts.append(result)

    def _get_driver(self) -> InputDriver:
        if self._driver is None:
            self._driver = self._driver_factory()
        return self._driver

    def _act(self, action: dict[str, Any]) -> str | None:
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
            desktop.volume(action, self._get_driver_or_none())
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
