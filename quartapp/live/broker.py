"""Brokers tell every worker that new events were committed.

They carry no data: a woken worker reads the events table from where it stopped, so order
and completeness come from the database, and a lost or duplicated notification costs at
most a poll interval. Every worker also reads the table on a timer, which is what makes
several workers without Redis correct (slower, but nothing is ever lost) and what covers a
Redis outage until the subscription is back.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from quartapp.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

PUBLISH_TIMEOUT = 1.0  # seconds a notification may wait for Redis before it is given up
Wake = Callable[[], None]


class Broker(ABC):
    @property
    @abstractmethod
    def poll_interval(self) -> float:
        """Seconds between reads of the events table when no notification came."""

    @abstractmethod
    async def start(self, wake: Wake) -> None: ...

    @abstractmethod
    async def stop(self) -> None: ...

    @abstractmethod
    async def notify(self) -> None:
        """Called after a commit that wrote events."""

    @abstractmethod
    async def ping(self) -> None:
        """Raise unless the broker can deliver notifications (readiness)."""


class MemoryBroker(Broker):
    """One process: wake the local hub at once; other workers' writes arrive by polling."""

    def __init__(self, poll_interval: float = 0.5) -> None:
        self._poll_interval = poll_interval
        self._wake: Wake | None = None

    @property
    def poll_interval(self) -> float:
        return self._poll_interval

    async def start(self, wake: Wake) -> None:
        self._wake = wake

    async def stop(self) -> None:
        self._wake = None

    async def notify(self) -> None:
        if self._wake is not None:
            self._wake()

    async def ping(self) -> None:
        """In-process: always able to deliver."""


class RedisBroker(Broker):
    """Redis pub/sub between workers and hosts; reconnects with capped exponential backoff."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.channel = prefix + "events"
        self._redis: Redis | None = None
        self._wake: Wake | None = None
        self._listener: asyncio.Task[None] | None = None
        self._publishing: set[asyncio.Task[None]] = set()  # referenced until done
        self.connected = asyncio.Event()

    @property
    def poll_interval(self) -> float:
        """A safety net while subscribed; fast while Redis is away."""
        return 5.0 if self.connected.is_set() else 0.5

    async def start(self, wake: Wake) -> None:
        self._wake = wake
        # No error handling inside redis-py: every error reaches _listen at once. Otherwise
        # redis-py reconnects inside listen() by itself (even with no retries left), with
        # no timeout while Redis is unreachable, and silently: the hub keeps its slow poll
        # and gets no catch-up read. (A failed publish is not retried either: see notify.)
        self._redis = Redis.from_url(
            self.url,
            socket_connect_timeout=2,
            socket_timeout=None,
            retry=Retry(NoBackoff(), 0, supported_errors=()),
        )
        self._listener = asyncio.create_task(self._listen(), name="redis-events-listener")

    async def stop(self) -> None:
        await cancel_and_wait(self._listener)
        if self._publishing:  # at most PUBLISH_TIMEOUT
            await asyncio.wait(self._publishing)
        if self._redis is not None:
            await self._redis.aclose()
        self._wake = None

    async def ping(self) -> None:
        if self._redis is None:
            raise RuntimeError("the Redis broker is not started")
        await self._redis.ping()

    async def notify(self) -> None:
        if self._wake is not None:
            self._wake()  # this worker's clients need not wait for the round trip
        if self._redis is None:
            return
        # In the background: the request that committed answers at once, even while Redis
        # is unreachable (then each publish gives up after PUBLISH_TIMEOUT).
        task = asyncio.create_task(self._publish(self._redis), name="redis-events-publish")
        self._publishing.add(task)
        task.add_done_callback(self._publishing.discard)

    async def _publish(self, redis: Redis) -> None:
        try:
            async with asyncio.timeout(PUBLISH_TIMEOUT):
                await redis.publish(self.channel, b"1")
        except (RedisError, OSError, TimeoutError) as error:
            # Other workers will still read the table at their next poll.
            logger.warning("could not publish to Redis: %s", type(error).__name__)

    async def _listen(self) -> None:
        delay = 0.1
        assert self._redis is not None
        while True:
            try:
                async with self._redis.pubsub(ignore_subscribe_messages=True) as pubsub:
                    await pubsub.subscribe(self.channel)
                    self.connected.set()
                    delay = 0.1
                    if self._wake is not None:
                        self._wake()  # catch up on anything missed while disconnected
                    async for _message in pubsub.listen():
                        if self._wake is not None:
                            self._wake()
            except (RedisError, OSError) as error:
                self.connected.clear()
                if self._wake is not None:
                    self._wake()  # the hub is waiting out the long interval: poll fast now
                logger.warning(
                    "Redis subscription lost (%s); retrying in %.1fs", type(error).__name__, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)


def make_broker(redis_url: str, redis_prefix: str) -> Broker:
    """Redis pub/sub when configured (several workers or hosts), else in memory."""
    return RedisBroker(redis_url, redis_prefix) if redis_url else MemoryBroker()
