"""Following writers (quartapp/follows/): the buttons on profiles, their counts, and
``/following``, the public entries of the people one follows."""

from __future__ import annotations

import re
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.database import TestDatabase
from tests.helpers import DEFAULT_PASSWORD, AuthActions, page_text, post_form, titles
from tests.test_security import checked_page, second_user


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limits_enabled": False}


async def follow(client: Client, username: str, action: str = "follow") -> int:
    response = await post_form(client, f"/u/{username}/{action}", {}, token_from=f"/u/{username}")
    return response.status_code


def counts(profile: str) -> tuple[int, int]:
    followers = re.search(r"<span data-followers>(\d+) follower", profile)
    following = re.search(r"<span data-following>following (\d+)</span>", profile)
    assert followers is not None
    assert following is not None
    return int(followers.group(1)), int(following.group(1))


async def test_following_shows_the_public_entries_of_the_writers_followed(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    await auth.post_entry("Mine, not on my Following page", title="Alice's own")
    _, bob_auth = await second_user(app, "bob")
    await bob_auth.post_entry("From Bob", title="Bob public")
    await bob_auth.post_entry("Secret", title="Bob private", visibility="private")
    _, carol_auth = await second_user(app, "carol")
    await carol_auth.post_entry("From Carol", title="Carol public")
    _, dave_auth = await second_user(app, "dave")
    await dave_auth.post_entry("From Dave", title="Dave public")

    empty = await checked_page(await client.get("/following"))
    assert "You follow nobody yet." in empty
    assert titles(empty) == []

    assert await follow(client, "bob") == 303
    assert await follow(client, "Carol") == 303  # a username in any case
    await bob_auth.post_entry("Bob again", title="Bob later")
    page = await checked_page(await client.get("/following"))
    assert titles(page) == ["Bob later", "Carol public", "Bob public"]
    assert 'data-live-authors="bob carol"' in page  # the live cards it keeps
    assert 'href="/u/bob">bob</a>, <a href="/u/carol">carol</a>' in page

    assert await follow(client, "bob", "unfollow") == 303
    assert titles(await page_text(await client.get("/following"))) == ["Carol public"]


async def test_profiles_count_followers_and_offer_the_right_button(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    bob, _ = await second_user(app, "bob")
    carol, _ = await second_user(app, "carol")

    before = await checked_page(await client.get("/u/bob"))
    assert counts(before) == (0, 0)
    assert 'action="/u/bob/follow"' in before
    assert await follow(client, "bob") == 303
    assert await follow(client, "bob") == 303  # twice (two tabs): still once
    assert await follow(carol, "bob") == 303
    assert await follow(bob, "alice") == 303

    after = await checked_page(await client.get("/u/bob"))
    assert counts(after) == (2, 1)
    assert 'action="/u/bob/unfollow"' in after
    assert "You follow bob" in after
    own = await checked_page(await client.get("/u/alice"))
    assert counts(own) == (1, 1)
    assert "/alice/follow" not in own  # no button to follow oneself
    visitor = await checked_page(await app.test_client().get("/u/bob"))
    assert counts(visitor) == (2, 1)
    assert "Log in</a> to follow bob" in visitor
    assert test_database.scalar("SELECT count(*) FROM follows") == 3


async def test_following_needs_a_login_a_form_token_and_someone_else(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await second_user(app, "bob")
    visitor = app.test_client()
    response = await visitor.get("/following")
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]
    response = await post_form(visitor, "/u/bob/follow", {})
    assert response.status_code in (302, 303)
    assert "/login" in response.headers["Location"]

    await auth.register_and_login("alice")
    forged = await client.post("/u/bob/follow", form={})  # no token: another site's form
    assert forged.status_code == 400
    assert await follow(client, "nobody") == 404
    response = await post_form(client, "/u/alice/follow", {}, token_from="/u/alice")
    assert response.status_code == 400
    assert "You cannot follow yourself" in await page_text(response)
    assert test_database.scalar("SELECT count(*) FROM follows") == 0


async def test_deleting_an_account_ends_its_follows(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    bob, bob_auth = await second_user(app, "bob")
    await bob_auth.post_entry("Bob writes", title="Bob public")
    assert await follow(client, "bob") == 303
    assert await follow(bob, "alice") == 303
    response = await post_form(
        bob, "/account/delete", {"password": DEFAULT_PASSWORD}, token_from="/account"
    )
    assert response.status_code == 303, await page_text(response)
    assert test_database.scalar("SELECT count(*) FROM follows") == 0
    assert counts(await page_text(await client.get("/u/alice"))) == (0, 0)
    assert titles(await page_text(await client.get("/following"))) == []


async def test_following_pages_both_ways(app: Quart, client: Client, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    _, bob_auth = await second_user(app, "bob")
    for n in range(45):
        await bob_auth.post_entry(f"Entry {n}", title=f"Entry {n}")
    assert await follow(client, "bob") == 303

    first = await checked_page(await client.get("/following"))
    assert titles(first) == [f"Entry {n}" for n in range(44, 24, -1)]
    older = re.search(r'href="/following\?before=(\d+)" rel="next"', first)
    assert older is not None
    assert 'rel="prev"' not in first  # the newest page has nothing newer

    second = await checked_page(await client.get(f"/following?before={older.group(1)}"))
    assert titles(second) == [f"Entry {n}" for n in range(24, 4, -1)]
    newer = re.search(r'href="/following\?after=(\d+)" rel="prev"', second)
    assert newer is not None
    back = await checked_page(await client.get(f"/following?after={newer.group(1)}"))
    assert titles(back) == titles(first)
    assert 'data-live-first-page="true"' in back
