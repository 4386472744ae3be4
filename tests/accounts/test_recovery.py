"""Getting back in by e-mail, end to end against a real SMTP server on loopback: forgot
password, reset by the link, confirm a new account's address (quartapp/accounts/recovery.py).
The app runs as served (its outbox sender started), and every link is read from the
message that arrived."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quartapp.accounts import tokens
from quartapp.models import utcnow
from tests.database import TestDatabase
from tests.helpers import CSRF_RE, DEFAULT_PASSWORD, AuthActions, page_text, post_form
from tests.smtp import SmtpServer, links_in, smtp_server, text_of

__all__ = ["smtp_server"]  # the fixture

NEW_PASSWORD = "a brand new passphrase"
QUIET = 0.5  # seconds a message would have needed to arrive


@pytest.fixture
async def mail_app(smtp_server: SmtpServer, started: Any) -> Quart:
    # The SMTP server first, so it stops after the app: a message still going out when
    # the test ends is sent, not failed against a server that is gone.
    app: Quart = await started(**smtp_server.settings())
    return app


@pytest.fixture
def client(mail_app: Quart) -> Client:
    return mail_app.test_client()


@pytest.fixture
def auth(client: Client) -> AuthActions:
    return AuthActions(client)


def path_of(link: str) -> str:
    assert link.startswith("http://localhost/"), link
    return link.removeprefix("http://localhost")


async def register_confirmed(
    auth: AuthActions, smtp_server: SmtpServer, username: str = "alice"
) -> None:
    """Register, then follow the confirmation link: a user who can log in."""
    before = len(smtp_server.messages)
    response = await auth.register(username)
    assert response.status_code == 200, await page_text(response)
    message = await smtp_server.next_message(before)
    (link,) = links_in(message)
    confirmed = await auth.client.get(path_of(link))
    assert confirmed.status_code == 303


async def ask_reset(client: Client, name: str) -> tuple[int, str]:
    response = await post_form(client, "/forgot", {"email": name}, token_from="/forgot")
    return response.status_code, CSRF_RE.sub("", await page_text(response))


async def wait_quietly(smtp_server: SmtpServer, count: int) -> None:
    """Wait long enough for a message to have come; there must still be ``count``."""
    await asyncio.sleep(QUIET)
    assert len(smtp_server.messages) == count, [m["Subject"] for m in smtp_server.messages]


# --- registration and confirmation ------------------------------------------------------


async def test_a_new_account_confirms_its_address_before_it_can_log_in(
    client: Client, auth: AuthActions, smtp_server: SmtpServer, test_database: TestDatabase
) -> None:
    response = await auth.register("alice")
    assert response.status_code == 200
    assert "Check your e-mail" in await page_text(response)
    message = await smtp_server.next_message()
    assert message["To"] == "alice@example.com"
    assert message["Subject"] == "Confirm your e-mail address"
    assert "Hello alice" in text_of(message)
    (link,) = links_in(message)
    assert re.fullmatch(r"http://localhost/confirm/[A-Za-z0-9_-]{43}", link)

    refused = await auth.login("alice")
    assert refused.status_code == 403
    page = await page_text(refused)
    assert "Confirm your e-mail address first" in page
    assert 'action="/confirm/resend"' in page
    assert "Log out" not in page

    confirmed = await client.get(path_of(link))
    assert confirmed.status_code == 303
    assert confirmed.headers["Location"] == "/login"
    assert confirmed.headers["Referrer-Policy"] == "no-referrer"
    assert "Your e-mail address is confirmed" in await page_text(await client.get("/login"))
    assert (await auth.login("alice")).status_code == 303
    assert "Log out" in await page_text(await client.get("/"))

    again = await client.get(path_of(link))  # a link works once
    assert again.status_code == 400
    assert "does not work any more" in await page_text(again)


async def test_a_taken_address_gets_the_same_answer_and_its_owner_is_told(
    client: Client, auth: AuthActions, smtp_server: SmtpServer, test_database: TestDatabase
) -> None:
    await register_confirmed(auth, smtp_server, "alice")
    stranger = AuthActions(client)
    fresh = await stranger.register("bob", email="bob@example.com")
    taken = await stranger.register("mallory", email="ALICE@example.com")
    assert (fresh.status_code, taken.status_code) == (200, 200)
    assert CSRF_RE.sub("", await page_text(fresh)) == CSRF_RE.sub("", await page_text(taken))
    to_bob = await smtp_server.next_message(1)
    to_alice = await smtp_server.next_message(2)
    assert (to_bob["To"], to_bob["Subject"]) == ("bob@example.com", "Confirm your e-mail address")
    assert to_alice["To"] == "alice@example.com"
    assert to_alice["Subject"] == "Someone tried to register with your address"
    assert "/forgot" in text_of(to_alice)
    names = {row[0] for row in test_database.rows("SELECT username FROM users")}
    assert names == {"alice", "bob"}  # no mallory


async def test_the_confirmation_link_can_be_sent_again(
    client: Client, auth: AuthActions, smtp_server: SmtpServer
) -> None:
    await auth.register("alice")
    first = await smtp_server.next_message()
    response = await post_form(client, "/confirm/resend", {"email": "alice"}, token_from="/login")
    assert response.status_code == 200
    second = await smtp_server.next_message(1)
    assert links_in(second) != links_in(first)
    for message in (first, second):  # either works (once)
        assert (await client.get(path_of(links_in(message)[0]))).status_code in {303, 400}
    assert (await auth.login("alice")).status_code == 303


async def test_asking_again_for_a_confirmed_or_unknown_account_sends_nothing(
    client: Client, auth: AuthActions, smtp_server: SmtpServer
) -> None:
    await register_confirmed(auth, smtp_server, "alice")
    for name in ("alice", "nobody", "nobody@example.com"):
        response = await post_form(client, "/confirm/resend", {"email": name})
        assert response.status_code == 200
    await wait_quietly(smtp_server, 1)


# --- forgot password and reset ----------------------------------------------------------


async def test_a_forgotten_password_is_reset_by_the_link(
    client: Client,
    auth: AuthActions,
    smtp_server: SmtpServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    await register_confirmed(auth, smtp_server, "alice")
    assert (await ask_reset(client, "alice@example.com"))[0] == 200
    message = await smtp_server.next_message(1)
    assert message["Subject"] == "Choose a new password"
    (link,) = links_in(message)
    assert "60 minutes" in text_of(message)

    form = await client.get(path_of(link))
    assert form.status_code == 200
    assert form.headers["Referrer-Policy"] == "no-referrer"
    assert "no-store" in form.headers["Cache-Control"]
    saved = await post_form(
        client,
        path_of(link),
        {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        token_from=path_of(link),
    )
    assert saved.status_code == 303
    assert saved.headers["Location"] == "/login"

    assert (await auth.login("alice")).status_code == 400  # the old password
    assert (await auth.login("alice", NEW_PASSWORD)).status_code == 303
    told = await smtp_server.next_message(2)
    assert told["Subject"] == "Your password was changed"
    assert (await client.get(path_of(link))).status_code == 400  # used
    token = path_of(link).rsplit("/", 1)[1]
    assert token not in caplog.text  # the log line shows /reset/[token]
    assert "/reset/[token]" in caplog.text


async def test_the_same_answer_for_known_and_unknown_accounts(
    client: Client, auth: AuthActions, smtp_server: SmtpServer
) -> None:
    await register_confirmed(auth, smtp_server, "alice")
    answers = {
        name: await ask_reset(client, name)
        for name in ("alice", "alice@example.com", "nobody", "nobody@example.com")
    }
    assert len(set(answers.values())) == 1, answers
    assert next(iter(answers.values()))[0] == 200
    await smtp_server.next_message(2)  # alice's two links
    await wait_quietly(smtp_server, 3)  # and nothing for nobody


async def test_a_bad_form_keeps_its_text_and_names_the_problem(client: Client) -> None:
    response = await post_form(client, "/forgot", {"email": "x" * 300}, token_from="/forgot")
    assert response.status_code == 400
    page = await page_text(response)
    assert "longer than any username or e-mail address" in page
    assert "x" * 300 in page


async def test_a_reset_link_expires_after_an_hour(
    client: Client, auth: AuthActions, smtp_server: SmtpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    await register_confirmed(auth, smtp_server, "alice")
    await ask_reset(client, "alice")
    path = path_of(links_in(await smtp_server.next_message(1))[0])
    assert (await client.get(path)).status_code == 200
    later = utcnow() + tokens.LIFETIMES[tokens.RESET] + timedelta(seconds=1)
    monkeypatch.setattr("quartapp.accounts.recovery.utcnow", lambda: later)
    expired = await client.get(path)
    assert expired.status_code == 400
    assert "works once, for one hour" in await page_text(expired)
    late = await post_form(
        client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, token_from="/forgot"
    )
    assert late.status_code == 400
    monkeypatch.undo()
    assert (await auth.login("alice", NEW_PASSWORD)).status_code == 400  # unchanged
    assert (await auth.login("alice")).status_code == 303


async def test_changing_the_password_voids_the_reset_links(
    client: Client, auth: AuthActions, smtp_server: SmtpServer
) -> None:
    await register_confirmed(auth, smtp_server, "alice")
    await ask_reset(client, "alice")
    path = path_of(links_in(await smtp_server.next_message(1))[0])
    assert (await auth.login("alice")).status_code == 303
    changed = await post_form(
        client,
        "/account/password",
        {"current_password": DEFAULT_PASSWORD, "password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
        token_from="/account",
    )
    assert changed.status_code == 303
    told = await smtp_server.next_message(2)
    assert told["Subject"] == "Your password was changed"
    assert (await client.get(path)).status_code == 400


async def test_a_reset_ends_every_session_of_the_account(
    mail_app: Quart, client: Client, auth: AuthActions, smtp_server: SmtpServer
) -> None:
    await register_confirmed(auth, smtp_server, "alice")
    elsewhere = AuthActions(mail_app.test_client())
    assert (await elsewhere.login("alice")).status_code == 303
    assert "Log out" in await page_text(await elsewhere.client.get("/"))
    await ask_reset(client, "alice")
    path = path_of(links_in(await smtp_server.next_message(1))[0])
    saved = await post_form(
        client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, token_from=path
    )
    assert saved.status_code == 303
    assert "Log out" not in await page_text(await elsewhere.client.get("/"))


async def test_a_weak_or_mismatched_new_password_is_explained(
    client: Client, auth: AuthActions, smtp_server: SmtpServer
) -> None:
    await register_confirmed(auth, smtp_server, "alice")
    await ask_reset(client, "alice")
    path = path_of(links_in(await smtp_server.next_message(1))[0])
    weak = await post_form(
        client, path, {"password": "password", "confirm": "password"}, token_from=path
    )
    assert weak.status_code == 400
    mismatched = await post_form(
        client, path, {"password": NEW_PASSWORD, "confirm": "something else"}, token_from=path
    )
    assert mismatched.status_code == 400
    assert "do not match" in await page_text(mismatched)
    # The link still works: a refused form did not use it up.
    assert (await client.get(path)).status_code == 200


async def test_an_account_gets_at_most_three_reset_links_at_once(
    client: Client, auth: AuthActions, smtp_server: SmtpServer
) -> None:
    await register_confirmed(auth, smtp_server, "alice")
    for _ in range(tokens.MOST_AT_ONCE + 1):
        assert (await ask_reset(client, "alice"))[0] == 200
    await smtp_server.next_message(tokens.MOST_AT_ONCE)
    await wait_quietly(smtp_server, 1 + tokens.MOST_AT_ONCE)


async def test_asking_too_often_from_one_address_is_refused_with_the_text_kept(
    make_app: Any, smtp_server: SmtpServer, started: Any
) -> None:
    app: Quart = await started(**smtp_server.settings(), rate_limit_recovery=_spec(2))
    client = app.test_client()
    for _ in range(2):
        assert (await ask_reset(client, "someone"))[0] == 200
    response = await post_form(client, "/forgot", {"email": "someone"}, token_from="/forgot")
    assert response.status_code == 429
    assert 'value="someone"' in await page_text(response)


def _spec(count: int) -> Any:
    from quartapp.config import RateLimitSpec

    return RateLimitSpec(count, timedelta(hours=1))


async def test_tokens_are_stored_hashed(
    client: Client, auth: AuthActions, smtp_server: SmtpServer, test_database: TestDatabase
) -> None:
    await register_confirmed(auth, smtp_server, "alice")
    await ask_reset(client, "alice")
    token = path_of(links_in(await smtp_server.next_message(1))[0]).rsplit("/", 1)[1]
    rows = test_database.rows("SELECT token_hash, purpose FROM account_tokens")
    assert [purpose for _, purpose in rows] == ["reset"]  # the confirmation link was used
    assert rows[0][0] == hashlib.sha256(token.encode()).hexdigest()
    # The sender deletes a message once the SMTP server has taken it, a moment after
    # the server has it: then no copy of the link is left anywhere in the database.
    for _ in range(100):
        if not test_database.rows("SELECT id FROM outbox"):
            break
        await asyncio.sleep(0.02)
    assert token not in str(test_database.snapshot())


async def test_without_smtp_every_flow_can_be_finished_from_the_log(
    started: Any, tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A fresh ``make run``: no SMTP_HOST. Accounts are active at once; a reset link is
    written to a file under the instance folder and, in development, logged."""
    caplog.set_level(logging.INFO)
    app: Quart = await started()
    assert "no SMTP_HOST" in caplog.text
    client = app.test_client()
    auth = AuthActions(client)
    assert (await auth.register("alice")).status_code == 303  # logged in at once
    await auth.logout()
    await ask_reset(client, "alice")
    for _ in range(100):
        logged = re.search(r"http://localhost/reset/[A-Za-z0-9_-]+", caplog.text)
        if logged:
            break
        await asyncio.sleep(0.05)
    assert logged is not None, caplog.text
    (written,) = (tmp_path / "instance" / "outbox").glob("*.eml")
    assert logged.group(0).encode() in written.read_bytes()
    path = path_of(logged.group(0))
    saved = await post_form(
        client, path, {"password": NEW_PASSWORD, "confirm": NEW_PASSWORD}, token_from=path
    )
    assert saved.status_code == 303
    assert (await auth.login("alice", NEW_PASSWORD)).status_code == 303
