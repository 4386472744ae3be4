"""/ws through Quart's test client: events reach the right viewers, in order, resumably."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from quart import Quart
from quart.testing.connections import WebsocketDisconnectError, WebsocketResponseError
from quart.typing import TestClientProtocol as Client
from quart.typing import TestWebsocketConnectionProtocol as Socket

from quartapp.live import events
from quartapp.live.hub import Hub
from quartapp.live.mailbox import Close
from quartapp.services import services_of
from tests.database import TestDatabase
from tests.helpers import AuthActions, post_form

ORIGIN = {"Origin": "http://localhost"}
QUIET = 0.3  # seconds to wait for a message that must not come


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limits_enabled": False}


@asynccontextmanager
async def live(client: Client, since: int | None = 0) -> AsyncIterator[Socket]:
    async with client.websocket("/ws", headers=ORIGIN) as socket:
        if since is not None:
            await socket.send(json.dumps({"since": since}))
        yield socket


async def next_message(socket: Socket) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket.receive(), 3.0))
    return message


async def nothing_more(socket: Socket) -> None:
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(socket.receive(), QUIET)


async def closed_with(socket: Socket) -> int:
    with pytest.raises(WebsocketDisconnectError) as closed:
        await asyncio.wait_for(socket.receive(), 3.0)
    code: int = closed.value.args[0]
    return code


async def writer(app: Quart, name: str) -> AuthActions:
    actions = AuthActions(app.test_client())
    await actions.register_and_login(name)
    return actions


async def edit(actions: AuthActions, entry_id: int, body: str, visibility: str) -> None:
    response = await post_form(
        actions.client,
        f"/entries/{entry_id}/edit",
        {"title": "", "body": body, "visibility": visibility},
        token_from="/",
    )
    assert response.status_code == 303


async def delete(actions: AuthActions, entry_id: int) -> None:
    response = await post_form(actions.client, f"/entries/{entry_id}/delete", {}, token_from="/")
    assert response.status_code == 303


def event_rows(database: TestDatabase) -> list[tuple[Any, ...]]:
    return database.rows(
        "SELECT seq, kind, entry_id, public_before, public_after FROM events ORDER BY seq"
    )


async def test_created_updated_deleted_reach_a_visitor(app: Quart) -> None:
    alice = await writer(app, "alice")
    async with live(app.test_client()) as visitor:
        entry_id = await alice.post_entry("first **words**", title="Hello")
        created = await next_message(visitor)
        assert created["type"] == "created"
        assert created["entry_id"] == entry_id
        assert "<strong>words</strong>" in created["html"]
        assert f'id="entry-{entry_id}"' in created["html"]
        assert "/edit" not in created["html"]  # a reader's card has no Edit link

        await edit(alice, entry_id, "second words", "public")
        updated = await next_message(visitor)
        assert (updated["type"], updated["entry_id"]) == ("updated", entry_id)
        assert "second words" in updated["html"]
        assert "edited" in updated["html"]

        await delete(alice, entry_id)
        deleted = await next_message(visitor)
        assert deleted == {"seq": deleted["seq"], "type": "deleted", "entry_id": entry_id}
        assert created["seq"] < updated["seq"] < deleted["seq"]


async def test_events_are_written_in_the_same_transaction(
    app: Quart, test_database: TestDatabase
) -> None:
    alice = await writer(app, "alice")
    entry_id = await alice.post_entry("x")
    await edit(alice, entry_id, "y", "private")
    await delete(alice, entry_id)
    rows = event_rows(test_database)
    kinds = [(kind, entry, before, after) for _, kind, entry, before, after in rows
             if kind != "sessions"]  # fmt: skip
    assert kinds == [
        ("created", entry_id, 0, 1),
        ("updated", entry_id, 1, 0),
        ("deleted", entry_id, 0, 0),
    ]


async def test_a_private_entry_reaches_its_author_only(app: Quart) -> None:
    alice = await writer(app, "alice")
    bob = await writer(app, "bob")
    async with (
        live(alice.client) as alices,
        live(bob.client) as bobs,
        live(app.test_client()) as visitors,
    ):
        private_id = await alice.post_entry("my secret", visibility="private")
        mine = await next_message(alices)
        assert (mine["type"], mine["entry_id"]) == ("created", private_id)
        assert "my secret" in mine["html"]
        assert f"/entries/{private_id}/edit" in mine["html"]  # the author's card
        public_id = await alice.post_entry("for everyone")
        for socket in (bobs, visitors):
            message = await next_message(socket)
            assert message["entry_id"] == public_id  # the private one never came
            assert "my secret" not in json.dumps(message)


async def test_visibility_changes_look_like_arrivals_and_departures(app: Quart) -> None:
    alice = await writer(app, "alice")
    entry_id = await alice.post_entry("now you see me")
    hub: Hub = services_of(app).hub
    await hub.dispatch_new()
    async with live(app.test_client(), since=hub.last_seq) as visitor:  # as the page would
        await edit(alice, entry_id, "now you don't", "private")
        message = await next_message(visitor)
        assert (message["type"], message["entry_id"]) == ("deleted", entry_id)
        assert "html" not in message
        await edit(alice, entry_id, "back again", "public")
        message = await next_message(visitor)
        assert (message["type"], message["entry_id"]) == ("created", entry_id)
        assert "back again" in message["html"]


async def test_resume_replays_exactly_the_missed_events_in_order(app: Quart) -> None:
    alice = await writer(app, "alice")
    async with live(app.test_client()) as visitor:
        first = await alice.post_entry("one")
        last_seen = (await next_message(visitor))["seq"]
    # Disconnected: three changes happen.
    second = await alice.post_entry("two")
    await edit(alice, first, "one, edited", "public")
    await delete(alice, second)
    third = await alice.post_entry("three")
    async with live(app.test_client(), since=last_seen) as visitor:
        replayed = [await next_message(visitor) for _ in range(3)]
        # "two" was created and deleted while away: its creation has no card to send any
        # more (it is gone), so the reader gets only its deletion.
        assert [(m["type"], m["entry_id"]) for m in replayed] == [
            ("updated", first),
            ("deleted", second),
            ("created", third),
        ]
        seqs = [m["seq"] for m in replayed]
        assert seqs == sorted(seqs)
        assert seqs[0] > last_seen
        await nothing_more(visitor)  # no duplicates of the replay from the live stream
        fourth = await alice.post_entry("four")
        assert (await next_message(visitor))["entry_id"] == fourth


async def test_since_older_than_retention_gets_resync(
    app: Quart, test_database: TestDatabase
) -> None:
    alice = await writer(app, "alice")
    for body in ("a", "b", "c"):
        await alice.post_entry(body)
    # The hub has fanned them out (else a client at seq 1 is as current as the hub, and
    # rightly gets 2 and 3 live); then, as pruning would:
    hub: Hub = services_of(app).hub
    await hub.dispatch_new()
    test_database.execute("DELETE FROM events WHERE seq < (SELECT max(seq) FROM events)")
    async with live(app.test_client(), since=1) as visitor:
        assert await next_message(visitor) == {"type": "resync"}


async def test_since_beyond_the_newest_gets_resync(app: Quart) -> None:
    async with live(app.test_client(), since=10**6) as visitor:
        assert await next_message(visitor) == {"type": "resync"}


async def test_an_up_to_date_client_gets_nothing_until_something_happens(app: Quart) -> None:
    alice = await writer(app, "alice")
    await alice.post_entry("old news")
    hub: Hub = services_of(app).hub
    await hub.dispatch_new()
    async with live(app.test_client(), since=hub.last_seq) as visitor:
        await nothing_more(visitor)


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": "https://evil.example"},
        {"Origin": "null"},
        {"Origin": "http://localhost.evil.example"},
        {"Origin": "https://localhost"},  # another scheme is another origin
        {},
    ],
)
async def test_a_foreign_origin_is_refused_before_accept(
    app: Quart, headers: dict[str, str]
) -> None:
    with pytest.raises(WebsocketResponseError) as refused:
        async with app.test_client().websocket("/ws", headers=headers) as socket:
            await socket.receive()
    assert refused.value.response.status_code == 403


async def test_configured_origins_are_allowed(make_app: Any) -> None:
    app = make_app(allowed_origins=("https://journal.example",))
    async with app.test_app() as test_app:
        client = test_app.test_client()
        async with client.websocket("/ws", headers={"Origin": "https://journal.example"}) as ok:
            await ok.send(json.dumps({"since": 0}))
            await nothing_more(ok)
        with pytest.raises(WebsocketResponseError):
            async with client.websocket("/ws", headers=ORIGIN) as socket:
                await socket.receive()


async def test_logout_closes_that_sessions_socket(app: Quart) -> None:
    alice = await writer(app, "alice")
    async with live(alice.client) as socket:
        await nothing_more(socket)
        await alice.logout()
        assert await closed_with(socket) == 1008


async def test_a_password_change_closes_the_other_sessions_sockets(app: Quart) -> None:
    alice = await writer(app, "alice")
    other = AuthActions(app.test_client())
    assert (await other.login("alice")).status_code == 303
    async with live(other.client) as others, live(alice.client) as mine:
        response = await post_form(
            alice.client,
            "/account/password",
            {
                "current_password": "correct horse battery",
                "password": "a brand new password",
                "confirm": "a brand new password",
            },
            token_from="/account",
        )
        assert response.status_code == 303
        assert await closed_with(others) == 1008
        await nothing_more(mine)  # the session that changed it stays


async def test_a_cookie_replayed_after_logout_connects_only_as_a_visitor(app: Quart) -> None:
    alice = AuthActions(app.test_client())
    response = await alice.register("alice")
    cookie = next(
        header.split(";", 1)[0].split("=", 1)[1]
        for header in response.headers.getlist("Set-Cookie")
        if header.startswith("quartapp_auth=")
    )
    await alice.post_entry("only mine", visibility="private")
    await alice.logout()
    replay = app.test_client()
    replay.set_cookie("localhost", "quartapp_auth", cookie)
    async with live(replay, since=0) as socket:  # as alice, the replay would hold her entry
        await nothing_more(socket)


@pytest.mark.parametrize(
    ("first", "reason"),
    [
        ("x" * 5000, "too large"),
        ("not json", "JSON"),
        ("[1, 2]", "objects"),
        ('{"since": "5"}', "since"),
        ('{"since": -1}', "negative"),
        ('{"since": 1, "extra": 2}', "since"),
    ],
)
async def test_a_bad_first_message_closes_with_1008(app: Quart, first: str, reason: str) -> None:
    async with live(app.test_client(), since=None) as socket:
        await socket.send(first)
        assert await closed_with(socket) == 1008


@pytest.mark.parametrize("later", ['{"since": 3}', '{"type": "shout"}', "y" * 4097])
async def test_an_unexpected_later_message_closes_with_1008(app: Quart, later: str) -> None:
    async with live(app.test_client()) as socket:
        await socket.send('{"type": "ping"}')
        assert await next_message(socket) == {"type": "pong"}
        await socket.send(later)
        assert await closed_with(socket) == 1008


async def test_a_slow_consumer_is_closed_and_others_get_everything(make_app: Any) -> None:
    app = make_app(live_queue_size=8, rate_limits_enabled=False)
    async with app.test_app() as test_app:
        hub: Hub = services_of(test_app.app).hub
        stuck = hub.connect(None, None)  # a client that never reads
        alice = await writer(test_app.app, "alice")
        async with live(test_app.test_client()) as reader:
            posted = [await alice.post_entry(f"entry {n}") for n in range(20)]
            received = [(await next_message(reader))["entry_id"] for _ in posted]
            assert received == posted
        assert stuck.closing
        assert len(stuck.queue) == 1
        item = await stuck.queue.get()  # there: returns at once
        assert isinstance(item, Close)
        assert item.code == 1013
        hub.disconnect(stuck)


async def test_pruning_removes_old_events_but_keeps_the_newest(
    app: Quart, test_database: TestDatabase
) -> None:
    alice = await writer(app, "alice")
    for body in ("a", "b", "c"):
        await alice.post_entry(body)
    before = [seq for seq, *_ in event_rows(test_database)]
    years_ago = test_database.time_value(datetime(2020, 1, 1, tzinfo=UTC))
    test_database.execute("UPDATE events SET created_at = :then", then=years_ago)
    await services_of(app).search_index.catch_up()  # it keeps what it has not read
    async with services_of(app).database.transaction() as session:
        removed = await events.prune(session, events.retention_cutoff(7))
    assert removed == len(before) - 1
    assert [seq for seq, *_ in event_rows(test_database)] == [max(before)]
    async with live(app.test_client(), since=1) as visitor:  # what it missed is gone
        assert await next_message(visitor) == {"type": "resync"}


async def test_the_hub_stops_even_when_woken_as_it_is_cancelled(app: Quart) -> None:
    """A wake-up (a Redis message, a commit) arriving with the cancel must not swallow it:
    on Python 3.11 asyncio.wait_for did, the hub went on polling and shutdown hung."""
    hub: Hub = services_of(app).hub
    await hub.broker.notify()  # sets the wake-up without yielding to the loop...
    stopping = asyncio.create_task(hub.stop())  # ...and stop() cancels in the same step
    done, _ = await asyncio.wait({stopping}, timeout=1)
    if not done:  # cancelled again, it stops: a second cancel meets no wake-up
        stopping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await stopping
    assert done, "the hub ignored its cancel and kept running"


def card_on(page: str, entry_id: int) -> str:
    start = page.index(f'<article class="entry" id="entry-{entry_id}"')
    return page[start : page.index("</article>", start) + len("</article>")]


async def test_live_cards_are_the_cards_the_pages_show(app: Quart) -> None:
    """One card template and one cache for pages and live updates: a live card is the
    card the home page shows, for a reader and for the author alike."""
    alice = await writer(app, "alice")
    async with live(app.test_client()) as visitor, live(alice.client) as author:
        entry_id = await alice.post_entry("a *card* like any other", title="Same")
        for_visitor = (await next_message(visitor))["html"]
        for_author = (await next_message(author))["html"]
    visitors_home = await (await app.test_client().get("/")).get_data(as_text=True)
    authors_home = await (await alice.client.get("/")).get_data(as_text=True)
    assert for_visitor == card_on(visitors_home, entry_id)
    assert for_author == card_on(authors_home, entry_id)
    assert for_visitor != for_author  # the author's has the Edit link
