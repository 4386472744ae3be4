"""Acting as a writer with an authenticator app: read the key off the page, type codes."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pyotp
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from quartapp.twofactor import codes
from tests.helpers import DEFAULT_PASSWORD, page_text, post_form

SECRET_RE = re.compile(r'id="totp-secret">([A-Z2-7 ]+)<')
RECOVERY_RE = re.compile(r"<li>([a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4})</li>")


class App:
    """The writer's authenticator app: it can show the code of any time step."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.totp = pyotp.TOTP(secret)

    def code(self, steps_from_now: int = 0) -> str:
        return self.totp.generate_otp(codes.time_step(datetime.now(UTC)) + steps_from_now)


async def turn_on(client: Client) -> tuple[App, list[str]]:
    """Set up the app from the two-factor page and confirm it: the app and the codes."""
    started = await post_form(client, "/account/2fa/setup", {}, token_from="/account/2fa")
    assert started.status_code == 303
    page = await page_text(await client.get("/account/2fa"))
    found = SECRET_RE.search(page)
    assert found is not None, page
    app = App(found.group(1).replace(" ", ""))
    response = await post_form(
        client, "/account/2fa", {"code": app.code()}, token_from="/account/2fa"
    )
    assert response.status_code == 200, await page_text(response)
    recovery = RECOVERY_RE.findall(await page_text(response))
    assert len(recovery) == 10
    return app, recovery


async def second_step(client: Client, code: str) -> Response:
    # The token is the session's, on every page; /login/2fa itself may have moved on.
    return await post_form(client, "/login/2fa", {"code": code}, token_from="/login")


async def log_in_with_password(
    client: Client, username: str = "alice", password: str = DEFAULT_PASSWORD
) -> Response:
    return await post_form(client, "/login", {"username": username, "password": password})
