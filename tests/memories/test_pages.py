"""The archive, a month's and a day's entries, the heatmap on the profile and "on this
day", through the app; days are the writer's, in the zone their browser gave."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from quart.typing import TestClientProtocol as Client

from tests.database import TestDatabase
from tests.helpers import AuthActions, page_text, post_form, titles

TOKYO = "Asia/Tokyo"


async def post_written(
    client: Client, title: str, written: str, visibility: str = "public", zone: str = TOKYO
) -> None:
    response = await post_form(
        client,
        "/entries",
        {"title": title, "body": f"About {title}.", "visibility": visibility,
         "written_at": written, "time_zone": zone},
        token_from="/",
    )  # fmt: skip
    assert response.status_code == 303, await page_text(response)


async def test_the_archive_counts_months_in_the_writers_zone(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    await post_written(client, "New year", "2025-01-01T00:30")  # 31 Dec 15:30 in UTC
    await post_written(client, "Mid January", "2025-01-15T12:00")
    await post_written(client, "Secret", "2025-01-20T12:00", visibility="private")
    await post_written(client, "March", "2026-03-03T08:00")
    assert test_database.rows("SELECT time_zone FROM users") == [(TOKYO,)]

    own = await page_text(await client.get("/u/alice/archive"))
    months = re.findall(r'archive/(\d+)/(\d+)">(\w+)</a> <span class="count">(\d+)', own)
    assert months == [("2026", "3", "March", "1"), ("2025", "1", "January", "3")]

    january = await page_text(await client.get("/u/alice/archive/2025/1"))
    assert titles(january) == ["Secret", "Mid January", "New year"]
    one_day = await page_text(await client.get("/u/alice/archive/2025/1?day=1"))
    assert titles(one_day) == ["New year"]

    await auth.logout()
    public = await page_text(await client.get("/u/alice/archive"))
    months = re.findall(r'archive/(\d+)/(\d+)">(\w+)</a> <span class="count">(\d+)', public)
    assert months == [("2026", "3", "March", "1"), ("2025", "1", "January", "2")]
    assert titles(await page_text(await client.get("/u/alice/archive/2025/1"))) == [
        "Mid January",
        "New year",
    ]
    assert (await client.get("/u/alice/archive/2025/13")).status_code == 404
    assert (await client.get("/u/alice/archive/2025/2?day=30")).status_code == 400
    assert (await client.get("/u/nobody/archive")).status_code == 404


async def test_the_profile_draws_the_year_and_links_its_days(
    client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    now = datetime.now(ZoneInfo(TOKYO)).replace(second=0, microsecond=0)
    last_week = now - timedelta(days=7)
    for title in ("One", "Two"):
        await post_written(client, title, last_week.strftime("%Y-%m-%dT%H:%M"))
    page = await page_text(await client.get("/u/alice"))
    day = last_week.date()
    link = f"/u/alice/archive/{day.year}/{day.month}?day={day.day}"
    assert f'<a href="{link.replace("&", "&amp;")}">' in page
    assert f"<title>2 entries on {day.isoformat()}</title>" in page
    assert titles(await page_text(await client.get(link))) == ["Two", "One"]


async def test_on_this_day_shows_earlier_years_and_the_home_page_offers_it(
    client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    assert "On this day</a>:" not in await page_text(await client.get("/"))
    today = datetime.now(ZoneInfo(TOKYO)).date()
    # On 29 February, leap years only (other years' 28th is tested in test_calendar).
    earlier = (4, 8) if (today.month, today.day) == (2, 29) else (1, 3)
    for years_ago in earlier:
        then = today.replace(year=today.year - years_ago)
        await post_written(client, f"{years_ago} years ago", f"{then.isoformat()}T09:00")
    the_day_before = today.replace(year=today.year - earlier[0]) - timedelta(days=1)
    await post_written(client, "The day before", f"{the_day_before.isoformat()}T09:00")

    home = await page_text(await client.get("/"))
    assert "On this day</a>: 2 entries you wrote in earlier years." in home
    page = await page_text(await client.get("/on-this-day"))
    assert titles(page) == [f"{earlier[0]} years ago", f"{earlier[1]} years ago"]
    assert f"{today.year - earlier[0]} · {earlier[0]} year" in page

    await auth.logout()
    assert (await client.get("/on-this-day")).status_code in (302, 303, 401)


async def test_a_new_zone_is_remembered_and_a_bad_one_ignored(
    client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    await post_written(client, "Here", "2025-05-05T10:00", zone="Europe/Berlin")
    await post_written(client, "There", "2025-05-06T10:00", zone="")
    assert test_database.rows("SELECT time_zone FROM users") == [("Europe/Berlin",)]
    written = test_database.rows("SELECT title, written_at FROM entries ORDER BY id")
    assert str(written[0][1]).startswith("2025-05-05 08:00")  # Berlin's summer time
    assert str(written[1][1]).startswith("2025-05-06 10:00")  # no zone given: UTC
