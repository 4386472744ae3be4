"""Passphrases with a capital, a digit, a symbol and a maximum length: exact and uniform.

The proof is by brute force on a tiny word list: every choice the rules allow is enumerated
independently of the module (no two choices may give the same passphrase, and their number
must be the count), and every rank of the one ``secrets.randbelow`` draw is fed through
``generate_passphrase`` (the ranks must map one to one onto exactly those passphrases).
"""

from __future__ import annotations

import math
import string
from collections import Counter
from collections.abc import Iterator
from dataclasses import fields, replace
from itertools import product
from types import SimpleNamespace

import pytest

from quartapp.passwords import passphrase
from quartapp.passwords.generator import PasswordPolicy, PolicyError, wordlist
from quartapp.passwords.passphrase import (
    DEFAULT_PHRASE_SYMBOLS,
    PassphrasePolicy,
    check_passphrase_policy,
    compile_passphrase_policy,
    generate_passphrase,
    passphrase_count,
    passphrase_entropy_bits,
    words_apart,
)

# Prefixes of one another ("ab", "abc", "abca"), a hyphenated word, lengths 2 to 4.
TINY = ("ab", "abc", "b-a", "ca", "abca")
TINY_SYMBOLS = "-!"  # "-" is in a word: that word is not drawn when a symbol is added
FLAGS = ("capitalize", "add_capital", "add_digit", "add_symbol")


def _clear_caches() -> None:
    words_apart.cache_clear()
    compile_passphrase_policy.cache_clear()


@pytest.fixture
def tiny_list(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    _clear_caches()
    monkeypatch.setattr(passphrase, "wordlist", lambda: TINY)
    yield
    _clear_caches()


def _every_choice(policy: PassphrasePolicy, words: tuple[str, ...]) -> list[str]:
    """The passphrase of every choice the rules allow, written out from the rules alone."""
    n = policy.words
    avoid = set(policy.separator) | (set(policy.phrase_symbols) if policy.add_symbol else set())
    pool = [w for w in words if not set(w) & avoid]
    capitals: list[int | None] = (
        list(range(n)) if policy.add_capital and not policy.capitalize else [None]
    )
    digits: list[tuple[int | None, str]] = (
        list(product(range(n), string.digits)) if policy.add_digit else [(None, "")]
    )
    symbols: list[tuple[int | None, str]] = (
        list(product(range(n), dict.fromkeys(policy.phrase_symbols)))
        if policy.add_symbol
        else [(None, "")]
    )
    result = []
    for chosen in product(pool, repeat=n):
        for capital, (digit_place, digit), (symbol_place, symbol) in product(
            capitals, digits, symbols
        ):
            pieces = []
            for place, word in enumerate(chosen):
                if policy.capitalize or place == capital:
                    word = word.capitalize()
                if place == digit_place:
                    word += digit
                if place == symbol_place:
                    word += symbol
                pieces.append(word)
            phrase = policy.separator.join(pieces)
            if policy.max_length is None or len(phrase) <= policy.max_length:
                result.append(phrase)
    return result


def _every_rank(monkeypatch: pytest.MonkeyPatch, policy: PassphrasePolicy) -> list[str]:
    """``generate_passphrase`` for each value its one random draw can take."""
    total = passphrase_count(policy)
    asked: list[int] = []
    ranks = iter(range(total))

    def randbelow(bound: int) -> int:
        asked.append(bound)
        return next(ranks)

    monkeypatch.setattr(passphrase, "secrets", SimpleNamespace(randbelow=randbelow))
    phrases = [generate_passphrase(policy) for _ in range(total)]
    assert set(asked) == {total}  # one draw per passphrase, below the count
    monkeypatch.undo()
    return phrases


@pytest.mark.parametrize("limit", [None, 0, 1])
@pytest.mark.parametrize("separator", [".", "", "._"])
@pytest.mark.parametrize("flags", list(product([False, True], repeat=len(FLAGS))))
@pytest.mark.usefixtures("tiny_list")
def test_every_choice_is_one_passphrase_and_every_rank_one_choice(
    monkeypatch: pytest.MonkeyPatch,
    flags: tuple[bool, ...],
    separator: str,
    limit: int | None,
) -> None:
    """``limit``: no maximum, or the smallest one allowed that still fits a passphrase, or
    one more; each cuts some passphrases (checked below)."""
    options = dict(zip(FLAGS, flags, strict=True))
    unlimited = PassphrasePolicy(
        words=3, separator=separator, phrase_symbols=TINY_SYMBOLS, **options
    )
    if separator == "" and not unlimited.capitalize:
        with pytest.raises(PolicyError) as caught:
            check_passphrase_policy(unlimited)
        assert set(caught.value.errors) == {"separator"}
        return
    everything = _every_choice(unlimited, TINY)
    max_length = None
    if limit is not None:
        max_length = max(passphrase.MIN_PHRASE_LENGTH, min(map(len, everything))) + limit
    policy = replace(unlimited, max_length=max_length)
    choices = _every_choice(policy, TINY)
    valid = set(choices)
    assert len(choices) == len(valid)  # no two choices give the same passphrase
    assert passphrase_count(policy) == len(valid)  # the count is exact
    assert passphrase_entropy_bits(policy) == math.log2(len(valid))
    drawn = _every_rank(monkeypatch, policy)
    assert len(set(drawn)) == len(drawn)  # each rank a different passphrase...
    assert set(drawn) == valid  # ...and all of them valid: a bijection, so uniform
    if max_length is not None:
        assert max(map(len, drawn)) <= max_length
        assert 0 < len(valid) < len(everything)  # the maximum cuts some, not all


@pytest.mark.usefixtures("tiny_list")
def test_word_choices_depend_on_each_other_under_a_maximum(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With a maximum, a long first word leaves fewer second words: the draw weights it so."""
    policy = PassphrasePolicy(words=3, separator="-", max_length=10)
    drawn = _every_rank(monkeypatch, policy)
    firsts = Counter(p.split("-")[0] for p in drawn)
    # Four words ("b-a" is out), of lengths 2, 3, 2, 4; at most 8 letters in all. After a
    # two-letter word, 13 pairs fit in 6 letters; after "abc", 8 in 5; after "abca", 4 in 4.
    assert firsts == {"ab": 13, "ca": 13, "abc": 8, "abca": 4}
    assert len(drawn) == passphrase_count(policy) == 38


@pytest.mark.usefixtures("tiny_list")
def test_sampling_is_uniform_by_chi_square() -> None:
    """The real ``secrets``: a sanity check on top of the bijection (fails once in 10**6)."""
    policy = PassphrasePolicy(words=3, separator="-", max_length=10, add_capital=True)
    total = passphrase_count(policy)
    samples = 40 * total
    seen = Counter(generate_passphrase(policy) for _ in range(samples))
    assert len(seen) == total
    expected = samples / total
    statistic = sum((n - expected) ** 2 / expected for n in seen.values())
    df = total - 1  # Wilson-Hilferty: the chi-square quantile at 1 - 10**-6 (z = 4.75)
    critical = df * (1 - 2 / (9 * df) + 4.75 * math.sqrt(2 / (9 * df))) ** 3
    assert statistic < critical


@pytest.mark.usefixtures("tiny_list")
def test_add_capital_with_capitalize_is_already_met() -> None:
    both = PassphrasePolicy(words=3, separator="-", capitalize=True, add_capital=True)
    alone = PassphrasePolicy(words=3, separator="-", capitalize=True)
    assert passphrase_count(both) == passphrase_count(alone) == 4**3
    assert passphrase_count(PassphrasePolicy(words=3, separator="-", add_capital=True)) == 3 * 4**3


@pytest.mark.usefixtures("tiny_list")
def test_repeated_symbols_count_once() -> None:
    policy = PassphrasePolicy(words=3, separator="-", add_symbol=True, phrase_symbols="!!#!#")
    assert passphrase_count(policy) == 4**3 * 2 * 3


# The real list --------------------------------------------------------------------------


def test_the_old_counts_stand() -> None:
    assert passphrase_count(PassphrasePolicy()) == 7776**6
    policy = PassphrasePolicy(words=5, separator=".", capitalize=True, add_digit=True)
    assert passphrase_count(policy) == 7776**5 * 10 * 5
    assert len(words_apart("-")) == 7772  # the four hyphenated words are out
    assert passphrase_count(PassphrasePolicy(words=4, separator="-")) == 7772**4


def test_a_symbol_the_words_hold_leaves_them_out() -> None:
    policy = PassphrasePolicy(words=4, separator="_", add_symbol=True, phrase_symbols="-!")
    assert passphrase_count(policy) == 7772**4 * 2 * 4


def test_max_length_count_against_the_length_histogram() -> None:
    """Counted another way: over every triple of word lengths."""
    policy = PassphrasePolicy(
        words=3, separator=".", add_digit=True, add_symbol=True, max_length=17
    )
    histogram = Counter(len(word) for word in wordlist())
    tuples = sum(
        histogram[a] * histogram[b] * histogram[c]
        for a, b, c in product(histogram, repeat=3)
        if a + b + c + 2 + 1 + 1 <= 17
    )
    extras = (10 * 3) * (len(DEFAULT_PHRASE_SYMBOLS) * 3)
    assert passphrase_count(policy) == tuples * extras
    assert tuples < 7776**3


def test_max_length_is_never_exceeded_and_digit_and_symbol_are_there() -> None:
    policy = PassphrasePolicy(
        words=5, separator="-", add_capital=True, add_digit=True, add_symbol=True, max_length=26
    )
    for _ in range(300):
        phrase = generate_passphrase(policy)
        assert len(phrase) <= 26
        pieces = phrase.split("-")
        assert len(pieces) == 5
        assert sum(c.isdigit() for c in phrase) == 1
        assert sum(c in DEFAULT_PHRASE_SYMBOLS for c in phrase) == 1
        assert sum(c.isupper() for c in phrase) == 1
        assert sum(piece[0].isupper() for piece in pieces) == 1
        for piece in pieces:
            word = piece.rstrip(DEFAULT_PHRASE_SYMBOLS).rstrip(string.digits).lower()
            assert word in wordlist()


def test_no_separator_with_capitals_digit_and_symbol() -> None:
    policy = PassphrasePolicy(
        words=4, separator="", capitalize=True, add_digit=True, add_symbol=True, max_length=30
    )
    phrase = generate_passphrase(policy)
    assert len(phrase) <= 30
    assert sum(c.isupper() for c in phrase) == 4
    assert phrase[0].isupper()


def test_one_draw_below_the_count_and_the_first_and_last_ranks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = PassphrasePolicy(words=3, separator="-", add_digit=True, max_length=20)
    total = passphrase_count(policy)
    asked: list[int] = []

    def first(bound: int) -> int:
        asked.append(bound)
        return 0

    monkeypatch.setattr(passphrase, "secrets", SimpleNamespace(randbelow=first))
    assert generate_passphrase(policy) == "aim0-aim-aim"  # the first of the shortest words
    assert asked == [total]
    monkeypatch.setattr(passphrase, "secrets", SimpleNamespace(randbelow=lambda n: n - 1))
    last = generate_passphrase(policy)
    assert len(last) <= 20
    assert last.endswith("9")  # the last digit after the last word


def test_entropy_is_log2_of_the_count() -> None:
    policy = PassphrasePolicy(words=4, add_symbol=True, max_length=24)
    assert passphrase_entropy_bits(policy) == math.log2(passphrase_count(policy))


# Checks -----------------------------------------------------------------------------------


def test_field_names_do_not_clash_with_the_password_policy() -> None:
    phrase_fields = {f.name for f in fields(PassphrasePolicy)}
    assert not phrase_fields & {f.name for f in fields(PasswordPolicy)}


@pytest.mark.parametrize(
    ("policy", "field", "fragment"),
    [
        (PassphrasePolicy(words=2), "words", "between 3 and 20"),
        (PassphrasePolicy(words=21), "words", "between 3 and 20"),
        (PassphrasePolicy(separator="x"), "separator", "cannot separate"),
        (PassphrasePolicy(separator="1"), "separator", "cannot separate"),
        (PassphrasePolicy(separator=""), "separator", "capitalize"),
        (PassphrasePolicy(separator="", add_capital=True), "separator", "capitalize"),
        (PassphrasePolicy(separator="\n"), "separator", "invisible"),
        (PassphrasePolicy(separator="______"), "separator", "at most 5"),
        (PassphrasePolicy(add_symbol=True, phrase_symbols=""), "phrase_symbols", "at least one"),
        (PassphrasePolicy(add_symbol=True, phrase_symbols="!a"), "phrase_symbols", "letter"),
        (PassphrasePolicy(add_symbol=True, phrase_symbols="!7"), "phrase_symbols", "digit"),
        (PassphrasePolicy(add_symbol=True, phrase_symbols="! #"), "phrase_symbols", "space"),
        (PassphrasePolicy(add_symbol=True, phrase_symbols="!\t"), "phrase_symbols", "invisible"),
        (PassphrasePolicy(add_symbol=True, phrase_symbols="!€"), "phrase_symbols", "ASCII"),
        (
            PassphrasePolicy(add_symbol=True, separator="_", phrase_symbols="!_"),
            "phrase_symbols",
            "'_' also separates",
        ),
        (
            PassphrasePolicy(add_symbol=True, phrase_symbols="!" * 257),
            "phrase_symbols",
            "at most 256",
        ),
        (PassphrasePolicy(max_length=9), "max_length", "between 10 and 1024"),
        (PassphrasePolicy(max_length=1025), "max_length", "between 10 and 1024"),
        (PassphrasePolicy(words=6, max_length=20), "max_length", "shortest"),
        (
            PassphrasePolicy(words=3, separator="..", add_digit=True, max_length=13),
            "max_length",
            "takes 14 characters",
        ),
    ],
)
def test_errors_name_the_field(policy: PassphrasePolicy, field: str, fragment: str) -> None:
    with pytest.raises(PolicyError) as caught:
        generate_passphrase(policy)
    assert set(caught.value.errors) == {field}
    assert fragment in caught.value.errors[field]
    with pytest.raises(PolicyError):
        passphrase_count(policy)


def test_symbols_are_only_checked_when_asked_for() -> None:
    # A separator that is among the default symbols is fine while no symbol is added.
    check_passphrase_policy(PassphrasePolicy(separator="+"))
    check_passphrase_policy(PassphrasePolicy(phrase_symbols=""))
    assert passphrase_count(PassphrasePolicy(words=3, max_length=14)) > 0


def test_shortest_fitting_maximum_is_accepted() -> None:
    # Three words of three letters and two separators: 11 characters, exactly the limit.
    policy = PassphrasePolicy(words=3, separator="-", max_length=11)
    assert passphrase_count(policy) == 82**3
    assert len(generate_passphrase(policy)) == 11


def test_why_words_holding_a_symbol_are_left_out() -> None:
    """Were they drawn, a symbol after "ab" and the word "ab-" would be one passphrase."""
    policy = PassphrasePolicy(words=3, separator=".", add_symbol=True, phrase_symbols="-")
    unfiltered = replace(policy, phrase_symbols="!")  # enumerates with "ab-" in the pool
    collide = [p.replace("!", "-") for p in _every_choice(unfiltered, ("ab", "ab-"))]
    assert len(set(collide)) < len(collide)
    kept = _every_choice(policy, ("ab", "ab-"))
    assert len(set(kept)) == len(kept) == 1 * 3  # only "ab" is drawn: the symbol's place
