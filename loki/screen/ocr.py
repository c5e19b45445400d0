"""Finding a control by the text on the screen, for apps with no accessibility (Tk, games, remote desktops).

Two engines, both read the active window's pixels:

- **rapidocr** (PyPI `rapidocr`, PP-OCRv6 small detection and recognition ONNX models shipped in its
  wheel, run by onnxruntime): fast and exact on Latin text, but its dictionary has no Cyrillic letter.
- **tesseract** (the Debian `tesseract-ocr` CLI with `-l rus+eng`): reads Russian; slower to start
  (a process per read) and less sure of small coloured text, so it gets the picture twice as big.

`auto` takes rapidocr unless the name asked for has Cyrillic letters or the language is Russian.

Words, not lines: rapidocr 3 estimates word boxes from its CTC decoding (`return_word_box`), tesseract's
TSV has them. Words that follow each other closer than a wide space are one phrase ("Save As"); a
wider gap (the edges of two buttons in a toolbar read as one line) starts another. A name matches a whole
phrase best; a run of words inside a longer phrase ("Save" in "Save As") matches less, with its own box.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from loki.errors import ScreenError
from loki.screen.capture import Screen, Screenshot
from loki.screen.coords import Box, Frame, image_to_screen
from loki.screen.ground import Candidate, Target, Window, clean_label, label_score
from loki.words import has_cyrillic

log = logging.getLogger(__name__)

ENGINES = ("auto", "rapidocr", "tesseract", "none")

ORT_THREADS = 1
"""onnxruntime intra-op threads. Measured on 2 cores (a 980x640 window): idle, 2 threads read it in ~0.55 s
and 1 in ~0.9 s; with other work on the cores (load ~6, as when speech recognition or a model runs), 2
threads took 2.3-4.3 s (onnxruntime's threads spin while they wait) and 1 thread 1.0-1.4 s."""
TESSERACT_TIMEOUT_S = 20.0
"""The longest one tesseract run may take, whatever the deadline (a stuck process never blocks a turn)."""
TESSERACT_SCALE = 2
"""Tesseract reads screen text (9-16 pt at 96 dpi) far better twice as big: it missed 3 of 20 Tk labels at 1x, 1 at 2x."""
_GAP_EM = {"rapidocr": 0.6, "tesseract": 1.2}
"""A gap between words wider than this times the word height starts a new phrase.

The heights differ by engine: rapidocr's boxes are padded lines (~1.5 em), tesseract's are ink (~0.7 em).
A space is ~0.3 em; two buttons side by side leave their borders and padding (>1 em) between labels.
"""
_SUB_RUN = 0.75
"""A run of words inside a longer phrase scores at most this much of a whole-phrase match."""


@dataclass(frozen=True)
class TextBox:
    """A word read on the screen."""

    text: str
    box: Box
    """Screen pixels, absolute in the virtual screen."""
    confidence: float
    """The engine's confidence, 0..1."""
    phrase: int
    """Words with the same number were read one after another with no wider-than-a-space gap."""
    line: int
    """Words with the same number were read as one line by the engine (a row of buttons may be one line)."""


def choose_engine(setting: str, text: str = "", language: str = "en") -> str:
    """The engine to read with: the setting, or for `auto` rapidocr unless `text` or `language` is Russian."""
    if setting not in ENGINES:
        raise ScreenError(f"LOKI_OCR={setting!r} is not one of {', '.join(ENGINES)}", code="config")
    if setting != "auto":
        return setting
    return "tesseract" if has_cyrillic(text) or language.startswith("ru") else "rapidocr"


# Engines --------------------------------------------------------------------------------------------

_Word = tuple[str, float, tuple[float, float, float, float], int]
"""text, confidence 0..1, (left, top, right, bottom) edges in image pixels, engine line number."""


class _Rapid:
    """rapidocr, loaded once on first use; calls are serialised (one ONNX session pair, `ORT_THREADS` each)."""

    def __init__(self) -> None:
        self._engine: Any = None
        self._lock = threading.Lock()

    def _load(self) -> Any:
        if self._engine is None:
            try:
                from rapidocr import RapidOCR
            except ImportError as exc:
                raise ScreenError(
                    f"rapidocr is not installed ({exc}): pip install -c constraints.txt rapidocr, or set LOKI_OCR=tesseract",
                    code="ocr",
                ) from exc
            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
            self._engine = RapidOCR(
                params={
                    "Global.use_cls": False,  # screen text is upright; the classifier only costs time
                    "Global.log_level": "warning",
                    "EngineConfig.onnxruntime.intra_op_num_threads": min(ORT_THREADS, os.cpu_count() or 1),
                    "EngineConfig.onnxruntime.inter_op_num_threads": 1,
                }
            )
        return self._engine

    def words(self, image: Any) -> list[_Word]:
        """Every word of an RGB PIL image."""
        import numpy as np

        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])  # rapidocr wants BGR
        with self._lock:
            engine = self._load()
            out = engine(pixels, use_det=True, use_cls=False, use_rec=True, return_word_box=True)
        if out.txts is None or out.boxes is None:
            return []
        words: list[_Word] = []
        per_line = out.word_results if len(out.word_results) == len(out.txts) else [()] * len(out.txts)
        for line, (text, score, quad, parts) in enumerate(zip(out.txts, out.scores, out.boxes, per_line, strict=True)):
            joined = " ".join(str(p[0]) for p in parts) if parts else ""
            if parts and clean_label(joined) == clean_label(text):
                words.extend((str(w), float(s), _edges(q), line) for w, s, q in parts if str(w).strip())
            else:  # no word boxes, or they do not add up to the line: the line as one word
                words.append((str(text), float(score), _edges(quad), line))
        return words

    def line(self, image: Any) -> tuple[str, float]:
        """The text of an image that holds one line (recognition only, no detection)."""
        import numpy as np

        pixels = np.ascontiguousarray(np.asarray(image.convert("RGB"))[:, :, ::-1])
        with self._lock:
            engine = self._load()
            out = engine(pixels, use_det=False, use_cls=False, use_rec=True, return_word_box=False)
        if not getattr(out, "txts", None):
            return ("", 0.0)
        return (str(out.txts[0]), float(out.scores[0]))


def _edges(quad: Any) -> tuple[float, float, float, float]:
    xs = [float(p[0]) for p in quad]
    ys = [float(p[1]) for p in quad]
    return (min(xs), min(ys), max(xs), max(ys))


class _Tesseract:
    """The tesseract CLI, one process per read, its words from the TSV output."""

    def __init__(self, languages: str = "rus+eng") -> None:
        self.languages = languages

    def _run(self, image: Any, psm: int, timeout_s: float) -> str:
        exe = shutil.which("tesseract")
        if exe is None:
            raise ScreenError(
                "Reading Russian on the screen needs tesseract: sudo apt-get install tesseract-ocr tesseract-ocr-rus",
                code="ocr",
            )
        import io

        from PIL import Image

        big = image.convert("L").resize(
            (image.width * TESSERACT_SCALE, image.height * TESSERACT_SCALE), Image.Resampling.BICUBIC
        )
        data = io.BytesIO()
        big.save(data, format="PNG")
        dpi = str(96 * TESSERACT_SCALE)  # told, not guessed from the glyphs ("Estimating resolution as ...")
        command = [exe, "stdin", "stdout", "-l", self.languages, "--psm", str(psm), "--dpi", dpi, "tsv"]
        env = {**os.environ, "OMP_THREAD_LIMIT": "1"}  # its OpenMP threads gain ~10 % on 2 cores and take both
        try:
            out = subprocess.run(
                command, input=data.getvalue(), capture_output=True, timeout=max(0.5, timeout_s), env=env
            )
        except subprocess.TimeoutExpired as exc:
            raise ScreenError(f"tesseract took longer than {timeout_s:.1f} s to read the window", code="ocr") from exc
        if out.returncode != 0:
            problem = out.stderr.decode(errors="replace").strip()[-300:]
            raise ScreenError(
                f"tesseract failed ({problem}); is the Russian model installed? sudo apt-get install tesseract-ocr-rus",
                code="ocr",
            )
        return out.stdout.decode("utf-8", errors="replace")

    def words(self, image: Any, timeout_s: float = TESSERACT_TIMEOUT_S) -> list[_Word]:
        """Every word of an RGB PIL image (sparse text: controls scattered over a window)."""
        words: list[_Word] = []
        lines: dict[tuple[str, ...], int] = {}
        for row in self._run(image, 11, timeout_s).splitlines()[1:]:
            cols = row.split("\t")
            if len(cols) < 12 or cols[0] != "5" or not cols[11].strip() or not clean_label(cols[11]):
                continue
            left, top, width, height = (int(v) / TESSERACT_SCALE for v in cols[6:10])
            line = lines.setdefault(tuple(cols[1:5]), len(lines))
            confidence = max(0.0, min(1.0, float(cols[10]) / 100))
            words.append((cols[11].strip(), confidence, (left, top, left + width, top + height), line))
        return words

    def line(self, image: Any, timeout_s: float = TESSERACT_TIMEOUT_S) -> tuple[str, float]:
        """The text of an image that holds one line."""
        texts, confidences = [], []
        for row in self._run(image, 7, timeout_s).splitlines()[1:]:
            cols = row.split("\t")
            if len(cols) >= 12 and cols[0] == "5" and cols[11].strip():
                texts.append(cols[11].strip())
                confidences.append(float(cols[10]) / 100)
        return (" ".join(texts), sum(confidences) / len(confidences) if confidences else 0.0)


_RAPID = _Rapid()
"""One rapidocr per process: its models take ~0.5 s and ~100 MB to load."""


def read(shot: Screenshot, engine: str = "rapidocr", *, timeout_s: float = TESSERACT_TIMEOUT_S) -> list[TextBox]:
    """The words of a screenshot, boxes in screen pixels, in the engine's order, grouped into phrases."""
    if engine == "rapidocr":
        words = _RAPID.words(shot.image)
    elif engine == "tesseract":
        words = _Tesseract().words(shot.image, timeout_s)
    else:
        raise ScreenError(f"No OCR engine {engine!r}: use rapidocr or tesseract", code="config")
    return _phrases(words, shot.frame, _GAP_EM[engine])


def _phrases(words: Sequence[_Word], frame: Frame, gap_em: float) -> list[TextBox]:
    out: list[TextBox] = []
    phrase = -1
    previous: _Word | None = None
    for word in sorted(words, key=lambda w: (w[3], w[2][0])):
        text, confidence, (left, top, right, bottom), line = word
        if previous is None or previous[3] != line:
            phrase += 1
        else:
            p_left, p_top, p_right, p_bottom = previous[2]
            height = min(bottom - top, p_bottom - p_top)
            if left - p_right > gap_em * max(height, 1.0):
                phrase += 1
        previous = word
        x0, y0 = image_to_screen(left - 0.5, top - 0.5, frame)
        x1, y1 = image_to_screen(right - 0.5, bottom - 0.5, frame)
        out.append(TextBox(text, Box(x0, y0, max(1.0, x1 - x0), max(1.0, y1 - y0)), confidence, phrase, line))
    return out


# Matching -------------------------------------------------------------------------------------------


def _union(boxes: Sequence[Box]) -> Box:
    left = min(b.left for b in boxes)
    top = min(b.top for b in boxes)
    right = max(b.left + b.width for b in boxes)
    bottom = max(b.top + b.height for b in boxes)
    return Box(left, top, right - left, bottom - top)


def grouped(words: Sequence[TextBox], key: Callable[[TextBox], int]) -> list[list[TextBox]]:
    """Words grouped by `key` (phrase or line), each group left to right."""
    groups: dict[int, list[TextBox]] = {}
    for word in words:
        groups.setdefault(key(word), []).append(word)
    return [sorted(g, key=lambda w: w.box.left) for g in groups.values()]


def match(name: str, words: Sequence[TextBox]) -> list[Candidate]:
    """The phrases that may be `name`, best first: for each phrase its best run of words.

    Score: `label_score` of the run (`_SUB_RUN` times that for a run inside a longer phrase), times
    0.8 + 0.2 x the words' mean confidence.
    """
    wanted = max(1, len(clean_label(name).split()))
    out: list[Candidate] = []
    for phrase in grouped(words, lambda w: w.phrase):
        whole = " ".join(w.text for w in phrase)
        whole_score = label_score(name, whole)
        best: tuple[float, int, list[TextBox]] | None = None
        for i in range(len(phrase)):
            for j in range(i + 1, min(len(phrase), i + wanted + 2) + 1):
                run = phrase[i:j]
                text = " ".join(w.text for w in run)
                score = whole_score if len(run) == len(phrase) else _SUB_RUN * label_score(name, text)
                confidence = sum(w.confidence for w in run) / len(run)
                score *= 0.8 + 0.2 * confidence
                if best is None or (score, -len(run)) > (best[0], -best[1]):
                    best = (score, len(run), run)
        if best is not None and best[0] > 0:
            score, _, run = best
            out.append(Candidate(_union([w.box for w in run]), " ".join(w.text for w in run), "ocr", score, "text"))
    return sorted(out, key=lambda c: -c.score)


def lines(words: Sequence[TextBox]) -> list[str]:
    """The engine's lines as text, in reading order (top to bottom, then left to right)."""
    found = [(_union([w.box for w in g]), " ".join(w.text for w in g)) for g in grouped(words, lambda w: w.line)]
    if not found:
        return []
    half = max(4.0, min(b.height for b, _ in found) / 2)
    return [text for _, text in sorted(found, key=lambda f: (round(f[0].center[1] / half), f[0].left))]


# The finder -----------------------------------------------------------------------------------------


class OcrFinder:
    """The cascade's OCR stage: reads the active window and matches the words against the name asked for."""

    source = "ocr"

    def __init__(
        self, screen_factory: Callable[[], Screen] = Screen, engine: str = "auto", *, language: str = "en"
    ) -> None:
        choose_engine(engine)  # a bad setting fails here, at start-up
        self.screen_factory = screen_factory
        self.engine = engine
        self.language = language
        self.last_ms: dict[str, float] = {}
        """The last find's stages: capture (the window's pixels) and ocr_read."""

    def _grab(self, box: Box) -> Screenshot:
        screen = self.screen_factory()
        try:
            return screen.window(box)
        finally:
            screen.close()

    def find(self, target: Target, window: Window, deadline: float) -> list[Candidate]:
        """Candidates for `target.name` in `window`, best first; [] with no name, OCR off or no time left."""
        engine = choose_engine(self.engine, target.name, target.language)
        left_s = deadline - time.monotonic()
        if not target.name.strip() or engine == "none" or left_s <= 0:
            return []
        started = time.perf_counter()
        shot = self._grab(window.box)
        grabbed = time.perf_counter()
        words = read(shot, engine, timeout_s=min(left_s, TESSERACT_TIMEOUT_S))
        self.last_ms = {
            "capture": round((grabbed - started) * 1000, 1),
            "ocr_read": round((time.perf_counter() - grabbed) * 1000, 1),
        }
        return match(target.name, words)

    def texts(self, window: Window, deadline: float) -> list[str]:
        """The window's lines of text in reading order (for "what's on my screen?")."""
        engine = self._on(choose_engine(self.engine, "", self.language))
        left_s = deadline - time.monotonic()
        if left_s <= 0:
            return []
        return lines(read(self._grab(window.box), engine, timeout_s=min(left_s, TESSERACT_TIMEOUT_S)))

    def reread(self, box: Box, expect: str) -> float:
        """How well the text at `box` (screen pixels) still says `expect`, 0..1 (`label_score`).

        Reads only a small crop around the box, recognition only: the hit-test before a click and the
        check after it.
        """
        engine = self._on(choose_engine(self.engine, expect, self.language))
        margin_x = max(4.0, box.height * 0.4)
        margin_y = max(3.0, box.height * 0.25)
        crop = Box(box.left - margin_x, box.top - margin_y, box.width + 2 * margin_x, box.height + 2 * margin_y)
        shot = self._grab(Box(round(crop.left), round(crop.top), round(crop.width), round(crop.height)))
        text, _ = _RAPID.line(shot.image) if engine == "rapidocr" else _Tesseract().line(shot.image)
        return label_score(expect, text) if text else 0.0

    def _on(self, engine: str) -> str:
        if engine == "none":
            raise ScreenError(
                "Text recognition is off (LOKI_OCR=none): set LOKI_OCR=auto to read the screen", code="ocr_off"
            )
        return engine
