"""Limits are shown before they bite and never cut text: no page has a ``maxlength`` (a
browser cuts a paste short at it without a word); every limited field carries the
server's own limit as ``data-max`` for static/limits.js to count down to; past it the
server refuses with the text kept."""

from __future__ import annotations

import re

from quart.typing import TestClientProtocol as Client

from quartapp.journal.forms import BODY_MAX, TITLE_MAX
from tests.database import TestDatabase
from tests.helpers import AuthActions, page_text, post_form

MAXLENGTH = re.compile(r"<(?:input|textarea)[^>]*\smaxlength=", re.I)


def data_max(page: str, field_id: str) -> int | None:
    tag = re.search(rf'<(?:input|textarea)[^>]*\sid="{field_id}"[^>]*>', page)
    assert tag is not None, field_id
    found = re.search(r'data-max="(\d+)"', tag.group(0))
    return int(found.group(1)) if found else None


async def test_no_page_has_a_maxlength_and_limits_are_the_servers(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    visitor_pages = {
        path: await page_text(await client.get(path))
        for path in ("/register", "/login", "/forgot", "/passwords")
    }
    assert data_max(visitor_pages["/register"], "username") == 32
    assert data_max(visitor_pages["/register"], "email") == 254
    assert data_max(visitor_pages["/register"], "password") == 256
    assert data_max(visitor_pages["/register"], "confirm") is None  # it must equal the first
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("words")
    writer_pages = {
        path: await page_text(await client.get(path))
        for path in (
            "/",
            "/account",
            "/account/2fa",
            f"/entries/{entry_id}/edit",
            "/passwords",
            "/drafts",
        )
    }
    assert data_max(writer_pages["/"], "body") == BODY_MAX
    assert data_max(writer_pages["/"], "title") == TITLE_MAX
    assert data_max(writer_pages[f"/entries/{entry_id}/edit"], "body") == BODY_MAX
    assert data_max(writer_pages["/account"], "about") == 500
    assert data_max(writer_pages["/passwords"], "name") == 60
    for path, page in {**visitor_pages, **writer_pages}.items():
        assert not MAXLENGTH.search(page), path
        assert 'src="/static/limits.js"' in page, path


async def test_an_entry_at_its_limit_goes_in_and_one_past_it_comes_back_whole(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    over = "x" * (BODY_MAX + 1)
    refused = await post_form(client, "/entries", {"body": over}, token_from="/")
    assert refused.status_code == 400
    page = await page_text(refused)
    assert "Entries are at most 20,000 characters." in page
    assert over + "</textarea>" in page  # not a character lost
    assert test_database.rows("SELECT COUNT(*) FROM entries") == [(0,)]
    fits = await post_form(client, "/entries", {"body": "x" * BODY_MAX}, token_from="/")
    assert fits.status_code == 303
    assert test_database.rows("SELECT length(body) FROM entries") == [(BODY_MAX,)]


async def test_a_long_password_is_named_too_long_not_mismatched(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    response = await auth.register("alice", password="p" * 300)
    assert response.status_code == 400
    page = await page_text(response)
    assert "Passwords are 8 to 256 characters long." in page
    assert "do not match" not in page


async def test_a_form_sent_too_large_names_the_limit_and_leads_back_to_it(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    response = await post_form(
        client,
        "/entries",
        {"body": "x" * (1024 * 1024 + 1)},
        token_from="/",
    )
    assert response.status_code == 413
    page = await page_text(response)
    assert "larger than the 1 MiB this site accepts" in page
    assert "kept in this browser" in page
    assert test_database.rows("SELECT COUNT(*) FROM entries") == [(0,)]
    sent_from = await client.post(
        "/entries",
        data="body=" + "x" * (1024 * 1024 + 1),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": "http://localhost/entries/7/edit",
        },
    )
    assert sent_from.status_code == 413
    assert 'href="/entries/7/edit">Back to the form' in await page_text(sent_from)
    elsewhere = await client.post(
        "/entries",
        data="body=" + "x" * (1024 * 1024 + 1),
        headers={
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": "https://evil.example/form",
        },
    )
    assert "Back to the form" not in await page_text(elsewhere)
