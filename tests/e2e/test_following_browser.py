"""Following in Chromium against hypercorn: follow two writers from their profiles, and
their new entries appear live on /following, and nobody else's. A long entry's page,
kept live, stays whole though live cards are excerpts."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from tests.e2e.test_live_browser import LIVE_WITHIN_MS, cards, open_reader, post_entry

with contextlib.suppress(ImportError):
    from playwright.sync_api import expect

if TYPE_CHECKING:
    from tests.e2e.conftest import NewContext, SignUp


def test_new_entries_of_the_writers_followed_appear_live(
    new_context: NewContext, sign_up: SignUp
) -> None:
    writers = {}
    for name in ("bea", "cal", "dee"):
        writers[name] = new_context().new_page()
        sign_up(writers[name], name)
    reader = new_context().new_page()
    sign_up(reader, "ann")
    for name in ("bea", "cal"):
        reader.goto(f"/u/{name}")
        reader.get_by_role("button", name="Follow").click()
        expect(reader.get_by_text(f"You follow {name}")).to_be_visible()
        expect(reader.locator("[data-followers]")).to_have_text("1 follower")

    reader.get_by_role("navigation", name="Main").get_by_role("link", name="Following").click()
    open_reader(reader, "/following")
    expect(reader.get_by_text("Nobody you follow has shared an entry yet.")).to_be_visible()

    post_entry(writers["dee"], "Dee is not followed")
    bea = post_entry(writers["bea"], "Bea writes first")
    cal = post_entry(writers["cal"], "Cal writes next")
    expect(reader.locator(f"#entry-{cal}")).to_be_visible(timeout=LIVE_WITHIN_MS)
    expect(reader.locator(f"#entry-{bea}")).to_be_visible(timeout=LIVE_WITHIN_MS)
    expect(cards(reader)).to_have_count(2)
    expect(cards(reader).first).to_have_attribute("id", f"entry-{cal}")
    expect(reader.get_by_text("Dee is not followed")).to_have_count(0)
    assert reader.evaluate("window.__marker") == 1, "the page was reloaded"


def test_a_long_entrys_page_stays_whole_when_it_changes_live(
    new_context: NewContext, sign_up: SignUp
) -> None:
    writer = new_context().new_page()
    sign_up(writer, "bea")
    body = "\n\n".join(f"Paragraph {n} " + "word " * 40 for n in range(12))
    entry_id = post_entry(writer, body)
    home = new_context().new_page()
    home.goto("/")
    expect(home.locator(f"#entry-{entry_id} .read-more")).to_be_visible()
    expect(home.get_by_text("Paragraph 11")).to_have_count(0)

    reader = new_context().new_page()
    open_reader(reader, f"/entries/{entry_id}")
    expect(reader.get_by_text("Paragraph 11")).to_be_visible()
    response = writer.request.post(
        f"/entries/{entry_id}/edit",
        form={
            "csrf_token": writer.locator('input[name="csrf_token"]').first.get_attribute("value")
            or "",
            "title": "Edited",
            "body": body + "\n\nA last paragraph, added.",
            "visibility": "public",
        },
        max_redirects=0,
    )
    assert response.status == 303, response.text()
    expect(reader.get_by_text("A last paragraph, added.")).to_be_visible(timeout=LIVE_WITHIN_MS)
    expect(reader.get_by_role("heading", name="Edited")).to_be_visible()
    expect(reader.locator(".read-more")).to_have_count(0)
    assert reader.evaluate("window.__marker") == 1, "the page was reloaded"
