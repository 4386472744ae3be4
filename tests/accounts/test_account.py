"""The account page: change password, profile, export and delete."""

from __future__ import annotations

import html
import json
import re

import pytest
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from tests.database import TestDatabase
from tests.helpers import DEFAULT_PASSWORD, AuthActions, page_text, post_form

NEW_PASSWORD = "a brand new passphrase"


def password_hash(database: TestDatabase, username: str = "alice") -> str:
    value: str = database.scalar(
        "SELECT password_hash FROM users WHERE username = :name", name=username
    )
    return value


def field_error(page: str, name: str) -> str:
    match = re.search(rf'<p class="error" id="{name}-error">(.*?)</p>', page, re.S)
    return html.unescape(match.group(1)) if match else ""


async def account_post(client: Client, path: str, data: dict[str, str]) -> Response:
    return await post_form(client, path, data, token_from="/account")


async def change_password(
    client: Client, current: str, new: str = NEW_PASSWORD, confirm: str | None = None
) -> Response:
    return await account_post(
        client,
        "/account/password",
        {
            "current_password": current,
            "password": new,
            "confirm": new if confirm is None else confirm,
        },
    )


@pytest.fixture
async def alice(auth: AuthActions) -> AuthActions:
    await auth.register_and_login("alice")
    return auth


async def can_log_in(client: Client, password: str) -> bool:
    response = await AuthActions(client.app.test_client()).login("alice", password)
    return response.status_code == 303


# --- Change password ---------------------------------------------------------------------


async def test_change_password(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    before = password_hash(test_database)
    response = await change_password(client, DEFAULT_PASSWORD)
    assert response.status_code == 303
    assert password_hash(test_database) != before
    assert await can_log_in(client, NEW_PASSWORD)
    assert not await can_log_in(client, DEFAULT_PASSWORD)


@pytest.mark.parametrize(
    ("current", "new", "confirm", "field", "message"),
    [
        ("wrong password", NEW_PASSWORD, NEW_PASSWORD, "current_password", "not your current"),
        ("", NEW_PASSWORD, NEW_PASSWORD, "current_password", "Enter your current password."),
        (DEFAULT_PASSWORD, NEW_PASSWORD, "something else", "confirm", "do not match"),
        (DEFAULT_PASSWORD, "short", "short", "password", "8 to 256"),
        (DEFAULT_PASSWORD, "y" * 257, "y" * 257, "password", "8 to 256"),
        (DEFAULT_PASSWORD, DEFAULT_PASSWORD, DEFAULT_PASSWORD, "password", "same as the current"),
    ],
)
async def test_bad_password_change_changes_nothing(
    client: Client,
    alice: AuthActions,
    test_database: TestDatabase,
    current: str,
    new: str,
    confirm: str,
    field: str,
    message: str,
) -> None:
    before = password_hash(test_database)
    response = await change_password(client, current, new, confirm)
    assert response.status_code == 400
    page = await page_text(response)
    assert message in field_error(page, field)
    assert new not in page
    assert password_hash(test_database) == before
    assert (await client.get("/account")).status_code == 200  # still logged in
    assert await can_log_in(client, DEFAULT_PASSWORD)


# --- Profile -------------------------------------------------------------------------------


async def save_about(client: Client, about: str) -> Response:
    return await account_post(client, "/account/profile", {"about": about})


async def test_about_me_is_saved_and_shown_on_the_profile(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    about = "Writes about birds. " * 24 + "ok!" + "z" * 17  # exactly 500 characters
    assert len(about) == 500
    assert (await save_about(client, about)).status_code == 303
    assert test_database.scalar("SELECT about FROM users") == about
    profile = await page_text(await client.app.test_client().get("/u/alice"))  # a visitor
    assert about in profile
    assert about in await page_text(await client.get("/account"))  # prefilled for editing


async def test_about_me_longer_than_500_characters_is_refused(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    assert (await save_about(client, "kept")).status_code == 303
    response = await save_about(client, "x" * 501)
    assert response.status_code == 400
    assert "At most 500 characters." in field_error(await page_text(response), "about")
    assert test_database.scalar("SELECT about FROM users") == "kept"


async def test_about_me_is_shown_as_text_not_html(client: Client, alice: AuthActions) -> None:
    about = '<script>alert(1)</script> <b onclick="x()">bold</b> & more'
    assert (await save_about(client, about)).status_code == 303
    profile = await page_text(await client.app.test_client().get("/u/alice"))
    assert "<script>alert(1)" not in profile
    assert "<b onclick" not in profile
    shown = re.search(r'<p class="about">(.*?)</p>', profile, re.S)
    assert shown is not None
    assert "<" not in shown.group(1)
    assert html.unescape(shown.group(1)) == about


# --- Delete account ----------------------------------------------------------------------


async def test_delete_account_with_wrong_password_deletes_nothing(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    await alice.post_entry("kept", visibility="private")
    response = await account_post(client, "/account/delete", {"password": "not my password"})
    assert response.status_code == 400
    assert "not your password" in field_error(await page_text(response), "delete-password")
    assert test_database.scalar("SELECT count(*) FROM users") == 1
    assert test_database.scalar("SELECT count(*) FROM entries") == 1
    assert (await client.get("/account")).status_code == 200

    response = await account_post(client, "/account/delete", {"password": ""})
    assert response.status_code == 400
    assert test_database.scalar("SELECT count(*) FROM users") == 1


async def test_delete_account_removes_the_user_and_all_their_entries(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    await alice.post_entry("public one")
    await alice.post_entry("private one", visibility="private")
    bob = AuthActions(client.app.test_client())
    await bob.register_and_login("bob")
    bobs_entry = await bob.post_entry("bob's entry")

    response = await account_post(client, "/account/delete", {"password": DEFAULT_PASSWORD})

    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    assert test_database.scalar("SELECT count(*) FROM users WHERE username_key = 'alice'") == 0
    assert test_database.rows("SELECT body FROM entries") == [("bob's entry",)]
    assert test_database.scalar("SELECT count(*) FROM login_sessions") == 1  # bob's
    assert (await client.get("/u/alice")).status_code == 404
    assert (await client.get("/account")).status_code == 303
    assert (await client.get(f"/entries/{bobs_entry}")).status_code == 200
    assert not await can_log_in(client, DEFAULT_PASSWORD)


# --- Export --------------------------------------------------------------------------------


async def test_export_has_every_entry_of_the_user_and_is_not_cached(
    client: Client, alice: AuthActions
) -> None:
    await alice.post_entry("Public **one**", title="First")
    await alice.post_entry("Secret two", visibility="private")
    bob = AuthActions(client.app.test_client())
    await bob.register_and_login("bob")
    await bob.post_entry("Not alice's")

    response = await client.get("/account/export")

    assert response.status_code == 200
    assert response.mimetype == "application/json"
    assert "no-store" in response.headers["Cache-Control"]
    assert "attachment" in response.headers["Content-Disposition"]
    document = json.loads(await page_text(response))
    assert document["username"] == "alice"
    by_body = {entry["body"]: entry for entry in document["entries"]}
    assert set(by_body) == {"Public **one**", "Secret two"}
    assert by_body["Public **one**"]["title"] == "First"
    assert by_body["Secret two"]["visibility"] == "private"


async def test_export_requires_login(client: Client) -> None:
    response = await client.get("/account/export")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/account/export"
