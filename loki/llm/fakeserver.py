"""A real HTTP server on 127.0.0.1 that answers like an LLM server, with canned text and faults on demand.

It speaks all three HTTP protocols LOKI uses, on one port:

- OpenAI-compatible: POST /v1/chat/completions (JSON, or SSE with `"stream": true`)
- Ollama: POST /api/chat (JSON, or newline-delimited JSON when streaming)
- Gemini: POST /v1beta/models/{model}:generateContent and :streamGenerateContent?alt=sse

For tests and benchmarks (and for trying LOKI's plumbing without a model):

    with CannedLlmServer('{"actions": [], "reply": "Hi."}') as server:
        settings = settings_from({"LOKI_LLM_BACKEND": "openai", "LOKI_LLM_URL": server.openai_url})

Faults (`fault=`): "status" (every request fails with `status`), "status_once" (the first
`fail_times` requests do), "sleep" (wait `delay_s` before answering), "truncate" (stream half the
answer, then drop the connection mid-body), "eof" (stream half, then end cleanly without the
protocol's end marker), "echo_key" (fail with 401 and echo the credentials back), "reject_schema"
(HTTP 400 for any request that asks for structured output), "no_stream" (a complete, non-streamed
answer even when a stream was asked for), "raw" (the answer text itself is the whole body, sent as
`content_type`: an HTML login page, JSON nested a thousand deep, anything).

A model that drips its answer is `chunk_chars=1, chunk_delay_s=0.25`; a huge answer is just a long
`answer`.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Answer = str | Callable[[dict[str, Any]], str]


class CannedLlmServer:
    """Serves `answer` (text, or a function of the request body) over the OpenAI, Ollama and Gemini protocols."""

    def __init__(
        self,
        answer: Answer = '{"actions": [], "reply": "Okay."}',
        *,
        fault: str | None = None,
        status: int = 500,
        fail_times: int = 1,
        delay_s: float = 0.0,
        chunk_chars: int = 8,
        chunk_delay_s: float = 0.0,
        content_type: str = "application/json",
        port: int = 0,
    ) -> None:
        self.answer = answer
        self.fault = fault
        self.status = status
        self.fail_times = fail_times
        self.delay_s = delay_s
        self.chunk_chars = chunk_chars
        self.chunk_delay_s = chunk_delay_s
        self.content_type = content_type
        self.requests: list[dict[str, Any]] = []
        self._released = threading.Event()
        self._lock = threading.Lock()
        self._httpd = _QuietServer(("127.0.0.1", port), _handler(self))
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self._httpd.server_port}"

    @property
    def openai_url(self) -> str:
        """LOKI_LLM_URL for the OpenAI protocol."""
        return f"{self.url}/v1"

    @property
    def ollama_url(self) -> str:
        """LOKI_LLM_URL for Ollama."""
        return self.url

    @property
    def gemini_url(self) -> str:
        """LOKI_LLM_URL for Gemini."""
        return f"{self.url}/v1beta"

    def start(self) -> CannedLlmServer:
        """Serve in a background thread."""
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="canned-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and release any request that is sleeping."""
        self._released.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(5)

    def __enter__(self) -> CannedLlmServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def text_for(self, body: dict[str, Any]) -> str:
        """The canned answer for one request."""
        return self.answer(body) if callable(self.answer) else self.answer

    def should_fail(self) -> bool:
        """Whether this request gets the `status` fault."""
        if self.fault == "status":
            return True
        if self.fault == "status_once":
            with self._lock:
                failed = sum(1 for r in self.requests if r.get("failed"))
                return failed < self.fail_times
        return False

    def pause(self) -> None:
        """The "sleep" fault: wait `delay_s` (or until the server stops)."""
        self._released.wait(self.delay_s)

    def count(self, text: str) -> int:
        """How many pieces `pieces()` cuts the answer into."""
        return max(1, -(-len(text) // self.chunk_chars))

    def pieces(self, text: str) -> Iterator[str]:
        """The answer cut into stream pieces."""
        for i in range(0, len(text), self.chunk_chars):
            if self.chunk_delay_s and self._released.wait(self.chunk_delay_s):
                return  # the server is stopping
            yield text[i : i + self.chunk_chars]


class _QuietServer(ThreadingHTTPServer):
    """Clients that hang up (as LOKI does when it abandons a call) are not errors worth a traceback."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def _handler(server: CannedLlmServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
            return

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except ValueError:
                body = {}
            record: dict[str, Any] = {"path": self.path, "headers": dict(self.headers), "body": body}
            failing = server.should_fail()
            record["failed"] = failing
            with server._lock:
                server.requests.append(record)
            if server.fault == "sleep":
                server.pause()
            if failing:
                self._json(server.status, {"error": {"message": f"canned failure {server.status}"}})
                return
            if server.fault == "reject_schema" and (
                "response_format" in body or "format" in body or "responseSchema" in body.get("generationConfig", {})
            ):
                self._json(400, {"error": {"message": "structured output is not supported by this server"}})
                return
            if server.fault == "echo_key":
                creds = self.headers.get("authorization") or self.headers.get("x-goog-api-key") or ""
                self._json(401, {"error": {"message": f"invalid credentials: {creds}"}})
                return
            path = self.path.split("?")[0]
            text = server.text_for(body)
            if server.fault == "raw":
                self._raw(text.encode())
                return
            if server.fault == "no_stream":
                body = {**body, "stream": False}
                path = path.replace(":streamGenerateContent", ":generateContent")
            if path.endswith("/chat/completions"):
                self._openai(body, text)
            elif path.endswith("/api/chat"):
                self._ollama(body, text)
            elif ":generateContent" in path or ":streamGenerateContent" in path:
                self._gemini(path, text)
            else:
                self._json(404, {"error": f"no route {path}"})

        # Framing ----------------------------------------------------------------------------
        def _json(self, status: int, data: Any) -> None:
            raw = json.dumps(data).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _raw(self, raw: bytes) -> None:
            self.send_response(200)
            self.send_header("content-type", server.content_type)
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def _stream(self, content_type: str, events: Iterator[bytes], count: int, end: bytes) -> None:
            self.send_response(200)
            self.send_header("content-type", content_type)
            self.send_header("transfer-encoding", "chunked")
            self.end_headers()
            cut = count // 2 if server.fault in ("truncate", "eof") else None
            for index, event in enumerate(events):
                if cut is not None and index >= max(cut, 1):
                    break
                self._chunk(event)
            if server.fault == "truncate":
                self.wfile.flush()
                self.close_connection = True
                self.connection.shutdown(2)  # drop it mid-body: no terminating chunk
                return
            if server.fault != "eof":
                self._chunk(end)
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()

        def _chunk(self, data: bytes) -> None:
            if data:
                self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
                self.wfile.flush()

        # Protocols --------------------------------------------------------------------------
        def _openai(self, body: dict[str, Any], text: str) -> None:
            if not body.get("stream"):
                self._json(
                    200,
                    {
                        "id": "chatcmpl-canned",
                        "object": "chat.completion",
                        "model": body.get("model"),
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
                    },
                )
                return

            def chunk(piece: str, finish: str | None) -> bytes:
                data = {
                    "id": "chatcmpl-canned",
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {"content": piece} if piece else {}, "finish_reason": finish}],
                }
                return f"data: {json.dumps(data)}\n\n".encode()

            events = (chunk(piece, None) for piece in server.pieces(text))
            self._stream("text/event-stream", events, server.count(text), chunk("", "stop") + b"data: [DONE]\n\n")

        def _ollama(self, body: dict[str, Any], text: str) -> None:
            model = body.get("model")
            if not body.get("stream", True):
                self._json(
                    200,
                    {
                        "model": model,
                        "created_at": "2026-01-01T00:00:00Z",
                        "message": {"role": "assistant", "content": text},
                        "done": True,
                    },
                )
                return
            events = (
                (
                    json.dumps({"model": model, "message": {"role": "assistant", "content": piece}, "done": False})
                    + "\n"
                ).encode()
                for piece in server.pieces(text)
            )
            final = {
                "model": model,
                "message": {"role": "assistant", "content": ""},
                "done": True,
                "done_reason": "stop",
            }
            self._stream("application/x-ndjson", events, server.count(text), (json.dumps(final) + "\n").encode())

        def _gemini(self, path: str, text: str) -> None:
            def response(piece: str, finish: str | None) -> dict[str, Any]:
                candidate: dict[str, Any] = {"content": {"role": "model", "parts": [{"text": piece}]}, "index": 0}
                if finish:
                    candidate["finishReason"] = finish
                return {"candidates": [candidate], "modelVersion": "canned"}

            if ":streamGenerateContent" not in path:
                self._json(200, response(text, "STOP"))
                return
            events = (f"data: {json.dumps(response(p, None))}\r\n\r\n".encode() for p in server.pieces(text))
            self._stream(
                "text/event-stream",
                events,
                server.count(text),
                f"data: {json.dumps(response('', 'STOP'))}\r\n\r\n".encode(),
            )

    return Handler
