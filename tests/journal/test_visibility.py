"""A private entry shows to its author only: nowhere else, on no page."""

from __future__ import annotations

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.database import TestDatabase
from tests.helpers import AuthActions, post_form
from tests.journal.test_pagination import page_texts, write_entries
from tests.test_security import checked_page, second_user

SECRET_TITLE = "Secret-title-7f3a"
SECRET_BODY = "secret-body-91c2"


async def all_pages(client: Client, start: str) -> str:
    return "\n".join(await page_texts(client, start))


async def _alice_with_a_secret(app: Quart, auth: AuthActions, test_database: TestDatabase) -> int:
    """Alice has 45 public entries and, among them, one private one in the middle."""
    await auth.register_and_login("alice")
    alice = test_database.rows("SELECT id FROM users WHERE username = 'alice'")[0][0]
    await write_entries(app, alice, 20)
    secret = await auth.post_entry(SECRET_BODY, title=SECRET_TITLE, visibility="private")
    await write_entries(app, alice, 25)
    return secret


async def test_a_private_entry_shows_nowhere_to_others(
    app: Quart, auth: AuthActions, test_database: TestDatabase
) -> None:
    secret = await _alice_with_a_secret(app, auth, test_database)
    bob, _ = await second_user(app, "bob")
    visitor = app.test_client()
    for client in (bob, visitor):
        for start in ("/", "/u/alice", "/u/ALICE"):
            pages = await all_pages(client, start)
            assert "entry 0" in pages  # the oldest public entry was reached
            assert SECRET_TITLE not in pages
            assert SECRET_BODY not in pages
            assert f"entry-{secret}" not in pages
            assert f"/entries/{secret}" not in pages
            assert "Private" not in pages
        response = await client.get(f"/entries/{secret}")
        assert response.status_code == 404
        page = await checked_page(response)
        assert SECRET_TITLE not in page
        assert SECRET_BODY not in page

    response = await bob.get(f"/entries/{secret}/edit")
    assert response.status_code == 404
    assert SECRET_BODY not in await checked_page(response)
    response = await visitor.get(f"/entries/{secret}/edit")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=")
    for path in (f"/entries/{secret}/edit", f"/entries/{secret}/delete"):
        response = await post_form(bob, path, {"body": "mine now"}, token_from="/")
        assert response.status_code == 404
    assert test_database.rows("SELECT body FROM entries WHERE id = :id", id=secret) == [
        (SECRET_BODY,)
    ]


async def test_the_author_sees_a_private_entry_everywhere(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    secret = await _alice_with_a_secret(app, auth, test_database)
    for start in ("/", "/u/alice"):
        pages = await all_pages(client, start)
        assert pages.count(SECRET_TITLE) == 1
        assert f'id="entry-{secret}"' in pages
    page = await checked_page(await client.get(f"/entries/{secret}"))
    assert SECRET_BODY in page
    assert '<span class="badge">Private</span>' in page
    assert (await client.get(f"/entries/{secret}/edit")).status_code == 200


async def test_making_an_entry_private_hides_it_and_public_shows_it(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry(SECRET_BODY, title=SECRET_TITLE)
    visitor = app.test_client()
    assert SECRET_BODY in await checked_page(await visitor.get("/"))

    for visibility, status in (("private", 404), ("public", 200)):
        response = await post_form(
            client,
            f"/entries/{entry_id}/edit",
            {"title": SECRET_TITLE, "body": SECRET_BODY, "visibility": visibility},
            token_from="/",
        )
        assert response.status_code == 303
        assert (await visitor.get(f"/entries/{entry_id}")).status_code == status
        for path in ("/", "/u/alice"):
            shown = SECRET_BODY in await checked_page(await visitor.get(path))
            assert shown == (visibility == "public"), (visibility, path)
