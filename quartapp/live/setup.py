"""Wiring the live hub into an app: its cards, its lifecycle, and SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import signal
from collections.abc import AsyncGenerator
from multiprocessing.synchronize import Event as ProcessEvent
from types import SimpleNamespace
from typing import Any

from quart import Quart, render_template

from quartapp.config import Settings
from quartapp.db import Database
from quartapp.journal import store as journal_store
from quartapp.live import events
from quartapp.live.broker import Broker, MemoryBroker, RedisBroker
from quartapp.live.hub import Hub, RenderCards
from quartapp.live.routes import SendThrough, blueprint

logger = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds
PRUNE_FIRST_AFTER = 60.0
HYPERCORN_PING_LOOP = "WSStream._send_pings"


def card_renderer(app: Quart, database: Database) -> RenderCards:
    """Entry cards as the journal pages render them: one for readers, one for the author."""

    async def render(entry_ids: list[int]) -> dict[int, tuple[str, str]]:
        async with database.reader() as session:
            entries = await journal_store.get_entries(session, entry_ids)
        cards = {}
        async with app.test_request_context("/"):  # url_for needs a request to build paths
            for entry in entries:
                author = SimpleNamespace(id=entry.author_id)
                readers_card = await render_template("live/card.html", entry=entry, viewer=None)
                author_card = await render_template("live/card.html", entry=entry, viewer=author)
                cards[entry.id] = (readers_card.strip(), author_card.strip())
        return cards

    return render


def make_broker(settings: Settings) -> Broker:
    return (
        RedisBroker(settings.redis_url, settings.redis_prefix)
        if settings.redis_url
        else MemoryBroker()
    )


async def prune_periodically(database: Database, retention_days: int) -> None:
    await asyncio.sleep(PRUNE_FIRST_AFTER)  # not in the rush of start-up
    while True:
        try:
            async with database.transaction() as session:
                removed = await events.prune(session, events.retention_cutoff(retention_days))
            if removed:
                logger.info("pruned %d live events older than %d days", removed, retention_days)
        except Exception:
            logger.exception("could not prune live events")
        await asyncio.sleep(PRUNE_EVERY)


def _on_sigterm(hub: Hub) -> None:
    """Close websockets with 1001 first, then let hypercorn's own handler (if any) run: it
    would otherwise wait its graceful timeout and then cancel them with 1011."""
    loop = asyncio.get_running_loop()
    previous: Any = getattr(loop, "_signal_handlers", {}).get(signal.SIGTERM)

    def handle() -> None:
        hub.going_away()
        if previous is not None:
            previous._run()

    loop.add_signal_handler(signal.SIGTERM, handle)


def _hypercorn_shutdown_event() -> ProcessEvent | None:
    """The event hypercorn's parent process sets on SIGTERM, in a worker it spawned.

    The ``hypercorn`` command always runs the app in spawned workers (``workers = 1``
    too). Only the parent gets a SIGTERM sent to its pid (``kill``, docker, kubernetes);
    the worker polls this event, then waits ``graceful_timeout`` for open connections
    before the app hears of it, and cancels the websockets with 1011. hypercorn hands the
    event to its worker as a keyword argument: reading it is the only way to close them
    with 1001 first. None anywhere else (``hypercorn.asyncio.serve``, tests).
    """
    kwargs = getattr(multiprocessing.current_process(), "_kwargs", None)
    event = kwargs.get("shutdown_event") if isinstance(kwargs, dict) else None
    return event if isinstance(event, ProcessEvent) else None


async def _going_away_on(event: ProcessEvent, hub: Hub) -> None:
    # A process-shared event can only be polled; is_set() holds its lock for an instant.
    while not event.is_set():  # noqa: ASYNC110
        await asyncio.sleep(0.1)  # as often as hypercorn itself looks
    hub.going_away()
    _end_ping_loops()


def _end_ping_loops() -> None:
    """The sockets are closing: end hypercorn's ping loop of each.

    hypercorn 0.18 keeps a websocket's connection open until its ping loop wakes from its
    ``websocket_ping_interval`` sleep, even after the socket closed, so every shutdown
    waited out ``graceful_timeout``. Without those sleeps it ends as soon as the requests
    in flight are answered. A private detail of hypercorn, like the shutdown event above:
    tests/production/test_graceful_restart.py fails if it stops working.
    """
    for task in asyncio.all_tasks():
        if getattr(task.get_coro(), "__qualname__", None) == HYPERCORN_PING_LOOP:
            task.cancel()


def init_app(app: Quart, database: Database, settings: Settings) -> Hub:
    hub = Hub(
        database, make_broker(settings), card_renderer(app, database), settings.live_queue_size
    )
    app.extensions["live_hub"] = hub
    app.register_blueprint(blueprint)
    app.asgi_app = SendThrough(app.asgi_app)  # type: ignore[method-assign]

    # A while_serving generator starts after the database opens (before_serving) and
    # stops before it closes (after_serving): the hub never reads a closed engine.
    @app.while_serving
    async def _serve() -> AsyncGenerator[None, None]:
        await hub.start()
        pruner = asyncio.create_task(
            prune_periodically(database, settings.events_retention_days), name="live-prune"
        )
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            _on_sigterm(hub)
        background = [pruner]
        if (shutdown_event := _hypercorn_shutdown_event()) is not None:
            background.append(
                asyncio.create_task(_going_away_on(shutdown_event, hub), name="live-shutdown")
            )
        yield
        hub.going_away()
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await hub.stop()

    return hub
