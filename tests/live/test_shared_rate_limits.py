"""With REDIS_URL, a rate limit holds across processes: two real hypercorn servers share
one login limit, so the 11th attempt in a minute is refused whichever process gets it."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from tests.database import TestDatabase
from tests.live.servers import (
    CSRF_RE,
    Browser,
    database_environment,
    redis_admin,
    redis_url_or_skip,
    serving,
)


async def test_the_eleventh_login_is_refused_by_either_process(
    tmp_path: Path, test_database: TestDatabase
) -> None:
    redis_url = redis_url_or_skip()
    prefix = f"test:{secrets.token_hex(4)}:"
    environment = {
        **database_environment(test_database.url, tmp_path / "instance"),
        "REDIS_URL": redis_url,
        # Counts of its own: not those of a run less than a minute ago, nor another site's.
        "REDIS_PREFIX": prefix,
        "RATE_LIMITS_ENABLED": "true",
        "RATE_LIMIT_LOGIN": "10/minute",
    }
    async with serving(tmp_path, {"a": environment, "b": environment}) as (a, b):
        user = f"nobody{secrets.token_hex(4)}"  # a fresh address would do; a fresh user too
        browsers = [Browser(a.port), Browser(b.port)]
        statuses = []
        for attempt in range(10):
            status, _, _ = await browsers[attempt % 2].post_form(
                "/login", {"username": user, "password": "wrong password"}, token_from="/login"
            )
            statuses.append(status)
        assert statuses == [400] * 10  # wrong password, but not limited yet
        for browser in browsers:
            status, headers, _ = await browser.post_form(
                "/login", {"username": user, "password": "wrong password"}, token_from="/login"
            )
            assert status == 429
            assert int(headers["retry-after"]) > 0
    with redis_admin(redis_url) as admin:  # the counts are under the site's prefix
        assert list(admin.scan_iter(f"{prefix}ratelimit:login:*"))


async def test_a_concurrent_burst_across_processes_gets_exactly_the_limit(
    tmp_path: Path, test_database: TestDatabase
) -> None:
    """24 attempts at once, half to each process: 10 pass, whatever the interleaving.

    A limiter that reads the count, decides, then writes it back lets most of them through
    (each waits on Redis between the read and the write)."""
    redis_url = redis_url_or_skip()
    environment = {
        **database_environment(test_database.url, tmp_path / "instance"),
        "REDIS_URL": redis_url,
        "REDIS_PREFIX": f"test:{secrets.token_hex(4)}:",  # counts of its own
        "RATE_LIMITS_ENABLED": "true",
        "RATE_LIMIT_LOGIN": "10/minute",
    }
    async with serving(tmp_path, {"a": environment, "b": environment}) as (a, b):
        browsers = [Browser((a, b)[number % 2].port) for number in range(24)]
        tokens = []
        for browser in browsers:  # the login pages first, so the POSTs go out together
            _, _, page = await browser.request("GET", "/login")
            match = CSRF_RE.search(page)
            assert match is not None
            tokens.append(match.group(1))
        form = {"username": "nobody", "password": "wrong password"}
        answers = await asyncio.gather(
            *(
                browser.request("POST", "/login", {"csrf_token": token, **form})
                for browser, token in zip(browsers, tokens, strict=True)
            )
        )
        statuses = sorted(status for status, _, _ in answers)
        assert statuses == [400] * 10 + [429] * 14
