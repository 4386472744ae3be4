"""Auth events are logged, and no password, cookie or token ever is (DEBUG included)."""

from __future__ import annotations

import logging

import pytest
from quart.typing import TestClientProtocol as Client

from tests.helpers import DEFAULT_PASSWORD, AuthActions, post_form


async def test_auth_events_are_logged_without_secrets(
    client: Client, auth: AuthActions, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    response = await auth.register("alice")
    cookies = [h.split(";", 1)[0].split("=", 1)[1] for h in response.headers.getlist("Set-Cookie")]
    await auth.logout()
    await auth.login("alice", "wrong password 1")
    await auth.login("alice")
    new_password = "another long password"
    await post_form(
        client,
        "/account/password",
        {"current_password": DEFAULT_PASSWORD, "password": new_password, "confirm": new_password},
        token_from="/account",
    )
    messages = [record.getMessage() for record in caplog.records]
    text = "\n".join(messages)
    for expected in ("registered user_id=", "logout from=", "login failed user_id=",
                     "login ok user_id=", "password changed user_id="):  # fmt: skip
        assert expected in text
    for secret in [DEFAULT_PASSWORD, "wrong password 1", new_password, *cookies]:
        assert secret not in text


async def test_a_name_that_is_no_account_is_never_logged(
    client: Client, auth: AuthActions, caplog: pytest.LogCaptureFixture
) -> None:
    """People type their password into the username box: only a keyed hash of a name that
    names no account reaches the log, the same for the same name."""
    caplog.set_level(logging.DEBUG)
    await auth.register("alice")
    await auth.logout()
    typed_password = "my secret passphrase 7"
    await auth.login(typed_password, "anything at all")
    await auth.login(typed_password, "anything else")
    failures = [r.getMessage() for r in caplog.records if "login failed" in r.getMessage()]
    assert len(failures) == 2
    assert all(typed_password not in message for message in failures)
    assert failures[0].split(" from=")[0] == failures[1].split(" from=")[0]
    assert "login failed for no account (name " in failures[0]
