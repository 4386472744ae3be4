"""The test databases themselves: what one test leaves behind never reaches the next."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from tests.conftest import ON_POSTGRES, Databases
from tests.database import TestDatabase, _sync_url


@pytest.mark.skipif(not ON_POSTGRES, reason="PostgreSQL only: SQLite tests get a new file")
def test_a_transaction_left_open_does_not_hold_up_the_next_test(
    databases: Databases, test_database: TestDatabase, tmp_path: Path
) -> None:
    # A cancelled task's connection: inside a transaction, holding a lock.
    engine = create_engine(_sync_url(test_database.url), poolclass=NullPool)
    left_open = engine.connect()
    left_open.execute(text("LOCK TABLE users"))
    try:
        started = time.monotonic()
        with pytest.warns(UserWarning, match="left a connection open"):
            url = databases.for_test(tmp_path)
        assert time.monotonic() - started < 5  # not the 10 s lock timeout
        assert url == test_database.url  # the shared database, emptied again
    finally:
        # Closed here, not by the garbage collector at some later test's moment: the
        # server ended it, so its rollback fails, and that failure logged from a finalizer
        # in the middle of another test's ast.parse broke Python 3.11's AST recursion count
        # (SystemError: AST constructor recursion depth mismatch, a CI failure).
        left_open.invalidate()
        left_open.close()
        engine.dispose()
