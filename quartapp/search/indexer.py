"""The search index and the tags, brought up to date after each write rather than in it.

A write does no search work at all: it records its live event, as every change does
(``live.events``), and the events table, numbered in commit order, is the indexer's queue.
Each worker's ``SearchIndexer`` hears the commit and reads the events after the position
it keeps in ``event_readers``, a batch to a transaction: each entry created or changed is
read as it is then, and its tags and index row are written again (the text's parsing and
the FTS5 or GIN insert are off the request and out of the write's transaction, which on
SQLite holds the one write lock; figures in docs/PERFORMANCE.md). A deleted entry took its
tags and index row with it. Pages that read tags or the index (search, a tag's page and
feed, a profile's tags) first index whatever is still unread (``up_to_date``), so a
writer always finds what they just wrote; every worker polls too, for events another
worker or a command wrote.

Two workers never index the same events: each batch locks the position's row (on
SQLite, the write lock does). An entry read by a batch is as new as the events it read,
or newer: an edit that commits meanwhile has an event after them, which the next batch
reads. Pruning keeps every event the indexer has not read (``live.events.prune``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from sqlalchemy import Select, and_, delete, exists, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quartapp.db import Database, upsert
from quartapp.live import events
from quartapp.models import Entry, EntryTag, Event, EventReader
from quartapp.search.index import Indexed, index_entries, indexed
from quartapp.search.text import reading
from quartapp.tags.parse import tags_in_prose
from quartapp.tasks import BackgroundLoop

logger = logging.getLogger(__name__)

READER = "search"  # its row in event_readers
BATCH = 100  # events read in one transaction: short, so writers wait little for it
POLL_SECONDS = 30.0  # events another worker or a command wrote, at worst this late
# After a wake-up: each batch costs a transaction, and readers index what they need first.
SETTLE_SECONDS = 0.05
_ENTRY_KINDS = (events.CREATED, events.UPDATED)


def _is_postgresql(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _position() -> Select[int]:
    return select(EventReader.seq).where(EventReader.name == READER)


async def index_batch(session: AsyncSession, limit: int, *, wait: bool) -> int | None:
    """Read up to ``limit`` events after the indexer's position, index the entries they
    created or changed as those are now, and move the position past them: how many events
    were read, or None when another indexer holds the position (only when not ``wait``).
    Runs in the caller's write transaction."""
    locked = _position()
    if _is_postgresql(session):
        locked = locked.with_for_update(skip_locked=not wait)
    position = await session.scalar(locked)
    if position is None:
        # No row (a database emptied by hand, or by the tests): from the first event. Two
        # indexers may both find none; the second one's insert waits for the first's.
        missing = upsert(session, EventReader).values(name=READER, seq=0)
        await session.execute(missing.on_conflict_do_nothing(index_elements=["name"]))
        position = await session.scalar(locked)
        if position is None:
            return None  # another indexer has it
    read = (
        await session.execute(
            select(Event.seq, Event.kind, Event.entry_id)
            .where(Event.seq > position)
            .order_by(Event.seq)
            .limit(limit)
        )
    ).all()
    if not read:
        return 0
    entry_ids = sorted(
        {entry_id for _, kind, entry_id in read if kind in _ENTRY_KINDS and entry_id}
    )
    if entry_ids:
        await _index(session, entry_ids)
    await session.execute(
        update(EventReader).where(EventReader.name == READER).values(seq=read[-1][0])
    )
    return len(read)


async def _index(session: AsyncSession, entry_ids: Sequence[int]) -> None:
    """The entries' tags and index rows, written again from what they are now (an entry
    deleted since has neither)."""
    rows = (
        await session.execute(
            select(Entry.id, Entry.title, Entry.body_html).where(Entry.id.in_(entry_ids))
        )
    ).all()
    contents: dict[int, Indexed] = {}
    tags: list[dict[str, object]] = []
    for entry_id, title, body_html in rows:
        seen = reading(body_html)
        found = tags_in_prose(seen.prose)
        contents[entry_id] = indexed(title, seen.text, found)
        tags.extend({"entry_id": entry_id, "tag": tag} for tag in found)
    await session.execute(delete(EntryTag).where(EntryTag.entry_id.in_(entry_ids)))
    if tags:
        await session.execute(insert(EntryTag), tags)
    await index_entries(session, contents)


async def anything_unread(session: AsyncSession, *, entries_only: bool) -> bool:
    """Whether events after the indexer's position wait (``entries_only``: ones that
    create or change an entry). No position yet (see ``index_batch``) is position 0."""
    position = func.coalesce(_position().scalar_subquery(), 0)
    after = Event.seq > position
    if entries_only:
        after = and_(after, Event.kind.in_(_ENTRY_KINDS))
    return bool(await session.scalar(select(exists().where(after))))


class SearchIndexer(BackgroundLoop):
    """One worker's indexer: woken by the entries written through it, polling for the
    rest. A stop lets the batch in hand commit; the rest waits in the events table."""

    task_name = "search-indexer"

    def __init__(
        self, database: Database, *, poll_seconds: float = POLL_SECONDS, batch: int = BATCH
    ) -> None:
        super().__init__(poll_seconds)
        self.database = database
        self.batch = batch

    async def heard(self, written: Sequence[Event]) -> None:
        """``Database.listen``: a transaction committed these events."""
        if any(event.kind in _ENTRY_KINDS for event in written):
            self.wake()

    async def run(self) -> None:
        """Until stopped: read what is unread (at once: the last run may have left some),
        then wait for a write or the next poll."""
        while True:
            try:
                await self.catch_up(background=True)
            except Exception:  # the database is away: the next round tries again
                logger.exception("the search index could not be brought up to date")
            if not await self.next_round():
                return
            await asyncio.sleep(SETTLE_SECONDS)  # a burst of writes: one batch, not many

    async def catch_up(self, *, background: bool = False) -> int:
        """Read every unread event, a batch to a transaction; how many. Looks first: a
        write transaction would take SQLite's write lock for nothing. In the
        ``background``, a position another indexer holds is left to it, and a stop ends
        it between two batches."""
        async with self.database.reader() as session:
            if not await anything_unread(session, entries_only=False):
                return 0
        return await self._read_all(background=background)

    async def up_to_date(self, session: AsyncSession) -> None:
        """Before a page reads the index or the tags: index what is still unread, so every
        committed write is found (usually nothing is: the indexer was woken by the
        write's commit, and this is one short read)."""
        if await anything_unread(session, entries_only=True):
            await self._read_all(background=False)

    async def _read_all(self, *, background: bool) -> int:
        total = 0
        while not (background and self.stopping):
            async with self.database.transaction() as session:
                done = await index_batch(session, self.batch, wait=not background)
            if done is None:  # another worker's indexer is at it
                break
            total += done
            if done < self.batch:
                break
        return total
