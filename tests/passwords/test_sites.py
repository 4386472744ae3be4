"""Known sites' rules and change-password pages: every shipped rule is read, lookups walk
up to the parent domain, and a domain that is not one is refused."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from importlib.resources import files
from pathlib import Path
from typing import Any

import pytest

from quartapp.passwords import sites
from quartapp.passwords.generator import PolicyError, compile_policy, generate
from quartapp.passwords.rules import import_rules
from quartapp.passwords.sites import (
    change_password_url,
    known_domains,
    normalise_domain,
    site_rules,
)
from tests.passwords.test_rules import assert_meets_rules, expected_from

DATA = files("quartapp.passwords").joinpath("data")


def shipped(name: str) -> Any:
    return json.loads(DATA.joinpath(name).read_text("utf-8"))


RULES: dict[str, dict[str, Any]] = shipped(sites.RULES_FILE)
URLS: dict[str, str] = shipped(sites.CHANGE_URLS_FILE)
# Shipped rules that are refused, with the reason: none.
REFUSED: dict[str, str] = {}


def test_the_shipped_files_are_apples_with_the_licence_and_a_readme() -> None:
    assert len(RULES) > 400
    assert len(URLS) > 600
    assert "Apple Inc." in DATA.joinpath("LICENSE.md").read_text("utf-8")
    readme = DATA.joinpath("README.md").read_text("utf-8")
    assert "apple/password-manager-resources" in readme
    assert "MIT" in readme


@pytest.mark.parametrize("domain", sorted(RULES))
def test_every_shipped_rule_is_read(domain: str) -> None:
    text = RULES[domain]["password-rules"]
    if domain in REFUSED:
        with pytest.raises(PolicyError) as raised:
            import_rules(text)
        assert raised.value.errors == {"rules": REFUSED[domain]}
        return
    imported = import_rules(text)
    compile_policy(imported.policy)
    expected = expected_from(text)
    for _ in range(3):
        assert_meets_rules(generate(imported.policy), expected)


def test_the_shipped_data_passes_the_checks_update_sites_makes() -> None:
    entries = sites.check_rules(RULES)
    assert sites.rules_problems(entries) == REFUSED
    assert sites.check_change_urls(URLS) == URLS


@pytest.mark.parametrize(
    ("text", "domain"),
    [
        ("chase.com", "chase.com"),
        ("Chase.COM", "chase.com"),
        ("www.chase.com", "chase.com"),
        ("https://www.chase.com:443/login?next=/#top", "chase.com"),
        ("http://user:secret@Chase.com./", "chase.com"),
        ("  chase.com  ", "chase.com"),
        ("bücher.de", "xn--bcher-kva.de"),
        ("BÜCHER.de", "xn--bcher-kva.de"),
        ("www.com", "www.com"),
        ("localhost", "localhost"),
        ("a-b.example", "a-b.example"),
    ],
)
def test_domains_are_normalised(text: str, domain: str) -> None:
    assert normalise_domain(text) == domain


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "give a domain"),
        ("   ", "give a domain"),
        ("https://", "give a domain"),
        ("a..com", "is not a domain name"),
        ("-a.com", "is not a domain name"),
        ("a_b.com", "is not a domain name"),
        ("exa mple.com", "is not a domain name"),
        ("<script>.com", "is not a domain name"),
        ("a." * 127 + "com", "at most 253 characters"),
        ("x" * 64 + ".com", "is not a domain name"),
        ("example.com:http", "is not a domain name with a port"),
        ("x" * 3000, "at most 2048 characters"),
        ("\udcff.com", "is not a valid domain name"),
    ],
)
def test_what_is_not_a_domain_is_refused(text: str, message: str) -> None:
    for lookup in (normalise_domain, site_rules, change_password_url):
        with pytest.raises(PolicyError) as raised:
            lookup(text)
        assert list(raised.value.errors) == ["site"]
        assert message in raised.value.errors["site"]


def test_site_rules_of_a_known_site() -> None:
    found = site_rules("https://www.chase.com/")
    assert found is not None
    assert found.domain == "chase.com"
    assert found.text == RULES["chase.com"]["password-rules"]
    assert found.rules == import_rules(found.text)
    assert found.change_password_url == URLS["chase.com"]
    assert found.rules.describe()[0] == "8 to 32 characters (using 20)"


def test_a_subdomain_finds_its_parents_rules() -> None:
    found = site_rules("login.secure.chase.com")
    assert found is not None
    assert found.domain == "chase.com"
    assert change_password_url("login.secure.chase.com") == URLS["chase.com"]


def test_the_nearest_entry_wins() -> None:
    # Both a domain and a parent of it have rules in the shipped data.
    pairs = [(d, p) for d in RULES for p in RULES if d.endswith("." + p)]
    assert pairs, "no domain with rules of its own under a parent with rules"
    child, parent = pairs[0]
    found = site_rules("x." + child)
    assert found is not None
    assert found.domain == child
    assert site_rules("x." + parent) is not None


def test_unknown_sites_have_nothing() -> None:
    assert site_rules("example.com") is None
    assert change_password_url("example.com") is None
    assert site_rules("com") is None
    assert site_rules("localhost") is None


def test_a_site_with_only_a_change_url() -> None:
    only_url = sorted(set(URLS) - set(RULES))[0]
    assert site_rules(only_url) is None
    assert change_password_url(only_url) == URLS[only_url]


def test_known_domains() -> None:
    domains = known_domains()
    assert domains == sorted(set(RULES) | set(URLS))
    assert domains is not known_domains()  # a copy each time: callers may change it
    assert "chase.com" in domains


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Lookups read ``tmp_path``'s files instead of the shipped ones."""

    def read(name: str) -> Any:
        return json.loads((tmp_path / name).read_text("utf-8"))

    monkeypatch.setattr(sites, "_read", read)
    sites.reload()
    yield tmp_path
    monkeypatch.undo()
    sites.reload()


def write(directory: Path, rules: dict[str, Any], urls: dict[str, str]) -> None:
    (directory / sites.RULES_FILE).write_text(json.dumps(rules), "utf-8")
    (directory / sites.CHANGE_URLS_FILE).write_text(json.dumps(urls), "utf-8")


def test_exact_domain_match_only(data_dir: Path) -> None:
    write(
        data_dir,
        {
            "example.com": {"password-rules": "minlength: 9", "exact-domain-match-only": True},
            "example.org": {"password-rules": "maxlength: 9"},
        },
        {"example.com": "https://example.com/password"},
    )
    found = site_rules("example.com")
    assert found is not None
    assert found.rules.min_length == 9
    assert site_rules("login.example.com") is None
    assert change_password_url("login.example.com") == "https://example.com/password"
    assert known_domains() == ["example.com", "example.org"]


def test_shipped_rules_that_cannot_be_used_are_refused_by_name(data_dir: Path) -> None:
    write(data_dir, {"example.com": {"password-rules": "maxlength: 2"}}, {"a.com": "https://a"})
    with pytest.raises(PolicyError) as raised:
        site_rules("www.example.com")
    assert raised.value.errors == {
        "site": "the rules known for example.com cannot be used: "
        "maxlength is below 4, the shortest length here"
    }


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "password-rules.json: must be a JSON object of domains"),
        ({}, "password-rules.json: must be a JSON object of domains"),
        ({"Example.com": {"password-rules": "x"}}, "'Example.com' is not a domain name"),
        ({"example.com": "minlength: 8"}, "example.com: must be an object"),
        ({"example.com": {}}, "'password-rules' must be a string"),
        ({"example.com": {"password-rules": 8}}, "'password-rules' must be a string"),
        ({"example.com": {"password-rules": "", "x": 1}}, "unknown keys ['x']"),
        (
            {"example.com": {"password-rules": "", "exact-domain-match-only": "yes"}},
            "'exact-domain-match-only' must be true or false",
        ),
    ],
)
def test_check_rules(document: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        sites.check_rules(document)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ([], "change-password-URLs.json: must be a JSON object of domains"),
        ({"a b": "https://x"}, "is not a domain name"),
        ({"a.com": 1}, "a.com: must be an https:// address"),
        ({"a.com": "http://a.com/"}, "must be an https:// address"),
        ({"a.com": "javascript:alert(1)"}, "must be an https:// address"),
        ({"a.com": "https://"}, "must be an https:// address"),
        ({"a.com": 'https://a.com/"><script>'}, "must be an https:// address"),
        ({"a.com": "https://a.com/ x"}, "must be an https:// address"),
    ],
)
def test_check_change_urls(document: object, message: str) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        sites.check_change_urls(document)


def test_rules_problems_names_each_domain() -> None:
    entries = sites.check_rules(
        {"a.com": {"password-rules": "minlength: 8"}, "b.com": {"password-rules": "colour: red"}}
    )
    assert list(sites.rules_problems(entries)) == ["b.com"]
    assert "unknown rule 'colour'" in sites.rules_problems(entries)["b.com"]


def test_the_data_directory_holds_the_shipped_files() -> None:
    directory = sites.data_directory()
    assert (directory / sites.RULES_FILE).is_file()
    assert (directory / sites.CHANGE_URLS_FILE).is_file()
