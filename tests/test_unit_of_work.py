"""A write transaction announces the live events it wrote: once, after its commit, and
never when it rolls back. Stores record events; nobody else has to remember to tell."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest
from sqlalchemy import func, select

from quartapp.db import Database
from quartapp.live import events
from quartapp.models import Event
from tests.database import TestDatabase


class Announcements:
    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.rows_seen_by_others: list[int] = []
        self.database: Database | None = None

    async def __call__(self, written: Sequence[Event]) -> None:
        self.calls.append([event.kind for event in written])
        assert self.database is not None
        async with self.database.reader() as other:  # committed: any reader sees them
            self.rows_seen_by_others.append(await other.scalar(select(func.count(Event.seq))) or 0)


@pytest.fixture
async def announced(test_database: TestDatabase) -> AsyncIterator[tuple[Database, Announcements]]:
    announcements = Announcements()
    database = Database(test_database.url, announce=announcements)
    announcements.database = database
    await database.open()
    try:
        yield database, announcements
    finally:
        await database.close()


async def test_events_are_announced_once_after_the_commit(
    announced: tuple[Database, Announcements],
) -> None:
    database, announcements = announced
    async with database.transaction() as session:
        await events.record(session, events.SESSIONS, 1)
        await events.record(session, events.SESSIONS, 2)
        assert announcements.calls == []  # not before the commit
    assert announcements.calls == [[events.SESSIONS, events.SESSIONS]]
    assert announcements.rows_seen_by_others == [2]


async def record_then_fail(database: Database) -> None:
    async with database.transaction() as session:
        await events.record(session, events.SESSIONS, 1)
        raise RuntimeError("changed my mind")


async def test_a_rolled_back_transaction_announces_nothing(
    announced: tuple[Database, Announcements],
) -> None:
    database, announcements = announced
    with pytest.raises(RuntimeError, match="changed my mind"):
        await record_then_fail(database)
    async with database.transaction() as session:
        pass  # a later transaction without events
    assert announcements.calls == []
    async with database.reader() as session:
        assert await session.scalar(select(func.count(Event.seq))) == 0


async def test_each_transaction_announces_only_its_own_events(
    announced: tuple[Database, Announcements],
) -> None:
    database, announcements = announced
    for author_id in (1, 2):
        async with database.transaction() as session:
            await events.record(session, events.SESSIONS, author_id)
    assert announcements.calls == [[events.SESSIONS], [events.SESSIONS]]
