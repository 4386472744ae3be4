"""Error pages for people, JSON errors under /api/, and nothing internal in either."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable

import pytest
from quart import Quart, request
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from tests.database import TestDatabase
from tests.helpers import AuthActions, csrf_token, post_form
from tests.test_security import checked_page, second_user

SECRET_DETAIL = "boom at /work/main/quartapp/secret.py line 7: SELECT password_hash FROM users"
LEAKS = (
    "Traceback",
    "/work",
    ".py",
    "SELECT",
    "sqlite",
    "asyncpg",
    "RuntimeError",
    "password_hash",
)


@pytest.fixture
async def boom_app(make_app: Callable[..., Quart]) -> AsyncIterator[Quart]:
    """The app plus test-only routes that fail inside a view."""
    application = make_app()

    @application.route("/boom")
    async def boom() -> str:
        raise RuntimeError(SECRET_DETAIL)

    @application.route("/api/boom", methods=["GET", "POST"])
    async def api_boom() -> str:
        raise RuntimeError(SECRET_DETAIL)

    @application.route("/api/echo", methods=["POST"])
    async def api_echo() -> dict[str, object]:
        return {"echo": await request.get_json()}

    async with application.test_app():
        yield application


async def assert_error_page(response: Response, status: int, *words: str) -> str:
    assert response.status_code == status
    assert response.mimetype == "text/html"
    page = await checked_page(response)
    assert f'<p class="error-code">{status}</p>' in page
    for word in words:
        assert word in page, word
    for leak in LEAKS:
        assert leak not in page, leak
    return page


async def assert_json_error(response: Response, status: int) -> dict[str, object]:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    await checked_page(response)
    body = await response.get_json()
    assert set(body) == {"error"}
    error = body["error"]
    assert error["status"] == status
    assert isinstance(error["message"], str)
    assert error["message"]
    for leak in LEAKS:
        assert leak not in await response.get_data(as_text=True), leak
    assert isinstance(error, dict)
    return error


async def test_404_page(client: Client) -> None:
    await assert_error_page(await client.get("/no/such/page"), 404, "Not found")


async def test_405_page(client: Client) -> None:
    response = await client.get("/logout")
    await assert_error_page(response, 405, "Method not allowed")
    assert "POST" in response.headers["Allow"]


async def test_400_page(client: Client) -> None:
    await assert_error_page(await client.get("/?before=x"), 400, "Bad request", "before")


async def test_403_page(app: Quart, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("mine")
    bob, _ = await second_user(app)
    await assert_error_page(await bob.get(f"/entries/{entry_id}/edit"), 403, "Not yours")


async def test_413_page_for_a_body_over_one_mebibyte(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    token = await csrf_token(client, "/")
    response = await client.post(
        "/entries", form={"csrf_token": token, "body": "x" * (1024 * 1024)}
    )
    await assert_error_page(response, 413, "Too large", "1 MiB")
    too_large = b"x" * (1024 * 1024 + 1)
    for headers in (
        {"Content-Type": "application/octet-stream"},  # sent chunked: no length
        {"Content-Type": "text/plain", "Content-Length": str(len(too_large))},
    ):
        response = await client.post("/entries", data=too_large, headers=headers)
        await assert_error_page(response, 413)
    assert test_database.count("entries") == 0
    # The client may go on: a body just under the limit is read and judged on its fields.
    response = await client.post("/entries", form={"csrf_token": token, "body": "x" * 30_000})
    assert response.status_code == 400


async def test_413_json_under_the_api(boom_app: Quart) -> None:
    response = await boom_app.test_client().post("/api/echo", json={"x": "y" * (1024 * 1024)})
    await assert_json_error(response, 413)


async def test_429_page(client: Client) -> None:
    statuses = [(await client.post("/register", form={})).status_code for _ in range(6)]
    assert statuses[-1] == 429
    response = await client.post("/register", form={})
    await assert_error_page(response, 429, "Slow down")
    assert int(response.headers["Retry-After"]) > 0


async def test_500_page_hides_the_error(boom_app: Quart, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.ERROR, logger="quartapp.errors"):
        response = await boom_app.test_client().get("/boom")
    await assert_error_page(response, 500, "Something went wrong")
    assert SECRET_DETAIL in caplog.text  # logged for the operator, not shown


async def test_500_json_under_the_api(boom_app: Quart) -> None:
    client = boom_app.test_client()
    for response in (await client.get("/api/boom"), await client.post("/api/boom", json={})):
        error = await assert_json_error(response, 500)
        assert SECRET_DETAIL not in str(error)


async def test_a_database_failure_shows_no_sql(client: Client, test_database: TestDatabase) -> None:
    def lose_entries() -> None:
        # Renamed, not dropped: other tables' foreign keys name it (PostgreSQL refuses).
        test_database.execute("ALTER TABLE entries RENAME TO entries_gone")

    # In a thread: blocking the event loop could stall the app's own short transactions
    # while they hold the write lock, and SQLite would answer "database is locked".
    await asyncio.to_thread(lose_entries)
    await assert_error_page(await client.get("/"), 500)


async def test_api_errors_are_json(client: Client) -> None:
    for response in (
        await client.get("/api/nothing"),
        await client.post("/api/nothing", data=b"x"),
        await client.get("/api/"),
    ):
        error = await assert_json_error(response, 404)
        assert (
            error["message"] == "There is nothing here. It may have been deleted, or it is private."
        )


async def test_an_error_page_keeps_the_visitor_logged_in(client: Client, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    page = await assert_error_page(await client.get("/nowhere"), 404)
    assert 'href="/u/alice"' in page
    response = await post_form(client, "/logout", {}, token_from="/")
    assert response.status_code == 303


NUL_FORMS = {
    "/entries": {"title": "", "body": "before\x00after", "visibility": "public"},
    "/account/profile": {"about": "birds\x00"},
}


@pytest.mark.parametrize("path", list(NUL_FORMS))
async def test_a_nul_character_in_a_form_is_refused_and_stores_nothing(
    client: Client, auth: AuthActions, test_database: TestDatabase, path: str
) -> None:
    """PostgreSQL cannot store U+0000 (SQLite can): both refuse it, naming the field."""
    await auth.register_and_login("alice")
    before = test_database.snapshot()
    response = await post_form(client, path, NUL_FORMS[path], token_from="/account")
    field = next(name for name, value in NUL_FORMS[path].items() if "\x00" in value)
    await assert_error_page(response, 400, f"The field &#39;{field}&#39; contains a NUL")
    assert test_database.snapshot() == before
    assert (await client.get("/account")).status_code == 200  # still logged in


@pytest.mark.parametrize(
    "login", ["ali\x00ce", "alice@example.com\x00", "\x00"], ids=["name", "email", "alone"]
)
async def test_a_nul_character_in_a_login_is_refused(
    client: Client, auth: AuthActions, login: str
) -> None:
    await auth.register("alice")
    await auth.logout()
    response = await auth.login(login)
    await assert_error_page(response, 400, "The field &#39;username&#39; contains a NUL")
    assert (await auth.login("alice")).status_code == 303  # the form still works


@pytest.mark.parametrize("path", ["/u/ali%00ce", "/?before=1%00", "/entries/1%00"])
async def test_a_nul_character_in_the_address_is_refused(client: Client, path: str) -> None:
    await assert_error_page(await client.get(path), 400, "contains a NUL character")
