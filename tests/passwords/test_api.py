"""``POST /api/passwords``: JSON in, passwords and their strength out, bad fields named."""

from __future__ import annotations

import json
import math
import string
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from quartapp.config import RateLimitSpec
from quartapp.passwords.generator import (
    AMBIGUOUS,
    PasswordPolicy,
    count,
    strength,
    wordlist,
)
from quartapp.passwords.passphrase import (
    PassphrasePolicy,
    passphrase_count,
)

LOWER = string.ascii_lowercase
UPPER = string.ascii_uppercase
DIGITS = string.digits
SYMBOLS = string.punctuation
API = "/api/passwords"


@dataclass(frozen=True)
class Rule:
    """What a password must look like, written out independently of the generator."""

    length: int
    allowed: str
    at_least: tuple[tuple[str, int], ...]


DEFAULT_RULE = Rule(
    16, LOWER + UPPER + DIGITS + SYMBOLS, ((LOWER, 1), (UPPER, 1), (DIGITS, 1), (SYMBOLS, 1))
)
# The user's system: 10 characters, at least one lowercase and one uppercase, at least
# three digits, no symbols.
TEN_CHAR_BODY: dict[str, Any] = {"length": 10, "symbols": False, "min_symbols": 0, "min_digits": 3}
TEN_CHAR_POLICY = PasswordPolicy(length=10, symbols=False, min_symbols=0, min_digits=3)
TEN_CHAR_RULE = Rule(10, LOWER + UPPER + DIGITS, ((LOWER, 1), (UPPER, 1), (DIGITS, 3)))


def assert_meets(password: str, rule: Rule) -> None:
    assert len(password) == rule.length, password
    assert set(password) <= set(rule.allowed), password
    for chars, minimum in rule.at_least:
        assert sum(char in chars for char in password) >= minimum, (password, chars)


def assert_passphrase(text: str, words: int, separator: str = "_") -> list[str]:
    parts = text.split(separator)
    assert len(parts) == words, text
    known = set(wordlist())
    assert all(part in known for part in parts), text
    return parts


def from_address(address: str) -> dict[str, Any]:
    """Request options that make the request come from ``address``."""
    return {"scope_base": {"client": (address, 50000)}}


async def generate(client: Client, body: object, **options: Any) -> Response:
    return await client.post(API, json=body, **options)


async def ok_json(response: Response) -> dict[str, Any]:
    assert response.status_code == 200, await response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    result: dict[str, Any] = await response.get_json()
    return result


async def field_errors(response: Response) -> dict[str, str]:
    """The fields a 400 names, after checking the error's shape."""
    assert response.status_code == 400, await response.get_data(as_text=True)
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert set(body) == {"error"}, body  # no passwords next to an error
    error = body["error"]
    assert error["status"] == 400
    fields: dict[str, str] = error["fields"]
    for name in fields:
        assert name in error["message"]
    return fields


# --- happy paths ---------------------------------------------------------------------------


async def test_empty_body_gives_one_password_meeting_the_default_policy(client: Client) -> None:
    result = await ok_json(await generate(client, {}))
    assert set(result) >= {"passwords", "entropy_bits", "count_allowed", "strength"}
    assert len(result["passwords"]) == 1
    assert_meets(result["passwords"][0], DEFAULT_RULE)
    total = count(PasswordPolicy())
    assert result["count_allowed"] == str(total)
    assert result["entropy_bits"] == round(math.log2(total), 1)
    assert result["strength"] == strength(total).label == "very strong"


async def test_explicit_defaults_equal_an_empty_body(client: Client) -> None:
    body = {
        "mode": "password", "count": 1, "length": 16, "lowercase": True, "uppercase": True,
        "digits": True, "symbols": True, "min_lowercase": 1, "min_uppercase": 1,
        "min_digits": 1, "min_symbols": 1, "symbol_set": SYMBOLS, "avoid_ambiguous": False,
        "exclude": "", "include": "", "words": 6, "separator": "_", "capitalize": False,
        "add_digit": False,
    }  # fmt: skip
    result = await ok_json(await generate(client, body))
    assert result["count_allowed"] == str(count(PasswordPolicy()))
    assert_meets(result["passwords"][0], DEFAULT_RULE)


async def test_a_batch_of_100_defaults_all_meet_the_policy(client: Client) -> None:
    result = await ok_json(await generate(client, {"count": 100}))
    passwords = result["passwords"]
    assert len(passwords) == 100
    assert len(set(passwords)) == 100
    for password in passwords:
        assert_meets(password, DEFAULT_RULE)


async def test_the_users_ten_character_policy(client: Client) -> None:
    result = await ok_json(await generate(client, {**TEN_CHAR_BODY, "count": 100}))
    for password in result["passwords"]:
        assert_meets(password, TEN_CHAR_RULE)
    total = count(TEN_CHAR_POLICY)
    assert result["count_allowed"] == str(total)
    assert result["entropy_bits"] == round(math.log2(total), 1)
    assert result["strength"] == strength(total).label


@pytest.mark.parametrize(
    ("body", "policy"),
    [
        ({}, PasswordPolicy()),
        (TEN_CHAR_BODY, TEN_CHAR_POLICY),
        (
            {"length": 24, "avoid_ambiguous": True, "exclude": "abc", "include": "€",
             "symbol_set": "!#%", "min_symbols": 4},
            PasswordPolicy(length=24, avoid_ambiguous=True, exclude="abc", include="€",
                           symbol_set="!#%", min_symbols=4),
        ),
        (
            {"length": 4, "lowercase": False, "uppercase": False, "symbols": False,
             "min_lowercase": 0, "min_uppercase": 0, "min_symbols": 0, "min_digits": 4},
            PasswordPolicy(length=4, lowercase=False, uppercase=False, symbols=False,
                           min_lowercase=0, min_uppercase=0, min_symbols=0, min_digits=4),
        ),
    ],
)  # fmt: skip
async def test_count_allowed_is_the_exact_count_as_a_string(
    client: Client, body: dict[str, Any], policy: PasswordPolicy
) -> None:
    result = await ok_json(await generate(client, body))
    assert isinstance(result["count_allowed"], str)
    assert result["count_allowed"] == str(count(policy))
    assert result["entropy_bits"] == round(math.log2(count(policy)), 1)


async def test_exclusions_symbols_and_extra_characters_are_respected(client: Client) -> None:
    body = {
        "length": 24, "avoid_ambiguous": True, "exclude": "abcXYZ", "include": "€",
        "symbol_set": "!#%", "min_symbols": 4, "count": 100,
    }  # fmt: skip
    allowed = (set(LOWER + UPPER + DIGITS + "!#%€") - AMBIGUOUS) - set("abcXYZ")
    result = await ok_json(await generate(client, body))
    for password in result["passwords"]:
        assert len(password) == 24
        assert set(password) <= allowed, password
        assert sum(char in "!#%" for char in password) >= 4
    assert any("€" in password for password in result["passwords"])


async def test_four_digit_pin(client: Client) -> None:
    body = {
        "length": 4, "lowercase": False, "uppercase": False, "symbols": False,
        "min_lowercase": 0, "min_uppercase": 0, "min_symbols": 0, "min_digits": 0, "count": 20,
    }  # fmt: skip
    result = await ok_json(await generate(client, body))
    assert result["count_allowed"] == "10000"
    assert result["strength"] == "weak"
    assert all(len(p) == 4 and p.isdigit() for p in result["passwords"])


async def test_passphrase_mode_defaults(client: Client) -> None:
    result = await ok_json(await generate(client, {"mode": "passphrase", "count": 20}))
    assert len(result["passwords"]) == 20
    for passphrase in result["passwords"]:
        assert_passphrase(passphrase, 6)
    assert result["count_allowed"] == str(7776**6) == str(passphrase_count(PassphrasePolicy()))
    assert result["entropy_bits"] == round(6 * math.log2(7776), 1)


async def test_passphrase_options(client: Client) -> None:
    body = {
        "mode": "passphrase", "words": 4, "separator": ".", "capitalize": True,
        "add_digit": True, "count": 30,
    }  # fmt: skip
    result = await ok_json(await generate(client, body))
    for passphrase in result["passwords"]:
        parts = passphrase.split(".")
        assert len(parts) == 4
        assert all(part[0].isupper() for part in parts)
        assert sum(char.isdigit() for char in passphrase) == 1
        known = {word.capitalize() for word in wordlist()}
        assert all(part.rstrip(DIGITS) in known for part in parts)
    policy = PassphrasePolicy(words=4, separator=".", capitalize=True, add_digit=True)
    assert result["count_allowed"] == str(passphrase_count(policy)) == str(7776**4 * 40)


async def test_a_hyphen_separates_words_that_have_none(client: Client) -> None:
    """The most common separator: the four hyphenated words ("t-shirt") are left out of
    the list for it, so every passphrase reads one way and the count stays exact."""
    body = {"mode": "passphrase", "separator": "-", "add_digit": True, "count": 50}
    result = await ok_json(await generate(client, body))
    apart = [word for word in wordlist() if "-" not in word]
    assert len(apart) == 7772
    for passphrase in result["passwords"]:
        parts = passphrase.split("-")
        assert len(parts) == 6, passphrase
        assert all(part.rstrip(DIGITS) in apart for part in parts), passphrase
    policy = PassphrasePolicy(separator="-", add_digit=True)
    assert result["count_allowed"] == str(passphrase_count(policy)) == str(7772**6 * 60)
    assert result["entropy_bits"] == round(math.log2(7772**6 * 60), 1)


async def test_a_class_turned_off_needs_no_minimum(client: Client) -> None:
    """A minimum left out is 0 for a class that is off (it is 1 for one that is on)."""
    body = {"length": 10, "min_digits": 3, "symbols": False, "count": 20}
    result = await ok_json(await generate(client, body))
    for password in result["passwords"]:
        assert sum(char.isdigit() for char in password) >= 3, password
        assert password.isalnum(), password
    off = {"lowercase": False, "uppercase": False, "digits": False}
    result = await ok_json(await generate(client, {"length": 8, **off}))
    assert not any(char.isalnum() for char in result["passwords"][0])


async def test_the_rules_real_systems_use(client: Client) -> None:
    """chase.com-like rules: a letter of either case, a digit, no character three times in
    a row, starting with a letter, at most 2 symbols, characters from 3 classes."""
    body = {
        "length": 20, "min_lowercase": 0, "min_uppercase": 0, "min_symbols": 0,
        "require": ["lower, upper"], "max_consecutive": 2, "first_character": "letter",
        "max_symbols": 2, "min_classes": 3, "count": 100,
    }  # fmt: skip
    result = await ok_json(await generate(client, body))
    for password in result["passwords"]:
        assert len(password) == 20
        assert password[0].isalpha()
        assert any(c.isdigit() for c in password)
        assert sum(c in SYMBOLS for c in password) <= 2
        assert all(
            not a == b == c for a, b, c in zip(password, password[1:], password[2:], strict=False)
        )
        classes = (LOWER, UPPER, DIGITS, SYMBOLS)
        assert sum(any(c in chars for c in password) for chars in classes) >= 3
    policy = PasswordPolicy(
        length=20, min_lowercase=0, min_uppercase=0, min_symbols=0, require=("lower, upper",),
        max_consecutive=2, first_character="letter", max_symbols=2, min_classes=3,
    )  # fmt: skip
    assert result["count_allowed"] == str(count(policy))


async def test_no_limit_is_null_or_left_out(client: Client) -> None:
    both = [
        await ok_json(await generate(client, {"max_digits": None, "max_consecutive": None})),
        await ok_json(await generate(client, {})),
    ]
    assert both[0]["count_allowed"] == both[1]["count_allowed"]


async def test_a_passphrase_with_a_hyphen_a_digit_and_a_symbol(client: Client) -> None:
    body = {"mode": "passphrase", "separator": "-", "add_digit": True, "add_symbol": True}
    result = await ok_json(await generate(client, body))
    (phrase,) = result["passwords"]
    assert any(c.isdigit() for c in phrase)
    assert any(c in "!#$%&*+=?@^~" for c in phrase)
    assert len(phrase.split("-")) == 6


def assert_meets_chase(password: str, length: int = 20) -> None:
    """chase.com's rules in Apple's data: 8 to 32 characters, a letter, a digit, one of
    !#$%+/=@~, only those symbols, no character three times in a row."""
    assert len(password) == length, password
    assert set(password) <= set(LOWER + UPPER + DIGITS + "!#$%+/=@~"), password
    assert any(c in LOWER + UPPER for c in password), password
    assert any(c in DIGITS for c in password), password
    assert any(c in "!#$%+/=@~" for c in password), password
    assert all(
        not a == b == c for a, b, c in zip(password, password[1:], password[2:], strict=False)
    )


@pytest.mark.parametrize("site", ["chase.com", "login.chase.com", "https://www.Chase.com/x"])
async def test_a_sites_rules_by_its_domain(client: Client, site: str) -> None:
    result = await ok_json(await generate(client, {"site": site, "count": 50}))
    for password in result["passwords"]:
        assert_meets_chase(password)
    assert result["site"]["domain"] == "chase.com"
    assert result["site"]["length_range"] == [8, 32]
    assert "no character more than 2 times in a row" in result["site"]["in_words"]
    assert result["site"]["change_password_url"].startswith("https://")


async def test_fields_given_with_a_site_win(client: Client) -> None:
    result = await ok_json(await generate(client, {"site": "chase.com", "length": 12}))
    assert_meets_chase(result["passwords"][0], length=12)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"site": "example.org"}, "no rules are known for example.org"),
        ({"site": "not a domain!"}, "is not a domain name"),
        ({"site": 7}, "must be a string"),
        ({"site": "chase.com", "mode": "passphrase"}, "a site's rules are for passwords"),
    ],
)
async def test_a_site_without_rules_is_named(
    client: Client, body: dict[str, Any], message: str
) -> None:
    errors = await field_errors(await generate(client, body))
    assert set(errors) == {"site"}
    assert message in errors["site"]


async def test_passphrase_without_separator_when_capitalized(client: Client) -> None:
    body = {"mode": "passphrase", "separator": "", "capitalize": True, "words": 3}
    result = await ok_json(await generate(client, body))
    passphrase = result["passwords"][0]
    assert sum(char.isupper() for char in passphrase) == 3


async def test_json_with_a_charset_parameter_is_json(client: Client) -> None:
    response = await client.post(
        API,
        data=json.dumps({"length": 12}),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert len((await ok_json(response))["passwords"][0]) == 12


# --- no login, no CSRF token, no CORS ------------------------------------------------------


async def test_works_without_account_cookie_or_token_and_sets_no_cookie(app: Quart) -> None:
    fresh = app.test_client()
    response = await generate(fresh, {"length": 20})
    assert len((await ok_json(response))["passwords"][0]) == 20
    assert "Set-Cookie" not in response.headers


CROSS_SITE = {"Origin": "https://evil.example"}


def assert_no_cors(response: Response) -> None:
    cors = [
        name for name, _ in response.headers.items() if name.lower().startswith("access-control-")
    ]
    assert cors == []


async def test_post_from_another_origin_gets_no_cors_headers(client: Client) -> None:
    response = await generate(client, {}, headers=CROSS_SITE)
    assert response.status_code == 200
    assert_no_cors(response)


async def test_preflight_gets_no_cors_headers(client: Client) -> None:
    response = await client.options(
        API,
        headers={
            **CROSS_SITE,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )
    assert_no_cors(response)
    assert response.headers["Cache-Control"] == "no-store"
    assert not (await response.get_data())


async def test_a_cross_site_form_post_cannot_generate(client: Client) -> None:
    """What another site's page can send without a preflight is refused."""
    for content_type in ("application/x-www-form-urlencoded", "text/plain", "multipart/form-data"):
        response = await client.post(
            API, data='{"length": 12}', headers={**CROSS_SITE, "Content-Type": content_type}
        )
        assert response.status_code == 415
        assert_no_cors(response)


# --- bad input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"length": "16"}, "length", "must be a whole number"),
        ({"length": 16.0}, "length", "must be a whole number"),
        ({"length": 16.5}, "length", "must be a whole number"),
        ({"length": True}, "length", "must be a whole number"),
        ({"count": None}, "count", "must be a whole number"),
        ({"min_digits": "2"}, "min_digits", "must be a whole number"),
        ({"words": [6]}, "words", "must be a whole number"),
        ({"lowercase": 1}, "lowercase", "must be true or false"),
        ({"symbols": "false"}, "symbols", "must be true or false"),
        ({"avoid_ambiguous": None}, "avoid_ambiguous", "must be true or false"),
        ({"capitalize": "yes"}, "capitalize", "must be true or false"),
        ({"symbol_set": ["!"]}, "symbol_set", "must be a string"),
        ({"exclude": None}, "exclude", "must be a string"),
        ({"include": 7}, "include", "must be a string"),
        ({"separator": {}}, "separator", "must be a string"),
        ({"mode": 1}, "mode", "must be a string"),
        ({"symbol_set": "!" * 5000}, "symbol_set", "is too long"),
        ({"colour": "red"}, "colour", "is not a field of this API"),
        ({"password": "hunter2"}, "password", "is not a field of this API"),
        ({"mode": "pin"}, "mode", "must be 'password' or 'passphrase'"),
        ({"count": 0}, "count", "must be between 1 and 100"),
        ({"count": 101}, "count", "must be between 1 and 100"),
        ({"count": -5}, "count", "must be between 1 and 100"),
        ({"max_digits": "3"}, "max_digits", "must be a whole number or null"),
        ({"min_classes": None}, "min_classes", "must be a whole number"),
        ({"max_consecutive": 2.5}, "max_consecutive", "must be a whole number or null"),
        ({"require": "lower, upper"}, "require", "must be a list of strings"),
        ({"require": [["lower"]]}, "require", "must be a list of strings"),
        ({"require": ["digit"] * 17}, "require", "at most 16 items and 1024 characters"),
        (
            {"first_character": "digit"},
            "first_character",
            "must be 'any', 'letter' or 'alphanumeric'",
        ),
        ({"min_classes": 5}, "min_classes", "must be between 0 and 4"),
        ({"max_consecutive": 0}, "max_consecutive", "must be between 1 and 128"),
        (
            {"require": ["vowels"]},
            "require",
            "'vowels' is not a class: use lower, upper, digit or special",
        ),
        ({"max_digits": 2, "min_digits": 3}, "max_digits", "must be at least the minimum, 3"),
    ],
)
async def test_bad_types_and_values_are_named(
    client: Client, body: dict[str, Any], field: str, message: str
) -> None:
    assert await field_errors(await generate(client, body)) == {field: message}


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"length": 3}, "length", "must be between 4 and 128"),
        ({"length": 129}, "length", "must be between 4 and 128"),
        ({"length": 10**30}, "length", "must be between 4 and 128"),
        ({"length": 4, "min_digits": 2}, "length", "the minimums add up to 5, more than the"),
        (
            {"length": 10, "min_lowercase": 4, "min_uppercase": 4, "min_digits": 2,
             "min_symbols": 2},
            "length",
            "the minimums add up to 12, more than the length",
        ),
        ({"min_digits": -1}, "min_digits", "must be between 0 and 128"),
        ({"min_symbols": 129}, "min_symbols", "must be between 0 and 128"),
        (
            {"uppercase": False, "min_uppercase": 2},
            "min_uppercase",
            "uppercase are turned off, so the minimum must be 0",
        ),
        (
            {"exclude": DIGITS},
            "digits",
            "every one of the digits is excluded; turn digits off or allow some",
        ),
        (
            {"avoid_ambiguous": True, "symbol_set": "!|`"},
            "symbols",
            "every one of the symbols is excluded; turn symbols off or allow some",
        ),
        (
            {"lowercase": False, "uppercase": False, "digits": False, "symbols": False,
             "min_lowercase": 0, "min_uppercase": 0, "min_digits": 0, "min_symbols": 0},
            "lowercase",
            "no characters are left: turn on a class or include some",
        ),
        (
            {"lowercase": False, "uppercase": False, "digits": False, "symbols": False,
             "min_lowercase": 0, "min_uppercase": 0, "min_digits": 0, "min_symbols": 0,
             "include": "a", "exclude": "a"},
            "lowercase",
            "no characters are left: turn on a class or include some",
        ),
        ({"symbol_set": "! ?"}, "symbol_set", "' ' is a space or an invisible character"),
        ({"exclude": "a\tb"}, "exclude", "'\\t' is a space or an invisible character"),
        ({"include": "x\u200by"}, "include", "'\\u200b' is a space or an invisible character"),
        ({"include": "\u00a0"}, "include", "is a space or an invisible character"),
        ({"symbol_set": "!a?"}, "symbol_set", "letters and digits have their own classes"),
        ({"symbol_set": "!5"}, "symbol_set", "letters and digits have their own classes"),
        ({"exclude": "x" * 257}, "exclude", "at most 256 characters"),
        ({"mode": "passphrase", "words": 2}, "words", "must be between 3 and 20"),
        ({"mode": "passphrase", "words": 21}, "words", "must be between 3 and 20"),
        ({"mode": "passphrase", "separator": "a"}, "separator", "letters and digits cannot"),
        ({"mode": "passphrase", "separator": "7"}, "separator", "letters and digits cannot"),
        ({"symbols": False, "min_symbols": 1}, "min_symbols", "the minimum must be 0"),
        ({"mode": "passphrase", "separator": "______"}, "separator", "at most 5 characters"),
        ({"mode": "passphrase", "separator": "\n"}, "separator", "invisible characters"),
        ({"mode": "passphrase", "separator": ""}, "separator", "turn on capitalize"),
    ],
)  # fmt: skip
async def test_every_policy_problem_is_named(
    client: Client, body: dict[str, Any], field: str, message: str
) -> None:
    fields = await field_errors(await generate(client, body))
    assert list(fields) == [field]
    assert message in fields[field]


async def test_each_bad_field_is_named_at_once(client: Client) -> None:
    body = {"length": "x", "digits": "no", "colour": "red", "mode": "pin"}
    fields = await field_errors(await generate(client, body))
    assert set(fields) == {"length", "digits", "colour", "mode"}


async def test_several_policy_problems_are_named_at_once(client: Client) -> None:
    body = {"length": 200, "symbols": False, "min_symbols": 2, "exclude": "a b", "symbol_set": "!x"}
    fields = await field_errors(await generate(client, body))
    assert set(fields) == {"length", "min_symbols", "exclude", "symbol_set"}


@pytest.mark.parametrize("document", [[], [1, 2], "length", 16, True])
async def test_a_body_that_is_not_an_object_is_refused(client: Client, document: object) -> None:
    fields = await field_errors(await generate(client, document))
    assert fields == {"body": "must be a JSON object"}


async def test_json_null_body_is_refused(client: Client) -> None:
    response = await client.post(API, data="null", headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.headers["Cache-Control"] == "no-store"


async def json_error(response: Response, status: int) -> str:
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"
    body = await response.get_json()
    assert body["error"]["status"] == status
    assert "passwords" not in body
    message: str = body["error"]["message"]
    return message


@pytest.mark.parametrize(
    "headers",
    [{}, {"Content-Type": "text/plain"}, {"Content-Type": "application/x-www-form-urlencoded"}],
)
async def test_a_body_that_is_not_json_is_415(client: Client, headers: dict[str, str]) -> None:
    response = await client.post(API, data='{"length": 12}', headers=headers)
    assert "JSON" in await json_error(response, 415)


async def test_a_form_body_is_415(client: Client) -> None:
    response = await client.post(API, form={"length": "12"})
    await json_error(response, 415)


@pytest.mark.parametrize("text", ["{bad", '{"length": 12', "", "{'length': 12}", "\xff"])
async def test_invalid_json_is_400(client: Client, text: str) -> None:
    response = await client.post(API, data=text, headers={"Content-Type": "application/json"})
    assert "not valid JSON" in await json_error(response, 400)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"[" * 100_000, id="100,000 nested arrays"),  # RecursionError: a 500
        pytest.param(b'{"a":' * 50_000, id="50,000 nested objects"),
        pytest.param(b"\xff", id="a byte that is not UTF-8"),
        pytest.param(b'{"length": 12, "exclude": "\xff"}', id="not UTF-8 inside a string"),
    ],
)
async def test_a_body_no_parser_takes_is_400(client: Client, body: bytes) -> None:
    response = await client.post(API, data=body, headers={"Content-Type": "application/json"})
    assert "not valid JSON" in await json_error(response, 400)


async def test_a_body_over_the_limit_is_413(client: Client) -> None:
    body = json.dumps({"exclude": "x" * (2 * 1024 * 1024)})
    response = await client.post(API, data=body, headers={"Content-Type": "application/json"})
    await json_error(response, 413)


async def test_get_is_405_json(client: Client) -> None:
    response = await client.get(API)
    assert response.status_code == 405
    assert response.mimetype == "application/json"
    assert response.headers["Cache-Control"] == "no-store"


# --- rate limit ----------------------------------------------------------------------------


async def test_120_a_minute_per_address_then_429_json(client: Client) -> None:
    here, elsewhere = from_address("192.0.2.10"), from_address("192.0.2.11")
    for _ in range(120):
        assert (await generate(client, {}, **here)).status_code == 200
    response = await generate(client, {}, **here)
    message = await json_error(response, 429)
    assert "Too many" in message
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert (await generate(client, {}, **elsewhere)).status_code == 200


async def test_forwarded_headers_do_not_dodge_the_limit(make_app: Callable[..., Quart]) -> None:
    spec = RateLimitSpec(2, timedelta(minutes=1))
    async with make_app(rate_limit_passwords_api=spec).test_app() as test_app:
        client = test_app.test_client()
        statuses = [
            (await generate(client, {}, headers={"X-Forwarded-For": f"198.51.100.{n}"})).status_code
            for n in range(3)
        ]
    assert statuses == [200, 200, 429]


async def test_the_setting_changes_the_limit(make_app: Callable[..., Quart]) -> None:
    spec = RateLimitSpec(3, timedelta(hours=1))
    async with make_app(rate_limit_passwords_api=spec).test_app() as test_app:
        client = test_app.test_client()
        statuses = [(await generate(client, {})).status_code for _ in range(4)]
        response = await generate(client, {})
        # The page is not limited by the API's budget.
        page = await client.get("/passwords")
    assert statuses == [200, 200, 200, 429]
    assert int(response.headers["Retry-After"]) > 60
    assert page.status_code == 200
