"""Drafts (quartapp/journal/drafts.py, draft_routes.py): saved as a writer types, listed,
opened into their box, posted or discarded; private to their writer, never a live event;
cleared when the box is posted. The page's side (static/drafts.js) is driven in Chromium
in tests/e2e/test_writing_browser.py."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quartapp.errors import SESSION_ENDED
from quartapp.journal import drafts
from tests.database import TestDatabase
from tests.helpers import AuthActions, csrf_token, page_text, post_form


async def save_draft(client: Client, key: str, **fields: str) -> Any:
    response = await post_form(client, f"/drafts/{key}", fields, token_from="/")
    return response.status_code, await response.get_json()


@pytest.fixture
async def alice(auth: AuthActions, test_database: TestDatabase) -> AuthActions:
    await auth.register_and_login("alice")
    return auth


async def test_a_compose_draft_is_kept_listed_opened_and_cleared_by_posting(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    events_before = test_database.rows("SELECT COUNT(*) FROM events")
    status, answer = await save_draft(
        client, "compose", title="Half a thought", body="It began with", visibility="private"
    )
    assert status == 200
    assert "saved_at" in answer
    # Saving again replaces it: one draft per box.
    await save_draft(client, "compose", title="Half a thought", body="It began with a walk")
    assert test_database.rows("SELECT key, body FROM drafts") == [
        ("compose", "It began with a walk")
    ]
    assert test_database.rows("SELECT COUNT(*) FROM events") == events_before  # never live

    fetched = await client.get("/drafts/compose")
    assert (await fetched.get_json())["body"] == "It began with a walk"
    listing = await page_text(await client.get("/drafts"))
    assert "Half a thought" in listing
    assert "5 words" in listing
    opened = await page_text(await client.get("/?draft=1"))
    assert "It began with a walk</textarea>" in opened
    assert "Draft opened" in opened

    posted = await post_form(
        client,
        "/entries",
        {"title": "A walk", "body": "It began with a walk.", "visibility": "public"},
        token_from="/",
    )
    assert posted.status_code == 303
    assert test_database.rows("SELECT id FROM drafts") == []
    entry_page = await page_text(await client.get(posted.headers["Location"]))
    assert 'data-draft-posted="compose"' in entry_page  # the browser forgets its copy


async def test_an_edit_draft_belongs_to_the_entry_and_its_author(
    app: Quart, client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    posted = await post_form(client, "/entries", {"body": "first words"}, token_from="/")
    entry_id = int(posted.headers["Location"].rsplit("/", 1)[1])
    assert (await save_draft(client, f"entry-{entry_id}", body="better words"))[0] == 200
    opened = await page_text(await client.get(f"/entries/{entry_id}/edit?draft=1"))
    assert "better words</textarea>" in opened
    plain = await page_text(await client.get(f"/entries/{entry_id}/edit"))
    assert "first words</textarea>" in plain

    saved = await post_form(
        client,
        f"/entries/{entry_id}/edit",
        {"body": "better words", "visibility": "public"},
        token_from=f"/entries/{entry_id}/edit",
    )
    assert saved.status_code == 303
    assert test_database.rows("SELECT id FROM drafts") == []

    bob = AuthActions(app.test_client())
    await bob.register_and_login("bob")
    for key in (f"entry-{entry_id}", "entry-999", "nonsense", "entry-0", "entry-01"):
        response = await post_form(bob.client, f"/drafts/{key}", {"body": "x"}, token_from="/")
        assert response.status_code == 404, key
    assert (await bob.client.get(f"/drafts/entry-{entry_id}")).status_code == 404
    assert "first words" not in await page_text(await bob.client.get("/drafts"))


async def test_a_draft_can_be_posted_or_discarded_from_the_list(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    await save_draft(client, "compose", body="Posted from the list", visibility="private")
    published = await post_form(client, "/drafts/compose/publish", {}, token_from="/drafts")
    assert published.status_code == 303
    assert test_database.rows("SELECT body, visibility FROM entries") == [
        ("Posted from the list", "private")
    ]
    assert test_database.rows("SELECT id FROM drafts") == []

    await save_draft(client, "compose", body="Not this one")
    discarded = await post_form(client, "/drafts/compose/discard", {}, token_from="/drafts")
    assert discarded.status_code == 303
    assert test_database.rows("SELECT id FROM drafts") == []


async def test_a_draft_keeps_the_written_date_as_typed_and_posts_with_it(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    fields = {"body": "Back then", "written_at": "2026-11-29T21:30", "time_zone": "Asia/Tokyo"}
    assert (await save_draft(client, "compose", **fields))[0] == 200
    fetched = await (await client.get("/drafts/compose")).get_json()
    assert (fetched["written_at"], fetched["time_zone"]) == ("2026-11-29T21:30", "Asia/Tokyo")
    opened = await page_text(await client.get("/?draft=1"))
    assert 'value="2026-11-29T21:30"' in opened
    assert 'name="time_zone" value="Asia/Tokyo"' in opened

    published = await post_form(client, "/drafts/compose/publish", {}, token_from="/drafts")
    assert published.status_code == 303
    # 21:30 in Tokyo is 12:30 UTC.
    [(written,)] = test_database.rows("SELECT written_at FROM entries")
    assert str(written).startswith("2026-11-29 12:30")

    for name, limit in (("written_at", drafts.WRITTEN_AT_MAX), ("time_zone", drafts.TIME_ZONE_MAX)):
        status, answer = await save_draft(client, "compose", body="x", **{name: "1" * (limit + 1)})
        assert status == 400
        assert answer["error"] == f"{name} is at most {limit} characters."


async def test_a_draft_over_the_entry_limit_is_kept_not_posted(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    long_text = "word " * 5_000  # 25,000 characters: over an entry's 20,000
    assert (await save_draft(client, "compose", body=long_text))[0] == 200
    refused = await post_form(client, "/drafts/compose/publish", {}, token_from="/drafts")
    assert refused.status_code == 303
    listing = await page_text(await client.get(refused.headers["Location"]))
    assert "cannot be posted as it is" in listing
    assert "at most 20,000 characters" in listing
    assert test_database.rows("SELECT COUNT(*) FROM entries") == [(0,)]
    assert test_database.rows("SELECT length(body) FROM drafts") == [(len(long_text),)]

    status, answer = await save_draft(client, "compose", body="x" * (drafts.BODY_MAX + 1))
    assert status == 400
    assert "at most 200,000 characters" in answer["error"]
    status, answer = await save_draft(client, "compose", body="x", visibility="friends")
    assert status == 400
    # Emptying the box removes its draft.
    assert (await save_draft(client, "compose", body="  "))[0] == 200
    assert test_database.rows("SELECT id FROM drafts") == []


async def test_a_post_after_the_session_ended_says_so_on_the_login_page(
    client: Client, alice: AuthActions
) -> None:
    token = await csrf_token(client, "/")  # the page the writer still has open
    await alice.logout()  # in another tab: the same cookies
    response = await client.post("/entries", form={"body": "lost?", "csrf_token": token})
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=")
    assert SESSION_ENDED in await page_text(await client.get(response.headers["Location"]))
