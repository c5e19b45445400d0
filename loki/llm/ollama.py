"""Ollama's native API: POST /api/chat with `format` = JSON schema; streams newline-delimited JSON."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loki.llm.base import Message, Schema
from loki.llm.http import HttpBackend


class OllamaBackend(HttpBackend):
    """Chat over Ollama's /api/chat."""

    name = "ollama"
    default_url = "http://127.0.0.1:11434"
    default_model = "qwen2.5:3b"
    stream_framing = "ndjson"

    def __init__(
        self,
        *,
        url: str = "",
        model: str = "",
        api_key: str = "",
        timeout_s: float = 20.0,
        max_tokens: int = 512,
        max_reply_kb: int = 64,
    ) -> None:
        url = (url or self.default_url).rstrip("/")
        url = url.removesuffix("/api")
        super().__init__(
            url=url, model=model, api_key=api_key, timeout_s=timeout_s, max_tokens=max_tokens, max_reply_kb=max_reply_kb
        )

    def endpoint(self, stream: bool) -> str:
        return f"{self.url}/api/chat"

    def headers(self) -> dict[str, str]:
        # A plain Ollama needs no key; one behind an authenticating proxy (or Ollama's cloud) takes a Bearer.
        return {"authorization": f"Bearer {self._key.reveal()}"} if self._key else {}

    def body(self, messages: Sequence[Message], schema: Schema | None, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "stream": stream,
            "options": {"temperature": 0.0 if schema else 0.3, "num_predict": self.max_tokens},
        }
        if schema is not None:
            body["format"] = schema
        return body

    def answer_text(self, data: Any) -> str:
        return data["message"]["content"] or ""

    def stream_piece(self, event: Any) -> tuple[str, bool]:
        message = event.get("message") or {}
        return message.get("content") or "", bool(event.get("done"))
