"""Fixtures: a real database migrated by Alembic for every test, and an app serving it.

The database is a SQLite file, or a PostgreSQL database when ``TEST_DATABASE_URL`` is set
(``postgresql+asyncpg://user@host:port/db``; see tests/database.py). With
``TEST_REDIS_URL`` set, every app also uses that Redis for live updates and rate limits,
under a key prefix of its own test.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from redis import Redis
from redis.exceptions import RedisError

from quartapp import create_app
from tests.database import PostgresDatabases, SQLiteDatabases, TestDatabase
from tests.helpers import AuthActions, no_background_indexing

# Light Argon2 parameters keep the suite fast; tests of hashing itself use the defaults.
FAST_HASHING = {"argon2_time_cost": 1, "argon2_memory_kib": 1024, "argon2_parallelism": 1}
TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "")
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "")
ON_POSTGRES = bool(TEST_DATABASE_URL)
REDIS_RUN_PREFIX = f"test:{secrets.token_hex(4)}:"
_redis_prefixes = count(1)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "sqlite_only(reason): tests of SQLite itself; skipped on PostgreSQL"
    )


def pytest_report_header() -> list[str]:
    database = f"PostgreSQL ({TEST_DATABASE_URL})" if ON_POSTGRES else "SQLite files"
    return [f"databases: {database}; Redis for apps: {TEST_REDIS_URL or 'no'}"]


def pytest_runtest_setup(item: pytest.Item) -> None:
    marker = item.get_closest_marker("sqlite_only")
    if marker is not None and ON_POSTGRES:
        pytest.skip(f"SQLite only: {marker.args[0]}")


Databases = SQLiteDatabases | PostgresDatabases


@pytest.fixture(scope="session")
def databases(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Databases]:
    """Where each test's database comes from: migrated once, copied per test."""
    made: Databases = (
        PostgresDatabases(TEST_DATABASE_URL)
        if ON_POSTGRES
        else SQLiteDatabases(tmp_path_factory.mktemp("template"))
    )
    try:
        yield made
    finally:
        made.close()


def _for_the_test(databases: Databases, url: str) -> Iterator[TestDatabase]:
    database = TestDatabase(url)
    try:
        yield database
    finally:
        database.dispose()
        databases.release(url)


@pytest.fixture
def test_database(databases: Databases, tmp_path: Path) -> Iterator[TestDatabase]:
    """A database just like the migrated template, for this test alone."""
    yield from _for_the_test(databases, databases.for_test(tmp_path))


@pytest.fixture
def empty_database(databases: Databases, tmp_path: Path) -> Iterator[TestDatabase]:
    """A database with no tables at all, for the migrations to fill."""
    yield from _for_the_test(databases, databases.empty(tmp_path))


@pytest.fixture
def database_path(test_database: TestDatabase) -> Path:
    """The SQLite file itself, for tests of what SQLite does with it."""
    if not test_database.is_sqlite:
        pytest.skip("SQLite only: looks at the database file itself")
    return test_database.path


@pytest.fixture(scope="session")
def redis_for_apps() -> Iterator[str]:
    """TEST_REDIS_URL, checked once: when it is set, Redis must answer. The run's keys are
    deleted at its end (they would expire, some only after an hour)."""
    if not TEST_REDIS_URL:
        yield ""
        return
    try:
        with Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2) as redis:
            redis.ping()
    except (RedisError, OSError) as error:
        pytest.fail(f"TEST_REDIS_URL is set, but Redis does not answer there: {error}")
    yield TEST_REDIS_URL
    with Redis.from_url(TEST_REDIS_URL, socket_connect_timeout=2) as redis:
        for key in redis.scan_iter(f"{REDIS_RUN_PREFIX}*"):
            redis.delete(key)


@pytest.fixture
def redis_overrides(redis_for_apps: str) -> dict[str, Any]:
    """Redis for every app of the test when TEST_REDIS_URL is set, under a prefix of this
    test's own: no test sees another's rate-limit counts (nor another run's)."""
    if not redis_for_apps:
        return {}
    return {
        "redis_url": redis_for_apps,
        "redis_prefix": f"{REDIS_RUN_PREFIX}{next(_redis_prefixes)}:",
    }


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """Override in a test module to change settings for its apps."""
    return {}


@pytest.fixture
def make_app(
    test_database: TestDatabase,
    redis_overrides: dict[str, Any],
    tmp_path: Path,
    settings_overrides: dict[str, Any],
) -> Any:
    def factory(**overrides: Any) -> Quart:
        settings: dict[str, Any] = {
            "database_url": test_database.url,
            "instance_path": tmp_path / "instance",
            "secret_key": "test-secret-key-" + "x" * 32,
            **FAST_HASHING,
            **redis_overrides,
            **settings_overrides,
            **overrides,
        }
        return create_app(settings)

    return factory


Start = Callable[..., Awaitable[Quart]]


async def _in_step(app: Quart, request: pytest.FixtureRequest) -> None:
    """Tests write through ``TestDatabase``'s blocking connection, on the event loop's
    thread: on SQLite it would wait, blocking the loop, for a write lock held by the
    search indexer's transaction, which needs that loop to end. So in-process apps index
    only when searched (as every search does first), unless a test is marked
    ``background_indexing``; servers in their own processes (tests/e2e) index as deployed."""
    if request.node.get_closest_marker("background_indexing") is None:
        await no_background_indexing(app)


@pytest.fixture
async def started(make_app: Any, request: pytest.FixtureRequest) -> AsyncIterator[Start]:
    """Build and start an app with these settings; stopped when the test ends."""
    running: list[Any] = []

    async def start(**settings: Any) -> Quart:
        test_app = make_app(**settings).test_app()
        await test_app.startup()
        running.append(test_app)
        app: Quart = test_app.app
        await _in_step(app, request)
        return app

    yield start
    for test_app in running:
        await test_app.shutdown()


@pytest.fixture
async def app(make_app: Any, request: pytest.FixtureRequest) -> AsyncIterator[Quart]:
    application: Quart = make_app()
    async with application.test_app() as test_app:
        await _in_step(test_app.app, request)  # type: ignore[attr-defined]
        yield test_app.app  # type: ignore[attr-defined]


@pytest.fixture
def client(app: Quart) -> Client:
    return app.test_client()


@pytest.fixture
def auth(client: Client) -> AuthActions:
    return AuthActions(client)
