"""The vision backends: one question and one image in, the model's text out.

The HTTP ones are LOKI's text-model backends (`loki.llm`: one httpx client, the time budget, retries
that can help, the answer size cap, a key that is never logged) with the image added to the request
each protocol's way:

- `openai` (llama-server `--mmproj`, LM Studio, vLLM, OpenAI): POST {url}/chat/completions, the user
  message's content a list of a `text` part and an `image_url` part holding a `data:image/png;base64,` URI.
- `ollama`: POST {url}/api/chat, the user message carrying `images: [base64 PNG]`.
- `gemini`: POST {url}/models/{model}:generateContent, the user content's parts a `text` and an
  `inline_data` {mime_type, data}; the key in `x-goog-api-key`.
- `llama_cpp`: in this process through llama-cpp-python's multimodal chat handlers (the GGUF in
  LOKI_VISION_MODEL with its projector in LOKI_VISION_MMPROJ), loaded on first use.

Failures leave as `ScreenError`s whose codes start with `vision_` and whose messages name the
LOKI_VISION_* settings to change.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, cast

from loki.config import ScreenSettings
from loki.errors import LlmError, ScreenError
from loki.llm.base import Message, Schema
from loki.llm.gemini import GeminiBackend
from loki.llm.http import HttpBackend
from loki.llm.ollama import OllamaBackend
from loki.llm.openai import OpenAiBackend
from loki.screen.vision.remote import VisionModel

log = logging.getLogger(__name__)

MAX_REPLY_KB = 16
"""A grounding answer or a spoken description is far shorter."""
MAX_TOKENS = 400


def _screen_error(exc: LlmError, name: str, timeout_s: float) -> ScreenError:
    """A text-model backend's error, told in the vision settings' words."""
    code = "vision_" + exc.code.removeprefix("llm_")
    if exc.code == "llm_timeout":
        message = (
            f"The {name} vision model did not answer within {timeout_s:g} s (LOKI_VISION_TIMEOUT_S): "
            "the server may be busy or the model too slow for the image; raise the timeout, lower "
            "LOKI_VISION_IMAGE_PX or use a smaller model."
        )
    elif exc.code == "llm_too_long":
        message = f"The {name} vision model answered with more than {MAX_REPLY_KB} kB; LOKI stopped reading it."
    else:
        message = (
            str(exc).replace("LOKI_LLM_", "LOKI_VISION_").replace(f"The {name} backend", f"The {name} vision backend")
        )
    return ScreenError(message, code=code)


class _ImageChat:
    """What the HTTP vision backends add to their text-model base: the image, and errors in vision terms."""

    name: str
    url: str
    timeout_s: float

    async def ask(self, system: str, prompt: str, image_png_b64: str) -> str:
        """The model's answer to `prompt` about the image."""
        user = cast(Message, {"role": "user", "content": prompt, "images": [image_png_b64]})
        messages = [Message(role="system", content=system), user] if system else [user]
        try:
            return await cast(HttpBackend, self).complete(messages)
        except LlmError as exc:
            raise _screen_error(exc, self.name, self.timeout_s) from exc


def _images(message: Any) -> list[str]:
    return list(message.get("images") or [])


class OpenAiVision(_ImageChat, OpenAiBackend):
    """Chat completions with an `image_url` data URI part."""

    def body(self, messages: Sequence[Message], schema: Schema | None, stream: bool) -> dict[str, Any]:
        body = super().body(messages, schema, stream)
        body["temperature"] = 0.0
        for sent, message in zip(body["messages"], messages, strict=True):
            images = _images(sent)
            sent.pop("images", None)
            if images:
                sent["content"] = [{"type": "text", "text": message["content"]}] + [
                    {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{b64}"}} for b64 in images
                ]
        return body


class OllamaVision(_ImageChat, OllamaBackend):
    """Ollama's /api/chat; its messages take `images` (base64) as they are."""

    default_model = "qwen2.5vl:3b"

    def body(self, messages: Sequence[Message], schema: Schema | None, stream: bool) -> dict[str, Any]:
        body = super().body(messages, schema, stream)
        body["options"]["temperature"] = 0.0
        return body


class GeminiVision(_ImageChat, GeminiBackend):
    """generateContent with the image as an `inline_data` part."""

    def body(self, messages: Sequence[Message], schema: Schema | None, stream: bool) -> dict[str, Any]:
        body = super().body(messages, schema, stream)
        body["generationConfig"]["temperature"] = 0.0
        images = [b64 for m in messages if m["role"] == "user" for b64 in _images(m)]
        users = [c for c in body["contents"] if c["role"] == "user"]
        if images and users:
            users[-1]["parts"].extend({"inline_data": {"mime_type": "image/png", "data": b64}} for b64 in images)
        return body


_HANDLERS = {"qwen25": "Qwen25VLChatHandler", "uitars15": "Qwen25VLChatHandler", "moondream": "MoondreamChatHandler"}
"""llama-cpp-python's chat handler per LOKI_VISION_COORDS; Llava15ChatHandler for the others."""


class LlamaCppVision:
    """A GGUF vision model with its projector, in this process, in its own thread (loaded on first use)."""

    name = "llama_cpp"
    url = ""

    def __init__(
        self, model_path: str, mmproj_path: str, convention: str, *, timeout_s: float, n_threads: int | None = None
    ) -> None:
        self.model_path = model_path
        self.mmproj_path = mmproj_path
        self.convention = convention
        self.timeout_s = timeout_s
        self.n_threads = n_threads
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loki-vision")
        self._llama: Any = None

    def __repr__(self) -> str:
        return f"LlamaCppVision(model={self.model_path!r}, mmproj={self.mmproj_path!r})"

    def _load(self) -> Any:
        if self._llama is not None:
            return self._llama
        for path, setting, what in (
            (self.model_path, "LOKI_VISION_MODEL", "the vision model's GGUF"),
            (self.mmproj_path, "LOKI_VISION_MMPROJ", "its multimodal projector GGUF (mmproj)"),
        ):
            if not path or not Path(path).expanduser().is_file():
                found = f"{path!r} is not a file" if path else "it is not set"
                raise ScreenError(
                    f"LOKI_VISION_BACKEND=llama_cpp needs {what} in {setting}: {found}.", code="vision_model"
                )
        try:
            import llama_cpp
            from llama_cpp import llama_chat_format
        except ImportError as exc:
            raise ScreenError(
                "LOKI_VISION_BACKEND=llama_cpp needs llama-cpp-python: pip install -e '.[models]'.",
                code="vision_model",
            ) from exc
        from loki.llm.llamacpp import default_threads

        handler_class = getattr(llama_chat_format, _HANDLERS.get(self.convention, "Llava15ChatHandler"))
        threads = self.n_threads or default_threads()
        try:
            handler = handler_class(clip_model_path=str(Path(self.mmproj_path).expanduser()), verbose=False)
            self._llama = llama_cpp.Llama(
                model_path=str(Path(self.model_path).expanduser()),
                chat_handler=handler,
                n_ctx=8192,
                n_threads=threads,
                n_threads_batch=threads,
                verbose=False,
            )
        except (ValueError, OSError, RuntimeError) as exc:
            raise ScreenError(
                f"llama.cpp could not load {self.model_path} with {self.mmproj_path}: {exc} "
                "(LOKI_VISION_MODEL, LOKI_VISION_MMPROJ: a vision GGUF and the mmproj made for it).",
                code="vision_model",
            ) from exc
        return self._llama

    def _generate(self, messages: list[dict[str, Any]], stop: threading.Event) -> str:
        llama = self._load()
        pieces: list[str] = []
        try:
            for chunk in llama.create_chat_completion(messages, max_tokens=MAX_TOKENS, temperature=0.0, stream=True):
                if stop.is_set():
                    break
                pieces.append((chunk["choices"][0].get("delta") or {}).get("content") or "")
        except Exception as exc:  # llama.cpp failures surface as assorted exception types
            raise ScreenError(f"llama.cpp failed while looking at the image: {exc!r}", code="vision_model") from exc
        return "".join(pieces)

    async def ask(self, system: str, prompt: str, image_png_b64: str) -> str:
        """The model's answer; loading does not count against `timeout_s`, generating does."""
        if self._llama is None:
            await asyncio.wrap_future(self._thread.submit(self._load))
        content = [
            {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{image_png_b64}"}},
            {"type": "text", "text": prompt},
        ]
        messages: list[dict[str, Any]] = [{"role": "user", "content": content}]
        if system:
            messages.insert(0, {"role": "system", "content": system})
        stop = threading.Event()
        future = self._thread.submit(self._generate, messages, stop)
        try:
            async with asyncio.timeout(self.timeout_s):
                return await asyncio.wrap_future(future)
        except TimeoutError:
            raise ScreenError(
                f"The llama_cpp vision model did not answer within {self.timeout_s:g} s (LOKI_VISION_TIMEOUT_S).",
                code="vision_timeout",
            ) from None
        finally:
            stop.set()

    async def aclose(self) -> None:
        """Keep the model: it is loaded once and reused (`close` frees it)."""

    def close(self) -> None:
        """Stop the model thread (the model is freed with it)."""
        self._thread.shutdown(wait=False, cancel_futures=True)


HTTP_VISION: dict[str, type[OpenAiVision | OllamaVision | GeminiVision]] = {
    "openai": OpenAiVision,
    "ollama": OllamaVision,
    "gemini": GeminiVision,
}


def build_model(settings: ScreenSettings) -> VisionModel | None:
    """The vision backend the settings name; None for `none` (no screenshot ever leaves LOKI)."""
    name = settings.vision_backend
    if name == "none":
        return None
    if name == "llama_cpp":
        return LlamaCppVision(
            settings.vision_model, settings.vision_mmproj, settings.vision_coords, timeout_s=settings.vision_timeout_s
        )
    cls = HTTP_VISION.get(name)
    if cls is None:
        raise ScreenError(
            f"Unknown LOKI_VISION_BACKEND {name!r}: none, openai, ollama, gemini or llama_cpp.", code="vision_config"
        )
    return cls(
        url=settings.vision_url,
        model=settings.vision_model,
        api_key=settings.vision_api_key,
        timeout_s=settings.vision_timeout_s,
        max_tokens=MAX_TOKENS,
        max_reply_kb=MAX_REPLY_KB,
    )
