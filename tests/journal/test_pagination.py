"""The home page: visible entries, newest first, 20 a page, keyset pagination."""

from __future__ import annotations

import html
import re
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quartapp.db import Database
from quartapp.journal import store
from quartapp.journal.render import render_markdown
from quartapp.services import services_of
from tests.database import TestDatabase
from tests.helpers import AuthActions
from tests.test_security import checked_page, second_user

ENTRY_ID_RE = re.compile(r'<article class="entry" id="entry-(\d+)"')
OLDER_RE = re.compile(r'<a [^>]*href="([^"]+)" rel="next">')


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"rate_limits_enabled": False}


def user_id(test_database: TestDatabase, username: str) -> int:
    value: int = test_database.scalar(
        "SELECT id FROM users WHERE username = :username", username=username
    )
    return value


async def write_entries(
    app: Quart, author_id: int, count: int, visibility: str = "public", label: str = "entry"
) -> list[int]:
    """Entries written through the app's own store (fast: no HTTP round trip each)."""
    database: Database = services_of(app).database
    ids = []
    for n in range(count):
        body = f"{label} body {n}"
        content = store.EntryContent(f"{label} {n}", body, visibility, render_markdown(body))
        async with database.transaction() as session:
            ids.append((await store.create_entry(session, author_id, content)).id)
    return ids


async def page_texts(client: Client, start: str) -> list[str]:
    """Every page reached from ``start`` by following the "Older" links."""
    pages: list[str] = []
    path: str | None = start
    while path is not None:
        response = await client.get(path)
        assert response.status_code == 200, path
        page = await checked_page(response)
        pages.append(page)
        older = OLDER_RE.search(page)
        path = html.unescape(older.group(1)) if older else None
        assert len(pages) < 50, "the Older links never end"
    return pages


async def walk_pages(client: Client, start: str) -> list[list[int]]:
    """The entry ids of each page reached from ``start``, in order."""
    return [
        [int(found) for found in ENTRY_ID_RE.findall(page)]
        for page in await page_texts(client, start)
    ]


def assert_paged(pages: list[list[int]], expected: list[int]) -> None:
    """20 a page (the last may be shorter but never empty), no overlap and no gap."""
    assert [entry for page in pages for entry in page] == expected
    assert all(len(page) == 20 for page in pages[:-1])
    assert 1 <= len(pages[-1]) <= 20 or expected == []


async def test_home_pages_show_every_visible_entry_once_newest_first(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    _, bob_auth = await second_user(app, "bob")
    alice, bob = user_id(test_database, "alice"), user_id(test_database, "bob")
    everything: list[tuple[int, str, int]] = []  # (id, visibility, author)
    for round_ in range(5):
        for author in (alice, bob):
            for visibility, count in (("public", 4), ("private", 2)):
                ids = await write_entries(app, author, count, visibility, f"r{round_}")
                everything += [(entry_id, visibility, author) for entry_id in ids]
    newest_first = sorted(everything, reverse=True)

    def visible_to(viewer: int | None) -> list[int]:
        return [i for i, vis, author in newest_first if vis == "public" or author == viewer]

    assert_paged(await walk_pages(client, "/"), visible_to(alice))
    assert_paged(await walk_pages(bob_auth.client, "/"), visible_to(bob))
    assert_paged(await walk_pages(app.test_client(), "/"), visible_to(None))
    assert len(visible_to(None)) == 40  # two full pages exactly: no empty third page


@pytest.mark.parametrize("count", [0, 1, 19, 20, 21, 39, 40, 41, 45])
async def test_page_boundaries(
    app: Quart, auth: AuthActions, test_database: TestDatabase, count: int
) -> None:
    await auth.register_and_login("alice")
    ids = await write_entries(app, user_id(test_database, "alice"), count)
    pages = await walk_pages(app.test_client(), "/")
    assert_paged(pages, ids[::-1])
    assert len(pages) == max(1, -(-count // 20))


async def test_new_entries_do_not_shift_older_pages(app: Quart, auth: AuthActions) -> None:
    """Keyset pagination: page 2 is the same after someone posts (an offset would shift)."""
    await auth.register_and_login("alice")
    ids = await write_entries(app, 1, 30)
    visitor = app.test_client()
    first = await checked_page(await visitor.get("/"))
    older = OLDER_RE.search(first)
    assert older is not None
    await write_entries(app, 1, 5, label="newer")
    second = await checked_page(await visitor.get(html.unescape(older.group(1))))
    assert [int(found) for found in ENTRY_ID_RE.findall(second)] == ids[9::-1]


async def test_before_shows_entries_older_than_the_id(app: Quart, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    ids = await write_entries(app, 1, 5)
    page = await checked_page(await app.test_client().get(f"/?before={ids[3]}"))
    assert [int(found) for found in ENTRY_ID_RE.findall(page)] == [ids[2], ids[1], ids[0]]
    assert 'href="/">Newest</a>' in page
    page = await checked_page(await app.test_client().get(f"/?before={ids[0]}"))
    assert ENTRY_ID_RE.findall(page) == []
    assert "No older entries." in page


async def test_a_writer_gets_a_compose_form_and_a_visitor_does_not(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    visitor_page = await checked_page(await client.get("/"))
    assert 'action="/entries"' not in visitor_page
    assert 'name="body"' not in visitor_page
    await auth.register_and_login("alice")
    writer_page = await checked_page(await client.get("/"))
    compose = writer_page.index('action="/entries"')
    assert 'name="body"' in writer_page
    assert 'name="csrf_token"' in writer_page[compose:]
    entry_id = await auth.post_entry("first")
    writer_page = await checked_page(await client.get("/"))
    assert writer_page.index('action="/entries"') < writer_page.index(f'id="entry-{entry_id}"')


BAD_BEFORE = ["abc", "-1", "0", "1.5", "1e3", " 5", "0x10", "\uff11", "99999999999", "9" * 5000]


@pytest.mark.parametrize("path", ["/", "/u/alice"])
async def test_a_bad_before_is_a_400_with_a_message(
    client: Client, auth: AuthActions, path: str
) -> None:
    await auth.register_and_login("alice")
    for value in BAD_BEFORE:
        response = await client.get(path, query_string={"before": value})
        assert response.status_code == 400, value
        assert "The &#39;before&#39; parameter must be a positive entry number." in (
            await checked_page(response)
        )


async def test_the_largest_before_is_accepted(client: Client) -> None:
    assert (await client.get("/?before=2147483647")).status_code == 200
    assert (await client.get("/?before=")).status_code == 200


NEWER_RE = re.compile(r'<a [^>]*href="([^"]+)" rel="prev">')


@pytest.mark.parametrize("start", ["/", "/u/alice", "/tags/walk"])
async def test_every_list_pages_back_the_way_it_came(
    app: Quart, auth: AuthActions, test_database: TestDatabase, start: str
) -> None:
    """From the oldest page, the "Newer" links give the same pages in reverse, the last
    of them the first page (which new entries join live)."""
    await auth.register_and_login("alice")
    alice = user_id(test_database, "alice")
    ids = await write_entries(app, alice, 45, label="#walk")
    visitor = app.test_client()
    forward = await page_texts(visitor, start)
    assert len(forward) == 3
    backward = [forward[-1]]
    while (newer := NEWER_RE.search(backward[-1])) is not None:
        response = await visitor.get(html.unescape(newer.group(1)))
        backward.append(await checked_page(response))
        assert len(backward) < 10, "the Newer links never end"
    pages = [[int(found) for found in ENTRY_ID_RE.findall(page)] for page in backward]
    # Back at the top, the newest page is a whole page again, as it was first read.
    assert pages[-1] == ids[:-21:-1]
    assert pages[-2] == ids[-21:-41:-1]
    if start != "/tags/walk":  # a tag's page is not live
        assert 'data-live-first-page="true"' in backward[-1]
        assert 'data-live-first-page="false"' in backward[-2]
    assert 'rel="prev"' not in backward[-1]


@pytest.mark.parametrize(
    ("query", "reason"),
    [
        ("after=x", "The &#39;after&#39; parameter must be a positive entry number."),
        ("after=0", "The &#39;after&#39; parameter must be a positive entry number."),
        ("before=1&after=2", "either &#39;before&#39; an entry or &#39;after&#39; one"),
    ],
)
async def test_a_bad_page_position_is_a_400_naming_it(
    client: Client, query: str, reason: str
) -> None:
    response = await client.get(f"/?{query}")
    assert response.status_code == 400
    assert reason in await checked_page(response)
