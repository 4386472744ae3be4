"""The generator's promises: exact counts, exact uniformity, clear policy errors."""

from __future__ import annotations

import math
import secrets
import string
from collections import Counter
from collections.abc import Callable
from itertools import product

import pytest

from quartapp.passwords.generator import (
    AMBIGUOUS,
    PasswordPolicy,
    PolicyError,
    compile_policy,
    count,
    entropy_bits,
    generate,
    strength,
    unrank,
    wordlist,
)
from quartapp.passwords.passphrase import (
    PassphrasePolicy,
    generate_passphrase,
    passphrase_count,
)

# Policies over tiny alphabets, so every string can be enumerated.
# Digits "01" (exclude 2-9), symbols "!?", lowercase "ab" (exclude c-z), uppercase "A".
ONLY_01 = "23456789"
ONLY_AB = string.ascii_lowercase[2:]
ONLY_A_UPPER = string.ascii_uppercase[1:]
TINY = {"exclude": ONLY_01 + ONLY_AB + ONLY_A_UPPER, "symbol_set": "!?"}


def tiny(**changes: object) -> PasswordPolicy:
    settings: dict[str, object] = {
        "length": 4,
        "min_lowercase": 0,
        "min_uppercase": 0,
        "min_digits": 0,
        "min_symbols": 0,
        **TINY,
        **changes,
    }
    return PasswordPolicy(**settings)  # type: ignore[arg-type]


def brute_force(policy: PasswordPolicy) -> set[str]:
    """Every string over the policy's alphabet that meets its minimums."""
    compiled = compile_policy(policy)
    alphabet = "".join(c.chars for c in compiled.classes)
    valid = set()
    for letters in product(alphabet, repeat=policy.length):
        candidate = "".join(letters)
        if all(sum(ch in c.chars for ch in candidate) >= c.minimum for c in compiled.classes):
            valid.add(candidate)
    return valid


SMALL_POLICIES = [
    tiny(),
    tiny(min_digits=2),
    tiny(min_digits=1, min_symbols=1, min_lowercase=1, min_uppercase=1),
    tiny(length=5, min_digits=2, min_symbols=2),
    tiny(length=5, uppercase=False, min_lowercase=3, min_digits=1),
    tiny(length=4, lowercase=False, uppercase=False, min_digits=4),
    tiny(length=5, symbols=False, include="#", min_digits=1),
    tiny(length=4, digits=False, symbols=False, include="01", min_lowercase=2),
]


@pytest.mark.parametrize("policy", SMALL_POLICIES)
def test_count_equals_brute_force(policy: PasswordPolicy) -> None:
    assert count(policy) == len(brute_force(policy))


@pytest.mark.parametrize("policy", SMALL_POLICIES)
def test_unrank_is_a_bijection_onto_the_valid_passwords(policy: PasswordPolicy) -> None:
    """Each rank below the count gives a different valid password, and every valid one."""
    compiled = compile_policy(policy)
    produced = [unrank(compiled, rank) for rank in range(compiled.count)]
    assert len(set(produced)) == len(produced)
    assert set(produced) == brute_force(policy)


@pytest.mark.parametrize("policy", SMALL_POLICIES)
def test_every_generated_password_is_valid(policy: PasswordPolicy) -> None:
    valid = brute_force(policy)
    for _ in range(300):
        assert generate(policy) in valid


def test_entropy_is_log2_of_count() -> None:
    policy = PasswordPolicy(length=10, symbols=False, min_symbols=0, min_digits=3)
    assert entropy_bits(policy) == pytest.approx(math.log2(count(policy)))
    # Sanity against the closed form with no minimums: 62**10 strings.
    free = PasswordPolicy(length=10, symbols=False, min_lowercase=0, min_uppercase=0,
                          min_digits=0, min_symbols=0)  # fmt: skip
    assert count(free) == 62**10


def chi_square_p_value(statistic: float, degrees: int) -> float:
    """Upper tail of the chi-square distribution (Wilson-Hilferty; good for df >= 30)."""
    mean = 1 - 2 / (9 * degrees)
    z = ((statistic / degrees) ** (1 / 3) - mean) / math.sqrt(2 / (9 * degrees))
    return 0.5 * math.erfc(z / math.sqrt(2))


# A fixed, very low false-alarm rate: a correct generator fails this once in 10**9 runs.
FALSE_ALARM = 1e-9


def uniformity_p_value(policy: PasswordPolicy, sampler: Callable[[], str], per_cell: int) -> float:
    valid = sorted(brute_force(policy))
    draws = per_cell * len(valid)
    seen = Counter(sampler() for _ in range(draws))
    assert set(seen) <= set(valid)
    statistic = sum((seen[p] - per_cell) ** 2 / per_cell for p in valid)
    return chi_square_p_value(statistic, len(valid) - 1)


STRICT_TINY = tiny(length=4, min_digits=2, min_symbols=1)


def place_then_shuffle(policy: PasswordPolicy) -> str:
    """The usual (biased) method: required characters first, the rest from everything."""
    compiled = compile_policy(policy)
    chars = [secrets.choice(c.chars) for c in compiled.classes for _ in range(c.minimum)]
    alphabet = "".join(c.chars for c in compiled.classes)
    chars += [secrets.choice(alphabet) for _ in range(policy.length - len(chars))]
    for i in range(len(chars) - 1, 0, -1):
        j = secrets.randbelow(i + 1)
        chars[i], chars[j] = chars[j], chars[i]
    return "".join(chars)


def test_generation_is_uniform_chi_square() -> None:
    p_value = uniformity_p_value(STRICT_TINY, lambda: generate(STRICT_TINY), per_cell=60)
    assert p_value > FALSE_ALARM


def test_the_uniformity_test_catches_place_then_shuffle_bias() -> None:
    """The same test, fed the common place-then-shuffle method, must reject it."""
    p_value = uniformity_p_value(STRICT_TINY, lambda: place_then_shuffle(STRICT_TINY), per_cell=60)
    assert p_value < FALSE_ALARM


def test_class_counts_follow_exact_probabilities() -> None:
    """On a realistic policy, the number of digits has its exact distribution."""
    policy = PasswordPolicy(length=8, uppercase=False, symbols=False, min_uppercase=0,
                            min_symbols=0, min_lowercase=0, min_digits=1)  # fmt: skip
    total = count(policy)
    expected = {k: math.comb(8, k) * 10**k * 26 ** (8 - k) / total for k in range(1, 9)}
    draws = 40_000
    seen = Counter(sum(c.isdigit() for c in generate(policy)) for _ in range(draws))
    cells = [k for k in expected if expected[k] * draws >= 5]
    statistic = sum((seen[k] - expected[k] * draws) ** 2 / (expected[k] * draws) for k in cells)
    # Few degrees of freedom: use the exact tail for even df via the Poisson sum.
    assert _chi2_sf_small(statistic, len(cells) - 1) > FALSE_ALARM


def _chi2_sf_small(statistic: float, degrees: int) -> float:
    """Exact chi-square upper tail via the regularized gamma function series."""
    a, x = degrees / 2, statistic / 2
    term = total = 1 / a
    n = 1
    while term > 1e-17 * total:
        term *= x / (a + n)
        total += term
        n += 1
    lower = total * math.exp(-x + a * math.log(x) - math.lgamma(a))
    return max(0.0, 1 - lower)


def test_defaults_meet_the_policy() -> None:
    for _ in range(200):
        password = generate(PasswordPolicy())
        assert len(password) == 16
        assert any(c.islower() for c in password)
        assert any(c.isupper() for c in password)
        assert any(c.isdigit() for c in password)
        assert any(c in string.punctuation for c in password)


def test_the_support_analysts_policy() -> None:
    policy = PasswordPolicy(length=10, symbols=False, min_symbols=0, min_digits=3)
    for _ in range(200):
        password = generate(policy)
        assert len(password) == 10
        assert sum(c.isdigit() for c in password) >= 3
        assert any(c.islower() for c in password)
        assert any(c.isupper() for c in password)
        assert password.isalnum()


def test_avoid_ambiguous_and_exclude_and_include() -> None:
    policy = PasswordPolicy(length=64, avoid_ambiguous=True, exclude="xyz", include="é")
    seen = set("".join(generate(policy) for _ in range(200)))
    assert not seen & AMBIGUOUS
    assert not seen & set("xyz")
    assert "é" in seen


def test_exclude_wins_over_include() -> None:
    policy = PasswordPolicy(length=32, include="é", exclude="é")
    assert "é" not in "".join(generate(policy) for _ in range(100))


@pytest.mark.parametrize(
    ("policy", "field", "fragment"),
    [
        (PasswordPolicy(length=3), "length", "between 4 and 128"),
        (PasswordPolicy(length=129), "length", "between 4 and 128"),
        (PasswordPolicy(length=4, min_digits=3, min_symbols=3), "length", "add up to"),
        (PasswordPolicy(digits=False, min_digits=2), "min_digits", "turned off"),
        (PasswordPolicy(exclude=string.digits), "digits", "excluded"),
        (PasswordPolicy(min_lowercase=-1), "min_lowercase", "between 0"),
        (PasswordPolicy(symbol_set="ab!"), "symbol_set", "letters and digits"),
        (PasswordPolicy(symbol_set="! "), "symbol_set", "space"),
        (PasswordPolicy(exclude="\x00"), "exclude", "invisible"),
        (PasswordPolicy(include="\t"), "include", "space"),
        (PasswordPolicy(include="!" * 257), "include", "at most 256"),
        (
            PasswordPolicy(
                lowercase=False,
                uppercase=False,
                digits=False,
                symbols=False,
                min_lowercase=0,
                min_uppercase=0,
                min_digits=0,
                min_symbols=0,
            ),
            "lowercase",
            "no characters are left",
        ),
    ],
)
def test_policy_errors_name_the_field(policy: PasswordPolicy, field: str, fragment: str) -> None:
    with pytest.raises(PolicyError) as caught:
        generate(policy)
    assert field in caught.value.errors
    assert fragment in caught.value.errors[field]


def test_wordlist_is_the_eff_large_list() -> None:
    words = wordlist()
    assert len(words) == 7776 == len(set(words))
    assert words[0] == "abacus"


def test_passphrase_shape_and_exact_count() -> None:
    policy = PassphrasePolicy(words=5, separator=".", capitalize=True, add_digit=True)
    phrase = generate_passphrase(policy)
    parts = phrase.split(".")
    assert len(parts) == 5
    assert all(part[0].isupper() for part in parts)
    assert sum(c.isdigit() for c in phrase) == 1
    assert passphrase_count(policy) == 7776**5 * 10 * 5
    assert passphrase_count(PassphrasePolicy(words=6)) == 7776**6


@pytest.mark.parametrize(
    ("policy", "fragment"),
    [
        (PassphrasePolicy(words=2), "between 3 and 20"),
        (PassphrasePolicy(words=21), "between 3 and 20"),
        (PassphrasePolicy(separator="x"), "cannot separate"),
        (PassphrasePolicy(separator="a"), "cannot separate"),
        (PassphrasePolicy(separator=""), "capitalize"),
        (PassphrasePolicy(separator="\n"), "invisible"),
        (PassphrasePolicy(separator="______"), "at most 5"),
    ],
)
def test_passphrase_policy_errors(policy: PassphrasePolicy, fragment: str) -> None:
    with pytest.raises(PolicyError) as caught:
        generate_passphrase(policy)
    assert fragment in " ".join(caught.value.errors.values())


def test_strength_bands() -> None:
    assert strength(2**49).label == "weak"
    assert strength(2**50).label == "fair"
    assert strength(2**70).label == "strong"
    assert strength(2**90).label == "very strong"
    assert strength(2**41).half_space_seconds == (2**40 / 10**10, 2**40 / 10**12)
