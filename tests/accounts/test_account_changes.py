"""Changing the username and the e-mail address from the account page; with mail set
up, a new address is confirmed by a link sent to it and the old one is told."""

from __future__ import annotations

import collections
import re
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.database import TestDatabase
from tests.helpers import DEFAULT_PASSWORD, AuthActions, page_text, post_form
from tests.smtp import SmtpServer, links_in, smtp_server, text_of

__all__ = ["smtp_server"]  # the fixture

ID_RE = re.compile(r'\bid="([^"]+)"')


async def change_username(client: Client, name: str) -> Any:
    return await post_form(client, "/account/username", {"username": name}, token_from="/account")


async def change_email(client: Client, email: str, password: str = DEFAULT_PASSWORD) -> Any:
    return await post_form(
        client, "/account/email", {"email": email, "password": password}, token_from="/account"
    )


async def test_a_new_username_moves_the_profile_and_every_page_shows_it(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    await auth.post_entry("Hello from alice")
    visitor = app.test_client()
    assert ">alice<" in await page_text(await visitor.get("/"))  # kept for visitors now
    response = await change_username(client, "alicia")
    assert response.status_code == 303
    assert (await client.get("/u/alicia")).status_code == 200
    assert (await client.get("/u/alice")).status_code == 404
    home = await page_text(await visitor.get("/"))
    assert ">alicia<" in home
    assert ">alice<" not in home
    await auth.logout()
    assert (await auth.login("alicia")).status_code == 303


async def test_a_taken_username_is_explained_and_the_text_kept(
    client: Client, auth: AuthActions
) -> None:
    await auth.register("bob")
    await auth.logout()
    await auth.register_and_login("alice")
    response = await change_username(client, "BOB")
    assert response.status_code == 400
    page = await page_text(response)
    assert "That username is already registered." in page
    assert 'value="BOB"' in page
    bad = await change_username(client, "no spaces")
    assert bad.status_code == 400
    assert "Use only letters, digits" in await page_text(bad)


async def test_without_mail_a_new_address_is_used_at_once(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    wrong = await change_email(client, "alice@new.example", "not my password")
    assert wrong.status_code == 400
    assert "That is not your password." in await page_text(wrong)
    assert 'value="alice@new.example"' in await page_text(wrong)
    assert (await change_email(client, "alice@new.example")).status_code == 303
    assert test_database.scalar("SELECT email FROM users") == "alice@new.example"
    await auth.logout()
    assert (await auth.login("alice@new.example")).status_code == 303


async def test_the_account_page_has_no_two_elements_with_one_id(
    client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    page = await page_text(await client.get("/account"))
    counts = collections.Counter(ID_RE.findall(page))
    assert [name for name, count in counts.items() if count > 1] == []
    for field_id in ("new-email", "email-password", "delete-password", "password"):
        assert f'for="{field_id}"' in page


@pytest.fixture
async def mail_app(smtp_server: SmtpServer, started: Any) -> Quart:
    # The SMTP server first, so it stops after the app: a message still going out when
    # the test ends is sent, not failed against a server that is gone.
    app: Quart = await started(**smtp_server.settings())
    return app


async def confirmed_user(app: Quart, smtp_server: SmtpServer, name: str) -> AuthActions:
    actions = AuthActions(app.test_client())
    before = len(smtp_server.messages)
    await actions.register(name)
    (link,) = links_in(await smtp_server.next_message(before))
    await actions.client.get(link.removeprefix("http://localhost"))
    assert (await actions.login(name)).status_code == 303
    return actions


async def test_with_mail_a_new_address_is_confirmed_by_its_link_and_the_old_one_told(
    mail_app: Quart, smtp_server: SmtpServer, test_database: TestDatabase
) -> None:
    alice = await confirmed_user(mail_app, smtp_server, "alice")
    response = await change_email(alice.client, "alice@new.example")
    assert response.status_code == 303
    link_message = await smtp_server.next_message(1)
    assert link_message["To"] == "alice@new.example"
    assert link_message["Subject"] == "Confirm your new e-mail address"
    assert test_database.scalar("SELECT email FROM users") == "alice@example.com"  # not yet
    (link,) = links_in(link_message)
    assert "/confirm-email/" in link
    confirmed = await alice.client.get(link.removeprefix("http://localhost"))
    assert confirmed.status_code == 303
    assert test_database.scalar("SELECT email FROM users") == "alice@new.example"
    told = await smtp_server.next_message(2)
    assert told["To"] == "alice@example.com"
    assert told["Subject"] == "Your e-mail address was changed"
    assert "new.example" in text_of(told)
    assert "alice@new.example" not in text_of(told)  # the domain only
    assert (await alice.client.get(link.removeprefix("http://localhost"))).status_code == 400


async def test_with_mail_a_taken_address_gets_the_same_answer_and_its_owner_is_told(
    mail_app: Quart, smtp_server: SmtpServer, test_database: TestDatabase
) -> None:
    bob = await confirmed_user(mail_app, smtp_server, "bob")
    alice = await confirmed_user(mail_app, smtp_server, "alice")
    taken = await change_email(alice.client, "bob@example.com")
    free = await change_email(alice.client, "alice@new.example")
    assert taken.status_code == free.status_code == 303
    messages = [await smtp_server.next_message(n) for n in (2, 3)]
    assert {(m["To"], m["Subject"]) for m in messages} == {
        ("bob@example.com", "Someone tried to register with your address"),
        ("alice@new.example", "Confirm your new e-mail address"),
    }
    emails = {row[0] for row in test_database.rows("SELECT email FROM users")}
    assert emails == {"alice@example.com", "bob@example.com"}
    assert bob is not None


async def test_with_mail_a_wrong_password_sends_nothing(
    mail_app: Quart, smtp_server: SmtpServer
) -> None:
    import asyncio

    alice = await confirmed_user(mail_app, smtp_server, "alice")
    wrong = await change_email(alice.client, "alice@new.example", "not my password")
    assert wrong.status_code == 400
    await asyncio.sleep(0.5)
    assert len(smtp_server.messages) == 1  # the registration's confirmation only
