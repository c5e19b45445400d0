"""A fallback chain: the main backend first, then each fallback in turn when one fails.

A failing backend costs at most its own time budget (`LOKI_LLM_TIMEOUT_S`) before the next one
is asked. A stream falls back only before its first piece: once words have been spoken, a
failure is reported instead of starting the answer again elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator, Sequence

from loki.errors import LlmError
from loki.llm.base import Llm, Message, Schema

log = logging.getLogger(__name__)


class FallbackChain:
    """Tries backends in order; `last_used` names the one that answered."""

    def __init__(self, backends: Sequence[Llm]) -> None:
        if not backends:
            raise ValueError("a fallback chain needs at least one backend")
        self.backends = list(backends)
        self.name = " -> ".join(b.name for b in self.backends)
        self.last_used: str | None = None

    def __repr__(self) -> str:
        return f"FallbackChain({self.backends!r})"

    async def complete(self, messages: Sequence[Message], *, schema: Schema | None = None) -> str:
        """The first backend's answer that arrives without error."""
        errors: list[LlmError] = []
        for backend in self.backends:
            try:
                text = await backend.complete(messages, schema=schema)
            except LlmError as exc:
                errors.append(exc)
                self._log_failure(backend, exc)
                continue
            self.last_used = backend.name
            return text
        raise self._combined(errors)

    async def stream(self, messages: Sequence[Message], *, schema: Schema | None = None) -> AsyncGenerator[str, None]:
        """Pieces from the first backend that starts answering."""
        errors: list[LlmError] = []
        for backend in self.backends:
            pieces = backend.stream(messages, schema=schema)
            try:
                first = await anext(pieces)
            except LlmError as exc:
                await pieces.aclose()
                errors.append(exc)
                self._log_failure(backend, exc)
                continue
            except StopAsyncIteration:
                empty = LlmError(f"The {backend.name} backend answered with empty text.", code="llm_bad_answer")
                errors.append(empty)
                self._log_failure(backend, empty)
                continue
            self.last_used = backend.name
            try:
                yield first
                async for piece in pieces:
                    yield piece
            finally:
                await pieces.aclose()
            return
        raise self._combined(errors)

    async def aclose(self) -> None:
        """Close every backend."""
        for backend in self.backends:
            await backend.aclose()

    def _log_failure(self, backend: Llm, exc: LlmError) -> None:
        following = self.backends.index(backend) + 1
        if following < len(self.backends):
            log.warning("%s; falling back to %s", exc, self.backends[following].name)
        else:
            log.warning("%s", exc)

    def _combined(self, errors: list[LlmError]) -> LlmError:
        if len(errors) == 1:
            return errors[0]
        parts = [str(errors[0])] + [f"fallback: {e}" for e in errors[1:]]
        return LlmError(" ".join(parts), code=errors[0].code)
