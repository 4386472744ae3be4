"""Fixtures: a real SQLite file migrated by Alembic for every test, and an app serving it.

The schema is migrated once per run into a template file; each test gets its own copy.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quartapp import create_app
from quartapp.migrations import alembic_config
from tests.helpers import AuthActions

# Light Argon2 parameters keep the suite fast; tests of hashing itself use the defaults.
FAST_HASHING = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    command.upgrade(alembic_config(sqlite_url(path), configure_logging=False), "head")
    return path


@pytest.fixture
def database_path(migrated_template: Path, tmp_path: Path) -> Path:
    path = tmp_path / "journal.db"
    shutil.copyfile(migrated_template, path)
    return path


@pytest.fixture
def settings_overrides(database_path: Path, tmp_path: Path) -> dict[str, Any]:
    """Override in a test module to change settings for its apps."""
    return {}


@pytest.fixture
def make_app(database_path: Path, tmp_path: Path, settings_overrides: dict[str, Any]) -> Any:
    def factory(**overrides: Any) -> Quart:
        settings: dict[str, Any] = {
            "database_url": sqlite_url(database_path),
            "instance_path": tmp_path / "instance",
            "secret_key": "test-secret-key-" + "x" * 32,
            **FAST_HASHING,
            **settings_overrides,
            **overrides,
        }
        return create_app(settings)

    return factory


@pytest.fixture
async def app(make_app: Any) -> AsyncIterator[Quart]:
    application: Quart = make_app()
    async with application.test_app() as test_app:
        yield test_app.app  # type: ignore[attr-defined]


@pytest.fixture
def client(app: Quart) -> Client:
    return app.test_client()


@pytest.fixture
def auth(client: Client) -> AuthActions:
    return AuthActions(client)
