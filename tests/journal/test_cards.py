"""Entry cards are rendered once for each content and viewer role, then reused."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

from quart import Quart
from quart.typing import TestClientProtocol as Client

from quartapp.journal.cards import EntryCards
from quartapp.live import events
from quartapp.services import services_of
from tests.helpers import AuthActions, post_form
from tests.test_security import checked_page, second_user

EDIT_LINK = "/edit"


def cards_of(app: Quart) -> EntryCards:
    cards: EntryCards = services_of(app).cards
    return cards


def card_html(page: str, entry_id: int) -> str:
    start = page.index(f'<article class="entry" id="entry-{entry_id}"')
    return page[start : page.index("</article>", start)]


async def live_caught_up(app: Quart) -> None:
    """The hub renders new entries' cards too, for live pages, into the same cache: wait
    until it has, so that what the test counts is the pages' doing alone."""
    hub = services_of(app).hub
    async with services_of(app).database.reader() as session:
        newest = await events.newest_seq(session)
    async with asyncio.timeout(5):
        while hub.last_seq < newest:  # noqa: ASYNC110 - the hub offers no event to await
            await asyncio.sleep(0.01)


async def test_a_kept_card_is_the_card_a_fresh_render_makes(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("Kept **once**", title="Kept")
    await live_caught_up(app)
    first = card_html(await checked_page(await client.get("/")), entry_id)
    kept = len(cards_of(app))
    again = card_html(await checked_page(await client.get("/")), entry_id)
    assert len(cards_of(app)) == kept  # reused, not rendered again
    cards_of(app).size = 0  # nothing kept: every card is rendered anew
    fresh = card_html(await checked_page(await client.get("/")), entry_id)
    assert first == again == fresh
    assert "<strong>once</strong>" in first


async def test_the_author_and_other_readers_get_their_own_cards(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("Whose card?")
    _, bob = await second_user(app, "bob")
    for path in ("/", "/u/alice", f"/entries/{entry_id}"):
        authors = card_html(await checked_page(await client.get(path)), entry_id)
        bobs = card_html(await checked_page(await bob.client.get(path)), entry_id)
        visitors = card_html(await checked_page(await app.test_client().get(path)), entry_id)
        assert f"/entries/{entry_id}{EDIT_LINK}" in authors, path
        assert EDIT_LINK not in bobs, path
        assert EDIT_LINK not in visitors, path


async def test_an_edit_shows_at_once(app: Quart, client: Client, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("before the edit")
    assert "before the edit" in await checked_page(await client.get("/"))
    edit = f"/entries/{entry_id}/edit"
    fields = {"title": "", "body": "after the edit", "visibility": "private"}
    assert (await post_form(client, edit, fields, token_from=edit)).status_code == 303
    page = await checked_page(await client.get("/"))
    assert "after the edit" in page
    assert "before the edit" not in page
    assert '<span class="badge">Private</span>' in card_html(page, entry_id)


async def test_a_change_made_outside_the_app_shows_too(
    app: Quart, client: Client, auth: AuthActions, database_path: Path
) -> None:
    """The key is the content itself, so not even a change no write of ours made (an
    operator's UPDATE) can leave an old card on a page."""
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("as written")
    assert "as written" in await checked_page(await client.get("/"))
    with sqlite3.connect(database_path) as connection:
        connection.execute(
            "UPDATE entries SET body_html = '<p>as corrected</p>' WHERE id = ?", (entry_id,)
        )
    page = await checked_page(await client.get("/"))
    assert "as corrected" in page
    assert "as written" not in page


async def test_only_the_most_recently_used_cards_are_kept(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    cards_of(app).size = 3
    for n in range(5):
        await auth.post_entry(f"entry {n}")
    page = await checked_page(await client.get("/"))
    assert all(f"entry {n}" in page for n in range(5))
    assert len(cards_of(app)) == 3
