"""When an entry was written (``written_at``): set by its writer in their time zone, never
in the future, and the order of every page (quartapp/journal/forms.py, store.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from quart.typing import TestClientProtocol as Client

from quartapp.journal import store
from quartapp.journal.forms import parse_written_at
from tests.database import TestDatabase
from tests.helpers import AuthActions, page_text, post_form

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def test_the_writers_time_zone_decides_the_moment() -> None:
    assert parse_written_at("2026-12-01T10:00", "Europe/Paris", NOW) == datetime(
        2026, 12, 1, 9, 0, tzinfo=UTC
    )
    assert parse_written_at("2026-07-01T10:00", "Europe/Paris", NOW) == datetime(
        2026, 7, 1, 8, 0, tzinfo=UTC
    )
    assert parse_written_at("2026-12-01T10:00:30", "", NOW) == datetime(
        2026, 12, 1, 10, 0, 30, tzinfo=UTC
    )


@pytest.mark.parametrize(
    ("text", "zone", "reason"),
    [
        ("yesterday", "", "YYYY-MM-DD HH:MM"),
        ("2026-13-01T10:00", "", "YYYY-MM-DD HH:MM"),
        ("2026-12-05T12:10", "", "in the future"),
        ("2026-12-05T13:30", "Europe/Paris", "in the future"),
        ("1899-12-31T23:00", "", "before 1900"),
        ("2026-12-01T10:00", "Mars/Olympus", "time zone"),
    ],
)
def test_what_is_refused(text: str, zone: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        parse_written_at(text, zone, NOW)


async def test_a_backdated_entry_takes_its_place_in_the_pages(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    recent = await auth.post_entry("Today's entry.", visibility="public")
    last_week = (datetime.now(UTC) - timedelta(days=7)).strftime("%Y-%m-%dT%H:%M")
    response = await post_form(
        client,
        "/entries",
        {"body": "Last week's entry.", "visibility": "public", "written_at": last_week,
         "time_zone": "UTC"},
        token_from="/",
    )  # fmt: skip
    assert response.status_code == 303
    backdated = int(response.headers["Location"].rsplit("/", 1)[1])
    assert backdated > recent  # posted later...
    page = await page_text(await client.get("/"))
    ids = [int(n) for n in re.findall(r'data-entry-id="(\d+)"', page)]
    assert ids == [recent, backdated]  # ...listed by when it was written
    ((written, created),) = test_database.rows(
        "SELECT written_at, created_at FROM entries WHERE id = :id", id=backdated
    )
    assert str(written).startswith(last_week.replace("T", " "))
    assert written != created


async def test_pages_continue_in_written_order(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    base = datetime.now(UTC) - timedelta(days=100)
    # Posted in one order, dated in another: every third one a month earlier.
    for n in range(store.PAGE_SIZE * 2 + 5):
        written = base + timedelta(days=n) - timedelta(days=30 if n % 3 == 0 else 0)
        await post_form(
            client,
            "/entries",
            {"body": f"entry {n}", "visibility": "public",
             "written_at": written.strftime("%Y-%m-%dT%H:%M"), "time_zone": "UTC"},
            token_from="/",
        )  # fmt: skip
    expected = [
        entry_id
        for entry_id, _ in test_database.rows(
            "SELECT id, written_at FROM entries ORDER BY written_at DESC, id DESC"
        )
    ]
    seen: list[int] = []
    path = "/"
    while True:
        page = await page_text(await client.get(path))
        seen += [int(n) for n in re.findall(r'data-entry-id="(\d+)"', page)]
        older = re.search(r'href="/\?before=(\d+)" rel="next"', page)
        if older is None:
            break
        path = f"/?before={older.group(1)}"
    assert seen == expected


async def test_the_future_is_refused_with_the_text_kept(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = await post_form(
        client,
        "/entries",
        {"body": "Not yet.", "written_at": tomorrow, "time_zone": "UTC"},
        token_from="/",
    )
    assert response.status_code == 400
    page = await page_text(response)
    assert "An entry cannot be written in the future." in page
    assert "Not yet.</textarea>" in page
    assert f'value="{tomorrow}"' in page
    assert test_database.rows("SELECT COUNT(*) FROM entries") == [(0,)]


async def test_an_edit_keeps_the_moment_unless_it_is_changed(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("Words.")
    ((before,),) = test_database.rows("SELECT written_at FROM entries")
    page = await page_text(await client.get(f"/entries/{entry_id}/edit"))
    shown = re.search(r'name="written_at" value="([^"]+)" data-utc="1"', page)
    assert shown is not None, page
    # The form sends back what it showed (to the minute, in UTC): nothing moves.
    await post_form(
        client,
        f"/entries/{entry_id}/edit",
        {"body": "Better words.", "visibility": "public", "written_at": shown.group(1)},
        token_from=f"/entries/{entry_id}/edit",
    )
    assert test_database.rows("SELECT written_at FROM entries") == [(before,)]
    await post_form(
        client,
        f"/entries/{entry_id}/edit",
        {"body": "Better words.", "visibility": "public", "written_at": "2026-01-02T03:04",
         "time_zone": "Asia/Tokyo"},
        token_from=f"/entries/{entry_id}/edit",
    )  # fmt: skip
    ((after,),) = test_database.rows("SELECT written_at FROM entries")
    assert str(after).startswith("2026-01-01 18:04")
