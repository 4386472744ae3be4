"""The rate-limit stores: GCRA counted atomically, in memory and in a real Redis."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from quartapp.config import RateLimitSpec
from quartapp.ratelimits import LimitStore, MemoryLimitStore, RedisLimitStore
from tests.live.servers import redis_admin, redis_url_or_skip

TEN_A_MINUTE = RateLimitSpec(10, timedelta(minutes=1))


@pytest.fixture(params=["memory", "redis"])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[LimitStore]:
    limits: LimitStore
    if request.param == "memory":
        limits = MemoryLimitStore()
    else:
        limits = RedisLimitStore(redis_url_or_skip(), f"test-{secrets.token_hex(6)}:")
    await limits.start()
    yield limits
    await limits.stop()


async def test_a_burst_of_count_then_refused_with_the_wait(store: LimitStore) -> None:
    waits = [await store.hit(["login:192.0.2.1"], TEN_A_MINUTE) for _ in range(11)]
    assert waits[:10] == [None] * 10
    assert waits[10] is not None
    assert 5 < waits[10] <= 6  # one more is allowed every 6 s


async def test_concurrent_attempts_cannot_slip_past_the_limit(store: LimitStore) -> None:
    """Checked and counted in one step: with a read, then a write, all 30 would pass."""
    waits = await asyncio.gather(*(store.hit(["login:192.0.2.1"], TEN_A_MINUTE) for _ in range(30)))
    assert waits.count(None) == 10


async def test_keys_are_separate(store: LimitStore) -> None:
    for _ in range(10):
        await store.hit(["login:192.0.2.1"], TEN_A_MINUTE)
    assert await store.hit(["login:192.0.2.1"], TEN_A_MINUTE) is not None
    assert await store.hit(["login:192.0.2.2"], TEN_A_MINUTE) is None
    assert await store.hit(["register:192.0.2.1"], TEN_A_MINUTE) is None


async def test_a_request_refused_under_one_key_spends_nothing_of_the_others(
    store: LimitStore,
) -> None:
    """An address and an account each have a budget: a request counts under both, or, when
    one refuses it, under neither (10 attempts at once then pass, never 9)."""
    for _ in range(10):
        assert await store.hit(["address:a"], TEN_A_MINUTE) is None
    for _ in range(5):
        assert await store.hit(["address:a", "account:1"], TEN_A_MINUTE) is not None
    assert [await store.hit(["account:1"], TEN_A_MINUTE) for _ in range(11)].count(None) == 10


async def test_the_budget_refills_over_time(store: LimitStore) -> None:
    fast = RateLimitSpec(2, timedelta(seconds=1))
    assert [await store.hit(["k"], fast) for _ in range(3)][2] is not None
    await asyncio.sleep(0.6)  # one more every 0.5 s
    assert await store.hit(["k"], fast) is None
    assert await store.hit(["k"], fast) is not None


async def test_redis_keys_are_prefixed_and_expire() -> None:
    url = redis_url_or_skip()
    prefix = f"test-{secrets.token_hex(6)}:"
    store = RedisLimitStore(url, prefix)
    await store.start()
    try:
        await store.hit(["login:192.0.2.1"], TEN_A_MINUTE)
    finally:
        await store.stop()
    admin = redis_admin(url)
    keys = list(admin.scan_iter(f"{prefix}*"))
    assert keys == [f"{prefix}ratelimit:login:192.0.2.1".encode()]
    ttl = admin.pttl(keys[0])
    assert 0 < ttl <= 8000  # spent after 6 s, plus a second
    admin.delete(*keys)


async def test_redis_away_lets_requests_through(caplog: pytest.LogCaptureFixture) -> None:
    store = RedisLimitStore("redis://127.0.0.1:1/0", "test:")
    await store.start()
    try:
        assert [
            await store.hit(["k"], RateLimitSpec(1, timedelta(minutes=1))) for _ in range(3)
        ] == [None] * 3
    finally:
        await store.stop()
    assert "rate limits not applied: Redis did not answer" in caplog.text


def test_memory_store_forgets_spent_keys() -> None:
    store = MemoryLimitStore()
    spec = RateLimitSpec(1, timedelta(microseconds=1))

    async def fill() -> None:
        for number in range(10_001):
            await store.hit([f"k{number}"], spec)
        await asyncio.sleep(0.01)
        await store.hit(["last"], spec)

    asyncio.run(fill())
    assert len(store._tats) < 100
