"""How the page shows a password: each character marked with its class (so that 0 and O,
l and 1 are told apart by more than their shape), and spelled out for reading aloud.

``static/passwords.js`` does the same in the browser, with the same classes and words
(a test compares the two); this is the rendering without JavaScript.
"""

from __future__ import annotations

import string
from dataclasses import dataclass

from markupsafe import Markup, escape

NATO = {
    "a": "alpha", "b": "bravo", "c": "charlie", "d": "delta", "e": "echo", "f": "foxtrot",
    "g": "golf", "h": "hotel", "i": "india", "j": "juliet", "k": "kilo", "l": "lima",
    "m": "mike", "n": "november", "o": "oscar", "p": "papa", "q": "quebec", "r": "romeo",
    "s": "sierra", "t": "tango", "u": "uniform", "v": "victor", "w": "whiskey", "x": "x-ray",
    "y": "yankee", "z": "zulu",
}  # fmt: skip
DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
SYMBOLS = {
    "!": "exclamation mark", '"': "double quote", "#": "hash", "$": "dollar sign",
    "%": "percent sign", "&": "ampersand", "'": "apostrophe", "(": "left parenthesis",
    ")": "right parenthesis", "*": "asterisk", "+": "plus sign", ",": "comma",
    "-": "hyphen", ".": "dot", "/": "slash", ":": "colon", ";": "semicolon",
    "<": "less-than sign", "=": "equals sign", ">": "greater-than sign",
    "?": "question mark", "@": "at sign", "[": "left square bracket", "\\": "backslash",
    "]": "right square bracket", "^": "caret", "_": "underscore", "`": "backtick",
    "{": "left curly brace", "|": "vertical bar", "}": "right curly brace", "~": "tilde",
}  # fmt: skip
assert set(SYMBOLS) == set(string.punctuation)


@dataclass(frozen=True)
class Character:
    char: str
    kind: str  # lower, upper, digit, symbol or other: the CSS class is "ch-" + kind
    spoken: str


def character(char: str) -> Character:
    if char in string.ascii_lowercase:
        return Character(char, "lower", NATO[char])
    if char in string.ascii_uppercase:
        return Character(char, "upper", "capital " + NATO[char.lower()].upper())
    if char in string.digits:
        return Character(char, "digit", DIGITS[int(char)])
    if char in SYMBOLS:
        return Character(char, "symbol", SYMBOLS[char])
    return Character(char, "other", f"U+{ord(char):04X}")


def characters(password: str) -> list[Character]:
    return [character(char) for char in password]


def _span(char: Character) -> str:
    return f'<span class="ch ch-{char.kind}">{escape(char.char)}</span>'


def classed(password: str) -> Markup:
    """The password as one span a character, nothing between them: its text (what a
    selection copies) is exactly the password."""
    return Markup("".join(_span(char) for char in characters(password)))  # noqa: S704 - escaped


def spelled(password: str) -> Markup:
    """The list items of the password read aloud, one a character."""
    items = (
        f'<li>{_span(char)} <span class="spoken">{escape(char.spoken)}</span></li>'
        for char in characters(password)
    )
    return Markup("".join(items))  # noqa: S704 - every part is escaped
