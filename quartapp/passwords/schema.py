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
    PassphrasePolicy,
    PasswordPolicy,
    PolicyError,
    Strength,
    check_passphrase_policy,
    compile_policy,
    generate_compiled,
    generate_passphrase,
    passphrase_count,
    strength,
)

MODES = ("password", "passphrase")
_PASSWORD_FIELDS = {f.name: f.type for f in fields(PasswordPolicy)}
_PASSPHRASE_FIELDS = {f.name: f.type for f in fields(PassphrasePolicy)}
BOOL_FIELDS = frozenset(
    name for name, kind in {**_PASSWORD_FIELDS, **_PASSPHRASE_FIELDS}.items() if kind == "bool"
)
INT_FIELDS = frozenset(
    {"count"}
    | {name for name, kind in {**_PASSWORD_FIELDS, **_PASSPHRASE_FIELDS}.items() if kind == "int"}
)
TEXT_FIELDS = frozenset(
    name for name, kind in {**_PASSWORD_FIELDS, **_PASSPHRASE_FIELDS}.items() if kind == "str"
)
ALL_FIELDS = frozenset({"mode"} | BOOL_FIELDS | INT_FIELDS | TEXT_FIELDS)
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

    def as_fields(self) -> dict[str, Any]:
        """Flat field values, as the form and the saved policies use them."""
        return {"mode": self.mode, **asdict(self.password), **asdict(self.passphrase)}


def _build(values: dict[str, Any], errors: dict[str, str]) -> GeneratorRequest:
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
            else:
                errors[name] = "must be a whole number"
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
        if name.startswith("min_") and not values[name[4:]]:
            values[name] = 0  # an unticked class's "at least" box is ignored, not an error
            continue
        raw = form.get(name, "").strip()
        if raw == "":
            continue
        if WHOLE_NUMBER.fullmatch(raw):
            values[name] = int(raw)
        else:
            errors[name] = "must be a whole number"
    for name in TEXT_FIELDS | {"mode"}:
        if name in form:
            if len(form[name]) > MAX_TEXT:
                errors[name] = "is too long"
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
