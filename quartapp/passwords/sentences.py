"""Propose a password policy from the sentence a site shows: "Passwords must be 8–16
characters and include at least one uppercase letter, one number and one special character
(!@#$%)".

Pure: no Quart, no I/O. The page shows what was read (``understood``) and what was not
(``not_understood``) for the user to confirm, so the reading may be approximate, but no
clause is ever dropped silently: each is either read or listed. Where a rule cannot be said
exactly, the policy is made stricter (a password meeting it still meets the site's rule).

How a sentence is read, on a lower-cased copy whose characters each remember where in the
original they came from (so a fragment not understood is shown as the user wrote it):

1. Normalize: quotes, dashes, "e.g.", "letter(s)", ranges ("A-Z" -> ``upperrange``),
   number words ("two" -> "2").
2. Lift out lists of symbols ("(!@#$%)", "! @ # $", "'!' or '?'") as ``symlistN``
   placeholders, before the "." or ";" in them could split a sentence.
3. Split into clauses at sentence ends, ";" and line breaks. A line ending in ":" leads the
   lines after it ("Your password must not contain:" then "- spaces").
4. In each clause the rule tables claim spans in turn (things that do not apply to random
   passwords, repeats, first character, "3 of the 4 kinds", length, per-class maxima); then
   each mention of a character class is read with the words before it ("must", "no", "may",
   "only") and after it ("are not allowed").
5. What is left of a clause, once filler words are dropped, is reported as not understood.
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from quartapp.passwords.generator import (
    DEFAULT_SYMBOLS,
    MAX_LENGTH,
    MIN_LENGTH,
    PasswordPolicy,
    PolicyError,
)

MAX_SENTENCE = 2000
DEFAULT_PREFERRED_LENGTH = 20
DOES_NOT_APPLY = "does not apply to random passwords"

# The four classes by their passwordrules names (the syntax ``require`` is written in).
CLASSES = ("lower", "upper", "digit", "special")
FIELDS = {"lower": "lowercase", "upper": "uppercase", "digit": "digits", "special": "symbols"}
# What each kind of mention stands for.
KIND_CLASSES: dict[str, tuple[str, ...]] = {
    "lower": ("lower",),
    "upper": ("upper",),
    "digit": ("digit",),
    "special": ("special",),
    "letter": ("lower", "upper"),
    "both": ("lower", "upper"),
    "alnum": ("lower", "upper", "digit"),
    "space": (),
}
NOUNS = {
    "lower": ("lowercase letter", "lowercase letters"),
    "upper": ("uppercase letter", "uppercase letters"),
    "digit": ("digit", "digits"),
    "special": ("symbol", "symbols"),
    "letter": ("letter", "letters"),
    "both": ("uppercase and lowercase letter", "uppercase and lowercase letters"),
    "alnum": ("letter or digit", "letters and digits"),
    "space": ("space", "spaces"),
}
FIRST_STRICTNESS = ("any", "alphanumeric", "letter")


@dataclass(frozen=True)
class ProposedRules:
    policy: PasswordPolicy
    min_length: int | None  # the range the text states (None: not stated)
    max_length: int | None
    understood: tuple[str, ...]  # each rule read, in plain words
    not_understood: tuple[str, ...]  # fragments that could not be read, as written


# Text that remembers its origin ---------------------------------------------------------


@dataclass(frozen=True)
class _Mapped:
    """Text with, for each character, the span of the original text it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def of(cls, text: str) -> _Mapped:
        return cls(text, tuple(range(len(text))), tuple(range(1, len(text) + 1)))

    def __getitem__(self, part: slice) -> _Mapped:
        return _Mapped(self.text[part], self.starts[part], self.ends[part])

    def sub(self, pattern: re.Pattern[str], repl: Callable[[re.Match[str]], str | None]) -> _Mapped:
        """Like ``pattern.sub``; the new characters come from the whole matched span, and a
        replacement of None leaves the match as it was."""
        text: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        last = 0
        for match in pattern.finditer(self.text):
            new = repl(match)
            if new is None:
                continue
            begin, end = match.span()
            text.append(self.text[last:begin])
            starts += self.starts[last:begin]
            ends += self.ends[last:begin]
            origin = self.starts[begin] if begin < len(self.text) else self._end()
            until = self.ends[end - 1] if end > begin else origin
            text.append(new)
            starts += [origin] * len(new)
            ends += [until] * len(new)
            last = end
        text.append(self.text[last:])
        starts += self.starts[last:]
        ends += self.ends[last:]
        return _Mapped("".join(text), tuple(starts), tuple(ends))

    def _end(self) -> int:
        return self.ends[-1] if self.ends else 0

    def per_char(self, change: Callable[[str], str]) -> _Mapped:
        return self.sub(re.compile(r".", re.S), lambda m: change(m.group()))


# Normalizing ----------------------------------------------------------------------------

_CHAR_MAP = {
    **dict.fromkeys("‘’‚‛′´", "'"),
    **dict.fromkeys("“”„‟″«»", '"'),
    **dict.fromkeys("‐‑‒–—―−", "-"),
    **dict.fromkeys("•◦▪▫‣●○■□►▸➢✓✔", "\n"),
    "…": "...",
}


def _char(char: str) -> str:
    if char in _CHAR_MAP:
        return _CHAR_MAP[char]
    if char == "\n" or char == "\t":
        return char
    if char.isspace():
        return " "
    return unicodedata.normalize("NFKC", char)


_ABBREVIATIONS = (
    (re.compile(r"\be\.\s?g\.?,?", re.I), "eg"),
    (re.compile(r"\bi\.\s?e\.?,?", re.I), "ie"),
    (re.compile(r"\b(etc|min|max|approx|incl)\.", re.I), r"\1"),
    (re.compile(r"\(s\)", re.I), "s"),  # "letter(s)"
    (re.compile(r"(?m)^[ \t]*(?:[-*+>]|\d{1,2}[.)])[ \t]+"), ""),  # list markers
)
_RANGE_TO = r"\s*(?:-|through|thru|to)\s*"
_RANGES = (  # case matters here, so before lower-casing; the brackets around go too
    (re.compile(rf"[(\[]?\s*(?<![\w])A{_RANGE_TO}Z(?![\w])\s*[)\]]?"), " upperrange "),
    (re.compile(rf"[(\[]?\s*(?<![\w])a{_RANGE_TO}z(?![\w])\s*[)\]]?"), " lowerrange "),
    (re.compile(rf"[(\[]?\s*(?<![\w])0{_RANGE_TO}9(?![\w])\s*[)\]]?"), " digitrange "),
)
_NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "sixty-four": 64, "a single": 1, "twice": 2, "thrice": 3, "once": 1,
}  # fmt: skip
_NUMBER_WORD = re.compile(
    r"(?<![\w-])(" + "|".join(sorted(_NUMBER_WORDS, key=len, reverse=True)) + r")(?![\w-])"
)

_SAID_TWICE = re.compile(r"(\d+)\s*\(\1\)")

_PUNCT = re.escape(string.punctuation)
# Symbols standing apart from words, separated by spaces, "and" or "or": a list of symbols.
_SYMBOL_RUN = re.compile(
    rf"(?<![A-Za-z0-9{_PUNCT}])[{_PUNCT}]+"
    rf"(?:[ \t]+(?:(?:and|or)[ \t]+)?[{_PUNCT}]+)*(?![A-Za-z0-9{_PUNCT}])",
    re.I,
)
_QUOTES = "'\""


def _symbol_list(run: str) -> tuple[str, str, str] | None:
    """(what goes before, the symbols, what goes after) of a run of symbols, or None when
    the run is not a list (a lone "-" or "...")."""
    tokens = [t for t in run.split() if t.lower() not in ("and", "or")]
    lead = trail = ""
    if tokens and tokens[0] in (":", "-"):  # "the following: ! @ #"
        lead = tokens.pop(0)
    if len(tokens) > 1 and len(tokens[-1]) == 2 and tokens[-1][1] in ".,;:":
        trail, tokens[-1] = tokens[-1][1], tokens[-1][0]  # the sentence ends after the list
    joined = " ".join(tokens)
    if len(joined) > 2 and joined[-1] in ".,;:" and joined[-2] == ")":
        trail, joined = joined[-1], joined[:-1]
    wrapped = False
    if len(joined) > 2 and joined[0] + joined[-1] in ("()", "[]", '""', "''"):
        joined, wrapped = joined[1:-1].strip(), True
    elif (
        joined.endswith(")") and not joined.endswith(" )") and joined.count(")") > joined.count("(")
    ):
        joined = joined[:-1]  # "(e.g. !@#)": the "(" is before the words
    tokens = joined.split()
    if any(len(t) == 3 and t[0] == t[2] and t[0] in _QUOTES for t in tokens):
        tokens = [t[1] if len(t) == 3 and t[0] == t[2] and t[0] in _QUOTES else t for t in tokens]
    if len(tokens) > 1 and all(len(t) == 1 or (len(t) == 2 and t[1] == ",") for t in tokens):
        tokens = [t[0] for t in tokens]  # "!, $, #": the commas separate
    chars = "".join(dict.fromkeys("".join(tokens)))
    if len(chars) >= 2 or (chars and wrapped):
        return lead, chars, trail
    return None


def _normalize(text: str, lists: list[str]) -> _Mapped:
    mapped = _Mapped.of(text).per_char(_char)
    for pattern, replacement in _ABBREVIATIONS + _RANGES:
        mapped = mapped.sub(pattern, _expander(replacement))

    def lift(match: re.Match[str]) -> str | None:
        found = _symbol_list(match.group())
        if found is None:
            return None
        lead, chars, trail = found
        lists.append(chars)
        return f"{lead} symlist{len(lists) - 1} {trail}"

    mapped = mapped.sub(_SYMBOL_RUN, lift).per_char(str.lower)
    mapped = mapped.sub(_NUMBER_WORD, lambda m: _number_word(m.group(1)))
    return mapped.sub(_SAID_TWICE, lambda m: m.group(1))  # "8 (eight)" is now "8 (8)"


def _expander(template: str) -> Callable[[re.Match[str]], str]:
    return lambda match: match.expand(template)


def _number_word(word: str) -> str:
    value = _NUMBER_WORDS[word]
    return f"{value} times" if word in ("twice", "thrice", "once") else str(value)


# The vocabulary ---------------------------------------------------------------------------

NUM = r"(?<![\w.])\d{1,4}(?!\d|\.\d)"
# "8-16 alphanumeric characters" is a length too, of letters and digits only.
UNIT = r"(?:(?:alpha[\s-]*numeric(?:al)?\s+)?(?:characters?|chars?))"
LONG = r"(?:\s+(?:long|in\s+length|in\s+total|total|in\s+size))?"
NEG = (
    r"(?:cannot|can't|cant|can\s+not|(?:must|may|should|shall|does|do|will|can)\s+not|don't"
    r"|doesn't|mustn't|shouldn't|not|no|never|without|avoid(?:ing)?)"
)
HAVE = r"(?:\s+(?:contain|have|include|use|repeat|be|consist\s+of))?"

_UPPER = r"(?:(?:english|latin)\s+)?(?:upper[\s-]*case|upper|capitals?|capitali[sz]ed|caps)"
_LOWER = r"(?:(?:english|latin)\s+)?(?:lower[\s-]*case|lower)"
_CASE = r"(?:[\s-]*case)?"
_NOUN = (
    r"(?:\s+(?:(?:english|latin|alphabetic(?:al)?|alpha)\s+)?"
    r"(?:letters?|characters?|chars?|alphabets?))"
)
_ALPHABET = r"(?:\s+(?:from|of|in)\s+(?:the\s+)?(?:english|latin|roman|basic\s+latin)\s+alphabet)"
_RANGE = r"(?:upperrange|lowerrange|digitrange)"
_DECOR = rf"(?:{_ALPHABET}|\s*[(\[]?\s*{_RANGE}(?:\s*(?:,|and|or|&|/)?\s*{_RANGE})*\s*[)\]]?)*"
_AND = r"\s*(?:-\s*)?(?:and|&|\+|/)\s*"

# Named symbols; only names that mean nothing else in a password rule.
NAMED_SYMBOLS = (
    (r"underscores?", "_"),
    (r"hyphens?", "-"),
    (r"ampersands?", "&"),
    (r"asterisks?", "*"),
    (r"exclamation(?:\s+(?:marks?|points?))?", "!"),
    (r"question\s+marks?", "?"),
    (r"at\s+(?:signs?|symbols?)", "@"),
    (r"dollar(?:\s+signs?)?", "$"),
    (r"(?:pound|hash|number)\s+signs?|hashtags?", "#"),
    (r"percent(?:age)?\s+signs?", "%"),
    (r"plus\s+signs?", "+"),
    (r"equals?\s+signs?", "="),
    (r"carets?", "^"),
    (r"tildes?", "~"),
    (r"backslash(?:es)?", "\\"),
    (r"vertical\s+bars?", "|"),
    (r"backticks?", "`"),
)
_NAMED = "|".join(name for name, _ in NAMED_SYMBOLS)

# Mentions of character classes, in the order they are tried (first match wins).
MENTION_KINDS = (
    ("both", rf"(?:{_UPPER}{_CASE}{_AND}{_LOWER}{_CASE}|{_LOWER}{_CASE}{_AND}{_UPPER}{_CASE}"
             rf"|mixed[\s-]*case|both\s+cases){_NOUN}?{_DECOR}"),
    ("letter", rf"(?:{_UPPER}{_CASE}\s*or\s*{_LOWER}{_CASE}|{_LOWER}{_CASE}\s*or\s*{_UPPER}{_CASE})"
               rf"{_NOUN}?{_DECOR}"),
    ("named", rf"(?:{_NAMED})(?:\s+(?:characters?|symbols?|marks?))?"),
    ("alnum", rf"alpha[\s-]*numeric(?:al)?(?:\s+(?:characters?|chars?))?{_DECOR}"),
    ("special", r"(?:special|symbols?|punctuation|non[\s-]*alpha[\s-]*numeric(?:al)?"
                r"|non[\s-]*alphabetic(?:al)?|non[\s-]*letters?)(?:\s+(?:characters?|chars?"
                r"|marks?|symbols?))?"),
    ("upper", rf"(?:{_UPPER}{_NOUN}?|upperrange){_DECOR}"),
    ("lower", rf"(?:{_LOWER}{_NOUN}?|small{_NOUN}|lowerrange){_DECOR}"),
    ("letter", rf"(?:(?:(?:english|latin)\s+)?(?:alphabetic(?:al)?|alpha)"
               rf"(?:\s+(?:characters?|chars?|letters?))?|letters?|alphabets?){_DECOR}"),
    ("digit", rf"(?:(?:base[\s-]*10\s+)?(?:digits?|numbers?(?!\s+of\b)|numerals?|numeric(?:al)?"
              rf"(?:\s+(?:characters?|chars?|digits?|values?))?)|digitrange){_DECOR}"),
    ("space", r"(?:(?:blank|white)\s*)?spaces?|whitespace|blanks?"),
    ("list", r"symlist\d+"),
)  # fmt: skip
_KIND_PATTERNS = tuple(
    (kind, re.compile(rf"(?<![a-z])(?:{source})(?![a-z])")) for kind, source in MENTION_KINDS
)
MENTION = "|".join(rf"(?<![a-z])(?:{source})(?![a-z])" for _, source in MENTION_KINDS)
_MENTION = re.compile(MENTION)
_MENTION_LIST = (
    rf"(?:(?:a|an|1)\s+)?(?:{MENTION})(?:\s*(?:,|or|and|/)\s*(?:(?:a|an|1)\s+)?(?:{MENTION}))*"
)

# A count just before a mention: "at least 2", "a", "1 of the following characters:".
_COUNT = re.compile(
    rf"(?:(?P<n>{NUM})|(?<![a-z])(?P<a>an?))\s+(?:or\s+more\s+)?"
    r"(?:of\s+(?:the\s+|these\s+)?(?:following\s*)?(?:characters?\s*)?:?\s*)?$"
)
# Between two mentions read together: "1 uppercase letter, 1 number and 1 symbol".
_SEPARATOR = re.compile(r"[\s,/&+()\[\]]*(?:(?:and/or|and|or|plus|as\s+well\s+as)[\s,/&+()]*)?")
# Between a symbol mention and a list of symbols that says which.
_LIST_INTRO = re.compile(
    r"(?:[\s,:;(\-]|such\s+as|like|eg|ie|for|example|instance|including|includes?|are|is"
    r"|allowed|permitted|accepted|supported|valid|acceptable|not|only|limited\s+to|from|of|in|the"
    r"|these|this|following|list|set|below|characters?|can|may|be|used)*"
)
# Words after a mention that decide it: "special characters are not allowed".
_AFTER = re.compile(
    r"(?:[\s,]*(?:characters?|chars?|are|is|also)(?![a-z]))*[\s,:]*(?:"
    r"(?P<forbid>not\s+(?:be\s+)?(?:allowed|permitted|accepted|supported|valid|acceptable|used)"
    r"|(?:cannot|can't|may\s+not|must\s+not|should\s+not)\s+be\s+used|prohibited|forbidden"
    r"|disallowed|invalid|unsupported|unacceptable)"
    r"|(?P<only>only)"
    r"|(?P<allow>allowed|permitted|accepted|acceptable|supported|valid|optional|ok"
    r"|(?:can|may)(?:\s+also)?\s+be\s+used)"
    r"|(?P<require>required|mandatory|needed))(?![a-z])"
)


def _words(text: str) -> list[str]:
    return text.split()


# Words before a mention that decide it. The last run of these words counts, the
# strongest word in it winning: "may only contain" is "only", "must not contain" is "no".
CUES = {
    "forbid": frozenset(
        _words(
            "not no cannot can't cant never without excluding except nor avoid prohibited "
            "forbidden disallowed don't doesn't mustn't shouldn't won't none"
        )
    ),
    "only": frozenset(
        _words(
            "only solely exclusively just consist consists consisting composed limited restricted"
        )
    ),
    "allow": frozenset(
        _words(
            "may can could allowed permitted optional optionally accepted acceptable valid "
            "supported allow allows"
        )
    ),
    "require": frozenset(
        _words(
            "must should shall need needs required require requires include includes including "
            "contain contains containing have has having with use least combination mix mixture "
            "plus minimum min combine combines"
        )
    ),
}
CUE_ORDER = ("forbid", "only", "allow", "require")
GLUE = frozenset(
    _words(
        "be any the your password passwords passcode passcodes passphrase it they also both either "
        "characters character chars in to used of from following these this each all a an its is "
        "are and or at some new eg ie for example such as like by"
    )
)
# Words that say nothing by themselves: a fragment of only these is not reported.
FILLER = (
    GLUE
    | frozenset().union(*CUES.values())
    | frozenset(
        _words(
            "requirements requirement rules rule criteria conditions guidelines policy meet meets "
            "following length long total least most etc please note create choose enter set strong "
            "secure make sure that which will you we recommend recommended type types kind kinds "
            "categories category classes class groups group sets different but so than more when "
            "on there following below above list one must here user user's account case instance "
            "s remember good hint complexity"
        )
    )
)


# Reading --------------------------------------------------------------------------------


@dataclass
class _Mention:
    kind: str  # a key of KIND_CLASSES
    start: int
    end: int
    count: int | None = None
    chars: str | None = None  # for symbols: which ones the text names
    bare_list: bool = False  # a list of symbols with no word for it
    between: str = ""  # words between a symbol word and its list ("are not allowed:")


@dataclass
class _Lead:
    work: str
    categories: bool


@dataclass
class _Draft:
    minimums: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CLASSES, 0))
    maximums: dict[str, int | None] = field(default_factory=lambda: dict.fromkeys(CLASSES))
    entries: dict[tuple[str, ...], int] = field(default_factory=dict)  # sets to require
    allowed: set[str] = field(default_factory=set)
    forbidden: set[str] = field(default_factory=set)
    only: set[str] | None = None
    symbol_sets: list[str] = field(default_factory=list)
    excluded: str = ""
    min_classes: int = 0
    max_consecutive: int | None = None
    first_character: str = "any"
    min_length: int | None = None
    max_length: int | None = None
    understood: list[str] = field(default_factory=list)
    not_understood: list[str] = field(default_factory=list)


Handler = Callable[["_Reader", re.Match[str]], bool]


class _Reader:
    def __init__(self, original: str, lists: list[str]) -> None:
        self.original = original
        self.lists = lists
        self.draft = _Draft()
        self.work = ""
        self.offset = 0
        self.categories = False

    def say(self, statement: str) -> None:
        self.draft.understood.append(statement)

    def cannot(self, statement: str) -> None:
        self.draft.not_understood.append(statement)

    def consume(self, start: int, end: int) -> None:
        self.work = self.work[:start] + "\x00" * (end - start) + self.work[end:]

    # One clause -------------------------------------------------------------------------

    def read(self, clause: _Mapped, lead: _Lead | None) -> _Lead:
        prefix = lead.work.rstrip().rstrip(":") + " " if lead else ""
        self.work = prefix + clause.text
        self.offset = len(prefix)
        self.categories = lead.categories if lead else False
        for pattern, handler in RULES:
            for match in pattern.finditer(self.work):
                if "\x00" in match.group():  # claimed by an earlier match of this rule
                    continue
                if handler(self, match):
                    span = match.span("body") if "body" in pattern.groupindex else match.span()
                    self.consume(*span)
        self._read_mentions()
        self._report_rest(clause)
        return _Lead(self.work[self.offset :], self.categories)

    def _report_rest(self, clause: _Mapped) -> None:
        rest = self.work[self.offset :]
        for found in re.finditer(r"[^\x00]+", rest):
            words = re.findall(r"[a-z0-9']+", found.group())
            if any(w.strip("'") not in FILLER for w in words):
                begin, end = found.span()
                text = self.original[clause.starts[begin] : clause.ends[end - 1]]
                text = re.sub(r"^(?:[\W_]|\b(?:and|or|but|also)\b)+", "", text, flags=re.I)
                text = re.sub(r"(?:[\W_]|\b(?:and|or|but)\b)+$", "", text, flags=re.I)
                if text:
                    self.cannot(" ".join(text.split()))

    # Mentions of classes ------------------------------------------------------------------

    def _mentions(self) -> list[_Mention]:
        mentions: list[_Mention] = []
        for match in _MENTION.finditer(self.work, self.offset):
            mention = self._classify(match.group(), match.start(), match.end())
            count = _COUNT.search(self.work, mentions[-1].end if mentions else 0, match.start())
            if count:
                mention.count = int(count.group("n")) if count.group("n") else 1
                mention.start = count.start()
            mentions.append(mention)
        merged: list[_Mention] = []
        for mention in mentions:  # "special characters (such as !@#)": one mention
            if merged and merged[-1].kind == "special" and mention.bare_list:
                between = self.work[merged[-1].end : mention.start]
                if _LIST_INTRO.fullmatch(between):
                    previous = merged[-1]
                    previous.chars = _union(previous.chars or "", mention.chars or "")
                    previous.end, previous.between = mention.end, between
                    continue
            merged.append(mention)
        return merged

    def _classify(self, text: str, start: int, end: int) -> _Mention:
        kind = next(k for k, pattern in _KIND_PATTERNS if pattern.fullmatch(text))
        if kind == "list":
            return _Mention("special", start, end, chars=self.lists[int(text[7:])], bare_list=True)
        if kind == "named":
            chars = next(c for name, c in NAMED_SYMBOLS if re.match(name, text))
            return _Mention("special", start, end, chars=chars)
        return _Mention(kind, start, end)

    def _groups(self, mentions: list[_Mention]) -> list[tuple[list[_Mention], list[str]]]:
        """Mentions read together, with the separator between each two ("and", "or", ",")."""
        groups: list[tuple[list[_Mention], list[str]]] = []
        for mention in mentions:
            if groups:
                between = self.work[groups[-1][0][-1].end : mention.start]
                if _SEPARATOR.fullmatch(between):
                    kind = (
                        "or"
                        if re.search(r"\bor\b", between)
                        else "and"
                        if re.search(r"\band\b|&|\+|plus|well", between)
                        else ","
                    )
                    groups[-1][0].append(mention)
                    groups[-1][1].append(kind)
                    continue
            groups.append(([mention], []))
        return groups

    def _read_mentions(self) -> None:
        mentions = self._mentions()
        floor, previous = 0, None  # the lead's words count too
        for group, separators in self._groups(mentions):
            mode = self._mode(group, floor, previous)
            floor, previous = group[-1].end, mode
            for mention in group:
                self.consume(mention.start, mention.end)
            self._apply(mode, group, separators)

    def _mode(self, group: list[_Mention], floor: int, previous: str | None) -> str:
        before = self.work[min(floor, group[0].start) : group[0].start]
        primary = before[before.rfind("\x00") + 1 :]
        mode = _cue_before(primary)
        if re.search(r"(?<![a-z])(?:be|is|are)\s*$", primary):
            mode = "only"  # "must be alphanumeric": what the password is made of
        elif mode is None and previous and "\x00" not in before:
            mode = previous  # "cannot contain spaces or these symbols: ..."
        elif mode is None:
            mode = "category" if self.categories else _cue_before(before.replace("\x00", " "))
        if self.categories and mode in ("require", "allow"):
            # In "3 of the following 4: ...", a class is a kind to choose from, unless the
            # text asks for it on its own ("..., including at least 1 number").
            mode = "require" if re.search(r"includ|at\s+least|must|and\s+\d", primary) else mode
        after_end = group[-1].end
        stop = self.work.find("\x00", after_end)
        after = _AFTER.match(self.work, after_end, stop if stop >= 0 else len(self.work))
        said = group[-1].between and _AFTER.search(group[-1].between)
        for found in (said, after):
            if found:
                late = found.lastgroup or ""
                overrides = late in ("forbid", "only") or (late == "allow" and mode != "forbid")
                if overrides or (late == "require" and mode is None):
                    mode = late
        return mode or "require"

    def _apply(self, mode: str, group: list[_Mention], separators: list[str]) -> None:
        draft = self.draft
        named = _union(*(m.chars or "" for m in group))  # "the underscore and dollar sign"
        if named and mode != "forbid":
            draft.symbol_sets.append(named)
        if mode == "category":
            return
        if mode == "forbid":
            for mention in group:
                if mention.kind == "space":
                    self.say("no spaces (generated passwords never have spaces)")
                elif mention.chars:
                    draft.excluded = _union(draft.excluded, mention.chars)
                    self.say(f"none of {mention.chars}")
                else:
                    draft.forbidden.update(KIND_CLASSES[mention.kind])
                    self.say(f"no {NOUNS[mention.kind][1]}")
            return
        classes = [c for m in group for c in KIND_CLASSES[m.kind]]
        if mode == "allow":
            draft.allowed.update(classes)
            kinds = [m.kind for m in group if m.kind != "space"]
            if kinds:
                self.say(_join(NOUNS[k][1] for k in kinds) + " allowed")
            if any(m.kind == "space" for m in group):
                self.say("spaces allowed (generated passwords do not use them)")
            return
        if mode == "only":
            if all(m.kind in ("special", "space") for m in group):  # "only these symbols: ..."
                draft.allowed.update(classes)
                return
            draft.only = (draft.only or set()) | set(classes)
            self.say("only " + _join(NOUNS[m.kind][1] for m in group))
            return
        self._require(group, separators)

    def _require(self, group: list[_Mention], separators: list[str]) -> None:
        # "a, b or c" is one choice; "a, b and c" is three requirements.
        # A comma before a counted mention is "and": "1 letter, 1 number or symbol".
        separators = [
            "and" if s == "," and m.count is not None else s
            for s, m in zip(separators, group[1:], strict=True)
        ]
        resolved = []
        for i, separator in enumerate(separators):
            later = [s for s in separators[i:] if s != ","]
            resolved.append(separator if separator != "," else (later[0] if later else "and"))
        choices: list[list[_Mention]] = [[group[0]]]
        for mention, separator in zip(group[1:], resolved, strict=True):
            if separator == "or":
                choices[-1].append(mention)
            else:
                choices.append([mention])
        last_count: int | None = None
        for choice in choices:
            counted = choice[0].count
            last_count = counted if counted is not None else last_count
            self._require_choice(choice, counted if counted is not None else last_count or 1)

    def _require_choice(self, choice: list[_Mention], count: int) -> None:
        draft = self.draft
        kinds = list(dict.fromkeys(m.kind for m in choice if m.kind != "space"))
        if not kinds:
            self.cannot(f"at least {count} space (generated passwords never have spaces)")
            return
        if len(kinds) == 1 and kinds[0] == "alnum" and choice[0].count is None:
            kinds = ["letter", "digit"]  # "must contain alphanumeric characters"
            self._require_choice([_Mention("letter", 0, 0)], count)
            self._require_choice([_Mention("digit", 0, 0)], count)
            return
        classes = tuple(c for c in CLASSES if any(c in KIND_CLASSES[k] for k in kinds))
        if kinds == ["both"]:
            for name in ("upper", "lower"):
                draft.minimums[name] = max(draft.minimums[name], count)
                self.say(f"at least {count} {NOUNS[name][count > 1]}")
            return
        if len(classes) == 1:
            draft.minimums[classes[0]] = max(draft.minimums[classes[0]], count)
        else:
            draft.entries[classes] = max(draft.entries.get(classes, 0), count)
        nouns = [NOUNS[k][count > 1] for k in kinds]
        self.say(f"at least {count} " + " or ".join(nouns))


def _cue_before(window: str) -> str | None:
    """The mode of the last run of cue words at the end of ``window``."""
    words = re.findall(r"[a-z']+", window)
    while words and words[-1] in GLUE:
        words.pop()
    found: set[str] = set()
    while words and (words[-1] in GLUE or any(words[-1] in cue for cue in CUES.values())):
        word = words.pop()
        found.update(mode for mode, cue in CUES.items() if word in cue)
    return next((mode for mode in CUE_ORDER if mode in found), None)


def _union(*texts: str) -> str:
    return "".join(dict.fromkeys("".join(texts)))


def _join(items: Iterable[str]) -> str:
    words = list(dict.fromkeys(items))
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _kinds_in(text: str) -> set[str]:
    found = set()
    for match in _MENTION.finditer(text):
        found.add(next(k for k, pattern in _KIND_PATTERNS if pattern.fullmatch(match.group())))
    return {"special" if k in ("named", "list") else k for k in found}


# The rule tables: (pattern, handler). A handler returns whether it read the match; the
# span read (its "body" group if it has one) is then claimed.


def _length(reader: _Reader, match: re.Match[str]) -> bool:
    values = {k: int(v) for k, v in match.groupdict().items() if v and k != "body"}
    low = values.get("lo", values.get("min", values.get("exact")))
    high = values.get("hi", values.get("max", values.get("exact")))
    if "gt" in values:
        low = values["gt"] + 1
    if "lt" in values:
        high = values["lt"] - 1
    if low is not None and high is not None and low > high and "lo" in values:
        low, high = high, low  # "16-8 characters"
    draft = reader.draft
    if re.search(r"alpha[\s-]*numeric", match.group()):
        draft.only = (draft.only or set()) | {"lower", "upper", "digit"}
        reader.say("only letters and digits")
    if low is not None:
        draft.min_length = max(draft.min_length or 0, low)
    if high is not None:
        draft.max_length = high if draft.max_length is None else min(draft.max_length, high)
    return True


_TO = r"\s*(?:-|to|through|thru|and)\s*"
_AT_MOST = (
    r"(?:(?:no|not(?:\s+be)?)\s+(?:more|longer|greater)\s+than|at\s+most|(?:a\s+)?maximum(?:\s+of)?"
    r"|max|up\s+to|(?:not|cannot|can't|must\s+not|may\s+not|should\s+not)\s+exceed|exceeding)"
)
_AT_LEAST = (
    r"(?:at\s+least(?:\s*:)?|(?:a\s+)?minimum(?:\s+of)?|min"
    r"|(?:no|not)\s+(?:fewer|less|shorter)\s+than)"
)
LENGTH_RULES = (
    # "8-16 characters", "between 8 and 64 characters long", "from 8 to 16 characters"
    rf"(?:between\s+|from\s+)?(?P<lo>{NUM}){_TO}(?P<hi>{NUM})\s*{UNIT}{LONG}",
    # "length must be between 8 and 16", "length: 8-16"
    rf"length\b[^\d\x00]{{0,30}}?(?:between\s+|from\s+)?(?P<lo>{NUM}){_TO}(?P<hi>{NUM})"
    rf"(?:\s*{UNIT})?{LONG}",
    # "at least 8 and at most 16 characters", "a minimum of 8 and a maximum of 64 characters"
    rf"{_AT_LEAST}\s+(?P<lo>{NUM})(?:\s+{UNIT})?,?\s+(?:and|but)\s+{_AT_MOST}\s+(?P<hi>{NUM})"
    rf"\s*{UNIT}{LONG}",
    rf"(?:no|not)\s+(?:fewer|less|shorter)\s+than\s+(?P<min>{NUM})\s*{UNIT}",
    rf"{_AT_MOST}\s+(?P<max>{NUM})\s*{UNIT}{LONG}",
    rf"(?:fewer|less|shorter)\s+than\s+(?P<lt>{NUM})\s*{UNIT}",
    rf"(?:maximum|max)\s+(?:password\s+)?length(?:\s+(?:is|of))?\s*[:=]?\s*(?:is\s+)?(?P<max>{NUM})"
    rf"(?:\s*{UNIT})?",
    rf"(?P<max>{NUM})\s*{UNIT}\s+(?:maximum|max|or\s+(?:fewer|less|shorter))",
    rf"length\b[^\d\x00]{{0,30}}?{_AT_MOST}\s+(?P<max>{NUM})(?:\s*{UNIT})?",
    rf"{_AT_LEAST}\s+(?P<min>{NUM})\s*{UNIT}{LONG}",
    rf"(?:more|longer|greater)\s+than\s+(?P<gt>{NUM})\s*{UNIT}",
    rf"(?P<min>{NUM})\s*(?:\+\s*{UNIT}|{UNIT}\s*\+|\s+or\s+(?:more|longer|greater)\s+{UNIT}"
    rf"|\s*{UNIT}\s+(?:or\s+(?:more|longer|greater)|minimum|min|at\s+(?:a\s+)?minimum))",
    rf"(?:minimum|min)\s+(?:password\s+)?length(?:\s+(?:is|of))?\s*[:=]?\s*(?:is\s+)?(?P<min>{NUM})"
    rf"(?:\s*{UNIT})?",
    rf"length\b[^\d\x00]{{0,30}}?{_AT_LEAST}\s+(?P<min>{NUM})(?:\s*{UNIT})?",
    # "must be 8 characters long", "exactly 8 characters"
    rf"(?:(?<![a-z])(?:be|is|are|of|contain|have|exactly)\s+)(?:exactly\s+)?(?P<exact>{NUM})\s*{UNIT}{LONG}",
    rf"(?P<exact>{NUM})\s*{UNIT}\s+(?:long|in\s+length)",
)


def _repeats(reader: _Reader, match: re.Match[str]) -> bool:
    groups = match.groupdict()
    if groups.get("n"):
        most = int(groups["n"])
    elif groups.get("k"):  # "the same character 3 times": 2 at most, unless "more than 3"
        most = int(groups["k"]) - (0 if groups.get("gt") else 1)
    elif groups.get("m"):  # "(no) 3 or more identical characters"
        most = int(groups["m"]) - 1
    else:  # "no repeating characters"
        most = 1
    most = max(most, 1)
    draft = reader.draft
    draft.max_consecutive = min(draft.max_consecutive or most, most)
    reader.say(
        "no character twice in a row"
        if most == 1
        else f"no character more than {most} times in a row"
    )
    return True


_REP = r"(?:repeat(?:ed|ing)?|identical|duplicated?|same|consecutive|successive)"
_SAME = r"(?:repeat(?:ed|ing)?|identical|duplicated?|same)"
_ROW = r"(?:\s+in\s+a\s+row|\s+consecutively|\s+in\s+succession|\s+in\s+sequence)?"
_CHARS = r"(?:characters?|chars?|letters?(?:\s+or\s+(?:numbers?|digits?))?)"
_MORE_THAN = (
    r"(?:(?:no|not)\s+more\s+than|more\s+than|at\s+most|(?:a\s+)?maximum\s+of|max(?:imum)?"
    r"|up\s+to|over)"
)
REPEAT_RULES = (
    # "no more than 2 repeated characters", "more than 2 identical characters in a row"
    rf"{_MORE_THAN}\s+(?P<n>{NUM})\s+(?:{_REP}\s+)+{_CHARS}{_ROW}",
    # "more than 2 of the same character", "no more than 2 characters in a row"
    rf"{_MORE_THAN}\s+(?P<n>{NUM})\s+(?:of\s+the\s+same\s+{_CHARS}|(?:{_SAME}\s+)?{_CHARS}"
    rf"\s+(?:in\s+a\s+row|consecutively|in\s+succession|repeated)){_ROW}",
    # "the same character 3 times in a row", "a character repeated more than 2 times"
    rf"(?:the\s+same|any|a|1|an\s+identical|identical|repeat(?:ing)?\s+(?:a|any|the\s+same))\s+"
    rf"{_CHARS}\s+(?:(?:(?:may|can|must|should)\s+not\s+|cannot\s+)?(?:be\s+)?"
    rf"(?:repeated|used|appear(?:ing)?|occur(?:ring)?)\s+)?(?:(?P<gt>more\s+than)\s+)?"
    rf"(?P<k>{NUM})(?:\s+or\s+more)?\s+(?:consecutive\s+)?times?(?:\s+(?:or\s+more))?{_ROW}",
    # "(cannot contain) 3 or more repeating characters", "2 identical characters in a row"
    rf"{NEG}{HAVE}\s+(?:any\s+)?(?P<body>(?P<m>{NUM})(?:\s+or\s+more)?\s+(?:{_REP}\s+)+{_CHARS}{_ROW})",
    rf"{NEG}{HAVE}\s+(?:any\s+)?(?P<body>(?P<m>{NUM})(?:\s+or\s+more)?\s+{_CHARS}\s+in\s+a\s+row)",
    # "no repeating characters", "may not contain consecutive identical characters"
    rf"{NEG}{HAVE}\s+(?:any\s+)?(?P<body>(?:(?:consecutive|successive)\s+)?{_SAME}"
    rf"(?:\s+(?:consecutive|successive))?\s+{_CHARS}{_ROW})",
)


def _first(reader: _Reader, match: re.Match[str]) -> bool:
    groups = match.groupdict()
    kinds = _kinds_in(groups.get("pos") or groups.get("neg") or "")
    draft = reader.draft
    text = " ".join(match.group().split())
    if groups.get("neg"):
        if "digit" in kinds or "alnum" in kinds:
            first = "letter"  # not a digit (nor a symbol): a letter is always safe
        elif kinds & {"special"}:
            first = "alphanumeric"
        elif kinds == {"space"}:
            reader.say(f"{text} (generated passwords never have spaces)")
            return True
        else:
            return False
    elif kinds <= {"letter", "upper", "lower", "both"} and kinds:
        first = "letter"
        if kinds & {"upper", "lower"}:
            reader.cannot(f"{text} (only 'starts with a letter' is applied)")
    elif kinds and kinds <= {"letter", "upper", "lower", "both", "digit", "alnum"}:
        first = "alphanumeric"
    else:
        return False
    if groups.get("end"):
        reader.cannot(f"{text} (the last character cannot be chosen here)")
    if FIRST_STRICTNESS.index(first) > FIRST_STRICTNESS.index(draft.first_character):
        draft.first_character = first
    reader.say("starts with a letter" if first == "letter" else "starts with a letter or digit")
    return True


FIRST_RULES = (
    rf"{NEG}\s+(?:start|begin)(?P<end>\s+or\s+end)?\s+with\s+(?P<neg>{_MENTION_LIST})",
    rf"(?:first|1st)(?P<end>\s+(?:or|and)\s+last)?\s+(?:character|char|letter)s?"
    rf"(?:\s+of\s+(?:the|your)\s+password)?\s+(?:cannot|can't|must\s+not|may\s+not|should\s+not)"
    rf"\s+be\s+(?P<neg>{_MENTION_LIST})",
    rf"(?:start|begin)s?(?P<end>\s+(?:and|or)\s+end)?\s+with\s+(?P<pos>{_MENTION_LIST})",
    rf"(?:first|1st)\s+(?:character|char)(?:\s+of\s+(?:the|your)\s+password)?\s+(?:must|should"
    rf"|has\s+to|needs\s+to|shall)?\s*be\s+(?P<pos>{_MENTION_LIST})",
)


def _min_classes(reader: _Reader, match: re.Match[str]) -> bool:
    groups = match.groupdict()
    if not (groups.get("total") or groups.get("kind")):
        if not groups.get("colon"):
            return False
        following = _MENTION.search(reader.work, match.end())
        if following and following.group().startswith("symlist"):
            return False  # "at least one of the following: ! @ #" asks for a symbol
    wanted = int(groups["n"])
    if not 1 <= wanted <= 4:
        reader.cannot(" ".join(match.group().split()) + " (there are 4 kinds here)")
        return True
    reader.draft.min_classes = max(reader.draft.min_classes, wanted)
    reader.categories = True
    reader.say(
        f"characters from at least {wanted} of the 4 kinds: lowercase, uppercase, digits, symbols"
    )
    return True


_KIND_WORD = (
    r"(?:(?:different|distinct|separate|unique)\s+)?(?:(?:character|char)\s+)?"
    r"(?:types|categories|classes|groups|sets|kinds|criteria|requirements|rules|conditions)"
    r"(?:\s+of\s+characters)?"
)
MIN_CLASS_RULES = (
    rf"(?:(?:characters?|chars?)\s+from\s+)?(?:at\s+least\s+|(?:a\s+)?minimum\s+(?:of\s+)?)?"
    rf"(?P<n>{NUM})\s+(?:out\s+)?of\s+(?:the\s+|these\s+)?(?:following\s*)?(?:(?P<total>{NUM})\s*)?"
    rf"(?P<kind>{_KIND_WORD})?(?P<colon>\s*:)?",
    rf"(?:(?:characters?|chars?)\s+from\s+)?(?:at\s+least\s+|(?:a\s+)?minimum\s+(?:of\s+)?)?"
    rf"(?:all\s+)?(?P<n>{NUM})\s+(?P<kind>{_KIND_WORD})",
)


def _does_not_apply(what: str) -> Handler:
    """A rule random passwords meet anyway: read, shown, nothing to set."""

    def handler(reader: _Reader, match: re.Match[str]) -> bool:
        found = " ".join((match.groupdict().get("what") or match.group()).split())
        reader.say(what or f"not {found}: {DOES_NOT_APPLY}")
        return True

    return handler


_PERSONAL = (
    r"(?:user\s*names?|user\s*ids?|log[\s-]?in(?:\s+(?:names?|ids?))?|account\s+(?:names?"
    r"|numbers?|ids?)|net\s*ids?|e-?mail(?:\s+address(?:es)?)?|(?:(?:first|last|full|real|middle"
    r"|given|family|display|sur|user's|users')\s+)?names?|surnames?|dates?\s+of\s+birth"
    r"|birth\s*(?:dates?|days?)|birthdays?|(?:tele)?phone\s+numbers?|social\s+security\s+numbers?"
    r"|ssn|personal\s+(?:information|info|data|details)|[a-z]+\s+ids?)(?![a-z])"
)
_OWNER = r"(?:(?:your|the\s+user'?s?|users'?|the\s+account'?s?|their|his\s+or\s+her|the|any)\s+)"
NOT_APPLICABLE_RULES: tuple[tuple[str, Handler], ...] = (
    (
        rf"(?:(?:any\s+)?(?:part|parts|portions?|pieces?)\s+of\s+)?(?P<what>{_OWNER}?{_PERSONAL}"
        rf"(?:\s*(?:,|or|and|/)\s*{_OWNER}?{_PERSONAL})*)(?:\s+that\s+exceed\s+{NUM}\s+consecutive"
        rf"\s+characters)?",
        _does_not_apply(""),
    ),
    (
        rf"(?:(?:1|any)\s+of\s+)?(?:your\s+)?(?:(?:last|previous|prior|past|recent|old|former"
        rf"|current)\s+)+(?:{NUM}\s+)?passwords?(?:\s+(?:used|you\s+have\s+used))?"
        rf"|(?:a\s+)?passwords?\s+(?:that\s+)?you(?:'ve|\s+have)?\s+(?:already\s+|previously\s+)?"
        rf"used(?:\s+(?:before|previously|recently|in\s+the\s+(?:past|last)(?:\s+(?:{NUM}\s+)?"
        rf"(?:years?|months?|days?))?))?"
        rf"|the\s+same\s+as\s+(?:your\s+)?(?:current|old|previous|last)\s+password",
        _does_not_apply(f"not a previous password: {DOES_NOT_APPLY}"),
    ),
    (
        r"(?:(?:a|any)\s+)?(?:(?:common(?:ly\s+used)?|dictionary|easily\s+guess(?:ed|able)"
        r"|easy[\s-]to[\s-]guess|obvious|well[\s-]known|compromised|breached|leaked)\s+)+"
        r"(?:english\s+)?(?:words?|passwords?|phrases?)|the\s+word\s+['\"]?password['\"]?",
        _does_not_apply(f"not a common word or password: {DOES_NOT_APPLY}"),
    ),
    (
        r"(?:are|is)\s+case[\s-]*sensitive",
        _does_not_apply("passwords are case-sensitive (nothing to set)"),
    ),
)


def _filler(reader: _Reader, match: re.Match[str]) -> bool:
    return True  # "at least one character from each of the following groups": no rule


FILLER_RULES = (
    rf"(?:(?:at\s+least\s+)?(?:1|a|an)\s+(?:character\s+)?(?:from|of)\s+each|from\s+each)"
    rf"(?:\s+of\s+(?:the\s+following|these))?(?:\s+{_KIND_WORD})?",
)


def _class_maximum(reader: _Reader, match: re.Match[str]) -> bool:
    most = int(match.group("n")) if match.group("n") else int(match.group("lt")) - 1
    kinds = _kinds_in(match.group("m"))
    classes = [k for k in ("lower", "upper", "digit", "special") if k in kinds]
    if kinds - {"lower", "upper", "digit", "special"} or not classes:
        reader.cannot(" ".join(match.group().split()) + " (a limit on letters cannot be set here)")
        return True
    for name in classes:
        current = reader.draft.maximums[name]
        reader.draft.maximums[name] = most if current is None else min(current, most)
        reader.say(f"at most {most} {NOUNS[name][most != 1]}")
    listed = re.search(r"symlist(\d+)", match.group("m"))
    if listed:
        reader.draft.symbol_sets.append(reader.lists[int(listed.group(1))])
    return True


MAX_CLASS_RULES = (
    rf"(?:(?:no|not)\s+more\s+than|at\s+most|(?:a\s+)?maximum\s+of|max(?:imum)?|up\s+to)\s+"
    rf"(?P<n>{NUM})\s+(?P<m>{_MENTION_LIST})",
    rf"(?:fewer|less)\s+than\s+(?P<lt>{NUM})\s+(?P<m>{_MENTION_LIST})",
)


def _table(sources: Iterable[str], handler: Handler) -> list[tuple[re.Pattern[str], Handler]]:
    return [(re.compile(source), handler) for source in sources]


# In this order: a span read by one rule is not read again by a later one.
RULES: tuple[tuple[re.Pattern[str], Handler], ...] = (
    *((re.compile(source), handler) for source, handler in NOT_APPLICABLE_RULES),
    *_table(REPEAT_RULES, _repeats),
    *_table(FIRST_RULES, _first),
    *_table(MIN_CLASS_RULES, _min_classes),
    *_table(FILLER_RULES, _filler),
    *_table(LENGTH_RULES, _length),
    *_table(MAX_CLASS_RULES, _class_maximum),
)


# Sentences and clauses ------------------------------------------------------------------

_SENTENCE_END = re.compile(r"[.!?]+(?=\s|$)|;")


def _sentences(line: _Mapped) -> list[_Mapped]:
    pieces, last = [], 0
    for end in _SENTENCE_END.finditer(line.text):
        pieces.append(line[last : end.start()])
        last = end.end()
    pieces.append(line[last:])
    return [piece for piece in pieces if piece.text.strip(" \t,:-")]


def _lines(text: _Mapped) -> list[_Mapped]:
    lines, last = [], 0
    for end in re.finditer(r"\n", text.text):
        lines.append(text[last : end.start()])
        last = end.end()
    lines.append(text[last:])
    return lines


# The policy -----------------------------------------------------------------------------


def parse_sentence(text: str, preferred_length: int = DEFAULT_PREFERRED_LENGTH) -> ProposedRules:
    """The policy a site's own description of its password rules asks for."""
    if not MIN_LENGTH <= preferred_length <= MAX_LENGTH:
        raise PolicyError({"preferred_length": f"must be between {MIN_LENGTH} and {MAX_LENGTH}"})
    if not text.strip():
        raise PolicyError({"sentence": "paste the sentence the site shows about passwords"})
    if len(text) > MAX_SENTENCE:
        raise PolicyError({"sentence": f"at most {MAX_SENTENCE:,} characters"})
    lists: list[str] = []
    reader = _Reader(text, lists)
    lead: _Lead | None = None
    for line in _lines(_normalize(text, lists)):
        sentences = _sentences(line)
        if not sentences:
            continue
        if line.text.rstrip().endswith(":"):  # "Your password must contain:" leads a list
            for sentence in sentences[:-1]:
                reader.read(sentence, None)
            lead = reader.read(sentences[-1], None)
        else:
            for sentence in sentences:
                reader.read(sentence, lead)
    draft = reader.draft
    if not draft.understood and draft.min_length is None and draft.max_length is None:
        raise PolicyError(
            {"sentence": "no password rule could be read here; paste the site's own words"}
        )
    policy = _policy(draft, preferred_length)
    return ProposedRules(
        policy=policy,
        min_length=draft.min_length,
        max_length=draft.max_length,
        understood=tuple(dict.fromkeys(draft.understood)),
        not_understood=tuple(dict.fromkeys(draft.not_understood)),
    )


def _length_of(draft: _Draft, preferred: int) -> int:
    low, high = draft.min_length, draft.max_length
    if low is not None and high is not None:
        said = f"{low} to {high} characters" if low != high else f"exactly {low} characters"
        if low > high:
            draft.not_understood.append(f"at least {low} but at most {high} characters")
        length = min(high, max(low, preferred))
    elif low is not None:
        said, length = f"at least {low} characters", max(low, preferred)
    elif high is not None:
        said, length = f"at most {high} characters", min(high, preferred)
    else:
        return preferred
    draft.understood.insert(0, said)
    fitted = min(MAX_LENGTH, max(MIN_LENGTH, length))
    if fitted != length:
        draft.not_understood.append(
            f"{said} (passwords here are {MIN_LENGTH} to {MAX_LENGTH} characters)"
        )
    return fitted


def _policy(draft: _Draft, preferred: int) -> PasswordPolicy:
    enabled = {name: draft.only is None or name in draft.only for name in CLASSES}
    enabled.update(dict.fromkeys(draft.allowed, True))
    enabled.update(dict.fromkeys(draft.forbidden, False))
    entries: list[tuple[tuple[str, ...], int]] = []
    for classes, count in draft.entries.items():
        usable = tuple(c for c in classes if enabled[c]) or classes
        if len(usable) == 1:
            draft.minimums[usable[0]] = max(draft.minimums[usable[0]], count)
        elif sum(draft.minimums[c] for c in usable) < count:  # else the minimums cover it
            entries.append((usable, count))
    for name in CLASSES:
        if draft.minimums[name] and not enabled[name]:
            draft.not_understood.append(
                f"{FIELDS[name]} are both required and not allowed (kept as required)"
            )
            enabled[name] = True
    for classes, _ in entries:
        enabled.update({c: True for c in classes if not any(enabled[d] for d in classes)})
    symbol_set, exclude = DEFAULT_SYMBOLS, ""
    if draft.symbol_sets:
        common = "".join(c for c in draft.symbol_sets[0] if all(c in s for s in draft.symbol_sets))
        if not common:
            draft.not_understood.append(
                "the lists of symbols have none in common; the last is used"
            )
            common = draft.symbol_sets[-1]
        symbol_set = "".join(c for c in common if c not in draft.excluded)
        if symbol_set:
            draft.understood.append(f"symbols only from {symbol_set}")
        else:
            symbol_set, enabled["special"] = DEFAULT_SYMBOLS, False
    elif enabled["special"]:
        exclude = draft.excluded
    if not enabled["special"]:
        symbol_set, exclude = DEFAULT_SYMBOLS, ""
    if draft.min_classes > sum(enabled.values()):
        draft.not_understood.append(
            f"characters from {draft.min_classes} kinds, "
            f"but only {sum(enabled.values())} kinds are allowed"
        )
    return PasswordPolicy(
        length=_length_of(draft, preferred),
        lowercase=enabled["lower"],
        uppercase=enabled["upper"],
        digits=enabled["digit"],
        symbols=enabled["special"],
        min_lowercase=draft.minimums["lower"],
        min_uppercase=draft.minimums["upper"],
        min_digits=draft.minimums["digit"],
        min_symbols=draft.minimums["special"],
        symbol_set=symbol_set,
        exclude=exclude,
        max_lowercase=draft.maximums["lower"],
        max_uppercase=draft.maximums["upper"],
        max_digits=draft.maximums["digit"],
        max_symbols=draft.maximums["special"],
        min_classes=draft.min_classes,
        max_consecutive=draft.max_consecutive,
        first_character=draft.first_character,
        require=tuple(", ".join(classes) for classes, count in entries for _ in range(count)),
    )
