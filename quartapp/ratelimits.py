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
import hmac
import ipaddress
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from quart import Quart, Response, current_app, g, request
from redis.asyncio import Redis
from redis.exceptions import RedisError
from werkzeug.exceptions import TooManyRequests

from quartapp.config import RateLimitSpec, Settings

logger = logging.getLogger(__name__)

MICROSECONDS = 1_000_000
MEMORY_KEYS_BEFORE_SWEEP = 10_000
_LIMIT_ATTRIBUTE = "quartapp_rate_limit"  # set on a view by ``rate_limited``
_REFUSAL_KEY = "quartapp_rate_limit_refusal"  # in ``g``: this request's ``Refusal``
View = TypeVar("View", bound=Callable[..., Any])

# KEYS: the keys a request counts under; ARGV: emission interval and tolerance, in
# microseconds. Allowed only if every key allows it, and then counted under every key;
# returns -1, else the microseconds to wait (a refused request counts nowhere). Keys
# expire once they are spent.
GCRA_SCRIPT = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tats = {}
local wait = -1
for i, key in ipairs(KEYS) do
  local tat = tonumber(redis.call('GET', key)) or now
  if tat < now then tat = now end
  if tat - now > tolerance then wait = math.max(wait, tat - tolerance - now) end
  tats[i] = tat
end
if wait >= 0 then return wait end
for i, key in ipairs(KEYS) do
  local new_tat = tats[i] + interval
  redis.call('SET', key, string.format('%.0f', new_tat),
             'PX', math.ceil((new_tat - now) / 1000) + 1000)
end
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

    async def hit(self, keys: Sequence[str], spec: RateLimitSpec) -> float | None:
        """Count one request under every key if each allows it: None; else the seconds
        to wait, and nothing counted (so one key cannot spend another's budget)."""


class MemoryLimitStore:
    """One process's limits. ``hit`` never awaits, so nothing can interleave within it."""

    def __init__(self) -> None:
        self._tats: dict[str, int] = {}

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        self._tats.clear()

    async def hit(self, keys: Sequence[str], spec: RateLimitSpec) -> float | None:
        now = time.monotonic_ns() // 1000
        interval, tolerance = interval_and_tolerance(spec)
        tats = [max(self._tats.get(key, now), now) for key in keys]
        wait = max((tat - tolerance - now for tat in tats), default=0)
        if wait > 0:
            return wait / MICROSECONDS
        if len(self._tats) >= MEMORY_KEYS_BEFORE_SWEEP:
            self._sweep(now)
        for key, tat in zip(keys, tats, strict=True):
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

    async def hit(self, keys: Sequence[str], spec: RateLimitSpec) -> float | None:
        interval, tolerance = interval_and_tolerance(spec)
        try:
            wait = await self._script(
                keys=[self.prefix + key for key in keys], args=[interval, tolerance]
            )
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
    ACCOUNT_PASSWORD = "account_password"  # noqa: S105 (a name, not a password)
    WRITES = "writes"
    RECOVERY = "recovery"  # asking for a reset or confirmation link, using a reset link
    SECOND_FACTOR = "second_factor"  # the code or passkey after the password
    DRAFTS = "drafts"  # saving what is being typed


@dataclass(frozen=True)
class LimitRule:
    """How a view is limited (set with ``rate_limited``)."""

    limit: Limit
    # The view answers its own form on a refusal (see ``refusal``), so nothing typed is lost.
    answers_form: bool = False
    # Also count per login name typed in this field: guesses at one account from many
    # addresses add up.
    name_field: str | None = None


@dataclass(frozen=True)
class Refusal:
    """A POST that must not act, for a view that answers its form with the text kept:
    over its rate limit (429), or refused for another ``reason`` (its ``status``, like a
    stale CSRF token's 400)."""

    retry_after: int
    status: int = 429
    reason: str | None = None

    @property
    def message(self) -> str:
        if self.reason is not None:
            return self.reason
        return (
            "Too many attempts from your address or account, so nothing was saved. "
            f"Wait {self.retry_after} seconds, then send the form again."
        )


def refuse_form(reason: str, status: int) -> bool:
    """Have this POST's view answer its form with ``reason`` instead of acting, when it
    can (``answers_form``): True; False when the caller must refuse it itself."""
    rule = rule_of_request()
    if rule is None or not rule.answers_form:
        return False
    g.setdefault(_REFUSAL_KEY, Refusal(0, status, reason))
    return True


# The signed-in account's id, or None: given by the app (this module knows no feature).
AccountOfRequest = Callable[[], Awaitable[int | None]]


@dataclass(frozen=True)
class RateLimits:
    """This app's limits, per client address and per account, and the store where they count."""

    store: LimitStore
    enabled: bool
    specs: Mapping[Limit, RateLimitSpec]
    name_key: bytes  # keys login names in the store, which must not hold what people typed

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
            Limit.ACCOUNT_PASSWORD: settings.rate_limit_account_password,
            Limit.WRITES: settings.rate_limit_writes,
            Limit.RECOVERY: settings.rate_limit_recovery,
            Limit.SECOND_FACTOR: settings.rate_limit_second_factor,
            Limit.DRAFTS: settings.rate_limit_drafts,
        }
        name_key = hmac.new(settings.secret_key.encode(), b"rate-limit-names", "sha256").digest()
        return cls(store, settings.rate_limits_enabled, specs, name_key)

    async def hit(self, spec: RateLimitSpec, keys: list[str]) -> float | None:
        """Count one request under every key: None if allowed, else the seconds to wait."""
        return await self.store.hit(keys, spec)

    async def hit_account(self, limit: Limit, account_id: int) -> float | None:
        """Count one try at an account that is not signed in yet (the second step of
        signing in, where the view knows whose it is): the same key as a signed-in one."""
        if not self.enabled:
            return None
        return await self.hit(self.specs[limit], [f"{limit.value}:account:{account_id}"])


def rate_limited(
    limit: Limit, *, answers_form: bool = False, name_field: str | None = None
) -> Callable[[View], View]:
    """Count this view's POSTs per client address and per account, before CSRF and the
    view run. Over the limit: a 429, or with ``answers_form`` the view runs and must
    answer its form with ``refusal()``'s message instead of acting."""

    def mark(view: View) -> View:
        setattr(view, _LIMIT_ATTRIBUTE, LimitRule(limit, answers_form, name_field))
        return view

    return mark


def address_key(address: str) -> str:
    """The part of an address one client controls: an IPv6 client gets a whole /64 (RFC
    6177), so it counts once however many of its addresses it uses."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address  # not an IP (a Unix socket, a test client): as it is
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_key() -> str:
    """The connection's own address, by ``address_key``: never a header the client could
    forge (behind a proxy, ``proxy.py`` has set it from the trusted hop)."""
    return address_key(request.remote_addr or "unknown")


def rule_of_request() -> LimitRule | None:
    view = current_app.view_functions.get(request.endpoint or "")
    rule = getattr(view, _LIMIT_ATTRIBUTE, None)
    return rule if isinstance(rule, LimitRule) and request.method == "POST" else None


def refusal() -> Refusal | None:
    """This request's refusal, for a view marked ``answers_form``; None when allowed."""
    found = g.get(_REFUSAL_KEY)
    return found if isinstance(found, Refusal) else None


def install(app: Quart, limits: RateLimits, account_of_request: AccountOfRequest) -> None:
    """Count every limited POST (a ``before_request`` hook) and refuse it over its limit."""

    async def keys_of(rule: LimitRule) -> list[str]:
        keys = [f"{rule.limit.value}:address:{client_key()}"]
        account_id = await account_of_request()
        if account_id is not None:
            keys.append(f"{rule.limit.value}:account:{account_id}")
        if rule.name_field is not None:
            name = (await request.form).get(rule.name_field, "").strip().casefold()
            if name:
                digest = hmac.new(limits.name_key, name.encode(), "sha256").hexdigest()[:32]
                keys.append(f"{rule.limit.value}:name:{digest}")
        return keys

    async def enforce_rate_limits() -> None:
        rule = rule_of_request()
        if not limits.enabled or rule is None:
            return
        wait = await limits.hit(limits.specs[rule.limit], await keys_of(rule))
        if wait is None:
            return
        retry_after = max(1, math.ceil(wait))
        if not rule.answers_form:
            raise TooManyRequests(retry_after=retry_after)
        g.setdefault(_REFUSAL_KEY, Refusal(retry_after))

    async def say_when_to_retry(response: Response) -> Response:
        found = refusal()
        if found is not None and response.status_code == 429:
            response.headers["Retry-After"] = str(found.retry_after)
        return response

    app.before_request(enforce_rate_limits)
    app.after_request(say_when_to_retry)
