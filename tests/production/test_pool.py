"""More writers at once than the database pool has connections all get their answers.

Each POST reads (the login) before it writes. When the read kept its connection while
the write waited for a second one, as many concurrent writers as the pool has connections
(5 + 10 overflow) held them all and waited for each other until the pool's 30 s timeout:
then most of them got a 500. The crash test found it with 16 writers now and then; 40 at
once stalled every time.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.live.servers import CSRF_RE, Browser, serving
from tests.production.databases import ScratchDatabase, backends, provisioned

WRITERS = 40  # well over the pool's 15 connections


async def logged_in_token(browser: Browser, username: str) -> str:
    await browser.register(username)
    _, _, page = await browser.request("GET", "/")
    match = CSRF_RE.search(page)
    assert match is not None
    return match.group(1)


@pytest.mark.usefixtures("enough_threads")
@pytest.mark.parametrize("backend", backends())
async def test_more_concurrent_writers_than_connections(backend: str, tmp_path: Path) -> None:
    async with provisioned(backend, tmp_path) as database:
        environment = {"DATABASE_URL": database.url, "INSTANCE_PATH": str(tmp_path / "instance")}
        async with serving(tmp_path, {"server": environment}) as (server,):
            browsers = [Browser(server.port) for _ in range(WRITERS)]
            tokens = await asyncio.gather(
                *(logged_in_token(browser, f"writer{n:02d}") for n, browser in enumerate(browsers))
            )
            answers = await asyncio.gather(
                *(
                    browser.request(
                        "POST",
                        "/entries",
                        {"csrf_token": token, "body": f"at once {n}", "visibility": "public"},
                    )
                    for n, (browser, token) in enumerate(zip(browsers, tokens, strict=True))
                )
            )
        statuses = [status for status, _, _ in answers]
        assert statuses == [303] * WRITERS
        await check_all_stored(database)


async def check_all_stored(database: ScratchDatabase) -> None:
    bodies = sorted(entry.body for entry in await database.entries())
    assert bodies == sorted(f"at once {n}" for n in range(WRITERS))
