"""Importing a site's ``passwordrules``: the strictest policy we can express, or why not."""

from __future__ import annotations

import html
import re
import string
from dataclasses import replace
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from quartapp.passwords.generator import DEFAULT_SYMBOLS, PasswordPolicy, PolicyError, generate
from quartapp.passwords.rules import SPECIAL, import_rules
from tests.helpers import page_text
from tests.passwords.test_api import Rule, assert_meets
from tests.passwords.test_page import (
    assert_no_store,
    browser_form,
    error_shown,
    load,
    shown_password,
)

EXAMPLE = "minlength: 10; required: lower; required: upper; required: digit; allowed: [-_]"
LETTERS_DIGITS = string.ascii_letters + string.digits
EXAMPLE_RULE = Rule(
    16,
    LETTERS_DIGITS + "-_",
    ((string.ascii_lowercase, 1), (string.ascii_uppercase, 1), (string.digits, 1)),
)


def free(**changes: Any) -> PasswordPolicy:
    """A policy with no minimums, then ``changes``."""
    start = PasswordPolicy(min_lowercase=0, min_uppercase=0, min_digits=0, min_symbols=0)
    return replace(start, **changes)


def test_the_example() -> None:
    imported = import_rules(EXAMPLE)
    assert imported.policy == PasswordPolicy(
        length=16,
        min_symbols=0,
        symbol_set="-_",
    )
    assert imported.notes == ()
    for _ in range(200):
        assert_meets(generate(imported.policy), EXAMPLE_RULE)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "required: special",
            free(lowercase=False, uppercase=False, digits=False, min_symbols=1, symbol_set=SPECIAL),
        ),
        ("allowed: ascii-printable", free()),
        ("minlength: 8", free()),  # no classes: ascii-printable
        ("minlength: 24", free(length=24)),
        ("maxlength: 12", free(length=12)),
        ("minlength: 6; maxlength: 6", free(length=6)),
        (
            "required: digit; maxlength: 4",
            free(length=4, lowercase=False, uppercase=False, symbols=False, min_digits=1),
        ),
        (
            "required: upper; allowed: [-;]]",
            free(lowercase=False, digits=False, symbol_set="-;]", min_uppercase=1),
        ),
        (
            "required: [;]; required: digit",
            free(lowercase=False, uppercase=False, symbol_set=";", min_digits=1, min_symbols=1),
        ),
        (
            "required: [-]]; maxlength: 12",
            free(length=12, lowercase=False, uppercase=False, digits=False, symbol_set="-]",
                 min_symbols=1),
        ),
        (
            "allowed: [abc]",
            free(lowercase=False, uppercase=False, digits=False, symbols=False, include="abc"),
        ),
        ("allowed: lower, upper, digit", free(symbols=False)),
        (
            "MinLength: 20; REQUIRED: Digit; allowed: Lower",
            free(length=20, uppercase=False, symbols=False, min_digits=1),
        ),
        (
            "required: lower; required: lower; required: lower; minlength: 5; maxlength: 5",
            free(length=5, uppercase=False, digits=False, symbols=False, min_lowercase=3),
        ),
        (
            "required: digit;;  ; allowed: upper;",
            free(lowercase=False, symbols=False, min_digits=1),
        ),
    ],
)  # fmt: skip
def test_rules_become_policies(text: str, expected: PasswordPolicy) -> None:
    imported = import_rules(text)
    assert imported.policy == expected
    if not imported.policy.symbols:
        assert imported.policy.symbol_set == DEFAULT_SYMBOLS


def test_special_is_the_syntaxs_special_set_without_the_space() -> None:
    assert set(SPECIAL) == set("-~!@#$%^&*_+=`|(){}[:;\"'<>,.?]")
    policy = import_rules("required: special; required: lower").policy
    for _ in range(100):
        password = generate(policy)
        assert set(password) <= set(SPECIAL + string.ascii_lowercase)
        assert " " not in password


def test_brackets_may_hold_the_rule_separators() -> None:
    policy = import_rules("allowed: [;]]; required: upper; minlength: 12").policy
    assert (policy.symbol_set, policy.length, policy.min_uppercase) == (";]", 16, 1)
    for _ in range(100):
        assert set(generate(policy)) <= set(string.ascii_uppercase + ";]")


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("max-consecutive: 2; required: lower", "max-consecutive is not applied"),
        ("required: lower, upper", "asks for one of several sets"),
        (
            "required: [é]; allowed: upper",
            "cannot be required exactly; those characters are allowed",
        ),
        ("minlength: 2", "The length is at least 4 here."),
        ("allowed: unicode", "'unicode' was read as ASCII letters, digits and symbols."),
    ],
)
def test_what_cannot_be_said_exactly_gets_a_note(text: str, note: str) -> None:
    notes = import_rules(text).notes
    assert any(note in line for line in notes), notes


def test_one_of_several_required_sets_requires_the_first() -> None:
    policy = import_rules("required: lower, upper").policy
    assert (policy.min_lowercase, policy.min_uppercase, policy.uppercase) == (1, 0, True)


def test_max_consecutive_keeps_the_rest() -> None:
    policy = import_rules("max-consecutive: 2; required: lower").policy
    assert policy == free(uppercase=False, digits=False, symbols=False, min_lowercase=1)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "paste a rule such as"),
        ("   ", "paste a rule such as"),
        ("minlength: 20; maxlength: 10", "minlength is more than maxlength"),
        ("maxlength: 3", "maxlength is below 4"),
        ("maxlength: 0", "maxlength is below 4"),
        ("minlength: 200", "minlength is above 128"),
        ("colour: red", "unknown rule 'colour'"),
        ("required: emoji", "unknown character class 'emoji'"),
        ("minlength 10", "needs a ':' after the rule name"),
        ("minlength: ten", "minlength must be a whole number"),
        ("maxlength: -4", "maxlength must be a whole number"),
        ("required: [abc", "cannot read"),
        ("required: lower upper", "expected ','"),
        ("x" * 1001, "at most 1000 characters"),
        (
            "maxlength: 4; required: lower; required: upper; required: digit; required: special;"
            " required: [!]",
            "these rules cannot be met: the minimums add up to 5, more than the length",
        ),
    ],
)
def test_rules_that_cannot_be_read_or_met(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        import_rules(text)
    assert list(raised.value.errors) == ["rules"]
    assert message in raised.value.errors["rules"]


# --- POST /passwords/import ----------------------------------------------------------------


def rules_shown(page: str) -> str:
    match = re.search(r'<textarea name="rules"[^>]*>(.*?)</textarea>', page, re.S)
    assert match is not None
    return html.unescape(match.group(1))


async def import_page(client: Client, rules: str) -> Response:
    _, fields = await load(client)
    return await client.post(
        "/passwords/import", form={"csrf_token": fields["csrf_token"], "rules": rules}
    )


async def test_importing_the_example_on_the_page(client: Client) -> None:
    response = await import_page(client, EXAMPLE)
    assert response.status_code == 200
    assert_no_store(response)
    page = await page_text(response)
    password = shown_password(page)
    assert password is not None
    assert_meets(password, EXAMPLE_RULE)
    assert rules_shown(page) == EXAMPLE
    form = browser_form(page)
    assert form["symbol_set"] == "-_"
    assert (form["min_lowercase"], form["min_uppercase"], form["min_digits"]) == ("1", "1", "1")
    assert form["min_symbols"] == "0"
    assert form["length"] == "16"
    # The imported rules are a normal form: posting it generates from them again.
    again = await client.post("/passwords", form=form)
    regenerated = shown_password(await page_text(again))
    assert regenerated is not None
    assert_meets(regenerated, EXAMPLE_RULE)


async def test_notes_are_shown_on_the_page(client: Client) -> None:
    response = await import_page(client, "max-consecutive: 2; required: lower; minlength: 12")
    assert response.status_code == 200
    page = await page_text(response)
    assert "max-consecutive is not applied: check the password before using it." in page
    password = shown_password(page)
    assert password is not None
    assert set(password) <= set(string.ascii_lowercase)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("minlength: 20; maxlength: 10", "minlength is more than maxlength"),
        ("colour: red", "unknown rule 'colour'"),
        ("<script>x</script>: 1", "unknown rule"),
        (
            "maxlength: 4; required: lower; required: upper; required: digit; required: special;"
            " required: [!]",
            "these rules cannot be met",
        ),
    ],
)
async def test_bad_rules_are_400_with_the_message_and_the_text_kept(
    client: Client, rules: str, message: str
) -> None:
    response = await import_page(client, rules)
    assert response.status_code == 400
    assert_no_store(response)
    page = await page_text(response)
    assert message.casefold() in error_shown(page, "rules").casefold()
    assert rules_shown(page) == rules
    assert shown_password(page) is None
    assert "<script>x" not in page


async def test_import_needs_the_csrf_token(client: Client) -> None:
    await load(client)
    response = await client.post("/passwords/import", form={"rules": EXAMPLE})
    assert response.status_code == 400
    assert 'id="password"' not in await page_text(response)
