"""A new writer's first long entry, in Chromium against hypercorn, end to end: written
with a pasted photo, the tab closed mid-sentence and the text found again, backdated to
last week, previewed, posted although another tab logged out, edited twice and the first
version restored from its history; and the photo's address answers a private window
only once the entry is public. Each part is tested more closely elsewhere (test_drafts,
test_history, test_written_at, tests/uploads); this is the whole of it, as a person does it.
"""

from __future__ import annotations

import contextlib
import re
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from tests.e2e.clipboard import paste_photo, photo_bytes
from tests.helpers import DEFAULT_PASSWORD

with contextlib.suppress(ImportError):
    from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from tests.e2e.conftest import NewContext, SignUp

ZONE = "Europe/Berlin"  # not the server's UTC: the date must be read in the writer's zone
PARAGRAPH = (
    "The ferry left late, and the gulls followed it most of the way across, calling over "
    "the engine as if they had something to say about the weather. "
)
OPENING = "\n\n".join(PARAGRAPH * 4 for _ in range(6))  # about 4,000 characters
CLOSING = "\n\nBy evening the wind had dropped and the harbour was quiet."


def _log_in(page: Page) -> None:
    page.fill("#username", "wren")
    page.fill("#password", DEFAULT_PASSWORD)
    page.get_by_role("button", name="Log in", exact=True).click()


def test_a_writers_long_entry_from_first_word_to_restored_version(
    new_context: NewContext, sign_up: SignUp
) -> None:
    context = new_context(timezone_id=ZONE)
    page = context.new_page()
    sign_up(page, "wren")

    # A long entry with a photo pasted into it, then the tab closed mid-sentence.
    page.fill("#title", "A week by the sea")
    page.fill("#body", OPENING + "\n\n")
    page.locator("#body").press("Control+End")
    paste_photo(page, "#body", "harbour.jpg", photo_bytes())
    expect(page.locator("#body")).to_have_value(
        re.compile(r"!\[harbour\]\(/uploads/[\w-]{22}\.jpg\)")
    )
    photo_url = re.search(r"\((/uploads/[\w-]{22}\.jpg)\)", page.locator("#body").input_value())
    assert photo_url is not None
    page.locator("#body").press("Control+End")
    page.locator("#body").type(CLOSING[:30])
    # Backdated to last week, at 09:30 where the writer is.
    last_week = datetime.now(ZoneInfo(ZONE)).date() - timedelta(days=7)
    page.fill("#written_at", f"{last_week.isoformat()}T09:30")
    typed = page.locator("#body").input_value()
    page.close()

    page = context.new_page()
    page.goto("/")
    expect(page.get_by_text("Draft restored")).to_be_visible()
    expect(page.locator("#body")).to_have_value(typed)
    expect(page.locator("#title")).to_have_value("A week by the sea")
    expect(page.locator("#written_at")).to_have_value(f"{last_week.isoformat()}T09:30")
    page.locator("#body").press("Control+End")
    page.locator("#body").type(CLOSING[30:])
    whole = typed + CLOSING[30:]
    assert whole.endswith(CLOSING)

    # The preview shows what posting will: the photo loads, the paragraphs are there.
    page.get_by_role("tab", name="Preview").click()
    preview = page.locator("[data-preview-panel]")
    expect(preview.locator("img")).to_have_attribute("src", photo_url.group(1))
    # Images load lazily: in view, then decode() waits for it and says it could be drawn.
    preview.locator("img").scroll_into_view_if_needed()
    drawn = preview.locator("img").evaluate("img => img.decode().then(() => img.naturalWidth)")
    assert drawn == 120
    expect(preview).to_contain_text("the harbour was quiet")
    page.get_by_role("tab", name="Write").click()

    # Logged out in another tab; posting here still loses nothing, the date included.
    other = context.new_page()
    other.goto("/")
    other.get_by_role("button", name="Log out").click()
    expect(other.get_by_role("link", name="Log in")).to_be_visible()
    page.get_by_role("button", name="Post entry").click()
    page.wait_for_url(re.compile(r"/login\?next="))
    expect(page.get_by_text("You were logged out")).to_be_visible()
    _log_in(page)
    page.wait_for_url(re.compile(r"/$"))
    expect(page.locator("#body")).to_have_value(whole)
    expect(page.locator("#written_at")).to_have_value(f"{last_week.isoformat()}T09:30")
    page.get_by_role("button", name="Post entry").click()
    expect(page.get_by_text("Your entry is posted.")).to_be_visible()
    entry_path = page.url.removeprefix(page.url.split("/entries/")[0])
    article = page.locator("article")
    expect(article).to_contain_text("the harbour was quiet")
    expect(article.locator("img")).to_have_attribute("src", photo_url.group(1))
    nine_thirty = datetime.combine(last_week, datetime.min.time(), ZoneInfo(ZONE)).replace(
        hour=9, minute=30
    )
    written = nine_thirty.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:00.000000Z")
    expect(article).to_have_attribute("data-written", written)

    # Two edits, then the first version back from the history.
    for version in ("Second thoughts: only the ferry.", "Third thoughts: only the gulls."):
        page.goto(f"{entry_path}/edit")
        page.fill("#body", version)
        page.get_by_role("button", name="Save changes").click()
        expect(page.get_by_text("Your changes are saved.")).to_be_visible()
        expect(page.locator("article .entry-body")).to_have_text(version)
    page.get_by_role("link", name="History of this entry").click()
    versions = page.locator("li.version")
    expect(versions).to_have_count(3)
    page.once("dialog", lambda dialog: dialog.accept())  # "Restore this version? ..."
    versions.last.get_by_role("button", name="Restore this version").click()
    expect(page.get_by_text("That version is restored.")).to_be_visible()
    article = page.locator("article")
    expect(article).to_contain_text("the harbour was quiet")
    expect(article).to_contain_text("the gulls followed it")
    expect(article.locator("img")).to_have_attribute("src", photo_url.group(1))
    expect(article).to_have_attribute("data-written", written)  # edits kept the date

    # The photo: nothing for a private window while the entry is private, then there.
    private_window = new_context().new_page()

    def status_seen(path: str) -> int:
        response = private_window.goto(path)
        assert response is not None
        return response.status

    assert status_seen(photo_url.group(1)) == 404
    page.goto(f"{entry_path}/edit")
    expect(page.get_by_role("radio", name="Only me")).to_be_checked()  # private by default
    page.get_by_role("radio", name="Everyone").check()
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("Your changes are saved.")).to_be_visible()
    assert status_seen(photo_url.group(1)) == 200
    assert status_seen(entry_path) == 200
