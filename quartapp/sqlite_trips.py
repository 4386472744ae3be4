"""aiosqlite connections that go to their thread once per statement.

SQLAlchemy's aiosqlite adapter makes four trips to aiosqlite's thread for each SELECT
(make a cursor, execute, fetch, close) and one for every COMMIT or ROLLBACK, even one with
no transaction open. Each trip is a hand-off between threads and back through the event
loop; on a page with two queries they came to a fifth of its CPU time. Here a statement is
executed and its rows fetched in one trip, and COMMIT/ROLLBACK are skipped when SQLite has
no transaction open (the adapter still asks for them: reads run without BEGIN).

The rows of a statement are fetched whole, as the adapter's default cursor does anyway.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import Any, cast

import aiosqlite
from sqlalchemy.engine import make_url

_Outcome = tuple[Any, list[Any], int, int | None]


def _run(connection: sqlite3.Connection, statement: str, parameters: Any, many: bool) -> _Outcome:
    """In aiosqlite's thread: execute, fetch every row, close the cursor."""
    cursor = connection.cursor()
    try:
        if many:
            cursor.executemany(statement, parameters)
        elif parameters is None:
            cursor.execute(statement)
        else:
            cursor.execute(statement, parameters)
        rows = cursor.fetchall() if cursor.description else []
        return cursor.description, rows, cursor.rowcount, cursor.lastrowid
    finally:
        cursor.close()


class OneTripCursor:
    """What SQLAlchemy's adapter uses of an aiosqlite cursor, answered from one trip."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None
        self._rows: list[Any] = []

    async def __aenter__(self) -> OneTripCursor:
        return self  # nothing to make in the thread until there is a statement

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    async def _run(self, statement: str, parameters: Any, many: bool) -> OneTripCursor:
        outcome = await self._connection.run(statement, parameters, many)
        self.description, self._rows, self.rowcount, self.lastrowid = outcome
        return self

    async def execute(self, statement: str, parameters: Any = None) -> OneTripCursor:
        return await self._run(statement, parameters, many=False)

    async def executemany(self, statement: str, parameters: Sequence[Any]) -> OneTripCursor:
        return await self._run(statement, parameters, many=True)

    async def fetchall(self) -> list[Any]:
        rows, self._rows = self._rows, []
        return rows

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        count = self.arraysize if size is None else size
        rows, self._rows = self._rows[:count], self._rows[count:]
        return rows

    async def fetchone(self) -> Any:
        return self._rows.pop(0) if self._rows else None

    async def setinputsizes(self, *_sizes: object) -> None:
        return None

    async def close(self) -> None:
        self._rows = []


class OneTripConnection(aiosqlite.Connection):
    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    async def run(self, statement: str, parameters: Any, many: bool) -> _Outcome:
        trip = cast(Callable[..., Awaitable[_Outcome]], self._execute)
        return await trip(_run, self._conn, statement, parameters, many)

    async def commit(self) -> None:
        if self.in_transaction:
            await super().commit()

    async def rollback(self) -> None:
        if self.in_transaction:
            await super().rollback()


def connector(url: str) -> Callable[[], Awaitable[aiosqlite.Connection]]:
    """An ``async_creator`` for ``create_async_engine``, with the arguments SQLAlchemy's
    own aiosqlite dialect reads from the URL."""
    parsed = make_url(url)
    args, kwargs = parsed.get_dialect()().create_connect_args(parsed)
    open_sqlite = cast(Callable[[], sqlite3.Connection], partial(sqlite3.connect, *args, **kwargs))

    async def connect() -> aiosqlite.Connection:
        connection = OneTripConnection(open_sqlite, 64)
        connection._thread.daemon = True  # as SQLAlchemy does: never hold up exit
        return await connection

    return connect
