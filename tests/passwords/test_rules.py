"""Apple's ``passwordrules`` read exactly into a policy, or refused with the reason."""

from __future__ import annotations

import html
import itertools
import re
import string
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from quartapp.passwords.generator import (
    DEFAULT_SYMBOLS,
    PasswordPolicy,
    PolicyError,
    compile_policy,
    generate,
)
from quartapp.passwords.rules import (
    SPECIAL,
    ImportedRules,
    describe_rules,
    import_rules,
    set_characters,
)
from tests.helpers import page_text
from tests.passwords.test_page import (
    assert_no_store,
    browser_form,
    error_shown,
    load,
    shown_password,
)

EXAMPLE = "minlength: 10; required: lower; required: upper; required: digit; allowed: [-_]"
LOWER, UPPER, DIGITS = string.ascii_lowercase, string.ascii_uppercase, string.digits
PUNCTUATION = string.punctuation
SPACE_NOTE = "The rules allow a space; the generator never uses one."


def free(**changes: Any) -> PasswordPolicy:
    """The policy of printable ASCII with no minimums, 20 long, then ``changes``."""
    start = PasswordPolicy(length=20, min_lowercase=0, min_uppercase=0, min_digits=0, min_symbols=0)
    return replace(start, **changes)


# --- An independent reading of well-formed rules, to check passwords against -----------

_RULE = re.compile(r"\s*([A-Za-z-]+)\s*:\s*((?:\[[^\]]*\]\]?|[^;\[])*)\s*(?:;|$)")
_ITEM = re.compile(r"\s*(\[[^\]]*\]\]?|[A-Za-z-]+)\s*(?:,|$)")
_NAMED = {
    "upper": UPPER,
    "lower": LOWER,
    "digit": DIGITS,
    "special": " " + PUNCTUATION,
    "ascii-printable": "".join(map(chr, range(32, 127))),
    "unicode": "".join(map(chr, range(32, 127))),
}


@dataclass(frozen=True)
class Expected:
    """What a password must be, read from the rules by this test, not by rules.py."""

    min_length: int
    max_length: int
    allowed: frozenset[str]
    required: tuple[frozenset[str], ...]
    max_consecutive: int | None


def _chars(item: str) -> set[str]:
    if item.startswith("["):
        inner = item[1:-2] + "]" if item.endswith("]]") else item[1:-1]
        return {c for c in inner if " " <= c <= "~"}
    return set(_NAMED[item.lower()])


def expected_from(text: str) -> Expected:
    lengths: dict[str, list[int]] = {"minlength": [], "maxlength": [], "max-consecutive": []}
    required: list[frozenset[str]] = []
    allowed: set[str] = set()
    position = 0
    while text[position:].strip():
        match = _RULE.match(text, position)
        assert match is not None, text[position:]
        position = match.end()
        name, value = match.group(1).lower(), match.group(2).strip()
        if name in lengths:
            lengths[name].append(int(value))
            continue
        items = [m.group(1) for m in _ITEM.finditer(value)]
        chars = set().union(*(_chars(item) for item in items))
        allowed |= chars
        if name == "required":
            required.append(frozenset(chars))
    return Expected(
        max(lengths["minlength"], default=0),
        min(lengths["maxlength"], default=10**6),
        frozenset(allowed or _NAMED["ascii-printable"]),
        tuple(required),
        min(lengths["max-consecutive"], default=None),
    )


def assert_meets_rules(password: str, expected: Expected) -> None:
    assert expected.min_length <= len(password) <= expected.max_length, password
    assert set(password) <= expected.allowed - {" "}, password
    # A set required n times needs n characters from it; each set is a condition of its
    # own (a character may meet several).
    for chars, times in Counter(expected.required).items():
        assert sum(c in chars for c in password) >= times, (password, chars)
    if expected.max_consecutive is not None:
        longest = max(len(list(run)) for _, run in itertools.groupby(password))
        assert longest <= expected.max_consecutive, password


def test_the_independent_reading_reads_brackets_as_apple_does() -> None:
    expected = expected_from("required: [-;]]; allowed: [ab], lower; minlength: 3")
    assert expected.required == (frozenset("-;]"),)
    assert expected.allowed == frozenset("-;]" + LOWER)
    with pytest.raises(AssertionError):
        assert_meets_rules("abc", expected)
    assert_meets_rules("a]c", expected)


# --- Rules into policies ---------------------------------------------------------------


def test_the_example() -> None:
    imported = import_rules(EXAMPLE)
    assert imported == ImportedRules(
        PasswordPolicy(length=20, min_symbols=0, symbol_set="-_"), (), 10, None
    )
    assert imported.length_range == (10, 128)
    for _ in range(200):
        assert_meets_rules(generate(imported.policy), expected_from(EXAMPLE))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # A class required is its minimum, even when it is all that is allowed.
        (
            "required: special",
            free(lowercase=False, uppercase=False, digits=False, min_symbols=1),
        ),
        ("allowed: ascii-printable", free()),
        ("minlength: 8", free()),  # no classes: ascii-printable
        ("minlength: 24", free(length=24)),
        ("maxlength: 12", free(length=12)),
        ("minlength: 6; maxlength: 6", free(length=6)),
        ("minlength: 8; maxlength: 64", free()),
        (
            "required: digit; maxlength: 4",
            free(length=4, lowercase=False, uppercase=False, symbols=False, min_digits=1),
        ),
        (
            "required: digit; allowed: [!]; maxlength: 4",
            free(length=4, lowercase=False, uppercase=False, symbol_set="!", min_digits=1),
        ),
        # The required set is the only symbols allowed: a minimum of symbols.
        (
            "required: upper; required: [-;]]",
            free(lowercase=False, digits=False, symbol_set="-;]", min_uppercase=1, min_symbols=1),
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
            "allowed: [abc]",
            free(lowercase=False, uppercase=False, digits=False, symbols=False, include="abc"),
        ),
        ("allowed: lower, upper, digit", free(symbols=False)),
        (
            "MinLength: 20; REQUIRED: Digit; allowed: Lower",
            free(uppercase=False, symbols=False, min_digits=1),
        ),
        (
            "required: lower; required: lower; required: lower; minlength: 5; maxlength: 5",
            free(length=5, uppercase=False, digits=False, symbols=False, min_lowercase=3),
        ),
        (
            "required: digit;;  ; allowed: upper;",
            free(lowercase=False, symbols=False, min_digits=1),
        ),
        # One of several sets: a requirement of its own, in the rules' syntax.
        (
            "required: lower, upper; allowed: digit",
            free(symbols=False, require=("upper, lower",)),
        ),
        (
            "required: digit, special; allowed: lower",
            free(uppercase=False, require=("digit, special",)),
        ),
        (
            "required: upper, lower, [#$+]; required: digit",
            free(min_digits=1, symbol_set="#$+", require=("upper, lower, [#$+]",)),
        ),
        (
            "required: [!@#]; allowed: lower, [$%]",
            free(uppercase=False, digits=False, symbol_set="!#$%@", require=("[!#@]",)),
        ),
        (
            "required: [!@#]; required: [@#!]; allowed: [$]",
            free(
                lowercase=False,
                uppercase=False,
                digits=False,
                symbol_set="!#$@",
                require=("[!#@]", "[!#@]"),
            ),
        ),
        # "-" first, "]" last, as in Apple's syntax, whatever order they were given in.
        (
            "required: [-z!]]; allowed: lower",
            free(uppercase=False, digits=False, symbol_set="!-]", require=("[-!z]]",)),
        ),
        # Any character meets a requirement of everything allowed: nothing to require.
        ("required: ascii-printable; minlength: 8", free()),
        ("required: lower, digit; allowed: lower", free(uppercase=False, symbols=False)),
        # Strictest of repeated lengths and max-consecutive.
        (
            "minlength: 8; minlength: 10; maxlength: 30; maxlength: 12; max-consecutive: 3;"
            " max-consecutive: 2",
            free(length=12, max_consecutive=2),
        ),
        # A partial class of letters or digits is its characters, included.
        (
            "allowed: [0123]; required: lower",
            free(uppercase=False, symbols=False, digits=False, min_lowercase=1, include="0123"),
        ),
    ],
)  # fmt: skip
def test_rules_become_policies(text: str, expected: PasswordPolicy) -> None:
    imported = import_rules(text)
    assert imported.policy == expected
    if not imported.policy.symbols:
        assert imported.policy.symbol_set == DEFAULT_SYMBOLS


@pytest.mark.parametrize(
    ("text", "low", "high", "preferred", "length"),
    [
        ("minlength: 8; maxlength: 32", 8, 32, 20, 20),
        ("minlength: 8; maxlength: 16", 8, 16, 20, 16),
        ("minlength: 24; maxlength: 64", 24, 64, 20, 24),
        ("minlength: 8; maxlength: 32", 8, 32, 12, 12),
        ("minlength: 2", 2, None, 2, 4),  # at least the generator's shortest
        ("maxlength: 500", None, 500, 200, 128),  # at most the generator's longest
        ("minlength: 0; maxlength: 0", None, None, 20, 20),  # 0: ignored, as Apple does
    ],
)
def test_the_length_is_picked_from_the_range_which_is_kept(
    text: str, low: int | None, high: int | None, preferred: int, length: int
) -> None:
    imported = import_rules(text, preferred_length=preferred)
    assert (imported.min_length, imported.max_length) == (low, high)
    assert imported.policy.length == length


def test_the_length_leaves_room_for_every_requirement() -> None:
    text = "maxlength: 10; required: [!]; required: [@]; required: [#]; required: [$]"
    imported = import_rules(text, preferred_length=4)
    assert imported.policy.length == 4
    text += "; required: [%]"
    assert import_rules(text, preferred_length=4).policy.length == 5


def test_special_is_apples_set_and_the_space_is_left_out_with_a_note() -> None:
    assert SPECIAL == " !\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"
    imported = import_rules("required: special; required: lower")
    assert imported.policy.symbol_set == PUNCTUATION
    assert imported.notes == (SPACE_NOTE,)
    for _ in range(100):
        password = generate(imported.policy)
        assert set(password) <= set(PUNCTUATION + LOWER)


@pytest.mark.parametrize(
    ("text", "note"),
    [
        ("minlength: 8", SPACE_NOTE),  # ascii-printable, the default, has a space
        ("required: [ !]", SPACE_NOTE),
        ("allowed: ascii-printable", SPACE_NOTE),
        ("allowed: unicode", "'unicode' was read as ASCII letters, digits and symbols"),
        ("required: digit; allowed: [!é£]", "('é', '£') are left out"),
        ("required: [!§]", "('§') are left out"),
        ("allowed: [ab\tc]", "('\\t') are left out"),
        ("maxlength: 0; required: digit", "'maxlength: 0' is ignored"),
        ("max-consecutive: 0; required: digit", "'max-consecutive: 0' is ignored"),
        ("required: ; allowed: lower", "'required:' has no value and is ignored."),
    ],
)
def test_characters_left_out_and_rules_ignored_get_a_note(text: str, note: str) -> None:
    notes = import_rules(text).notes
    assert any(note in line for line in notes), notes


def test_rules_without_a_space_or_unicode_get_no_note() -> None:
    assert import_rules("required: upper; allowed: lower, [-!]").notes == ()


def test_a_required_set_with_characters_left_out_is_stricter() -> None:
    imported = import_rules("required: [!§]; allowed: lower")
    assert imported.policy == free(uppercase=False, digits=False, symbol_set="!", min_symbols=1)


def test_brackets_may_hold_the_rule_separators() -> None:
    imported = import_rules("allowed: [;,]]; required: upper; minlength: 12")
    assert imported.policy == free(lowercase=False, digits=False, symbol_set=",;]", min_uppercase=1)
    assert imported.min_length == 12


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "paste a rule such as"),
        ("   ", "paste a rule such as"),
        ("minlength: 20; maxlength: 10", "minlength is more than maxlength"),
        ("maxlength: 3", "maxlength is below 4"),
        ("minlength: 200", "minlength is above 128"),
        ("colour: red", "unknown rule 'colour'"),
        ("<b>: 1", "unknown rule '<b>'"),
        ("required: emoji", "unknown character class 'emoji'"),
        ("required: lower, ", "a ',' must be followed by another class"),
        ("minlength 10", "'minlength' needs a ':' after the rule name"),
        ("minlength: ten", "minlength must be a whole number, not 'ten'"),
        ("maxlength: -4", "maxlength must be a whole number"),
        ("minlength: 10 12", "minlength must be a whole number"),
        ("minlength: 1234567890", "minlength is too large"),
        ("required: [abc", "a '[' is not closed"),
        ("required: [a]b]", "a ']' in [...] must be its last character, written ']]'"),
        ("required: [a-z]", "a '-' in [...] must be its first character"),
        ("required: lower upper", "expected ',' or ';' before 'upper'"),
        ("minlength: 8 maxlength: 9", "minlength must be a whole number"),
        ("required: digit allowed: lower", "expected ',' or ';'"),
        ("x" * 1001, "at most 1000 characters"),
        ("required: [ ]", "the rules allow only a space"),
        ("required: [ ]; allowed: lower", "'required: [ ]' asks for characters never used here"),
        ("required: [é]; allowed: lower", "asks for characters never used here"),
        ("required: []", "'required: []' names no characters"),
        ("allowed: [ ]", "the rules allow only a space"),
        (
            "maxlength: 4; required: lower; required: lower; required: upper; required: digit;"
            " required: special",
            "these rules cannot be met: ",
        ),
    ],
)
def test_rules_that_cannot_be_read_met_or_said_exactly(text: str, message: str) -> None:
    with pytest.raises(PolicyError) as raised:
        import_rules(text)
    assert list(raised.value.errors) == ["rules"]
    assert message in raised.value.errors["rules"]


@pytest.mark.parametrize(
    ("text", "chars"),
    [
        ("lower, upper", LOWER + UPPER),
        ("digit, special", DIGITS + PUNCTUATION),
        ("[!@#]", "!@#"),
        ("upper, lower, [#$+]", LOWER + UPPER + "#$+"),
        ("[-]]", "-]"),
        ("unicode", "".join(map(chr, range(33, 127)))),
    ],
)
def test_set_characters(text: str, chars: str) -> None:
    assert set_characters(text) == "".join(sorted(chars))


@pytest.mark.parametrize("text", ["", "lower;", "lower upper", "[abc", "emoji"])
def test_set_characters_refuses_what_is_not_one_set(text: str) -> None:
    with pytest.raises(PolicyError):
        set_characters(text)


# --- Generated passwords meet the rules ------------------------------------------------

GENERATED = [
    EXAMPLE,
    "minlength: 8; maxlength: 20; max-consecutive: 2; required: lower, upper; required: digit;",
    "minlength: 8; maxlength: 8; max-consecutive: 3; required: digit;"
    " required: upper,lower,[#$+./:=?@[^_|~]];",
    "minlength: 8; required: digit; required: [- !\"#$&'()*+,.:;<=>?@[^_`{|}~]];"
    " allowed: lower, upper;",
    "minlength: 6; maxlength: 6; required: [!@#]; required: [!@#]; allowed: digit",
    "maxlength: 5; required: lower; required: lower, digit; required: digit; allowed: [-]",
    "required: [abc]; allowed: [xyz0]; max-consecutive: 1; maxlength: 8",
    # "!" meets both "special" and "[!]": four characters can meet five sets.
    "maxlength: 4; required: lower; required: upper; required: digit; required: special;"
    " required: [!]",
]


@pytest.mark.parametrize("text", GENERATED)
def test_generated_passwords_meet_the_rules(text: str) -> None:
    imported = import_rules(text)
    expected = expected_from(text)
    for _ in range(100):
        assert_meets_rules(generate(imported.policy), expected)


def test_every_allowed_character_appears() -> None:
    """Exact, not stricter: what the rules allow is used (but the space)."""
    text = "required: upper,lower,[#$+]; required: digit; allowed: [xyz]; maxlength: 6"
    policy = import_rules(text).policy
    seen = set().union(*(generate(policy) for _ in range(400)))
    assert seen == set(UPPER + LOWER + DIGITS + "#$+")


# --- In words ----------------------------------------------------------------------------


def test_describe_the_briefs_example() -> None:
    text = (
        "minlength: 8; maxlength: 32; required: digit; required: lower, upper;"
        " max-consecutive: 2; allowed: [!#$%&*@^]"
    )
    imported = import_rules(text)
    assert imported.describe() == describe_rules(imported.policy, 8, 32)
    assert imported.describe() == [
        "8 to 32 characters (using 20)",
        "at least 1 digit",
        "at least 1 letter (upper or lower case)",
        "no character more than 2 times in a row",
        "symbols only from !#$%&*@^",
    ]


@pytest.mark.parametrize(
    ("policy", "low", "high", "lines"),
    [
        (PasswordPolicy(), None, None, [
            "16 characters", "at least 1 lowercase letter", "at least 1 uppercase letter",
            "at least 1 digit", "at least 1 symbol",
        ]),
        (free(length=8, symbols=False), 8, 8, ["exactly 8 characters", "no symbols"]),
        (free(length=12), None, 12, ["at most 12 characters (using 12)"]),
        (free(length=12), 12, None, ["at least 12 characters (using 12)"]),
        (
            free(require=("digit, [!@]", "digit, [!@]", "[xy]"), max_consecutive=1),
            None, None,
            ["20 characters", "at least 2 digits or one of !@", "at least 1 of xy",
             "no character twice in a row"],
        ),
        (
            free(lowercase=False, digits=False, include="abc0", max_digits=2, min_uppercase=2,
                 max_uppercase=5, min_classes=2, first_character="letter"),
            None, None,
            ["20 characters", "at least 2 uppercase letters", "at most 5 uppercase letters",
             "characters of at least 2 kinds (lowercase letters, uppercase letters, digits,"
             " symbols)",
             "starts with a letter", "lowercase letters only from abc", "digits only from 0"],
        ),
        (
            free(exclude="xyz", avoid_ambiguous=True, first_character="alphanumeric"),
            None, None,
            ["20 characters", "starts with a letter or a digit", "never the characters xyz",
             "no look-alike characters (!\"'01258BIOSZ`ilo|)"],
        ),
    ],
)  # fmt: skip
def test_describe_rules(
    policy: PasswordPolicy, low: int | None, high: int | None, lines: list[str]
) -> None:
    assert describe_rules(policy, low, high) == lines


def test_every_imported_policy_is_valid() -> None:
    for text in GENERATED:
        compile_policy(import_rules(text).policy)


# --- POST /passwords/import --------------------------------------------------------------


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
    assert_meets_rules(password, expected_from(EXAMPLE))
    assert rules_shown(page) == EXAMPLE
    form = browser_form(page)
    assert form["symbol_set"] == "-_"
    assert (form["min_lowercase"], form["min_uppercase"], form["min_digits"]) == ("1", "1", "1")
    assert form["min_symbols"] == "0"
    assert form["length"] == "20"
    imported = re.search(r'<div class="imported" id="imported">(.*?)</div>', page, re.S)
    assert imported is not None
    assert "<li>at least 1 digit</li>" in imported.group(1)  # the rules, in words
    # The imported rules are a normal form: posting it generates from them again.
    again = await client.post("/passwords", form=form)
    regenerated = shown_password(await page_text(again))
    assert regenerated is not None
    assert_meets_rules(regenerated, expected_from(EXAMPLE))


async def test_notes_are_shown_on_the_page(client: Client) -> None:
    response = await import_page(client, "required: lower; allowed: [ ]; minlength: 12")
    assert response.status_code == 200
    page = await page_text(response)
    assert SPACE_NOTE in page
    password = shown_password(page)
    assert password is not None
    assert set(password) <= set(LOWER)


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        ("minlength: 20; maxlength: 10", "minlength is more than maxlength"),
        ("colour: red", "unknown rule 'colour'"),
        ("<script>x</script>: 1", "unknown rule"),
        (
            "maxlength: 4; required: lower; required: lower; required: upper; required: digit;"
            " required: special",
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
