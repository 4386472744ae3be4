"""Background tasks, stopped the one way that is right."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator
from typing import Any, ClassVar


async def cancel_and_wait(task: asyncio.Task[Any] | None, *, every: float = 1.0) -> None:
    """Cancel ``task`` and wait until it has ended; its own cancellation is not an error.

    The cancel is repeated every ``every`` seconds until the task ends: a cancellation that
    lands while asyncpg finishes a commit can be swallowed below us (asyncpg#873,
    sqlalchemy#12728), and a task that loops on would otherwise be waited for forever.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=every)
    with contextlib.suppress(asyncio.CancelledError):
        await task


@contextlib.asynccontextmanager
async def timeout(seconds: float) -> AsyncIterator[None]:
    """``asyncio.timeout(seconds)``, with its timer set in an empty context.

    A timer keeps the context it was set in, and asyncio keeps a cancelled timer until the
    time it was set for. Set in a websocket handler, it would keep the handler's context
    (Quart's websocket, its scope, the server's stream) that long after the socket closed.
    """
    async with asyncio.timeout(None) as scope:
        deadline = asyncio.get_running_loop().time() + seconds
        contextvars.Context().run(scope.reschedule, deadline)
        yield


class BackgroundLoop:
    """A worker's loop in the background (the outbox sender, the search indexer).

    ``start`` runs ``run`` as a task; ``wake`` has it look now rather than at its next
    poll; ``stop`` asks it to end (``stopping``, which ``run`` checks between two pieces of
    work), lets the piece in hand finish for ``stop_grace`` seconds, and only then cancels
    it: a cancel inside a transaction can leave its connection holding locks.
    """

    task_name: ClassVar[str] = "background-loop"
    stop_grace: ClassVar[float] = 2.0

    def __init__(self, poll_seconds: float) -> None:
        self.poll_seconds = poll_seconds
        self._wake = asyncio.Event()
        self._stopping = False
        self._running: asyncio.Task[None] | None = None

    @property
    def stopping(self) -> bool:
        return self._stopping

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        """Run in the background until ``stop``."""
        self._stopping = False
        self._running = asyncio.create_task(self.run(), name=self.task_name)

    async def stop(self, grace: float | None = None) -> None:
        running, self._running = self._running, None
        if running is None:
            return
        self._stopping = True
        self._wake.set()
        await asyncio.wait({running}, timeout=self.stop_grace if grace is None else grace)
        await cancel_and_wait(running)

    async def next_round(self) -> bool:
        """Wait for a wake-up or the next poll; False once stopping. A wake-up from now on
        means another round (it is cleared before the round's work)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), self.poll_seconds)
        self._wake.clear()
        return not self._stopping

    async def run(self) -> None:
        raise NotImplementedError
