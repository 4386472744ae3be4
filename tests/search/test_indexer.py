"""The search index brought up to date after each write (quartapp/search/indexer.py), on
a real migrated database: a write only queues its entry, the indexer reads it as it is
once committed, and no change is missed when a write and an indexer meet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from sqlalchemy import func, select, text

from quartapp.db import Database
from quartapp.journal import store
from quartapp.journal.store import EntryContent
from quartapp.models import SearchQueued
from quartapp.search.index import NEWEST, Filters, search_ids
from quartapp.search.indexer import SearchIndexer, index_queued
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


async def counts(database: Database) -> tuple[int, int]:
    """(entries in the index, entries queued for it)"""
    async with database.reader() as session:
        indexed = await session.scalar(text("SELECT count(*) FROM entry_search"))
        queued = await session.scalar(select(func.count()).select_from(SearchQueued))
    return int(indexed or 0), int(queued or 0)


async def test_a_write_queues_its_entry_and_the_indexer_reads_it_after(
    database: Database,
) -> None:
    entry_id = await write(database, "a heron by the lock")
    assert await counts(database) == (0, 1)  # nothing of the index in the write itself
    assert await found(database, "heron") == []

    assert await SearchIndexer(database).catch_up() == 1
    assert await counts(database) == (1, 0)
    assert await found(database, "heron") == [entry_id]

    async with database.transaction() as session:
        await store.update_entry(session, entry_id, content("a kingfisher instead"))
    assert await SearchIndexer(database).catch_up() == 1
    assert await found(database, "heron") == []
    assert await found(database, "kingfisher") == [entry_id]


async def test_a_change_committed_while_an_indexer_reads_is_indexed_again(
    database: Database,
) -> None:
    """The indexer has read the entry as it was; an edit commits before the indexer does.
    The edit waits for the indexer (SQLite's write lock; PostgreSQL's lock on the queued
    row) and queues the entry again, so its new words are indexed too."""
    entry_id = await write(database, "first words")
    editing: asyncio.Task[None] | None = None

    async def edit() -> None:
        async with database.transaction() as session:
            await store.update_entry(session, entry_id, content("second words"))

    async with database.transaction() as session:
        assert await index_queued(session, 50, wait=True) == 1  # read "first words"
        editing = asyncio.create_task(edit())
        await asyncio.sleep(0.3)
        assert not editing.done()  # the edit waits for this transaction
    await asyncio.wait_for(editing, 10)

    assert await counts(database) == (1, 1)  # queued again
    await SearchIndexer(database).catch_up()
    assert await found(database, "second") == [entry_id]
    assert await found(database, "first") == []


async def test_an_indexer_running_while_an_edit_commits_leaves_it_queued(
    database: Database,
) -> None:
    """An entry still queued is edited; an indexer runs before the edit commits. It must
    not take the entry as it was and clear the queue (the edit's words would never be
    indexed): on PostgreSQL the edit's upsert holds the queued row, which the indexer
    skips; on SQLite the indexer waits for the edit's commit."""
    entry_id = await write(database, "first words")
    async with database.transaction() as session:
        await store.update_entry(session, entry_id, content("second words"))
        indexing = asyncio.create_task(SearchIndexer(database).catch_up(background=True))
        await asyncio.sleep(0.3)
    await asyncio.wait_for(indexing, 10)
    await SearchIndexer(database).catch_up()
    assert await found(database, "second") == [entry_id]
    assert await found(database, "first") == []


async def test_two_indexers_at_once_index_everything_once(
    database: Database, test_database: TestDatabase
) -> None:
    ids = [await write(database, f"entry number{n} of many") for n in range(130)]
    async with opened(test_database.url) as other:
        indexers = [SearchIndexer(database, batch=20), SearchIndexer(other, batch=20)]
        done = await asyncio.gather(*(i.catch_up(background=True) for i in indexers))
    assert sum(done) >= 130
    assert await counts(database) == (130, 0)
    assert await found(database, "many") == ids[::-1]


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
        if await counts(database) == (1, 0):
            break
        await asyncio.sleep(0.02)
    assert await counts(database) == (1, 0)
