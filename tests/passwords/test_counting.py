"""The rules real systems use (a most per class, characters from N classes, no character
N times in a row, what the first character may be, a requirement over several classes),
proved by brute force: on small alphabets, every string is checked against the rules as
written here, independently of the counting; the count must match exactly, and unranking
every rank must give each allowed password exactly once (so a uniform rank gives a uniform
password)."""

from __future__ import annotations

import itertools
import re
import string
from collections import Counter as Tally
from dataclasses import replace

import pytest

from quartapp.passwords import counting, generator
from quartapp.passwords.counting import Atom, ClassTable, Counter, Group, PositionTable
from quartapp.passwords.generator import (
    PasswordPolicy,
    PolicyError,
    compile_policy,
    generate,
    unrank,
)

# Two characters of each class: every rule still has something to tell apart.
KEEP = set("abAB01!@")
SMALL = PasswordPolicy(
    length=4,
    min_lowercase=0,
    min_uppercase=0,
    min_digits=0,
    min_symbols=0,
    symbol_set="!@#",
    exclude="".join(c for c in string.ascii_letters + string.digits + "#" if c not in KEEP),
)
CLASSES = {
    "lowercase": set("ab"),
    "uppercase": set("AB"),
    "digits": set("01"),
    "symbols": set("!@"),
}
SET_NAMES = {"lower": "lowercase", "upper": "uppercase", "digit": "digits", "special": "symbols"}


def requirement_set(text: str) -> set[str]:
    """A requirement's characters, read here without the generator's reader."""
    chars: set[str] = set()
    for item in re.findall(r"\[[^\]]*\]|[a-z]+", text):
        chars |= set(item[1:-1]) if item.startswith("[") else CLASSES[SET_NAMES[item]]
    return chars


def allowed(policy: PasswordPolicy, password: str) -> bool:
    """The rules, as a reader of the policy would check them, one by one."""
    counts = {name: sum(c in chars for c in password) for name, chars in CLASSES.items()}
    for name in CLASSES:
        if not getattr(policy, name) and counts[name]:
            return False
        if counts[name] < getattr(policy, f"min_{name}"):
            return False
        most = getattr(policy, f"max_{name}")
        if most is not None and counts[name] > most:
            return False
    if sum(1 for n in counts.values() if n) < policy.min_classes:
        return False
    if policy.max_consecutive is not None:
        longest = max(len(list(run)) for _, run in itertools.groupby(password))
        if longest > policy.max_consecutive:
            return False
    if policy.first_character == "letter" and not password[0].isalpha():
        return False
    if policy.first_character == "alphanumeric" and not password[0].isalnum():
        return False
    needed = Tally(frozenset(requirement_set(text)) for text in policy.require)
    return all(sum(c in chars for c in password) >= n for chars, n in needed.items())


def every_string(policy: PasswordPolicy) -> set[str]:
    alphabet = sorted(set().union(*(CLASSES[n] for n in CLASSES if getattr(policy, n))))
    return {
        "".join(chars)
        for chars in itertools.product(alphabet, repeat=policy.length)
        if allowed(policy, "".join(chars))
    }


CASES = {
    "at most 1 digit": dict(max_digits=1),
    "at most 1 digit and 2 symbols, at least 1 letter each": dict(
        max_digits=1, max_symbols=2, min_lowercase=1, min_uppercase=1
    ),
    "from at least 3 classes": dict(min_classes=3),
    "from all 4 classes, at most 1 symbol": dict(min_classes=4, max_symbols=1),
    "from 2 classes, one being digits": dict(min_classes=2, min_digits=1),
    "no character twice in a row": dict(max_consecutive=1),
    "no character 3 times in a row": dict(max_consecutive=2, length=5),
    "starts with a letter": dict(first_character="letter"),
    "starts with a letter or digit, 2 symbols": dict(first_character="alphanumeric", min_symbols=2),
    "a letter of either case": dict(require=("lower, upper",)),
    "two letters of either case": dict(require=("lower, upper", "upper,lower")),
    "a digit or symbol, and a digit": dict(require=("digit, special", "digit")),
    "one '!' (a set of one character)": dict(require=("[!]",)),
    "'!' and no character twice in a row": dict(require=("[!]",), max_consecutive=1),
    "an upper or '@', a digit (the class's minimum)": dict(require=("upper, [@]", "digit")),
    "chase-like: a letter, a digit, not 3 in a row, starts with a letter": dict(
        require=("lower, upper",),
        min_digits=1,
        max_consecutive=2,
        first_character="letter",
        length=5,
    ),
    "strict: 3 classes, not twice in a row, at most 2 digits, a letter": dict(
        min_classes=3, max_consecutive=1, max_digits=2, require=("lower, upper",)
    ),
    "classes off: no symbols, 2 in a row, 2 classes": dict(
        symbols=False, max_consecutive=2, min_classes=2, length=5
    ),
    "minimums and maxima meeting exactly": dict(
        min_digits=2, max_digits=2, min_symbols=2, max_symbols=2
    ),
}


@pytest.mark.parametrize("changes", CASES.values(), ids=CASES.keys())
def test_the_count_is_every_allowed_password_and_unranking_gives_each_once(
    changes: dict[str, object],
) -> None:
    policy = replace(SMALL, **changes)  # type: ignore[arg-type]
    expected = every_string(policy)
    compiled = compile_policy(policy)
    assert compiled.count == len(expected)
    produced = [unrank(compiled, rank) for rank in range(compiled.count)]
    assert len(set(produced)) == len(produced)  # a bijection: no password twice...
    assert set(produced) == expected  # ...and only allowed ones, every one of them


def test_a_first_character_rule_counts_extra_letters_as_letters() -> None:
    policy = replace(SMALL, include="é", first_character="letter", max_consecutive=1)
    compiled = compile_policy(policy)
    alphabet = sorted("abAB01!@é")
    expected = {
        "".join(p)
        for p in itertools.product(alphabet, repeat=4)
        if p[0].isalpha() and all(a != b for a, b in itertools.pairwise(p))
    }
    assert compiled.count == len(expected)
    assert {unrank(compiled, r) for r in range(compiled.count)} == expected


def test_both_tables_agree_where_both_can_count() -> None:
    """The position table, given only per-class least and most counts, counts what the
    class table does (which the older brute-force tests prove)."""
    groups = [Group("ab", 1, 3), Group("XYZ", 0, None), Group("01", 2, 2), Group("!", 0, 1)]
    for length in range(4, 9):
        by_class = ClassTable(length, groups)
        atoms = [Atom(g.chars, (i,)) for i, g in enumerate(groups)]
        by_place = PositionTable(length, atoms, [Counter(g.minimum, g.maximum) for g in groups])
        assert by_place.count == by_class.count


def test_run_limit_matches_the_known_count() -> None:
    """Strings of length n over k letters with no letter twice in a row: k * (k-1)**(n-1)."""
    table = PositionTable(12, [Atom("abcde", ())], [], run_limit=1)
    assert table.count == 5 * 4**11


def test_strict_real_policy_is_counted_and_every_password_meets_it() -> None:
    policy = PasswordPolicy(
        length=20,
        min_classes=3,
        max_consecutive=2,
        first_character="letter",
        max_symbols=3,
        require=("lower, upper", "digit, special"),
        min_lowercase=0,
        min_uppercase=0,
        min_digits=0,
        min_symbols=0,
    )
    compiled = compile_policy(policy)
    assert 0 < compiled.count < 94**20
    for _ in range(300):
        password = generate(policy)
        assert len(password) == 20
        assert password[0].isalpha()
        assert max(len(list(run)) for _, run in itertools.groupby(password)) <= 2
        assert sum(c in string.punctuation for c in password) <= 3
        assert any(not c.isalpha() for c in password)
        kinds = {
            k
            for c in password
            for k, test in (
                ("l", str.islower),
                ("u", str.isupper),
                ("d", str.isdigit),
                ("s", lambda ch: ch in string.punctuation),
            )
            if test(c)
        }
        assert len(kinds) >= 3


def test_the_longest_policy_is_counted_quickly_enough_to_serve() -> None:
    """Length 128 with a run limit and every rule: still within the work limit."""
    policy = PasswordPolicy(
        length=128, min_classes=4, max_consecutive=2, first_character="letter",
        require=("lower, upper",), max_symbols=40,
    )  # fmt: skip
    assert len(generate(policy)) == 128


BAD = {
    "max_digits below the minimum": (
        dict(min_digits=3, max_digits=2),
        "max_digits",
        "at least the minimum",
    ),
    "max 0": (dict(max_symbols=0), "max_symbols", "turn symbols off"),
    "max out of range": (dict(max_lowercase=500), "max_lowercase", "between 0 and 128"),
    "min_classes 5": (dict(min_classes=5), "min_classes", "between 0 and 4"),
    "min_classes past the classes on": (
        dict(min_classes=4, symbols=False, min_symbols=0),
        "min_classes",
        "only 3",
    ),
    "max_consecutive 0": (dict(max_consecutive=0), "max_consecutive", "between 1"),
    "first_character unknown": (dict(first_character="digit"), "first_character", "letter"),
    "require an unknown class": (dict(require=("vowels",)), "require", "not a class"),
    "require characters not in use": (
        dict(require=("[€]",)),
        "require",
        "not among the characters in use",
    ),
    "require a class that is off": (
        dict(require=("special",), symbols=False, min_symbols=0),
        "require",
        "no character in use",
    ),
    "require unreadable": (dict(require=("lower upper",)), "require", "cannot read"),
    "too many requirements": (dict(require=("digit",) * 17), "require", "at most 16"),
    "maxima below the length": (
        dict(max_lowercase=2, max_uppercase=2, max_digits=2, max_symbols=2, length=9),
        "length",
        "no password of 9 characters",
    ),
    "a single character cannot avoid repeating": (
        dict(
            lowercase=False,
            uppercase=False,
            digits=False,
            symbol_set="!",
            min_lowercase=0,
            min_uppercase=0,
            min_digits=0,
            max_consecutive=2,
        ),
        "length",
        "no password",
    ),
}


@pytest.mark.parametrize(("changes", "field", "says"), BAD.values(), ids=BAD.keys())
def test_rules_that_cannot_be_met_are_named(
    changes: dict[str, object], field: str, says: str
) -> None:
    with pytest.raises(PolicyError) as caught:
        compile_policy(replace(PasswordPolicy(), **changes))  # type: ignore[arg-type]
    assert field in caught.value.errors, caught.value.errors
    assert says in caught.value.errors[field]


def test_a_policy_past_the_work_limit_is_refused_not_approximated(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(counting, "WORK_LIMIT", 1000)
    with pytest.raises(PolicyError) as caught:
        compile_policy(PasswordPolicy(length=60, max_consecutive=2, max_digits=30))
    assert "too many to count exactly" in caught.value.errors["length"]


def test_compiled_policies_are_kept_within_the_budget_of_numbers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cache = generator._CompiledCache(budget=20_000)
    monkeypatch.setattr(generator, "COMPILED", cache)
    policies = [PasswordPolicy(length=n, max_consecutive=2, min_classes=3) for n in range(40, 60)]
    for policy in policies:
        compile_policy(policy)
        assert cache._held <= 20_000 or len(cache._entries) == 1
    assert policies[-1] in cache._entries  # the newest is kept...
    assert policies[0] not in cache._entries  # ...the oldest dropped
    assert compile_policy(policies[-1]) is cache.get(policies[-1])
