"""Deleting old live events: a page older than the retention reloads instead of replaying."""

from __future__ import annotations

import asyncio
import logging

from quartapp.db import Database
from quartapp.live import events

logger = logging.getLogger(__name__)

PRUNE_EVERY = 3600.0  # seconds
PRUNE_FIRST_AFTER = 60.0


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
