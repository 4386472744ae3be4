"""A writer's profile page: /u/<username>."""

from __future__ import annotations

import re

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.database import TestDatabase
from tests.helpers import AuthActions, post_form
from tests.journal.test_pagination import walk_pages, write_entries
from tests.test_security import checked_page, second_user


@pytest.mark.parametrize("path", ["/u/alice", "/u/ALICE", "/u/Alice"])
async def test_the_profile_answers_in_any_case(
    app: Quart, auth: AuthActions, test_database: TestDatabase, path: str
) -> None:
    await auth.register_and_login("alice")
    response = await post_form(
        auth.client, "/account/profile", {"about": "I write about birds."}, token_from="/account"
    )
    assert response.status_code == 303
    response = await app.test_client().get(path)
    assert response.status_code == 200
    page = await checked_page(response)
    assert "<h1>alice</h1>" in page
    assert "I write about birds." in page

    joined = test_database.scalar("SELECT created_at FROM users WHERE username = 'alice'")
    joined_at = test_database.timestamp(joined)
    stamp = re.search(r'Joined <time datetime="([^"]+)">', page)
    assert stamp is not None
    assert stamp.group(1) == joined_at.strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize(
    "path", ["/u/nobody", "/u/ali", "/u/alice2", "/u/%3Cscript%3E", "/u/" + "a" * 500]
)
async def test_an_unknown_user_is_404(client: Client, auth: AuthActions, path: str) -> None:
    await auth.register_and_login("alice")
    response = await client.get(path)
    assert response.status_code == 404
    assert "Not found" in await checked_page(response)


async def test_the_profile_lists_only_that_writers_entries(app: Quart, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    mine = await auth.post_entry("alice writes", title="Alice's")
    _, bob = await second_user(app, "bob")
    theirs = await bob.post_entry("bob writes", title="Bob's")
    page = await checked_page(await app.test_client().get("/u/alice"))
    assert f'id="entry-{mine}"' in page
    assert f'id="entry-{theirs}"' not in page


async def test_an_empty_profile_says_so(client: Client, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    page = await checked_page(await client.get("/u/alice"))
    assert "alice has not shared any entries yet." in page


async def test_profile_entries_are_paginated_like_the_home_page(
    app: Quart, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    await second_user(app, "bob")
    alice_id = test_database.rows("SELECT id FROM users WHERE username = 'alice'")[0][0]
    bob_id = test_database.rows("SELECT id FROM users WHERE username = 'bob'")[0][0]
    alice_public: list[int] = []
    alice_private: list[int] = []
    for _ in range(3):
        alice_public += await write_entries(app, alice_id, 9)
        alice_private += await write_entries(app, alice_id, 3, "private")
        await write_entries(app, bob_id, 10)

    visitor_pages = await walk_pages(app.test_client(), "/u/alice")
    assert [len(page) for page in visitor_pages] == [20, 7]
    assert [entry for page in visitor_pages for entry in page] == sorted(alice_public)[::-1]

    own_pages = await walk_pages(auth.client, "/u/alice")
    assert [len(page) for page in own_pages] == [20, 16]
    own = sorted(alice_public + alice_private, reverse=True)
    assert [entry for page in own_pages for entry in page] == own


async def test_the_owner_gets_a_link_to_edit_the_profile(app: Quart, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    own = await checked_page(await auth.client.get("/u/alice"))
    assert 'href="/account">Edit your profile' in own
    visitor = await checked_page(await app.test_client().get("/u/alice"))
    assert "Edit your profile" not in visitor
