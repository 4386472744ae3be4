"""Generator requests from JSON (the API) or a form (the page), with the same field names.

Every field is optional and defaults to the page's defaults. Each bad field is named in the
error, with what is wrong with it; nothing here raises anything but ``PolicyError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from quartapp.passwords.generator import (
    CLASS_NAMES,
    MAX_BATCH,
    MAX_REQUIREMENTS,
    PasswordPolicy,
    PolicyError,
    Strength,
    compile_policy,
    generate_compiled,
    split_requirements,
    strength,
)
from quartapp.passwords.passphrase import (
    PassphrasePolicy,
    check_passphrase_policy,
    generate_passphrase,
    passphrase_count,
)
from quartapp.passwords.sites import SiteRules, normalise_domain, site_rules

MODES = ("password", "passphrase")
_PASSWORD_FIELDS = {f.name: f.type for f in fields(PasswordPolicy)}
_PASSPHRASE_FIELDS = {f.name: f.type for f in fields(PassphrasePolicy)}
BOOL_FIELDS = frozenset(
    name for name, kind in {**_PASSWORD_FIELDS, **_PASSPHRASE_FIELDS}.items() if kind == "bool"
)
INT_FIELDS = frozenset(
    {"count"}
    | {
        name
        for name, kind in {**_PASSWORD_FIELDS, **_PASSPHRASE_FIELDS}.items()
        if kind in {"int", "int | None"}
    }
)
# Whole numbers that may be left out ("no limit"): null in JSON, an empty box in the form.
OPTIONAL_INT_FIELDS = frozenset(
    name
    for name, kind in {**_PASSWORD_FIELDS, **_PASSPHRASE_FIELDS}.items()
    if kind == "int | None"
)
TEXT_FIELDS = frozenset(
    name for name, kind in {**_PASSWORD_FIELDS, **_PASSPHRASE_FIELDS}.items() if kind == "str"
)
# Lists of text: in JSON a list of strings; in the form one box, the items split by ";".
LIST_FIELDS = frozenset(
    name
    for name, kind in {**_PASSWORD_FIELDS, **_PASSPHRASE_FIELDS}.items()
    if kind == "tuple[str, ...]"
)
ALL_FIELDS = frozenset({"mode", "site"} | BOOL_FIELDS | INT_FIELDS | TEXT_FIELDS | LIST_FIELDS)
MAX_TEXT = 1024  # longer than any valid value; the policy checks the real limits
# A form's whole number: an optional minus and up to six ASCII digits (the policy checks
# the real range). "--5", "5e3" or Arabic-Indic digits are not one.
WHOLE_NUMBER = re.compile(r"-?[0-9]{1,6}")


@dataclass(frozen=True)
class GeneratorRequest:
    mode: str = "password"
    count: int = 1
    password: PasswordPolicy = field(default_factory=PasswordPolicy)
    passphrase: PassphrasePolicy = field(default_factory=PassphrasePolicy)
    site: SiteRules | None = field(default=None, compare=False)  # whose rules it started from

    def as_fields(self) -> dict[str, Any]:
        """Flat field values, as the saved policies and (lists joined) the form use them."""
        values = {"mode": self.mode, **asdict(self.password), **asdict(self.passphrase)}
        return {name: list(v) if isinstance(v, tuple) else v for name, v in values.items()}


def _site(values: dict[str, Any], errors: dict[str, str]) -> SiteRules | None:
    """Read ``site`` from ``values`` and put the site's rules under the fields given."""
    domain = values.pop("site", None)
    if domain is None:
        return None
    if values.get("mode", "password") != "password":
        errors["site"] = "a site's rules are for passwords; leave out mode 'passphrase'"
        return None
    try:
        found = site_rules(domain)
    except PolicyError as error:
        errors.update(error.errors)
        return None
    if found is None:
        errors["site"] = f"no rules are known for {normalise_domain(domain)}; send its rules"
        return None
    rules = asdict(found.rules.policy)
    for name in CLASS_NAMES:  # a class the request turns off drops the site's counts of it
        if values.get(name) is False:
            del rules[f"min_{name}"], rules[f"max_{name}"]
    for name, value in rules.items():
        values.setdefault(name, value)  # the fields given win
    return found


def _build(values: dict[str, Any], errors: dict[str, str]) -> GeneratorRequest:
    site = _site(values, errors)
    for name in CLASS_NAMES:  # a class turned off needs none of its characters...
        if values.get(name) is False:
            values.setdefault(f"min_{name}", 0)  # ...unless a minimum is asked for: an error
    mode = values.pop("mode", "password")
    if mode not in MODES:
        errors["mode"] = "must be 'password' or 'passphrase'"
    batch = values.pop("count", 1)
    if not 1 <= batch <= MAX_BATCH:
        errors["count"] = f"must be between 1 and {MAX_BATCH}"
    if errors:
        raise PolicyError(errors)
    request = GeneratorRequest(
        mode=mode,
        count=batch,
        password=PasswordPolicy(**{k: v for k, v in values.items() if k in _PASSWORD_FIELDS}),
        passphrase=PassphrasePolicy(**{k: v for k, v in values.items() if k in _PASSPHRASE_FIELDS}),
        site=site,
    )
    if mode == "password":
        compile_policy(request.password)
    else:
        check_passphrase_policy(request.passphrase)
    return request


def from_json(document: object) -> GeneratorRequest:
    """A request from a decoded JSON body: exact types, no unknown fields."""
    if not isinstance(document, dict):
        raise PolicyError({"body": "must be a JSON object"})
    errors: dict[str, str] = {}
    values: dict[str, Any] = {}
    for name, value in document.items():
        if name not in ALL_FIELDS:
            errors[str(name)[:64]] = "is not a field of this API"
        elif name in BOOL_FIELDS:
            if isinstance(value, bool):
                values[name] = value
            else:
                errors[name] = "must be true or false"
        elif name in INT_FIELDS:
            if isinstance(value, int) and not isinstance(value, bool):
                values[name] = value
            elif value is None and name in OPTIONAL_INT_FIELDS:
                values[name] = None
            else:
                errors[name] = "must be a whole number" + (
                    " or null" if name in OPTIONAL_INT_FIELDS else ""
                )
        elif name in LIST_FIELDS:
            if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
                errors[name] = "must be a list of strings"
            elif len(value) > MAX_REQUIREMENTS or sum(map(len, value)) > MAX_TEXT:
                errors[name] = f"at most {MAX_REQUIREMENTS} items and {MAX_TEXT} characters"
            else:
                values[name] = tuple(value)
        elif isinstance(value, str) and len(value) <= MAX_TEXT:
            values[name] = value
        else:
            errors[name] = "must be a string" if not isinstance(value, str) else "is too long"
    return _build(values, errors)


def from_form(form: Mapping[str, str]) -> GeneratorRequest:
    """A request from the page's form: a checkbox that is not sent is off."""
    errors: dict[str, str] = {}
    values: dict[str, Any] = {name: name in form for name in BOOL_FIELDS}
    for name in INT_FIELDS:
        kind, _, class_name = name.partition("_")
        if kind in {"min", "max"} and class_name in CLASS_NAMES and not values[class_name]:
            # An unticked class's "at least" and "at most" boxes are ignored, not errors.
            values[name] = 0 if kind == "min" else None
            continue
        raw = form.get(name, "").strip()
        if raw == "":
            continue
        if WHOLE_NUMBER.fullmatch(raw):
            values[name] = int(raw)
        else:
            errors[name] = "must be a whole number"
    for name in TEXT_FIELDS | LIST_FIELDS | {"mode"}:
        if name in form:
            if len(form[name]) > MAX_TEXT:
                errors[name] = "is too long"
            elif name in LIST_FIELDS:
                values[name] = split_requirements(form[name])
            else:
                values[name] = form[name]
    return _build(values, errors)


@dataclass(frozen=True)
class Batch:
    passwords: list[str]
    count_allowed: int
    strength: Strength


def generate_batch(request: GeneratorRequest) -> Batch:
    """Passwords (or passphrases) for a request already checked by ``from_json``/``from_form``."""
    if request.mode == "password":
        compiled = compile_policy(request.password)
        passwords = [generate_compiled(compiled) for _ in range(request.count)]
        total = compiled.count
    else:
        passwords = [generate_passphrase(request.passphrase) for _ in range(request.count)]
        total = passphrase_count(request.passphrase)
    return Batch(passwords, total, strength(total))
