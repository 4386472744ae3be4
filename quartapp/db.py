"""The database engine and sessions of one app.

Reads go through one session per request (``Database.request_session``). Writes go through
``transaction()``, a short session of its own that, on SQLite, starts with
``BEGIN IMMEDIATE``: a deferred transaction that reads and then writes on a stale
snapshot fails at once with "database is locked", ignoring ``busy_timeout``. A worker's
own writers take turns on an ``asyncio.Lock`` before that, so only other processes ever
wait in SQLite's busy handler.

A transaction is also the unit of work that announces changes: the live events a write
adds (``add_event``) are handed to the app's ``announce`` callback (and any other
``listen``-er) once, after the commit succeeds, and never when it rolls back. Stores
write; nobody else has to remember to tell.

On SQLite, reads send no BEGIN: each statement sees the newest commit, as on PostgreSQL's
default READ COMMITTED, so code that is right on one is right on the other. Connections
come from ``sqlite_trips``: one trip to aiosqlite's thread per statement, none for a
COMMIT or ROLLBACK with no transaction open.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from quart import g, has_app_context
from sqlalchemy import event, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from quartapp import sqlite_trips
from quartapp.config import ConfigError
from quartapp.models import Event

SQLITE_PRAGMAS = (
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
    "PRAGMA synchronous=FULL",
)
_BEGIN_OPTION = "quartapp_sqlite_begin"
SEARCH_LANGUAGE = "search_language"  # in every session's info
# SQLite connections kept open per worker. SQLAlchemy's default keeps 5 and closes the 10
# it may open beyond them as soon as they are returned, so a worker serving a dozen
# requests at once opened and closed a connection (a thread, the file, its pragmas) for
# most of them. An idle one costs a thread and its page cache.
SQLITE_POOL_SIZE = 20
_WRITTEN_EVENTS = "quartapp.written_events"  # session.info: this transaction's events
_REQUEST_SESSION = "quartapp_db_session"  # g: the request's read session
_AFTER_COMMIT = "quartapp.after_commit"  # session.info: callbacks once committed

# Told of the events a transaction wrote, after it committed.
Announce = Callable[[Sequence[Event]], Awaitable[None]]


async def _announce_nothing(_events: Sequence[Event]) -> None:
    """For a database used outside the app (commands, benchmarks): nobody listens."""


def upsert(session: AsyncSession, model: type[Any]) -> Any:
    """``INSERT`` into ``model``'s table with ``ON CONFLICT`` clauses, in the dialect of the
    session's database (both have ``on_conflict_do_nothing`` and ``on_conflict_do_update``)."""
    if session.get_bind().dialect.name == "postgresql":
        return postgresql_insert(model)
    return sqlite_insert(model)


def add_event(session: AsyncSession, event: Event) -> None:
    """Write ``event`` in this transaction; it is announced once the transaction commits."""
    session.add(event)
    session.info.setdefault(_WRITTEN_EVENTS, []).append(event)


def after_commit(session: AsyncSession, callback: Callable[[], None]) -> None:
    """Call ``callback`` once this write transaction has committed; never if it rolls back
    (the outbox's sender is woken this way: a message exists once its change does)."""
    session.info.setdefault(_AFTER_COMMIT, []).append(callback)


class Database:
    """One engine per app, opened when serving starts and disposed when it ends."""

    def __init__(
        self, url: str, announce: Announce = _announce_nothing, search_language: str = "simple"
    ) -> None:
        self.url = url
        self._listeners: list[Announce] = [announce]
        self.search_language = search_language
        self._engine: AsyncEngine | None = None
        self._readers: async_sessionmaker[AsyncSession] | None = None
        self._writers: async_sessionmaker[AsyncSession] | None = None
        # On SQLite, this worker's writers take turns here rather than at SQLite's lock,
        # whose busy handler sleeps 1, 2, 5, 10 ms... between tries (docs/PERFORMANCE.md).
        self._write_turn: contextlib.AbstractAsyncContextManager[object] = (
            asyncio.Lock() if self.is_sqlite else contextlib.nullcontext()
        )

    def listen(self, announce: Announce) -> None:
        """Tell ``announce`` too of the events each transaction wrote, after its commit."""
        self._listeners.append(announce)

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
            await _check_search_language(engine, self.search_language)
        self._engine = engine
        # Sessions carry the search index's language (quartapp/search/index.py).
        info = {SEARCH_LANGUAGE: self.search_language}
        self._readers = async_sessionmaker(engine, expire_on_commit=False, info=info)
        self._writers = async_sessionmaker(writer_engine, expire_on_commit=False, info=info)

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
        """A write transaction: committed when the block ends, rolled back on error; the
        events it wrote are announced after the commit.

        The request's read session gives its connection back first: requests that held
        one connection while waiting for a second stalled the whole pool (until its 30 s
        timeout) once as many wrote at once as it has connections.
        """
        if self._writers is None:
            raise RuntimeError("the database is not open (before_serving has not run)")
        await self.release_request_session()
        async with self._write_turn, self._writers() as session:
            async with session.begin():
                yield session
            written: list[Event] = session.info.pop(_WRITTEN_EVENTS, [])
            callbacks: list[Callable[[], None]] = session.info.pop(_AFTER_COMMIT, [])
        if written:
            for listener in self._listeners:
                await listener(written)
        for callback in callbacks:
            callback()

    def request_session(self) -> AsyncSession:
        """The read session of the current request (or websocket), opened on first use and
        closed when the request ends (``close_request_session``)."""
        session: AsyncSession | None = g.get(_REQUEST_SESSION)
        if session is None:
            session = self.reader()
            setattr(g, _REQUEST_SESSION, session)
        return session

    async def release_request_session(self) -> None:
        """End the request's read transaction, returning its connection to the pool. What
        it loaded stays readable, and its next query takes a connection again."""
        session = g.get(_REQUEST_SESSION) if has_app_context() else None
        if session is not None:
            await session.close()

    async def close_request_session(self, _exc: BaseException | None = None) -> None:
        """At the end of a request (an app-context teardown): forget its read session."""
        session = g.pop(_REQUEST_SESSION, None) if has_app_context() else None
        if session is not None:
            await session.close()


async def _check_search_language(engine: AsyncEngine, name: str) -> None:
    """At start-up, not at the first entry written: the search index's language must be
    one of PostgreSQL's text search configurations."""
    async with engine.connect() as connection:
        known = await connection.scalar(
            text("SELECT count(*) FROM pg_ts_config WHERE cfgname = :name"), {"name": name}
        )
    if not known:
        await engine.dispose()
        raise ConfigError(
            f"SEARCH_LANGUAGE: PostgreSQL has no text search configuration {name!r} "
            "(the table pg_ts_config lists them)"
        )


def ensure_sqlite_file(url: str) -> None:
    """Make the database's folder and an empty file, readable by this user alone.

    SQLite creates neither the folders nor, with our permissions, the file: it would use the
    umask (usually 0644, every local user reading every journal). Its -wal and -shm files
    take the main file's mode, so they are private too."""
    database = make_url(url).database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    # An existing file is kept as it is: an operator may have chosen its mode.
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


def _prepare_sqlite(engine: AsyncEngine, url: str) -> None:
    ensure_sqlite_file(url)

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
