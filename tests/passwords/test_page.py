"""``GET/POST /passwords``: the generator page, for visitors, without JavaScript."""

from __future__ import annotations

import html
import re
import string
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markupsafe import escape
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from quartapp.passwords import display
from quartapp.passwords.describe import duration_in_words, number_in_words
from quartapp.passwords.generator import AMBIGUOUS, PasswordPolicy, count, strength, wordlist
from tests.helpers import page_text
from tests.passwords.test_api import DEFAULT_RULE, TEN_CHAR_POLICY, TEN_CHAR_RULE, assert_meets

PAGE = "/passwords"
STATIC = Path(__file__).resolve().parents[2] / "quartapp" / "static"
PASSWORD_BOX = re.compile(r'<output class="password-box" id="password"[^>]*>(.*?)</output>', re.S)


class FormReader(HTMLParser):
    """What a browser would send from one form of a page, as the page left it."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.inside = False
        self.found = False
        self.fields: dict[str, str] = {}
        self.select: str | None = None  # the name of the select being read

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.inside = attributes.get("id") == self.form_id
            self.found = self.found or self.inside
        elif self.inside and tag == "input" and attributes.get("name"):
            name = attributes["name"]
            if attributes.get("type") in {"checkbox", "radio"}:
                if "checked" in attributes:
                    self.fields[name] = attributes.get("value", "on")
            else:
                self.fields[name] = attributes.get("value", "")
        elif self.inside and tag == "select" and attributes.get("name"):
            self.select = attributes["name"]
        elif (
            self.select
            and tag == "option"
            and ("selected" in attributes or self.select not in self.fields)
        ):  # the selected option, or else the first
            self.fields[self.select] = attributes.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None


def browser_form(page: str, form_id: str = "generator-form") -> dict[str, str]:
    reader = FormReader(form_id)
    reader.feed(page)
    assert reader.found, f"no form #{form_id}"
    return reader.fields


def shown_password(page: str) -> str | None:
    """The password in the page's box, or None when it shows none."""
    match = PASSWORD_BOX.search(page)
    assert match is not None, "no password box"
    text = html.unescape(re.sub(r"<[^>]*>", "", match.group(1)))  # one span a character
    return None if text == "—" else text


def shown_text(page: str, element_id: str) -> str:
    match = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', page)
    assert match is not None, element_id
    return html.unescape(match.group(1)).strip()


def error_shown(page: str, field: str) -> str:
    """The message the page shows next to ``field`` ('' when none), checked to be a
    sentence (no lower-case start, where the API's is "must be between...")."""
    match = re.search(rf'<p class="error" id="{field}-error"[^>]*>([^<]*)</p>', page)
    assert match is not None, field
    shown = html.unescape(match.group(1))
    assert not shown[:1].islower(), shown
    return shown


def assert_no_store(response: Response) -> None:
    assert response.headers.get("Cache-Control") == "no-store", response.status_code


async def load(client: Client, path: str = PAGE) -> tuple[str, dict[str, str]]:
    """The page and the fields of its generator form."""
    response = await client.get(path)
    assert response.status_code == 200
    assert_no_store(response)
    page = await page_text(response)
    return page, browser_form(page)


async def submit(client: Client, fields: dict[str, str], path: str = PAGE) -> Response:
    return await client.post(path, form=fields)


async def generated(client: Client, fields: dict[str, str]) -> tuple[str, str]:
    """POST the form; the page and the password it shows."""
    response = await submit(client, fields)
    page = await page_text(response)
    assert response.status_code == 200, page
    assert_no_store(response)
    password = shown_password(page)
    assert password is not None
    return page, password


def assert_about(page: str, policy: PasswordPolicy) -> None:
    """The page says how strong the policy is, in bits, a label and words."""
    total = count(policy)
    about = strength(total)
    assert shown_text(page, "entropy") == str(round(about.entropy_bits, 1))
    assert shown_text(page, "strength") == about.label
    assert shown_text(page, "count-words") == number_in_words(total)
    assert shown_text(page, "time-slow") == duration_in_words(about.half_space_seconds[0])
    assert shown_text(page, "time-fast") == duration_in_words(about.half_space_seconds[1])


# --- a visitor's first look ----------------------------------------------------------------


async def test_a_visitor_gets_a_password_meeting_the_defaults(client: Client) -> None:
    page, _ = await load(client)
    password = shown_password(page)
    assert password is not None
    assert_meets(password, DEFAULT_RULE)
    assert_about(page, PasswordPolicy())
    assert "about 30.6 nonillion" in page


async def test_the_form_starts_with_the_defaults(client: Client) -> None:
    _, fields = await load(client)
    assert fields.pop("csrf_token")
    assert fields == {
        "mode": "password", "length": "16", "lowercase": "on", "uppercase": "on",
        "digits": "on", "symbols": "on", "min_lowercase": "1", "min_uppercase": "1",
        "min_digits": "1", "min_symbols": "1", "symbol_set": string.punctuation,
        "exclude": "", "include": "", "max_lowercase": "", "max_uppercase": "",
        "max_digits": "", "max_symbols": "", "min_classes": "0", "max_consecutive": "",
        "first_character": "any", "require": "",
        "words": "6", "separator": "_", "phrase_symbols": "!#$%&*+=?@^~", "max_length": "",
    }  # fmt: skip


async def test_each_load_draws_a_new_password(client: Client) -> None:
    passwords = {shown_password((await load(client))[0]) for _ in range(3)}
    assert len(passwords) == 3


async def test_the_password_is_in_a_monospace_box_with_copy_and_regenerate(client: Client) -> None:
    page, _ = await load(client)
    assert re.search(r'<button type="button" id="copy"[^>]*>Copy</button>', page)
    regenerate = re.search(r"<button ([^>]*)>Regenerate</button>", page)
    assert regenerate is not None
    assert 'type="submit"' in regenerate.group(1)
    assert 'form="generator-form"' in regenerate.group(1)
    assert 'formaction="/passwords"' in regenerate.group(1)
    css = (STATIC / "site.css").read_text()
    box = re.search(r"\.password-box\s*\{([^}]*)\}", css)
    mono = re.search(r"--mono:([^;]*);", css)
    assert box is not None
    assert mono is not None
    assert "font-family: var(--mono)" in box.group(1)
    assert mono.group(1).strip().endswith("monospace")


async def test_the_form_works_without_javascript(client: Client) -> None:
    page, _ = await load(client)
    form = re.search(r'<form ([^>]*)id="generator-form"', page)
    assert form is not None
    assert 'method="post"' in form.group(1)
    assert 'action="/passwords"' in form.group(1)


async def test_the_page_loads_its_script_and_has_no_inline_script(client: Client) -> None:
    page, _ = await load(client)
    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", page, re.S)
    assert any('src="/static/passwords.js' in attributes for attributes, _ in scripts)
    for attributes, body in scripts:
        assert "src=" in attributes
        assert not body.strip()
    assert not re.search(r"\son[a-z]+=", page)
    assert "javascript:" not in page
    response = await client.get("/static/passwords.js")
    assert response.status_code == 200
    assert "javascript" in (response.mimetype or "")
    script = await page_text(response)
    assert "navigator.clipboard.writeText" in script
    assert '"/api/passwords"' in script


async def test_the_password_appears_once_and_in_no_link(client: Client) -> None:
    page, _ = await load(client)
    password = shown_password(page)
    assert password is not None
    assert page.count(str(escape(password))) == 0  # only as one span a character...
    assert re.sub(r"<[^>]*>", "", page).count(str(escape(password))) == 1  # ...read once
    for link in re.findall(r'(?:href|action|src)="([^"]*)"', page):
        assert password not in html.unescape(link)


# --- posting the form ----------------------------------------------------------------------


async def test_posting_the_form_unchanged_regenerates(client: Client) -> None:
    page, fields = await load(client)
    _, password = await generated(client, fields)
    assert_meets(password, DEFAULT_RULE)
    assert password != shown_password(page)


async def test_the_users_ten_character_policy_through_the_form(client: Client) -> None:
    _, fields = await load(client)
    del fields["symbols"]  # unchecked: a browser does not send it
    fields.update(length="10", min_symbols="0", min_digits="3")
    for _ in range(5):
        page, password = await generated(client, fields)
        assert_meets(password, TEN_CHAR_RULE)
    assert_about(page, TEN_CHAR_POLICY)
    kept = browser_form(page)
    assert "symbols" not in kept
    assert kept["length"] == "10"
    assert kept["min_digits"] == "3"


async def test_an_absent_checkbox_is_off(client: Client) -> None:
    _, fields = await load(client)
    del fields["lowercase"]
    fields["min_lowercase"] = "0"
    for _ in range(5):
        page, password = await generated(client, fields)
        assert not set(password) & set(string.ascii_lowercase)
        assert len(password) == 16
    assert_about(page, PasswordPolicy(lowercase=False, min_lowercase=0))
    assert "lowercase" not in browser_form(page)


async def test_a_present_checkbox_is_on(client: Client) -> None:
    _, fields = await load(client)
    fields["avoid_ambiguous"] = "on"
    for _ in range(5):
        page, password = await generated(client, fields)
        assert not set(password) & AMBIGUOUS
    assert_about(page, PasswordPolicy(avoid_ambiguous=True))
    assert browser_form(page)["avoid_ambiguous"] == "on"


async def test_symbol_set_exclude_and_include_from_the_form(client: Client) -> None:
    _, fields = await load(client)
    fields.update(symbol_set="#$", exclude="abcdef", include="€", length="30", min_symbols="3")
    page, password = await generated(client, fields)
    assert not set(password) & set("abcdef")
    assert set(password) <= set(string.ascii_letters + string.digits + "#$€")
    assert sum(char in "#$" for char in password) >= 3
    assert_about(page, PasswordPolicy(length=30, symbol_set="#$", exclude="abcdef",
                                      include="€", min_symbols=3))  # fmt: skip


async def test_passphrase_through_the_form(client: Client) -> None:
    _, fields = await load(client)
    fields.update(mode="passphrase", words="5", separator=".", capitalize="on")
    page, passphrase = await generated(client, fields)
    words = passphrase.split(".")
    assert len(words) == 5
    assert all(word[0].isupper() and word.lower() in set(wordlist()) for word in words)
    assert shown_text(page, "count-words") == number_in_words(7776**5)
    assert browser_form(page)["mode"] == "passphrase"


# --- bad input -----------------------------------------------------------------------------


async def test_a_bad_form_is_400_with_the_message_and_the_input_kept(client: Client) -> None:
    _, fields = await load(client)
    fields.update(length="200", exclude='"><b>x</b>', min_digits="2")
    response = await submit(client, fields)
    assert response.status_code == 400
    assert_no_store(response)
    page = await page_text(response)
    assert error_shown(page, "length") == "Must be between 4 and 128"
    assert shown_password(page) is None
    assert 'id="about" hidden' in page
    assert re.search(r'<button type="button" id="copy" hidden disabled>', page)
    kept = browser_form(page)
    assert kept["length"] == "200"
    assert kept["min_digits"] == "2"
    assert kept["exclude"] == '"><b>x</b>'
    assert "<b>x</b>" not in page  # kept, and escaped


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"length": "abc"}, "length", "must be a whole number"),
        ({"length": "1e3"}, "length", "must be a whole number"),
        ({"length": "--5"}, "length", "must be a whole number"),  # int() raised: a 500
        ({"length": "-"}, "length", "must be a whole number"),
        ({"min_digits": "--1"}, "min_digits", "must be a whole number"),
        ({"length": "١٢"}, "length", "must be a whole number"),  # Arabic-Indic digits
        ({"length": "3"}, "length", "must be between 4 and 128"),
        ({"length": "4", "min_digits": "3"}, "length", "the minimums add up to 6"),
        ({"min_digits": "-1"}, "min_digits", "must be between 0 and 128"),
        ({"exclude": "0123456789"}, "digits", "every one of the digits is excluded"),
        ({"symbol_set": "! ?"}, "symbol_set", "is a space or an invisible character"),
        ({"include": "a b"}, "include", "is a space or an invisible character"),
        ({"symbol_set": "!x"}, "symbol_set", "letters and digits have their own classes"),
        ({"mode": "pin"}, "mode", "must be 'password' or 'passphrase'"),
        ({"mode": "passphrase", "words": "2"}, "words", "must be between 3 and 20"),
        ({"mode": "passphrase", "separator": "1"}, "separator", "cannot separate words"),
        (
            {"lowercase": None, "uppercase": None, "digits": None, "symbols": None,
             "min_lowercase": "0", "min_uppercase": "0", "min_digits": "0", "min_symbols": "0"},
            "lowercase",
            "no characters are left",
        ),
    ],
)  # fmt: skip
async def test_each_bad_field_is_shown_next_to_it(
    client: Client, changes: dict[str, str | None], field: str, message: str
) -> None:
    _, fields = await load(client)
    for name, value in changes.items():
        if value is None:
            fields.pop(name)
        else:
            fields[name] = value
    response = await submit(client, fields)
    assert response.status_code == 400
    assert_no_store(response)
    page = await page_text(response)
    assert message.casefold() in error_shown(page, field).casefold()
    assert shown_password(page) is None
    if field in fields and field != "mode":  # a radio button keeps only a known choice
        assert browser_form(page)[field] == fields[field]


async def test_a_post_without_csrf_token_is_400_and_shows_no_password(client: Client) -> None:
    _, fields = await load(client)
    del fields["csrf_token"]
    response = await submit(client, fields)
    assert response.status_code == 400
    assert_no_store(response)
    page = await page_text(response)
    assert "security token" in page
    assert 'id="password"' not in page


async def test_a_post_with_a_wrong_csrf_token_is_400(client: Client) -> None:
    _, fields = await load(client)
    fields["csrf_token"] = "x" * 43
    response = await submit(client, fields)
    assert response.status_code == 400
    assert 'id="password"' not in await page_text(response)


async def test_a_post_from_a_client_that_never_loaded_the_page_is_400(client: Client) -> None:
    response = await client.post(PAGE, form={"length": "12"})
    assert response.status_code == 400
    assert_no_store(response)
    assert 'id="password"' not in await page_text(response)


@pytest.mark.parametrize("policy", ["abc", "0", "-1", "1e3", "99999999999"])
async def test_a_policy_that_cannot_exist_is_404(client: Client, policy: str) -> None:
    response = await client.get(f"{PAGE}?policy={policy}")
    assert response.status_code == 404
    assert_no_store(response)


async def test_a_visitor_is_asked_to_log_in_whether_the_policy_exists_or_not(
    client: Client,
) -> None:
    """Saved policies are only their owner's: a visitor learns nothing of which ids exist."""
    response = await client.get(f"{PAGE}?policy=99999")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/login?next=")
    assert_no_store(response)


async def test_a_method_the_page_does_not_take_is_405_and_not_cached(client: Client) -> None:
    _, fields = await load(client)
    response = await client.put(PAGE, form=fields)
    assert response.status_code == 405
    assert_no_store(response)


async def test_other_pages_keep_their_caching(client: Client) -> None:
    response = await client.get("/")
    assert response.status_code == 200
    assert "Cache-Control" not in response.headers


async def test_an_unticked_class_ignores_its_minimum(client: Client) -> None:
    """Unticking Symbols while its "at least" box still says 1 just turns symbols off."""
    _, fields = await load(client)
    del fields["symbols"]
    fields["min_symbols"] = "3"
    for _ in range(5):
        _page, password = await generated(client, fields)
        assert not set(password) & set(string.punctuation)


# --- reading the password: by class, spelled, without JavaScript ---------------------------

SPAN = re.compile(r'<span class="ch ch-(lower|upper|digit|symbol|other)">([^<]*)</span>')


def kind_of(char: str) -> str:
    for kind, chars in (
        ("lower", string.ascii_lowercase),
        ("upper", string.ascii_uppercase),
        ("digit", string.digits),
        ("symbol", string.punctuation),
    ):
        if char in chars:
            return kind
    return "other"


def spelled_words(page: str) -> list[tuple[str, str, str]]:
    """(class, character, word) of each item of the spelled reading."""
    reading = re.search(r'<ol class="spelled-list" id="spelled"[^>]*>(.*?)</ol>', page, re.S)
    assert reading is not None, "no spelled reading"
    items = re.findall(
        r'<li><span class="ch ch-(\w+)">([^<]*)</span> <span class="spoken">([^<]*)</span></li>',
        reading.group(1),
    )
    return [(kind, html.unescape(char), html.unescape(word)) for kind, char, word in items]


async def test_each_character_of_the_password_carries_its_class(client: Client) -> None:
    _, fields = await load(client)
    fields.update(length="40", include="€")
    page, password = await generated(client, fields)
    box = PASSWORD_BOX.search(page)
    assert box is not None
    spans = SPAN.findall(box.group(1))
    assert SPAN.sub("", box.group(1)) == ""  # nothing between the spans, not even a space
    assert [html.unescape(char) for _, char in spans] == list(password)
    assert [kind for kind, _ in spans] == [kind_of(char) for char in password]


async def test_a_passphrase_is_shown_by_class_too(client: Client) -> None:
    _, fields = await load(client)
    fields.update(mode="passphrase", words="4", separator="#", capitalize="on", add_digit="on")
    page, passphrase = await generated(client, fields)
    box = PASSWORD_BOX.search(page)
    assert box is not None
    kinds = [kind for kind, _ in SPAN.findall(box.group(1))]
    assert kinds == [kind_of(char) for char in passphrase]
    assert {"upper", "lower", "digit", "symbol"} <= set(kinds)


async def test_the_page_spells_the_password_in_a_details_without_javascript(
    client: Client,
) -> None:
    page, _ = await load(client)
    password = shown_password(page)
    assert password is not None
    assert re.search(r'<details class="spelled" id="spelled-details">\s*<summary>', page)
    words = spelled_words(page)
    assert "".join(char for _, char, _ in words) == password
    for kind, char, word in words:
        assert kind == kind_of(char)
        if kind == "lower":
            assert word == NATO_WORDS[char]
        elif kind == "upper":
            assert word == "capital " + NATO_WORDS[char.lower()].upper()
        elif kind == "digit":
            assert word == DIGIT_WORDS[int(char)]
        else:
            assert word == SYMBOL_WORDS[char]


NATO_WORDS = {
    "a": "alpha", "b": "bravo", "c": "charlie", "d": "delta", "e": "echo", "f": "foxtrot",
    "g": "golf", "h": "hotel", "i": "india", "j": "juliet", "k": "kilo", "l": "lima",
    "m": "mike", "n": "november", "o": "oscar", "p": "papa", "q": "quebec", "r": "romeo",
    "s": "sierra", "t": "tango", "u": "uniform", "v": "victor", "w": "whiskey", "x": "x-ray",
    "y": "yankee", "z": "zulu",
}  # fmt: skip
DIGIT_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
SYMBOL_WORDS = {
    "!": "exclamation mark", '"': "double quote", "#": "hash", "$": "dollar sign",
    "%": "percent sign", "&": "ampersand", "'": "apostrophe", "(": "left parenthesis",
    ")": "right parenthesis", "*": "asterisk", "+": "plus sign", ",": "comma",
    "-": "hyphen", ".": "dot", "/": "slash", ":": "colon", ";": "semicolon",
    "<": "less-than sign", "=": "equals sign", ">": "greater-than sign",
    "?": "question mark", "@": "at sign", "[": "left square bracket", "\\": "backslash",
    "]": "right square bracket", "^": "caret", "_": "underscore", "`": "backtick",
    "{": "left curly brace", "|": "vertical bar", "}": "right curly brace", "~": "tilde",
}  # fmt: skip


def test_every_printable_ascii_character_is_spelled_by_its_own_name() -> None:
    spoken = {char: display.character(char).spoken for char in string.printable.strip()}
    assert len(set(spoken.values())) == 94
    assert spoken["k"] == "kilo"
    assert spoken["K"] == "capital KILO"
    assert spoken["7"] == "seven"
    assert {char: spoken[char] for char in string.punctuation} == SYMBOL_WORDS
    assert display.character("€") == display.Character("€", "other", "U+20AC")


async def test_a_spelled_reading_of_markup_characters_is_escaped(client: Client) -> None:
    _, fields = await load(client)
    fields.update(lowercase="", uppercase="", digits="", symbol_set="<>&\"'", length="12")
    for name in ("lowercase", "uppercase", "digits"):
        del fields[name]
        fields[f"min_{name}"] = "0"
    page, password = await generated(client, fields)
    assert set(password) <= set("<>&\"'")
    assert [char for _, char, _ in spelled_words(page)] == list(password)
    assert "<<" not in page
    assert "<>" not in page


async def test_what_needs_javascript_is_hidden_without_it(client: Client) -> None:
    page, fields = await load(client)
    for element_id in ("spell", "shortcuts", "length-slider", "history"):
        tag = re.search(rf'<[a-z]+ [^>]*id="{element_id}"[^>]*>', page)
        assert tag is not None, element_id
        assert re.search(r"\shidden[\s>]", tag.group(0)), element_id
    slider = re.search(r'<input type="range"[^>]*>', page)
    assert slider is not None
    assert " name=" not in slider.group(0)  # never sent with the form
    assert 'min="4"' in slider.group(0)
    assert 'max="128"' in slider.group(0)
    assert "length-slider" not in fields


async def test_a_page_without_a_password_spells_nothing(client: Client) -> None:
    _, fields = await load(client)
    fields["length"] = "2"
    response = await submit(client, fields)
    assert response.status_code == 400
    page = await page_text(response)
    assert '<details class="spelled" id="spelled-details" hidden>' in page
    assert spelled_words(page) == []
