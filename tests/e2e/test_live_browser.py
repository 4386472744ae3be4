"""Live updates in a real browser against a real hypercorn: a reader sees a writer's
entries arrive, change and vanish without reloading, and keeps up across a server crash."""

from __future__ import annotations

import contextlib
import re
import time
from typing import TYPE_CHECKING

# Without playwright the browser fixture skips (or fails on CI) and says why.
with contextlib.suppress(ImportError):
    from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

    from tests.e2e.conftest import NewContext, Server, SignUp

LIVE_WITHIN_MS = 2_000  # a new entry must reach an open page this fast
RECONNECT_WITHIN_MS = 15_000  # backoff after a restart: at most a few seconds


def live_status(page: Page) -> Locator:
    return page.locator("[data-live-status]")


def cards(page: Page) -> Locator:
    return page.locator("section.entries > article.entry")


def mark(page: Page) -> None:
    """Set a marker in the page's window: a reload or navigation would lose it."""
    page.evaluate("window.__marker = 1")


def assert_not_reloaded(page: Page) -> None:
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"


def open_reader(page: Page, path: str = "/") -> None:
    page.goto(path)
    expect(live_status(page)).to_have_text("Live")
    mark(page)


def csrf_token(page: Page) -> str:
    token = page.locator('input[name="csrf_token"]').first.get_attribute("value")
    assert token
    return token


def post_entry(page: Page, body: str, token: str | None = None) -> int:
    """Post an entry the way the compose form does, through the page's own cookies."""
    response = page.request.post(
        "/entries",
        form={
            "csrf_token": token or csrf_token(page),
            "title": "",
            "body": body,
            "visibility": "public",
        },
        max_redirects=0,
    )
    assert response.status == 303, response.text()
    match = re.fullmatch(r"/entries/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


def test_entries_appear_change_and_vanish_without_reload(
    new_context: NewContext, sign_up: SignUp
) -> None:
    writer = new_context().new_page()
    sign_up(writer, "alice")
    reader = new_context().new_page()
    open_reader(reader)
    expect(reader.get_by_text("No entries yet.")).to_be_visible()

    # The writer posts from the home page's compose form, for everyone (a new account
    # writes privately unless it says so).
    writer.fill("#body", "Hello from **Alice**, _live_.")
    writer.get_by_role("radio", name="Everyone").check()
    writer.get_by_role("button", name="Post entry").click()
    writer.wait_for_url(re.compile(r"/entries/\d+$"))
    entry_id = int(writer.url.rsplit("/", 1)[1])

    card = reader.locator(f"#entry-{entry_id}")
    expect(card).to_be_visible(timeout=LIVE_WITHIN_MS)
    expect(cards(reader).first).to_have_attribute("id", f"entry-{entry_id}")
    expect(card.locator(".entry-body strong")).to_have_text("Alice")
    expect(card.locator(".entry-body em")).to_have_text("live")
    expect(card.locator(".entry-meta a").first).to_have_text("alice")
    expect(card.get_by_role("link", name="Edit")).to_have_count(0)  # not the reader's entry
    expect(reader.get_by_text("No entries yet.")).to_have_count(0)
    expect(live_status(reader)).to_have_text("Live")
    assert_not_reloaded(reader)

    # The writer edits it: the reader's card changes in place.
    writer.goto(f"/entries/{entry_id}/edit")
    writer.fill("#body", "Changed: *second* thoughts.")
    writer.get_by_role("button", name="Save changes").click()
    writer.wait_for_url(f"/entries/{entry_id}")
    expect(card.locator(".entry-body")).to_have_text(
        "Changed: second thoughts.", timeout=LIVE_WITHIN_MS
    )
    expect(card.locator(".edited")).to_be_visible()
    expect(reader.locator(f"#entry-{entry_id}")).to_have_count(1)
    assert_not_reloaded(reader)

    # The writer deletes it (accepting the confirmation): it vanishes from the reader's page.
    writer.once("dialog", lambda dialog: dialog.accept())
    writer.get_by_role("button", name="Delete this entry").click()
    writer.wait_for_url("/")
    expect(card).to_have_count(0, timeout=LIVE_WITHIN_MS)
    expect(live_status(reader)).to_have_text("Live")
    assert_not_reloaded(reader)


def test_older_page_counts_new_entries_instead_of_inserting_them(
    new_context: NewContext, sign_up: SignUp
) -> None:
    writer = new_context().new_page()
    sign_up(writer, "alice")
    token = csrf_token(writer)
    first_ids = [post_entry(writer, f"Entry number {n}", token) for n in range(1, 23)]

    reader = new_context().new_page()
    reader.goto("/")
    expect(cards(reader)).to_have_count(20)
    reader.get_by_role("link", name="Older entries").click()
    reader.wait_for_url(re.compile(r"/\?before=\d+$"))
    expect(cards(reader)).to_have_count(2)
    expect(live_status(reader)).to_have_text("Live")
    mark(reader)

    new_ids = [post_entry(writer, f"Fresh entry {n}", token) for n in (1, 2)]
    notice = reader.locator("[data-live-unseen]")
    expect(notice).to_have_text("2 new entries: show the newest", timeout=LIVE_WITHIN_MS)
    for entry_id in new_ids:
        expect(reader.locator(f"#entry-{entry_id}")).to_have_count(0)
    expect(cards(reader)).to_have_count(2)
    assert [card.get_attribute("id") for card in cards(reader).all()] == [
        f"entry-{entry_id}" for entry_id in first_ids[1::-1]
    ]
    assert_not_reloaded(reader)

    # Edits and deletions of entries on this page still apply in place.
    response = writer.request.post(
        f"/entries/{first_ids[0]}/delete", form={"csrf_token": token}, max_redirects=0
    )
    assert response.status == 303
    expect(reader.locator(f"#entry-{first_ids[0]}")).to_have_count(0, timeout=LIVE_WITHIN_MS)
    expect(notice).to_have_text("2 new entries: show the newest")

    # The notice leads to the newest entries.
    notice.get_by_role("link").click()
    reader.wait_for_url("/")
    expect(cards(reader).first).to_have_attribute("id", f"entry-{new_ids[-1]}")


def test_reconnects_after_a_crash_and_shows_each_entry_once(
    new_context: NewContext, sign_up: SignUp, server: Server
) -> None:
    writer = new_context().new_page()
    sign_up(writer, "alice")
    token = csrf_token(writer)
    before = post_entry(writer, "Written before the crash")

    reader = new_context().new_page()
    reader.clock.install()  # timers run on real time until paused below
    open_reader(reader)
    expect(reader.locator(f"#entry-{before}")).to_have_count(1)

    # 1. Crash, restart on the same port and database, then post: the reader reconnects by
    # itself and shows the entry once, whether it came live or in the replay.
    server.kill()
    expect(live_status(reader)).to_have_text("Reconnecting…")
    expect(live_status(reader)).to_have_attribute("data-state", "reconnecting")
    server.start()
    after_restart = post_entry(writer, "Written after the restart", token)
    expect(live_status(reader)).to_have_text("Live", timeout=RECONNECT_WITHIN_MS)
    expect(reader.locator(f"#entry-{after_restart}")).to_have_count(1, timeout=LIVE_WITHIN_MS)
    expect(cards(reader).first).to_have_attribute("id", f"entry-{after_restart}")
    assert_not_reloaded(reader)

    # 2. Crash again, and hold the reader's reconnection timer while the server restarts
    # and the writer posts: that entry certainly happens while the reader is disconnected,
    # so it must come in the replay, once.
    server.kill()
    expect(live_status(reader)).to_have_text("Reconnecting…")
    reader.clock.pause_at(reader.evaluate("Date.now()") + 1)
    server.start()
    while_away = post_entry(writer, "Written while the reader was away", token)
    time.sleep(0.3)  # nothing may arrive: the reader has no connection
    expect(live_status(reader)).to_have_text("Reconnecting…")
    expect(reader.locator(f"#entry-{while_away}")).to_have_count(0)
    reader.clock.resume()
    expect(live_status(reader)).to_have_text("Live", timeout=RECONNECT_WITHIN_MS)
    expect(reader.locator(f"#entry-{while_away}")).to_have_count(1, timeout=LIVE_WITHIN_MS)

    # 3. Live again: the next entry arrives live, and nothing is duplicated.
    live_again = post_entry(writer, "Written once everyone is back", token)
    expect(reader.locator(f"#entry-{live_again}")).to_have_count(1, timeout=LIVE_WITHIN_MS)
    expected = [live_again, while_away, after_restart, before]
    assert [card.get_attribute("id") for card in cards(reader).all()] == [
        f"entry-{entry_id}" for entry_id in expected
    ]
    assert_not_reloaded(reader)
