"""Two real hypercorn processes sharing one database: a change made through B reaches a
websocket client on A, with Redis, without it (by polling), and across Redis outages.

A subscribed hub polls only every 5 s: three events in a row, each within 2 s, came
through Redis, not by the poll. Without Redis every hub polls every 0.5 s.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection

from quartapp.live.broker import PUBLISH_TIMEOUT
from tests.database import TestDatabase
from tests.live.servers import (
    Browser,
    RedisCut,
    Server,
    database_environment,
    live,
    next_message,
    redis_admin,
    redis_url_or_skip,
    serving,
    subscriber_ids,
    wait_subscribed,
    with_client_name,
)

WITHIN = 2.0  # seconds from the answer to the POST to the event on the other process


@pytest.fixture
def shared(test_database: TestDatabase, tmp_path: Path) -> dict[str, str]:
    """Both processes use one Alembic-migrated database and one instance folder.

    On SQLite the migration leaves the file in WAL mode: were it left in rollback-journal
    mode, two processes switching it at start-up would race, and one would fail its first
    query with "database is locked" (busy_timeout does not cover that switch) and exit.
    """
    if test_database.is_sqlite:
        assert test_database.scalar("PRAGMA journal_mode") == "wal"
    return database_environment(test_database.url, tmp_path / "instance")


@pytest.fixture
def redis_url() -> str:
    return redis_url_or_skip()


@pytest.fixture
def names() -> dict[str, str]:
    """Redis client names, so a test can find (and break) one process's subscription."""
    token = secrets.token_hex(4)
    return {server: f"quartapp-test-{server}-{token}" for server in ("a", "b")}


async def expect(
    socket_: ClientConnection, kind: str, entry_id: int, within: float = WITHIN
) -> dict[str, object]:
    try:
        message = await next_message(socket_, within)
    except TimeoutError:
        pytest.fail(f"no {kind!r} event for entry {entry_id} within {within}s")
    assert (message.get("type"), message.get("entry_id")) == (kind, entry_id), message
    return message


def with_redis(
    shared: dict[str, str], redis_url: str, names: dict[str, str]
) -> dict[str, dict[str, str]]:
    """One environment a server, each naming its Redis client so a test can find it."""
    return {
        server: {**shared, "REDIS_URL": with_client_name(redis_url, name)}
        for server, name in names.items()
    }


async def writer_on(server: Server) -> Browser:
    browser = Browser(server.port)
    await browser.register(f"writer{secrets.token_hex(3)}")
    return browser


async def changes_through_b_reach_a(a: Server, b: Server) -> None:
    writer = await writer_on(b)
    async with live(a) as visitor:
        entry_id = await writer.post_entry("posted through **B**")
        created = await expect(visitor, "created", entry_id)
        assert "<strong>B</strong>" in str(created["html"])

        await writer.edit_entry(entry_id, "edited through B")
        updated = await expect(visitor, "updated", entry_id)
        assert "edited through B" in str(updated["html"])

        await writer.delete_entry(entry_id)
        deleted = await expect(visitor, "deleted", entry_id)
        assert "html" not in deleted


async def test_redis_carries_changes_from_b_to_a(
    tmp_path: Path, shared: dict[str, str], redis_url: str, names: dict[str, str]
) -> None:
    environments = with_redis(shared, redis_url, names)
    async with serving(tmp_path, environments) as (a, b):
        with redis_admin(redis_url) as redis:
            for name in names.values():
                await asyncio.to_thread(wait_subscribed, redis, name)
        await changes_through_b_reach_a(a, b)


async def test_without_redis_polling_carries_changes_from_b_to_a(
    tmp_path: Path, shared: dict[str, str]
) -> None:
    async with serving(tmp_path, {"a": shared, "b": shared}) as (a, b):
        await changes_through_b_reach_a(a, b)


async def test_a_killed_subscription_comes_back_without_a_gap(
    tmp_path: Path, shared: dict[str, str], redis_url: str, names: dict[str, str]
) -> None:
    environments = with_redis(shared, redis_url, names)
    async with serving(tmp_path, environments) as (a, b):
        writer = await writer_on(b)
        with redis_admin(redis_url) as redis:
            killed = await asyncio.to_thread(wait_subscribed, redis, names["a"])
            async with live(a) as visitor:
                for client_id in killed:  # only A's subscription: others may share Redis
                    await asyncio.to_thread(redis.client_kill_filter, _id=client_id)
                first = await writer.post_entry("posted while A resubscribes")
                await expect(visitor, "created", first)

                back = await asyncio.to_thread(wait_subscribed, redis, names["a"])
                assert not set(back) & set(killed)
                second = await writer.post_entry("posted after A is back")
                await expect(visitor, "created", second)


@pytest.mark.parametrize(
    "restore_at",
    [
        pytest.param("after-the-event", id="outage"),  # A must poll fast meanwhile
        pytest.param("before-the-event", id="blip"),  # A must catch up once back
    ],
)
async def test_a_redis_outage_leaves_no_gap(
    tmp_path: Path, shared: dict[str, str], redis_url: str, names: dict[str, str], restore_at: str
) -> None:
    """A reaches Redis through a proxy the test cuts, and B publishes while A cannot hear."""
    async with RedisCut(redis_url) as cut:
        environments = {
            "a": {**shared, "REDIS_URL": with_client_name(cut.url, names["a"])},
            "b": {**shared, "REDIS_URL": with_client_name(redis_url, names["b"])},
        }
        async with serving(tmp_path, environments) as (a, b):
            writer = await writer_on(b)
            local_writer = await writer_on(a)
            with redis_admin(redis_url) as redis:
                await asyncio.to_thread(wait_subscribed, redis, names["a"])
                async with live(a) as visitor:
                    cut.cut()
                    during = await writer.post_entry("posted while Redis is away from A")
                    if restore_at == "before-the-event":
                        cut.restore()
                    await expect(visitor, "created", during)
                    if restore_at == "after-the-event":
                        # It came by polling: A is still cut off.
                        assert not await asyncio.to_thread(subscriber_ids, redis, names["a"])
                        # A's own writes must not wait for Redis either: answered before
                        # a publish to the cut-off Redis would even give up.
                        started = time.monotonic()
                        local = await local_writer.post_entry("posted through A meanwhile")
                        assert time.monotonic() - started < PUBLISH_TIMEOUT
                        await expect(visitor, "created", local)
                        cut.restore()

                    await asyncio.to_thread(wait_subscribed, redis, names["a"])
                    after = await writer.post_entry("posted once Redis is back")
                    await expect(visitor, "created", after)
