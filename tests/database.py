"""The test databases: SQLite files, or PostgreSQL databases when ``TEST_DATABASE_URL`` is set.

Either way the schema comes from the Alembic migrations, once per run, into a template,
and each test starts on a database just like it, so tests never see each other's rows or
ids: a copy of the file on SQLite; on PostgreSQL a clone of the template database, emptied
before each test (see ``PostgresDatabases``). PostgreSQL databases are all named
``qa_pgsuite_<run>_...`` and dropped at the end of the run.

``TestDatabase`` reads and writes that database from outside the app, as another process
would, with a synchronous SQLAlchemy engine (stdlib sqlite3, or psycopg).
"""

from __future__ import annotations

import secrets
import shutil
import sqlite3
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from itertools import count
from pathlib import Path
from typing import Any

from alembic import command
from sqlalchemy import Connection, Engine, create_engine, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.pool import NullPool

from quartapp.db import Database
from quartapp.migrations import alembic_config
from quartapp.models import Base
from quartapp.search.indexer import READER

DATABASE_PREFIX = "qa_pgsuite_"
APP_TABLES = tuple(Base.metadata.tables)
SQLITE_FILES = ("", "-wal", "-shm", "-journal")
# Rows the migrations write, put back as a fresh clone of the template has them.
MIGRATED_ROWS = {
    "event_readers": f"DELETE FROM event_readers; INSERT INTO event_readers VALUES ('{READER}', 0)",  # noqa: S608 - a constant
}


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


def sqlite_rows(path: Path, query: str, *params: Any) -> list[tuple[Any, ...]]:
    """Read a SQLite file directly, with ``?`` parameters (for tests of SQLite itself)."""
    connection = sqlite3.connect(path)
    try:
        return connection.execute(query, params).fetchall()
    finally:
        connection.close()


def _sync_url(url: str) -> URL:
    """The same database through a synchronous driver."""
    parsed = make_url(url)
    driver = "sqlite" if parsed.get_backend_name() == "sqlite" else "postgresql+psycopg"
    return parsed.set(drivername=driver)


# Every page of every table and index of the schema, as the server holds them now.
RAW_PAGES = """
SELECT coalesce(string_agg(get_raw_page(relation, page), ''::bytea), ''::bytea) FROM (
    SELECT oid::regclass::text AS relation,
           generate_series(0, pg_relation_size(oid) / current_setting('block_size')::int - 1)
               ::int AS page
    FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'i')
) AS pages
"""


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[Database]:
    """The app's own ``Database`` on this URL, opened for the block (no app around it)."""
    database = Database(url)
    await database.open()
    try:
        yield database
    finally:
        await database.close()


class TestDatabase:
    """One test's database, seen from outside the app. SQL takes ``:name`` parameters."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = make_url(url).get_backend_name() == "sqlite"
        # No pool: no connection stays open between calls (SQLite locks, DROP DATABASE).
        self._engine: Engine = create_engine(_sync_url(url), poolclass=NullPool)

    @property
    def path(self) -> Path:
        database = make_url(self.url).database
        assert self.is_sqlite, "only a SQLite database is a file"
        assert database
        return Path(database)

    def rows(self, sql: str, **params: Any) -> list[tuple[Any, ...]]:
        with self._engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]

    def dicts(self, sql: str, **params: Any) -> list[dict[str, Any]]:
        with self._engine.connect() as connection:
            return [dict(row) for row in connection.execute(text(sql), params).mappings()]

    def scalar(self, sql: str, **params: Any) -> Any:
        with self._engine.connect() as connection:
            return connection.execute(text(sql), params).scalar_one()

    def execute(self, sql: str, **params: Any) -> None:
        """Run a statement and commit it."""
        with self._engine.begin() as connection:
            connection.execute(text(sql), params)

    def add_writer(self, user_id: int, username: str) -> None:
        """A user row written directly (no password anyone can use), for tests that write
        entries without the app's forms."""
        self.execute(
            "INSERT INTO users (id, username, username_key, email, email_key, password_hash,"
            " about, created_at, default_visibility) VALUES (:id, :name, :name, :email,"
            " :email, 'x', '', '2026-01-01 00:00:00', 'public')",
            id=user_id, name=username, email=f"{username}@example.com",
        )  # fmt: skip

    def execute_many(self, sql: str, rows: list[dict[str, Any]]) -> None:
        """Run a statement once for each row of parameters, in one transaction."""
        with self._engine.begin() as connection:
            connection.execute(text(sql), rows)

    def tables(self) -> set[str]:
        return set(inspect(self._engine).get_table_names())

    @property
    def engine(self) -> Engine:
        return self._engine

    def count(self, table: str) -> int:
        assert table in APP_TABLES, table
        value: int = self.scalar(f"SELECT count(*) FROM {table}")  # noqa: S608 - our names
        return value

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table the app writes, in primary-key order."""
        snapshot = {}
        for name, table in Base.metadata.tables.items():
            order = ", ".join(column.name for column in table.primary_key.columns)
            snapshot[name] = self.rows(f"SELECT * FROM {name} ORDER BY {order}")  # noqa: S608
        return snapshot

    def timestamp(self, raw: Any) -> datetime:
        """A timestamp column's raw value as an aware UTC datetime. SQLite stores the UTC
        wall time as text; PostgreSQL's ``timestamptz`` comes back aware."""
        if self.is_sqlite:
            assert isinstance(raw, str), raw
            parsed = datetime.fromisoformat(raw)
            assert parsed.tzinfo is None, raw  # the UTC wall time, no offset
            return parsed.replace(tzinfo=UTC)
        assert isinstance(raw, datetime), raw
        assert raw.tzinfo is not None, raw
        return raw.astimezone(UTC)

    def time_value(self, moment: datetime) -> Any:
        """A parameter that writes ``moment`` as the app would store it."""
        if self.is_sqlite:
            return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
        return moment

    def stored_bytes(self) -> bytes:
        """What the database holds, deleted rows not yet reused included: on SQLite the
        file and its journals; on PostgreSQL every page of every table and index, read
        through the server's buffers (pageinspect), which may also hold rows that earlier
        tests deleted."""
        if self.is_sqlite:
            files = [self.path.with_name(self.path.name + suffix) for suffix in SQLITE_FILES]
            return b"".join(path.read_bytes() for path in files if path.exists())
        value: bytes = self.scalar(RAW_PAGES)
        return value

    def dispose(self) -> None:
        self._engine.dispose()


def migrate(url: str) -> None:
    command.upgrade(alembic_config(url, configure_logging=False), "head")


class SQLiteDatabases:
    """A migrated template file, copied for each test."""

    def __init__(self, folder: Path) -> None:
        self.template = folder / "template.db"
        migrate(sqlite_url(self.template))

    def empty(self, folder: Path) -> str:
        """No file yet, in folders that do not exist yet either: migrating makes them."""
        return sqlite_url(folder / "nested" / "folder" / "fresh.db")

    def for_test(self, folder: Path) -> str:
        path = folder / "journal.db"
        shutil.copyfile(self.template, path)
        return sqlite_url(path)

    def clone(self, folder: Path) -> str:
        """A copy for a fixture that outlives one test."""
        return self.for_test(folder)

    def release(self, url: str) -> None:
        """The file goes with the test's temporary folder."""

    def close(self) -> None:
        """The template goes with pytest's temporary folders."""


# What a schema is made of (tables, columns, indexes, constraints, sequences): a test that
# changed any of it leaves a database the next test must not get.
SCHEMA_FINGERPRINT = """
SELECT md5(coalesce(string_agg(part, ',' ORDER BY part), '')) FROM (
    SELECT concat_ws(':', c.relkind, c.relname, a.attname,
                     format_type(a.atttypid, a.atttypmod), a.attnotnull) AS part
    FROM pg_class c LEFT JOIN pg_attribute a
        ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
    WHERE c.relnamespace = current_schema()::regnamespace
    UNION ALL
    SELECT concat_ws(':', conname, pg_get_constraintdef(oid)) FROM pg_constraint
    WHERE connamespace = current_schema()::regnamespace
) AS parts
"""


RESTART_SEQUENCES = """
SELECT setval(oid::regclass, 1, false) FROM pg_class
WHERE relkind = 'S' AND relnamespace = current_schema()::regnamespace
"""


class PostgresDatabases:
    """Databases of one run on the server ``TEST_DATABASE_URL`` names (its database is
    only where the run connects to create and drop its own).

    Cloning a database takes 25 ms on an idle machine but up to a second on a busy one, so
    the tests share one clone of the template, emptied before each test, its sequences
    restarted (ids start at 1 again, as in a fresh copy). When a test changed
    the schema itself (its fingerprint differs from the template's), the next test gets a
    fresh clone instead.
    """

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(server_url)
        if self.server_url.get_backend_name() != "postgresql":
            raise ValueError(
                f"TEST_DATABASE_URL must be postgresql+asyncpg://..., not {server_url}"
            )
        self.prefix = f"{DATABASE_PREFIX}{secrets.token_hex(4)}_"
        self._numbers = count(1)
        self._admin = create_engine(
            _sync_url(server_url), poolclass=NullPool, isolation_level="AUTOCOMMIT"
        )
        self.template = self._create("template")
        migrate(self._url(self.template))
        with self._connection(self.template) as connection, connection.begin():
            # For TestDatabase.stored_bytes (needs a superuser, as CREATE DATABASE nearly does).
            connection.exec_driver_sql("CREATE EXTENSION IF NOT EXISTS pageinspect")
        self._schema = self._fingerprint(self.template)
        self._shared: str | None = None

    def _url(self, name: str) -> str:
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    @contextmanager
    def _connection(self, database: str | None = None) -> Iterator[Connection]:
        engine = self._admin
        if database is not None:
            engine = create_engine(_sync_url(self._url(database)), poolclass=NullPool)
        try:
            with engine.connect() as connection:
                yield connection
        finally:
            if database is not None:
                engine.dispose()

    def _create(self, suffix: str, template: str = "template0") -> str:
        name = f"{self.prefix}{suffix}"
        with self._connection() as connection:
            # Names are ours (prefix, hex and numbers): safe to put into the statement.
            connection.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return name

    def _drop(self, name: str) -> None:
        assert name.startswith(self.prefix), name
        with self._connection() as connection:
            # FORCE: a connection a test left behind must not keep the database alive.
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _fingerprint(self, database: str) -> str:
        with self._connection(database) as connection:
            value: str = connection.exec_driver_sql(SCHEMA_FINGERPRINT).scalar_one()
            return value

    def _emptied(self, database: str) -> None:
        """Every row deleted and every sequence back at 1. DELETE, not TRUNCATE: a test
        leaves a few rows, and TRUNCATE makes new files for every table and index (10x
        slower here).

        A connection an earlier test left open (a task cancelled inside a transaction
        leaves one behind, holding its row locks) is ended first, with a warning naming
        it: left alone, its locks made every later test wait out the lock timeout, and a
        whole CI run time out."""
        self._end_leftover_connections(database)
        with self._connection(database) as connection, connection.begin():
            # A lock still held by something a test left running fails here, and says so.
            connection.exec_driver_sql("SET LOCAL lock_timeout = '10s'")
            connection.exec_driver_sql("SET LOCAL synchronous_commit = off")  # only tests
            for table in reversed(Base.metadata.sorted_tables):
                if table.name in MIGRATED_ROWS:
                    connection.exec_driver_sql(MIGRATED_ROWS[table.name])
                else:
                    connection.execute(table.delete())
            connection.exec_driver_sql(RESTART_SEQUENCES)

    def _end_leftover_connections(self, database: str) -> None:
        with self._connection() as connection:
            ended = connection.execute(
                text(
                    "SELECT state, left(query, 200), pg_terminate_backend(pid) "
                    "FROM pg_stat_activity WHERE datname = :database "
                    "AND pid <> pg_backend_pid()"
                ),
                {"database": database},
            ).all()
        for state, query, _ in ended:
            if state == "idle":
                continue  # a pool's spare connection: harmless, and ended all the same
            warnings.warn(
                f"an earlier test left a connection open ({state}: {query!r}); ended it",
                stacklevel=2,
            )

    def empty(self, folder: Path) -> str:
        return self._url(self._create(str(next(self._numbers))))

    def for_test(self, folder: Path) -> str:
        """The run's shared database, as fresh as a new clone of the template."""
        if self._shared is not None and self._fingerprint(self._shared) != self._schema:
            self._drop(self._shared)
            self._shared = None
        if self._shared is None:
            self._shared = self._create(str(next(self._numbers)), self.template)
        else:
            self._emptied(self._shared)
        return self._url(self._shared)

    def clone(self, folder: Path) -> str:
        """A database of its own, for a fixture that outlives one test (a server shared by
        a module's tests): the shared one is emptied before each test."""
        return self._url(self._create(str(next(self._numbers)), self.template))

    def release(self, url: str) -> None:
        """Drop a database made by ``empty`` or ``clone``; the shared one waits for the next
        test."""
        name = make_url(url).database
        assert name is not None
        if name != self._shared:
            self._drop(name)

    def close(self) -> None:
        """Drop every database of this run, the template last."""
        with self._connection() as connection:
            names = connection.execute(
                text("SELECT datname FROM pg_database WHERE starts_with(datname, :prefix)"),
                {"prefix": self.prefix},
            ).scalars()
            for name in sorted(names, key=lambda name: name == self.template):
                connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._admin.dispose()
