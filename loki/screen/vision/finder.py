"""The vision stage of the grounding cascade, and the screen questions ("what's on my screen?").

It looks at the active window only: the window's crop is grabbed, prepared the model's way
(`vision.image`), and sent with a question; the answer is read in the model's coordinate convention
(`vision.answer`) and mapped to the screen pixel to click. Accessibility and OCR come first in the
cascade; a vision candidate scores 0.7 so that they win whenever they are sure.

Privacy: nothing is grabbed unless a vision backend is configured. Before an image goes to another
machine (a host that is not localhost, 127.0.0.0/8 or ::1), windows of LOKI_SCREEN_REDACT_APPS are
refused and password fields (boxes from the accessibility stage) are filled black.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from loki.config import ScreenSettings
from loki.errors import ScreenError
from loki.screen.capture import Screen, Screenshot
from loki.screen.coords import MODEL_CONVENTIONS, Box, click_to_image
from loki.screen.ground import Candidate, Target, Window
from loki.screen.vision.answer import SYSTEM, locate_prompt, read_answer, write_point
from loki.screen.vision.image import black_out, png_base64, prepare
from loki.screen.vision.remote import VisionModel, leaves_machine

log = logging.getLogger(__name__)

SCORE = 0.7
"""A vision answer's score: enough to be picked, below `ground.SURE` so sure a11y/OCR answers win."""
POINT_BOX_PX = 9
"""The side of the small box a candidate gets around the point the model gave."""
MAX_DESCRIPTION_CHARS = 1200
"""A spoken description is a few sentences; the rest is cut."""


def no_secrets(window: Window) -> list[Box]:
    """The default `secret_boxes`: no password fields known."""
    return []


class VisionFinder:
    """Implements `ground.Finder` through a vision model; also answers questions about the window.

    Blocking (it waits for the model): call it from a worker thread, as the cascade is.

    Args:
        settings: `settings.screen` (LOKI_VISION_*, LOKI_SCREEN_REDACT_APPS).
        model: the backend (default: the one the settings name; None when LOKI_VISION_BACKEND=none).
        screen_factory: makes the `Screen` to grab from (a fake screen in tests).
        secret_boxes: the window's password fields in screen pixels (from the accessibility stage).
        remote: whether images leave the machine (default: decided from the backend's URL).
    """

    source = "vision"

    def __init__(
        self,
        settings: ScreenSettings,
        *,
        model: VisionModel | None = None,
        screen_factory: Callable[[], Screen] = Screen,
        secret_boxes: Callable[[Window], Sequence[Box]] = no_secrets,
        remote: bool | None = None,
    ) -> None:
        self.settings = settings
        self.convention = settings.vision_coords
        if self.convention not in MODEL_CONVENTIONS:
            raise ScreenError(
                f"Unknown LOKI_VISION_COORDS {self.convention!r}: one of {', '.join(MODEL_CONVENTIONS)}.",
                code="vision_config",
            )
        self.model = model
        self.screen_factory = screen_factory
        self.secret_boxes = secret_boxes
        self.remote = remote if remote is not None else (self.model is not None and leaves_machine(self.model))
        self.redact_apps = tuple(a.strip().casefold() for a in settings.screen_redact_apps if a.strip())
        self.last_sent: Screenshot | None = None
        """The image most recently sent, with its frame (for traces and `loki screen find --json`)."""

    @property
    def enabled(self) -> bool:
        """True when a vision backend is configured."""
        return self.model is not None

    # The Finder protocol --------------------------------------------------------------------------

    def find(self, target: Target, window: Window, deadline: float) -> list[Candidate]:
        """One candidate where the model says `target` is in `window`; [] when no backend is configured."""
        return self._locate(target, window, deadline, "")

    def find_again(
        self,
        target: Target,
        window: Window,
        tried: Sequence[Candidate],
        deadline: float,
        *,
        outcome: str = "nothing changed",
    ) -> list[Candidate]:
        """The correction: a fresh screenshot, and what was clicked before and what came of it.

        Each tried point is told in the model's own convention on the new image ("Before, I clicked
        at (412, 230) on 'Cancel' and nothing changed."), so it can look elsewhere.
        """
        return self._locate(target, window, deadline, outcome, tried)

    def describe(self, window: Window, question: str, deadline: float) -> str:
        """The model's answer to a question about `window` ("what's on my screen?"), to be spoken."""
        if self.model is None:
            raise ScreenError(
                "Questions about the screen need a vision model: set LOKI_VISION_BACKEND (openai, ollama, gemini "
                "or llama_cpp) and LOKI_VISION_MODEL.",
                code="vision_off",
            )
        shot = self._look(window)
        prompt = (
            f"{question.strip() or 'What is on the screen?'}\n"
            f"This is the {window.app or 'active'} window{f' titled {window.title!r}' if window.title else ''}. "
            "Answer in one to three short sentences for someone who cannot see it."
        )
        text = self._run(self.model.ask(SYSTEM, prompt, png_base64(shot)), deadline).strip()
        if not text:
            raise ScreenError("The vision model answered with nothing to say.", code="vision_bad_answer")
        return text if len(text) <= MAX_DESCRIPTION_CHARS else text[: MAX_DESCRIPTION_CHARS - 1] + "…"

    # Inside ----------------------------------------------------------------------------------------

    def _locate(
        self, target: Target, window: Window, deadline: float, outcome: str, tried: Sequence[Candidate] = ()
    ) -> list[Candidate]:
        if self.model is None:
            return []
        shot = self._look(window)
        prompt = locate_prompt(target, self.convention, shot.frame)
        unit = MODEL_CONVENTIONS[self.convention]
        for before in tried:
            x, y = click_to_image(*before.point, shot.frame, unit)
            said = f" on {before.label!r}" if before.label else ""
            prompt += f"\nBefore, I clicked at {write_point(x, y, self.convention)}{said} and {outcome}."
        if tried:
            prompt += "\nThat was not it: look again and answer with another place."
        answer = self._run(self.model.ask(SYSTEM, prompt, png_base64(shot)), deadline)
        located = read_answer(answer, self.convention, shot.frame)
        px, py = located.point
        half = POINT_BOX_PX // 2
        box = Box(px - half, py - half, POINT_BOX_PX, POINT_BOX_PX)
        label = located.label or target.said
        log.debug("vision: %r at %s (model wrote %s)", target.said, located.point, located.image_point)
        return [Candidate(box, label, self.source, SCORE, role=target.role)]

    def _look(self, window: Window) -> Screenshot:
        """The window's crop as it will be sent: checked for privacy, prepared, secrets blacked out."""
        if self.remote:
            app = window.app.casefold()
            refused = next((name for name in self.redact_apps if app and name in app), None)
            if refused is not None:
                raise ScreenError(
                    f"LOKI does not send {window.app}'s window to the remote vision model at its URL "
                    "(LOKI_SCREEN_REDACT_APPS); use a local vision backend or the keyboard.",
                    code="vision_private",
                )
        screen = self.screen_factory()
        try:
            shot = screen.window(window.box)
        finally:
            screen.close()
        shot = prepare(shot, self.convention, self.settings.vision_image_px)
        if self.remote:
            shot = black_out(shot, list(self.secret_boxes(window)))
        self.last_sent = shot
        return shot

    def _run(self, call: Coroutine[Any, Any, str], deadline: float) -> str:
        """Wait for the model, at most until `deadline` (time.monotonic)."""
        assert self.model is not None
        model = self.model

        async def bounded() -> str:
            try:
                async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                    return await call
            except TimeoutError:
                raise ScreenError(
                    f"The screen command ran out of time waiting for the {model.name} vision model "
                    "(LOKI_SCREEN_BUDGET_S).",
                    code="vision_timeout",
                ) from None
            finally:
                await model.aclose()

        return asyncio.run(bounded())
