"""The app's SQLite connections: one trip to aiosqlite's thread per statement, none for a
COMMIT or ROLLBACK with no transaction open, and nothing lost on the way."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, cast

import aiosqlite
import pytest
from quart import Quart
from sqlalchemy import event, func, insert, select, text, update
from sqlalchemy.exc import IntegrityError

from quartapp.db import Database
from quartapp.models import User
from quartapp.services import services_of
from tests.database import TestDatabase


@pytest.fixture(autouse=True)
def sqlite_only(database_path: Path) -> None:
    """Tests of the app's SQLite connections: skipped on PostgreSQL."""


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The name of every function sent to an aiosqlite thread while the test runs."""
    sent: list[str] = []
    real = cast(Callable[..., Awaitable[Any]], aiosqlite.Connection._execute)

    async def counted(
        self: aiosqlite.Connection, fn: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> Any:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await real(self, fn, *args, **kwargs)

    monkeypatch.setattr(aiosqlite.Connection, "_execute", counted)
    return sent


def database_of(app: Quart) -> Database:
    database: Database = services_of(app).database
    return database


def user_row(n: int) -> dict[str, Any]:
    return {
        "username": f"user{n}",
        "username_key": f"user{n}",
        "email": f"user{n}@example.com",
        "email_key": f"user{n}@example.com",
        "password_hash": "x",
        "about": "",
    }


async def test_busy_workers_keep_their_connections(app: Quart) -> None:
    """Twelve requests at once, twice: every connection goes back to the pool and stays
    open (SQLAlchemy's default pool would close seven of them each time, and open them
    again). Counted as closes, not opens: the app's own background readers may take a
    connection at any moment, and then a thirteenth is rightly opened."""
    database = database_of(app)
    closed: list[object] = []
    event.listen(database.engine.sync_engine.pool, "close", lambda *_: closed.append(1))

    async def twelve_at_once() -> None:
        gate = asyncio.Event()

        async def request() -> None:
            async with database.reader() as session:
                await session.execute(text("SELECT 1"))
                await gate.wait()  # all twelve hold a connection at once

        tasks = [asyncio.create_task(request()) for _ in range(12)]
        await asyncio.sleep(0.2)
        gate.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)

    await twelve_at_once()
    await twelve_at_once()
    assert closed == []


async def test_a_read_is_one_trip(app: Quart, trips: list[str]) -> None:
    database = database_of(app)
    async with database.reader() as session:
        await session.execute(text("SELECT 1"))  # the pooled connection is open now
        trips.clear()
        assert await session.scalar(select(func.count()).select_from(User)) == 0
        assert trips == ["_run"]
    assert trips == ["_run"]  # closing a read sends no ROLLBACK: none is open


async def test_a_write_is_begin_statement_commit(app: Quart, trips: list[str]) -> None:
    database = database_of(app)
    async with database.reader() as session:
        await session.execute(text("SELECT 1"))
    trips.clear()
    async with database.transaction() as session:
        await session.execute(insert(User), [user_row(1)])
    assert trips == ["_run", "_run", "commit"]  # BEGIN IMMEDIATE, INSERT, COMMIT


async def test_many_rows_counts_and_errors_come_back(
    app: Quart, test_database: TestDatabase
) -> None:
    database = database_of(app)
    async with database.transaction() as session:
        await session.execute(insert(User), [user_row(n) for n in range(50)])
        result = await session.execute(update(User).where(User.id > 40).values(about="late"))
        assert result.rowcount == 10  # type: ignore[attr-defined]
    assert test_database.count("users") == 50
    with pytest.raises(IntegrityError, match="UNIQUE"):
        async with database.transaction() as session:
            await session.execute(text("INSERT INTO users SELECT * FROM users LIMIT 1"))
    assert test_database.scalar("SELECT count(*) FROM users WHERE about = 'late'") == 10


async def test_an_abandoned_write_is_rolled_back_and_frees_the_lock(
    app: Quart, database_path: Path, test_database: TestDatabase
) -> None:
    """A request cancelled inside a write (its client went away) returns its connection
    with the transaction open: that ROLLBACK must not be skipped."""
    database = database_of(app)
    written = asyncio.Event()

    async def abandoned_write() -> None:
        async with database.transaction() as session:
            await session.execute(insert(User), [user_row(1)])
            written.set()
            await asyncio.sleep(30)

    task = asyncio.create_task(abandoned_write())
    await asyncio.wait_for(written.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    other = sqlite3.connect(database_path, timeout=2, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")  # the lock is free again
        other.execute("ROLLBACK")
    finally:
        other.close()
    assert test_database.count("users") == 0
    async with database.transaction() as session:  # and the connection still works
        await session.execute(insert(User), [user_row(2)])
    assert test_database.count("users") == 1
