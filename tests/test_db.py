"""The app's connections: SQLite's pragmas and BEGIN IMMEDIATE writes; cascades, UTC times."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from quart import Quart
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError, StatementError

from quartapp.db import Database
from quartapp.models import Entry
from quartapp.services import services_of
from tests.database import TestDatabase
from tests.helpers import AuthActions
from tests.test_security import second_user


def database_of(app: Quart) -> Database:
    database: Database = services_of(app).database
    return database


def outside_connection(path: Path) -> sqlite3.Connection:
    """Another process's view of the file, with a short wait for locks."""
    return sqlite3.connect(path, timeout=0.1, isolation_level=None)


@pytest.mark.sqlite_only("PRAGMAs are SQLite's")
@pytest.mark.parametrize("use", ["reader", "transaction"])
async def test_pragmas_are_in_force_on_app_connections(app: Quart, use: str) -> None:
    database = database_of(app)
    expected = {"journal_mode": "wal", "foreign_keys": 1, "busy_timeout": 5000, "synchronous": 2}
    if use == "reader":
        async with database.reader() as session:
            found = {name: await session.scalar(text(f"PRAGMA {name}")) for name in expected}
    else:
        async with database.transaction() as session:
            found = {name: await session.scalar(text(f"PRAGMA {name}")) for name in expected}
    assert found == expected


@pytest.mark.sqlite_only("BEGIN IMMEDIATE and SQLite's one write lock")
async def test_a_write_transaction_holds_the_write_lock_from_its_start(
    app: Quart, database_path: Path
) -> None:
    """BEGIN IMMEDIATE: the lock is taken at BEGIN, before the first write (or read)."""
    database = database_of(app)
    other = outside_connection(database_path)
    try:
        async with database.transaction() as session:
            await session.execute(text("SELECT 1"))  # touches no table
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            assert other.execute("SELECT count(*) FROM users").fetchone() == (0,)
        other.execute("BEGIN IMMEDIATE")  # free again once the transaction ends
        other.execute("ROLLBACK")
    finally:
        other.close()


@pytest.mark.sqlite_only("SQLite serializes writers; PostgreSQL locks rows")
async def test_a_second_app_writer_waits_instead_of_failing(app: Quart) -> None:
    database = database_of(app)
    order: list[str] = []

    async def second_writer() -> None:
        async with database.transaction() as session:
            await session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE happens here
            order.append("second began")

    async with database.transaction() as session:
        await session.execute(text("SELECT 1"))
        waiting = asyncio.create_task(second_writer())
        await asyncio.sleep(0.2)
        assert order == []  # blocked on the lock, not failed
        async with database.reader() as reader:  # plain reads go on meanwhile
            assert await reader.scalar(text("SELECT count(*) FROM entries")) == 0
        order.append("first done")
    await asyncio.wait_for(waiting, timeout=5)
    assert order == ["first done", "second began"]


@pytest.mark.sqlite_only("SQLite's one write lock")
async def test_reads_do_not_take_the_write_lock(app: Quart, database_path: Path) -> None:
    database = database_of(app)
    other = outside_connection(database_path)
    try:
        async with database.reader() as session, session.begin():
            await session.execute(text("SELECT count(*) FROM users"))
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
    finally:
        other.close()


async def test_each_read_sees_the_newest_commit(app: Quart, database_path: Path) -> None:
    """Reads run without BEGIN on SQLite, as on PostgreSQL's default READ COMMITTED: a
    request's later statement sees what committed after its first (in one snapshot it
    would still count none). Readers cost no BEGIN and hold no snapshot open."""
    database = database_of(app)
    other = outside_connection(database_path)
    try:
        async with database.reader() as session:
            assert await session.scalar(text("SELECT count(*) FROM users")) == 0
            other.execute(
                "INSERT INTO users (username, username_key, email, email_key, password_hash,"
                " about, created_at) VALUES ('zoe', 'zoe', 'z@example.com', 'z@example.com',"
                " 'x', '', '2026-01-01 00:00:00')"
            )
            assert await session.scalar(text("SELECT count(*) FROM users")) == 1
    finally:
        other.close()


async def test_a_failed_transaction_is_rolled_back(
    app: Quart, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    await auth.post_entry("kept")

    async def delete_then_fail() -> None:
        async with database_of(app).transaction() as session:
            await session.execute(text("DELETE FROM entries"))
            raise RuntimeError("changed my mind")

    with pytest.raises(RuntimeError):
        await delete_then_fail()
    assert test_database.count("entries") == 1


async def test_deleting_a_user_cascades(
    app: Quart, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    await auth.post_entry("one")
    await auth.post_entry("two", visibility="private")
    _, bob = await second_user(app, "bob")
    await bob.post_entry("bob's")
    assert test_database.count("login_sessions") == 2

    async with database_of(app).transaction() as session:
        await session.execute(text("DELETE FROM users WHERE username = 'alice'"))

    assert test_database.count("users") == 1
    assert test_database.count("entries") == 1
    assert test_database.count("login_sessions") == 1
    assert (await auth.client.get("/account")).status_code == 303  # alice's cookie is dead


async def test_foreign_keys_are_enforced(app: Quart) -> None:
    async def add_orphan() -> None:
        async with database_of(app).transaction() as session:
            session.add(Entry(author_id=12345, title="", body="x", body_html="x"))

    with pytest.raises(IntegrityError, match=r"(?i)foreign key"):
        await add_orphan()


async def test_aware_datetimes_are_stored_as_utc(
    app: Quart, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("x")
    two_hours_east = timezone(timedelta(hours=2))
    async with database_of(app).transaction() as session:
        entry = await session.get(Entry, entry_id)
        assert entry is not None
        entry.updated_at = datetime(2020, 1, 1, 12, 0, tzinfo=two_hours_east)
    raw = test_database.scalar("SELECT updated_at FROM entries WHERE id = :id", id=entry_id)
    assert test_database.timestamp(raw) == datetime(2020, 1, 1, 10, 0, tzinfo=UTC)
    async with database_of(app).reader() as session:
        entry = await session.get(Entry, entry_id)
    assert entry is not None
    assert entry.updated_at == datetime(2020, 1, 1, 10, 0, tzinfo=UTC)
    assert entry.updated_at.tzinfo is UTC


async def test_naive_datetimes_are_refused(app: Quart, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("x")

    async def store_naive_time() -> None:
        async with database_of(app).transaction() as session:
            entry = await session.get(Entry, entry_id)
            assert entry is not None
            entry.updated_at = datetime(2020, 1, 1)

    with pytest.raises(StatementError, match="naive datetimes"):
        await store_naive_time()
