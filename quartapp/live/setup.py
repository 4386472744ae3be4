"""Wiring the live hub into an app: its cards, its lifecycle, and SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator
from types import SimpleNamespace

from quart import Quart, render_template

from quartapp.config import Settings
from quartapp.db import Database
from quartapp.journal import store as journal_store
from quartapp.live import events, shutdown
from quartapp.live.broker import Broker, MemoryBroker, RedisBroker
from quartapp.live.hub import Hub, RenderCards
from quartapp.live.routes import SendThrough, blueprint

logger = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds
PRUNE_FIRST_AFTER = 60.0


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
        async with shutdown.going_away_on_shutdown(hub):
            yield
        hub.going_away()
        pruner.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await pruner
        await hub.stop()

    return hub
