"""Big numbers and long durations in words, as the page and the API show them."""

from __future__ import annotations

import math

import pytest

from quartapp.passwords.describe import (
    AGE_OF_UNIVERSE_YEARS,
    SECONDS_PER_YEAR,
    duration_in_words,
    number_in_words,
    summary,
)
from quartapp.passwords.generator import PasswordPolicy, count, strength
from quartapp.passwords.schema import Batch

YEAR = SECONDS_PER_YEAR
UNIVERSE = AGE_OF_UNIVERSE_YEARS * YEAR


@pytest.mark.parametrize(
    ("value", "words"),
    [
        (0, "0"),
        (7, "7"),
        (1234, "1,234"),
        (10_000, "10,000"),
        (999_999, "999,999"),
        (1_000_000, "about 1 million"),
        (1_234_567, "about 1.23 million"),
        (12_345_678, "about 12.3 million"),
        (999_500_000, "about 1 billion"),  # 999.5 million rounds up to the next scale
        (10**9, "about 1 billion"),
        (314 * 10**29, "about 31.4 nonillion"),
        (7776**6, "about 221 sextillion"),
        (10**63, "about 1 vigintillion"),
        (10**66, "about 1.00 × 10^66"),
        (12_345 * 10**66, "about 1.23 × 10^70"),
        (12_351 * 10**66, "about 1.24 × 10^70"),  # rounded, not cut off
        (999_999 * 10**60, "about 1.00 × 10^66"),
        (2**500, "about 3.27 × 10^150"),
    ],
)
def test_number_in_words(value: int, words: str) -> None:
    assert number_in_words(value) == words


def test_the_default_policy_in_words() -> None:
    assert number_in_words(count(PasswordPolicy())) == "about 30.6 nonillion"


@pytest.mark.parametrize(
    ("seconds", "words"),
    [
        (0, "less than a second"),
        (0.5, "less than a second"),
        (1, "1 second"),
        (1.04, "1 second"),
        (1.5, "1.5 seconds"),
        (9.96, "10 seconds"),
        (59, "59 seconds"),
        (60, "1 minute"),
        (90, "1.5 minutes"),
        (3600, "1 hour"),
        (5 * 3600, "5 hours"),
        (2 * 86400, "2 days"),
        (364 * 86400, "364 days"),
        (YEAR, "1 year"),
        (10 * YEAR, "10 years"),
        (12_345.6 * YEAR, "12,346 years"),
        (2e6 * YEAR, "about 2 million years"),
        (5 * UNIVERSE, "5 times the age of the universe"),
        (3511 * UNIVERSE, "3,511 times the age of the universe"),
        (2e6 * UNIVERSE, "about 2 million times the age of the universe"),
    ],
)
def test_duration_in_words(seconds: float, words: str) -> None:
    assert duration_in_words(seconds) == words


def test_summary_in_numbers_and_words() -> None:
    total = count(PasswordPolicy(length=10, symbols=False, min_symbols=0, min_digits=3))
    about = summary(Batch(["not shown"], total, strength(total)))
    assert about == {
        "entropy_bits": round(math.log2(total), 1),
        "strength": strength(total).label,
        "count_allowed": str(total),
        "count_in_words": number_in_words(total),
        "time_to_search_half": [
            {"guesses_per_second": 10**10, "time": duration_in_words(total / 2 / 10**10)},
            {"guesses_per_second": 10**12, "time": duration_in_words(total / 2 / 10**12)},
        ],
    }
    assert "not shown" not in str(about)


@pytest.mark.parametrize(
    ("total", "label"),
    [(10**4, "weak"), (2**49, "weak"), (2**50, "fair"), (2**89, "strong"), (2**90, "very strong")],
)
def test_strength_bands(total: int, label: str) -> None:
    assert strength(total).label == label
