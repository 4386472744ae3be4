"""The search index, brought up to date after each write rather than inside it.

A write only queues its entry (``queue``, a one-row upsert in its transaction); after the
commit, the worker's ``SearchIndexer`` hears the write's live event and indexes what is
queued, a batch to a transaction, reading each entry as it is then: the text's parsing and
the FTS5 or GIN insert are off the request and out of the write's transaction (which, on
SQLite, holds the one write lock; figures in docs/PERFORMANCE.md). A search first
indexes whatever is still queued (``up_to_date``), so a writer always finds what they
just wrote; every worker polls too, for entries queued by another worker or a command.

On PostgreSQL two workers index at once without waiting on each other: each takes queued
rows with ``FOR UPDATE SKIP LOCKED``. A write re-queues its entry with an upsert, which
waits for an indexer holding that row; so the entry is indexed again after any change
that committed while an indexer read it.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.db import Database, upsert
from quartapp.live import events
from quartapp.models import Entry, Event, SearchQueued, utcnow
from quartapp.search.index import index_entry, indexed
from quartapp.search.text import reading
from quartapp.tags.parse import tags_in_prose
from quartapp.tasks import BackgroundLoop

logger = logging.getLogger(__name__)

BATCH = 50  # entries indexed in one transaction: short, so writers wait little for it
POLL_SECONDS = 30.0  # entries another worker or a command queued, at worst this late


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def queue(session: AsyncSession, entry_id: int) -> None:
    """Index the entry after this transaction commits, as it will be then."""
    statement = upsert(session, SearchQueued).values(entry_id=entry_id, queued_at=utcnow())
    # An update, not "do nothing": it waits for an indexer that holds the row (see above).
    await session.execute(
        statement.on_conflict_do_update(
            index_elements=["entry_id"], set_={"queued_at": statement.excluded.queued_at}
        )
    )


async def index_queued(session: AsyncSession, limit: int, *, wait: bool) -> int:
    """Index up to ``limit`` queued entries as they are now and take them off the queue;
    how many were taken. ``wait``: for rows another indexer holds, rather than skip them."""
    taken = select(SearchQueued.entry_id).order_by(SearchQueued.entry_id).limit(limit)
    if _is_postgresql(session):
        taken = taken.with_for_update(skip_locked=not wait)
    ids = list((await session.scalars(taken)).all())
    if not ids:
        return 0
    entries = await session.execute(
        select(Entry.id, Entry.title, Entry.body_html).where(Entry.id.in_(ids))
    )
    for entry_id, title, body_html in entries:  # a deleted entry took its words with it
        seen = reading(body_html)
        content = indexed(title, seen.text, tags_in_prose(seen.prose))
        await index_entry(session, entry_id, content, new=False)
    await session.execute(delete(SearchQueued).where(SearchQueued.entry_id.in_(ids)))
    return len(ids)


class SearchIndexer(BackgroundLoop):
    """One worker's indexer: woken by the entries written through it, polling for others.
    A stop lets the batch in hand commit; what is still queued waits in the table."""

    task_name = "search-indexer"

    def __init__(
        self, database: Database, *, poll_seconds: float = POLL_SECONDS, batch: int = BATCH
    ) -> None:
        super().__init__(poll_seconds)
        self.database = database
        self.batch = batch

    async def heard(self, written: Sequence[Event]) -> None:
        """``Database.listen``: a transaction committed these events."""
        if any(event.kind in (events.CREATED, events.UPDATED) for event in written):
            self.wake()

    async def run(self) -> None:
        """Until stopped: index what is queued (at once: a previous run may have left
        some), then wait for a write or the next poll."""
        while True:
            try:
                await self.catch_up(background=True)
            except Exception:  # the database is away: the next round tries again
                logger.exception("the search index could not be brought up to date")
            if not await self.next_round():
                return

    async def catch_up(self, *, background: bool = False) -> int:
        """Index everything queued, a batch to a transaction; how many entries. Looks
        first: a write transaction would take SQLite's write lock for nothing. In the
        ``background``, rows another indexer holds are left to it, and a stop ends it
        between two batches."""
        async with self.database.reader() as session:
            if not await anything_queued(session):
                return 0
        return await self._index_all(background=background)

    async def up_to_date(self, session: AsyncSession) -> None:
        """Before a search: index what is still queued, so every committed write is
        found (usually nothing is: the indexer was woken by the write's commit)."""
        if await anything_queued(session):
            await self._index_all(background=False)

    async def _index_all(self, *, background: bool) -> int:
        total = 0
        while not (background and self.stopping):
            async with self.database.transaction() as session:
                done = await index_queued(session, self.batch, wait=not background)
            total += done
            if done < self.batch:
                break
        return total


async def anything_queued(session: AsyncSession) -> bool:
    return bool(await session.scalar(select(exists().where(SearchQueued.entry_id.is_not(None)))))
