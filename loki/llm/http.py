"""What the HTTP backends share: one httpx client, the time budget, retries, and stream framing.

Budget: a call (connection, retries and every piece of the answer) is abandoned after `timeout_s`;
time a stream's caller spends between pieces (speaking them) is not counted. An answer longer than
`max_reply_kb` is abandoned too. A server that does not stream (one complete JSON answer) is
accepted; one that answers with an HTML page (a proxy or login page) is named as such.
Retries with back-off happen only for failures that a second try can fix: no connection,
HTTP 429 and 5xx. Every failure leaves as an `LlmError` that never contains the API key.
"""

from __future__ import annotations

import asyncio
import codecs
import functools
import html
import json
import logging
import random
import re
import ssl
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

import httpx

from loki.errors import LlmError
from loki.llm.base import Deadline, Message, Schema, Secret, shorten, timeout_error, too_long_error

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
        self,
        *,
        url: str = "",
        model: str = "",
        api_key: str = "",
        timeout_s: float = 20.0,
        max_tokens: int = 512,
        max_reply_kb: int = 64,
    ) -> None:
        self.url = (url or self.default_url).rstrip("/")
        self.max_reply_kb = max_reply_kb
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
    def max_reply_bytes(self) -> int:
        """The longest answer read (LOKI_LLM_MAX_REPLY_KB)."""
        return self.max_reply_kb * 1024

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
        pieces = self._pieces(response, deadline)
        try:
            return "".join([piece async for piece in pieces])
        finally:
            await pieces.aclose()

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
        """The answer in pieces; the whole answer within `timeout_s` (time the caller spends between pieces is
        not counted) and at most `max_reply_kb`."""
        deadline = Deadline(self.timeout_s)
        response = await self._open(messages, schema, True, deadline)
        pieces = self._pieces(response, deadline)
        try:
            async for piece in pieces:
                with deadline.paused():
                    yield piece
        finally:
            await pieces.aclose()

    async def _pieces(self, response: httpx.Response, deadline: Deadline) -> AsyncGenerator[str, None]:
        """The text of an open answer: a stream of events, or one complete (non-streamed) JSON answer."""
        body = _Body(self, response, deadline)
        try:
            head = await body.head()
            content_type = response.headers.get("content-type", "").split(";")[0].strip().lower()
            if content_type == "text/html" or head.startswith("<"):
                raise self._html_error(await body.prefix(_HTML_PREFIX_CHARS))
            if head[:1] in ("{", "[") and (self.stream_framing == "sse" or content_type == "application/json"):
                yield self._whole_answer(await body.read_all(self.max_reply_bytes * 6 + FRAMING_BYTES))
                return
            async for piece in self._stream_pieces(body):
                yield piece
        finally:
            await response.aclose()

    def _whole_answer(self, raw: str) -> str:
        """The text of a complete chat answer (what a server sends when it does not stream)."""
        what = f"The {self.name} backend{self.where} answered"
        data = _loads(raw, what, lambda: f"something that is not JSON: {self._key.redact(shorten(raw))}")
        text = self._checked_text(data)
        if len(text.encode("utf-8")) > self.max_reply_bytes:
            raise too_long_error(self.name, self.max_reply_kb, self.where)
        if not text:
            raise LlmError(f"The {self.name} backend{self.where} answered with empty text.", code="llm_bad_answer")
        return text

    async def _stream_pieces(self, body: _Body) -> AsyncGenerator[str, None]:
        framing = _SseEvents() if self.stream_framing == "sse" else _NdjsonEvents()
        produced_bytes = 0
        finished = False
        lines = body.lines()
        try:
            while not finished:
                line = await anext(lines, None)
                events = framing.end() if line is None else framing.feed(line)
                for event in events:
                    if event is _DONE:
                        finished = True
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
                        produced_bytes += len(piece.encode("utf-8"))
                        if produced_bytes > self.max_reply_bytes:
                            raise too_long_error(self.name, self.max_reply_kb, self.where)
                        yield piece
                    if finished:
                        break
                if line is None and not finished:
                    if not framing.seen_events and framing.stray:
                        raise LlmError(
                            f"The {self.name} backend{self.where} answered with something that is neither a stream "
                            f"nor a chat completion: {self._key.redact(shorten(framing.stray, 120))}",
                            code="llm_bad_answer",
                        )
                    raise LlmError(
                        f"The {self.name} backend{self.where} ended the stream before the model finished.",
                        code="llm_truncated",
                    )
            if not produced_bytes:
                raise LlmError(f"The {self.name} backend{self.where} answered with empty text.", code="llm_bad_answer")
        finally:
            await lines.aclose()

    def _html_error(self, page: str) -> LlmError:
        title = _HTML_TITLE.search(page)
        named = f" titled {shorten(html.unescape(title.group(1)), 80)!r}" if title and title.group(1).strip() else ""
        return LlmError(
            f"The {self.name} backend: the server{self.where} answered with an HTML page{named}, not a model's "
            "answer: check LOKI_LLM_URL (a proxy, captive portal or login page may be in the way).",
            code="llm_bad_answer",
        )


_DONE = object()
FRAMING_BYTES = 64 * 1024  # what protocol framing may add around one event's text
_HTML_PREFIX_CHARS = 4096
_HTML_TITLE = re.compile(r"<title[^>]*>([^<]*)", re.IGNORECASE)
_LINE_END = re.compile(r"\r\n|\r|\n")


class _Body:
    """An answer's bytes, read as text within the call's deadline; no line may outgrow the reply's size cap."""

    def __init__(self, backend: HttpBackend, response: httpx.Response, deadline: Deadline) -> None:
        self._backend = backend
        self._chunks = response.aiter_bytes()
        self._deadline = deadline
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._ready: list[str] = []  # decoded text not yet handed out
        self._ready_chars = 0
        self._ended = False
        self.line_limit_chars = backend.max_reply_bytes + FRAMING_BYTES

    async def _read(self) -> bool:
        """Decode one more chunk into `_ready`; False at the end of the body."""
        if self._ended:
            return False
        try:
            async with asyncio.timeout(self._deadline.remaining_s()):
                chunk = await anext(self._chunks, None)
                # Reading what is already buffered does not give way to other tasks: give way once
                # per chunk, so megabytes waiting in the socket never hold up the event loop.
                await asyncio.sleep(0)
        except TimeoutError:
            raise timeout_error(self._backend.name, self._backend.timeout_s, self._backend.where) from None
        except httpx.HTTPError as exc:
            raise self._backend._broken_off(exc) from exc
        text = self._decoder.decode(chunk or b"", final=chunk is None)
        if chunk is None:
            self._ended = True
        if text:
            self._ready.append(text)
            self._ready_chars += len(text)
        return chunk is not None

    def _take(self) -> str:
        text = "".join(self._ready)
        self._ready, self._ready_chars = [], 0
        return text

    async def head(self) -> str:
        """The body's first characters, once something other than white space has arrived ('' when empty)."""
        while not "".join(self._ready).strip() and await self._read():
            pass
        text = self._take()
        self._ready, self._ready_chars = ([text], len(text)) if text else ([], 0)
        return text.lstrip()

    async def prefix(self, chars: int) -> str:
        """Up to `chars` characters of the body (for naming what it is)."""
        while self._ready_chars < chars and await self._read():
            pass
        return self._take()[:chars]

    async def read_all(self, limit_chars: int) -> str:
        """The rest of the body; longer than `limit_chars` is an error."""
        while await self._read():
            if self._ready_chars > limit_chars:
                raise too_long_error(self._backend.name, self._backend.max_reply_kb, self._backend.where)
        return self._take()

    async def lines(self) -> AsyncGenerator[str, None]:
        """The body line by line (\\n, \\r\\n or \\r), in time linear in its length."""
        partial: list[str] = []
        partial_chars = 0
        after_cr = False
        while True:
            more = await self._read()
            text = self._take()
            if after_cr and text.startswith("\n"):
                text = text[1:]
            after_cr = text.endswith("\r")
            start = 0
            for m in _LINE_END.finditer(text):
                partial.append(text[start : m.start()])
                yield "".join(partial)
                partial, partial_chars = [], 0
                start = m.end()
            if start < len(text):
                partial.append(text[start:])
                partial_chars += len(text) - start
                if partial_chars > self.line_limit_chars:
                    raise too_long_error(self._backend.name, self._backend.max_reply_kb, self._backend.where)
            if not more:
                if partial:
                    yield "".join(partial)
                return


class _SseEvents:
    """Server-sent events: JSON `data:` payloads; `data: [DONE]` ends the stream."""

    def __init__(self) -> None:
        self._data: list[str] = []
        self.seen_events = False
        self.stray = ""  # the start of any text that is not SSE, for the error message

    def feed(self, line: str) -> list[Any]:
        if line.startswith("data:"):
            self._data.append(line[5:].lstrip())
            return []
        if line.strip():
            if not line.startswith((":", "event:", "id:", "retry:")) and len(self.stray) < 200:
                self.stray += line[:200] + " "
            return []
        return self._dispatch()

    def end(self) -> list[Any]:
        return self._dispatch()

    def _dispatch(self) -> list[Any]:
        if not self._data:
            return []
        payload, self._data = "\n".join(self._data), []
        self.seen_events = True
        return [_DONE if payload == "[DONE]" else _json_event(payload)]


class _NdjsonEvents:
    """Newline-delimited JSON: one object per line."""

    seen_events = False
    stray = ""

    def feed(self, line: str) -> list[Any]:
        if not line.strip():
            return []
        self.seen_events = True
        return [_json_event(line)]

    def end(self) -> list[Any]:
        return []


def _loads(payload: str, what: str, not_json: Callable[[], str]) -> Any:
    """JSON, or an `LlmError` that starts with `what` (deep nesting included: the decoder would
    raise RecursionError)."""
    try:
        return json.loads(payload)
    except ValueError:
        raise LlmError(f"{what} {not_json()}", code="llm_bad_answer") from None
    except RecursionError:
        raise LlmError(f"{what} JSON nested too deeply to be an answer.", code="llm_bad_answer") from None


def _json_event(payload: str) -> Any:
    return _loads(payload, "A stream event holds", lambda: f"something that is not JSON: {shorten(payload, 120)}")


def _retry_after_s(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
