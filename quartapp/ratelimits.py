"""Rate-limit state in Redis, so a limit holds across workers and hosts.

quart-rate-limiter's own ``RedisStore`` keeps its keys forever and shares one namespace
with everything else in that Redis; this one prefixes its keys and lets each expire once
it no longer matters (after its theoretical arrival time). If Redis does not answer, the
request is let through and a warning logged: a Redis outage must not lock everyone out.
"""

from __future__ import annotations

import logging
import math
from datetime import UTC, datetime

from quart_rate_limiter.store import RateLimiterStoreABC
from redis.asyncio import Redis
from redis.exceptions import RedisError

logger = logging.getLogger(__name__)


class SharedRateLimitStore(RateLimiterStoreABC):
    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix + "ratelimit:"
        self._redis: Redis | None = None

    async def before_serving(self) -> None:
        self._redis = Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)

    async def after_serving(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def get(self, key: str, default: datetime) -> datetime:
        assert self._redis is not None
        try:
            value = await self._redis.get(self.prefix + key)
        except (RedisError, OSError) as error:
            logger.warning(
                "rate limits not applied: Redis did not answer (%s)", type(error).__name__
            )
            return default
        return default if value is None else datetime.fromtimestamp(float(value), UTC)

    async def set(self, key: str, tat: datetime) -> None:
        assert self._redis is not None
        seconds = max(1, math.ceil((tat - datetime.now(UTC)).total_seconds()) + 1)
        try:
            await self._redis.set(self.prefix + key, tat.timestamp(), ex=seconds)
        except (RedisError, OSError) as error:
            logger.warning(
                "rate limit not recorded: Redis did not answer (%s)", type(error).__name__
            )
