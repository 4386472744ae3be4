"""Rate limits: the generic cell rate algorithm (GCRA), checked and counted in one step.

Each key (an endpoint and a client address) has a theoretical arrival time (TAT). A request
is allowed while the TAT is at most ``period - period/count`` ahead of now, and then moves
the TAT on by ``period/count``: a burst of ``count``, then one more every ``period/count``.

The check and the update must be one atomic step. quart-rate-limiter reads the TAT from its
store, decides, and writes it back in separate calls; with a store in Redis every call waits
on the network, so concurrent attempts all read the same TAT and all pass (measured: 12 at
once against a limit of 10 were all let through). Here the memory store does both without
yielding to the event loop, and the Redis store does both in one Lua script, on Redis's clock
(so several hosts agree on "now"). If Redis does not answer, the request is let through and
a warning logged: a Redis outage must not lock everyone out.
"""

from __future__ import annotations

import enum
import ipaddress
import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from quart import Quart, current_app, request
from redis.asyncio import Redis
from redis.exceptions import RedisError
from werkzeug.exceptions import TooManyRequests

from quartapp.config import RateLimitSpec, Settings

logger = logging.getLogger(__name__)

MICROSECONDS = 1_000_000
MEMORY_KEYS_BEFORE_SWEEP = 10_000
_LIMIT_ATTRIBUTE = "quartapp_rate_limit"  # set on a view by ``rate_limited``
View = TypeVar("View", bound=Callable[..., Any])

# KEYS[1]: the key; ARGV: emission interval and tolerance, in microseconds. Returns -1 when
# allowed (and counted), else the microseconds to wait. Keys expire once they are spent.
GCRA_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
if tat - now > tolerance then return tat - tolerance - now end
local new_tat = tat + interval
redis.call('SET', KEYS[1], string.format('%.0f', new_tat),
           'PX', math.ceil((new_tat - now) / 1000) + 1000)
return -1
"""


def interval_and_tolerance(spec: RateLimitSpec) -> tuple[int, int]:
    """GCRA's emission interval and burst tolerance for a limit, in microseconds."""
    period = round(spec.period.total_seconds() * MICROSECONDS)
    interval = period // spec.count
    return interval, period - interval


class LimitStore(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def hit(self, key: str, spec: RateLimitSpec) -> float | None:
        """Count one request; None when it is allowed, else the seconds to wait."""


class MemoryLimitStore:
    """One process's limits. ``hit`` never awaits, so nothing can interleave within it."""

    def __init__(self) -> None:
        self._tats: dict[str, int] = {}

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self._tats.clear()

    async def hit(self, key: str, spec: RateLimitSpec) -> float | None:
        now = time.monotonic_ns() // 1000
        interval, tolerance = interval_and_tolerance(spec)
        tat = max(self._tats.get(key, now), now)
        if tat - now > tolerance:
            return (tat - tolerance - now) / MICROSECONDS
        if len(self._tats) >= MEMORY_KEYS_BEFORE_SWEEP:
            self._sweep(now)
        self._tats[key] = tat + interval
        return None

    def _sweep(self, now: int) -> None:
        """Forget keys whose TAT has passed: they would allow a full burst anyway."""
        self._tats = {key: tat for key, tat in self._tats.items() if tat > now}


class RedisLimitStore:
    """Limits shared by every worker and host using this Redis, under ``prefix``."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix + "ratelimit:"
        self._redis: Redis | None = None
        self._script: Any = None

    async def start(self) -> None:
        self._redis = Redis.from_url(self.url, socket_connect_timeout=1, socket_timeout=1)
        self._script = self._redis.register_script(GCRA_SCRIPT)

    async def stop(self) -> None:
        if self._redis is not None:
            await self._redis.aclose()
            self._redis = None

    async def hit(self, key: str, spec: RateLimitSpec) -> float | None:
        interval, tolerance = interval_and_tolerance(spec)
        try:
            wait = await self._script(keys=[self.prefix + key], args=[interval, tolerance])
        except (RedisError, OSError) as error:
            logger.warning(
                "rate limits not applied: Redis did not answer (%s)", type(error).__name__
            )
            return None
        return None if int(wait) < 0 else int(wait) / MICROSECONDS


class Limit(enum.Enum):
    """The limited actions; each has its own setting (``RATE_LIMIT_...``)."""

    LOGIN = "login"
    REGISTER = "register"
    PASSWORDS_API = "passwords_api"


@dataclass(frozen=True)
class RateLimits:
    """This app's limits, per client address, and the store where they count."""

    store: LimitStore
    enabled: bool
    specs: Mapping[Limit, RateLimitSpec]

    @classmethod
    def from_settings(cls, settings: Settings) -> RateLimits:
        # In memory per process; in Redis when configured, so limits hold across workers.
        store: LimitStore = (
            RedisLimitStore(settings.redis_url, settings.redis_prefix)
            if settings.redis_url
            else MemoryLimitStore()
        )
        specs = {
            Limit.LOGIN: settings.rate_limit_login,
            Limit.REGISTER: settings.rate_limit_register,
            Limit.PASSWORDS_API: settings.rate_limit_passwords_api,
        }
        return cls(store, settings.rate_limits_enabled, specs)


def rate_limited(limit: Limit) -> Callable[[View], View]:
    """Count this view's POSTs per client address, before CSRF and the view itself run."""

    def mark(view: View) -> View:
        setattr(view, _LIMIT_ATTRIBUTE, limit)
        return view

    return mark


def client_address() -> str:
    """The connection's own address: never a header the client could forge."""
    return request.remote_addr or "unknown"


def address_key(address: str) -> str:
    """What a client is counted by: an IPv4 address as it is, an IPv6 one by its /64.

    An IPv6 client usually holds a whole /64 and can take a new address in it at will, so
    counting single addresses would give it endless fresh limits. An IPv4 address inside
    IPv6 (``::ffff:192.0.2.1``) counts as that IPv4 address; anything that is no address
    (a test client's ``<local>``) is its own key.
    """
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ip)
    if ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    # From the integer: a scoped address (fe80::1%eth0) has no network of its own.
    return str(ipaddress.IPv6Network((int(ip) >> 64 << 64, 64)))


def limit_of_request() -> Limit | None:
    view = current_app.view_functions.get(request.endpoint or "")
    limit = getattr(view, _LIMIT_ATTRIBUTE, None)
    return limit if isinstance(limit, Limit) and request.method == "POST" else None


def install(app: Quart, limits: RateLimits) -> None:
    """Refuse a POST over its view's limit with a 429 (a ``before_request`` hook)."""

    async def enforce_rate_limits() -> None:
        limit = limit_of_request()
        if not limits.enabled or limit is None:
            return
        wait = await limits.store.hit(f"{request.endpoint}:{client_address()}", limits.specs[limit])
        if wait is not None:
            raise TooManyRequests(retry_after=max(1, math.ceil(wait)))

    app.before_request(enforce_rate_limits)
