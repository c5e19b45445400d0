"""Google's Gemini REST API: models/{model}:generateContent and :streamGenerateContent?alt=sse.

The key travels in the `x-goog-api-key` header, never in the URL (URLs end up in logs).
JSON output uses `responseMimeType: application/json` with `responseSchema`, which takes an
OpenAPI subset of JSON schema; `gemini_schema()` converts LOKI's schema to it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loki.errors import LlmError
from loki.llm.base import Message, Schema
from loki.llm.http import HttpBackend

_GEMINI_KEYS = {
    "description",
    "enum",
    "properties",
    "required",
    "items",
    "minItems",
    "maxItems",
    "minimum",
    "maximum",
    "anyOf",
    "nullable",
    "format",
}


def gemini_schema(schema: Schema) -> dict[str, Any]:
    """LOKI's JSON schema in the OpenAPI subset Gemini's `responseSchema` accepts."""
    out: dict[str, Any] = {}
    if "const" in schema:
        out["type"] = "STRING" if isinstance(schema["const"], str) else "INTEGER"
        out["enum"] = [schema["const"]]
    if "type" in schema:
        out["type"] = str(schema["type"]).upper()
    for key, value in schema.items():
        if key not in _GEMINI_KEYS:
            continue
        if key == "properties":
            out[key] = {name: gemini_schema(sub) for name, sub in value.items()}
            out["propertyOrdering"] = list(value)
        elif key == "items":
            out[key] = gemini_schema(value)
        elif key == "anyOf":
            out[key] = [gemini_schema(sub) for sub in value]
        else:
            out[key] = value
    return out


class GeminiBackend(HttpBackend):
    """Content generation over Gemini's REST API."""

    name = "gemini"
    default_url = "https://generativelanguage.googleapis.com/v1beta"
    default_model = "gemini-2.5-flash"
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
        super().__init__(
            url=url,
            model=(model or self.default_model).removeprefix("models/"),
            api_key=api_key,
            timeout_s=timeout_s,
            max_tokens=max_tokens,
            max_reply_kb=max_reply_kb,
        )

    def endpoint(self, stream: bool) -> str:
        if stream:
            return f"{self.url}/models/{self.model}:streamGenerateContent?alt=sse"
        return f"{self.url}/models/{self.model}:generateContent"

    def headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._key.reveal()} if self._key else {}

    def check_ready(self) -> None:
        if not self._key:
            raise LlmError("LOKI_LLM_BACKEND=gemini needs LOKI_LLM_API_KEY (a Gemini API key).", code="llm_config")

    def body(self, messages: Sequence[Message], schema: Schema | None, stream: bool) -> dict[str, Any]:
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        contents: list[dict[str, Any]] = []
        for m in messages:
            if m["role"] == "system":
                continue
            role = "model" if m["role"] == "assistant" else "user"
            if contents and contents[-1]["role"] == role:
                contents[-1]["parts"].append({"text": m["content"]})
            else:
                contents.append({"role": role, "parts": [{"text": m["content"]}]})
        config: dict[str, Any] = {"temperature": 0.0 if schema else 0.3, "maxOutputTokens": self.max_tokens}
        if schema is not None:
            config["responseMimeType"] = "application/json"
            config["responseSchema"] = gemini_schema(schema)
        body: dict[str, Any] = {"contents": contents, "generationConfig": config}
        if system:
            body["systemInstruction"] = {"parts": [{"text": system}]}
        return body

    def answer_text(self, data: Any) -> str:
        text, _ = self._candidate_text(data)
        return text

    def stream_piece(self, event: Any) -> tuple[str, bool]:
        return self._candidate_text(event)

    def _candidate_text(self, data: Any) -> tuple[str, bool]:
        candidates = data.get("candidates") or []
        if not candidates:
            blocked = (data.get("promptFeedback") or {}).get("blockReason")
            if blocked:
                raise LlmError(f"Gemini refused the request ({blocked}); rephrase it.", code="llm_refused")
            return "", False
        candidate = candidates[0]
        parts = (candidate.get("content") or {}).get("parts") or []
        text = "".join(p.get("text", "") for p in parts if not p.get("thought"))
        return text, bool(candidate.get("finishReason"))
