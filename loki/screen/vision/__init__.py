"""Tier 2's vision model: where a control is when accessibility and OCR cannot tell, and what is on the screen."""

from loki.screen.vision.answer import Located, locate_prompt, read_answer
from loki.screen.vision.finder import VisionFinder, no_secrets
from loki.screen.vision.image import black_out, prepare, smart_resize
from loki.screen.vision.remote import VisionModel, is_loopback, leaves_machine

__all__ = [
    "Located",
    "VisionFinder",
    "VisionModel",
    "black_out",
    "is_loopback",
    "leaves_machine",
    "locate_prompt",
    "no_secrets",
    "prepare",
    "read_answer",
    "smart_resize",
]
