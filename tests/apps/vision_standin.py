"""A stand-in vision model on 127.0.0.1: the real HTTP APIs, a real look at the pixels, a model's answer format.

No vision model's weights can be downloaded here, so this server plays one for LOKI's tests and
benchmarks. It speaks OpenAI chat/completions (`image_url` data URI), Ollama /api/chat (`images`)
and Gemini generateContent (`inline_data`); decodes the image LOKI sent; applies the configured
model's own resizing (Qwen2.5-VL / UI-TARS-1.5: `smart_resize`, factor 28 — an image LOKI did not
already send at that size is resized, as the real processor would, and the request is marked); finds
the quoted target with real OCR (rapidocr) on those pixels, narrowed to the ink; and answers in the
configured convention, in the shape that model family writes.

Modes (constructor, `configure()` or POST /control with JSON): `wrong` (probability, seeded, of
answering another text box), `swap` (x and y exchanged), `slow_s` (sleep before answering),
`malformed`, `actions` (an answer that also asks to type and press keys), `nan`, `outside`
(a point far outside the image), `description` (the `describe` answer). GET /requests lists what
arrived (API, image size, whether it had to be resized); in-process tests read `.requests`, which
keep the images themselves.

    python tests/apps/vision_standin.py --port 0 --coords qwen25 --wrong 0.3
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import json
import math
import random
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from loki.screen.ground import MATCH, label_score

MODES = ("coords", "wrong", "seed", "swap", "slow_s", "malformed", "actions", "nan", "outside", "description")
_QUOTED = re.compile(r'"((?:[^"\\]|\\.)*)"')
_LOCATE = ("Locate", "Output only the coordinate", "Point at", "Detect", "Where is")


def qwen_smart_resize(height: int, width: int, factor: int = 28) -> tuple[int, int]:
    """Qwen2.5-VL's processor resize (qwen-vl-utils), written out again here so LOKI's copy is checked, not reused."""
    min_pixels, max_pixels = 56 * 56, 16384 * 28 * 28
    h_bar = max(factor, round(height / factor) * factor)
    w_bar = max(factor, round(width / factor) * factor)
    if h_bar * w_bar > max_pixels:
        beta = math.sqrt(height * width / max_pixels)
        h_bar = math.floor(height / beta / factor) * factor
        w_bar = math.floor(width / beta / factor) * factor
    elif h_bar * w_bar < min_pixels:
        beta = math.sqrt(min_pixels / (height * width))
        h_bar = math.ceil(height * beta / factor) * factor
        w_bar = math.ceil(width * beta / factor) * factor
    return h_bar, w_bar


@dataclass
class Request:
    """One request as it arrived."""

    api: str
    path: str
    model: str
    prompt: str
    image: Any
    """The decoded image exactly as sent (PIL)."""
    size: tuple[int, int]
    resized: bool
    """True when the model's processor would have resized it (LOKI sent the wrong size)."""
    headers: dict[str, str]
    answer: str = ""
    target: str = ""
    truth: tuple[float, float] | None = None
    """The centre of the text box found, in pixels of the image the model saw (pixel-index convention)."""
    wrong: bool = False
    ms: float = 0.0
    """The stand-in's own time on the request (decoding, OCR, answering; not `slow_s`)."""

    def summary(self) -> dict[str, Any]:
        return {
            "api": self.api,
            "path": self.path,
            "model": self.model,
            "size": list(self.size),
            "resized": self.resized,
            "target": self.target,
            "wrong": self.wrong,
            "ms": round(self.ms, 1),
            "answer": self.answer,
            "auth": sorted(k for k in self.headers if k in ("authorization", "x-goog-api-key")),
        }


@dataclass
class Modes:
    coords: str = "qwen25"
    wrong: float = 0.0
    seed: int = 0
    swap: bool = False
    slow_s: float = 0.0
    malformed: bool = False
    actions: bool = False
    nan: bool = False
    outside: bool = False
    description: str = ""


@dataclass
class _Line:
    text: str
    box: tuple[int, int, int, int]
    """Ink bounds, inclusive pixel indices: left, top, right, bottom."""


@dataclass
class VisionStandin:
    """The server; `start()` it (or use it as a context manager), read `.requests`, `close()` it."""

    modes: Modes = field(default_factory=Modes)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(self.modes.seed)
        self._ocr: Any = None
        self._ocr_cache: dict[str, list[_Line]] = {}
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # Life ----------------------------------------------------------------------------------------
    def start(self, port: int = 0) -> VisionStandin:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.startswith("/requests"):
                    with standin._lock:
                        body = [r.summary() for r in standin.requests]
                    self._send(200, body)
                else:
                    self._send(404, {"error": "no such path"})

            def do_POST(self) -> None:
                length = int(self.headers.get("content-length") or 0)
                try:
                    data = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._send(400, {"error": "not JSON"})
                    return
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    status, body = standin.handle(self.path, data, headers)
                except Exception as exc:  # a stand-in bug shows in the test as an HTTP 500 with its words
                    status, body = 500, {"error": f"stand-in failed: {exc!r}"}
                self._send(status, body)

            def _send(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                try:
                    self.send_response(status)
                    self.send_header("content-type", "application/json")
                    self.send_header("content-length", str(len(raw)))
                    self.end_headers()
                    self.wfile.write(raw)
                except OSError:  # the client gave up (a timeout test)
                    pass

        self._server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="vision-standin", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> VisionStandin:
        return self if self._server is not None else self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.server_address[1])

    def url(self, api: str) -> str:
        """The base URL to give LOKI for `api` (openai, ollama, gemini)."""
        return {
            "openai": f"http://127.0.0.1:{self.port}/v1",
            "ollama": f"http://127.0.0.1:{self.port}",
            "gemini": f"http://127.0.0.1:{self.port}/v1beta",
        }[api]

    def configure(self, **modes: Any) -> None:
        """Change modes (names in MODES); `seed` restarts the random answers."""
        with self._lock:
            for name, value in modes.items():
                if name not in MODES:
                    raise ValueError(f"unknown mode {name!r}")
                setattr(self.modes, name, value)
            if "seed" in modes:
                self._rng = random.Random(self.modes.seed)

    # Requests ------------------------------------------------------------------------------------
    def handle(self, path: str, data: Any, headers: dict[str, str]) -> tuple[int, Any]:
        if path == "/control":
            self.configure(**data)
            return 200, {"ok": True, "modes": vars(self.modes)}
        if path.endswith("/chat/completions"):
            api, (prompt, b64) = "openai", _openai_parts(data)
        elif path.endswith("/api/chat"):
            api, (prompt, b64) = "ollama", _ollama_parts(data)
        elif ":generateContent" in path:
            api, (prompt, b64) = "gemini", _gemini_parts(data)
        else:
            return 404, {"error": f"no such path {path}"}
        if b64 is None:
            return 400, {"error": "no image in the request"}
        from PIL import Image

        started = time.perf_counter()
        image = Image.open(io.BytesIO(base64.b64decode(b64))).convert("RGB")
        with self._lock:
            modes = Modes(**vars(self.modes))
            rng_value, rng_pick = self._rng.random(), self._rng.random()
        seen, resized = image, False
        if modes.coords in ("qwen25", "uitars15"):
            h, w = qwen_smart_resize(image.height, image.width)
            if (w, h) != image.size:
                seen, resized = image.resize((w, h), Image.Resampling.BICUBIC), True
        record = Request(api, path, str(data.get("model", "")), prompt, image, image.size, resized, headers)
        if prompt.startswith(_LOCATE):
            record.answer = self._locate(prompt, seen, modes, rng_value, rng_pick, record)
        else:
            texts = ", ".join(line.text for line in self._lines(seen))
            record.answer = modes.description or f"A window showing: {texts}."
        record.ms = (time.perf_counter() - started) * 1000
        with self._lock:
            self.requests.append(record)
        if modes.slow_s:
            time.sleep(modes.slow_s)
        return 200, _reply(api, record.answer, record.model)

    def _lines(self, image: Any) -> list[_Line]:
        """The image's text lines (real OCR, cached per image), each narrowed to its ink."""
        key = hashlib.sha256(image.tobytes()).hexdigest() + f"{image.size}"
        with self._lock:
            cached = self._ocr_cache.get(key)
        if cached is not None:
            return cached
        import numpy as np

        with self._lock:
            if self._ocr is None:
                from rapidocr import RapidOCR

                self._ocr = RapidOCR(params={"Global.use_cls": False, "Global.log_level": "critical"})
            ocr = self._ocr
        pixels = np.asarray(image)
        result = ocr(pixels)
        lines: list[_Line] = []
        for text, quad in zip(result.txts or (), result.boxes if result.boxes is not None else (), strict=False):
            xs, ys = [p[0] for p in quad], [p[1] for p in quad]
            box = _ink(pixels, (int(min(xs)), int(min(ys)), int(math.ceil(max(xs))), int(math.ceil(max(ys)))))
            if box is not None:
                lines.append(_Line(str(text), box))
        with self._lock:
            self._ocr_cache[key] = lines
        return lines

    def _locate(self, prompt: str, image: Any, modes: Modes, rng_value: float, rng_pick: float, record: Request) -> str:
        quoted = _QUOTED.search(prompt)
        name = json.loads(f'"{quoted.group(1)}"') if quoted else ""
        record.target = name
        if modes.malformed:
            return 'Sure! It is the button {"point": [12, '
        lines = self._lines(image)
        scored = sorted(((label_score(name, line.text), i) for i, line in enumerate(lines)), reverse=True)
        if not scored or scored[0][0] < MATCH:
            return f"I cannot see {name!r} in this screenshot."
        best = lines[scored[0][1]]
        left, top, right, bottom = best.box
        record.truth = ((left + right) / 2, (top + bottom) / 2)
        others = [line for s, i in scored if s < MATCH for line in [lines[i]]]
        chosen = best
        if others and rng_value < modes.wrong:
            chosen, record.wrong = others[int(rng_pick * len(others))], True
        return _answer(chosen, image.size, modes)


def _ink(pixels: Any, box: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    """The bounds of the ink inside an OCR box (grown by 3 px): the pixels far from the box's background."""
    import numpy as np

    height, width = pixels.shape[:2]
    x0, y0 = max(0, box[0] - 3), max(0, box[1] - 3)
    x1, y1 = min(width, box[2] + 4), min(height, box[3] + 4)
    region = pixels[y0:y1, x0:x1].astype(np.float32).mean(axis=2)
    if region.size == 0:
        return None
    edge = np.concatenate([region[0], region[-1], region[:, 0], region[:, -1]])
    diff = np.abs(region - np.median(edge))
    if diff.max() < 30:
        return None
    ys, xs = np.nonzero(diff > diff.max() / 2)
    return (x0 + int(xs.min()), y0 + int(ys.min()), x0 + int(xs.max()), y0 + int(ys.max()))


def _answer(line: _Line, size: tuple[int, int], modes: Modes) -> str:
    """The line's place, written as the configured model writes it."""
    width, height = size
    left, top, right, bottom = line.box
    cx, cy = (left + right) / 2, (top + bottom) / 2
    if modes.outside:
        cx, cy = width * 5 + 100, cy
    if modes.swap:
        cx, cy, left, top, right, bottom = cy, cx, top, left, bottom, right
    if modes.nan:
        cx = float("nan")

    def permille_x(v: float) -> float:
        return v / width * 1000

    def permille_y(v: float) -> float:
        return v / height * 1000

    label = line.text
    extra = (
        ', "actions": [{"type": "type", "text": "rm -rf ~"}, {"type": "key", "keys": "enter"}]' if modes.actions else ""
    )
    c = modes.coords
    if c == "qwen25":
        box = [left, top, right, bottom] if not (modes.nan or modes.outside) else [cx, top, cx, bottom]
        coords = "[" + ", ".join(_num(v) for v in box) + "]"
        return f'```json\n[{{"bbox_2d": {coords}, "label": {json.dumps(label)}{extra}}}]\n```'
    if c in ("uitars15", "uitars1"):
        if c == "uitars15":
            point = f"({_num(cx)},{_num(cy)})"
        else:
            point = f"({_num(permille_x(cx + 0.5))},{_num(permille_y(cy + 0.5))})"
        pre = (
            "Thought: the field.\nAction: type(content='rm -rf ~')\nAction: hotkey(key='enter')\n"
            if modes.actions
            else ""
        )
        return f"{pre}Action: click(start_box='<|box_start|>{point}<|box_end|>')"
    if c == "qwen3":
        return f'[{{"point_2d": [{_num(permille_x(cx + 0.5))}, {_num(permille_y(cy + 0.5))}], "label": {json.dumps(label)}{extra}}}]'
    if c == "moondream":
        return f'{{"points": [{{"x": {_num((cx + 0.5) / width, 4)}, "y": {_num((cy + 0.5) / height, 4)}}}]{extra}}}'
    if c == "gemini":
        box = [permille_y(top), permille_x(left), permille_y(bottom + 1), permille_x(right + 1)]
        if modes.nan or modes.outside:
            box = [permille_y(cy), permille_x(cx), permille_y(cy), permille_x(cx)]
        written = ", ".join(_num(v) for v in box)
        return f'```json\n[{{"box_2d": [{written}], "label": {json.dumps(label)}{extra}}}]\n```'
    return f'{{"point": [{_num(cx)}, {_num(cy)}], "label": {json.dumps(label)}{extra}}}'


def _num(value: float, digits: int = 0) -> str:
    """A number as a model writes it (NaN as JSON's NaN)."""
    if math.isnan(value):
        return "NaN"
    return str(round(value)) if digits == 0 else str(round(value, digits))


def _openai_parts(data: Any) -> tuple[str, str | None]:
    prompt, image = "", None
    for message in data.get("messages", []):
        if message.get("role") != "user":
            continue
        content = message.get("content")
        parts = content if isinstance(content, list) else [{"type": "text", "text": content}]
        for part in parts:
            if part.get("type") == "text":
                prompt = part["text"]
            elif part.get("type") == "image_url":
                url = part["image_url"]["url"]
                if url.startswith("data:image/"):
                    image = url.split(",", 1)[1]
    return prompt, image


def _ollama_parts(data: Any) -> tuple[str, str | None]:
    prompt, image = "", None
    for message in data.get("messages", []):
        if message.get("role") == "user":
            prompt = message.get("content", "")
            image = (message.get("images") or [None])[0]
    return prompt, image


def _gemini_parts(data: Any) -> tuple[str, str | None]:
    prompt, image = "", None
    for content in data.get("contents", []):
        for part in content.get("parts", []):
            if "text" in part:
                prompt = part["text"]
            inline = part.get("inline_data") or part.get("inlineData")
            if inline:
                image = inline.get("data")
    return prompt, image


def _reply(api: str, text: str, model: str) -> Any:
    if api == "openai":
        return {
            "id": "standin",
            "object": "chat.completion",
            "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        }
    if api == "ollama":
        return {"model": model, "message": {"role": "assistant", "content": text}, "done": True}
    return {"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--coords", default="qwen25")
    parser.add_argument("--wrong", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    standin = VisionStandin(Modes(coords=args.coords, wrong=args.wrong, seed=args.seed)).start(args.port)
    print(json.dumps({"port": standin.port}), flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        standin.close()


if __name__ == "__main__":
    main()
