"""/healthz needs nothing; /readyz is 200 only when the database (and Redis) answer."""

from __future__ import annotations

import os
from typing import Any

import pytest
from quart import Quart
from redis import Redis
from redis.exceptions import RedisError

from quartapp.db import Database

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def dead_database(self: Database) -> Any:
    raise OSError("connection refused")


async def test_healthz_and_readyz_when_all_is_well(app: Quart) -> None:
    client = app.test_client()
    health = await client.get("/healthz")
    assert health.status_code == 200
    assert await health.get_json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert await ready.get_json() == {"status": "ready"}
    assert ready.headers["Cache-Control"] == "no-store"


async def test_a_dead_database_makes_readyz_503_but_not_healthz(
    app: Quart, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Database, "reader", dead_database)
    client = app.test_client()
    assert (await client.get("/healthz")).status_code == 200  # never touches the database
    ready = await client.get("/readyz")
    assert ready.status_code == 503
    body = await ready.get_json()
    assert body["status"] == "unavailable"
    assert body["reasons"] == {"database": "database did not answer (OSError)"}


async def test_an_unreachable_redis_makes_readyz_503(make_app: Any) -> None:
    app = make_app(redis_url="redis://127.0.0.1:1/0")  # nothing listens on port 1
    async with app.test_app() as test_app:
        ready = await test_app.test_client().get("/readyz")
        assert ready.status_code == 503
        reasons = (await ready.get_json())["reasons"]
        assert set(reasons) == {"redis"}


def redis_or_skip() -> None:
    try:
        Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except (RedisError, OSError) as error:
        if os.environ.get("CI"):
            pytest.fail(f"Redis at {REDIS_URL} is required in CI: {error}")
        pytest.skip(f"no Redis at {REDIS_URL}: {error}")


async def test_a_reachable_redis_is_ready(make_app: Any) -> None:
    redis_or_skip()
    app = make_app(redis_url=REDIS_URL)
    async with app.test_app() as test_app:
        ready = await test_app.test_client().get("/readyz")
        assert ready.status_code == 200, await ready.get_data(as_text=True)
