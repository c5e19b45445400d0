"""Any OpenAI-compatible server: /v1/chat/completions, `response_format` json_schema, SSE streaming.

llama-server, LM Studio, vLLM, LocalAI and OpenAI itself speak it. The key, when set, goes in
an `Authorization: Bearer` header.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loki.llm.base import Message, Schema
from loki.llm.http import HttpBackend

OPENAI_URL = "https://api.openai.com/v1"


class OpenAiBackend(HttpBackend):
    """Chat completions over the OpenAI protocol."""

    name = "openai"
    default_url = "http://127.0.0.1:8080/v1"  # llama-server's default
    stream_framing = "sse"

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
        if not url and api_key:
            url = OPENAI_URL
        if not model:
            model = "gpt-4o-mini" if (url or "").rstrip("/") == OPENAI_URL else "local-model"
        super().__init__(
            url=url, model=model, api_key=api_key, timeout_s=timeout_s, max_tokens=max_tokens, max_reply_kb=max_reply_kb
        )

    def endpoint(self, stream: bool) -> str:
        return f"{self.url}/chat/completions"

    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self._key.reveal()}"} if self._key else {}

    def body(self, messages: Sequence[Message], schema: Schema | None, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": [dict(m) for m in messages],
            "temperature": 0.0 if schema else 0.3,
            "max_tokens": self.max_tokens,
            "stream": stream,
        }
        if schema is not None:
            # strict=False: OpenAI's strict mode rejects optional fields, which the action schema has;
            # LOKI validates every answer itself.
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "loki_plan", "schema": schema, "strict": False},
            }
        return body

    def answer_text(self, data: Any) -> str:
        message = data["choices"][0]["message"]
        return message.get("content") or ""

    def stream_piece(self, event: Any) -> tuple[str, bool]:
        choices = event.get("choices") or []
        if not choices:  # e.g. a final usage-only chunk
            return "", False
        choice = choices[0]
        return (choice.get("delta") or {}).get("content") or "", choice.get("finish_reason") is not None
