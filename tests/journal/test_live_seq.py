"""Pages tell live.js where to resume: the newest event when the page was read."""

from __future__ import annotations

import re
from pathlib import Path

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.helpers import AuthActions
from tests.test_security import checked_page, db_rows, second_user

LIVE_SEQ_RE = re.compile(r'data-live-seq="(\d+)"')


def newest_seq(database_path: Path) -> int:
    value: int = db_rows(database_path, "SELECT coalesce(max(seq), 0) FROM events")[0][0]
    return value


async def live_seq(client: Client, path: str) -> int:
    match = LIVE_SEQ_RE.search(await checked_page(await client.get(path)))
    assert match is not None, path
    return int(match.group(1))


async def test_pages_resume_from_the_newest_event(
    app: Quart, client: Client, auth: AuthActions, database_path: Path
) -> None:
    await auth.register_and_login("alice")
    visitor = app.test_client()
    for path in ("/", "/u/alice"):  # no entries: the seq is read on its own
        assert await live_seq(visitor, path) == newest_seq(database_path) == 0
    await auth.post_entry("one")
    await auth.post_entry("two", visibility="private")
    _, bob = await second_user(app, "bob")
    await bob.post_entry("bob's")
    newest = newest_seq(database_path)
    assert newest >= 3
    for viewer in (client, bob.client, visitor):
        for path in ("/", "/u/alice", "/u/bob", "/?before=2"):
            assert await live_seq(viewer, path) == newest, path
