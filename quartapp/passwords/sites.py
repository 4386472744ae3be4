"""Known sites' password rules and change-password pages, from Apple's open database.

The data (``data/``: ``password-rules.json`` and ``change-password-URLs.json`` from
https://github.com/apple/password-manager-resources, MIT) ships with the package and is
read once. A domain finds its own entry or, failing that, its nearest parent's
(``login.chase.com`` finds ``chase.com``), unless that entry is marked
``exact-domain-match-only``.

    site_rules("https://www.Chase.com/login")  # SiteRules(domain="chase.com", ...) or None
    change_password_url("login.chase.com")      # "https://..." or None
    known_domains()                             # every domain with rules or a URL, sorted

A domain that is not a domain name raises ``PolicyError({"site": reason})``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

from quartapp.passwords.generator import PolicyError
from quartapp.passwords.rules import ImportedRules, import_rules

__all__ = [
    "CHANGE_URLS_FILE",
    "RULES_FILE",
    "RulesEntry",
    "SiteRules",
    "change_password_url",
    "check_change_urls",
    "check_domain",
    "check_rules",
    "data_directory",
    "known_domains",
    "normalise_domain",
    "reload",
    "rules_problems",
    "site_rules",
]

RULES_FILE = "password-rules.json"
CHANGE_URLS_FILE = "change-password-URLs.json"
MAX_DOMAIN = 253
MAX_INPUT = 2048  # a pasted address may be long; the domain in it may not
MAX_URL = 2048
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_SCHEME = re.compile(r"[a-z][a-z0-9+.-]*://", re.IGNORECASE)


@dataclass(frozen=True)
class SiteRules:
    """A site's rules: the domain whose entry matched (``chase.com`` for
    ``login.chase.com``), Apple's text of the rules, the rules read into a policy, and the
    page to change the password on (looked up on its own, ``None`` if unknown)."""

    domain: str
    text: str
    rules: ImportedRules
    change_password_url: str | None


@dataclass(frozen=True)
class RulesEntry:
    text: str
    exact_domain_only: bool = False


# --- Domains ---------------------------------------------------------------------------


def check_domain(domain: str) -> str:
    """``domain`` if it is a domain name in lower case ASCII (as the data's keys are)."""
    if not domain:
        raise PolicyError({"site": "give a domain such as example.com"})
    if len(domain) > MAX_DOMAIN:
        raise PolicyError({"site": f"a domain name has at most {MAX_DOMAIN} characters"})
    for label in domain.split("."):
        if not _LABEL.fullmatch(label):
            raise PolicyError(
                {
                    "site": f"{domain[:80]!r} is not a domain name: use letters, digits and "
                    "'-' between dots, such as example.com"
                }
            )
    return domain


def normalise_domain(text: str) -> str:
    """The domain in ``text``: a domain or an address ("https://www.Example.com:443/x"
    -> "example.com"); lower case, without "www.", in ASCII (IDNA: "bücher.de" ->
    "xn--bcher-kva.de"). ``PolicyError({"site": ...})`` if there is none."""
    if len(text) > MAX_INPUT:
        raise PolicyError({"site": f"at most {MAX_INPUT} characters"})
    host = _SCHEME.sub("", text.strip(), count=1)
    host = re.split(r"[/?#\\]", host, maxsplit=1)[0]
    host = host.rpartition("@")[2]  # user:password@
    name, colon, port = host.rpartition(":")
    if colon:
        if not port.isascii() or not port.isdigit():
            raise PolicyError({"site": f"{host[:80]!r} is not a domain name with a port"})
        host = name
    host = host.removesuffix(".")
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii")
        except UnicodeError:
            raise PolicyError({"site": f"{host[:80]!r} is not a valid domain name"}) from None
    host = host.lower()
    if host.startswith("www.") and host.count(".") > 1:
        host = host[4:]
    return check_domain(host)


def _candidates(domain: str) -> list[str]:
    """The domain, then each parent with at least two labels."""
    labels = domain.split(".")
    return [".".join(labels[i:]) for i in range(max(1, len(labels) - 1))]


# --- The data --------------------------------------------------------------------------


def data_directory() -> Path:
    """Where the shipped files are."""
    return Path(str(files("quartapp.passwords").joinpath("data")))


def _domain_key(key: object, name: str) -> str:
    if not isinstance(key, str):  # pragma: no cover - JSON keys are strings
        raise ValueError(f"{name}: a key is not a string")
    try:
        return check_domain(key)
    except PolicyError as error:
        raise ValueError(f"{name}: {error.errors['site']}") from None


def check_rules(document: object) -> dict[str, RulesEntry]:
    """The entries of a ``password-rules.json`` document; ``ValueError`` naming what is
    wrong if it is not one (shape, domains; each rule is read by ``rules_problems``)."""
    if not isinstance(document, dict) or not document:
        raise ValueError(f"{RULES_FILE}: must be a JSON object of domains")
    entries = {}
    for key, value in document.items():
        domain = _domain_key(key, RULES_FILE)
        if not isinstance(value, dict):
            raise ValueError(f"{RULES_FILE}: {domain}: must be an object")
        unknown = set(value) - {"password-rules", "exact-domain-match-only"}
        if unknown:
            raise ValueError(f"{RULES_FILE}: {domain}: unknown keys {sorted(unknown)}")
        text = value.get("password-rules")
        exact = value.get("exact-domain-match-only", False)
        if not isinstance(text, str):
            raise ValueError(f"{RULES_FILE}: {domain}: 'password-rules' must be a string")
        if not isinstance(exact, bool):
            raise ValueError(
                f"{RULES_FILE}: {domain}: 'exact-domain-match-only' must be true or false"
            )
        entries[domain] = RulesEntry(text, exact)
    return entries


def rules_problems(entries: dict[str, RulesEntry]) -> dict[str, str]:
    """Each domain whose rules cannot be used, with the reason."""
    problems = {}
    for domain, entry in entries.items():
        try:
            import_rules(entry.text)
        except PolicyError as error:
            problems[domain] = error.errors["rules"]
    return problems


def check_change_urls(document: object) -> dict[str, str]:
    """The URLs of a ``change-password-URLs.json`` document; ``ValueError`` naming what
    is wrong if it is not one. Only https:// addresses: the page links them."""
    if not isinstance(document, dict) or not document:
        raise ValueError(f"{CHANGE_URLS_FILE}: must be a JSON object of domains")
    urls = {}
    for key, value in document.items():
        domain = _domain_key(key, CHANGE_URLS_FILE)
        if (
            not isinstance(value, str)
            or not value.startswith("https://")
            or len(value) > MAX_URL
            or not value.isprintable()
            or any(c.isspace() or c in "\"'<>\\`" for c in value)
            or len(value) == len("https://")
        ):
            raise ValueError(
                f"{CHANGE_URLS_FILE}: {domain}: must be an https:// address, not {value!r:.100}"
            )
        urls[domain] = value
    return urls


def _read(name: str) -> Any:
    return json.loads(files("quartapp.passwords").joinpath("data", name).read_text("utf-8"))


@cache
def _rules() -> dict[str, RulesEntry]:
    return check_rules(_read(RULES_FILE))


@cache
def _change_urls() -> dict[str, str]:
    return check_change_urls(_read(CHANGE_URLS_FILE))


@cache
def _imported(domain: str) -> ImportedRules:
    try:
        return import_rules(_rules()[domain].text)
    except PolicyError as error:
        raise PolicyError(
            {"site": f"the rules known for {domain} cannot be used: {error.errors['rules']}"}
        ) from None


def reload() -> None:
    """Forget what was read, so the next lookup reads the files again."""
    for function in (_rules, _change_urls, _imported, _known):
        function.cache_clear()


# --- Lookups ---------------------------------------------------------------------------


def _rules_domain(domain: str) -> str | None:
    entries = _rules()
    for candidate in _candidates(domain):
        entry = entries.get(candidate)
        if entry is not None and (candidate == domain or not entry.exact_domain_only):
            return candidate
    return None


def site_rules(domain: str) -> SiteRules | None:
    """The password rules known for ``domain`` (a domain or an address) or its nearest
    parent, or ``None`` if none are known. ``PolicyError({"site": ...})`` if ``domain`` is
    not a domain name."""
    normal = normalise_domain(domain)
    matched = _rules_domain(normal)
    if matched is None:
        return None
    return SiteRules(
        matched, _rules()[matched].text, _imported(matched), change_password_url(normal)
    )


def change_password_url(domain: str) -> str | None:
    """The page to change the password on for ``domain`` or its nearest parent, or
    ``None``. ``PolicyError({"site": ...})`` if ``domain`` is not a domain name."""
    urls = _change_urls()
    for candidate in _candidates(normalise_domain(domain)):
        if candidate in urls:
            return urls[candidate]
    return None


@cache
def _known() -> tuple[str, ...]:
    return tuple(sorted(set(_rules()) | set(_change_urls())))


def known_domains() -> list[str]:
    """Every domain with rules or a change-password page, sorted (for suggestions)."""
    return list(_known())
