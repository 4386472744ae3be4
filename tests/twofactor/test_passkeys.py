"""Passkeys through the app, answered by a software authenticator (tests/twofactor/
authenticator.py): add, name and remove them, sign in with one alone or as the second
step, and every way an answer is refused (quartapp/twofactor/routes.py, passkeys.py)."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.database import TestDatabase
from tests.helpers import CSRF_RE, AuthActions, page_text, post_form
from tests.smtp import SmtpServer, smtp_server, text_of
from tests.twofactor.authenticator import SoftAuthenticator
from tests.twofactor.helpers import log_in_with_password, turn_on

__all__ = ["smtp_server"]  # the fixture

ORIGIN = "http://localhost"  # the test client's host, and no SITE_URL: the relying party


async def post_json(
    client: Client, path: str, data: dict[str, str] | None = None
) -> tuple[int, Any]:
    """POST a form as passkeys.js does (with the page's token); the JSON answer."""
    page = await page_text(await client.get("/login"))  # signed in: it redirects
    found = CSRF_RE.search(page) or CSRF_RE.search(await page_text(await client.get("/")))
    assert found is not None
    form = {"csrf_token": found.group(1), **(data or {})}
    response = await client.post(path, form=form)
    return response.status_code, await response.get_json()


async def add_passkey(
    client: Client, authenticator: SoftAuthenticator, name: str = "Laptop"
) -> tuple[int, Any]:
    status, options = await post_json(client, "/account/passkeys/options")
    assert status == 200, options
    return await post_json(
        client, "/account/passkeys", {"name": name, "credential": authenticator.create(options)}
    )


async def sign_in(client: Client, authenticator: SoftAuthenticator, **get: Any) -> tuple[int, Any]:
    status, options = await post_json(client, "/login/passkey/options")
    assert status == 200, options
    return await post_json(
        client, "/login/passkey", {"credential": authenticator.get(options, **get)}
    )


@pytest.fixture
async def alice(auth: AuthActions, test_database: TestDatabase) -> AuthActions:
    await auth.register_and_login("alice")
    return auth


async def test_a_passkey_is_added_and_signs_in_alone(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    authenticator = SoftAuthenticator(ORIGIN)
    status, options = await post_json(client, "/account/passkeys/options")
    assert status == 200
    assert options["rp"]["id"] == "localhost"
    assert options["authenticatorSelection"]["residentKey"] == "required"
    assert options["authenticatorSelection"]["userVerification"] == "required"
    assert options["user"]["name"] == "alice"
    status, answer = await post_json(
        client, "/account/passkeys", {"name": "Laptop", "credential": authenticator.create(options)}
    )
    assert (status, answer) == (200, {"redirect": "/account/2fa"})
    page = await page_text(await client.get("/account/2fa"))
    assert "Laptop" in page
    assert "The passkey \u201cLaptop\u201d is added." in page
    # The account's handle is random, not its id; the table keeps the public key only.
    ((handle,),) = test_database.rows("SELECT passkey_user_handle FROM users")
    assert len(bytes(handle)) == 32

    # A second one on the same device is not offered: the first is excluded.
    _, again = await post_json(client, "/account/passkeys/options")
    assert len(again["excludeCredentials"]) == 1

    await alice.logout()
    status, options = await post_json(client, "/login/passkey/options")
    assert "allowCredentials" not in options or options["allowCredentials"] == []
    assert options["userVerification"] == "required"
    credential = authenticator.get(options)
    status, answer = await post_json(client, "/login/passkey", {"credential": credential})
    assert (status, answer) == (200, {"redirect": "/"})
    assert "Logged in as alice." in await page_text(await client.get("/"))
    ((count, used),) = test_database.rows("SELECT sign_count, last_used_at FROM passkeys")
    assert count == 1
    assert used is not None

    # The same answer a second time: its challenge was used up.
    await alice.logout()
    status, answer = await post_json(client, "/login/passkey", {"credential": credential})
    assert status == 400
    assert "expired" in answer["error"]


async def test_answers_that_do_not_hold_are_refused(client: Client, alice: AuthActions) -> None:
    authenticator = SoftAuthenticator(ORIGIN)
    assert (await add_passkey(client, authenticator))[0] == 200
    await alice.logout()

    elsewhere = SoftAuthenticator("https://evil.example", authenticator.credentials)
    status, answer = await sign_in(client, elsewhere)
    assert status == 400
    assert "could not sign in" in answer["error"]

    authenticator.verifies_person = False  # a passkey alone must verify the person
    assert (await sign_in(client, authenticator))[0] == 400
    authenticator.verifies_person = True

    await post_json(client, "/login/passkey/options")
    for bad in ("not json", "[1, 2]", "{}", "x" * 70_000, ""):
        status, answer = await post_json(client, "/login/passkey", {"credential": bad})
        assert status == 400, bad
        assert answer["error"]
    assert (await sign_in(client, authenticator))[0] == 200


async def test_a_removed_passkey_no_longer_signs_in(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    authenticator = SoftAuthenticator(ORIGIN)
    await add_passkey(client, authenticator)
    ((passkey_id,),) = test_database.rows("SELECT id FROM passkeys")
    removed = await post_form(
        client, f"/account/passkeys/{passkey_id}/remove", {}, token_from="/account/2fa"
    )
    assert removed.status_code == 303
    assert test_database.rows("SELECT id FROM passkeys") == []
    await alice.logout()
    status, answer = await sign_in(client, authenticator)
    assert status == 400
    assert "not one of an account here" in answer["error"]


async def test_passkeys_are_named_and_only_their_owner_changes_them(
    app: Quart, client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    await add_passkey(client, SoftAuthenticator(ORIGIN), "Laptop")
    ((passkey_id,),) = test_database.rows("SELECT id FROM passkeys")
    renamed = await post_form(
        client,
        f"/account/passkeys/{passkey_id}/rename",
        {"name": " Work phone "},
        token_from="/account/2fa",
    )
    assert renamed.status_code == 303
    assert test_database.rows("SELECT name FROM passkeys") == [("Work phone",)]
    too_long = await post_form(
        client,
        f"/account/passkeys/{passkey_id}/rename",
        {"name": "n" * 65},
        token_from="/account/2fa",
    )
    assert too_long.status_code == 400
    page = await page_text(too_long)
    assert "at most 64 characters" in page
    assert 'value="' + "n" * 65 + '"' in page  # what was typed is kept
    status, answer = await add_passkey(client, SoftAuthenticator(ORIGIN), "")
    assert status == 400
    assert "Give the passkey a name" in answer["error"]

    bob = AuthActions(app.test_client())
    await bob.register_and_login("bob")
    for action, data in (("rename", {"name": "mine"}), ("remove", {})):
        response = await post_form(
            bob.client, f"/account/passkeys/{passkey_id}/{action}", data, token_from="/account/2fa"
        )
        assert response.status_code == 404
    assert test_database.rows("SELECT name FROM passkeys") == [("Work phone",)]


async def test_a_passkey_as_the_second_step(app: Quart, client: Client, alice: AuthActions) -> None:
    authenticator = SoftAuthenticator(ORIGIN)
    await turn_on(client)
    await add_passkey(client, authenticator)
    bob_client = app.test_client()
    bob = AuthActions(bob_client)
    await bob.register_and_login("bob")
    bobs = SoftAuthenticator(ORIGIN)
    await add_passkey(bob_client, bobs)
    await alice.logout()

    assert (await log_in_with_password(client)).headers["Location"] == "/login/2fa"
    assert "Use a passkey" in await page_text(await client.get("/login/2fa"))
    status, options = await post_json(client, "/login/2fa/passkey/options")
    assert status == 200
    assert len(options["allowCredentials"]) == 1  # alice's, not bob's

    # Bob's passkey cannot finish Alice's sign-in, whatever a page sends.
    status, answer = await post_json(
        client, "/login/2fa/passkey", {"credential": bobs.get(options, bobs.credentials[0])}
    )
    assert status == 400
    assert "another account's" in answer["error"]
    assert "Log out" not in await page_text(await client.get("/"))

    status, options = await post_json(client, "/login/2fa/passkey/options")
    status, answer = await post_json(
        client, "/login/2fa/passkey", {"credential": authenticator.get(options)}
    )
    assert (status, answer) == (200, {"redirect": "/"})
    assert "Log out" in await page_text(await client.get("/"))


async def test_without_a_password_first_the_second_step_passkey_is_refused(
    client: Client,
) -> None:
    status, answer = await post_json(client, "/login/2fa/passkey/options")
    assert status == 400
    assert "Log in again" in answer["error"]


async def test_security_messages(
    smtp_server: SmtpServer, started: Any, test_database: TestDatabase
) -> None:
    from tests.accounts.test_recovery import register_confirmed

    app: Quart = await started(**smtp_server.settings())
    client = app.test_client()
    auth = AuthActions(client)
    await register_confirmed(auth, smtp_server, "alice")
    assert (await auth.login("alice")).status_code == 303
    authenticator = SoftAuthenticator(ORIGIN)
    app_codes, _ = await turn_on(client)
    await add_passkey(client, authenticator, "Laptop")
    ((passkey_id,),) = test_database.rows("SELECT id FROM passkeys")
    await post_form(client, f"/account/passkeys/{passkey_id}/remove", {}, token_from="/account/2fa")
    off = await post_form(
        client,
        "/account/2fa/turn-off",
        {"password": "correct horse battery", "code": app_codes.code(1)},
        token_from="/account/2fa",
    )
    assert off.status_code == 303
    await smtp_server.next_message(4)
    subjects = [str(m["Subject"]) for m in smtp_server.messages]
    assert subjects == [
        "Confirm your e-mail address",
        "Two-factor sign-in was turned on",
        "A passkey was added to your account",
        "A passkey was removed from your account",
        "Two-factor sign-in was turned off",
    ]
    assert all(m["To"] == "alice@example.com" for m in smtp_server.messages)
    assert "\u201cLaptop\u201d was added" in text_of(smtp_server.messages[2])


async def test_a_site_opened_by_its_ip_address_says_to_use_its_name(
    client: Client, alice: AuthActions
) -> None:
    form = {"csrf_token": CSRF_RE.search(await page_text(await client.get("/"))).group(1)}  # type: ignore[union-attr]
    response = await client.post(
        "/account/passkeys/options", form=form, headers={"Host": "127.0.0.1:8000"}
    )
    assert response.status_code == 400
    assert (await response.get_json())["error"] == (
        "Passkeys need the site's name, not an IP address: open http://localhost:8000 instead."
    )
