"""HTTP backends against a real HTTP server on 127.0.0.1: each protocol, streaming, and injected faults.

The server (loki.llm.fakeserver) speaks the OpenAI, Ollama and Gemini protocols with canned
answers; faults are connection refused, a server slower than the budget, HTTP 500/429/401, a
stream dropped mid-body and a stream that ends without its end marker.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from loki.config import settings_from
from loki.errors import LlmError
from loki.llm.base import Message
from loki.llm.chain import FallbackChain
from loki.llm.factory import build_llm
from loki.llm.fakeserver import CannedLlmServer
from loki.llm.gemini import GeminiBackend, gemini_schema
from loki.llm.http import MAX_ATTEMPTS, HttpBackend
from loki.llm.llamacpp import LlamaCppBackend
from loki.llm.ollama import OllamaBackend
from loki.llm.openai import OpenAiBackend

KEY = "sk-test-4f8a9c1d2e-NEVER-LOG-ME"
MESSAGES: list[Message] = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hello"}]
PLAN = '{"actions": [{"type": "launch", "app": "browser"}], "reply": "Opening the browser, as you asked."}'
SCHEMA = {
    "type": "object",
    "properties": {
        "actions": {
            "type": "array",
            "items": {
                "anyOf": [
                    {
                        "type": "object",
                        "properties": {"type": {"const": "stop"}},
                        "required": ["type"],
                        "additionalProperties": False,
                    }
                ]
            },
        },
        "reply": {"type": "string", "maxLength": 50},
    },
    "required": ["actions", "reply"],
    "additionalProperties": False,
}
PROTOCOLS = ["openai", "ollama", "gemini"]


def make(kind: str, server: CannedLlmServer | str, *, timeout_s: float = 5.0, key: str = KEY) -> HttpBackend:
    """A backend of `kind` pointed at the canned server (or at a URL)."""
    if isinstance(server, str):
        url = server
    else:
        url = {"openai": server.openai_url, "ollama": server.ollama_url, "gemini": server.gemini_url}[kind]
    cls = {"openai": OpenAiBackend, "ollama": OllamaBackend, "gemini": GeminiBackend}[kind]
    return cls(url=url, model="test-model", api_key=key, timeout_s=timeout_s)


def dead_url() -> str:
    """A 127.0.0.1 URL where nothing listens (connection refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def server() -> Iterator[CannedLlmServer]:
    with CannedLlmServer(PLAN, chunk_chars=7) as s:
        yield s


async def collect(pieces: AsyncIterator[str]) -> list[str]:
    return [p async for p in pieces]


@pytest.mark.parametrize("kind", PROTOCOLS)
async def test_complete_sends_the_schema_and_key_the_protocol_way(kind: str, server: CannedLlmServer) -> None:
    backend = make(kind, server)
    try:
        assert await backend.complete(MESSAGES, schema=SCHEMA) == PLAN
    finally:
        await backend.aclose()
    request = server.requests[-1]
    body, headers = request["body"], {k.lower(): v for k, v in request["headers"].items()}
    assert KEY not in request["path"], "the key must never be part of a URL"
    if kind == "openai":
        assert request["path"] == "/v1/chat/completions"
        assert body["response_format"]["type"] == "json_schema"
        assert body["response_format"]["json_schema"]["schema"] == SCHEMA
        assert body["messages"] == MESSAGES and body["stream"] is False
        assert headers["authorization"] == f"Bearer {KEY}"
    elif kind == "ollama":
        assert request["path"] == "/api/chat"
        assert body["format"] == SCHEMA and body["stream"] is False and body["model"] == "test-model"
    else:
        assert request["path"] == "/v1beta/models/test-model:generateContent"
        assert headers["x-goog-api-key"] == KEY
        config = body["generationConfig"]
        assert config["responseMimeType"] == "application/json"
        assert config["responseSchema"]["propertyOrdering"] == ["actions", "reply"]
        assert body["systemInstruction"]["parts"][0]["text"] == "Be brief."
        assert body["contents"] == [{"role": "user", "parts": [{"text": "hello"}]}]


@pytest.mark.parametrize("kind", PROTOCOLS)
async def test_stream_arrives_in_pieces(kind: str, server: CannedLlmServer) -> None:
    backend = make(kind, server)
    try:
        pieces = await collect(backend.stream(MESSAGES, schema=SCHEMA))
    finally:
        await backend.aclose()
    assert len(pieces) > 3
    assert "".join(pieces) == PLAN
    path = server.requests[-1]["path"]
    assert path.endswith(":streamGenerateContent?alt=sse") if kind == "gemini" else True


async def test_connection_refused_fails_fast_with_a_hint() -> None:
    backend = make("openai", dead_url() + "/v1", timeout_s=3.0)
    started = time.monotonic()
    with pytest.raises(LlmError) as err:
        await backend.complete(MESSAGES)
    assert time.monotonic() - started < 3.0
    assert err.value.code == "llm_unreachable"
    assert "is the server running" in str(err.value)
    await backend.aclose()


@pytest.mark.parametrize("streaming", [False, True])
async def test_a_slow_server_costs_at_most_the_timeout(streaming: bool) -> None:
    with CannedLlmServer(PLAN, fault="sleep", delay_s=5.0) as slow:
        backend = make("ollama", slow, timeout_s=0.6)
        started = time.monotonic()
        with pytest.raises(LlmError) as err:
            if streaming:
                await collect(backend.stream(MESSAGES))
            else:
                await backend.complete(MESSAGES)
        elapsed_s = time.monotonic() - started
        await backend.aclose()
    assert err.value.code == "llm_timeout"
    assert "LOKI_LLM_TIMEOUT_S" in str(err.value)
    assert 0.5 <= elapsed_s < 0.6 + 0.5


async def test_http_500_is_retried_with_backoff_then_reported() -> None:
    with CannedLlmServer(PLAN, fault="status", status=500) as failing:
        backend = make("openai", failing, timeout_s=5.0)
        with pytest.raises(LlmError) as err:
            await backend.complete(MESSAGES)
        await backend.aclose()
        assert len(failing.requests) == MAX_ATTEMPTS
    assert "HTTP 500" in str(err.value) and "canned failure" in str(err.value)


@pytest.mark.parametrize("status", [500, 503, 429])
async def test_one_transient_failure_is_absorbed_by_a_retry(status: int) -> None:
    with CannedLlmServer(PLAN, fault="status_once", status=status) as flaky:
        backend = make("gemini", flaky)
        assert "".join(await collect(backend.stream(MESSAGES))) == PLAN
        await backend.aclose()
        assert [r["failed"] for r in flaky.requests] == [True, False]


async def test_a_rejected_key_is_not_retried_and_never_echoed(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with CannedLlmServer(PLAN, fault="echo_key") as strict:
        for kind in ("openai", "gemini"):
            backend = make(kind, strict)
            with pytest.raises(LlmError) as err:
                await backend.complete(MESSAGES)
            await backend.aclose()
            assert "LOKI_LLM_API_KEY" in str(err.value)
            assert KEY not in str(err.value) and "***" in str(err.value)
        assert len(strict.requests) == 2
    assert KEY not in caplog.text


@pytest.mark.parametrize("kind", PROTOCOLS)
async def test_a_stream_dropped_mid_body_is_an_error(kind: str) -> None:
    with CannedLlmServer(PLAN, fault="truncate", chunk_chars=5) as cut:
        backend = make(kind, cut)
        pieces: list[str] = []
        with pytest.raises(LlmError) as err:
            async for piece in backend.stream(MESSAGES):
                pieces.append(piece)
        await backend.aclose()
    assert err.value.code == "llm_truncated"
    assert pieces and "".join(pieces) != PLAN


async def test_a_stream_without_its_end_marker_is_an_error() -> None:
    with CannedLlmServer(PLAN, fault="eof") as cut:
        backend = make("openai", cut)
        with pytest.raises(LlmError) as err:
            await collect(backend.stream(MESSAGES))
        await backend.aclose()
    assert err.value.code == "llm_truncated"


async def test_the_key_never_reaches_logs_reprs_or_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    seen: list[str] = []
    with CannedLlmServer(PLAN) as ok, CannedLlmServer(PLAN, fault="status", status=502) as bad:
        for kind in PROTOCOLS:
            for target in (ok, bad, dead_url()):
                backend = make(kind, target, timeout_s=2.0)
                seen.append(repr(backend))
                try:
                    seen.append(await backend.complete(MESSAGES))
                except LlmError as exc:
                    seen.append(str(exc))
                    seen.append(repr(exc.__cause__))
                await backend.aclose()
    settings = settings_from({"LOKI_LLM_BACKEND": "openai", "LOKI_LLM_URL": ok.openai_url, "LOKI_LLM_API_KEY": KEY})
    seen.append(repr(settings))
    seen.append(repr(build_llm(settings)))
    assert KEY not in caplog.text
    assert not [s for s in seen if KEY in s]


async def test_fallback_answers_within_the_budget_after_an_outage() -> None:
    timeout_s = 0.8
    with CannedLlmServer(PLAN, fault="sleep", delay_s=5.0) as hung, CannedLlmServer(PLAN) as spare:
        chain = FallbackChain(
            [
                make("openai", dead_url() + "/v1", timeout_s=timeout_s),
                make("openai", hung, timeout_s=timeout_s),
                make("ollama", spare, timeout_s=timeout_s),
            ]
        )
        started = time.monotonic()
        pieces = await collect(chain.stream(MESSAGES))
        elapsed_s = time.monotonic() - started
        assert "".join(pieces) == PLAN and chain.last_used == "ollama"
        assert await chain.complete(MESSAGES) == PLAN
        await chain.aclose()
    # the refused connection costs its retries (well under the budget), the hung server one budget
    assert elapsed_s < 2 * timeout_s + 0.7


async def test_when_every_backend_fails_the_error_names_each() -> None:
    chain = FallbackChain(
        [make("openai", dead_url() + "/v1", timeout_s=1.0), make("ollama", dead_url(), timeout_s=1.0)]
    )
    with pytest.raises(LlmError) as err:
        await collect(chain.stream(MESSAGES))
    await chain.aclose()
    assert "openai" in str(err.value) and "fallback: The ollama backend" in str(err.value)


def test_gemini_schema_is_the_openapi_subset() -> None:
    converted = gemini_schema(SCHEMA)
    assert converted["type"] == "OBJECT"
    assert "additionalProperties" not in converted
    item = converted["properties"]["actions"]["items"]["anyOf"][0]
    assert item["properties"]["type"] == {"type": "STRING", "enum": ["stop"]}
    assert "maxLength" not in converted["properties"]["reply"]


async def test_gemini_without_a_key_says_so() -> None:
    backend = GeminiBackend(url="http://127.0.0.1:9", api_key="")
    with pytest.raises(LlmError, match="LOKI_LLM_API_KEY"):
        await backend.complete(MESSAGES)


def test_settings_build_the_main_backend_and_key_less_fallbacks() -> None:
    settings = settings_from(
        {
            "LOKI_LLM_BACKEND": "openai",
            "LOKI_LLM_URL": "http://127.0.0.1:1234/v1",
            "LOKI_LLM_API_KEY": KEY,
            "LOKI_LLM_MODEL": "qwen2.5-7b-instruct",
            "LOKI_LLM_FALLBACK": "gemini,ollama,llama_cpp,openai",
            "LOKI_LLM_TIMEOUT_S": "7",
        }
    )
    llm = build_llm(settings)
    assert isinstance(llm, FallbackChain)
    main, ollama, local = llm.backends
    assert (
        isinstance(main, OpenAiBackend)
        and main.url == "http://127.0.0.1:1234/v1"
        and main.model == "qwen2.5-7b-instruct"
    )
    assert isinstance(ollama, OllamaBackend) and ollama.url == "http://127.0.0.1:11434" and not ollama._key
    assert isinstance(local, LlamaCppBackend)
    assert main.timeout_s == ollama.timeout_s == local.timeout_s == 7
    assert build_llm(settings_from({"LOKI_LLM_BACKEND": "none"})) is None
    openai_itself = build_llm(settings_from({"LOKI_LLM_BACKEND": "openai", "LOKI_LLM_API_KEY": KEY}))
    assert isinstance(openai_itself, OpenAiBackend) and openai_itself.url == "https://api.openai.com/v1"


@pytest.mark.parametrize("kind", PROTOCOLS)
async def test_a_server_without_structured_output_is_asked_without_the_schema(kind: str) -> None:
    with CannedLlmServer(PLAN, fault="reject_schema") as plain:
        backend = make(kind, plain)
        assert await backend.complete(MESSAGES, schema=SCHEMA) == PLAN
        assert "".join(await collect(backend.stream(MESSAGES, schema=SCHEMA))) == PLAN
        await backend.aclose()
        assert len(plain.requests) == 3, "the schema is dropped once, then no longer sent"
    assert not backend.structured_output
