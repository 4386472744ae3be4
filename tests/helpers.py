"""Test helpers: read CSRF tokens from pages and act as a user would."""

from __future__ import annotations

import re
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from quartapp.services import services_of

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
DEFAULT_PASSWORD = "correct horse battery"


def titles(page: str) -> list[str]:
    """The titles of the entry cards on a page, in order."""
    return re.findall(r'<h2 class="entry-title"><a href="/entries/\d+">(.*?)</a></h2>', page)


async def no_background_indexing(app: Quart) -> None:
    """The app's search index is brought up to date only by searches (tests/conftest.py)."""
    await services_of(app).search_index.stop()


async def page_text(response: Response) -> str:
    return await response.get_data(as_text=True)


async def csrf_token(client: Client, path: str = "/login") -> str:
    response = await client.get(path)
    match = CSRF_RE.search(await page_text(response))
    assert match is not None, f"no CSRF token on {path}"
    return match.group(1)


async def post_form(
    client: Client,
    path: str,
    data: dict[str, Any],
    *,
    token_from: str = "/login",  # noqa: S107 - a path
) -> Response:
    """POST a form the way a browser would: with the token the site put in its page."""
    form = {"csrf_token": await csrf_token(client, token_from), **data}
    return await client.post(path, form=form)


class AuthActions:
    def __init__(self, client: Client) -> None:
        self.client = client

    async def register(
        self,
        username: str = "alice",
        email: str | None = None,
        password: str = DEFAULT_PASSWORD,
        confirm: str | None = None,
    ) -> Response:
        return await post_form(
            self.client,
            "/register",
            {
                "username": username,
                "email": email if email is not None else f"{username}@example.com",
                "password": password,
                "confirm": password if confirm is None else confirm,
            },
            token_from="/register",
        )

    async def login(
        self,
        username: str = "alice",
        password: str = DEFAULT_PASSWORD,
        *,
        remember: bool = False,
        next_url: str | None = None,
    ) -> Response:
        data: dict[str, Any] = {"username": username, "password": password}
        if remember:
            data["remember"] = "y"
        path = "/login" if next_url is None else f"/login?next={next_url}"
        return await post_form(self.client, path, data)

    async def logout(self) -> Response:
        return await post_form(self.client, "/logout", {}, token_from="/")

    async def register_and_login(self, username: str = "alice") -> None:
        response = await self.register(username)
        assert response.status_code == 303, await page_text(response)

    async def post_entry(
        self, body: str = "Hello **world**", title: str = "", visibility: str = "public"
    ) -> int:
        response = await post_form(
            self.client,
            "/entries",
            {"title": title, "body": body, "visibility": visibility},
            token_from="/",
        )
        assert response.status_code == 303, await page_text(response)
        location = response.headers["Location"]
        return int(location.rsplit("/", 1)[1])
