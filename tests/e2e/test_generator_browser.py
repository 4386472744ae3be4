"""The support analyst's flow on the password generator, in a real browser: set the rules,
get a password at once, copy it in one click, save the rules and generate from them later;
and the same page without JavaScript."""

from __future__ import annotations

import contextlib
import json
import re
import time
from typing import TYPE_CHECKING, Any

# Without playwright the browser fixture skips (or fails on CI) and says why.
with contextlib.suppress(ImportError):
    from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import Page, Response

    from tests.e2e.conftest import NewContext, Server, SignUp

ALPHANUMERIC_10 = re.compile(r"^[A-Za-z0-9]{10}$")


def assert_meets_rules(password: str) -> None:
    """Length 10, no symbols, at least 3 digits, and a lowercase and an uppercase letter."""
    assert ALPHANUMERIC_10.fullmatch(password), password
    assert sum(c.isdigit() for c in password) >= 3, password
    assert any(c.islower() for c in password), password
    assert any(c.isupper() for c in password), password


def set_rules(page: Page) -> None:
    page.fill("#length", "10")
    page.locator('input[name="symbols"]').uncheck()
    page.fill("#min_digits", "3")


def asks_for_the_rules(response: Response) -> bool:
    if not response.url.endswith("/api/passwords") or response.request.method != "POST":
        return False
    body: dict[str, Any] = json.loads(response.request.post_data or "{}")
    return body.get("length") == 10 and body.get("symbols") is False and body.get("min_digits") == 3


def test_rules_give_a_password_at_once_copy_and_saved_rules(
    new_context: NewContext, sign_up: SignUp, server: Server
) -> None:
    sign_up(new_context().new_page(), "analyst")  # the account, made in another browser

    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    page.goto("/passwords")
    output = page.locator("#password")
    expect(output).not_to_have_text("—")  # the server's first password, before any change
    copy = page.get_by_role("button", name="Copy")
    expect(copy).to_be_visible()
    page.evaluate("window.__marker = 1")

    # The password follows the rules as they are set, without a reload.
    with page.expect_response(asks_for_the_rules) as answer:
        set_rules(page)
    result = answer.value.json()
    expect(output).to_have_text(result["passwords"][0])
    password = output.inner_text()
    assert_meets_rules(password)
    expect(page.locator("#entropy")).to_have_text(str(result["entropy_bits"]))
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"

    # "Generate" asks again, in place, with the same rules.
    with page.expect_response(asks_for_the_rules) as answer:
        page.get_by_role("button", name="Generate", exact=True).click()
    password = answer.value.json()["passwords"][0]
    expect(output).to_have_text(password)
    assert_meets_rules(password)
    assert page.evaluate("window.__marker") == 1, "the page was reloaded"

    # One click copies exactly the password shown, and says so.
    copy.click()
    expect(page.locator("#copy-status")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == password
    time.sleep(0.4)  # past the form's debounce: moving focus to Copy must not regenerate
    expect(output).to_have_text(password)

    # Logged in, the analyst saves the rules as "Payroll".
    page.locator(".hint").get_by_role("link", name="Log in").click()  # comes back here
    page.wait_for_url(re.compile(r"/login\?next="))
    page.fill("#username", "analyst")
    page.fill("#password", "correct horse battery")
    page.get_by_role("button", name="Log in", exact=True).click()
    page.wait_for_url("/passwords")
    set_rules(page)
    page.fill("#name", "Payroll")
    page.get_by_role("button", name="Save as new rules").click()
    page.wait_for_url(re.compile(r"/passwords\?policy=\d+$"))
    expect(page.get_by_text("Saved the rules “Payroll”.")).to_be_visible()

    # Elsewhere, then back: one click on "Payroll" gives its rules and a password.
    page.get_by_role("link", name="Home").click()
    page.wait_for_url("/")
    page.get_by_role("link", name="Passwords").click()
    page.wait_for_url("/passwords")
    saved = page.locator(".saved-list li", has_text="Payroll")
    saved.get_by_role("link", name="Generate").click()
    page.wait_for_url(re.compile(r"/passwords\?policy=\d+$"))
    expect(page.locator("#length")).to_have_value("10")
    expect(page.locator('input[name="symbols"]')).not_to_be_checked()
    expect(page.locator("#min_digits")).to_have_value("3")
    expect(page.locator("#name")).to_have_value("Payroll")
    expect(output).to_have_text(ALPHANUMERIC_10)
    assert_meets_rules(output.inner_text())
    expect(page.get_by_role("button", name="Update “Payroll”")).to_be_visible()


def test_without_javascript_the_form_renders_a_password(new_context: NewContext) -> None:
    page = new_context(java_script_enabled=False).new_page()
    page.goto("/passwords")
    expect(page.locator("#copy")).to_be_hidden()  # it needs JavaScript to work
    set_rules(page)
    page.get_by_role("button", name="Generate", exact=True).click()
    page.wait_for_url("/passwords")
    expect(page.locator("#length")).to_have_value("10")
    expect(page.locator('input[name="symbols"]')).not_to_be_checked()
    expect(page.locator("#min_digits")).to_have_value("3")
    assert_meets_rules(page.locator("#password").inner_text())
    expect(page.locator("#about")).to_be_visible()
    expect(page.locator("#copy")).to_be_hidden()

    # Regenerate, beside the password, posts the same rules again.
    first = page.locator("#password").inner_text()
    page.get_by_role("button", name="Regenerate").click()
    page.wait_for_url("/passwords")
    expect(page.locator("#password")).not_to_have_text(first)
    assert_meets_rules(page.locator("#password").inner_text())


def test_the_page_shows_what_is_off_what_was_copied_and_saves_on_enter(
    new_context: NewContext, sign_up: SignUp, server: Server
) -> None:
    context = new_context()
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    sign_up(page, "analyst")
    page.goto("/passwords")
    output = page.locator("#password")
    expect(output).not_to_have_text("—")

    # A class turned off: its "at least" box and its characters are not in use, and look it.
    symbols_at_least, symbol_set = page.locator("#min_symbols"), page.locator("#symbol_set")
    expect(symbols_at_least).to_be_editable()
    page.locator('input[name="symbols"]').uncheck()
    for box in (symbols_at_least, symbol_set):
        expect(box).not_to_be_editable()
        expect(box).to_have_attribute("aria-disabled", "true")
        assert float(box.evaluate("b => getComputedStyle(b).opacity")) < 1
    page.locator('input[name="symbols"]').check()
    expect(symbol_set).to_be_editable()

    # A disabled Copy button looks disabled; an error next to a field is a sentence.
    page.fill("#length", "2")
    expect(page.locator("#length-error")).to_have_text("Must be between 4 and 128")
    copy = page.get_by_role("button", name="Copy")
    expect(copy).to_be_disabled()
    assert float(copy.evaluate("b => getComputedStyle(b).opacity")) < 1
    page.fill("#length", "12")
    expect(copy).to_be_enabled()
    assert copy.evaluate("b => getComputedStyle(b).opacity") == "1"

    # "Copied" is said, then goes.
    copy.click()
    status = page.locator("#copy-status")
    expect(status).to_have_text("Copied")
    expect(status).to_have_text("", timeout=6000)

    # Enter in the name box saves the rules (it used to regenerate).
    page.fill("#name", "Payroll")
    page.locator("#name").press("Enter")
    page.wait_for_url(re.compile(r"/passwords\?policy=\d+$"))
    expect(page.get_by_text("Saved the rules “Payroll”.")).to_be_visible()


def test_on_a_phone_the_password_stays_in_sight_while_the_rules_change(
    new_context: NewContext, server: Server
) -> None:
    context = new_context(viewport={"width": 375, "height": 740})
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    page = context.new_page()
    page.goto("/passwords")
    expect(page.locator("#password")).not_to_have_text("—")
    dock = page.locator("#dock")
    expect(dock).to_be_hidden()  # the password box is in view

    # Far down the rules, the bar at the bottom shows each new password, and copies it.
    page.locator("#exclude").scroll_into_view_if_needed()
    with page.expect_response(lambda response: response.url.endswith("/api/passwords")) as answer:
        page.fill("#exclude", "abcdef")
    password = answer.value.json()["passwords"][0]
    expect(dock).to_be_visible()
    expect(page.locator("#password")).not_to_be_in_viewport()
    shown = page.locator("#dock-password")
    expect(shown).to_have_text(password)
    expect(page.locator("#password")).to_have_text(password)
    assert not set("abcdef") & set(password)
    dock.get_by_role("button", name="Copy").click()
    assert page.evaluate("navigator.clipboard.readText()") == shown.inner_text()

    # The strength line is one line: the figure and its words do not break apart.
    page.locator("#password").scroll_into_view_if_needed()
    expect(dock).to_be_hidden()
    words = page.locator(".strength-words")
    assert words.evaluate("w => w.getClientRects().length") == 1
