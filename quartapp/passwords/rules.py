"""Apple's ``passwordrules`` language, read exactly into a ``PasswordPolicy``.

The language (https://developer.apple.com/password-rules/, reference parser
``tools/PasswordRulesParser.js`` in apple/password-manager-resources) is a list of
``name: value`` rules separated by ``;``:

- ``minlength: N`` / ``maxlength: N``: the length (repeated: the strictest counts);
- ``max-consecutive: N``: no character more than N times in a row (repeated: the strictest);
- ``required: SET``: at least one character from SET (twice: two, and so on); each set is
  a condition of its own, so one character may meet two sets that share it;
- ``allowed: SET``: characters that may be used.

A SET is a comma-separated list of named classes (``upper``, ``lower``, ``digit``,
``special`` (space and the ASCII punctuation), ``ascii-printable``, ``unicode``) and custom
sets in brackets, such as ``[-_!]``, where ``-`` counts only as the first character and
``]`` only as the last (written ``]]``); other characters in brackets that are not
printable ASCII are ignored, as Apple's parser ignores them. The characters allowed are
those of every ``allowed`` and ``required`` rule, or all of printable ASCII if none is given.

The policy says exactly what the rules say, or ``PolicyError({"rules": reason})`` says why it
cannot; nothing is approximated. The one exception only makes passwords stricter and is
noted: characters the generator never uses (the space, and anything outside printable ASCII,
which is how ``unicode`` is read) are left out.

Where Apple's parser reports an error (an unknown rule or class, a stray character, a
"-" that is not first in brackets) and goes on with less, this module refuses with the
reason instead. It is more
lenient only where the meaning is plain: rule names in any case, spaces before ``:`` and
after a number, and empty rules (``;;``). Like Apple's parser, it ignores rules with an
empty value or a value of 0.
"""

from __future__ import annotations

import string
from collections import Counter
from dataclasses import dataclass, field

from quartapp.passwords.generator import (
    AMBIGUOUS,
    DEFAULT_SYMBOLS,
    MAX_LENGTH,
    MIN_LENGTH,
    PasswordPolicy,
    PolicyError,
    compile_policy,
)

__all__ = [
    "DEFAULT_LENGTH",
    "MAX_RULES_TEXT",
    "SPECIAL",
    "ImportedRules",
    "describe_rules",
    "import_rules",
    "set_characters",
]

MAX_RULES_TEXT = 1000
DEFAULT_LENGTH = 20  # the length picked from a range, when the range allows it
ASCII_PRINTABLE = "".join(chr(code) for code in range(0x20, 0x7F))  # " " to "~"
# Apple's "special": " " to "/", ":" to "@", "[" to "`" and "{" to "~".
SPECIAL = " " + string.punctuation
USABLE = frozenset(ASCII_PRINTABLE) - {" "}  # what the generator can put in a password
NAMED_CLASSES: dict[str, str] = {
    "upper": string.ascii_uppercase,
    "lower": string.ascii_lowercase,
    "digit": string.digits,
    "special": SPECIAL,
    "ascii-printable": ASCII_PRINTABLE,
    "unicode": ASCII_PRINTABLE,  # read as printable ASCII: the generator uses nothing else
}
RULE_NAMES = ("minlength", "maxlength", "max-consecutive", "required", "allowed")
_WHITESPACE = " \f\n\r\t"
_MAX_DIGITS = 9
# Classes of the policy, with the names of the rules' classes.
_POLICY_CLASSES = (
    ("uppercase", "upper", string.ascii_uppercase),
    ("lowercase", "lower", string.ascii_lowercase),
    ("digits", "digit", string.digits),
)


@dataclass(frozen=True)
class ImportedRules:
    """A policy saying exactly what the rules say, the length range the rules give
    (``None``: not limited), and notes on characters left out."""

    policy: PasswordPolicy
    notes: tuple[str, ...]
    min_length: int | None = None
    max_length: int | None = None

    @property
    def length_range(self) -> tuple[int, int]:
        """The lengths the rules allow that the generator can make."""
        return (
            max(MIN_LENGTH, self.min_length or MIN_LENGTH),
            min(MAX_LENGTH, self.max_length or MAX_LENGTH),
        )

    def describe(self) -> list[str]:
        return describe_rules(self.policy, self.min_length, self.max_length)


# --- Reading the text ------------------------------------------------------------------


@dataclass(frozen=True)
class _Set:
    """A ``required``/``allowed`` value: the printable ASCII characters it names."""

    chars: frozenset[str]
    unicode: bool = False  # names "unicode"
    ignored: str = ""  # characters in brackets that are not printable ASCII, as Apple does


@dataclass
class _Parsed:
    min_length: int | None = None
    max_length: int | None = None
    max_consecutive: int | None = None
    required: list[tuple[str, _Set]] = field(default_factory=list)  # (text, set)
    allowed: list[_Set] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


class _Reader:
    """Apple's grammar, position by position, refusing where Apple's parser gives up."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.position = 0

    def error(self, message: str) -> PolicyError:
        return PolicyError({"rules": message})

    @property
    def here(self) -> str:
        return self.text[self.position] if self.position < len(self.text) else ""

    def at_end(self) -> bool:
        return self.position >= len(self.text)

    def skip_space(self) -> None:
        while not self.at_end() and self.here in _WHITESPACE:
            self.position += 1

    def identifier(self) -> str:
        start = self.position
        while not self.at_end() and (
            (self.here.isascii() and self.here.isalpha()) or self.here == "-"
        ):
            self.position += 1
        return self.text[start : self.position]

    def fragment(self, stop: str = ";") -> str:
        end = min((i for c in stop if (i := self.text.find(c, self.position)) >= 0), default=None)
        return self.text[self.position : end][:30].strip()

    def rules(self, parsed: _Parsed) -> None:
        self.skip_space()
        while not self.at_end():
            if self.here != ";":
                self.rule(parsed)
                self.skip_space()
                if not self.at_end() and self.here != ";":
                    raise self.error(f"expected ';' before {self.fragment()!r}")
            self.position += 1  # the ";" (empty rules are skipped)
            self.skip_space()

    def rule(self, parsed: _Parsed) -> None:
        name = self.identifier().lower()
        if name not in RULE_NAMES:
            word = name or self.fragment(":;")
            raise self.error(
                f"unknown rule {word!r}: the rules are minlength, maxlength, required, "
                "allowed and max-consecutive"
            )
        self.skip_space()
        if self.here != ":":
            raise self.error(f"{name!r} needs a ':' after the rule name")
        self.position += 1
        self.skip_space()
        if self.at_end() or self.here == ";":
            parsed.notes.append(f"'{name}:' has no value and is ignored.")
            return
        if name in ("required", "allowed"):
            start = self.position
            value = self.value()
            if name == "allowed":
                parsed.allowed.append(value)
            else:
                parsed.required.append((self.text[start : self.position].strip(), value))
            return
        number = self.number(name)
        if number == 0:
            parsed.notes.append(f"'{name}: 0' is ignored, as Apple's parser ignores it.")
        elif name == "minlength":
            parsed.min_length = max(number, parsed.min_length or 0)
        elif name == "maxlength":
            parsed.max_length = min(number, parsed.max_length or number)
        else:
            parsed.max_consecutive = min(number, parsed.max_consecutive or number)

    def number(self, name: str) -> int:
        start = self.position
        while not self.at_end() and self.here in string.digits:
            self.position += 1
        digits = self.text[start : self.position]
        self.skip_space()
        if not digits or not (self.at_end() or self.here == ";"):
            self.position = start
            raise self.error(f"{name} must be a whole number, not {self.fragment()!r}")
        if len(digits) > _MAX_DIGITS:
            raise self.error(f"{name} is too large")
        return int(digits)

    def value(self) -> _Set:
        chars: set[str] = set()
        unicode = False
        ignored = ""
        while True:
            if self.here == "[":
                custom, dropped = self.custom_set()
                chars.update(custom)
                ignored += dropped
            else:
                name = self.identifier()
                if name.lower() not in NAMED_CLASSES:
                    word = name or self.fragment(",;")
                    raise self.error(
                        f"unknown character class {word!r}: the classes are upper, lower, "
                        "digit, special, ascii-printable, unicode, or characters in [...]"
                    )
                unicode = unicode or name.lower() == "unicode"
                chars.update(NAMED_CLASSES[name.lower()])
            self.skip_space()
            if self.at_end() or self.here == ";":
                return _Set(frozenset(chars), unicode, ignored)
            if self.here != ",":
                raise self.error(f"expected ',' or ';' before {self.fragment(',;')!r}")
            self.position += 1
            self.skip_space()
            if self.at_end() or self.here == ";":
                raise self.error("a ',' must be followed by another class or [...]")

    def custom_set(self) -> tuple[list[str], str]:
        """Apple's ``_parseCustomCharacterClass``: the characters up to the first "]"; a
        second "]" right after it makes it a character; "-" counts only first."""
        text, start = self.text, self.position
        self.position += 1
        first = self.position
        result: list[str] = []
        dropped = ""
        while self.position < len(text):
            char = text[self.position]
            self.position += 1
            if not " " <= char <= "~":
                dropped += char
                continue
            if char == "-" and self.position - 1 > first:
                raise self.error(
                    "a '-' in [...] must be its first character; "
                    f"move it to the front in {text[start : start + 30]!r}"
                )
            result.append(char)
            if char == "]":
                break
        if result and result[-1] == "]":
            if self.here == "]":  # "]]": the first one is a character
                self.position += 1
                return result, dropped
            result.pop()
            if not self.at_end() and self.here not in _WHITESPACE + ",;":
                raise self.error(
                    "a ']' in [...] must be its last character, written ']]'; "
                    f"found {text[start : self.position + 10]!r}"
                )
            return result, dropped
        self.position = start
        raise self.error(f"a '[' is not closed by ']' in {self.fragment()!r}")


def _parse(text: str) -> _Parsed:
    if len(text) > MAX_RULES_TEXT:
        raise PolicyError({"rules": f"at most {MAX_RULES_TEXT} characters"})
    if not text.strip():
        raise PolicyError({"rules": "paste a rule such as 'minlength: 10; required: digit'"})
    parsed = _Parsed()
    _Reader(text).rules(parsed)
    return parsed


# --- Rules into a policy ---------------------------------------------------------------


def _set_text(chars: frozenset[str]) -> str:
    """A set in the rules' syntax: named classes, then the rest in brackets ("-" first,
    "]" last, as Apple writes them)."""
    parts: list[str] = []
    rest = set(chars)
    for name in ("upper", "lower", "digit"):
        if set(NAMED_CLASSES[name]) <= rest:
            parts.append(name)
            rest -= set(NAMED_CLASSES[name])
    if set(string.punctuation) <= rest:
        parts.append("special")
        rest -= set(SPECIAL)
    if rest:
        middle = "".join(sorted(rest - {"-", "]"}))
        parts.append(
            "[" + ("-" if "-" in rest else "") + middle + ("]" if "]" in rest else "") + "]"
        )
    return ", ".join(parts)


def set_characters(text: str) -> str:
    """The characters a set written in the rules' syntax (``"upper, lower"``,
    ``"digit, [!@#]"``) stands for, as the generator uses them: printable ASCII without
    the space, in ASCII order. ``PolicyError({"rules": ...})`` if it cannot be read."""
    reader = _Reader(text)
    reader.skip_space()
    if reader.at_end():
        raise PolicyError({"rules": "the set is empty"})
    value = reader.value()
    if not reader.at_end():
        raise PolicyError({"rules": f"expected the end of the set, found {reader.fragment()!r}"})
    return "".join(sorted(value.chars & USABLE))


def _left_out_notes(parsed: _Parsed) -> list[str]:
    values = [value for _, value in parsed.required] + parsed.allowed
    notes: list[str] = []
    ignored = "".join(dict.fromkeys("".join(value.ignored for value in values)))
    if ignored:
        shown = ", ".join(repr(char) for char in ignored[:10])
        notes.append(
            f"Characters that are not printable ASCII ({shown}) are left out: the generator "
            "never uses them, and Apple's parser ignores them in [...]."
        )
    if any(value.unicode for value in values):
        notes.append(
            "'unicode' was read as ASCII letters, digits and symbols: the generator uses no "
            "other characters."
        )
    elif not values or any(" " in value.chars for value in values):
        notes.append("The rules allow a space; the generator never uses one.")
    return notes


def _length(parsed: _Parsed, preferred: int, needed: int) -> int:
    if parsed.min_length is not None and parsed.min_length > MAX_LENGTH:
        raise PolicyError({"rules": f"minlength is above {MAX_LENGTH}, the longest length here"})
    if parsed.max_length is not None and parsed.max_length < MIN_LENGTH:
        raise PolicyError({"rules": f"maxlength is below {MIN_LENGTH}, the shortest length here"})
    if parsed.min_length and parsed.max_length and parsed.min_length > parsed.max_length:
        raise PolicyError({"rules": "minlength is more than maxlength"})
    low = max(MIN_LENGTH, parsed.min_length or MIN_LENGTH)
    high = min(MAX_LENGTH, parsed.max_length or MAX_LENGTH)
    length = min(high, max(low, preferred))
    return max(length, min(high, needed))  # room for every required character, if allowed


def import_rules(text: str, preferred_length: int = DEFAULT_LENGTH) -> ImportedRules:
    """The policy that says exactly what ``text`` says; its length is the longest the rules
    allow up to ``preferred_length``, but at least their minlength.

    ``PolicyError({"rules": reason})`` when the text cannot be read, the rules cannot be
    met, or they say something the policy cannot say exactly."""
    parsed = _parse(text)
    notes = parsed.notes + _left_out_notes(parsed)
    allowed: set[str] = set()
    for value in [value for _, value in parsed.required] + parsed.allowed:
        allowed |= value.chars
    usable = (allowed or set(ASCII_PRINTABLE)) & USABLE
    if not usable:
        raise PolicyError({"rules": "the rules allow only a space, which is never used here"})
    symbols = "".join(sorted(usable & set(string.punctuation)))
    enabled = {name: set(chars) <= usable for name, _, chars in _POLICY_CLASSES}
    include = "".join(
        char
        for name, _, chars in _POLICY_CLASSES
        if not enabled[name]
        for char in chars
        if char in usable
    )
    minimums = Counter[str]()
    require: list[str] = []
    for written, value in parsed.required:
        chars = value.chars & USABLE
        if not value.chars and not value.ignored:
            raise PolicyError({"rules": f"'required: {written}' names no characters"})
        if not chars:
            raise PolicyError(
                {"rules": f"'required: {written}' asks for characters never used here"}
            )
        named = next(
            (name for name, _, class_chars in _POLICY_CLASSES if chars == set(class_chars)), None
        )
        if named is not None:  # one class: its minimum, even if it is all that is allowed
            minimums[named] += 1
        elif chars == set(symbols):  # every symbol allowed
            minimums["symbols"] += 1
        elif not usable <= chars:  # (a set of everything allowed: any character meets it)
            require.append(_set_text(chars))
    length = _length(parsed, preferred_length, sum(minimums.values()) + len(require))
    policy = PasswordPolicy(
        length=length,
        lowercase=enabled["lowercase"],
        uppercase=enabled["uppercase"],
        digits=enabled["digits"],
        symbols=bool(symbols),
        min_lowercase=minimums["lowercase"],
        min_uppercase=minimums["uppercase"],
        min_digits=minimums["digits"],
        min_symbols=minimums["symbols"],
        symbol_set=symbols or DEFAULT_SYMBOLS,
        include=include,
        max_consecutive=parsed.max_consecutive,
        require=tuple(require),
    )
    try:
        compile_policy(policy)
    except PolicyError as error:  # named on the rules: the page shows them, not this policy
        raise PolicyError(
            {"rules": "these rules cannot be met: " + "; ".join(error.errors.values())}
        ) from None
    return ImportedRules(policy, tuple(notes), parsed.min_length, parsed.max_length)


# --- A policy in words -----------------------------------------------------------------

_CLASS_WORDS = {
    "lowercase": ("lowercase letter", "lowercase letters"),
    "uppercase": ("uppercase letter", "uppercase letters"),
    "digits": ("digit", "digits"),
    "symbols": ("symbol", "symbols"),
}


def _plural(count: int, words: tuple[str, str]) -> str:
    return f"{count} {words[0] if count == 1 else words[1]}"


def _length_words(length: int, low: int | None, high: int | None) -> str:
    using = f"(using {length})"
    if low and high:
        if low == high:
            return f"exactly {low} characters" + ("" if low == length else f" {using}")
        return f"{low} to {high} characters {using}"
    if low:
        return f"at least {low} characters {using}"
    if high:
        return f"at most {high} characters {using}"
    return f"{length} characters"


def _requirement_words(entry: str, times: int) -> str:
    try:
        chars = set(set_characters(entry))
    except PolicyError:
        return f"at least {times} from {entry}"
    parts: list[tuple[str, str]] = []
    upper, lower = set(string.ascii_uppercase), set(string.ascii_lowercase)
    if upper | lower <= chars:
        parts.append(("letter (upper or lower case)", "letters (upper or lower case)"))
        chars -= upper | lower
    for name, _, class_chars in _POLICY_CLASSES:
        if set(class_chars) <= chars:
            parts.append(_CLASS_WORDS[name])
            chars -= set(class_chars)
    if set(string.punctuation) <= chars:
        parts.append(_CLASS_WORDS["symbols"])
        chars -= set(string.punctuation)
    rest = "".join(sorted(chars))
    if not parts:
        return f"at least {times} of {rest}"
    words = " or ".join(part[0 if times == 1 else 1] for part in parts)
    return f"at least {times} {words}" + (f" or one of {rest}" if rest else "")


def describe_rules(
    policy: PasswordPolicy, min_length: int | None = None, max_length: int | None = None
) -> list[str]:
    """The policy in words for people, one rule a line, with the length range the rules
    give (``None``: not limited) and the length used."""
    lines = [_length_words(policy.length, min_length, max_length)]
    for name, words in _CLASS_WORDS.items():
        minimum: int = getattr(policy, f"min_{name}")
        maximum: int | None = getattr(policy, f"max_{name}")
        if getattr(policy, name):
            if minimum:
                lines.append(f"at least {_plural(minimum, words)}")
            if maximum is not None:
                lines.append(f"at most {_plural(maximum, words)}")
    for entry, times in Counter(policy.require).items():
        lines.append(_requirement_words(entry, times))
    if policy.min_classes:
        lines.append(
            f"characters of at least {policy.min_classes} kinds (lowercase letters, "
            "uppercase letters, digits, symbols)"
        )
    if policy.first_character == "letter":
        lines.append("starts with a letter")
    elif policy.first_character == "alphanumeric":
        lines.append("starts with a letter or a digit")
    if policy.max_consecutive is not None:
        lines.append(
            "no character twice in a row"
            if policy.max_consecutive == 1
            else f"no character more than {policy.max_consecutive} times in a row"
        )
    sources = {
        "lowercase": string.ascii_lowercase,
        "uppercase": string.ascii_uppercase,
        "digits": string.digits,
        "symbols": string.punctuation,
    }
    for name, words in _CLASS_WORDS.items():
        extra = "".join(sorted(set(policy.include) & set(sources[name])))
        if name == "symbols" and policy.symbols:
            if set(policy.symbol_set) != set(DEFAULT_SYMBOLS):
                lines.append(f"{words[1]} only from {''.join(dict.fromkeys(policy.symbol_set))}")
        elif getattr(policy, name):
            continue
        elif extra:
            lines.append(f"{words[1]} only from {extra}")
        else:
            lines.append(f"no {words[1]}")
    others = "".join(c for c in dict.fromkeys(policy.include) if c not in ASCII_PRINTABLE)
    if others:
        lines.append(f"also the characters {others}")
    if policy.exclude:
        lines.append(f"never the characters {''.join(dict.fromkeys(policy.exclude))}")
    if policy.avoid_ambiguous:
        lines.append("no look-alike characters (" + "".join(sorted(AMBIGUOUS)) + ")")
    return lines
