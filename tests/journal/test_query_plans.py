"""Page queries on SQLite: one statement (authors joined, no query per entry, the newest
live event alongside), read along an index and stopped after a page. A sort of every
visible entry, or a walk through every public entry to find one writer's, costs nothing in
a small test database and seconds on a real one, so these tests read the plan SQLite
chooses instead of timing anything."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from sqlalchemy import event

from quartapp.db import Database
from quartapp.journal import store
from quartapp.services import services_of
from tests.database import sqlite_rows, sqlite_url


def add_entries(database_path: Path) -> None:
    """Two writers with an entry each: an empty page would be answered differently."""
    with sqlite3.connect(database_path) as connection:
        for user_id in (1, 2):
            connection.execute(
                "INSERT INTO users (id, username, username_key, email, email_key,"
                " password_hash, about, created_at) VALUES (?, ?, ?, ?, ?, 'x', '', ?)",
                (user_id, f"u{user_id}", f"u{user_id}", f"u{user_id}@example.com",
                 f"u{user_id}@example.com", "2026-01-01 00:00:00"),
            )  # fmt: skip
            connection.execute(
                "INSERT INTO entries (author_id, title, body, body_html, visibility, created_at,"
                " written_at) VALUES (?, '', 'x', '<p>x</p>', 'public', '2026-01-01 00:00:00',"
                " '2026-01-01 00:00:00')",
                (user_id,),
            )


@pytest.fixture
async def database(make_app: Any, database_path: Path) -> AsyncIterator[Database]:
    add_entries(database_path)
    application: Quart = make_app(database_url=sqlite_url(database_path))
    async with application.test_app():
        yield services_of(application).database


async def page_statements(
    database: Database, viewer_id: int | None, author_id: int | None, before: int | None
) -> list[tuple[str, Any]]:
    """The statements ``visible_page`` sends, with their parameters."""
    sent: list[tuple[str, Any]] = []

    def capture(*args: Any) -> None:
        _connection, _cursor, statement, parameters = args[:4]
        if statement.strip().upper() != "BEGIN":
            sent.append((statement, parameters))

    engine = database.engine.sync_engine
    event.listen(engine, "before_cursor_execute", capture)
    try:
        async with database.reader() as session:
            await store.visible_page(
                session, viewer_id, author_id=author_id, at=store.Cursor(before=before)
            )
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    return sent


def query_plan(database_path: Path, statement: str, parameters: Any) -> list[str]:
    return [step for _, step in query_plan_steps(database_path, statement, parameters)]


def query_plan_steps(database_path: Path, statement: str, parameters: Any) -> list[tuple[int, str]]:
    """Each step of the plan with the id of the step it is part of (0: the statement)."""
    rows = sqlite_rows(database_path, f"EXPLAIN QUERY PLAN {statement}", *parameters)
    return [(int(row[1]), str(row[-1])) for row in rows]


@pytest.mark.parametrize(
    ("viewer_id", "author_id", "before"),
    [
        pytest.param(None, None, None, id="home, visitor"),
        pytest.param(1, None, None, id="home, writer"),
        pytest.param(1, None, 500, id="home, writer, older page"),
        pytest.param(None, 2, None, id="profile, visitor"),
        pytest.param(1, 2, 500, id="profile, another writer"),
        pytest.param(2, 2, None, id="profile, its writer"),
    ],
)
async def test_a_page_is_one_statement_read_along_indexes(
    database: Database,
    database_path: Path,
    viewer_id: int | None,
    author_id: int | None,
    before: int | None,
) -> None:
    statements = await page_statements(database, viewer_id, author_id, before)
    assert len(statements) == 1, statements
    steps = query_plan_steps(database_path, *statements[0])
    plan = [step for _, step in steps]
    tables = ("entries", "users", "events")
    assert not any(step.startswith(f"SCAN {table}") for table in tables for step in plan), plan
    assert not any("MULTI-INDEX OR" in step for step in plan), plan
    # Sorts of the page's ids only (at most two pages of them, from lists read in order
    # along their indexes; a writer's two lists merged without repeats): never of every
    # visible entry, nor of the rows with their text.
    sorts = [(parent, step) for parent, step in steps if "TEMP B-TREE" in step]
    expected = ["USE TEMP B-TREE FOR ORDER BY"]
    if viewer_id is not None:
        expected.insert(0, "UNION USING TEMP B-TREE")
    assert [step for _, step in sorts] == expected, plan
    assert all(parent != 0 for parent, _ in sorts), plan  # in the ids' subquery
    searches = [step for step in plan if step.startswith("SEARCH entries") and "INDEX ix_" in step]
    assert searches, plan
    if author_id is not None:
        # Found through that writer's own entries, not by walking everyone's public ones.
        assert all("author_id=?" in step for step in searches), plan
