"""Passwords and passphrases that meet a policy, drawn exactly uniformly at random.

Pure: no Quart, no I/O, randomness only from ``secrets``.

Why not "retry until the rules hold" (the recipe in the ``secrets`` docs)? It is uniform,
but a strict policy accepts ~0.1% of draws, and its running time depends on luck. And why
not "place the required characters, fill the rest, shuffle" (what most generators do)? It
is biased: some passwords come out far more often than others, and the entropy it shows is
overstated. Instead:

1. Make the character classes disjoint (exclusions first, extra characters their own class).
2. Count the valid passwords exactly (``counting``: class by class when only each class's
   least and most counts matter, place by place when the rules look at more).
3. Draw one integer uniformly below that count with ``secrets.randbelow`` and turn it into
   the password of that rank (``unrank``, a bijection that retraces the count).

Every valid password then has probability exactly 1/N, and the entropy is exactly log2 N.
"""

from __future__ import annotations

import math
import re
import secrets
import string
from collections import OrderedDict
from dataclasses import dataclass, field
from functools import cache
from importlib.resources import files

from quartapp.passwords.counting import (
    Atom,
    ClassTable,
    Counter,
    Group,
    PositionTable,
    TooComplex,
)

MIN_LENGTH = 4
MAX_LENGTH = 128
MIN_WORDS = 3
MAX_WORDS = 20
MAX_CHARSET_FIELD = 256
MAX_SEPARATOR = 5
MAX_BATCH = 100
MAX_REQUIREMENTS = 16

LOWERCASE = string.ascii_lowercase
UPPERCASE = string.ascii_uppercase
DIGITS = string.digits
DEFAULT_SYMBOLS = string.punctuation  # the 32 printable ASCII punctuation characters
# Characters that are easy to confuse in common fonts or when read aloud:
# zero and the letter O; one, l, I, |, i and !; 5 and S; 2 and Z; 8 and B; and the quotes.
AMBIGUOUS = frozenset("0Oo1lI|i!5S2Z8B`'\"")

CLASS_NAMES = ("lowercase", "uppercase", "digits", "symbols")
# What the first character may be: any, or one for which the test holds.
FIRST_CHARACTERS = {"any": None, "letter": str.isalpha, "alphanumeric": str.isalnum}
# The names a requirement's set may use: the passwordrules syntax's and ours.
SET_NAMES = {
    "lower": "lowercase",
    "upper": "uppercase",
    "digit": "digits",
    "special": "symbols",
    **{name: name for name in CLASS_NAMES},
}

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
    # ("lower, upper" is a letter; "digit, [!@#]"); a set given twice needs two. Each is
    # a condition of its own: "digit" and "digit, special" are both met by one digit.
    require: tuple[str, ...] = ()


@dataclass(frozen=True)
class CharClass:
    name: str
    chars: str
    minimum: int
    maximum: int | None = None


@dataclass(frozen=True)
class CompiledPolicy:
    """Disjoint classes and the exact count table of a valid policy."""

    length: int
    classes: tuple[CharClass, ...]
    table: ClassTable | PositionTable = field(repr=False, compare=False)

    @property
    def count(self) -> int:
        return self.table.count


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


def _check_rule_fields(policy: PasswordPolicy, errors: dict[str, str]) -> None:
    for name in CLASS_NAMES:
        most, least = getattr(policy, f"max_{name}"), getattr(policy, f"min_{name}")
        if most is None or not getattr(policy, name):
            continue  # a class turned off needs no most
        if not 0 <= most <= MAX_LENGTH:
            errors[f"max_{name}"] = f"must be between 0 and {MAX_LENGTH}"
        elif most == 0:
            errors[f"max_{name}"] = f"to leave {name} out, turn {name} off"
        elif most < least:
            errors[f"max_{name}"] = f"must be at least the minimum, {least}"
    if not 0 <= policy.min_classes <= len(CLASS_NAMES):
        errors["min_classes"] = f"must be between 0 and {len(CLASS_NAMES)}"
    if policy.max_consecutive is not None and not 1 <= policy.max_consecutive <= MAX_LENGTH:
        errors["max_consecutive"] = f"must be between 1 and {MAX_LENGTH}"
    if policy.first_character not in FIRST_CHARACTERS:
        errors["first_character"] = "must be 'any', 'letter' or 'alphanumeric'"
    if len(policy.require) > MAX_REQUIREMENTS:
        errors["require"] = f"at most {MAX_REQUIREMENTS} requirements"
    elif any(len(text) > MAX_CHARSET_FIELD for text in policy.require):
        errors["require"] = f"each requirement is at most {MAX_CHARSET_FIELD} characters"


def _class_sets(policy: PasswordPolicy) -> list[tuple[str, bool, str, int, int | None]]:
    removed = set(policy.exclude) | (AMBIGUOUS if policy.avoid_ambiguous else set())
    sources = (LOWERCASE, UPPERCASE, DIGITS, _unique(policy.symbol_set))
    result = []
    for name, source in zip(CLASS_NAMES, sources, strict=True):
        chars = "".join(c for c in source if c not in removed)
        enabled = getattr(policy, name)
        result.append(
            (name, enabled, chars, getattr(policy, f"min_{name}"), getattr(policy, f"max_{name}"))
        )
    return result


# A set's items: a name, or characters in brackets; a bracketed set ends at the first "]"
# followed by "," or the end (so "]" can be listed last, as the passwordrules syntax says).
_SET_ITEM = re.compile(r"\s*(\[(?:[^\]]|\](?!\s*(?:,|$)))*\]|[A-Za-z-]+)\s*(?:,|$)")


_SET_ENDS = re.compile(r"\s*(?:[,;]|$)")


def split_requirements(text: str) -> tuple[str, ...]:
    """Requirements written in one box, split at each ";" outside brackets."""
    items, current, inside = [], "", False
    for place, char in enumerate(text):
        if inside:
            inside = not (char == "]" and _SET_ENDS.match(text, place + 1))
        elif char == "[":
            inside = True
        elif char == ";":
            items.append(current)
            current = ""
            continue
        current += char
    items.append(current)
    return tuple(item.strip() for item in items if item.strip())


def requirement_chars(text: str, in_use: dict[str, str]) -> str:
    """The characters of one requirement's set (``in_use``: each class's characters)."""
    chars, position = "", 0
    if not text.strip():
        raise ValueError("a requirement is empty; name a class such as 'lower, upper'")
    while position < len(text):
        match = _SET_ITEM.match(text, position)
        if match is None or match.end() == position:
            raise ValueError(f"cannot read {text[position : position + 20]!r} in {text!r}")
        item = match.group(1)
        if item.startswith("["):
            chars += item[1:-1]
        elif item.lower() in SET_NAMES:
            chars += in_use.get(SET_NAMES[item.lower()], "")
        else:
            raise ValueError(f"{item!r} is not a class: use lower, upper, digit or special")
        position = match.end()
    return _unique(chars)


def _requirements(
    policy: PasswordPolicy, classes: list[CharClass], errors: dict[str, str]
) -> dict[frozenset[str], int]:
    """Each distinct set required, with how many of it (a set given twice needs two)."""
    in_use = {c.name: c.chars for c in classes}
    alphabet = set().union(*(c.chars for c in classes))
    found: dict[frozenset[str], int] = {}
    for text in policy.require:
        try:
            chars = requirement_chars(text, in_use)
        except ValueError as error:
            errors["require"] = str(error)
            break
        if not chars:
            errors["require"] = f"{text!r} names no character in use (is its class off?)"
            break
        if unused := "".join(c for c in chars if c not in alphabet):
            errors["require"] = f"{unused!r} in {text!r} are not among the characters in use"
            break
        key = frozenset(chars)
        found[key] = found.get(key, 0) + 1
    return found


class _CompiledCache:
    """The compiled policies last used, within a budget of the numbers their tables hold:
    a count table under a run limit may hold a hundred thousand large numbers, so a count
    of entries alone would not bound the memory."""

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self._entries: OrderedDict[PasswordPolicy, CompiledPolicy] = OrderedDict()
        self._held = 0

    def get(self, policy: PasswordPolicy) -> CompiledPolicy | None:
        found = self._entries.get(policy)
        if found is not None:
            self._entries.move_to_end(policy)
        return found

    def put(self, policy: PasswordPolicy, compiled: CompiledPolicy) -> None:
        self._entries[policy] = compiled
        self._held += compiled.table.size
        while self._held > self.budget and len(self._entries) > 1:
            _, dropped = self._entries.popitem(last=False)
            self._held -= dropped.table.size

    def clear(self) -> None:
        self._entries.clear()
        self._held = 0


COMPILED = _CompiledCache(budget=500_000)  # numbers: about 50 MB at most


def compile_policy(policy: PasswordPolicy) -> CompiledPolicy:
    """Check the policy and build its classes and count table; ``PolicyError`` says why not."""
    compiled = COMPILED.get(policy)
    if compiled is None:
        compiled = _compile(policy)
        COMPILED.put(policy, compiled)
    return compiled


def _compile(policy: PasswordPolicy) -> CompiledPolicy:
    errors: dict[str, str] = {}
    if not MIN_LENGTH <= policy.length <= MAX_LENGTH:
        errors["length"] = f"must be between {MIN_LENGTH} and {MAX_LENGTH}"
    _check_text_fields(policy, errors)
    _check_rule_fields(policy, errors)
    classes: list[CharClass] = []
    total_minimum = 0
    for name, enabled, chars, minimum, maximum in _class_sets(policy):
        key = f"min_{name}"
        if not 0 <= minimum <= MAX_LENGTH:
            errors[key] = f"must be between 0 and {MAX_LENGTH}"
        elif not enabled:
            if minimum > 0:
                errors[key] = f"{name} are turned off, so the minimum must be 0"
        elif not chars:
            errors[name] = f"every one of the {name} is excluded; turn {name} off or allow some"
        else:
            classes.append(CharClass(name, chars, minimum, maximum))
            total_minimum += minimum
    if errors:
        raise PolicyError(errors)
    named = len(classes)
    if policy.min_classes > named:
        errors["min_classes"] = f"only {named} of the four classes are turned on"
    in_classes = set().union(*(c.chars for c in classes))
    removed = set(policy.exclude) | (AMBIGUOUS if policy.avoid_ambiguous else set())
    extra = "".join(c for c in _unique(policy.include) if c not in in_classes | removed)
    if extra:
        classes.append(CharClass("include", extra, 0))
    if not classes:
        raise PolicyError({"lowercase": "no characters are left: turn on a class or include some"})
    required = _requirements(policy, classes, errors)
    if errors:
        raise PolicyError(errors)
    if total_minimum > policy.length:
        raise PolicyError(
            {"length": f"the minimums add up to {total_minimum}, more than the length"}
        )
    try:
        table = _table(policy, classes, named, required)
    except TooComplex:
        message = "these rules together are too many to count exactly; shorten it or drop a limit"
        raise PolicyError({"length": message}) from None
    if table.count == 0:
        raise PolicyError(
            {"length": f"no password of {policy.length} characters meets all these rules"}
        )
    return CompiledPolicy(policy.length, tuple(classes), table)


def _table(
    policy: PasswordPolicy,
    classes: list[CharClass],
    named: int,
    required: dict[frozenset[str], int],
) -> ClassTable | PositionTable:
    """The cheapest table that counts this policy exactly."""
    # A requirement of one whole class is that class's minimum (each a condition of its own).
    minimums = [c.minimum for c in classes]
    for index, group in enumerate(classes):
        need = required.pop(frozenset(group.chars), 0)
        minimums[index] = max(minimums[index], need)
    min_classes = policy.min_classes
    if sum(1 for m in minimums[:named] if m > 0) >= min_classes:
        min_classes = 0  # already met by the minimums
    starts = FIRST_CHARACTERS[policy.first_character]
    if starts is not None and all(starts(c) for group in classes for c in group.chars):
        starts = None
    run_limit = policy.max_consecutive
    if run_limit is not None and run_limit >= policy.length:
        run_limit = None
    if not required and not min_classes and starts is None and run_limit is None:
        return ClassTable(
            policy.length,
            [Group(c.chars, m, c.maximum) for c, m in zip(classes, minimums, strict=True)],
        )
    counters: list[Counter] = []
    class_counter: dict[int, int] = {}
    for index, group in enumerate(classes):
        if minimums[index] or group.maximum is not None or (min_classes and index < named):
            class_counter[index] = len(counters)
            counters.append(Counter(minimums[index], group.maximum))
    sets = list(required)
    counters.extend(Counter(required[chars]) for chars in sets)
    first_set = len(counters) - len(sets)
    atoms: list[Atom] = []
    for index, group in enumerate(classes):
        # Characters of a class fall in one atom when every rule treats them alike.
        kinds: dict[tuple[bool, tuple[bool, ...]], str] = {}
        for char in group.chars:
            key = (starts is None or starts(char), tuple(char in chars for chars in sets))
            kinds[key] = kinds.get(key, "") + char
        for (may_start, member), chars in kinds.items():
            own = (class_counter[index],) if index in class_counter else ()
            others = tuple(first_set + i for i, inside in enumerate(member) if inside)
            atoms.append(Atom(chars, own + others, may_start))
    nonzero = (
        (tuple(class_counter[i] for i in range(named)), min_classes) if min_classes else ((), 0)
    )
    return PositionTable(policy.length, atoms, counters, nonzero=nonzero, run_limit=run_limit)


def unrank(compiled: CompiledPolicy, rank: int) -> str:
    """The ``rank``-th valid password, for 0 <= rank < count: a bijection, so a uniform
    rank gives a uniform password."""
    return compiled.table.unrank(rank)


def generate_compiled(compiled: CompiledPolicy) -> str:
    """One uniform draw from ``secrets`` over all valid passwords, then unranked."""
    return compiled.table.unrank(secrets.randbelow(compiled.count))


def generate(policy: PasswordPolicy) -> str:
    return generate_compiled(compile_policy(policy))


def count(policy: PasswordPolicy) -> int:
    """The exact number of passwords the policy allows."""
    return compile_policy(policy).count


def entropy_bits(policy: PasswordPolicy) -> float:
    return math.log2(count(policy))


# Passphrases' words (the rest is in ``passphrase``) ---------------------------------------


@cache
def wordlist() -> tuple[str, ...]:
    """The EFF large wordlist (7,776 words, CC BY 3.0), as shipped by xkcdpass."""
    text = files("xkcdpass").joinpath("static/eff-long").read_text(encoding="utf-8")
    words = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(words) != 7776 or len(set(words)) != 7776:
        raise RuntimeError("the EFF wordlist shipped by xkcdpass is not the expected 7,776 words")
    return words


# Strength ---------------------------------------------------------------------------------


def strength(total: int) -> Strength:
    """Label and time to search half the space, from the exact number of possibilities."""
    bits = math.log2(total)
    label = next((name for limit, name in STRENGTH_BANDS if bits < limit), VERY_STRONG)
    return Strength(bits, label, tuple(total / 2 / rate for rate in GUESS_RATES))
