"""Two-factor sign-in with an authenticator app, through the app as a browser uses it:
turning it on by a first code, the second step of signing in, replays, recovery codes,
turning it off, and the limits on guessing (quartapp/twofactor/routes.py)."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quartapp.config import RateLimitSpec
from tests.database import TestDatabase
from tests.helpers import CSRF_RE, DEFAULT_PASSWORD, AuthActions, page_text, post_form
from tests.twofactor.helpers import log_in_with_password, second_step, turn_on


@pytest.fixture
async def alice(auth: AuthActions, test_database: TestDatabase) -> AuthActions:
    await auth.register_and_login("alice")
    return auth


async def fresh_browser(app: Quart) -> Client:
    return app.test_client()


async def test_turning_it_on_shows_a_qr_code_and_the_key_and_needs_a_right_first_code(
    client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    assert "Set up an authenticator app" in await page_text(await client.get("/account/2fa"))
    await post_form(client, "/account/2fa/setup", {}, token_from="/account/2fa")
    page_response = await client.get("/account/2fa")
    assert page_response.headers["Cache-Control"].startswith("no-store")
    page = await page_text(page_response)
    assert "<svg" in page
    assert 'class="segno"' in page
    assert "<script>" not in page
    assert 'id="totp-secret"' in page

    wrong = await post_form(client, "/account/2fa", {"code": "000000"}, token_from="/account/2fa")
    assert wrong.status_code == 400
    wrong_page = await page_text(wrong)
    assert "That code is not right" in wrong_page
    assert 'value="000000"' in wrong_page  # what was typed is kept
    empty = await post_form(client, "/account/2fa", {"code": ""}, token_from="/account/2fa")
    assert empty.status_code == 400
    assert "Enter the 6-digit code" in await page_text(empty)
    assert test_database.rows("SELECT totp_enabled_at FROM users") == [(None,)]

    _app, recovery = await turn_on(client)
    assert test_database.rows("SELECT totp_enabled_at IS NOT NULL FROM users")[0][0]
    stored = [row[0] for row in test_database.rows("SELECT code_hash FROM recovery_codes")]
    assert len(stored) == 10
    assert not any(code in str(test_database.snapshot()) for code in recovery)  # only hashes
    settings = await page_text(await client.get("/account/2fa"))
    assert "10 of 10 recovery codes left" in settings
    assert 'id="totp-secret"' not in settings  # the key is shown only while setting up


async def test_sign_in_asks_for_a_code_after_the_password(
    app: Quart, client: Client, alice: AuthActions
) -> None:
    authenticator, _ = await turn_on(client)
    await alice.logout()

    browser = await fresh_browser(app)
    answer = await post_form(
        browser, "/login?next=/account", {"username": "alice", "password": DEFAULT_PASSWORD}
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/login/2fa"
    # Not signed in yet: the password alone opens nothing.
    assert (await browser.get("/account")).status_code in (302, 303)
    page = await page_text(await browser.get("/login/2fa"))
    assert "One more step" in page
    assert 'name="code"' in page

    wrong = await second_step(browser, "123456" if authenticator.code(1) != "123456" else "654321")
    assert wrong.status_code == 400
    assert "That code is not right" in await page_text(wrong)
    right = await second_step(browser, authenticator.code(1))
    assert right.status_code == 303
    assert right.headers["Location"] == "/account"
    assert "Log out" in await page_text(await browser.get("/"))


async def test_a_code_is_refused_a_second_time(
    app: Quart, client: Client, alice: AuthActions
) -> None:
    authenticator, _ = await turn_on(client)
    await alice.logout()
    browser = await fresh_browser(app)
    await log_in_with_password(browser)
    # The code that turned it on was used: it cannot sign in.
    assert (await second_step(browser, authenticator.code(0))).status_code == 400
    assert (await second_step(browser, authenticator.code(1))).status_code == 303

    other = await fresh_browser(app)
    await log_in_with_password(other)
    replay = await second_step(other, authenticator.code(1))  # seen a moment ago
    assert replay.status_code == 400
    assert "used already" in await page_text(replay)
    # An older code than the newest one used is refused too.
    assert (await second_step(other, authenticator.code(-1))).status_code == 400


async def test_recovery_codes_work_once_each(
    app: Quart, client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    _, recovery = await turn_on(client)
    await alice.logout()
    browser = await fresh_browser(app)
    await log_in_with_password(browser)
    # Typed in capitals with spaces: the same code.
    used = await second_step(browser, recovery[0].upper().replace("-", " "))
    assert used.status_code == 303
    assert "9 left" in await page_text(await browser.get("/"))

    other = await fresh_browser(app)
    await log_in_with_password(other)
    again = await second_step(other, recovery[0])
    assert again.status_code == 400
    assert (await second_step(other, recovery[1])).status_code == 303
    assert len(test_database.rows("SELECT id FROM recovery_codes")) == 8


async def test_new_recovery_codes_void_the_old(
    app: Quart, client: Client, alice: AuthActions
) -> None:
    _, old = await turn_on(client)
    wrong = await post_form(
        client, "/account/2fa/recovery-codes", {"password": "not it"}, token_from="/account/2fa"
    )
    assert wrong.status_code == 400
    assert "That is not your password" in await page_text(wrong)
    renewed = await post_form(
        client,
        "/account/2fa/recovery-codes",
        {"password": DEFAULT_PASSWORD},
        token_from="/account/2fa",
    )
    assert renewed.status_code == 200
    assert renewed.headers["Cache-Control"].startswith("no-store")
    new = [c for c in old if c not in await page_text(renewed)]
    assert new == old  # none of the old ones is shown again
    await alice.logout()
    browser = await fresh_browser(app)
    await log_in_with_password(browser)
    assert (await second_step(browser, old[0])).status_code == 400


async def test_turning_it_off_needs_the_password_and_a_code(
    app: Quart, client: Client, alice: AuthActions, test_database: TestDatabase
) -> None:
    authenticator, _ = await turn_on(client)

    async def turn_off(password: str, code: str) -> Any:
        return await post_form(
            client,
            "/account/2fa/turn-off",
            {"password": password, "code": code},
            token_from="/account/2fa",
        )

    no_password = await turn_off("not it", authenticator.code(1))
    assert no_password.status_code == 400
    assert "That is not your password" in await page_text(no_password)
    no_code = await turn_off(DEFAULT_PASSWORD, "000000")
    assert no_code.status_code == 400
    assert "That code is not right" in await page_text(no_code)
    assert test_database.rows("SELECT totp_enabled_at IS NOT NULL FROM users")[0][0]

    off = await turn_off(DEFAULT_PASSWORD, authenticator.code(1))
    assert off.status_code == 303
    assert test_database.rows("SELECT totp_secret, totp_enabled_at, totp_last_step FROM users") == [
        (None, None, None)
    ]
    assert test_database.rows("SELECT id FROM recovery_codes") == []
    await alice.logout()
    assert (await alice.login("alice")).status_code == 303  # the password alone again


async def test_the_second_step_without_a_password_first_goes_back_to_log_in(
    client: Client,
) -> None:
    response = await client.get("/login/2fa")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login"
    assert "Log in again" in await page_text(await client.get("/login"))


async def test_a_password_change_voids_a_half_finished_sign_in(
    app: Quart, client: Client, alice: AuthActions
) -> None:
    authenticator, _ = await turn_on(client)
    stranger = await fresh_browser(app)
    await log_in_with_password(stranger)  # knows the password, waits for a code
    changed = await post_form(
        client,
        "/account/password",
        {
            "current_password": DEFAULT_PASSWORD,
            "password": "an entirely new passphrase",
            "confirm": "an entirely new passphrase",
        },
        token_from="/account",
    )
    assert changed.status_code == 303
    refused = await second_step(stranger, authenticator.code(1))
    assert refused.status_code == 303
    assert refused.headers["Location"] == "/login"


async def test_codes_tried_are_limited_per_account_whatever_the_address(
    make_app: Any, test_database: TestDatabase
) -> None:
    app: Quart = make_app(rate_limit_second_factor=RateLimitSpec.parse("X", "3/hour"))
    async with app.test_app():

        def from_address(address: str) -> Client:
            client: Client = app.test_client()
            original = client.open

            async def open_from(*args: Any, **kwargs: Any) -> Any:
                kwargs["scope_base"] = {"client": (address, 40000)}
                return await original(*args, **kwargs)

            client.open = open_from  # type: ignore[method-assign]
            return client

        owner = from_address("198.51.100.1")
        await AuthActions(owner).register_and_login("alice")
        authenticator, _ = await turn_on(owner)

        # Turning it on took the account's first code; two wrong ones make three.
        first = from_address("203.0.113.1")
        await log_in_with_password(first)
        for _ in range(2):
            assert (await second_step(first, "000000")).status_code == 400
        limited = await second_step(first, authenticator.code(1))
        assert limited.status_code == 429
        assert "Too many" in await page_text(limited)
        assert 'value="' in await page_text(limited)

        # Another address, its first try, the same account: the account's count has run out.
        second = from_address("192.0.2.1")
        await log_in_with_password(second)
        also = await second_step(second, authenticator.code(1))
        assert also.status_code == 429
        page = await page_text(also)
        assert "Too many codes were tried" in page
        assert CSRF_RE.search(page)
