"""``python -m quartapp passwords ...``: generate passwords, look up a site, update the data.

    passwords generate [--length N] [--min-digits N] [--no-symbols] [--require SET]...
                       [--site DOMAIN] [--count N] [--json] [--passphrase --words N ...]
    passwords site DOMAIN
    passwords update-sites FILE...

``generate`` takes every field of the API (``POST /api/passwords``) as an option, builds
the same JSON document and checks it the same way (``schema.from_json``); ``--site`` is the
API's ``site``: the site's rules, with the options given winning over them. Passwords go to
standard output, one a line (``--json``: the API's document); errors and notes go to
standard error, each bad option named, with exit status 2. Passwords are never logged.

``update-sites`` replaces the shipped ``password-rules.json`` and/or
``change-password-URLs.json`` with Apple's newer ones, only if every file is the expected
shape and every rule can be read; each file is written whole or not at all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any, TextIO

from quartapp.passwords import sites
from quartapp.passwords.describe import site_summary, summary
from quartapp.passwords.generator import PasswordPolicy, PolicyError
from quartapp.passwords.passphrase import PassphrasePolicy
from quartapp.passwords.rules import ImportedRules
from quartapp.passwords.schema import (
    BOOL_FIELDS,
    INT_FIELDS,
    LIST_FIELDS,
    OPTIONAL_INT_FIELDS,
    from_json,
    generate_batch,
)

__all__ = ["add_parser", "main", "run"]

USAGE_ERROR = 2
DATA_ERROR = 1
MAX_DATA_FILE = 10 * 1024 * 1024
_FIELD_ORDER = [f.name for f in fields(PasswordPolicy)] + [f.name for f in fields(PassphrasePolicy)]
_HELP = {
    "length": "password length",
    "symbol_set": "the symbols to use",
    "exclude": "characters never to use",
    "include": "extra characters to use",
    "min_classes": "characters of at least this many of the four classes",
    "max_consecutive": "no character more than N times in a row",
    "first_character": "any, letter or alphanumeric",
    "require": "at least one character from SET, such as 'lower, upper' (repeatable)",
    "words": "passphrase: how many words",
    "separator": "passphrase: between the words",
    "max_length": "passphrase: at most N characters in all",
}


def option(name: str) -> str:
    return "--" + name.replace("_", "-")


def _whole_number(text: str) -> int:
    if not text.lstrip("-").isascii() or not text.lstrip("-").isdigit() or len(text) > 7:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}")
    return int(text)


def _whole_number_or_none(text: str) -> int | None:
    return None if text.lower() == "none" else _whole_number(text)


def _add_field(parser: argparse._ActionsContainer, name: str) -> None:
    """One option for one API field, read as the field's kind says."""
    help_text = _HELP.get(name)
    kind: dict[str, Any]
    if name in BOOL_FIELDS:
        kind = {"action": argparse.BooleanOptionalAction}
    elif name in OPTIONAL_INT_FIELDS:
        kind = {"type": _whole_number_or_none, "metavar": "N"}
        help_text = (help_text or "at most N") + " ('none': no limit)"
    elif name in INT_FIELDS:
        kind = {"type": _whole_number, "metavar": "N"}
    elif name in LIST_FIELDS:
        kind = {"action": "append", "metavar": "SET"}
    else:
        kind = {"metavar": "TEXT"}
    parser.add_argument(option(name), dest=name, default=argparse.SUPPRESS, help=help_text, **kind)


def _fill(passwords: argparse.ArgumentParser) -> None:
    commands = passwords.add_subparsers(dest="passwords_command", required=True)
    generate = commands.add_parser(
        "generate",
        help="passwords or passphrases, as the API makes them",
        description="Every option is a field of POST /api/passwords; left out, the API's "
        "default. With --site, the site's rules, with the options given winning over them.",
    )
    generate.add_argument("--site", metavar="DOMAIN", help="start from this site's rules")
    generate.add_argument("-n", "--count", type=_whole_number, default=1, metavar="N")
    generate.add_argument("--json", action="store_true", help="print the API's JSON document")
    generate.add_argument("--passphrase", action="store_true", help="words instead of characters")
    generate.add_argument("-q", "--quiet", action="store_true", help="no notes on the site")
    password_options = generate.add_argument_group("password options")
    phrase_options = generate.add_argument_group("passphrase options")
    password_fields = {f.name for f in fields(PasswordPolicy)}
    for name in _FIELD_ORDER:
        _add_field(password_options if name in password_fields else phrase_options, name)
    site = commands.add_parser("site", help="the rules and change-password page known for a site")
    site.add_argument("domain")
    update = commands.add_parser(
        "update-sites",
        help="replace the shipped data with Apple's newer files",
        description=f"FILE: Apple's {sites.RULES_FILE} and/or {sites.CHANGE_URLS_FILE} "
        "(from github.com/apple/password-manager-resources, quirks/). Nothing is written "
        "unless every file is right.",
    )
    update.add_argument("files", nargs="+", metavar="FILE", type=Path)
    update.add_argument(
        "--data-dir", type=Path, help="write there instead of the package's data directory"
    )


def add_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``passwords`` to ``python -m quartapp``'s commands."""
    _fill(commands.add_parser("passwords", help="generate passwords; known sites' rules"))


def run(args: argparse.Namespace, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Run a parsed ``passwords`` command; the exit status."""
    out, err = out or sys.stdout, err or sys.stderr
    if args.passwords_command == "generate":
        return _generate(args, out, err)
    if args.passwords_command == "site":
        return _site(args.domain, out, err)
    return _update_sites(args.files, args.data_dir, out, err)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m quartapp passwords")
    _fill(parser)
    return run(parser.parse_args(argv))


# --- generate ----------------------------------------------------------------------------


def _errors(errors: dict[str, str], err: TextIO) -> int:
    for name, message in errors.items():
        if name == "mode":
            shown = "--passphrase"
        elif name in {"count", "site"} or name in _FIELD_ORDER:
            shown = option(name)
        else:
            shown = name
        print(f"error: {shown}: {message}", file=err)
    return USAGE_ERROR


def _print_site(domain: str, rules: ImportedRules, url: str | None, out: TextIO) -> None:
    print(f"Rules for {domain}:", file=out)
    for line in rules.describe():
        print(f"  - {line}", file=out)
    for note in rules.notes:
        print(f"note: {note}", file=out)
    if url:
        print(f"Change the password at {url}", file=out)


def _generate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    # The API's document: the options given; "none" is no limit, the default.
    document: dict[str, Any] = {
        name: value
        for name, value in vars(args).items()
        if name in _FIELD_ORDER and value is not None
    }
    if args.site is not None:
        document["site"] = args.site  # the site's rules, under the options given
    if args.passphrase:
        document["mode"] = "passphrase"
    document["count"] = args.count
    try:
        request = from_json(document)
    except PolicyError as error:
        return _errors(error.errors, err)
    if request.site is not None and not args.quiet:
        found = request.site
        _print_site(found.domain, found.rules, found.change_password_url, err)
        low, high = found.rules.length_range
        if "length" in document and not low <= document["length"] <= high:
            print(f"note: --length {document['length']} is outside {low} to {high}", file=err)
    batch = generate_batch(request)
    if args.json:
        result = {"passwords": batch.passwords, **summary(batch)}
        if request.site is not None:
            result["site"] = site_summary(request.site)
        print(json.dumps(result, indent=2), file=out)
    else:
        for password in batch.passwords:
            print(password, file=out)
    return 0


# --- site --------------------------------------------------------------------------------


def _site(domain: str, out: TextIO, err: TextIO) -> int:
    try:
        found = sites.site_rules(domain)
        url = sites.change_password_url(domain)
    except PolicyError as error:
        return _errors(error.errors, err)
    if found is None and url is None:
        print(f"Nothing is known about {sites.normalise_domain(domain)}.", file=out)
        return DATA_ERROR
    if found is None:
        print(f"No rules are known for {sites.normalise_domain(domain)}.", file=out)
        print(f"Change the password at {url}", file=out)
        return 0
    print(f"{found.domain}: {found.text}", file=out)
    _print_site(found.domain, found.rules, url, out)
    return 0


# --- update-sites ------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise ValueError(f"{key!r} appears twice")
        result[key] = value
    return result


def _kind(path: Path, document: object) -> str:
    """Which of the two files ``path`` is: by its name, else by what it holds."""
    for name in (sites.RULES_FILE, sites.CHANGE_URLS_FILE):
        if path.name.lower() == name.lower():
            return name
    if isinstance(document, dict) and document:
        if all(isinstance(value, dict) for value in document.values()):
            return sites.RULES_FILE
        if all(isinstance(value, str) for value in document.values()):
            return sites.CHANGE_URLS_FILE
    raise ValueError(
        f"neither {sites.RULES_FILE} (domains to objects) nor {sites.CHANGE_URLS_FILE} "
        "(domains to addresses)"
    )


def _read_data_file(path: Path) -> tuple[str, bytes, int]:
    """(which file, its bytes, how many domains); ``ValueError`` saying what is wrong."""
    try:
        if path.stat().st_size > MAX_DATA_FILE:
            raise ValueError(f"larger than {MAX_DATA_FILE // (1024 * 1024)} MB")
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(error.strerror or str(error)) from None
    try:
        document = json.loads(data.decode("utf-8"), object_pairs_hook=_no_duplicates)
    except UnicodeDecodeError:
        raise ValueError("not UTF-8 text") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"not JSON: {error}") from None
    kind = _kind(path, document)
    if kind == sites.RULES_FILE:
        entries = sites.check_rules(document)
        problems = sites.rules_problems(entries)
        if problems:
            listed = "\n".join(f"  {domain}: {reason}" for domain, reason in problems.items())
            raise ValueError(f"{len(problems)} rules cannot be read:\n{listed}")
        return kind, data, len(entries)
    return kind, data, len(sites.check_change_urls(document))


def _write_atomically(target: Path, data: bytes) -> None:
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, 0o644)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _update_sites(files: list[Path], data_dir: Path | None, out: TextIO, err: TextIO) -> int:
    target = data_dir or sites.data_directory()
    if not target.is_dir():
        print(f"error: {target} is not a directory", file=err)
        return USAGE_ERROR
    chosen: dict[str, tuple[Path, bytes, int]] = {}
    failed = False
    for path in files:
        try:
            kind, data, count = _read_data_file(path)
        except ValueError as error:
            print(f"error: {path}: {error}", file=err)
            failed = True
            continue
        if kind in chosen:
            print(f"error: {path}: a second {kind} (the first: {chosen[kind][0]})", file=err)
            failed = True
            continue
        chosen[kind] = (path, data, count)
    if failed:
        print("error: nothing was written", file=err)
        return DATA_ERROR
    for kind, (path, data, count) in chosen.items():
        _write_atomically(target / kind, data)
        print(f"{kind}: {count} domains, from {path}", file=out)
    sites.reload()
    return 0
