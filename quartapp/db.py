"""The database engine and sessions of one app.

Reads go through one session per request (``request_session``). Writes go through
``transaction()``, a short session of its own that, on SQLite, starts with
``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes on a stale
snapshot fails at once with "database is locked", ignoring ``busy_timeout``.

On SQLite, reads send no BEGIN: each statement sees the newest commit, as on PostgreSQL's
default READ COMMITTED, so code that is right on one is right on the other. Connections
come from ``sqlite_trips``: one trip to aiosqlite's thread per statement, none for a
COMMIT or ROLLBACK with no transaction open.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from quart import Quart, current_app, g, has_app_context
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from quartapp import sqlite_trips

SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA synchronous=FULL",
)
_BEGIN_OPTION = "quartapp_sqlite_begin"
# SQLite connections kept open per worker. SQLAlchemy's default keeps 5 and closes the 10
# it may open beyond them as soon as they are returned, so a worker serving a dozen
# requests at once opened and closed a connection (a thread, the file, its pragmas) for
# most of them. An idle one costs a thread and its page cache.
SQLITE_POOL_SIZE = 20


class Database:
    """One engine per app, made in ``before_serving`` and disposed in ``after_serving``."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._engine: AsyncEngine | None = None
        self._readers: async_sessionmaker[AsyncSession] | None = None
        self._writers: async_sessionmaker[AsyncSession] | None = None

    @property
    def is_sqlite(self) -> bool:
        return make_url(self.url).get_backend_name() == "sqlite"

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("the database is not open (before_serving has not run)")
        return self._engine

    async def open(self) -> None:
        if self.is_sqlite:
            engine = create_async_engine(
                self.url,
                async_creator=sqlite_trips.connector(self.url),
                pool_size=SQLITE_POOL_SIZE,
            )
            _prepare_sqlite(engine, self.url)
            writer_engine = engine.execution_options(**{_BEGIN_OPTION: "BEGIN IMMEDIATE"})
        else:
            engine = create_async_engine(self.url, pool_pre_ping=True)
            writer_engine = engine
        self._engine = engine
        self._readers = async_sessionmaker(engine, expire_on_commit=False)
        self._writers = async_sessionmaker(writer_engine, expire_on_commit=False)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    def reader(self) -> AsyncSession:
        if self._readers is None:
            raise RuntimeError("the database is not open (before_serving has not run)")
        return self._readers()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write transaction: committed when the block ends, rolled back on error.

        The request's read session gives its connection back first: requests that held
        one connection while waiting for a second stalled the whole pool (until its 30 s
        timeout) once as many wrote at once as it has connections.
        """
        if self._writers is None:
            raise RuntimeError("the database is not open (before_serving has not run)")
        await release_request_session()
        async with self._writers() as session, session.begin():
            yield session


def ensure_sqlite_directory(url: str) -> None:
    """SQLite creates the file, not the folders above it."""
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _prepare_sqlite(engine: AsyncEngine, url: str) -> None:
    ensure_sqlite_directory(url)

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let us emit BEGIN ourselves (pysqlite's own is deferred and lazy).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
        # WAL is a property of the file (the migrations set it); switching is exclusive and
        # two workers doing it at once fail with "database is locked", so only if needed.
        cursor.execute("PRAGMA journal_mode")
        if cursor.fetchone()[0].lower() != "wal":
            cursor.execute("PRAGMA journal_mode=WAL")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        begin = connection.get_execution_options().get(_BEGIN_OPTION)
        if begin:  # writers only
            connection.exec_driver_sql(begin)


def init_app(app: Quart, url: str) -> Database:
    database = Database(url)
    app.extensions["database"] = database

    @app.before_serving
    async def _open() -> None:
        await database.open()

    @app.after_serving
    async def _close() -> None:
        await database.close()

    @app.teardown_appcontext
    async def _close_request_session(_exc: BaseException | None) -> None:
        session = g.pop("db_session", None)
        if session is not None:
            await session.close()

    return database


def get_database() -> Database:
    database: Database = current_app.extensions["database"]
    return database


def request_session() -> AsyncSession:
    """The read session of the current request (or websocket), opened on first use."""
    if "db_session" not in g:
        g.db_session = get_database().reader()
    session: AsyncSession = g.db_session
    return session


async def release_request_session() -> None:
    """End the request's read transaction, returning its connection to the pool. What it
    loaded stays readable, and its next query takes a connection again."""
    session = g.get("db_session") if has_app_context() else None
    if session is not None:
        await session.close()
