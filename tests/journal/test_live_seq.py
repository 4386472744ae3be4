"""Pages tell live.js where to resume: the newest event when the page was read."""

from __future__ import annotations

import re

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.database import TestDatabase
from tests.helpers import AuthActions
from tests.test_security import checked_page, second_user

LIVE_SEQ_RE = re.compile(r'data-live-seq="(\d+)"')


def newest_seq(database: TestDatabase) -> int:
    value: int = database.scalar("SELECT coalesce(max(seq), 0) FROM events")
    return value


async def live_seq(client: Client, path: str) -> int:
    match = LIVE_SEQ_RE.search(await checked_page(await client.get(path)))
    assert match is not None, path
    return int(match.group(1))


async def test_pages_resume_from_the_newest_event(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    visitor = app.test_client()
    for path in ("/", "/u/alice"):  # no entries: the seq is read on its own
        assert await live_seq(visitor, path) == newest_seq(test_database) == 0
    await auth.post_entry("one")
    await auth.post_entry("two", visibility="private")
    _, bob = await second_user(app, "bob")
    await bob.post_entry("bob's")
    newest = newest_seq(test_database)
    assert newest >= 3
    for viewer in (client, bob.client, visitor):
        for path in ("/", "/u/alice", "/u/bob", "/?before=2"):
            assert await live_seq(viewer, path) == newest, path
