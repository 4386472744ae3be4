"""Reading a password aloud and copying it once, in a real browser: characters shown by
class, the NATO spelling, the length slider, the R and C keys; and the tab's history, kept
in sessionStorage only and never sent anywhere."""

from __future__ import annotations

import contextlib
import json
import re
import string
from typing import TYPE_CHECKING, Any

from quartapp.passwords import display

# Without playwright the browser fixture skips (or fails on CI) and says why.
with contextlib.suppress(ImportError):
    from playwright.sync_api import expect

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Locator, Page, Request, Response, Route

    from tests.e2e.conftest import NewContext, Server

# Every printable ASCII character but the space, and one beyond ASCII.
EVERY_CHARACTER = string.ascii_letters + string.digits + string.punctuation + "€"
HISTORY_KEY = "passwords.history"


def is_api(response: Response) -> bool:
    return response.url.endswith("/api/passwords") and response.request.method == "POST"


def clipboard_context(new_context: NewContext, server: Server, **options: Any) -> BrowserContext:
    context = new_context(**options)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=server.url)
    return context


def opened(page: Page) -> Locator:
    """The page's password box, once the server's password is in it."""
    page.goto("/passwords")
    output = page.locator("#password")
    expect(output).not_to_have_text("—")
    return output


def press_outside_fields(page: Page, key: str) -> None:
    page.locator("h1").click()  # focus leaves every field
    page.keyboard.press(key)


def regenerate(page: Page) -> str:
    """Press R and wait for the new password to be shown; the password."""
    with page.expect_response(is_api) as answer:
        press_outside_fields(page, "r")
    password: str = answer.value.json()["passwords"][0]
    expect(page.locator("#password")).to_have_text(password)
    return password


def clipboard(page: Page) -> str:
    text: str = page.evaluate("navigator.clipboard.readText()")
    return text


def answer_with(password: str) -> Any:
    """A route handler: the server's real answer, with ``password`` as the password."""

    def handle(route: Route) -> None:
        response = route.fetch()
        body = response.json()
        body["passwords"] = [password]
        route.fulfill(response=response, json=body)

    return handle


def kind_of(char: str) -> str:
    return display.character(char).kind


# --- characters by class --------------------------------------------------------------------


CONTRAST = """element => {
    const rgb = (text) => text.match(/[\\d.]+/g).slice(0, 4).map(Number);
    const luminance = ([r, g, b]) => {
        const linear = (c) => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
        return 0.2126 * linear(r) + 0.7152 * linear(g) + 0.0722 * linear(b);
    };
    let back = element;
    while (back && rgb(getComputedStyle(back).backgroundColor)[3] === 0) back = back.parentElement;
    const fore = luminance(rgb(getComputedStyle(element).color));
    const ground = luminance(rgb(getComputedStyle(back).backgroundColor));
    const [a, b] = [fore, ground].sort((x, y) => y - x);
    return (a + 0.05) / (b + 0.05);
}"""

LOOK = """element => {
    const style = getComputedStyle(element);
    return {
        weight: Number(style.fontWeight),
        underline: style.textDecorationLine.includes("underline"),
        background: style.backgroundColor !== "rgba(0, 0, 0, 0)",
        outline: style.outlineStyle,
    };
}"""


def test_each_character_carries_its_class_and_copying_gives_the_exact_password(
    new_context: NewContext, server: Server
) -> None:
    page = clipboard_context(new_context, server).new_page()
    output = opened(page)
    page.route("**/api/passwords", answer_with(EVERY_CHARACTER))
    regenerate(page)

    spans = output.locator("span.ch")
    expect(spans).to_have_count(len(EVERY_CHARACTER))
    classes = spans.evaluate_all("spans => spans.map(s => [s.textContent, s.className])")
    assert classes == [[char, f"ch ch-{kind_of(char)}"] for char in EVERY_CHARACTER]
    assert output.evaluate("o => o.childNodes.length") == len(EVERY_CHARACTER)  # no text between

    # Told apart by more than colour, and every colour readable on its background.
    looks = {
        kind: output.locator(f"span.ch-{kind}").first.evaluate(LOOK)
        for kind in ("lower", "upper", "digit", "symbol", "other")
    }
    assert looks["lower"] == {"weight": 400, "underline": False, "background": False,
                              "outline": "none"}  # fmt: skip
    assert looks["upper"]["weight"] >= 700
    assert not looks["upper"]["underline"]
    assert not looks["upper"]["background"]
    assert looks["digit"]["underline"]
    assert looks["digit"]["weight"] == 400
    assert looks["symbol"]["background"]
    assert not looks["symbol"]["underline"]
    assert looks["other"]["outline"] == "dashed"
    for kind in looks:
        ratio = output.locator(f"span.ch-{kind}").first.evaluate(CONTRAST)
        assert ratio >= 7, (kind, ratio)
    for kind in ("lower", "upper", "digit", "symbol"):  # the key beside the box explains them
        expect(page.locator(f"#char-key .ch-{kind}")).to_have_count(1)

    # The Copy button copies the plain password: no markup, no invisible characters.
    page.get_by_role("button", name="Copy", exact=True).click()
    expect(page.locator("#copy-status")).to_have_text("Copied")
    assert clipboard(page) == EVERY_CHARACTER

    # So does selecting the box by hand and copying.
    page.evaluate("navigator.clipboard.writeText('')")
    output.click()  # user-select: all takes the whole box
    assert page.evaluate("getSelection().toString()") == EVERY_CHARACTER
    page.keyboard.press("ControlOrMeta+c")
    assert clipboard(page) == EVERY_CHARACTER

    # The bar for phones shows the same classes.
    dock = page.locator("#dock-password span.ch")
    assert dock.evaluate_all("spans => spans.map(s => s.className)") == [
        f"ch ch-{kind_of(char)}" for char in EVERY_CHARACTER
    ]


# --- spelled aloud --------------------------------------------------------------------------


def spelled(page: Page) -> list[list[str]]:
    reading: list[list[str]] = page.locator("#spelled li").evaluate_all(
        """items => items.map(li => [
            li.querySelector(".ch").textContent, li.querySelector(".ch").className,
            li.querySelector(".spoken").textContent])"""
    )
    return reading


def expected_spelling(password: str) -> list[list[str]]:
    """The page's spelling, as the server renders it without JavaScript."""
    return [[char, f"ch ch-{kind_of(char)}", display.character(char).spoken] for char in password]


def test_spell_it_reads_the_password_in_the_nato_alphabet_and_follows_it(
    new_context: NewContext,
) -> None:
    page = new_context().new_page()
    opened(page)
    spell = page.get_by_role("button", name="Spell it")
    expect(spell).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#spelled")).to_be_hidden()
    expect(page.locator("#spelled-details summary")).to_be_hidden()  # the button does it

    page.route("**/api/passwords", answer_with("kK7@#$!&" + EVERY_CHARACTER))
    regenerate(page)
    spell.click()
    expect(spell).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#spelled")).to_be_visible()
    reading = spelled(page)
    assert [word for _, _, word in reading[:8]] == [
        "kilo", "capital KILO", "seven", "at sign", "hash", "dollar sign",
        "exclamation mark", "ampersand",
    ]  # fmt: skip
    # The browser's words are the server's, for every character.
    assert reading == expected_spelling("kK7@#$!&" + EVERY_CHARACTER)
    assert len({word for _, _, word in reading}) == len(EVERY_CHARACTER)

    # A new password is spelled anew, the reading still open.
    page.unroute("**/api/passwords")
    password = regenerate(page)
    expect(page.locator("#spelled li")).to_have_count(len(password))
    assert spelled(page) == expected_spelling(password)

    # Rules that allow no password: nothing to spell, and the button says so.
    page.fill("#length", "2")
    expect(page.locator("#password")).to_have_text("—")
    expect(spell).to_be_disabled()
    expect(page.locator("#spelled")).to_be_hidden()
    with page.expect_response(is_api) as answer:
        page.fill("#length", "12")
    password = answer.value.json()["passwords"][0]
    expect(page.locator("#spelled li")).to_have_count(12)
    assert spelled(page) == expected_spelling(password)

    spell.click()
    expect(spell).to_have_attribute("aria-pressed", "false")
    expect(page.locator("#spelled")).to_be_hidden()


def test_without_javascript_the_spelling_is_a_details_to_open(new_context: NewContext) -> None:
    page = new_context(java_script_enabled=False).new_page()
    output = opened(page)
    password = output.inner_text()
    expect(page.locator("#spell")).to_be_hidden()
    expect(page.locator("#length-slider")).to_be_hidden()
    expect(page.locator("#history")).to_be_hidden()
    expect(page.locator("#spelled")).to_be_hidden()
    page.get_by_text("Spell it out (NATO alphabet)").click()
    expect(page.locator("#spelled")).to_be_visible()
    assert spelled(page) == expected_spelling(password)
    classes = output.locator("span.ch").evaluate_all("spans => spans.map(s => s.className)")
    assert classes == [f"ch ch-{kind_of(char)}" for char in password]


# --- the length slider ----------------------------------------------------------------------


def test_the_length_slider_and_number_move_together_and_the_password_follows(
    new_context: NewContext,
) -> None:
    page = new_context().new_page()
    output = opened(page)
    slider, number = page.locator("#length-slider"), page.locator("#length")
    expect(slider).to_be_visible()
    expect(slider).to_have_value("16")
    assert slider.get_attribute("name") is None  # never sent with the form

    def asks_for(length: int) -> Any:
        return lambda response: (
            is_api(response) and json.loads(response.request.post_data or "{}")["length"] == length
        )

    # The slider sets the number, and a password of that length follows.
    slider.focus()
    with page.expect_response(asks_for(4)) as answer:
        page.keyboard.press("Home")
    expect(number).to_have_value("4")
    expect(output).to_have_text(answer.value.json()["passwords"][0])
    assert len(output.inner_text()) == 4
    with page.expect_response(asks_for(128)):
        page.keyboard.press("End")
    expect(number).to_have_value("128")
    expect(output).to_have_text(of_length(128))

    # Moved quickly, it asks once it rests, not at every step.
    asked: list[str] = []
    page.on("request", lambda request: record_api_request(asked, request))
    with page.expect_response(asks_for(118)):
        for _ in range(10):
            page.keyboard.press("ArrowLeft")
    expect(number).to_have_value("118")
    assert len(asked) < 10, asked
    expect(output).to_have_text(of_length(118))

    # The number sets the slider, too.
    with page.expect_response(asks_for(20)):
        number.fill("20")
    expect(slider).to_have_value("20")
    expect(output).to_have_text(of_length(20))
    number.fill("300")  # beyond the rules: the slider stays where it was, the number says why
    expect(page.locator("#length-error")).to_have_text("Must be between 4 and 128")
    expect(slider).to_have_value("20")


def record_api_request(asked: list[str], request: Request) -> None:
    if request.url.endswith("/api/passwords") and request.method == "POST":
        asked.append(request.url)


def of_length(length: int) -> re.Pattern[str]:
    """Any text of exactly ``length`` characters."""
    return re.compile(rf"^.{{{length}}}$", re.S)


# --- keys -----------------------------------------------------------------------------------


def test_r_regenerates_and_c_copies_but_not_while_typing_in_a_field(
    new_context: NewContext, server: Server
) -> None:
    page = clipboard_context(new_context, server).new_page()
    output = opened(page)
    expect(page.locator("#shortcuts")).to_be_visible()
    expect(page.locator("#shortcuts")).to_contain_text("R")

    first = output.inner_text()
    second = regenerate(page)
    assert second != first
    press_outside_fields(page, "c")
    expect(page.locator("#copy-status")).to_have_text("Copied")
    assert clipboard(page) == second
    page.get_by_role("button", name="Spell it").focus()  # a button is not a field: keys work
    third = regenerate_by_key_from_focus(page)
    assert third != second

    # Typed into a field, R and C are letters; with a modifier, they are not ours.
    page.evaluate("navigator.clipboard.writeText('untouched')")
    asked: list[str] = []
    page.on("request", lambda request: record_api_request(asked, request))
    for field in ("#nav-search-q", "#rules"):
        page.locator(field).click()
        page.keyboard.type("rRcC")
        expect(page.locator(field)).to_have_value("rRcC")
    page.locator("h1").click()
    page.keyboard.press("Alt+r")
    page.keyboard.press("Alt+c")
    page.wait_for_timeout(400)  # past the form's debounce
    assert asked == []
    expect(output).to_have_text(third)
    assert clipboard(page) == "untouched"


def regenerate_by_key_from_focus(page: Page) -> str:
    with page.expect_response(is_api) as answer:
        page.keyboard.press("R")
    password: str = answer.value.json()["passwords"][0]
    expect(page.locator("#password")).to_have_text(password)
    return password


# --- history --------------------------------------------------------------------------------


def history(page: Page) -> list[str]:
    """The passwords in the history, newest first (opening the list if it is closed)."""
    details = page.locator("#history-details")
    if details.is_visible() and not details.evaluate("d => d.open"):
        details.locator("summary").click()
    return page.locator("#history-list li .password-line").all_inner_texts()


def stored(page: Page) -> Any:
    return page.evaluate(f"JSON.parse(sessionStorage.getItem('{HISTORY_KEY}') ?? 'null')")


def test_the_history_keeps_this_tabs_passwords_newest_first_and_only_here(
    new_context: NewContext, server: Server
) -> None:
    context = clipboard_context(new_context, server)
    page = context.new_page()
    output = opened(page)
    section = page.locator("#history")
    expect(section).to_be_visible()
    expect(section).to_contain_text("never sent anywhere")
    expect(section).to_contain_text("gone when you close the tab")
    expect(page.get_by_label("Keep a history in this tab")).to_be_checked()
    expect(page.locator("#history-list")).to_be_hidden()  # closed until asked for

    first = output.inner_text()
    passwords = [first] + [regenerate(page) for _ in range(3)]
    expect(page.locator("#history-count")).to_have_text("4")
    assert history(page) == passwords[::-1]
    newest = page.locator("#history-list li").first
    expect(newest).to_contain_text("16 chars · a–z A–Z 0–9 symbols · ≥1 each")
    classes = newest.locator(".ch").evaluate_all("spans => spans.map(s => s.className)")
    assert classes == [f"ch ch-{kind_of(char)}" for char in passwords[-1]]

    # Each entry copies its own password.
    page.locator("#history-list li").nth(2).get_by_role("button", name="Copy").click()
    expect(page.locator("#history-status")).to_have_text("Copied")
    assert clipboard(page) == passwords[1]

    # A passphrase says its rules in words.
    with page.expect_response(is_api) as answer:
        page.get_by_label("Passphrase (words)").check()
    passphrase = answer.value.json()["passwords"][0]
    expect(output).to_have_text(passphrase)
    expect(page.locator("#history-list li").first).to_contain_text("6 words, separator _")
    passwords.append(passphrase)

    # A reload keeps them (and its own new password); another tab or browser has its own.
    page.reload()
    expect(output).not_to_have_text("—")
    assert history(page) == [output.inner_text(), *passwords[::-1]]
    other_tab = context.new_page()
    opened(other_tab)
    assert history(other_tab) == [other_tab.locator("#password").inner_text()]
    elsewhere = new_context().new_page()
    opened(elsewhere)
    assert history(elsewhere) == [elsewhere.locator("#password").inner_text()]


def test_the_history_keeps_twenty_and_clear_empties_it(new_context: NewContext) -> None:
    page = new_context().new_page()
    opened(page)
    newest = [regenerate(page) for _ in range(21)][::-1]
    expect(page.locator("#history-count")).to_have_text("20")
    assert history(page) == newest[:20]
    assert len(stored(page)) == 20

    page.get_by_role("button", name="Clear").click()
    expect(page.locator("#history-list li")).to_have_count(0)
    expect(page.locator("#history-empty")).to_have_text("No passwords yet.")
    assert stored(page) is None
    password = regenerate(page)  # the history goes on
    assert history(page) == [password]


def test_turning_the_history_off_empties_it_and_keeps_nothing(new_context: NewContext) -> None:
    context = new_context()
    page = context.new_page()
    opened(page)
    regenerate(page)
    assert len(history(page)) == 2

    toggle = page.get_by_label("Keep a history in this tab")
    toggle.uncheck()
    expect(page.locator("#history-list li")).to_have_count(0)
    expect(page.locator("#history-empty")).to_have_text("The history is off: nothing is kept.")
    assert stored(page) is None
    regenerate(page)
    regenerate(page)
    assert stored(page) is None
    expect(page.locator("#history-details")).to_be_hidden()

    # Off stays off: after a reload, and in another tab of this browser.
    page.reload()
    expect(page.locator("#password")).not_to_have_text("—")
    expect(toggle).not_to_be_checked()
    assert stored(page) is None
    other_tab = context.new_page()
    opened(other_tab)
    expect(other_tab.get_by_label("Keep a history in this tab")).not_to_be_checked()
    assert stored(other_tab) is None

    toggle.check()
    password = regenerate(page)
    assert history(page) == [password]


def test_no_request_cookie_or_storage_but_the_tabs_own_ever_holds_a_password(
    new_context: NewContext, server: Server
) -> None:
    context = clipboard_context(new_context, server)
    page = context.new_page()
    requests: list[Request] = []
    logged: list[str] = []
    page.on("request", lambda request: requests.append(request))
    page.on("console", lambda message: logged.append(message.text))
    output = opened(page)
    shown = [output.inner_text()]
    for _ in range(3):
        shown.append(regenerate(page))
    page.get_by_role("button", name="Copy", exact=True).click()
    press_outside_fields(page, "c")
    page.get_by_role("button", name="Spell it").click()
    page.fill("#length", "12")  # rules change: a request with past passwords in the page
    expect(output).to_have_text(of_length(12))
    shown.append(output.inner_text())
    history(page)
    page.locator("#history-list li").first.get_by_role("button", name="Copy").click()
    page.get_by_label("Keep a history in this tab").uncheck()
    page.get_by_label("Keep a history in this tab").check()
    page.reload()
    expect(output).not_to_have_text("—")
    shown.append(output.inner_text())
    regenerate(page)

    assert len(requests) > 6
    for request in requests:
        sent = " ".join([request.url, request.post_data or "", json.dumps(request.all_headers())])
        for password in shown:
            assert password not in sent, (request.method, request.url)
    cookies = json.dumps(context.cookies())
    local = page.evaluate("JSON.stringify(Object.entries(localStorage))")
    for password in shown:
        assert password not in cookies
        assert password not in local
        assert all(password not in line for line in logged)
        assert password not in page.url
