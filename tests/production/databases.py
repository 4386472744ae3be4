"""Databases for the production tests: a SQLite file, or a fresh PostgreSQL database.

Each is migrated the way an operator does it (``python -m quartapp db upgrade``), read
back directly by the test (not through the app under test), and checked for integrity.
PostgreSQL is used when ``TEST_DATABASE_URL`` (``postgresql+asyncpg://...``) is set: the
test then creates a database of its own on that server and drops it at the end.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from tests.live.servers import BASE_ENVIRONMENT, PROJECT_ROOT

POSTGRES_URL = os.environ.get("TEST_DATABASE_URL", "")
MIGRATE_TIMEOUT = 120.0  # seconds for `db upgrade` on a loaded machine
# Tables with an integer key drawn from a sequence on PostgreSQL: (table, key column).
SEQUENCED = (("users", "id"), ("entries", "id"), ("login_sessions", "id"), ("events", "seq"))


def backends() -> list[str]:
    """SQLite always; PostgreSQL too when the suite is pointed at one."""
    return ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]


@dataclass(frozen=True)
class EntryRow:
    id: int
    author: str
    body: str
    body_html: str


@dataclass(frozen=True)
class EventRow:
    seq: int
    kind: str
    entry_id: int | None
    author_id: int
    public_after: bool


@dataclass
class ScratchDatabase:
    """A migrated database the servers use (``url``) and the test reads."""

    backend: str
    url: str

    @asynccontextmanager
    async def _engine(self) -> AsyncIterator[AsyncEngine]:
        engine = create_async_engine(self.url, poolclass=NullPool)
        try:
            yield engine
        finally:
            await engine.dispose()

    async def entries(self) -> list[EntryRow]:
        query = text(
            "SELECT entries.id, users.username, entries.body, entries.body_html"
            " FROM entries JOIN users ON users.id = entries.author_id ORDER BY entries.id"
        )
        async with self._engine() as engine, engine.connect() as connection:
            return [EntryRow(*row) for row in (await connection.execute(query)).all()]

    async def entry_authors(self) -> dict[int, int]:
        """Every entry's author id, joined or not (an orphan would show up here)."""
        async with self._engine() as engine, engine.connect() as connection:
            rows = (await connection.execute(text("SELECT id, author_id FROM entries"))).all()
        return {entry_id: author_id for entry_id, author_id in rows}

    async def events(self) -> list[EventRow]:
        query = text("SELECT seq, kind, entry_id, author_id, public_after FROM events ORDER BY seq")
        async with self._engine() as engine, engine.connect() as connection:
            return [
                EventRow(seq, kind, entry_id, author_id, bool(public_after))
                for seq, kind, entry_id, author_id, public_after in (
                    await connection.execute(query)
                ).all()
            ]

    async def event_problems(self) -> list[str]:
        """Each entry has exactly one ``created`` event, by its author, and each such event
        an entry: written in one transaction, they exist together or not at all."""
        authors = await self.entry_authors()
        events = await self.events()
        created = [event for event in events if event.kind == "created"]
        per_entry = Counter(event.entry_id for event in created)
        problems = [
            f"events nobody caused: {kind}"
            for kind in {event.kind for event in events} - {"created", "sessions"}
        ]
        if without := sorted(set(authors) - per_entry.keys()):
            problems.append(f"entries without their event: {without[:10]}")
        if orphans := sorted(str(entry_id) for entry_id in per_entry.keys() - set(authors)):
            problems.append(f"events of entries that do not exist: {orphans[:10]}")
        if twice := [entry_id for entry_id, count in per_entry.items() if count > 1]:
            problems.append(f"entries with several created events: {twice[:10]}")
        if wrong := [
            e.seq for e in created if e.entry_id in authors and authors[e.entry_id] != e.author_id
        ]:
            problems.append(f"events naming another author: {wrong[:10]}")
        if private := [e.seq for e in created if not e.public_after]:
            problems.append(f"public entries whose event says private: {private[:10]}")
        return problems

    async def integrity_problems(self) -> list[str]:
        """What the database itself finds wrong with its files, keys and sequences."""
        if self.backend == "sqlite":
            return await self._sqlite_problems()
        return await self._postgres_problems()

    async def _sqlite_problems(self) -> list[str]:
        async with self._engine() as engine, engine.connect() as connection:
            integrity = [
                row[0] for row in (await connection.execute(text("PRAGMA integrity_check")))
            ]
            foreign = (await connection.execute(text("PRAGMA foreign_key_check"))).all()
        problems = [] if integrity == ["ok"] else [f"integrity_check: {integrity}"]
        problems += [f"foreign_key_check: {tuple(row)}" for row in foreign]
        return problems

    async def _postgres_problems(self) -> list[str]:
        problems: list[str] = []
        async with self._engine() as engine, engine.connect() as connection:
            # amcheck verifies each B-tree index against its own invariants and its table.
            await connection.execute(text("CREATE EXTENSION IF NOT EXISTS amcheck"))
            indexes = (
                await connection.execute(
                    text(
                        "SELECT c.relname FROM pg_index i"
                        " JOIN pg_class c ON c.oid = i.indexrelid"
                        " JOIN pg_class t ON t.oid = i.indrelid"
                        " JOIN pg_am am ON am.oid = c.relam"
                        " WHERE am.amname = 'btree' AND t.relnamespace = 'public'::regnamespace"
                    )
                )
            ).scalars()
            for index in indexes:
                await connection.execute(
                    text("SELECT bt_index_check(CAST(:index AS regclass), true)"), {"index": index}
                )
            invalid = (
                await connection.execute(
                    text("SELECT indexrelid::regclass FROM pg_index WHERE NOT indisvalid")
                )
            ).scalars()
            problems += [f"invalid index {name}" for name in invalid]
            for table, column in SEQUENCED:
                problems += await _sequence_problems(connection, table, column)
            await connection.commit()
        return problems


async def _sequence_problems(connection: AsyncConnection, table: str, column: str) -> list[str]:
    """A sequence behind its column's largest value would hand out a used id next."""
    sequence = await connection.scalar(
        text("SELECT pg_get_serial_sequence(:table, :column)"), {"table": table, "column": column}
    )
    if sequence is None:
        return [f"{table}.{column} has no sequence"]
    last_value, is_called = (
        await connection.execute(text(f"SELECT last_value, is_called FROM {sequence}"))  # noqa: S608 - a name from the catalog
    ).one()
    largest = await connection.scalar(text(f"SELECT max({column}) FROM {table}"))  # noqa: S608 - our constants
    issued = last_value if is_called else last_value - 1
    if largest is not None and issued < largest:
        return [f"{sequence} issued up to {issued} but {table}.{column} holds {largest}"]
    return []


def migrate(url: str, instance_path: Path) -> None:
    """``python -m quartapp db upgrade``, as the operator runs it before starting."""
    environment = {
        **os.environ,
        **BASE_ENVIRONMENT,
        "DATABASE_URL": url,
        "INSTANCE_PATH": str(instance_path),
    }
    finished = subprocess.run(  # our own interpreter and arguments
        [sys.executable, "-m", "quartapp", "db", "upgrade"],
        cwd=PROJECT_ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=MIGRATE_TIMEOUT,
        check=False,
    )
    assert finished.returncode == 0, f"db upgrade failed:\n{finished.stdout}{finished.stderr}"


@asynccontextmanager
async def provisioned(backend: str, tmp_path: Path) -> AsyncIterator[ScratchDatabase]:
    """A freshly migrated database of the given kind, removed afterwards."""
    instance_path = tmp_path / "instance"
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'journal.db'}"
        migrate(url, instance_path)
        yield ScratchDatabase(backend, url)
        return
    async with _fresh_postgres_database() as url:
        migrate(url, instance_path)
        yield ScratchDatabase(backend, url)


@asynccontextmanager
async def _fresh_postgres_database() -> AsyncIterator[str]:
    server_url = make_url(POSTGRES_URL)
    if server_url.drivername != "postgresql+asyncpg":
        pytest.fail(
            f"TEST_DATABASE_URL must be postgresql+asyncpg://..., not {server_url.drivername}"
        )
    name = f"qa_crash_{secrets.token_hex(6)}"
    # CREATE/DROP DATABASE cannot run in a transaction: AUTOCOMMIT.
    admin = create_async_engine(server_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield server_url.set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as connection:
                await connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()
