"""The screenshot as a vision model must receive it: resized the model's way, secrets blacked out, encoded.

Qwen2.5-VL and UI-TARS-1.5 answer in absolute pixels of the image *after* their processor's
`smart_resize` (sides multiples of 28, area within [min_pixels, max_pixels]). If LOKI sent any other
size, the model would answer in pixels of an image LOKI never saw. So LOKI resizes first, sends exactly
that image and maps the answer back through its frame. Every other convention is relative (0-1000,
0-1), so those images are only scaled down to `LOKI_VISION_IMAGE_PX` on their longer side.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence

from loki.errors import ScreenError
from loki.screen.capture import Screenshot
from loki.screen.coords import Box, fit_size

FACTOR = 28
"""Qwen2.5-VL's patch (14) times its merge size (2): the sides of the image it sees are multiples of it."""
MIN_PIXELS = 56 * 56
MAX_PIXELS = 16384 * 28 * 28
"""Qwen2.5-VL's processor limits (qwen-vl-utils `MIN_PIXELS`, `MAX_PIXELS`)."""
MAX_RATIO = 200
SMART_RESIZED = frozenset({"qwen25", "uitars15"})
"""The `LOKI_VISION_COORDS` values whose models answer in pixels of the smart-resized image."""


def _round_by(value: float, factor: int) -> int:
    return round(value / factor) * factor


def _floor_by(value: float, factor: int) -> int:
    return math.floor(value / factor) * factor


def _ceil_by(value: float, factor: int) -> int:
    return math.ceil(value / factor) * factor


def smart_resize(
    height: int, width: int, factor: int = FACTOR, min_pixels: int = MIN_PIXELS, max_pixels: int = MAX_PIXELS
) -> tuple[int, int]:
    """(height, width) as Qwen2.5-VL's processor resizes an image (qwen-vl-utils `smart_resize`).

    Both sides become multiples of `factor`, the area stays within [min_pixels, max_pixels] and the
    aspect ratio is kept as closely as that allows.
    """
    if max(height, width) / max(1, min(height, width)) > MAX_RATIO:
        raise ScreenError(
            f"A {width}x{height} image is too narrow for the vision model (aspect ratio over {MAX_RATIO}).",
            code="vision_image",
        )
    h_bar = max(factor, _round_by(height, factor))
    w_bar = max(factor, _round_by(width, factor))
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt((height * width) / max_pixels)
        h_bar = max(factor, _floor_by(height / beta, factor))
        w_bar = max(factor, _floor_by(width / beta, factor))
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = _ceil_by(height * beta, factor)
        w_bar = _ceil_by(width * beta, factor)
    return h_bar, w_bar


def sent_size(width: int, height: int, convention: str, longest: int) -> tuple[int, int]:
    """The (width, height) of the image sent for a screenshot of `width` x `height` pixels."""
    if convention in SMART_RESIZED:
        fit_w, fit_h = fit_size(width, height, longest)
        h, w = smart_resize(height, width, max_pixels=min(MAX_PIXELS, max(MIN_PIXELS, fit_w * fit_h)))
        return w, h
    return fit_size(width, height, longest)


def prepare(shot: Screenshot, convention: str, longest: int) -> Screenshot:
    """The screenshot as the model must receive it; its frame describes the image sent.

    Args:
        convention: a `LOKI_VISION_COORDS` value (qwen25, uitars15, qwen3, uitars1, moondream, gemini, pixels).
        longest: `LOKI_VISION_IMAGE_PX`, the longer side of the image sent (for qwen25/uitars15 it bounds
            the area, and the sides are then rounded to multiples of 28).
    """
    from PIL import Image

    size = sent_size(shot.image.width, shot.image.height, convention, longest)
    image = shot.image if size == shot.image.size else shot.image.resize(size, Image.Resampling.BICUBIC)
    return Screenshot(image, shot.frame.resized(*size))


def black_out(shot: Screenshot, boxes: Sequence[Box]) -> Screenshot:
    """A copy with every screen-pixel box filled black in the image (each image pixel it touches)."""
    if not boxes:
        return shot
    from PIL import ImageDraw

    frame = shot.frame
    sx, sy = frame.scale
    image = shot.image.copy()
    draw = ImageDraw.Draw(image)
    for box in boxes:
        left = math.floor((box.left - frame.crop.left) * sx)
        top = math.floor((box.top - frame.crop.top) * sy)
        right = math.ceil((box.left + box.width - frame.crop.left) * sx)
        bottom = math.ceil((box.top + box.height - frame.crop.top) * sy)
        left, top = max(0, left), max(0, top)
        right, bottom = min(image.width, right), min(image.height, bottom)
        if right > left and bottom > top:
            draw.rectangle((left, top, right - 1, bottom - 1), fill=(0, 0, 0))
    return Screenshot(image, frame)


def png_base64(shot: Screenshot) -> str:
    """The image as base64 PNG (lossless: a model reading small text needs every pixel)."""
    out = io.BytesIO()
    shot.image.convert("RGB").save(out, format="PNG", optimize=False, compress_level=3)
    return base64.b64encode(out.getvalue()).decode("ascii")
