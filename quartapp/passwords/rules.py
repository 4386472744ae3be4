"""Read a site's ``passwordrules`` attribute into a policy.

The syntax (proposed by Apple, used by many sites and password managers) is a list of
``name: value`` rules separated by ``;``, for example
``minlength: 10; required: lower; required: upper; required: digit; allowed: [-_]``.
Rules: ``required`` and ``allowed`` take classes (``lower``, ``upper``, ``digit``,
``special``, ``ascii-printable``, ``unicode``) or characters in brackets; ``minlength``,
``maxlength`` and ``max-consecutive`` take numbers. Where the generator cannot say exactly
what a rule says, the policy is made stricter (never looser) and a note says so.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, replace
from typing import Any

from quartapp.passwords.generator import (
    CLASS_NAMES,
    DEFAULT_SYMBOLS,
    MAX_LENGTH,
    MIN_LENGTH,
    PasswordPolicy,
    PolicyError,
    compile_policy,
)

MAX_RULES_TEXT = 1000
DEFAULT_LENGTH = 16
# The "special" class of the passwordrules syntax, less the space.
SPECIAL = "-~!@#$%^&*_+=`|(){}[:;\"'<>,.?]"
NAMED_CLASSES = {
    "lower": ("lowercase",),
    "upper": ("uppercase",),
    "digit": ("digits",),
    "special": ("symbols",),
    "ascii-printable": CLASS_NAMES,
    "unicode": CLASS_NAMES,
}
# A bracketed set ends at the first "]" that is followed by ",", ";" or the end.
_BRACKETS = r"\[(?:[^\]]|\](?!\s*(?:[,;]|$)))*\]"
_ITEM = re.compile(rf"\s*({_BRACKETS})\s*|\s*([A-Za-z-]+)\s*")
_RULE_TOKENS = re.compile(rf"({_BRACKETS})|;|[^;\[]+|\[")


@dataclass(frozen=True)
class ImportedRules:
    policy: PasswordPolicy
    notes: tuple[str, ...]


@dataclass
class _Draft:
    enabled: set[str]
    minimums: dict[str, int]
    symbols: str = ""
    include: str = ""
    min_length: int | None = None
    max_length: int | None = None


def _split_items(value: str) -> list[str]:
    items, position = [], 0
    while position < len(value):
        match = _ITEM.match(value, position)
        if match is None or match.end() == position:
            raise PolicyError({"rules": f"cannot read {value[position : position + 20]!r}"})
        items.append((match.group(1) or match.group(2)).strip())
        position = match.end()
        if position < len(value):
            if value[position] != ",":
                raise PolicyError({"rules": f"expected ',' in {value!r}"})
            position += 1
    return items


def _classes_of(item: str, draft: _Draft, notes: list[str]) -> list[str]:
    """Enable what ``item`` allows and return the classes it stands for."""
    if item.startswith("["):
        chars = item[1:-1]
        symbols = "".join(c for c in chars if c in string.punctuation)
        others = "".join(c for c in chars if c not in symbols and not c.isspace())
        if symbols:
            draft.symbols += symbols
            draft.enabled.add("symbols")
        if others:
            draft.include += others
        return ["symbols"] if symbols else []
    classes = NAMED_CLASSES.get(item.lower())
    if classes is None:
        raise PolicyError({"rules": f"unknown character class {item!r}"})
    if item.lower() == "unicode":
        notes.append("'unicode' was read as ASCII letters, digits and symbols.")
    draft.enabled.update(classes)
    if "symbols" in classes:
        draft.symbols += SPECIAL if item.lower() == "special" else DEFAULT_SYMBOLS
    return list(classes)


def _number(name: str, value: str) -> int:
    text = value.strip()
    if not (text.isascii() and text.isdigit() and len(text) <= 4):
        raise PolicyError({"rules": f"{name} must be a whole number"})
    return int(text)


def _apply(name: str, value: str, draft: _Draft, notes: list[str]) -> None:
    if name in {"required", "allowed"}:
        items = _split_items(value)
        classes: list[str] = []
        for item in items:
            classes += _classes_of(item, draft, notes)
        if name == "required":
            if classes:
                # One of several sets is required: requiring the first is stricter and still valid.
                draft.minimums[classes[0]] += 1
                if len(items) > 1:
                    notes.append(
                        f"'required: {value.strip()}' asks for one of several sets; "
                        f"at least one of the {classes[0]} is required instead."
                    )
            else:
                notes.append(
                    f"'required: {value.strip()}' cannot be required exactly; "
                    "those characters are allowed."
                )
    elif name == "minlength":
        draft.min_length = _number(name, value)
    elif name == "maxlength":
        draft.max_length = _number(name, value)
    elif name == "max-consecutive":
        notes.append("max-consecutive is not applied: check the password before using it.")
    else:
        raise PolicyError({"rules": f"unknown rule {name!r}"})


def _split_rules(text: str) -> list[str]:
    """The rules, split at each ";" that is not inside brackets."""
    rules, current = [], ""
    for token in _RULE_TOKENS.finditer(text):
        if token.group(0) == ";":
            rules.append(current)
            current = ""
        else:
            current += token.group(0)
    rules.append(current)
    return [rule.strip() for rule in rules if rule.strip()]


def import_rules(text: str) -> ImportedRules:
    """The strictest policy we can express that meets every rule in ``text``."""
    if len(text) > MAX_RULES_TEXT:
        raise PolicyError({"rules": f"at most {MAX_RULES_TEXT} characters"})
    if not text.strip():
        raise PolicyError({"rules": "paste a rule such as 'minlength: 10; required: digit'"})
    draft = _Draft(enabled=set(), minimums=dict.fromkeys(CLASS_NAMES, 0))
    notes: list[str] = []
    for rule in _split_rules(text):
        name, colon, value = rule.partition(":")
        if not colon:
            raise PolicyError({"rules": f"{rule[:40]!r} needs a ':' after the rule name"})
        _apply(name.strip().lower(), value, draft, notes)
    if not draft.enabled and not draft.include:  # the syntax's default: ascii-printable
        _classes_of("ascii-printable", draft, notes)
    return ImportedRules(_policy(draft, notes), tuple(notes))


def _policy(draft: _Draft, notes: list[str]) -> PasswordPolicy:
    if draft.max_length is not None and draft.max_length < MIN_LENGTH:
        raise PolicyError({"rules": f"maxlength is below {MIN_LENGTH}, the shortest length here"})
    if draft.min_length is not None and draft.min_length > MAX_LENGTH:
        raise PolicyError({"rules": f"minlength is above {MAX_LENGTH}, the longest length here"})
    low = max(MIN_LENGTH, draft.min_length or MIN_LENGTH)
    high = min(MAX_LENGTH, draft.max_length or MAX_LENGTH)
    if low > high:
        raise PolicyError({"rules": "minlength is more than maxlength"})
    length = min(max(DEFAULT_LENGTH, low), high)
    classes: dict[str, Any] = {name: name in draft.enabled for name in CLASS_NAMES}
    classes.update({f"min_{name}": count for name, count in draft.minimums.items()})
    policy = PasswordPolicy(
        length=length,
        symbol_set="".join(dict.fromkeys(draft.symbols)) or DEFAULT_SYMBOLS,
        include="".join(dict.fromkeys(draft.include)),
        **classes,
    )
    if not policy.symbols:
        policy = replace(policy, symbol_set=DEFAULT_SYMBOLS)
    if draft.min_length and draft.min_length < MIN_LENGTH:
        notes.append(f"The length is at least {MIN_LENGTH} here.")
    try:
        compile_policy(policy)
    except PolicyError as error:  # named on the rules: the page shows them, not this policy
        raise PolicyError(
            {"rules": "these rules cannot be met: " + "; ".join(error.errors.values())}
        ) from None
    return policy
