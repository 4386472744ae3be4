"""Finding things again, in Chromium against hypercorn, on a journal with years in it:
an entry found by a half-remembered word typed without its accent, the search narrowed
by tag and year, "on this day" offered on the home page, and a tag's feed read by a feed
reader (feedparser). Following writers live is in test_following_browser.py."""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import feedparser

with contextlib.suppress(ImportError):
    from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.e2e.conftest import NewContext, SignUp


def post(page: Page, title: str, body: str, written: datetime) -> None:
    """An entry through the compose form's fields, dated when it was written (in UTC)."""
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value") or ""
    response = page.request.post(
        "/entries",
        form={
            "csrf_token": token,
            "title": title,
            "body": body,
            "visibility": "public",
            "written_at": written.strftime("%Y-%m-%dT%H:%M"),
            "time_zone": "UTC",
        },
        max_redirects=0,
    )
    assert response.status == 303, response.text()


def years_ago(years: int) -> datetime:
    today = datetime.now(UTC)
    return today.replace(year=today.year - years, hour=12, minute=0)


def titles(page: Page) -> list[str]:
    return page.locator(".search-result .entry-title").all_inner_texts()


def test_a_journal_of_years_is_found_again(new_context: NewContext, sign_up: SignUp) -> None:
    page = new_context().new_page()
    sign_up(page, "wren")
    post(page, "Dessert in Lyon", "We had crème brûlée by the river. #travel", years_ago(3))
    post(page, "Lyon again", "Crème brûlée, the same café. #travel", years_ago(2))
    post(page, "Office coffee", "Crème in the coffee at work. #work", years_ago(2))
    post(page, "Harbour", "Boats and gulls all day. #travel", years_ago(1))

    # A half-remembered word, typed without its accent, in the header's search box.
    page.goto("/")
    page.get_by_role("searchbox", name="Search entries").fill("creme brul")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/search\?q=creme"))
    expect(page.locator(".search-result")).to_have_count(2)
    assert sorted(titles(page)) == ["Dessert in Lyon", "Lyon again"]
    expect(page.locator(".search-result mark").first).to_have_text(
        re.compile("crème", re.IGNORECASE)
    )

    # Narrowed by tag and by the year of the first visit.
    year = years_ago(3).year
    page.get_by_label("Words").fill("creme")
    page.get_by_label("Tag").fill("travel")
    page.get_by_label("Written from").fill(f"{year}-01-01")
    page.get_by_label("to", exact=True).fill(f"{year}-12-31")
    page.get_by_role("button", name="Search", exact=True).click()
    assert titles(page) == ["Dessert in Lyon"]

    # On this day: the home page offers what was written on today's date in other years.
    page.goto("/")
    page.get_by_role("link", name="On this day").click()
    for title in ("Dessert in Lyon", "Lyon again", "Office coffee", "Harbour"):
        expect(page.get_by_role("link", name=title)).to_be_visible()

    # A tag's feed, found from its page as a feed reader finds it.
    page.goto("/tags/travel")
    href = page.locator('link[rel="alternate"][type="application/atom+xml"]').get_attribute("href")
    assert href == "/tags/travel/feed.atom"
    feed = feedparser.parse(page.request.get(href).body())
    assert not feed.bozo, feed.bozo_exception
    assert [entry.title for entry in feed.entries] == ["Harbour", "Lyon again", "Dessert in Lyon"]
