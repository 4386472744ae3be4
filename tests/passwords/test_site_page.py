"""The page's "Which site or system?" box and the rules read from a site's own words,
without JavaScript: each loads rules into the form and says them in words."""

from __future__ import annotations

import html
import re

from quart.typing import TestClientProtocol as Client

from tests.helpers import page_text
from tests.passwords.test_api import assert_meets_chase
from tests.passwords.test_page import (
    assert_no_store,
    browser_form,
    error_shown,
    shown_password,
    submit,
)


def rules_in_words(page: str) -> list[str]:
    match = re.search(r'<ul class="rules-in-words">(.*?)</ul>', page, re.S)
    assert match is not None, "no rules in words"
    return [html.unescape(item) for item in re.findall(r"<li>(.*?)</li>", match.group(1))]


async def test_a_subdomain_loads_its_sites_rules_into_the_form(client: Client) -> None:
    response = await client.get("/passwords?site=login.chase.com")
    page = await page_text(response)
    assert response.status_code == 200, page
    assert_no_store(response)
    words = rules_in_words(page)
    assert words[0] == "8 to 32 characters (using 20)"
    assert "no character more than 2 times in a row" in words
    assert "at least 1 letter (upper or lower case)" in words
    assert 'rel="noopener noreferrer"' in page
    assert "Change your password on chase.com" in page
    assert_meets_chase(shown_password(page) or "")
    fields = browser_form(page)
    assert fields["length"] == "20"
    assert fields["max_consecutive"] == "2"
    assert fields["require"] == "upper, lower"
    assert fields["symbol_set"] == "!#$%+/=@~"
    # The form as the site left it gives passwords meeting the rules, again and again.
    for _ in range(5):
        again = await submit(client, fields)
        assert again.status_code == 200
        assert_meets_chase(shown_password(await page_text(again)) or "")


async def test_a_site_without_rules_says_so_and_keeps_the_defaults(client: Client) -> None:
    response = await client.get("/passwords?site=example.org")
    page = await page_text(response)
    assert response.status_code == 200
    assert "No password rules are known for example.org" in page
    assert browser_form(page)["length"] == "16"
    assert shown_password(page) is not None


async def test_a_site_box_that_holds_no_domain_is_named(client: Client) -> None:
    response = await client.get("/passwords?site=not%20a%20domain!")
    page = await page_text(response)
    assert response.status_code == 400
    assert error_shown(page, "site")
    assert 'value="not a domain!"' in page  # what was typed stays in the box


async def test_the_suggestions_are_every_known_domain(client: Client) -> None:
    response = await client.get("/passwords/sites")
    assert response.status_code == 200
    domains = await response.get_json()
    assert "chase.com" in domains
    assert len(domains) > 400
    assert domains == sorted(domains)


SENTENCE = (
    "Passwords must be 8–16 characters and include at least one uppercase letter, "
    "one number and one special character (!@#$%)"
)


async def test_a_sites_own_words_fill_the_form_for_the_user_to_check(client: Client) -> None:
    page = await page_text(await client.get("/passwords"))
    response = await client.post(
        "/passwords/sentence",
        form={"sentence": SENTENCE, "csrf_token": browser_form(page)["csrf_token"]},
    )
    page = await page_text(response)
    assert response.status_code == 200, page
    assert shown_password(page) is None  # nothing is used before the user confirms
    words = rules_in_words(page)
    assert words[0] == "8 to 16 characters (using 16)"
    assert "at least 1 uppercase letter" in words
    assert "at least 1 digit" in words
    assert "at least 1 symbol" in words
    assert "Use these rules" in page
    assert html.escape(SENTENCE, quote=False) in page  # the text stays in its box
    fields = browser_form(page)
    assert fields["symbol_set"] == "!@#$%"
    confirmed = await submit(client, fields)
    password = shown_password(await page_text(confirmed)) or ""
    assert len(password) == 16
    assert any(c.isupper() for c in password)
    assert any(c.isdigit() for c in password)
    assert any(c in "!@#$%" for c in password)
    assert not set(password) & (set("&*()-_=+[]{};:'\",.<>/?\\|`~^"))


async def test_words_that_say_nothing_keep_the_text_and_say_why(client: Client) -> None:
    page = await page_text(await client.get("/passwords"))
    text = "Choose wisely, friend."
    response = await client.post(
        "/passwords/sentence",
        form={"sentence": text, "csrf_token": browser_form(page)["csrf_token"]},
    )
    page = await page_text(response)
    assert response.status_code == 400
    assert error_shown(page, "sentence")
    assert text in page


async def test_a_site_with_only_a_change_page_says_where_to_change_it(client: Client) -> None:
    response = await client.get("/passwords?site=www.247sports.com")
    page = await page_text(response)
    assert response.status_code == 200
    assert "No password rules are known for 247sports.com" in page
    assert "Its password is changed at https://247sports.com/my/settings/password/" in page
