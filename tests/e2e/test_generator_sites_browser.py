"""A new user on the generator, in Chromium: a site's rules by its name, rules read from a
site's own words, and a passphrase that carries a digit and a symbol."""

from __future__ import annotations

import contextlib
import json
import re
from typing import TYPE_CHECKING

# Without playwright the browser fixture skips (or fails on CI) and says why.
with contextlib.suppress(ImportError):
    from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

    from tests.e2e.conftest import NewContext, Server

CHASE_SYMBOLS = "!#$%+/=@~"


def assert_meets_chase(password: str, length: int = 20) -> None:
    assert len(password) == length, password
    assert re.fullmatch(r"[A-Za-z0-9!#$%+/=@~]+", password), password
    assert re.search(r"[A-Za-z]", password), password
    assert re.search(r"[0-9]", password), password
    assert any(c in CHASE_SYMBOLS for c in password), password
    assert not re.search(r"(.)\1\1", password), password  # no character three times in a row


def asks_for_the_rules(response: Response) -> bool:
    return response.url.endswith("/api/passwords") and response.request.method == "POST"


def shown(page: Page) -> str:
    return page.locator("#password").inner_text()


def test_a_site_by_its_name_copied_and_spelled(new_context: NewContext, server: Server) -> None:
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    page.goto("/passwords")

    # The box suggests the known sites once it is used.
    site = page.get_by_label("Which site or system?")
    site.focus()
    expect(page.locator('#site-suggestions option[value="chase.com"]')).to_have_count(1)
    site.fill("chase.com")
    page.wait_for_timeout(300)
    assert page.url.endswith("/passwords"), "typing alone must not load a site"
    # Picking a suggestion (an input event that is not typing) loads that site's rules.
    with page.expect_navigation():
        site.dispatch_event("input")
    assert page.url.endswith("/passwords?site=chase.com")

    rules = page.locator("#site-found")
    expect(rules).to_contain_text("chase.com asks for")
    expect(rules).to_contain_text("8 to 32 characters (using 20)")
    expect(rules).to_contain_text("no character more than 2 times in a row")
    expect(rules.get_by_role("link", name="Change your password on chase.com")).to_be_visible()
    expect(page.locator("#max_consecutive")).to_have_value("2")
    assert_meets_chase(shown(page))

    # Regenerating in place (the API, with every rule the form now holds) keeps to them.
    for _ in range(5):
        with page.expect_response(asks_for_the_rules) as answer:
            page.get_by_role("button", name="Generate", exact=True).click()
        password = answer.value.json()["passwords"][0]
        expect(page.locator("#password")).to_have_text(password)
        assert_meets_chase(password)

    # The tab's history says which rules each password met.
    page.locator("#history-details summary").click()
    newest = page.locator("#history-list li").first
    expect(newest).to_contain_text(password)
    expect(newest).to_contain_text("≤2 in a row")
    expect(newest).to_contain_text("one of upper, lower")

    page.locator("#copy").click()
    expect(page.locator("#copy-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == password

    page.get_by_role("button", name="Spell it").click()
    spelled = page.locator("#spelled li")
    expect(spelled).to_have_count(len(password))
    expect(page.locator("#spelled")).to_be_visible()


SENTENCE = (
    "Your password must be 8-16 characters long and contain at least one uppercase letter, "
    "one number and one special character (!@#$%)."
)


def test_rules_from_a_sites_words_are_checked_then_used(new_context: NewContext) -> None:
    page = new_context().new_page()
    page.goto("/passwords")
    page.get_by_text("Or paste the rules as the site words them").click()
    page.get_by_label("The site's own words").fill(SENTENCE)
    page.get_by_role("button", name="Read the rules").click()
    proposal = page.locator("#proposal")
    expect(proposal).to_contain_text("8 to 16 characters (using 16)")
    expect(proposal).to_contain_text("at least 1 uppercase letter")
    expect(proposal).to_contain_text("at least 1 digit")
    expect(proposal).to_contain_text("symbols only from !@#$%")
    expect(page.locator("#password")).to_have_text("—")  # nothing drawn before the user agrees
    expect(page.get_by_label("The site's own words")).to_have_value(SENTENCE)

    with page.expect_response(asks_for_the_rules) as answer:
        proposal.get_by_role("button", name="Use these rules").click()
    password = answer.value.json()["passwords"][0]
    expect(page.locator("#password")).to_have_text(password)
    assert len(password) == 16
    assert re.search(r"[A-Z]", password), password
    assert re.search(r"[0-9]", password), password
    assert re.search(r"[!@#$%]", password), password
    assert re.fullmatch(r"[A-Za-z0-9!@#$%]+", password), password


def test_a_passphrase_with_a_digit_and_a_symbol(new_context: NewContext) -> None:
    page = new_context().new_page()
    page.goto("/passwords")
    page.get_by_label("Passphrase (words)").check()
    page.get_by_label("Between words").fill("-")
    page.get_by_label("Add a digit to one word").check()

    def asks_with_both(response: Response) -> bool:  # not an answer to an earlier change
        body = json.loads(response.request.post_data or "{}")
        return asks_for_the_rules(response) and body.get("add_symbol") and body.get("add_digit")

    with page.expect_response(asks_with_both) as answer:
        page.get_by_label("Add a symbol to one word").check()
    phrase = answer.value.json()["passwords"][0]
    expect(page.locator("#password")).to_have_text(phrase)
    words = phrase.split("-")
    assert len(words) == 6, phrase
    assert sum(c.isdigit() for c in phrase) == 1, phrase
    assert sum(c in "!#$%&*+=?@^~" for c in phrase) == 1, phrase
