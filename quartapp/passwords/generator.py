"""Passwords and passphrases that meet a policy, drawn exactly uniformly at random.

Pure: no Quart, no I/O, randomness only from ``secrets``.

Why not "retry until the rules hold" (the recipe in the ``secrets`` docs)? It is uniform,
but a strict policy accepts ~0.1% of draws. And why not "place the required characters,
fill the rest, shuffle" (what most generators do)? It is biased: some passwords come out far
more often than others, and the entropy it shows is overstated. Instead:

1. Make the character classes disjoint (exclusions first, extra characters their own class).
2. Count the valid passwords exactly. For classes of sizes s_i with minimums m_i, the number
   of strings of length j using the first i classes is
   W_i(j) = sum over k >= m_i of C(j, k) * s_i**k * W_{i-1}(j - k): choose the k positions of
   class i, fill them, and fill the rest with the earlier classes.
3. Draw one integer uniformly below N with ``secrets.randbelow`` and turn it into the
   password of that rank (``unrank``: a bijection that retraces the count: how many places
   the last class takes, which places, which characters, then the rest the same way).

Every valid password then has probability exactly 1/N, and the entropy is exactly log2 N.
"""

from __future__ import annotations

import math
import secrets
import string
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cache, lru_cache
from importlib.resources import files
from itertools import accumulate

MIN_LENGTH = 4
MAX_LENGTH = 128
MIN_WORDS = 3
MAX_WORDS = 20
MAX_CHARSET_FIELD = 256
MAX_SEPARATOR = 5
MAX_BATCH = 100

LOWERCASE = string.ascii_lowercase
UPPERCASE = string.ascii_uppercase
DIGITS = string.digits
DEFAULT_SYMBOLS = string.punctuation  # the 32 printable ASCII punctuation characters
# Characters that are easy to confuse in common fonts or when read aloud:
# zero and the letter O; one, l, I, |, i and !; 5 and S; 2 and Z; 8 and B; and the quotes.
AMBIGUOUS = frozenset("0Oo1lI|i!5S2Z8B`'\"")

CLASS_NAMES = ("lowercase", "uppercase", "digits", "symbols")

# Strength bands on the exact entropy, in bits (upper bounds; the last band is open).
STRENGTH_BANDS = ((50.0, "weak"), (70.0, "fair"), (90.0, "strong"))
VERY_STRONG = "very strong"
GUESS_RATES = (10**10, 10**12)  # guesses per second: a GPU rig, a large cluster


class PolicyError(ValueError):
    """The policy cannot be met; ``errors`` maps each bad field to what is wrong with it."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in errors.items()))
        self.errors = errors


@dataclass(frozen=True)
class PasswordPolicy:
    length: int = 16
    lowercase: bool = True
    uppercase: bool = True
    digits: bool = True
    symbols: bool = True
    min_lowercase: int = 1
    min_uppercase: int = 1
    min_digits: int = 1
    min_symbols: int = 1
    symbol_set: str = DEFAULT_SYMBOLS
    avoid_ambiguous: bool = False
    exclude: str = ""
    include: str = ""
    # At most this many of a class (None: no limit).
    max_lowercase: int | None = None
    max_uppercase: int | None = None
    max_digits: int | None = None
    max_symbols: int | None = None
    min_classes: int = 0  # characters from at least this many of the four classes
    max_consecutive: int | None = None  # no character more than this many times in a row
    first_character: str = "any"  # "any", "letter" or "alphanumeric"
    # Each: at least one character from a set, written as in the passwordrules syntax
    # ("lower, upper" is a letter; "digit, [!@#]"); a set given twice needs two.
    require: tuple[str, ...] = ()


@dataclass(frozen=True)
class PassphrasePolicy:
    words: int = 6
    separator: str = "_"
    capitalize: bool = False
    add_digit: bool = False


@dataclass(frozen=True)
class CharClass:
    name: str
    chars: str
    minimum: int


@dataclass(frozen=True)
class CompiledPolicy:
    """Disjoint classes and the exact count table of a valid policy."""

    length: int
    classes: tuple[CharClass, ...]
    # ways[i][j]: strings of length j over classes[:i + 1] meeting their minimums.
    ways: tuple[tuple[int, ...], ...] = field(repr=False)
    _cumulative: dict[tuple[int, int], tuple[int, ...]] = field(
        default_factory=dict, repr=False, compare=False, hash=False
    )

    @property
    def count(self) -> int:
        return self.ways[-1][self.length]

    def cumulative_weights(self, index: int, remaining: int) -> tuple[int, ...]:
        """Running totals of the weights of giving class ``index`` k of ``remaining`` places."""
        key = (index, remaining)
        if key not in self._cumulative:
            size = len(self.classes[index].chars)
            minimum = self.classes[index].minimum
            before = self.ways[index - 1] if index > 0 else (1,) + (0,) * self.length
            self._cumulative[key] = tuple(
                accumulate(
                    math.comb(remaining, k) * size**k * before[remaining - k] if k >= minimum else 0
                    for k in range(remaining + 1)
                )
            )
        return self._cumulative[key]


@dataclass(frozen=True)
class Strength:
    entropy_bits: float
    label: str
    # Seconds to try half of all possibilities at each rate in GUESS_RATES.
    half_space_seconds: tuple[float, ...]


def _bad_characters(text: str) -> str | None:
    for char in text:
        if not char.isprintable() or char.isspace():
            return f"{char!r} is a space or an invisible character, which cannot be used here"
    return None


def _unique(text: str) -> str:
    return "".join(dict.fromkeys(text))


def _check_text_fields(policy: PasswordPolicy, errors: dict[str, str]) -> None:
    for name in ("symbol_set", "exclude", "include"):
        value: str = getattr(policy, name)
        if len(value) > MAX_CHARSET_FIELD:
            errors[name] = f"at most {MAX_CHARSET_FIELD} characters"
        elif problem := _bad_characters(value):
            errors[name] = problem
    if "symbol_set" not in errors and any(c.isalnum() for c in policy.symbol_set):
        errors["symbol_set"] = "letters and digits have their own classes; list only symbols"


def _class_sets(policy: PasswordPolicy) -> list[tuple[str, bool, str, int]]:
    removed = set(policy.exclude) | (AMBIGUOUS if policy.avoid_ambiguous else set())
    sources = (LOWERCASE, UPPERCASE, DIGITS, _unique(policy.symbol_set))
    result = []
    for name, source in zip(CLASS_NAMES, sources, strict=True):
        chars = "".join(c for c in source if c not in removed)
        result.append((name, getattr(policy, name), chars, getattr(policy, f"min_{name}")))
    return result


@lru_cache(maxsize=256)
def compile_policy(policy: PasswordPolicy) -> CompiledPolicy:
    """Check the policy and build its classes and count table; ``PolicyError`` says why not."""
    errors: dict[str, str] = {}
    if not MIN_LENGTH <= policy.length <= MAX_LENGTH:
        errors["length"] = f"must be between {MIN_LENGTH} and {MAX_LENGTH}"
    _check_text_fields(policy, errors)
    classes: list[CharClass] = []
    total_minimum = 0
    for name, enabled, chars, minimum in _class_sets(policy):
        key = f"min_{name}"
        if not 0 <= minimum <= MAX_LENGTH:
            errors[key] = f"must be between 0 and {MAX_LENGTH}"
        elif not enabled:
            if minimum > 0:
                errors[key] = f"{name} are turned off, so the minimum must be 0"
        elif not chars:
            errors[name] = f"every one of the {name} is excluded; turn {name} off or allow some"
        else:
            classes.append(CharClass(name, chars, minimum))
            total_minimum += minimum
    if errors:
        raise PolicyError(errors)
    in_classes = set().union(*(c.chars for c in classes))
    removed = set(policy.exclude) | (AMBIGUOUS if policy.avoid_ambiguous else set())
    extra = "".join(c for c in _unique(policy.include) if c not in in_classes | removed)
    if extra:
        classes.append(CharClass("include", extra, 0))
    if not classes:
        raise PolicyError({"lowercase": "no characters are left: turn on a class or include some"})
    if total_minimum > policy.length:
        raise PolicyError(
            {"length": f"the minimums add up to {total_minimum}, more than the length"}
        )
    sizes = tuple(len(c.chars) for c in classes)
    minimums = tuple(c.minimum for c in classes)
    return CompiledPolicy(policy.length, tuple(classes), _ways(sizes, minimums, policy.length))


@cache
def _ways(
    sizes: tuple[int, ...], minimums: tuple[int, ...], length: int
) -> tuple[tuple[int, ...], ...]:
    table: list[tuple[int, ...]] = []
    previous = (1,) + (0,) * length  # no classes: only the empty string
    for size, minimum in zip(sizes, minimums, strict=True):
        row = tuple(
            sum(math.comb(j, k) * size**k * previous[j - k] for k in range(minimum, j + 1))
            for j in range(length + 1)
        )
        table.append(row)
        previous = row
    return tuple(table)


def _subset(rank: int, size: int, k: int) -> list[int]:
    """The ``rank``-th k-subset of range(size), in the combinatorial number system."""
    chosen = []
    for position in range(size - 1, -1, -1):
        if k == 0:
            break
        step = math.comb(position, k)
        if rank >= step:
            chosen.append(position)
            rank -= step
            k -= 1
    return chosen


def unrank(compiled: CompiledPolicy, rank: int) -> str:
    """The ``rank``-th valid password, for 0 <= rank < count: a bijection, so a uniform
    rank gives a uniform password. Mirrors the count: pick how many places the last class
    takes, which places, and its characters there, then fill the rest the same way."""
    password = [""] * compiled.length
    free = list(range(compiled.length))
    for index in range(len(compiled.classes) - 1, -1, -1):
        chars = compiled.classes[index].chars
        totals = compiled.cumulative_weights(index, len(free))
        k = bisect_right(totals, rank)
        rank -= totals[k - 1] if k > 0 else 0
        rank, subset_rank = divmod(rank, math.comb(len(free), k))
        rank, fill = divmod(rank, len(chars) ** k)
        places = _subset(subset_rank, len(free), k)
        for place in places:
            fill, digit = divmod(fill, len(chars))
            password[free[place]] = chars[digit]
        taken = set(places)
        free = [slot for i, slot in enumerate(free) if i not in taken]
    return "".join(password)


def generate_compiled(compiled: CompiledPolicy) -> str:
    """One uniform draw from ``secrets`` over all valid passwords, then unranked."""
    return unrank(compiled, secrets.randbelow(compiled.count))


def generate(policy: PasswordPolicy) -> str:
    return generate_compiled(compile_policy(policy))


def count(policy: PasswordPolicy) -> int:
    """The exact number of passwords the policy allows."""
    return compile_policy(policy).count


def entropy_bits(policy: PasswordPolicy) -> float:
    return math.log2(count(policy))


# Passphrases ------------------------------------------------------------------------------


@cache
def wordlist() -> tuple[str, ...]:
    """The EFF large wordlist (7,776 words, CC BY 3.0), as shipped by xkcdpass."""
    text = files("xkcdpass").joinpath("static/eff-long").read_text(encoding="utf-8")
    words = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(words) != 7776 or len(set(words)) != 7776:
        raise RuntimeError("the EFF wordlist shipped by xkcdpass is not the expected 7,776 words")
    return words


def check_passphrase_policy(policy: PassphrasePolicy) -> None:
    errors: dict[str, str] = {}
    if not MIN_WORDS <= policy.words <= MAX_WORDS:
        errors["words"] = f"must be between {MIN_WORDS} and {MAX_WORDS}"
    separator = policy.separator
    if len(separator) > MAX_SEPARATOR:
        errors["separator"] = f"at most {MAX_SEPARATOR} characters"
    elif any(not c.isprintable() for c in separator):
        errors["separator"] = "invisible characters cannot be used"
    elif any(c.isalnum() for c in separator):
        # Words are letters: a separator of letters or digits (the digit goes after a
        # word) would let one passphrase be read two ways, and the count would be wrong.
        errors["separator"] = "letters and digits cannot separate words; try '-', '_', '.' or ' '"
    elif not separator and not policy.capitalize:
        errors["separator"] = "without a separator, turn on capitalize so the words stay apart"
    if errors:
        raise PolicyError(errors)


@cache
def words_apart(separator: str) -> tuple[str, ...]:
    """The words a passphrase with this separator is drawn from: the list, but for words
    holding a character of the separator (with "-", the four hyphenated ones, such as
    "t-shirt"), which would let one passphrase be read two ways."""
    return tuple(word for word in wordlist() if not set(word) & set(separator))


def passphrase_count(policy: PassphrasePolicy) -> int:
    """Exact: the words can always be told apart, and the digit's place is visible."""
    check_passphrase_policy(policy)
    total: int = len(words_apart(policy.separator)) ** policy.words
    if policy.add_digit:
        total *= 10 * policy.words  # which digit, after which word
    return total


def generate_passphrase(policy: PassphrasePolicy) -> str:
    check_passphrase_policy(policy)
    drawn_from = words_apart(policy.separator)
    words = [secrets.choice(drawn_from) for _ in range(policy.words)]
    if policy.capitalize:
        words = [word[0].upper() + word[1:] for word in words]
    if policy.add_digit:
        place = secrets.randbelow(policy.words)
        words[place] += str(secrets.randbelow(10))
    return policy.separator.join(words)


# Strength ---------------------------------------------------------------------------------


def strength(total: int) -> Strength:
    """Label and time to search half the space, from the exact number of possibilities."""
    bits = math.log2(total)
    label = next((name for limit, name in STRENGTH_BANDS if bits < limit), VERY_STRONG)
    return Strength(bits, label, tuple(total / 2 / rate for rate in GUESS_RATES))
