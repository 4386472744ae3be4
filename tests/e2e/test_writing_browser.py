"""Writing never loses a word, in Chromium against hypercorn: a closed tab's text comes
back when the page is opened again, and an entry typed while another tab logged out is
posted after logging in again, with every word (quartapp/static/drafts.js)."""

from __future__ import annotations

import contextlib
import re
import time
from typing import TYPE_CHECKING

from tests.e2e.clipboard import paste_photo, photo_bytes
from tests.helpers import DEFAULT_PASSWORD

with contextlib.suppress(ImportError):
    from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Route

    from tests.e2e.conftest import NewContext, SignUp

TEXT = "It rained all morning, and then, quite suddenly, the light came back"


def test_a_closed_tab_gets_its_text_back(new_context: NewContext, sign_up: SignUp) -> None:
    context = new_context()
    page = context.new_page()
    sign_up(page, "wren")
    page.fill("#title", "Rain")
    page.locator("#body").press_sequentially(TEXT[:30])
    page.locator("#body").type(TEXT[30:])
    page.close()  # mid-sentence

    again = context.new_page()
    again.goto("/")
    expect(again.locator("#body")).to_have_value(TEXT)
    expect(again.locator("#title")).to_have_value("Rain")
    expect(again.get_by_text("Draft restored")).to_be_visible()

    # The server kept it too: another browser of the same writer finds it in the list.
    other = new_context().new_page()
    other.goto("/login")
    other.fill("#username", "wren")
    other.fill("#password", DEFAULT_PASSWORD)
    other.get_by_role("button", name="Log in", exact=True).click()
    other.goto("/drafts")
    expect(other.get_by_text("Rain")).to_be_visible()

    # Discard empties the box, here and on the server.
    again.get_by_role("button", name="Discard").click()
    expect(again.locator("#body")).to_have_value("")
    again.reload()
    expect(again.locator("#body")).to_have_value("")
    other.reload()
    expect(other.get_by_text("No drafts")).to_be_visible()


def test_a_discard_cut_short_is_finished_by_the_next_load(
    new_context: NewContext, sign_up: SignUp
) -> None:
    """Discard, and the page reloaded before its request arrived (here: it never does):
    the server's copy is not offered again, and is discarded by the next load."""
    context = new_context()
    page = context.new_page()
    sign_up(page, "wren")
    page.fill("#title", "Rain")
    with page.expect_response(re.compile(r"/drafts/compose$")) as saved:
        page.locator("#body").type(TEXT)
    assert saved.value.ok
    page.reload()
    expect(page.get_by_text("Draft restored")).to_be_visible()
    page.route(re.compile(r"/drafts/compose/discard$"), lambda route: route.abort())
    page.get_by_role("button", name="Discard").click()
    page.unroute(re.compile(r"/drafts/compose/discard$"))
    with page.expect_response(re.compile(r"/drafts/compose/discard$")) as again:
        page.reload()
    assert again.value.ok
    expect(page.locator("#body")).to_have_value("")
    expect(page.get_by_text("Draft restored")).to_be_hidden()
    page.goto("/drafts")
    expect(page.get_by_text("No drafts")).to_be_visible()


def test_a_discard_clicked_while_a_save_is_on_its_way_wins(
    new_context: NewContext, sign_up: SignUp
) -> None:
    """A save still on its way when Discard is clicked reaches the server first: the
    discard, sent after it, leaves nothing to bring the draft back (CI saw it come back)."""
    context = new_context()
    page = context.new_page()
    sign_up(page, "wren")

    def slow_save(route: Route) -> None:
        time.sleep(1.0)  # the save reaches the server after the click below
        route.continue_()

    page.route(re.compile(r"/drafts/compose$"), slow_save)
    page.fill("#title", "Rain")
    page.locator("#body").type(TEXT[:20])
    page.reload()  # the box comes back with "Discard", and saves again soon after
    expect(page.get_by_text("Draft restored")).to_be_visible()
    page.locator("#body").type(" more")
    with page.expect_request(lambda r: r.method == "POST" and r.url.endswith("/drafts/compose")):
        pass
    with page.expect_response(re.compile(r"/drafts/compose/discard$")):
        page.get_by_role("button", name="Discard").click()
    page.unroute(re.compile(r"/drafts/compose$"))
    page.reload()
    expect(page.locator("#body")).to_have_value("")
    page.goto("/drafts")
    expect(page.get_by_text("No drafts")).to_be_visible()


def test_logged_out_in_another_tab_the_entry_still_goes_in_whole(
    new_context: NewContext, sign_up: SignUp
) -> None:
    context = new_context()
    writing = context.new_page()
    sign_up(writing, "wren")
    writing.fill("#title", "Every word")
    writing.fill("#body", TEXT)

    elsewhere = context.new_page()
    elsewhere.goto("/")
    elsewhere.get_by_role("button", name="Log out").click()
    expect(elsewhere.get_by_role("link", name="Log in")).to_be_visible()

    writing.get_by_role("button", name="Post entry").click()
    writing.wait_for_url(re.compile(r"/login\?next="))
    expect(writing.get_by_text("You were logged out")).to_be_visible()
    writing.fill("#username", "wren")
    writing.fill("#password", DEFAULT_PASSWORD)
    writing.get_by_role("button", name="Log in", exact=True).click()
    writing.wait_for_url(re.compile(r"/$"))
    expect(writing.locator("#body")).to_have_value(TEXT)
    expect(writing.locator("#title")).to_have_value("Every word")
    writing.get_by_role("button", name="Post entry").click()
    expect(writing.get_by_text("Your entry is posted.")).to_be_visible()
    expect(writing.locator("article")).to_contain_text(TEXT)

    # Posted: the box is empty again and nothing is offered back.
    writing.goto("/")
    expect(writing.locator("#body")).to_have_value("")
    expect(writing.get_by_text("Draft restored")).to_be_hidden()


def test_preview_shows_what_posting_will_and_ctrl_enter_posts(
    new_context: NewContext, sign_up: SignUp
) -> None:
    page = new_context().new_page()
    sign_up(page, "wren")
    page.fill("#body", "# Plans\n\n- [x] walk\n- [ ] write\n\nhttps://example.com")
    page.get_by_role("tab", name="Preview").click()
    panel = page.locator("[data-preview-panel]")
    expect(panel.locator("h3")).to_have_text("Plans")
    expect(panel.locator("input[type=checkbox]")).to_have_count(2)
    expect(panel.get_by_role("link", name="https://example.com")).to_be_visible()
    expect(page.locator("#body")).to_be_hidden()
    preview_html = panel.inner_html()

    page.get_by_role("tab", name="Write").click()
    page.locator("#body").press("Control+Enter")
    expect(page.get_by_text("Your entry is posted.")).to_be_visible()
    assert page.locator("article .entry-body").inner_html() == preview_html


def test_an_entrys_own_page_changes_live_and_says_when_it_is_gone(
    new_context: NewContext, sign_up: SignUp
) -> None:
    writer = new_context().new_page()
    sign_up(writer, "wren")
    writer.fill("#title", "Morning")
    writer.fill("#body", "First *thoughts*.")
    writer.get_by_role("radio", name="Everyone").check()
    writer.get_by_role("button", name="Post entry").click()
    writer.wait_for_url(re.compile(r"/entries/\d+$"))
    entry_path = writer.url.removeprefix(writer.url.split("/entries/")[0])

    reader = new_context().new_page()
    reader.goto(entry_path)
    expect(reader.locator("[data-live-status]")).to_have_text("Live")
    reader.evaluate("window.__marker = 1")

    writer.goto(f"{entry_path}/edit")
    writer.fill("#body", "Second *thoughts*, better.")
    writer.get_by_role("button", name="Save changes").click()
    expect(reader.locator(".entry-body")).to_have_text("Second thoughts, better.")
    expect(reader.locator(".entry-title")).to_have_text("Morning")
    expect(reader.locator(".entry-title a")).to_have_count(0)

    writer.goto(f"{entry_path}/edit")
    writer.once("dialog", lambda dialog: dialog.accept())  # "Delete this entry for good?"
    writer.get_by_role("button", name="Delete this entry").click()
    expect(reader.get_by_text("This entry was deleted")).to_be_visible()
    assert reader.evaluate("window.__marker") == 1  # never reloaded


def test_a_pasted_photo_goes_in_and_only_public_entries_show_it_to_others(
    new_context: NewContext, sign_up: SignUp
) -> None:
    page = new_context().new_page()
    sign_up(page, "wren")
    page.fill("#body", "The view from the hill:")
    page.locator("#body").press("End")
    paste_photo(page, "#body", "hill.jpg", photo_bytes())
    expect(page.locator("#body")).to_have_value(re.compile(r"!\[hill\]\(/uploads/[\w-]{22}\.jpg\)"))
    src = re.search(r"\((/uploads/[^)]+)\)", page.locator("#body").input_value())
    assert src is not None
    page.get_by_role("button", name="Post entry").click()  # private: a new account's default
    expect(page.locator("article img")).to_have_attribute("src", src.group(1))
    assert (
        page.locator("article img").evaluate("img => img.decode().then(() => img.naturalWidth)")
        == 120
    )
    entry_path = page.url.removeprefix(page.url.split("/entries/")[0])

    private_window = new_context().new_page()

    def status_seen(path: str) -> int:
        response = private_window.goto(path)
        assert response is not None
        return response.status

    assert status_seen(src.group(1)) == 404

    page.goto(f"{entry_path}/edit")
    page.get_by_role("radio", name="Everyone").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Your changes are saved.")).to_be_visible()
    assert status_seen(src.group(1)) == 200
