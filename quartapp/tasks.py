"""Background tasks, stopped the one way that is right."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import AsyncIterator
from typing import Any


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel ``task`` and wait until it has ended; its own cancellation is not an error."""
    if task is None:
        return
    task.cancel()
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
