"""What every language-model backend offers, and the small pieces they share.

A backend answers a chat (`complete`) or streams the answer in pieces (`stream`); with a JSON
schema, the answer is constrained to it (a grammar for llama.cpp, structured output over HTTP).
Every failure leaves a backend as an `LlmError` whose message says what to change.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal, Protocol, TypedDict

from loki.errors import LlmError


class Message(TypedDict):
    """One chat message."""

    role: Literal["system", "user", "assistant"]
    content: str


Schema = dict[str, Any]


class Llm(Protocol):
    """A language model: one backend, or a fallback chain of them."""

    name: str

    async def complete(self, messages: Sequence[Message], *, schema: Schema | None = None) -> str:
        """The whole answer; with `schema`, JSON text constrained to it."""
        ...

    def stream(self, messages: Sequence[Message], *, schema: Schema | None = None) -> AsyncGenerator[str, None]:
        """The answer in pieces as the model writes it (an async generator: close it with `aclose()`)."""
        ...

    async def aclose(self) -> None:
        """Release connections and threads."""
        ...


class Secret:
    """A value that never shows itself in reprs, logs or tracebacks."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The value itself, for the one header that needs it."""
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret('***')" if self._value else "Secret('')"

    __str__ = __repr__

    def redact(self, text: str) -> str:
        """`text` with every occurrence of the value masked."""
        return text.replace(self._value, "***") if self._value else text


class Deadline:
    """A point in time a call must finish by; `remaining_s()` is what is left of the budget."""

    def __init__(self, budget_s: float) -> None:
        self.budget_s = budget_s
        self.end = time.monotonic() + budget_s

    def remaining_s(self) -> float:
        """Seconds left (never negative)."""
        return max(0.0, self.end - time.monotonic())

    def expired(self) -> bool:
        """True once the budget is spent."""
        return self.remaining_s() <= 0.0

    @contextmanager
    def paused(self) -> Iterator[None]:
        """Time spent inside does not count: a stream's caller speaking a piece is not the model being slow."""
        started = time.monotonic()
        try:
            yield
        finally:
            self.end += time.monotonic() - started


def timeout_error(backend: str, timeout_s: float, where: str = "") -> LlmError:
    """The error for a backend whose whole answer (connection and every piece) did not arrive in time."""
    return LlmError(
        f"The {backend} backend{where} did not finish its answer within {timeout_s:g} s (LOKI_LLM_TIMEOUT_S, "
        "the limit for the whole answer): the server may be overloaded or the model too slow; "
        "raise the timeout or use a smaller model.",
        code="llm_timeout",
    )


def too_long_error(backend: str, max_reply_kb: int, where: str = "") -> LlmError:
    """The error for an answer longer than `LOKI_LLM_MAX_REPLY_KB`."""
    return LlmError(
        f"The {backend} backend{where} answered with more than {max_reply_kb} kB, so LOKI stopped reading it "
        "(LOKI_LLM_MAX_REPLY_KB): a plan or a spoken answer is far shorter; the model may be stuck repeating itself.",
        code="llm_too_long",
    )


def shorten(text: str, limit: int = 200) -> str:
    """One line of at most `limit` characters, for error messages."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
