"""A site's own words about passwords read into a proposed policy, every clause accounted for."""

from __future__ import annotations

import random
import string
from dataclasses import replace
from typing import Any

import pytest

from quartapp.passwords.generator import DEFAULT_SYMBOLS, PasswordPolicy, PolicyError
from quartapp.passwords.sentences import MAX_SENTENCE, ProposedRules, parse_sentence

# What every proposal starts from: the preferred length, every class allowed, none required.
BASE = PasswordPolicy(length=20, min_lowercase=0, min_uppercase=0, min_digits=0, min_symbols=0)
LETTER = "lower, upper"

# (source, text as the site words it, (min_length, max_length), fields that differ from BASE).
# Written from memory of each site's registration or password-change page.
PHRASINGS: list[tuple[str, str, tuple[int | None, int | None], dict[str, Any]]] = [
    (
        "online_banking_alphanumeric",
        "Your password must be 6-20 alphanumeric characters.",
        (6, 20),
        {"symbols": False},
    ),
    (
        "student_portal_alphanumeric",
        "Password must be at least 8 alphanumeric characters.",
        (8, None),
        {"symbols": False},
    ),
    (
        "task_example",
        "Passwords must be 8–16 characters and include at least one uppercase letter, one "
        "number and one special character (!@#$%)",
        (8, 16),
        {
            "length": 16,
            "min_uppercase": 1,
            "min_digits": 1,
            "min_symbols": 1,
            "symbol_set": "!@#$%",
        },
    ),
    (
        "microsoft_account",
        "Passwords must have at least 8 characters and contain at least two of the following: "
        "uppercase letters, lowercase letters, numbers, and symbols.",
        (8, None),
        {"min_classes": 2},
    ),
    (
        "microsoft_365",
        "Passwords must be 8-256 characters, and must combine at least three of the following: "
        "uppercase letters, lowercase letters, numbers, and symbols.",
        (8, 256),
        {"min_classes": 3},
    ),
    (
        "google",
        "Use 8 or more characters with a mix of letters, numbers & symbols",
        (8, None),
        {"require": (LETTER,), "min_digits": 1, "min_symbols": 1},
    ),
    (
        "google_short",
        "Use 8 characters or more for your password",
        (8, None),
        {},
    ),
    (
        "apple_id_list",
        "Your password must have:\n• 8 or more characters\n• Upper & lowercase letters\n"
        "• At least one number",
        (8, None),
        {"min_uppercase": 1, "min_lowercase": 1, "min_digits": 1},
    ),
    (
        "apple_id_sentence",
        "Your password must have 8 or more characters, upper & lowercase letters, and at least "
        "one number. It cannot contain spaces, the same character 3 times in a row, your Apple "
        "ID, or a password you used in the past year.",
        (8, None),
        {"min_uppercase": 1, "min_lowercase": 1, "min_digits": 1, "max_consecutive": 2},
    ),
    (
        "amazon",
        "Passwords must be at least 6 characters.",
        (6, None),
        {},
    ),
    (
        "chase",
        "Your password must be 8-32 characters long, include at least one letter and one "
        "number, and may not include spaces or the following special characters: < > ' \" &",
        (8, 32),
        {"require": (LETTER,), "min_digits": 1, "exclude": "<>'\"&"},
    ),
    (
        "bank_of_america",
        "Passcode must be 8 - 20 characters; must include at least 1 number and 1 letter; can "
        "contain some special characters (@ # * ( ) + = { } / ? ~ ; , . - _); cannot contain "
        "spaces or these special characters: $ < > & ^ ! [ ]",
        (8, 20),
        {"require": (LETTER,), "min_digits": 1, "symbol_set": "@#*()+={}/?~;,.-_"},
    ),
    (
        "wells_fargo",
        "Passwords must: Be 8 - 32 characters; Contain at least 1 number and 1 letter; Not "
        "contain your username; Not contain the following special characters: ' \" < > & ; ( )",
        (8, 32),
        {"require": (LETTER,), "min_digits": 1, "exclude": "'\"<>&;()"},
    ),
    (
        "capital_one",
        "Passwords must be 8-32 characters long, contain at least one letter and one number, "
        "and cannot contain your username, spaces, or these special characters: ~ ` ' \" < > &",
        (8, 32),
        {"require": (LETTER,), "min_digits": 1, "exclude": "~`'\"<>&"},
    ),
    (
        "us_bank",
        "Your password must be 8-24 characters, contain at least one letter and one number, and "
        "have no more than 2 identical characters in a row.",
        (8, 24),
        {"require": (LETTER,), "min_digits": 1, "max_consecutive": 2},
    ),
    (
        "citi",
        "Passwords are case sensitive and must be 6 to 20 characters, with at least one letter "
        "and one number.",
        (6, 20),
        {"require": (LETTER,), "min_digits": 1},
    ),
    (
        "discover",
        "Password must be 8 to 32 characters and must include at least one letter and one "
        "number. It cannot match your user ID.",
        (8, 32),
        {"require": (LETTER,), "min_digits": 1},
    ),
    (
        "paypal",
        "Your password must be 8-20 characters long, include at least 1 number or symbol "
        "(like !@#$%^), no spaces.",
        (8, 20),
        {"require": ("digit, special",), "symbol_set": "!@#$%^"},
    ),
    (
        "active_directory",
        "Passwords must meet complexity requirements:\n"
        "Not contain the user's account name or parts of the user's full name that exceed two "
        "consecutive characters\n"
        "Be at least six characters in length\n"
        "Contain characters from three of the following four categories:\n"
        "English uppercase characters (A through Z)\n"
        "English lowercase characters (a through z)\n"
        "Base 10 digits (0 through 9)\n"
        "Non-alphabetic characters (for example, !, $, #, %)",
        (6, None),
        {"min_classes": 3, "symbol_set": "!$#%"},
    ),
    (
        "aws_iam",
        "Minimum password length is 8 characters. Require at least one uppercase letter from "
        "Latin alphabet (A-Z). Require at least one lowercase letter from Latin alphabet (a-z). "
        "Require at least one number. Require at least one non-alphanumeric character "
        "(! @ # $ % ^ & * ( ) _ + - = [ ] { } | ')",
        (8, None),
        {
            "min_uppercase": 1,
            "min_lowercase": 1,
            "min_digits": 1,
            "min_symbols": 1,
            "symbol_set": "!@#$%^&*()_+-=[]{}|'",
        },
    ),
    (
        "azure_ad",
        "Passwords must be between 8 and 256 characters and must contain characters from three "
        "of the following four categories: uppercase characters, lowercase characters, numbers "
        "(0-9), symbols (@ # $ % ^ & * - _ ! + = [ ] { } | \\ : ' , . ? / ` ~ \" ( ) ; < >).",
        (8, 256),
        {"min_classes": 3, "symbol_set": "@#$%^&*-_!+=[]{}|\\:',.?/`~\"();<>"},
    ),
    (
        "oracle_database",
        "Passwords must be between 8 and 30 characters long, must begin with a letter, must "
        "contain at least one digit, and can only contain alphanumeric characters and the "
        "underscore (_), dollar sign ($) and pound sign (#).",
        (8, 30),
        {"first_character": "letter", "min_digits": 1, "symbol_set": "_$#"},
    ),
    (
        "sap",
        "Passwords must be at least 8 characters long, contain at least one digit, one uppercase "
        "letter, one lowercase letter and one special character, and must not begin with '!' "
        "or '?'.",
        (8, None),
        {
            "min_digits": 1,
            "min_uppercase": 1,
            "min_lowercase": 1,
            "min_symbols": 1,
            "first_character": "alphanumeric",
        },
    ),
    (
        "salesforce_length",
        "Your password must have at least: 8 characters, 1 letter(s), 1 number(s)",
        (8, None),
        {"require": (LETTER,), "min_digits": 1},
    ),
    (
        "salesforce_complexity",
        "Must mix alpha, numeric, and special characters",
        (None, None),
        {"require": (LETTER,), "min_digits": 1, "min_symbols": 1},
    ),
    (
        "facebook",
        "Your password must be at least 6 characters and a combination of numbers, letters and "
        "punctuation marks (like ! and &).",
        (6, None),
        {"min_digits": 1, "require": (LETTER,), "min_symbols": 1, "symbol_set": "!&"},
    ),
    (
        "linkedin",
        "Password must be 6 characters or more.",
        (6, None),
        {},
    ),
    (
        "netflix",
        "Your password must contain between 4 and 60 characters.",
        (4, 60),
        {},
    ),
    (
        "instagram",
        "Create a password at least 6 characters long.",
        (6, None),
        {},
    ),
    (
        "twitter",
        "Your password needs to be at least 8 characters.",
        (8, None),
        {},
    ),
    (
        "spotify",
        "Your password must contain at least:\n1 letter\n1 number or special character "
        "(example: # ? ! &)\n10 characters",
        (10, None),
        {"require": (LETTER, "digit, special"), "symbol_set": "#?!&"},
    ),
    (
        "github",
        "Password should be at least 15 characters OR at least 8 characters including a number "
        "and a lowercase letter.",
        (15, None),
        {"min_digits": 1, "min_lowercase": 1},
    ),
    (
        "login_gov",
        "Your password must be 12 characters or longer and not be a commonly used password.",
        (12, None),
        {},
    ),
    (
        "irs",
        "Passwords must: Be 8-32 characters long; Contain at least one uppercase letter, one "
        "lowercase letter, one number, and one special character (for example, !@#$%&*+-_)",
        (8, 32),
        {
            "min_uppercase": 1,
            "min_lowercase": 1,
            "min_digits": 1,
            "min_symbols": 1,
            "symbol_set": "!@#$%&*+-_",
        },
    ),
    (
        "ssa_gov",
        "Your password must be 8 to 20 characters and include at least one uppercase letter, "
        "one lowercase letter, one number and one symbol. It cannot contain spaces.",
        (8, 20),
        {"min_uppercase": 1, "min_lowercase": 1, "min_digits": 1, "min_symbols": 1},
    ),
    (
        "healthcare_gov",
        "Your password must be 8-20 characters, with at least 1 uppercase letter, 1 lowercase "
        "letter, and 1 number. It can't contain your username.",
        (8, 20),
        {"min_uppercase": 1, "min_lowercase": 1, "min_digits": 1},
    ),
    (
        "student_aid",
        "Your password must be between 8 and 30 characters, contain at least one number, one "
        "uppercase letter, one lowercase letter and one special character (! @ # $ % ^ & *).",
        (8, 30),
        {
            "min_digits": 1,
            "min_uppercase": 1,
            "min_lowercase": 1,
            "min_symbols": 1,
            "symbol_set": "!@#$%^&*",
        },
    ),
    (
        "okta",
        "At least 8 characters, a lowercase letter, an uppercase letter, a number, no parts of "
        "your username.",
        (8, None),
        {"min_lowercase": 1, "min_uppercase": 1, "min_digits": 1},
    ),
    (
        "university_netid",
        "Passwords must be 8-64 characters and contain 3 of the following 4 character types: "
        "uppercase letters, lowercase letters, numbers, special characters. Must not contain "
        "your NetID.",
        (8, 64),
        {"min_classes": 3},
    ),
    (
        "harvard_key",
        "Your password must be between 10 and 100 characters, contain at least 3 character "
        "types (uppercase letters, lowercase letters, numbers, special characters), and must "
        "not contain your name.",
        (10, 100),
        {"min_classes": 3},
    ),
    (
        "mit_kerberos",
        "Passwords must be at least 8 characters long and must contain characters from at "
        "least 2 of the following categories: letters, numbers, symbols.",
        (8, None),
        {"min_classes": 2},
    ),
    (
        "cisco",
        "The password must be at least 8 characters and must not contain more than three "
        "consecutive identical characters.",
        (8, None),
        {"max_consecutive": 3},
    ),
    (
        "ibm_i",
        "Passwords must begin with a letter, may not contain repeating characters and must be "
        "no more than 10 characters.",
        (None, 10),
        {"length": 10, "first_character": "letter", "max_consecutive": 1},
    ),
    (
        "adobe",
        "Must be at least 8 characters, with at least 1 number, 1 lowercase letter, and 1 "
        "uppercase letter",
        (8, None),
        {"min_digits": 1, "min_lowercase": 1, "min_uppercase": 1},
    ),
    (
        "workday",
        "Password must contain at least one special character from the following: "
        "! # $ % - _ = + < >",
        (None, None),
        {"min_symbols": 1, "symbol_set": "!#$%-_=+<>"},
    ),
    (
        "zoom",
        "Have at least 8 (eight) characters\nHave at least 1 (one) letter\n"
        "Have at least 1 (one) number\nInclude both Upper case and Lower case characters",
        (8, None),
        {"min_digits": 1, "min_uppercase": 1, "min_lowercase": 1},
    ),
    (
        "wordpress",
        "Hint: The password should be at least twelve characters long. To make it stronger, use "
        'upper and lower case letters, numbers, and symbols like ! " ? $ % ^ & ).',
        (12, None),
        {
            "min_uppercase": 1,
            "min_lowercase": 1,
            "min_digits": 1,
            "min_symbols": 1,
            "symbol_set": '!"?$%^&)',
        },
    ),
    (
        "legacy_bank",
        "Your password must be 6 to 8 characters and must be alphanumeric.",
        (6, 8),
        {"length": 8, "symbols": False},
    ),
    (
        "credit_union",
        "Password must be at least 8 characters and contain only letters and numbers.",
        (8, None),
        {"symbols": False},
    ),
    (
        "retailer_no_symbols",
        "Passwords must be 6-15 characters, contain at least 1 number, and may not contain "
        "symbols.",
        (6, 15),
        {"length": 15, "min_digits": 1, "symbols": False},
    ),
    (
        "school_portal",
        "Password must not start with a number, and must be a minimum of 12 characters.",
        (12, None),
        {"first_character": "letter"},
    ),
]


@pytest.mark.parametrize(
    ("text", "length_range", "changes"),
    [pytest.param(text, span, changes, id=source) for source, text, span, changes in PHRASINGS],
)
def test_real_world_phrasings(
    text: str, length_range: tuple[int | None, int | None], changes: dict[str, Any]
) -> None:
    proposed = parse_sentence(text)
    assert proposed.policy == replace(BASE, **changes)
    assert (proposed.min_length, proposed.max_length) == length_range
    assert proposed.understood


def test_phrasings_are_from_distinct_sources() -> None:
    sources = [source for source, *_ in PHRASINGS]
    assert len(sources) == len(set(sources)) >= 40


# Lengths ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "preferred", "length", "length_range"),
    [
        ("8-16 characters", 20, 16, (8, 16)),
        ("8-16 characters", 12, 12, (8, 16)),
        ("8 to 16 characters", 4, 8, (8, 16)),
        ("between 8 and 64 characters", 20, 20, (8, 64)),
        ("at least 8 characters", 20, 20, (8, None)),
        ("a minimum of 24 characters", 20, 24, (24, None)),
        ("minimum of 12 characters", 20, 20, (12, None)),
        ("no more than 10 characters", 20, 10, (None, 10)),
        ("maximum length 32", 20, 20, (None, 32)),
        ("up to 64 characters", 30, 30, (None, 64)),
        ("must be 8 characters long", 20, 8, (8, 8)),
        ("must be longer than 7 characters", 20, 20, (8, None)),
        ("fewer than 13 characters", 20, 12, (None, 12)),
        ("Passwords must be 8—16 characters", 20, 16, (8, 16)),
        ("length: 10 - 12", 20, 12, (10, 12)),
        ("at least 300 characters", 20, 128, (300, None)),
    ],
)
def test_length(
    text: str, preferred: int, length: int, length_range: tuple[int | None, int | None]
) -> None:
    proposed = parse_sentence(text, preferred_length=preferred)
    assert proposed.policy.length == length
    assert (proposed.min_length, proposed.max_length) == length_range


def test_a_length_beyond_the_generator_is_reported() -> None:
    proposed = parse_sentence("at least 300 characters")
    assert proposed.not_understood == (
        "at least 300 characters (passwords here are 4 to 128 characters)",
    )


def test_a_range_is_said_in_words() -> None:
    assert parse_sentence("8–16 characters").understood == ("8 to 16 characters",)


# Classes ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "changes"),
    [
        ("must contain a letter", {"require": (LETTER,)}),
        ("at least two letters", {"require": (LETTER, LETTER)}),
        ("must include an uppercase or lowercase letter", {"require": (LETTER,)}),
        ("must contain letters and numbers", {"require": (LETTER,), "min_digits": 1}),
        (
            "at least one capital letter and one small letter",
            {"min_uppercase": 1, "min_lowercase": 1},
        ),
        ("at least 2 numeric characters", {"min_digits": 2}),
        ("one punctuation character", {"min_symbols": 1}),
        ("at least one non-alphanumeric character", {"min_symbols": 1}),
        ("at least 1 number or special character", {"require": ("digit, special",)}),
        ("a letter and an uppercase letter", {"min_uppercase": 1}),  # the letter is covered
        ("letters and numbers only", {"symbols": False}),
        ("no special characters", {"symbols": False}),
        ("Special characters are not allowed.", {"symbols": False}),
        ("may not contain symbols", {"symbols": False}),
        ("Must not contain letters", {"lowercase": False, "uppercase": False}),
        ("no more than 2 digits", {"max_digits": 2}),
        ("at most 3 special characters", {"max_symbols": 3}),
        (
            "one of the following: ! @ # $",
            {"min_symbols": 1, "symbol_set": "!@#$"},
        ),
        (
            "Only the following special characters are allowed: ~ ! @ # $",
            {"symbol_set": "~!@#$"},
        ),
        ("must not contain < or >", {"exclude": "<>"}),
        (
            "at least one special character (!@#$%), but not < or >",
            {"min_symbols": 1, "symbol_set": "!@#$%"},
        ),
        ("Spaces are not allowed", {}),
    ],
)
def test_classes(text: str, changes: dict[str, Any]) -> None:
    assert parse_sentence(text).policy == replace(BASE, **changes)


@pytest.mark.parametrize(
    ("text", "most"),
    [
        ("no more than 2 repeated characters", 2),
        ("cannot contain more than 2 identical characters in a row", 2),
        ("no more than two consecutive identical characters", 2),
        ("may not contain repeating characters", 1),
        ("no consecutive identical characters", 1),
        ("cannot contain 3 or more repeating characters", 2),
        ("the same character may not appear more than 4 times in a row", 4),
        ("It cannot contain the same character 3 times in a row", 2),
    ],
)
def test_repeats(text: str, most: int) -> None:
    assert parse_sentence(text).policy.max_consecutive == most


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("must start with a letter", "letter"),
        ("must begin with a letter", "letter"),
        ("The first character must be a letter", "letter"),
        ("must not start with a number", "letter"),
        ("cannot begin with a number or special character", "letter"),
        ("must not start with a special character", "alphanumeric"),
        ("must start with a letter or number", "alphanumeric"),
    ],
)
def test_first_character(text: str, first: str) -> None:
    assert parse_sentence(text).policy.first_character == first


@pytest.mark.parametrize(
    "text",
    [
        "contain characters from three of the following four categories",
        "at least three of the four character types",
        "3 of the following 4: uppercase, lowercase, numbers, symbols",
        "use at least 3 different types of characters",
    ],
)
def test_kinds_to_choose_from(text: str) -> None:
    assert parse_sentence(text).policy == replace(BASE, min_classes=3)


def test_a_class_asked_for_on_its_own_beside_the_kinds_is_required() -> None:
    policy = parse_sentence(
        "Use characters from at least 3 of the 4 categories, including at least one number"
    ).policy
    assert (policy.min_classes, policy.min_digits) == (3, 1)


def test_a_lead_line_applies_to_the_list_under_it() -> None:
    proposed = parse_sentence(
        "Your password must not contain:\n• spaces\n• your username\n"
        "• more than 2 repeated characters\n• special characters"
    )
    assert proposed.policy == replace(BASE, symbols=False, max_consecutive=2)
    assert proposed.not_understood == ()


# What the user is told ---------------------------------------------------------------


def test_understood_in_plain_words() -> None:
    proposed = parse_sentence(
        "Passwords must be 8–16 characters and include at least one uppercase letter, one "
        "number and one special character (!@#$%)"
    )
    assert proposed.understood == (
        "8 to 16 characters",
        "at least 1 uppercase letter",
        "at least 1 digit",
        "at least 1 symbol",
        "symbols only from !@#$%",
    )
    assert proposed.not_understood == ()


def test_personal_data_does_not_apply() -> None:
    proposed = parse_sentence("Passwords cannot contain your username or email address.")
    assert proposed.understood == (
        "not your username or email address: does not apply to random passwords",
    )
    assert proposed.policy == BASE


def test_a_clause_not_understood_is_reported_as_written() -> None:
    proposed = parse_sentence(
        "Password must be changed every 90 days. Must be at least 10 characters."
    )
    assert proposed.not_understood == ("Password must be changed every 90 days",)
    assert proposed.min_length == 10


def test_part_of_a_clause_not_understood_is_reported() -> None:
    proposed = parse_sentence(
        "At least 8 characters, one number, and no sequential characters such as abc"
    )
    assert proposed.min_length == 8
    assert proposed.policy.min_digits == 1
    assert proposed.not_understood == ("no sequential characters such as abc",)


def test_unicode_quotes_and_dashes() -> None:
    proposed = parse_sentence("Passwords must be 8–12 characters and can’t contain “<” or ‘>’")
    assert proposed.policy == replace(BASE, length=12, exclude="<>")


def test_bullets_and_numbered_lists() -> None:
    proposed = parse_sentence(
        "Password requirements:\n1. At least 8 characters\n2. A lowercase letter\n"
        "3. An uppercase letter\n* A number\n- No parts of your username"
    )
    assert proposed.policy == replace(BASE, min_lowercase=1, min_uppercase=1, min_digits=1)
    assert proposed.not_understood == ()


def test_default_symbols_stay_when_no_list_is_given() -> None:
    policy = parse_sentence("at least one symbol").policy
    assert (policy.symbols, policy.min_symbols, policy.symbol_set) == (True, 1, DEFAULT_SYMBOLS)


# Errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "   \n\t "])
def test_empty_text_is_refused(text: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_sentence(text)
    assert set(caught.value.errors) == {"sentence"}


def test_text_too_long_is_refused() -> None:
    with pytest.raises(PolicyError) as caught:
        parse_sentence("at least 8 characters. " * (MAX_SENTENCE // 20))
    assert "2,000" in caught.value.errors["sentence"]
    assert parse_sentence("a" * 10 + " at least 8 characters".ljust(MAX_SENTENCE - 10))


@pytest.mark.parametrize(
    "text", ["Hello world", "Password expires every 90 days.", "!!!", "Your password:"]
)
def test_nothing_understood_is_refused(text: str) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_sentence(text)
    assert set(caught.value.errors) == {"sentence"}


@pytest.mark.parametrize("preferred", [3, 129])
def test_preferred_length_must_be_usable(preferred: int) -> None:
    with pytest.raises(PolicyError) as caught:
        parse_sentence("at least 8 characters", preferred_length=preferred)
    assert set(caught.value.errors) == {"preferred_length"}


# Junk -----------------------------------------------------------------------------------

VOCABULARY = (
    "must be at least no more than between and or not cannot may only contain include one two "
    "three a an of the following characters character letters uppercase lowercase upper lower "
    "case number numbers digit special symbol symbols alphanumeric non-alphanumeric start "
    "begin with first repeated identical consecutive in a row times spaces username email "
    "length minimum maximum categories types e.g. such as like only allowed are is 0 1 2 3 8 "
    "16 128 9999 12345 - – : ; , . ( ) [ ] ! @ # $ % ^ & * ' \" A-Z a-z 0-9 • \n"
)


def test_junk_never_crashes() -> None:
    chance = random.Random(20240611)  # fixed: a failure can be replayed
    for _ in range(400):
        words = chance.choices(VOCABULARY.split(" "), k=chance.randint(1, 30))
        if chance.random() < 0.2:
            words.append("".join(chance.choices(string.printable, k=chance.randint(1, 20))))
        text = " ".join(words) if chance.random() < 0.7 else "".join(words)
        try:
            proposed = parse_sentence(text)
        except PolicyError as error:
            refused = error.errors
        else:
            refused = {"sentence": ""}
            assert isinstance(proposed, ProposedRules), text
            assert isinstance(proposed.policy, PasswordPolicy), text
            assert 4 <= proposed.policy.length <= 128, text
            assert proposed.understood, text
        assert set(refused) == {"sentence"}, text
