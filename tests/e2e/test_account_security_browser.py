"""A new writer's whole account in Chromium, with mail going to a real SMTP server on
loopback: register and confirm by the link, turn on an authenticator app from its QR
page, sign in with password and code, add a passkey (Chromium's virtual authenticator,
over the DevTools protocol) and sign in with it alone; forget the password and reset it,
which ends the other browser's session and closes its live page; end a session from the
list. The site is served as deployed (hypercorn.toml) at ``http://localhost:PORT``:
passkeys need a host name, never an address."""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import pyotp
import pytest

from quartapp.twofactor import codes
from tests.database import TestDatabase
from tests.e2e.conftest import DEFAULT_TIMEOUT_MS, Server, free_port, running_server, server_env
from tests.helpers import DEFAULT_PASSWORD
from tests.smtp import SmtpServer, links_in

with contextlib.suppress(ImportError):
    from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, CDPSession, Page

NEW_PASSWORD = "a new passphrase after forgetting"
EMAIL = "wren@example.com"


@pytest.fixture
def inbox() -> Iterator[SmtpServer]:
    smtp = SmtpServer()
    smtp.start()
    try:
        yield smtp
    finally:
        smtp.stop()


@pytest.fixture
def mail_server(test_database: TestDatabase, tmp_path: Path, inbox: SmtpServer) -> Iterator[Server]:
    port = free_port()
    env = {
        **server_env(test_database, tmp_path / "instance"),
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(inbox.port),
        "SMTP_TLS": "none",
        "MAIL_FROM": "Journal <journal@example.org>",
        "SITE_URL": f"http://localhost:{port}",
    }
    with running_server(env, tmp_path / "hypercorn.log", port) as running:
        yield running


@pytest.fixture
def contexts(browser: Browser, mail_server: Server) -> Iterator[Any]:
    made: list[BrowserContext] = []
    errors: list[str] = []

    def new() -> BrowserContext:
        context = browser.new_context(base_url=f"http://localhost:{mail_server.port}")
        context.set_default_timeout(DEFAULT_TIMEOUT_MS)
        context.on("weberror", lambda error: errors.append(str(error.error)))
        made.append(context)
        return context

    yield new
    for context in made:
        context.close()
    assert not errors, f"JavaScript errors: {errors}"


def virtual_authenticator(page: Page) -> tuple[CDPSession, str]:
    """A platform authenticator that holds discoverable credentials and verifies the
    person at once (as a fingerprint would)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    added = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
                "automaticPresenceSimulation": True,
            }
        },
    )
    return cdp, str(added["authenticatorId"])


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return parts.path


def log_in(page: Page, password: str = DEFAULT_PASSWORD) -> None:
    page.goto("/login")
    page.fill("#username", "wren")
    page.fill("#password", password)
    page.get_by_role("button", name="Log in", exact=True).click()


def log_out(page: Page) -> None:
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("link", name="Log in")).to_be_visible()


def subjects(inbox: SmtpServer) -> list[str]:
    return [str(message["Subject"]) for message in inbox.messages]


def wait_for_subject(inbox: SmtpServer, subject: str) -> Any:
    for index in range(50):
        message = inbox.wait_message(index, within=10)
        if message["Subject"] == subject:
            return message
    pytest.fail(f"no message {subject!r}: {subjects(inbox)}")


def test_a_new_writer_protects_and_recovers_the_account(contexts: Any, inbox: SmtpServer) -> None:
    page = contexts().new_page()
    authenticator, authenticator_id = virtual_authenticator(page)

    # Register, and confirm the address by the link in the message.
    page.goto("/register")
    page.fill("#username", "wren")
    page.fill("#email", EMAIL)
    page.fill("#password", DEFAULT_PASSWORD)
    page.fill("#confirm", DEFAULT_PASSWORD)
    page.get_by_role("button", name="Register").click()
    expect(page.get_by_text("Check your e-mail")).to_be_visible()
    (link,) = links_in(wait_for_subject(inbox, "Confirm your e-mail address"))
    page.goto(path_of(link))
    expect(page.get_by_text("Your e-mail address is confirmed")).to_be_visible()
    log_in(page)
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # Turn on the authenticator app from its QR code page.
    page.goto("/account")
    page.get_by_role("link", name="Two-factor sign-in and passkeys").click()
    page.get_by_role("button", name="Set up an authenticator app").click()
    expect(page.locator(".qr svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text().replace(" ", "")
    app = pyotp.TOTP(secret)

    def code(steps_ahead: int = 0) -> str:
        from datetime import UTC, datetime

        return app.generate_otp(codes.time_step(datetime.now(UTC)) + steps_ahead)

    page.fill("#first-code", code())
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    expect(page.get_by_role("heading", name="Your recovery codes")).to_be_visible()
    expect(page.get_by_text("Two-factor sign-in is on.")).to_be_visible()
    recovery = page.locator(".recovery-codes li").all_inner_texts()
    assert len(recovery) == 10
    page.get_by_role("link", name="I have kept them").click()
    expect(page.get_by_text("On", exact=True)).to_be_visible()
    wait_for_subject(inbox, "Two-factor sign-in was turned on")

    # Out, and in again with the password and a code.
    log_out(page)
    log_in(page)
    page.wait_for_url("**/login/2fa")
    page.fill("#code", code(1))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()

    # Add a passkey.
    page.goto("/account/2fa")
    page.fill("#passkey-name", "This laptop")
    page.get_by_role("button", name="Add a passkey").click()
    expect(page.get_by_text("The passkey \u201cThis laptop\u201d is added.")).to_be_visible()
    expect(page.locator(".passkey strong")).to_have_text(["This laptop"])
    credentials = authenticator.send(
        "WebAuthn.getCredentials",
        {"authenticatorId": authenticator_id},
    )["credentials"]
    assert len(credentials) == 1
    assert credentials[0]["isResidentCredential"]
    wait_for_subject(inbox, "A passkey was added to your account")

    # Out, and in with the passkey alone: no username, no password, no code.
    log_out(page)
    page.goto("/login")
    page.get_by_role("button", name="Log in with a passkey").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    expect(page.get_by_text("Logged in as wren.")).to_be_visible()

    # Another browser signs in with a recovery code and keeps the home page open, live.
    other = contexts().new_page()
    log_in(other)
    other.wait_for_url("**/login/2fa")
    other.fill("#code", recovery[0])
    other.get_by_role("button", name="Sign in").click()
    expect(other.get_by_role("button", name="Log out")).to_be_visible()
    expect(other.locator("[data-live-status]")).to_have_text("Live")

    # Forget the password, and reset it by the link.
    log_out(page)
    page.goto("/forgot")
    page.fill("#email", EMAIL)
    page.get_by_role("button", name=re.compile("Send")).click()
    (reset_link,) = links_in(wait_for_subject(inbox, "Choose a new password"))
    page.goto(path_of(reset_link))
    page.fill("#password", NEW_PASSWORD)
    page.fill("#confirm", NEW_PASSWORD)
    page.get_by_role("button", name=re.compile("Save")).click()
    wait_for_subject(inbox, "Your password was changed")

    # The other browser's session is over: its live page says so at once.
    expect(other.locator("[data-live-status]")).to_contain_text("Logged out")
    other.reload()
    expect(other.get_by_role("link", name="Log in")).to_be_visible()

    # Both back in (the passkey still works; the other with a second recovery code),
    # then the list of sessions, and one ended from it.
    page.goto("/login")
    page.get_by_role("button", name="Log in with a passkey").click()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    log_in(other, NEW_PASSWORD)
    other.wait_for_url("**/login/2fa")
    other.fill("#code", recovery[1])
    other.get_by_role("button", name="Sign in").click()
    expect(other.get_by_role("button", name="Log out")).to_be_visible()

    page.goto("/account/sessions")
    sessions = page.locator("li.session")
    expect(sessions).to_have_count(2)
    expect(page.locator("li.session.this-device")).to_have_count(1)
    page.get_by_role("button", name="End this session").click()
    expect(page.get_by_text("That session is ended")).to_be_visible()
    expect(sessions).to_have_count(1)
    other.goto("/account")
    expect(other.get_by_role("heading", name="Log in")).to_be_visible()
