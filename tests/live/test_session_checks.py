"""A live socket lives no longer than its login (issue 11, item 10), on real hypercorn.

A login can end with no event to announce it: idle expiry deletes its row, and so may an
operator. Such a socket used to go on receiving its user's private entries. Now whatever an
event shows its author is sent only once the login is found current, and every
``LIVE_SESSION_CHECK_SECONDS`` all of a worker's signed-in sockets are checked in one query.
"""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

from quartapp.accounts import store
from quartapp.accounts.store import SessionPolicy
from quartapp.db import Database
from quartapp.live.hub import Hub
from quartapp.live.limits import SocketSlots
from quartapp.live.protocol import POLICY_VIOLATION, SESSION_ENDED
from quartapp.live.viewers import Viewer
from quartapp.models import utcnow
from tests.database import TestDatabase
from tests.helpers import AuthActions
from tests.live.servers import Browser, Server, database_environment, live, serving

QUIET = 0.5  # seconds to wait for a message that must not come


async def closed(socket_: ClientConnection, within: float) -> list[Any]:
    """Everything the socket still received before it was closed (within the time)."""
    received = []

    async def read_all() -> None:
        while True:
            received.append(json.loads(await socket_.recv()))

    with pytest.raises(ConnectionClosed):
        await asyncio.wait_for(read_all(), within)
    return received


async def nothing_more(socket_: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(socket_.recv(), QUIET)


def end_login_silently(database: TestDatabase, login_id: int) -> None:
    """What idle expiry does to a login: its row goes, with no event to announce it."""
    database.execute("DELETE FROM login_sessions WHERE id = :id", id=login_id)


def login_ids(database: TestDatabase) -> list[int]:
    return [row[0] for row in database.rows("SELECT id FROM login_sessions ORDER BY id")]


async def two_logins(server: Server) -> tuple[Browser, Browser]:
    """Alice signed in twice: the first login is to end, the second goes on writing."""
    ending, writing = Browser(server.port), Browser(server.port)
    await ending.register("alice")
    await writing.login("alice")
    return ending, writing


async def test_a_private_entry_is_not_sent_to_a_socket_whose_login_ended(
    test_database: TestDatabase, tmp_path: Path
) -> None:
    environment = {
        **database_environment(test_database.url, tmp_path / "instance"),
        "LIVE_SESSION_CHECK_SECONDS": "60",  # not the periodic check: the delivery's own
    }
    async with serving(tmp_path, {"server": environment}) as [server]:
        ending, writing = await two_logins(server)
        async with live(server, browser=ending) as ended, live(server, browser=writing) as mine:
            first, _ = login_ids(test_database)
            end_login_silently(test_database, first)
            entry = await writing.post_entry("only for me", visibility="private")
            delivered = json.loads(await asyncio.wait_for(mine.recv(), 5))
            assert (delivered["type"], delivered["entry_id"]) == ("created", entry)
            assert "only for me" in delivered["html"]  # a current login gets it
            assert await closed(ended, within=5) == []  # the ended one: nothing, then closed
            assert ended.close_code == POLICY_VIOLATION
            assert ended.close_reason == SESSION_ENDED
            await nothing_more(mine)


async def test_a_replay_is_not_sent_to_a_socket_whose_login_ended_since_its_handshake(
    test_database: TestDatabase, tmp_path: Path
) -> None:
    environment = {
        **database_environment(test_database.url, tmp_path / "instance"),
        "LIVE_SESSION_CHECK_SECONDS": "60",
    }
    async with serving(tmp_path, {"server": environment}) as [server]:
        ending, writing = await two_logins(server)
        async with connect(
            f"ws://127.0.0.1:{server.port}/ws",
            origin=Origin(server.origin),
            additional_headers=ending.cookie_header(),
            proxy=None,
        ) as ended:
            # Signed in at the handshake; before it sends ``since``, its login ends and a
            # private entry is written, which the replay from 0 would hold.
            first, _ = login_ids(test_database)
            end_login_silently(test_database, first)
            await writing.post_entry("only for me", visibility="private")
            await ended.send(json.dumps({"since": 0}))
            assert await closed(ended, within=5) == []
            assert (ended.close_code, ended.close_reason) == (POLICY_VIOLATION, SESSION_ENDED)


async def test_the_periodic_check_closes_an_idle_socket_whose_login_ended(
    test_database: TestDatabase, tmp_path: Path
) -> None:
    environment = {
        **database_environment(test_database.url, tmp_path / "instance"),
        "LIVE_SESSION_CHECK_SECONDS": "1",
    }
    async with serving(tmp_path, {"server": environment}) as [server]:
        ending, writing = await two_logins(server)
        async with (
            live(server, browser=ending) as ended,
            live(server, browser=writing) as mine,
            live(server) as visitor,
        ):
            first, _ = login_ids(test_database)
            end_login_silently(test_database, first)
            # No event at all: only the periodic check can notice (within 1 s, and the
            # sender's turn to close it).
            assert await closed(ended, within=5) == []
            assert (ended.close_code, ended.close_reason) == (POLICY_VIOLATION, SESSION_ENDED)
            # The current login and the visitor stay through further checks.
            await asyncio.sleep(1.5)
            for socket_ in (mine, visitor):
                await socket_.send('{"type": "ping"}')
                assert json.loads(await asyncio.wait_for(socket_.recv(), 5)) == {"type": "pong"}


class CountingViewers:
    """Viewers that answer from a set of current logins and count the queries asked."""

    def __init__(self, alive: set[str]) -> None:
        self.alive = alive
        self.asked: list[set[str]] = []

    async def current(self) -> Viewer | None:
        return None

    async def signed_in(self, session_tokens: Any) -> set[str]:
        self.asked.append(set(session_tokens))
        return self.alive & set(session_tokens)


async def test_one_check_asks_once_for_every_signed_in_socket_of_the_worker() -> None:
    viewers = CountingViewers({f"token-{n}" for n in range(0, 300, 2)})  # every other ended
    hub = Hub(
        Database("sqlite+aiosqlite://"),
        None,  # type: ignore[arg-type]  # neither started nor fanned out here
        None,  # type: ignore[arg-type]
        8,
        viewers,
        SocketSlots(1000, 1000),
        30.0,
    )
    signed_in = [hub.connect(n, f"token-{n}") for n in range(300)]
    visitors = [hub.connect(None, None) for _ in range(50)]
    await hub.check_sessions()
    assert viewers.asked == [{f"token-{n}" for n in range(300)}]  # one question for all
    assert [c.closing for c in signed_in] == [n % 2 == 1 for n in range(300)]
    assert not any(c.closing for c in visitors)
    reason = await signed_in[1].queue.get()
    assert (reason.code, reason.reason) == (POLICY_VIOLATION, SESSION_ENDED)  # type: ignore[union-attr]


async def test_current_logins_leaves_out_ended_and_expired_ones_and_writes_nothing(
    make_app: Any, test_database: TestDatabase
) -> None:
    app = make_app(rate_limits_enabled=False)
    async with app.test_app():
        await AuthActions(app.test_client()).register_and_login("alice")
    database = Database(test_database.url)
    await database.open()
    try:
        async with database.transaction() as session:  # logins whose ids the test knows
            tokens = [await store.start_session(session, 1, remember=False) for _ in range(3)]
        _, ended, idle = login_ids(test_database)[-3:]
        end_login_silently(test_database, ended)
        test_database.execute(
            "UPDATE login_sessions SET last_seen_at = :at WHERE id = :id",
            at=test_database.time_value(utcnow() - timedelta(hours=2)),
            id=idle,
        )
        before = test_database.snapshot()
        policy = SessionPolicy(remember_for=timedelta(days=30), idle_timeout=timedelta(hours=1))
        async with database.reader() as read:
            current = await store.current_logins(read, [*tokens, "never-a-login"], policy, utcnow())
        assert current == {tokens[0]}
        assert test_database.snapshot() == before  # an open socket is not a use of its login
    finally:
        await database.close()
