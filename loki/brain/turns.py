"""Turns, one at a time: commands queue up in the order they arrive, each is routed by the orchestrator.

The running turn can be cancelled (barge-in, "stop", shutdown) except from inside itself: the
`stop` action of a plan does not cancel the plan that runs it.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from collections.abc import Callable
from datetime import datetime

from loki.brain.orchestrator import Orchestrator, TurnResult
from loki.events import CommandHeard, Event

log = logging.getLogger(__name__)

_IN_TURN: contextvars.ContextVar[bool] = contextvars.ContextVar("loki_in_turn", default=False)


class Turns:
    """The queue of commands and the one turn that runs.

    Args:
        orchestrator: routes each command.
        publish: receives each `CommandHeard` as its turn starts.
        keep: how many recent results `results` keeps (a long-running daemon must not keep them all).
        on_change: called when a turn starts or ends (the supervisor's state follows it).
        on_result: called with (command, result) after every turn that was not cancelled.
        on_done: called with each queued command once its turn is over (cancelled or not), before the next.
    """

    def __init__(
        self,
        orchestrator: Orchestrator,
        publish: Callable[[Event], None],
        *,
        keep: int = 50,
        on_change: Callable[[], None] = lambda: None,
        on_result: Callable[[CommandHeard, TurnResult], None] = lambda command, result: None,
        on_done: Callable[[CommandHeard], None] = lambda command: None,
    ) -> None:
        self.orchestrator = orchestrator
        self.publish = publish
        self.keep = keep
        self.on_change = on_change
        self.on_result = on_result
        self.on_done = on_done
        self.results: list[TurnResult] = []
        """The last `keep` results."""
        self.last_time = ""
        """Local ISO time the last turn ended."""
        self._queue: asyncio.Queue[CommandHeard | None] = asyncio.Queue()
        self._task: asyncio.Task[TurnResult] | None = None
        self._answers: dict[int, asyncio.Future[TurnResult | None]] = {}
        self._closing = False

    @property
    def running(self) -> bool:
        """True while a turn runs."""
        return self._task is not None and not self._task.done()

    async def put(self, command: CommandHeard | None) -> None:
        """Queue a command (None: no more; `run()` returns once the queue is through)."""
        await self._queue.put(command)

    def end(self) -> None:
        """Stop: drop the commands still queued (unrun), cancel the running turn, and let `run()` return."""
        self._closing = True
        self._drop_queued()
        self.cancel("shutdown", from_inside=False)
        self._queue.put_nowait(None)

    def _drop_queued(self) -> None:
        while not self._queue.empty():
            command = self._queue.get_nowait()
            if command is not None:
                log.info("not run (stopping): %r", command.text)
                self.on_done(command)
                self._answer(command, None)

    def _answer(self, command: CommandHeard, result: TurnResult | None) -> None:
        answer = self._answers.pop(id(command), None)
        if answer is not None and not answer.done():
            answer.set_result(result)

    async def submit(self, command: CommandHeard) -> TurnResult | None:
        """Queue a command and wait for its result (None: cancelled, or the daemon stopped first)."""
        if self._closing:
            return None
        answer: asyncio.Future[TurnResult | None] = asyncio.get_running_loop().create_future()
        self._answers[id(command)] = answer
        await self._queue.put(command)
        return await answer

    def cancel(self, reason: str, *, from_inside: bool | None = None) -> bool:
        """Cancel the running turn, unless the request comes from inside it; True when one was cancelled."""
        inside = _IN_TURN.get() if from_inside is None else from_inside
        if not self.running or inside:
            return False
        assert self._task is not None
        log.info("cancelling the running plan (%s)", reason)
        self._task.cancel()
        return True

    async def run(self) -> None:
        """Run queued commands one after another until None is queued."""
        while (command := await self._queue.get()) is not None:
            result = None
            try:
                if not self._closing:
                    result = await self.handle(command)
            finally:
                self.on_done(command)
                self._answer(command, result)

    async def handle(self, command: CommandHeard) -> TurnResult | None:
        """Run one turn now (None when it was cancelled)."""
        self.publish(command)
        self._task = asyncio.create_task(self._turn(command), name="turn")
        self.on_change()
        try:
            result = await asyncio.shield(self._task)
        except asyncio.CancelledError:
            if self._task.cancelled() and not _current_task_cancelling():
                log.info("turn %r was cancelled", command.text)
                return None
            raise
        finally:
            self.on_change()
        self.results.append(result)
        del self.results[: -self.keep]
        self.last_time = datetime.now().astimezone().isoformat(timespec="milliseconds")
        self.on_result(command, result)
        return result

    async def _turn(self, command: CommandHeard) -> TurnResult:
        _IN_TURN.set(True)  # this task's own context: an interrupt from inside the turn does not cancel it
        return await self.orchestrator.handle(
            command.text,
            language=command.language,
            timings=dict(command.timings_ms),
            speech_end_at=command.speech_end_at,
        )

    async def close(self) -> None:
        """Drop the queued commands, cancel the running turn (waiting at most 3 s), release whoever waits for a result."""
        self._closing = True
        self._drop_queued()
        if self.running:
            assert self._task is not None
            self._task.cancel()
            await asyncio.wait([self._task], timeout=3.0)
        for answer in self._answers.values():
            if not answer.done():
                answer.set_result(None)
        self._answers.clear()


def _current_task_cancelling() -> bool:
    task = asyncio.current_task()
    return bool(task is not None and task.cancelling())
