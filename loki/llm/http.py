"""What the HTTP backends share: one httpx client, the time budget, retries, and stream framing.

Budget: a call (all its retries included) is abandoned after `timeout_s`. A stream must deliver
its first piece within that budget and then never fall silent for longer than `timeout_s`.
Retries with back-off happen only for failures that a second try can fix: no connection,
HTTP 429 and 5xx. Every failure leaves as an `LlmError` that never contains the API key.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import random
import ssl
from collections.abc import AsyncGenerator, AsyncIterator, Sequence
from typing import Any

import httpx

from loki.errors import LlmError
from loki.llm.base import Deadline, Message, Schema, Secret, shorten, timeout_error

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
BACKOFF_FIRST_S = 0.2
RETRY_STATUS = frozenset({429, 500, 502, 503, 504})


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    """Built once: creating an SSL context costs more than the rest of a request to localhost."""
    return httpx.create_ssl_context()


class _Retry(Exception):
    """An attempt failed in a way another attempt may fix."""

    def __init__(self, reason: str, code: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code
        self.retry_after_s = retry_after_s


class HttpBackend:
    """Base of the HTTP backends; subclasses say how a protocol frames requests and answers."""

    name = "http"
    default_url = ""
    default_model = ""
    stream_framing = "sse"  # "sse" or "ndjson"

    def __init__(
        self, *, url: str = "", model: str = "", api_key: str = "", timeout_s: float = 20.0, max_tokens: int = 512
    ) -> None:
        self.url = (url or self.default_url).rstrip("/")
        self.model = model or self.default_model
        self._key = Secret(api_key)
        self.timeout_s = timeout_s
        self.max_tokens = max_tokens
        self._client: httpx.AsyncClient | None = None
        self._client_loop: asyncio.AbstractEventLoop | None = None
        self.structured_output = True  # cleared when the server rejects schemas (HTTP 400)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(url={self.url!r}, model={self.model!r}, key={self._key!r})"

    # Protocol hooks --------------------------------------------------------------------------
    def endpoint(self, stream: bool) -> str:
        """The URL to POST to."""
        raise NotImplementedError

    def headers(self) -> dict[str, str]:
        """Request headers (authentication lives here, never in the URL)."""
        return {}

    def check_ready(self) -> None:
        """Raise `LlmError` when a setting the protocol needs is missing."""

    def body(self, messages: Sequence[Message], schema: Schema | None, stream: bool) -> dict[str, Any]:
        """The JSON request body."""
        raise NotImplementedError

    def answer_text(self, data: Any) -> str:
        """The text of a complete (non-streamed) answer."""
        raise NotImplementedError

    def stream_piece(self, event: Any) -> tuple[str, bool]:
        """The text of one stream event and whether it is the last one."""
        raise NotImplementedError

    # Shared machinery -------------------------------------------------------------------------
    @property
    def where(self) -> str:
        """' at URL', for messages."""
        return f" at {self.url}"

    def _client_for_loop(self) -> httpx.AsyncClient:
        loop = asyncio.get_running_loop()
        if self._client is None or self._client.is_closed or self._client_loop is not loop:
            self._client = httpx.AsyncClient(
                timeout=httpx.Timeout(self.timeout_s),
                verify=_ssl_context(),
                limits=httpx.Limits(max_connections=4, max_keepalive_connections=2),
                headers={"user-agent": "loki-assistant"},
            )
            self._client_loop = loop
        return self._client

    async def aclose(self) -> None:
        """Close the connection pool (only from the loop that opened it)."""
        client, self._client = self._client, None
        if client is not None and not client.is_closed:
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self._client_loop:
                await client.aclose()

    def _error_message(self, response: httpx.Response) -> str:
        """The server's own words about a failed request, shortened and without the key."""
        try:
            data = response.json()
        except ValueError:
            text = response.text
        else:
            err = data.get("error") if isinstance(data, dict) else None
            if isinstance(err, dict):
                text = str(err.get("message") or err.get("status") or err)
            elif err:
                text = str(err)
            else:
                text = response.text
        return self._key.redact(shorten(text))

    def _status_error(self, response: httpx.Response) -> LlmError:
        status = response.status_code
        detail = self._error_message(response)
        if status in (401, 403):
            hint = "check LOKI_LLM_API_KEY"
        elif status == 404:
            hint = f"check LOKI_LLM_URL and LOKI_LLM_MODEL (model {self.model!r})"
        elif status == 400:
            hint = "the server rejected the request; the model may not support structured output"
        else:
            hint = "see the server's log"
        return LlmError(
            f"The {self.name} backend{self.where} answered HTTP {status}: {detail} ({hint}).", code="llm_http"
        )

    async def _open(
        self, messages: Sequence[Message], schema: Schema | None, stream: bool, deadline: Deadline
    ) -> httpx.Response:
        """Send the request, retrying what a retry can fix, within the deadline; returns an open response."""
        self.check_ready()
        client = self._client_for_loop()
        use_schema = schema if self.structured_output else None
        payload = self.body(messages, use_schema, stream)
        last: _Retry | None = None
        for attempt in range(MAX_ATTEMPTS):
            try:
                async with asyncio.timeout(deadline.remaining_s()):
                    request = client.build_request("POST", self.endpoint(stream), json=payload, headers=self.headers())
                    response = await client.send(request, stream=True)
            except TimeoutError:
                raise timeout_error(self.name, self.timeout_s, self.where) from None
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last = _Retry(
                    f"could not connect ({self._key.redact(shorten(str(exc) or type(exc).__name__, 120))}); "
                    "is the server running? (LOKI_LLM_URL)",
                    "llm_unreachable",
                )
            except httpx.RemoteProtocolError as exc:
                last = _Retry(f"closed the connection without answering ({shorten(str(exc), 120)})", "llm_unreachable")
            except httpx.TimeoutException:
                raise timeout_error(self.name, self.timeout_s, self.where) from None
            except httpx.HTTPError as exc:
                raise LlmError(
                    f"The {self.name} backend{self.where} failed: "
                    f"{self._key.redact(shorten(str(exc) or type(exc).__name__))}",
                    code="llm_http",
                ) from exc
            else:
                if response.status_code < 400:
                    if schema is not None and use_schema is None and self.structured_output:
                        log.warning(
                            "%s backend%s rejects JSON schemas; asking without one from now on", self.name, self.where
                        )
                        self.structured_output = False
                    return response
                try:
                    async with asyncio.timeout(deadline.remaining_s()):
                        await response.aread()
                except (TimeoutError, httpx.HTTPError):
                    pass
                finally:
                    await response.aclose()
                if response.status_code == 400 and use_schema is not None:
                    # Some servers (older llama-server, vLLM, LM Studio builds) reject structured output.
                    # Ask again without it; the planner validates whatever comes back.
                    log.info(
                        "%s backend%s rejected the request with a JSON schema (%s); trying without",
                        self.name,
                        self.where,
                        self._error_message(response),
                    )
                    use_schema = None
                    payload = self.body(messages, None, stream)
                    last = _Retry("rejected the request", "llm_http", 0.0)
                    continue
                if response.status_code not in RETRY_STATUS:
                    raise self._status_error(response)
                last = _Retry(
                    f"answered HTTP {response.status_code}: {self._error_message(response)}",
                    "llm_http",
                    _retry_after_s(response),
                )
            delay_s = last.retry_after_s if last.retry_after_s is not None else BACKOFF_FIRST_S * 2**attempt
            delay_s *= 1.0 + random.uniform(0.0, 0.25)
            if attempt + 1 >= MAX_ATTEMPTS or delay_s >= deadline.remaining_s():
                break
            log.info("%s backend%s %s; retrying in %.2f s", self.name, self.where, last.reason, delay_s)
            await asyncio.sleep(delay_s)
        assert last is not None
        raise LlmError(f"The {self.name} backend{self.where} {last.reason}.", code=last.code)

    async def complete(self, messages: Sequence[Message], *, schema: Schema | None = None) -> str:
        """The whole answer, within `timeout_s` including retries."""
        deadline = Deadline(self.timeout_s)
        response = await self._open(messages, schema, False, deadline)
        try:
            async with asyncio.timeout(deadline.remaining_s()):
                raw = await response.aread()
        except TimeoutError:
            raise timeout_error(self.name, self.timeout_s, self.where) from None
        except httpx.HTTPError as exc:
            raise self._broken_off(exc) from exc
        finally:
            await response.aclose()
        try:
            data = json.loads(raw)
        except ValueError:
            raise LlmError(
                f"The {self.name} backend{self.where} answered something that is not JSON: "
                f"{self._key.redact(shorten(raw.decode('utf-8', 'replace')))}",
                code="llm_bad_answer",
            ) from None
        text = self._checked_text(data)
        if not text:
            raise LlmError(f"The {self.name} backend{self.where} answered with empty text.", code="llm_bad_answer")
        return text

    def _broken_off(self, exc: Exception) -> LlmError:
        """The error for a connection that dropped in the middle of an answer."""
        return LlmError(
            f"The {self.name} backend{self.where} broke off its answer: {shorten(str(exc), 120)}",
            code="llm_truncated",
        )

    def _checked_text(self, data: Any) -> str:
        if isinstance(data, dict) and data.get("error"):
            raise LlmError(
                f"The {self.name} backend{self.where} reported an error: "
                f"{self._key.redact(shorten(str(data['error'])))}",
                code="llm_http",
            )
        try:
            return self.answer_text(data)
        except (KeyError, IndexError, TypeError, AttributeError):
            raise LlmError(
                f"The {self.name} backend{self.where} answered in an unexpected shape: "
                f"{self._key.redact(shorten(json.dumps(data)))}",
                code="llm_bad_answer",
            ) from None

    async def stream(self, messages: Sequence[Message], *, schema: Schema | None = None) -> AsyncGenerator[str, None]:
        """The answer in pieces; the first within `timeout_s`, then no gap longer than `timeout_s`."""
        deadline = Deadline(self.timeout_s)
        response = await self._open(messages, schema, True, deadline)
        lines = response.aiter_lines()
        events = _sse_events(lines) if self.stream_framing == "sse" else _ndjson_events(lines)
        produced = False
        finished = False
        try:
            while not finished:
                budget_s = deadline.remaining_s() if not produced else self.timeout_s
                try:
                    async with asyncio.timeout(budget_s):
                        event = await anext(events, None)
                except TimeoutError:
                    raise timeout_error(self.name, self.timeout_s, self.where) from None
                except httpx.HTTPError as exc:
                    raise self._broken_off(exc) from exc
                if event is None:
                    raise LlmError(
                        f"The {self.name} backend{self.where} ended the stream before the model finished.",
                        code="llm_truncated",
                    )
                if event is _DONE:
                    break
                if isinstance(event, dict) and event.get("error"):
                    raise LlmError(
                        f"The {self.name} backend{self.where} reported an error mid-answer: "
                        f"{self._key.redact(shorten(str(event['error'])))}",
                        code="llm_http",
                    )
                try:
                    piece, finished = self.stream_piece(event)
                except (KeyError, IndexError, TypeError, AttributeError):
                    raise LlmError(
                        f"The {self.name} backend{self.where} sent a stream event in an unexpected shape: "
                        f"{self._key.redact(shorten(json.dumps(event)))}",
                        code="llm_bad_answer",
                    ) from None
                if piece:
                    produced = True
                    yield piece
            if not produced:
                raise LlmError(f"The {self.name} backend{self.where} answered with empty text.", code="llm_bad_answer")
        finally:
            await events.aclose()
            await response.aclose()


_DONE = object()


async def _sse_events(lines: AsyncIterator[str]) -> AsyncGenerator[Any, None]:
    """Server-sent events: JSON `data:` payloads; `data: [DONE]` ends the stream."""
    data: list[str] = []
    try:
        async for line in lines:
            if line.startswith("data:"):
                data.append(line[5:].lstrip())
                continue
            if line.strip() or not data:
                continue  # "event:", "id:", ": comment", or a blank line with nothing pending
            payload, data = "\n".join(data), []
            yield _DONE if payload == "[DONE]" else _json_event(payload)
        if data:
            payload = "\n".join(data)
            yield _DONE if payload == "[DONE]" else _json_event(payload)
    finally:
        await _aclose(lines)


async def _ndjson_events(lines: AsyncIterator[str]) -> AsyncGenerator[Any, None]:
    """Newline-delimited JSON: one object per line."""
    try:
        async for line in lines:
            if line.strip():
                yield _json_event(line)
    finally:
        await _aclose(lines)


async def _aclose(iterator: AsyncIterator[str]) -> None:
    close = getattr(iterator, "aclose", None)
    if close is not None:
        await close()


def _json_event(payload: str) -> Any:
    try:
        return json.loads(payload)
    except ValueError:
        raise LlmError(f"A stream event is not JSON: {shorten(payload, 120)}", code="llm_bad_answer") from None


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
