"""Logging in and out, `remember`, safe `?next=` redirects and the login-required redirect."""

from __future__ import annotations

import asyncio
import re
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlencode

import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from tests.helpers import CSRF_RE, DEFAULT_PASSWORD, AuthActions, csrf_token, page_text, post_form

AUTH_COOKIE = "quartapp_auth"


def set_cookie_header(response: Response, name: str) -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert len(headers) == 1, response.headers
    return headers[0]


async def login_form(
    client: Client, username: str, password: str = DEFAULT_PASSWORD, *, next_url: str = ""
) -> Response:
    data = {"csrf_token": await csrf_token(client), "username": username, "password": password}
    query = {"next": next_url} if next_url else None
    return await client.post("/login", form=data, query_string=query)


@pytest.fixture
async def alice(client: Client, auth: AuthActions) -> AuthActions:
    """A registered user ``alice`` (Alice@Example.com), logged out."""
    response = await auth.register("alice", email="Alice@Example.com")
    assert response.status_code == 303
    await auth.logout()
    return auth


@pytest.mark.parametrize(
    "login",
    [
        "alice",
        "ALICE",
        "aLiCe",
        " alice ",
        "Alice@Example.com",
        "alice@example.com",
        "ALICE@EXAMPLE.COM",
    ],
)
async def test_log_in_with_username_or_email_in_any_case(
    client: Client, alice: AuthActions, login: str
) -> None:
    assert (await client.get("/account")).status_code == 303
    response = await alice.login(login)
    assert response.status_code == 303, await page_text(response)
    assert response.headers["Location"] == "/"
    assert (await client.get("/account")).status_code == 200


async def test_logout_ends_the_login(client: Client, alice: AuthActions) -> None:
    await alice.login()
    assert (await client.get("/account")).status_code == 200
    response = await alice.logout()
    assert response.status_code == 303
    assert "Max-Age=0" in set_cookie_header(response, AUTH_COOKIE)
    assert (await client.get("/account")).status_code == 303


async def test_logout_is_post_only(client: Client, alice: AuthActions) -> None:
    await alice.login()
    assert (await client.get("/logout")).status_code == 405
    assert (await client.get("/account")).status_code == 200


async def test_remember_gives_a_lasting_cookie(client: Client, alice: AuthActions) -> None:
    response = await alice.login(remember=True)
    cookie = set_cookie_header(response, AUTH_COOKIE)
    max_age = re.search(r"Max-Age=(\d+)", cookie)
    assert max_age is not None
    assert int(max_age.group(1)) == 30 * 24 * 3600  # remember_days
    assert "Expires=" in cookie


async def test_without_remember_the_cookie_ends_with_the_browser(
    client: Client, alice: AuthActions
) -> None:
    response = await alice.login(remember=False)
    cookie = set_cookie_header(response, AUTH_COOKIE)
    assert "Max-Age" not in cookie
    assert "Expires" not in cookie


async def test_remember_days_setting_sets_the_cookie_lifetime(make_app: Any) -> None:
    async with make_app(remember_days=7).test_app() as test_app:
        auth = AuthActions(test_app.test_client())
        await auth.register("alice")
        await auth.logout()
        cookie = set_cookie_header(await auth.login(remember=True), AUTH_COOKIE)
        assert f"Max-Age={7 * 24 * 3600}" in cookie


async def test_logged_in_visit_to_login_redirects(client: Client, alice: AuthActions) -> None:
    await alice.login()
    response = await client.get("/login")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"
    response = await client.get("/login", query_string={"next": "/account"})
    assert response.headers["Location"] == "/account"
    response = await client.get("/login", query_string={"next": "//evil.example"})
    assert response.headers["Location"] == "/"


async def test_unknown_user_and_wrong_password_get_the_same_answer(
    client: Client, auth: AuthActions
) -> None:
    """Same status and text, so the page does not tell which usernames exist."""
    visitor = client.app.test_client()
    unknown = await login_form(visitor, "zed", "not the password")
    assert (await auth.register("zed")).status_code == 303
    wrong = await login_form(visitor, "zed", "not the password")

    assert unknown.status_code == wrong.status_code == 400

    def without_token(page: str) -> str:
        return CSRF_RE.sub("", page)

    unknown_page, wrong_page = await page_text(unknown), await page_text(wrong)
    assert without_token(unknown_page) == without_token(wrong_page)
    assert "That username or password is not right." in wrong_page


async def test_empty_login_form_is_explained(client: Client, alice: AuthActions) -> None:
    response = await post_form(client, "/login", {"username": "", "password": ""})
    assert response.status_code == 400
    page = await page_text(response)
    assert "Enter your username or e-mail address." in page
    assert "Enter your password." in page


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example",
        "//evil.example/account",
        "///evil.example",
        "https://evil.example",
        "https://evil.example/account",
        "http:/evil.example",
        "http:evil.example",
        "/\\evil.example",
        "\\\\evil.example",
        "/\t/evil.example",
        "/\n/evil.example",
        " //evil.example",
        "javascript:alert(1)",
        "JavaScript:alert(1)",
        "data:text/html,<script>alert(1)</script>",
        "evil.example",
        "account",
        "",
    ],
)
async def test_next_leaving_the_site_lands_on_home(
    client: Client, alice: AuthActions, target: str
) -> None:
    response = await login_form(client, "alice", next_url=target)
    assert response.status_code == 303
    assert response.headers["Location"] == "/"


@pytest.mark.parametrize("target", ["/account?x=1", "/u/alice", "/entries/1", "/account"])
async def test_next_on_this_site_is_followed(
    client: Client, alice: AuthActions, target: str
) -> None:
    response = await login_form(client, "alice", next_url=target)
    assert response.status_code == 303
    assert response.headers["Location"] == target


async def test_visitor_is_sent_to_login_and_back(client: Client, alice: AuthActions) -> None:
    response = await client.get("/account", query_string={"x": "1"})
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/account?x%3D1"

    response = await client.get("/account")
    assert response.status_code == 303
    assert response.headers["Location"] == "/login?next=/account"

    # The login page keeps `next` in its form, so submitting it goes back to /account.
    page = await page_text(await client.get(response.headers["Location"]))
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action is not None
    token = CSRF_RE.search(page)
    assert token is not None
    form = {"csrf_token": token.group(1), "username": "alice", "password": DEFAULT_PASSWORD}
    response = await client.post(action.group(1).replace("&amp;", "&"), form=form)
    assert response.status_code == 303
    assert response.headers["Location"] == "/account"


async def test_visitor_post_to_login_required_page_is_redirected(
    client: Client, alice: AuthActions
) -> None:
    response = await post_form(client, "/account/profile", {"about": "hi"})
    assert response.status_code == 303
    # /account/profile only takes POSTs: going back to it after logging in would be a 405.
    assert response.headers["Location"] == "/login?next=/"


async def test_a_post_goes_back_to_the_page_of_its_form(client: Client, alice: AuthActions) -> None:
    token = await csrf_token(client, "/login")
    response = await client.post(
        "/account/profile",
        form={"csrf_token": token, "about": "hi"},
        headers={"Referer": "http://localhost/account?tab=profile"},
    )
    assert response.headers["Location"] == "/login?next=/account?tab%3Dprofile"
    response = await client.post(
        "/account/profile",
        form={"csrf_token": token, "about": "hi"},
        headers={"Referer": "https://evil.example/account"},
    )
    assert response.headers["Location"] == "/login?next=/"


async def test_wrong_password_for_a_logged_out_user_keeps_them_out(
    client: Client, alice: AuthActions
) -> None:
    response = await alice.login(password="wrong password!")
    assert response.status_code == 400
    set_cookies = response.headers.getlist("Set-Cookie")
    assert not any(header.startswith(f"{AUTH_COOKIE}=") for header in set_cookies)
    assert (await client.get("/account")).status_code == 303


# --- Answers given before the view reads the body must not break keep-alive -------------


@asynccontextmanager
async def serving(app: Quart) -> AsyncIterator[int]:
    """Serve ``app`` with hypercorn on a free loopback port; yields the port."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port: int = listener.getsockname()[1]
    config = Config()
    config.bind = [f"fd://{listener.detach()}"]  # hypercorn owns and closes it
    config.accesslog = None
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    try:
        yield port
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)


class KeepAliveClient:
    """HTTP/1.1 on one connection, with the body sent in two parts.

    The second part is sent only after a pause, so an answer given without reading the
    body goes out while the body is still arriving: hypercorn then closes the connection.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.cookies: dict[str, str] = {}

    async def request(
        self, method: str, path: str, form: dict[str, str] | None = None, *, split: bool = True
    ) -> tuple[int, dict[str, str], str]:
        body = urlencode(form or {}).encode()
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        if method == "POST":
            lines += [
                "Content-Type: application/x-www-form-urlencoded",
                f"Content-Length: {len(body)}",
            ]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode() + body[:5])
        await self.writer.drain()
        if body[5:]:
            if split:
                await asyncio.sleep(0.2)
            self.writer.write(body[5:])
            await self.writer.drain()
        return await self._read_response()

    async def _read_response(self) -> tuple[int, dict[str, str], str]:
        head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), 5)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers: dict[str, str] = {}
        for line in filter(None, header_lines):
            name, _, value = line.partition(":")
            if name.lower() == "set-cookie":
                cookie_name, _, cookie_value = value.strip().split(";")[0].partition("=")
                self.cookies[cookie_name] = cookie_value
            headers[name.lower()] = value.strip()
        body = await self.reader.readexactly(int(headers.get("content-length", "0")))
        return int(status_line.split()[1]), headers, body.decode()


@asynccontextmanager
async def keep_alive_client(port: int) -> AsyncIterator[KeepAliveClient]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        yield KeepAliveClient(reader, writer)
    finally:
        writer.close()
        await writer.wait_closed()


async def still_connected(client: KeepAliveClient) -> bool:
    try:
        status, _, _ = await client.request("GET", "/healthz")
    except (asyncio.IncompleteReadError, ConnectionError):
        return False
    return status == 200


async def _token(client: KeepAliveClient) -> str:
    status, _, page = await client.request("GET", "/login")
    assert status == 200
    match = CSRF_RE.search(page)
    assert match is not None
    return match.group(1)


async def test_login_required_redirect_of_a_post_keeps_the_connection(make_app: Any) -> None:
    async with serving(make_app()) as port, keep_alive_client(port) as visitor:
        token = await _token(visitor)
        status, headers, _ = await visitor.request(
            "POST", "/account/profile", {"csrf_token": token, "about": "x" * 2000}
        )
        assert status == 303
        assert headers["location"] == "/login?next=/"
        assert await still_connected(visitor)


async def test_rate_limited_post_keeps_the_connection(make_app: Any) -> None:
    async with serving(make_app()) as port, keep_alive_client(port) as visitor:
        form = {"username": "nobody", "password": "x" * 2000}
        for _ in range(10):  # refused for want of a CSRF token, but counted
            assert (await visitor.request("POST", "/login", form, split=False))[0] == 400
        status, headers, _ = await visitor.request("POST", "/login", form)
        assert status == 429
        assert int(headers["retry-after"]) > 0
        assert await still_connected(visitor)


async def test_logout_tells_the_browser_to_drop_what_it_kept(
    client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("leaver")
    response = await auth.logout()
    assert response.status_code == 303
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
