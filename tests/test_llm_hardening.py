"""A hostile or broken model server cannot hold a turn, the event loop or the log hostage.

Everything runs against a real HTTP server on 127.0.0.1 (loki.llm.fakeserver): a model that drips
a token every 0.25 s, a 400 kB answer, a server that does not stream, an HTML login page, JSON
nested a thousand deep. The embedded backend gets the same limits, checked with a dripping model
in place of llama.cpp (the one seam faked here; tests/test_llm_llamacpp.py runs the real model).
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from loki.actions.drivers import RecordingDriver
from loki.config import settings_from
from loki.errors import LlmError
from loki.llm.base import Message
from loki.llm.fakeserver import CannedLlmServer
from loki.llm.gemini import GeminiBackend
from loki.llm.http import HttpBackend
from loki.llm.llamacpp import LlamaCppBackend
from loki.llm.ollama import OllamaBackend
from loki.llm.openai import OpenAiBackend
from loki.screen.window import Context
from loki.wiring import build_orchestrator

MESSAGES: list[Message] = [{"role": "user", "content": "hello"}]
PLAN = '{"actions": [{"type": "launch", "app": "browser"}], "reply": "Opening the browser."}'
PROTOCOLS = ["openai", "ollama", "gemini"]
LOGIN_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>Sign in &ndash; Corporate Proxy</title></head>"
    "<body><form action='/login'>Password: <input type=password></form></body></html>"
)


def make(kind: str, server: CannedLlmServer, **options: Any) -> HttpBackend:
    url = {"openai": server.openai_url, "ollama": server.ollama_url, "gemini": server.gemini_url}[kind]
    cls = {"openai": OpenAiBackend, "ollama": OllamaBackend, "gemini": GeminiBackend}[kind]
    return cls(url=url, model="test-model", api_key="k", **options)


async def collect(pieces: AsyncIterator[str]) -> str:
    return "".join([p async for p in pieces])


class LoopWatch:
    """Measures the longest time the event loop went without running a 10 ms ticker."""

    def __init__(self) -> None:
        self.longest_gap_s = 0.0
        self._task: asyncio.Task[None] | None = None

    async def _tick(self) -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.01)
            now = time.monotonic()
            self.longest_gap_s = max(self.longest_gap_s, now - last)
            last = now

    async def __aenter__(self) -> LoopWatch:
        self._task = asyncio.create_task(self._tick())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


@pytest.fixture
def settings_for(settings_env: dict[str, str]) -> Any:
    def build(server: CannedLlmServer, **env: str) -> Any:
        values = {**settings_env, "LOKI_LLM_BACKEND": "openai", "LOKI_LLM_URL": server.openai_url, **env}
        return settings_from(values)

    return build


# The whole answer has one deadline -------------------------------------------------------
@pytest.mark.parametrize("kind", PROTOCOLS)
async def test_a_dripping_model_is_cut_off_at_the_timeout(kind: str) -> None:
    # 400 pieces, one every 0.25 s: 100 s of answer, each piece well inside a per-read timeout.
    with CannedLlmServer("x" * 400, chunk_chars=1, chunk_delay_s=0.25) as dripping:
        backend = make(kind, dripping, timeout_s=1.0)
        started = time.monotonic()
        with pytest.raises(LlmError) as err:
            await collect(backend.stream(MESSAGES))
        elapsed_s = time.monotonic() - started
        await backend.aclose()
    assert err.value.code == "llm_timeout" and "whole answer" in str(err.value)
    assert elapsed_s < 1.0 + 1.0


async def test_a_dripping_model_ends_the_turn_within_the_timeout(settings_for: Any) -> None:
    answer = json.dumps({"actions": [], "reply": "Well, " * 80})
    with CannedLlmServer(answer, chunk_chars=1, chunk_delay_s=0.25) as dripping:
        driver = RecordingDriver()
        settings = settings_for(dripping, LOKI_LLM_TIMEOUT_S="2")
        orch = build_orchestrator(settings, driver_factory=lambda: driver)
        orch.context = lambda: Context("linux", "firefox", "Mozilla Firefox")
        started = time.monotonic()
        result = await orch.handle("tell me a long story")
        elapsed_s = time.monotonic() - started
        for tier in orch.tiers:
            close = getattr(tier, "aclose", None)
            if close is not None:
                await close()
    assert elapsed_s < 2.0 + 1.5
    assert driver.calls == [] and "cut off" in result.reply


async def test_time_the_caller_spends_between_pieces_is_not_the_models() -> None:
    # The server is quick; the caller (a voice speaking each piece) takes 2 s in all, twice the budget.
    with CannedLlmServer("y" * 200, chunk_chars=5) as quick:
        backend = make("openai", quick, timeout_s=1.0)
        pieces = []
        async for piece in backend.stream(MESSAGES):
            pieces.append(piece)
            await asyncio.sleep(0.05)
        await backend.aclose()
    assert "".join(pieces) == "y" * 200 and len(pieces) == 40


# Size cap and linear parsing -------------------------------------------------------------
@pytest.mark.parametrize("streaming", [True, False])
@pytest.mark.parametrize("kind", PROTOCOLS)
async def test_an_answer_past_the_size_cap_is_abandoned(kind: str, streaming: bool) -> None:
    with CannedLlmServer("z" * 400_000, chunk_chars=512) as huge:
        backend = make(kind, huge, timeout_s=20.0, max_reply_kb=64)
        started = time.monotonic()
        with pytest.raises(LlmError) as err:
            if streaming:
                await collect(backend.stream(MESSAGES))
            else:
                await backend.complete(MESSAGES)
        elapsed_s = time.monotonic() - started
        await backend.aclose()
    assert err.value.code == "llm_too_long"
    assert "64 kB" in str(err.value) and "LOKI_LLM_MAX_REPLY_KB" in str(err.value)
    assert elapsed_s < 10


async def test_an_endless_line_without_any_event_is_abandoned() -> None:
    with CannedLlmServer("data: " + "w" * 300_000, fault="raw", content_type="text/event-stream") as endless:
        backend = make("openai", endless, timeout_s=20.0, max_reply_kb=16)
        with pytest.raises(LlmError) as err:
            await collect(backend.stream(MESSAGES))
        await backend.aclose()
    assert err.value.code == "llm_too_long"


async def test_a_huge_reply_is_read_in_linear_time_without_stalling_the_loop(settings_for: Any) -> None:
    # 400 kB in 8-character pieces took over two minutes of event-loop time when parsing was quadratic.
    reply = "All work and no play makes Jack a dull boy. " * 9000
    answers = iter([json.dumps({"actions": [], "reply": "Hi."}), json.dumps({"actions": [], "reply": reply})])
    with CannedLlmServer(lambda body: next(answers), chunk_chars=8) as server:
        settings = settings_for(server, LOKI_LLM_TIMEOUT_S="60", LOKI_LLM_MAX_REPLY_KB="1024")
        orch = build_orchestrator(settings, driver_factory=RecordingDriver)
        orch.context = lambda: Context("linux", "firefox", "Mozilla Firefox")
        assert (await orch.handle("hello")).reply == "Hi."  # connection and TLS set-up are not under test
        started = time.monotonic()
        async with LoopWatch() as watch:
            result = await orch.handle("tell me everything")
        elapsed_s = time.monotonic() - started
        for tier in orch.tiers:
            close = getattr(tier, "aclose", None)
            if close is not None:
                await close()
    assert result.ok and result.reply == reply.strip()
    assert elapsed_s < 45
    assert watch.longest_gap_s < 0.5


# Answers that are not a stream -----------------------------------------------------------
@pytest.mark.parametrize("kind", PROTOCOLS)
async def test_a_non_streamed_answer_is_accepted(kind: str) -> None:
    with CannedLlmServer(PLAN, fault="no_stream") as plain:
        backend = make(kind, plain)
        assert await collect(backend.stream(MESSAGES)) == PLAN
        await backend.aclose()


@pytest.mark.parametrize("content_type", ["text/html; charset=utf-8", "application/octet-stream"])
@pytest.mark.parametrize("streaming", [True, False])
async def test_an_html_page_is_named_as_such(streaming: bool, content_type: str) -> None:
    with CannedLlmServer(LOGIN_PAGE, fault="raw", content_type=content_type) as proxy:
        backend = make("openai", proxy)
        with pytest.raises(LlmError) as err:
            if streaming:
                await collect(backend.stream(MESSAGES))
            else:
                await backend.complete(MESSAGES)
        await backend.aclose()
    message = str(err.value)
    assert f"the server at {proxy.openai_url} answered with an HTML page" in message
    assert "Sign in – Corporate Proxy" in message and "LOKI_LLM_URL" in message


async def test_text_that_is_neither_a_stream_nor_json_is_quoted() -> None:
    with CannedLlmServer("Service temporarily unavailable", fault="raw", content_type="text/plain") as odd:
        backend = make("openai", odd)
        with pytest.raises(LlmError) as err:
            await collect(backend.stream(MESSAGES))
        await backend.aclose()
    assert "neither a stream nor a chat completion" in str(err.value)
    assert "Service temporarily unavailable" in str(err.value)


# Deep nesting ----------------------------------------------------------------------------
async def test_a_body_nested_a_thousand_deep_is_an_error_not_a_crash() -> None:
    with CannedLlmServer("[" * 100_000 + "]" * 100_000, fault="raw") as deep:
        backend = make("openai", deep, max_reply_kb=1024)
        with pytest.raises(LlmError) as err:
            await backend.complete(MESSAGES)
        await backend.aclose()
        expected = f"The openai backend at {deep.openai_url} answered JSON nested too deeply to be an answer."
    assert str(err.value) == expected


async def test_a_plan_nested_a_thousand_deep_is_refused_without_a_traceback(
    settings_for: Any, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = '{"actions": ' + "[" * 1000 + "]" * 1000 + ', "reply": "ok"}'
    with CannedLlmServer(answer, chunk_chars=64) as deep:
        driver = RecordingDriver()
        orch = build_orchestrator(settings_for(deep), driver_factory=lambda: driver)
        orch.context = lambda: Context("linux", "firefox", "Mozilla Firefox")
        result = await orch.handle("do something odd")
        for tier in orch.tiers:
            close = getattr(tier, "aclose", None)
            if close is not None:
                await close()
    assert result.error != "internal" and driver.calls == []
    assert not any(r.exc_info for r in caplog.records)
    assert "RecursionError" not in caplog.text and "nests JSON more than" in caplog.text


# The embedded model gets the same limits -------------------------------------------------
class DrippingModel:
    """Stands in for llama_cpp.Llama: streams `tokens` pieces, one every `delay_s`."""

    chat_format = "test"

    def __init__(self, piece: str, tokens: int, delay_s: float) -> None:
        self.piece, self.tokens, self.delay_s = piece, tokens, delay_s
        self.generated = 0
        self.finished = threading.Event()

    def create_chat_completion(self, messages: Any, **options: Any) -> Iterator[dict[str, Any]]:
        try:
            for _ in range(self.tokens):
                time.sleep(self.delay_s)
                self.generated += 1
                yield {"choices": [{"delta": {"content": self.piece}}]}
        finally:
            self.finished.set()


async def test_the_embedded_model_is_cut_off_at_the_timeout() -> None:
    model = DrippingModel("x", tokens=400, delay_s=0.25)
    backend = LlamaCppBackend(lambda: None, timeout_s=1.0)  # type: ignore[arg-type,return-value]
    backend._llama = model
    started = time.monotonic()
    with pytest.raises(LlmError) as err:
        await collect(backend.stream(MESSAGES))
    elapsed_s = time.monotonic() - started
    assert err.value.code == "llm_timeout" and elapsed_s < 1.0 + 1.0
    assert await asyncio.to_thread(model.finished.wait, 2.0)  # and the model thread stopped generating
    assert model.generated < 20
    backend.close()


async def test_the_embedded_model_is_cut_off_past_the_size_cap() -> None:
    model = DrippingModel("word " * 20, tokens=10_000, delay_s=0.0)
    backend = LlamaCppBackend(lambda: None, timeout_s=20.0, max_reply_kb=4)  # type: ignore[arg-type,return-value]
    backend._llama = model
    with pytest.raises(LlmError) as err:
        await collect(backend.stream(MESSAGES))
    assert err.value.code == "llm_too_long" and "LOKI_LLM_MAX_REPLY_KB" in str(err.value)
    assert await asyncio.to_thread(model.finished.wait, 2.0)
    assert model.generated < 10_000
    backend.close()


def test_the_settings_give_every_backend_the_size_cap(settings_env: dict[str, str]) -> None:
    from loki.llm.chain import FallbackChain
    from loki.llm.factory import build_llm

    llm = build_llm(
        settings_from(
            {
                **settings_env,
                "LOKI_LLM_BACKEND": "openai",
                "LOKI_LLM_URL": "http://127.0.0.1:9/v1",
                "LOKI_LLM_FALLBACK": "llama_cpp",
                "LOKI_LLM_MAX_REPLY_KB": "8",
            }
        )
    )
    assert isinstance(llm, FallbackChain)
    assert [getattr(b, "max_reply_kb", None) for b in llm.backends] == [8, 8]
    for backend in llm.backends:
        close = getattr(backend, "close", None)
        if close is not None:
            close()
