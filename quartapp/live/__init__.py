"""Live updates: events written with each change, fanned out over websockets.

Features publish through ``events.record`` inside their write transaction; the
transaction announces the events after its commit (``quartapp.db``), the broker wakes every
worker's hub, and each hub reads the new events in seq order and sends them to its
sockets. This package imports no feature package: the app factory hands it the journal's
card renderer (``messages.RenderCards``) and the accounts' ``viewers.Viewers``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

from quartapp.live import shutdown
from quartapp.live.broker import Broker
from quartapp.live.hub import Hub
from quartapp.live.prune import prune_periodically
from quartapp.models import Event
from quartapp.tasks import cancel_and_wait


def announcer(broker: Broker) -> Callable[[Sequence[Event]], Awaitable[None]]:
    """What a committed transaction calls with the events it wrote (``db.Announce``)."""

    async def announce(_written: Sequence[Event]) -> None:
        # Every hub reads the events from the table, in seq order: a wake-up is enough.
        await broker.notify()

    return announce


@contextlib.asynccontextmanager
async def serving(hub: Hub, retention_days: int) -> AsyncIterator[None]:
    """While the app serves: the hub follows the events, old ones are pruned, and the
    sockets close with 1001 as soon as the server is told to stop."""
    await hub.start()
    pruner = asyncio.create_task(
        prune_periodically(hub.database, retention_days), name="live-prune"
    )
    try:
        async with shutdown.going_away_on_shutdown(hub):
            yield
    finally:
        hub.going_away()
        await cancel_and_wait(pruner)
        await hub.stop()
