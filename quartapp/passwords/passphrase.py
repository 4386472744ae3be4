"""Passphrases that meet a system's rules, drawn exactly uniformly at random.

Pure: no Quart, no I/O, randomness only from ``secrets`` (one ``randbelow`` per passphrase).

A passphrase is ``words`` words from the EFF long list joined by ``separator``. On request it
also carries what a system may demand:

* ``capitalize``: every word starts with a capital.
* ``add_capital``: exactly one word, any of them, starts with a capital (already met, and
  no extra choice, when ``capitalize`` is on).
* ``add_digit``: one digit, right after one of the words (any of them).
* ``add_symbol``: one symbol from ``phrase_symbols``, right after one of the words (any of
  them); when the digit and the symbol follow the same word, the digit comes first.
* ``max_length``: the whole passphrase is at most this many characters.

Exact count. Every choice (the words, the capital's word, the digit and its word, the symbol
and its word) gives a different passphrase, because each can be read back from the string:

1. The words hold no character of the separator (``words_apart``), and neither do digits
   (the separator has no letters or digits) nor symbols (``phrase_symbols`` shares no
   character with it). So with a separator, the passphrase splits back into its pieces, one
   per word; without one (``capitalize`` is then required), each piece starts at a capital,
   and only a word's first letter is ever a capital.
2. Each piece is the word, then maybe a digit, then maybe a symbol. The words hold no digits
   and, when a symbol is added, no character of ``phrase_symbols``, so a piece's trailing
   symbol and digit are exactly the added ones, and which piece holds them says after which
   word they went. The digit is always before the symbol, so their order carries no choice.
3. The rest of the piece is the word with perhaps a capital first letter. The words are
   lower case and their first letter has a one-letter capital, so the word and whether it
   took the capital are plain to see.

So the valid passphrases are in one-to-one correspondence with the choices, and their number
is (word tuples that fit) x (N capital places, or 1) x (10 N digits and places, or 1)
x (S N symbols and places, or 1). The capital, digit and symbol never change the length, but
the digit and symbol add one character each: under ``max_length`` only the word tuples whose
letters fit in what the separators, digit and symbol leave are allowed. Their number is a
dynamic program over the word list's lengths: F(k, b), the k-word tuples with at most b
letters, is the sum over lengths l of (words of length l) x F(k - 1, b - l).

Exactly uniform. One ``secrets.randbelow(count)`` is turned into the passphrase of that rank
(``PhraseSpace.unrank``): the capital, digit and symbol are mixed-radix digits of the rank,
and the words are unranked one at a time, retracing F (each word's length, then which word of
that length, weighted by how many tuples can still follow). That is a bijection from
``range(count)`` onto the valid passphrases, so each has probability exactly 1/count, word
choices are weighted correctly when a maximum length makes them depend on each other, and no
draw is ever retried. The entropy is exactly log2(count).
"""

from __future__ import annotations

import math
import secrets
import string
from dataclasses import dataclass, field
from functools import lru_cache

from quartapp.passwords.generator import (
    MAX_CHARSET_FIELD,
    MAX_SEPARATOR,
    MAX_WORDS,
    MIN_WORDS,
    PolicyError,
    wordlist,
)

DEFAULT_PHRASE_SYMBOLS = "!#$%&*+=?@^~"
# The symbols a passphrase may carry: ASCII punctuation, what systems count as a "symbol".
SYMBOL_CHOICES = string.punctuation
DIGIT_CHOICES = string.digits
# ``max_length``: anything from the shortest a system might ask for to far above the longest
# passphrase (20 nine-letter words, 19 five-character separators, a digit and a symbol: 277).
MIN_PHRASE_LENGTH = 10
MAX_PHRASE_LENGTH = 1024


@dataclass(frozen=True)
class PassphrasePolicy:
    words: int = 6
    separator: str = "_"
    capitalize: bool = False  # every word starts with a capital
    add_capital: bool = False  # exactly one word, chosen uniformly, starts with a capital
    add_digit: bool = False  # one digit after one of the words
    add_symbol: bool = False  # one of phrase_symbols after one of the words
    phrase_symbols: str = DEFAULT_PHRASE_SYMBOLS
    max_length: int | None = None  # the whole passphrase, in characters (None: no limit)


# Words ------------------------------------------------------------------------------------


def _plain(word: str) -> bool:
    """Lower case, no digits, no spaces, starting with a letter that has a one-letter capital:
    what lets a passphrase be read back (see the module's docstring). All of the EFF list."""
    return (
        word != ""
        and word == word.lower()
        and len(word[0].upper()) == 1
        and word[0].upper() != word[0]
        and not any(c.isdigit() or c.isspace() or not c.isprintable() for c in word)
    )


@lru_cache(maxsize=64)  # keyed by what a request sends: bounded, each holds ~7,776 words
def words_apart(separator: str) -> tuple[str, ...]:
    """The words a passphrase with this separator is drawn from: the list, but for words
    holding a character of the separator (with "-", the four hyphenated ones, such as
    "t-shirt"), which would let one passphrase be read two ways. (A passphrase with a symbol
    is drawn from ``words_apart(separator + phrase_symbols)`` for the same reason.)"""
    avoid = set(separator)
    return tuple(word for word in wordlist() if _plain(word) and not set(word) & avoid)


def _drawn_from(policy: PassphrasePolicy) -> tuple[str, ...]:
    avoid = policy.separator + (_unique(policy.phrase_symbols) if policy.add_symbol else "")
    return words_apart(avoid)


# Checks -----------------------------------------------------------------------------------


def _unique(text: str) -> str:
    return "".join(dict.fromkeys(text))


def _check_separator(policy: PassphrasePolicy, errors: dict[str, str]) -> None:
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


def _check_symbols(policy: PassphrasePolicy, errors: dict[str, str]) -> None:
    """Only when a symbol is asked for: otherwise the field is not used."""
    symbols = policy.phrase_symbols
    if not policy.add_symbol:
        return
    if len(symbols) > MAX_CHARSET_FIELD:
        errors["phrase_symbols"] = f"at most {MAX_CHARSET_FIELD} characters"
    elif not symbols:
        errors["phrase_symbols"] = "list at least one symbol, such as '!' or '#'"
    elif bad := next((c for c in symbols if not c.isprintable() or c.isspace()), None):
        errors["phrase_symbols"] = (
            f"{bad!r} is a space or an invisible character, which cannot be used here"
        )
    elif bad := next((c for c in symbols if c.isalnum()), None):
        errors["phrase_symbols"] = f"{bad!r} is a letter or a digit; list only symbols"
    elif bad := next((c for c in symbols if c not in SYMBOL_CHOICES), None):
        errors["phrase_symbols"] = f"{bad!r} is not an ASCII symbol; use symbols such as !#$%&*"
    elif "separator" not in errors and (
        shared := _unique("".join(c for c in symbols if c in policy.separator))
    ):
        errors["phrase_symbols"] = (
            f"{shared!r} also separates the words, which would let one passphrase be read "
            "two ways; remove it here or change the separator"
        )


def _check_fields(policy: PassphrasePolicy) -> None:
    """Everything but whether a passphrase fits in ``max_length`` (that needs the words)."""
    errors: dict[str, str] = {}
    if not MIN_WORDS <= policy.words <= MAX_WORDS:
        errors["words"] = f"must be between {MIN_WORDS} and {MAX_WORDS}"
    _check_separator(policy, errors)
    _check_symbols(policy, errors)
    if policy.max_length is not None and not (
        MIN_PHRASE_LENGTH <= policy.max_length <= MAX_PHRASE_LENGTH
    ):
        errors["max_length"] = (
            f"must be between {MIN_PHRASE_LENGTH} and {MAX_PHRASE_LENGTH}, or left empty"
        )
    if errors:
        raise PolicyError(errors)


# Counting and drawing ---------------------------------------------------------------------


@lru_cache(maxsize=65536)
def _tuples(histogram: tuple[tuple[int, int], ...], k: int, budget: int) -> int:
    """k-word tuples with at most ``budget`` letters in all, from words whose lengths are
    counted in ``histogram`` ((length, how many words), by length)."""
    if budget < 0:
        return 0
    if k == 0:
        return 1
    return sum(
        n * _tuples(histogram, k - 1, budget - length)
        for length, n in histogram
        if length <= budget
    )


@dataclass(frozen=True)
class PhraseSpace:
    """All the valid passphrases of a policy, counted, and each reachable from its rank."""

    words: int
    separator: str
    capitalize: bool
    capital_places: int  # N: one word, chosen, gets a capital; 1: no choice
    digit: bool
    symbols: str  # "" when no symbol is added
    budget: int  # the most letters the words may take together
    groups: tuple[tuple[int, tuple[str, ...]], ...] = field(repr=False)  # words by length
    histogram: tuple[tuple[int, int], ...] = field(repr=False)

    @property
    def word_tuples(self) -> int:
        return _tuples(self.histogram, self.words, self.budget)

    @property
    def extras(self) -> int:
        """Choices of the capital's word, the digit and its word, the symbol and its word."""
        n = self.words
        return (
            self.capital_places
            * (len(DIGIT_CHOICES) * n if self.digit else 1)
            * (len(self.symbols) * n if self.symbols else 1)
        )

    @property
    def count(self) -> int:
        return self.word_tuples * self.extras

    def unrank(self, rank: int) -> str:
        """The passphrase of this rank, for 0 <= rank < count: a bijection onto the valid ones."""
        if not 0 <= rank < self.count:
            raise ValueError("rank out of range")
        n = self.words
        rank, capital = divmod(rank, self.capital_places)
        digit_place = symbol_place = -1
        digit = symbol = ""
        if self.digit:
            rank, choice = divmod(rank, len(DIGIT_CHOICES) * n)
            digit_place, which = divmod(choice, len(DIGIT_CHOICES))
            digit = DIGIT_CHOICES[which]
        if self.symbols:
            rank, choice = divmod(rank, len(self.symbols) * n)
            symbol_place, which = divmod(choice, len(self.symbols))
            symbol = self.symbols[which]
        pieces = []
        budget = self.budget
        for place in range(n):
            for length, group in self.groups:
                following = _tuples(self.histogram, n - place - 1, budget - length)
                block = len(group) * following
                if rank < block:
                    which, rank = divmod(rank, following)
                    word = group[which]
                    budget -= length
                    break
                rank -= block
            else:  # pragma: no cover - the count says a word fits
                raise AssertionError("unrank ran past the count")
            if self.capitalize or (self.capital_places > 1 and place == capital):
                word = word[0].upper() + word[1:]
            if place == digit_place:
                word += digit
            if place == symbol_place:
                word += symbol
            pieces.append(word)
        return self.separator.join(pieces)


def _space(policy: PassphrasePolicy, drawn_from: tuple[str, ...]) -> PhraseSpace:
    """The policy's passphrases from these words (already apart from the separator and the
    symbols, and plain); fields already checked. ``PolicyError`` if none fits ``max_length``."""
    n = policy.words
    words = tuple(dict.fromkeys(drawn_from))
    if not words:
        raise PolicyError({"separator": "no word of the list is left with this separator"})
    lengths = sorted({len(word) for word in words})
    groups = tuple((length, tuple(w for w in words if len(w) == length)) for length in lengths)
    histogram = tuple((length, len(group)) for length, group in groups)
    symbols = _unique(policy.phrase_symbols) if policy.add_symbol else ""
    budget = n * lengths[-1]  # every tuple fits
    if policy.max_length is not None:
        fixed = (n - 1) * len(policy.separator) + policy.add_digit + bool(symbols)
        shortest = n * lengths[0] + fixed
        if policy.max_length < shortest:
            raise PolicyError(
                {
                    "max_length": f"the shortest passphrase of {n} words takes {shortest} "
                    f"characters, more than {policy.max_length}; allow more or use fewer words"
                }
            )
        budget = min(budget, policy.max_length - fixed)
    return PhraseSpace(
        words=n,
        separator=policy.separator,
        capitalize=policy.capitalize,
        capital_places=n if policy.add_capital and not policy.capitalize else 1,
        digit=policy.add_digit,
        symbols=symbols,
        budget=budget,
        groups=groups,
        histogram=histogram,
    )


@lru_cache(maxsize=256)
def compile_passphrase_policy(policy: PassphrasePolicy) -> PhraseSpace:
    """Check the policy and count its passphrases; ``PolicyError`` names each bad field."""
    _check_fields(policy)
    return _space(policy, _drawn_from(policy))


def check_passphrase_policy(policy: PassphrasePolicy) -> None:
    compile_passphrase_policy(policy)


def passphrase_count(policy: PassphrasePolicy) -> int:
    """Exact: every valid passphrase is counted once (see the module's docstring)."""
    return compile_passphrase_policy(policy).count


def passphrase_entropy_bits(policy: PassphrasePolicy) -> float:
    return math.log2(passphrase_count(policy))


def generate_passphrase(policy: PassphrasePolicy) -> str:
    space = compile_passphrase_policy(policy)
    return space.unrank(secrets.randbelow(space.count))
