"""A visitor's home page is rendered once for every visitor while nothing on it changed
(journal/routes.py, ``_visitor_home``): every change shows on the very next page, in every
worker, and nothing of one visitor's (a flash message) is shown to another."""

from __future__ import annotations

from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.helpers import AuthActions, page_text, post_form


async def visitor_page(app: Quart) -> str:
    response = await app.test_client().get("/")
    assert response.status_code == 200
    return await page_text(response)


async def edit(client: Client, entry_id: int, body: str, visibility: str) -> None:
    response = await post_form(
        client,
        f"/entries/{entry_id}/edit",
        {"title": "", "body": body, "visibility": visibility},
        token_from=f"/entries/{entry_id}/edit",
    )
    assert response.status_code == 303


async def test_every_change_shows_on_the_next_visitor_page(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    first = await auth.post_entry("first-public-words")
    assert "first-public-words" in await visitor_page(app)
    assert await visitor_page(app) == await visitor_page(app)  # the same page, kept

    second = await auth.post_entry("second-public-words")
    assert "second-public-words" in await visitor_page(app)
    await edit(client, second, "second-edited-words", "public")
    page = await visitor_page(app)
    assert "second-edited-words" in page
    assert "second-public-words" not in page
    await edit(client, second, "second-edited-words", "private")
    assert "second-edited-words" not in await visitor_page(app)
    response = await post_form(client, f"/entries/{first}/delete", {}, token_from="/")
    assert response.status_code == 303
    assert "first-public-words" not in await visitor_page(app)


async def test_a_change_made_in_another_worker_shows_at_once(started: Any, make_app: Any) -> None:
    """Two apps on one database, as two workers: the page kept by one is not shown once
    the other wrote (the check is the database's newest change, not this worker's hub)."""
    reader = await started()
    writer = await started()
    author = AuthActions(writer.test_client())
    await author.register_and_login("alice")
    await author.post_entry("written-in-worker-one")
    assert "written-in-worker-one" in await visitor_page(reader)
    await author.post_entry("written-in-worker-two")
    assert "written-in-worker-two" in await visitor_page(reader)


async def test_a_visitors_flash_is_theirs_alone(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    await auth.post_entry("some-public-words")
    response = await auth.logout()
    assert response.status_code == 303
    own = await page_text(await client.get("/"))  # the logged-out visitor, with a flash
    assert 'class="flash' in own
    assert "some-public-words" in own
    for _ in range(2):
        assert 'class="flash' not in await visitor_page(app)
