"""Big numbers and long durations in words, for people rather than mathematicians."""

from __future__ import annotations

from typing import Any

from quartapp.passwords.generator import GUESS_RATES
from quartapp.passwords.schema import Batch
from quartapp.passwords.sites import SiteRules

SCALES = (
    "thousand", "million", "billion", "trillion", "quadrillion", "quintillion",
    "sextillion", "septillion", "octillion", "nonillion", "decillion", "undecillion",
    "duodecillion", "tredecillion", "quattuordecillion", "quindecillion", "sexdecillion",
    "septendecillion", "octodecillion", "novemdecillion", "vigintillion",
)  # fmt: skip

SECONDS_PER_YEAR = 365.2425 * 24 * 3600
DURATIONS = (
    (SECONDS_PER_YEAR, "year"),
    (24 * 3600, "day"),
    (3600, "hour"),
    (60, "minute"),
    (1, "second"),
)
AGE_OF_UNIVERSE_YEARS = 1.38e10


def number_in_words(value: int) -> str:
    """1234 -> '1,234'; 3.14e31 -> 'about 31.4 nonillion'; past the named scales,
    'about 1.23 × 10^70'."""
    if value < 1_000_000:
        return f"{value:,}"
    exponent = len(str(value)) - 1
    group = exponent // 3
    shown = f"{value / 10 ** (3 * group):.3g}"
    if "e" in shown:  # 999.96 rounds up to the next scale
        group, shown = group + 1, "1"
    if group <= len(SCALES):
        return f"about {shown} {SCALES[group - 1]}"
    digits = str(round(value, 2 - exponent))  # three significant digits, rounded exactly
    return f"about {digits[0]}.{digits[1:3]} × 10^{len(digits) - 1}"


def duration_in_words(seconds: float) -> str:
    """The time in the largest unit that fits, rounded for reading ("60 minutes" reads
    as "1 hour")."""
    if seconds < 1:
        return "less than a second"
    larger_size = None
    for size, unit in DURATIONS:
        if seconds >= size:
            amount = seconds / size
            if unit == "year" and amount >= 1_000_000:
                ages = amount / AGE_OF_UNIVERSE_YEARS
                if ages >= 2:
                    return f"{number_in_words(int(ages))} times the age of the universe"
                if ages >= 1:
                    return "longer than the age of the universe"
                return f"{number_in_words(int(amount))} years"
            rounded = round(amount) if amount >= 10 else round(amount, 1)
            if larger_size is not None and rounded * size >= larger_size:
                return duration_in_words(larger_size)  # rounding reached the next unit
            plural = "" if rounded == 1 else "s"
            return f"{rounded:,} {unit}{plural}".replace(".0 ", " ")
        larger_size = size
    return "less than a second"  # pragma: no cover - the loop always returns


def summary(batch: Batch) -> dict[str, Any]:
    """What the page and the API say about a result, in numbers and in words."""
    return {
        "entropy_bits": round(batch.strength.entropy_bits, 1),
        "strength": batch.strength.label,
        "count_allowed": str(batch.count_allowed),
        "count_in_words": number_in_words(batch.count_allowed),
        "time_to_search_half": [
            {"guesses_per_second": rate, "time": duration_in_words(seconds)}
            for rate, seconds in zip(GUESS_RATES, batch.strength.half_space_seconds, strict=True)
        ],
    }


def site_summary(found: SiteRules) -> dict[str, Any]:
    """What the page and the API say about the site whose rules were used."""
    low, high = found.rules.length_range
    return {
        "domain": found.domain,
        "rules": found.text,
        "in_words": found.rules.describe(),
        "notes": list(found.rules.notes),
        "length_range": [low, high],
        "change_password_url": found.change_password_url,
    }
