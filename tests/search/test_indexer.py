"""The search index and the tags brought up to date after each write
(quartapp/search/indexer.py), on a real migrated database: a write does no search work,
the indexer reads its event once it is committed and the entry as it is then, and no
change is missed when a write and an indexer meet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import text

from quartapp.db import Database
from quartapp.journal import store
from quartapp.journal.store import EntryContent
from quartapp.live import events
from quartapp.search.index import NEWEST, Filters, search_ids
from quartapp.search.indexer import SearchIndexer, anything_unread, index_batch
from quartapp.search.text import parse_query
from quartapp.services import services_of
from tests.database import TestDatabase, opened
from tests.helpers import AuthActions


@pytest.fixture
async def database(test_database: TestDatabase) -> AsyncIterator[Database]:
    test_database.add_writer(1, "ann")
    async with opened(test_database.url) as database:
        yield database


def content(words: str) -> EntryContent:
    return EntryContent("", words, "public", f"<p>{words}</p>")


async def write(database: Database, words: str) -> int:
    async with database.transaction() as session:
        return (await store.create_entry(session, 1, content(words))).id


async def found(database: Database, typed: str) -> list[int]:
    async with database.reader() as session:
        return await search_ids(
            session, parse_query(typed), viewer_id=None, filters=Filters(), order=NEWEST,
            limit=1000, offset=0,
        )  # fmt: skip


async def counts(database: Database) -> tuple[int, int, bool]:
    """(entries in the index, tags kept, whether events wait for the indexer)"""
    async with database.reader() as session:
        indexed = await session.scalar(text("SELECT count(*) FROM entry_search"))
        tags = await session.scalar(text("SELECT count(*) FROM entry_tags"))
        unread = await anything_unread(session, entries_only=False)
    return int(indexed or 0), int(tags or 0), unread


async def test_a_write_does_no_search_work_and_the_indexer_reads_it_after(
    database: Database,
) -> None:
    entry_id = await write(database, "a heron by the lock #birds")
    assert await counts(database) == (0, 0, True)  # nothing of the index in the write
    assert await found(database, "heron") == []

    assert await SearchIndexer(database).catch_up() == 1  # one event read
    assert await counts(database) == (1, 1, False)
    assert await found(database, "heron") == [entry_id]

    async with database.transaction() as session:
        await store.update_entry(session, entry_id, content("a kingfisher instead"))
    assert await SearchIndexer(database).catch_up() == 1
    assert await counts(database) == (1, 0, False)  # the tag went with its word
    assert await found(database, "heron") == []
    assert await found(database, "kingfisher") == [entry_id]

    async with database.transaction() as session:
        await store.delete_entry(session, entry_id)
    assert await counts(database) == (0, 0, True)  # deleted with the entry, at once
    assert await SearchIndexer(database).catch_up() == 1


async def test_a_change_committed_while_an_indexer_reads_is_indexed_again(
    database: Database,
) -> None:
    """The indexer has read the entry as it was; an edit commits before the indexer does
    (on PostgreSQL at once; on SQLite once the indexer lets go of the write lock). The
    edit's event comes after the ones the indexer read, so the next batch reads it."""
    entry_id = await write(database, "first words")

    async def edit() -> None:
        async with database.transaction() as session:
            await store.update_entry(session, entry_id, content("second words"))

    async with database.transaction() as session:
        assert await index_batch(session, 50, wait=True) == 1  # read "first words"
        editing = asyncio.create_task(edit())
        await asyncio.sleep(0.3)
    await asyncio.wait_for(editing, 10)

    assert await counts(database) == (1, 0, True)  # the edit waits to be read
    assert await found(database, "first") == [entry_id]
    assert await SearchIndexer(database).catch_up() == 1
    assert await found(database, "second") == [entry_id]
    assert await found(database, "first") == []


async def test_an_indexer_running_while_an_edit_commits_misses_nothing(
    database: Database,
) -> None:
    """An edit is on its way when an indexer runs: on SQLite the indexer waits for the
    edit's commit; on PostgreSQL it reads the entry as it was and the edit's event
    after, in its next round."""
    entry_id = await write(database, "first words")
    async with database.transaction() as session:
        await store.update_entry(session, entry_id, content("second words"))
        indexing = asyncio.create_task(SearchIndexer(database).catch_up(background=True))
        await asyncio.sleep(0.3)
    await asyncio.wait_for(indexing, 10)
    await SearchIndexer(database).catch_up()
    assert await found(database, "second") == [entry_id]
    assert await found(database, "first") == []


async def test_two_indexers_at_once_read_every_event_once(
    database: Database, test_database: TestDatabase
) -> None:
    ids = [await write(database, f"entry number{n} of many") for n in range(130)]
    async with opened(test_database.url) as other:
        indexers = [SearchIndexer(database, batch=20), SearchIndexer(other, batch=20)]
        done = await asyncio.gather(*(i.catch_up(background=True) for i in indexers))
    assert sum(done) == 130
    assert await counts(database) == (130, 0, False)
    assert await found(database, "many") == ids[::-1]


async def test_without_a_position_the_indexer_starts_at_the_first_event(
    database: Database,
) -> None:
    """A database emptied by hand (or by the tests) loses the position's row."""
    entry_id = await write(database, "a heron")
    async with database.transaction() as session:
        await session.execute(text("DELETE FROM event_readers"))
    assert await counts(database) == (0, 0, True)
    assert await SearchIndexer(database).catch_up() == 1
    assert await found(database, "heron") == [entry_id]
    assert await counts(database) == (1, 0, False)


async def test_pruning_keeps_the_events_the_indexer_has_not_read(
    database: Database, test_database: TestDatabase
) -> None:
    ids = [await write(database, f"word{n}") for n in range(3)]
    years_ago = test_database.time_value(datetime(2020, 1, 1, tzinfo=UTC))
    test_database.execute("UPDATE events SET created_at = :then", then=years_ago)
    async with database.transaction() as session:
        assert await events.prune(session, events.retention_cutoff(7)) == 0
    await SearchIndexer(database).catch_up()
    assert await found(database, "word0") == [ids[0]]
    async with database.transaction() as session:
        assert await events.prune(session, events.retention_cutoff(7)) == 2  # all but the newest


@pytest.mark.background_indexing
async def test_the_running_indexer_indexes_each_write_once_committed(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    """No search needed: the write's commit wakes the worker's indexer (it would
    otherwise look only every POLL_SECONDS, far longer than this test waits)."""
    database = services_of(app).database
    await auth.register_and_login("alice")
    await auth.post_entry("An otter at dawn")
    for _ in range(250):
        if (await counts(database))[0] == 1:
            break
        await asyncio.sleep(0.02)
    assert (await counts(database))[0] == 1
