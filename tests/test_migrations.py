"""Alembic migrations: up from nothing, down to nothing, up again, and they match the models.

These tests are synchronous: Alembic's env.py runs its own event loop.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text

from quartapp.migrations import alembic_config
from quartapp.models import Base
from tests.database import TestDatabase, sqlite_url

APP_TABLES = set(Base.metadata.tables)
# The search index (quartapp/search/index.py) is not a model: an FTS5 table and the tables
# SQLite keeps it in, or a table with PostgreSQL's own column type.
SEARCH_TABLES = {
    "sqlite": {
        "entry_search",
        *(f"entry_search_{part}" for part in ("data", "idx", "content", "docsize", "config")),
    },
    "postgresql": {"entry_search"},
}


# Whatever is left in the database besides Alembic's own table (and SQLite's internals).
LEFTOVERS = {
    "sqlite": "SELECT type, name FROM sqlite_master WHERE name NOT LIKE 'alembic_version%'"
    " AND name NOT LIKE 'sqlite_%'",
    "postgresql": "SELECT relkind, relname FROM pg_class JOIN pg_namespace"
    " ON pg_namespace.oid = relnamespace WHERE nspname = current_schema()"
    " AND relname NOT LIKE 'alembic_version%'",
}


@pytest.fixture
def inspector_engine(empty_database: TestDatabase) -> Engine:
    return empty_database.engine


@pytest.fixture
def config(empty_database: TestDatabase) -> Config:
    return alembic_config(empty_database.url, configure_logging=False)


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def app_tables(engine: Engine) -> set[str]:
    return APP_TABLES | SEARCH_TABLES[engine.dialect.name] | {"alembic_version"}


def _modelled(name: str | None, type_: str, parent_names: object) -> bool:
    return not (type_ == "table" and name is not None and name.startswith("entry_search"))


def differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={"compare_type": True, "render_as_batch": True, "include_name": _modelled},
        )
        result: list[object] = compare_metadata(context, Base.metadata)
    return result


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def test_upgrade_downgrade_upgrade(config: Config, inspector_engine: Engine) -> None:
    head = ScriptDirectory.from_config(config).get_current_head()
    assert head is not None

    command.upgrade(config, "head")
    assert {"users", "entries", "login_sessions"} <= APP_TABLES
    assert tables(inspector_engine) == app_tables(inspector_engine)
    assert current_revision(inspector_engine) == head

    command.downgrade(config, "base")
    assert tables(inspector_engine) == {"alembic_version"}
    assert current_revision(inspector_engine) is None
    with inspector_engine.connect() as connection:
        leftovers = connection.execute(text(LEFTOVERS[connection.dialect.name])).all()
    assert leftovers == []

    command.upgrade(config, "head")
    assert tables(inspector_engine) == app_tables(inspector_engine)
    assert differences(inspector_engine) == []


def test_the_models_match_the_migrations(config: Config, inspector_engine: Engine) -> None:
    command.upgrade(config, "head")
    assert differences(inspector_engine) == []


def test_the_comparison_would_see_a_difference(config: Config, inspector_engine: Engine) -> None:
    """compare_metadata must notice a model the migrations lack, or the test above proves
    nothing."""
    command.upgrade(config, "head")
    with inspector_engine.begin() as connection:
        connection.exec_driver_sql("DROP INDEX ix_entries_visibility_written_at_id")
    found = differences(inspector_engine)
    assert [diff[0] for diff in found if isinstance(diff, tuple)] == ["add_index"]


def test_the_constraints_and_indexes_exist(config: Config, inspector_engine: Engine) -> None:
    command.upgrade(config, "head")
    inspector = inspect(inspector_engine)
    foreign_keys = {
        table: [
            (fk["referred_table"], fk["options"].get("ondelete"))
            for fk in inspector.get_foreign_keys(table)
        ]
        for table in ("entries", "login_sessions")
    }
    assert foreign_keys == {
        "entries": [("users", "CASCADE")],
        "login_sessions": [("users", "CASCADE")],
    }
    assert {index["name"] for index in inspector.get_indexes("entries")} == {
        "ix_entries_visibility_written_at_id",
        "ix_entries_author_id_written_at_id",
        "ix_entries_author_id_visibility_written_at_id",
    }
    unique = {c["name"] for c in inspector.get_unique_constraints("users")}
    assert unique == {
        "uq_users_username_key",
        "uq_users_email_key",
        "uq_users_passkey_user_handle",
    }


def test_there_is_one_head(tmp_path: Path) -> None:
    script = ScriptDirectory.from_config(
        alembic_config(sqlite_url(tmp_path / "x.db"), configure_logging=False)
    )
    assert len(script.get_heads()) == 1


def test_ids_are_never_given_twice_after_every_migration(
    config: Config, inspector_engine: Engine
) -> None:
    """SQLite's batch mode copies a table to change it; the copy must keep AUTOINCREMENT,
    or a deleted row's id is given to the next one (events and pages name rows by id)."""
    if inspector_engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL's sequences never give an id twice")
    command.upgrade(config, "head")
    with inspector_engine.connect() as connection:
        tables = {
            name: sql
            for name, sql in connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            )
        }
    for table in Base.metadata.sorted_tables:
        if table.kwargs.get("sqlite_autoincrement"):
            assert "AUTOINCREMENT" in tables[table.name], table.name
