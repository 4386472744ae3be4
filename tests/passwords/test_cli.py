"""``python -m quartapp passwords``: generate as the API does, look up sites, update the data."""

from __future__ import annotations

import itertools
import json
import logging
import os
import string
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pytest

from quartapp.__main__ import main
from quartapp.passwords import cli, sites
from quartapp.passwords.generator import PasswordPolicy, count
from quartapp.passwords.passphrase import PassphrasePolicy
from tests.passwords.test_rules import assert_meets_rules, expected_from

ROOT = Path(__file__).resolve().parents[2]
ALNUM = string.ascii_letters + string.digits
CHASE = sites.site_rules("chase.com")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, list[str], str]:
    """Exit status, standard output's lines, standard error."""
    status = main(["passwords", *argv])
    captured = capsys.readouterr()
    return status, captured.out.splitlines(), captured.err


def test_generate_in_a_real_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "quartapp", "passwords", "generate", "--length", "12",
         "--no-symbols", "--min-digits", "2", "--count", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert (done.returncode, done.stderr) == (0, "")
    lines = done.stdout.splitlines()
    assert len(lines) == 3
    for password in lines:
        assert len(password) == 12
        assert set(password) <= set(ALNUM)
        assert sum(c in string.digits for c in password) >= 2


def test_errors_in_a_real_process() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "quartapp", "passwords", "generate", "--length", "3",
         "--no-digits", "--min-digits", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 2
    assert done.stdout == ""
    assert "error: --length: must be between 4 and 128" in done.stderr.splitlines()
    assert any(line.startswith("error: --min-digits: ") for line in done.stderr.splitlines())


def test_every_field_of_the_api_is_an_option(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["passwords", "generate", "--help"])
    text = capsys.readouterr().out
    for field in [*fields(PasswordPolicy), *fields(PassphrasePolicy)]:
        assert cli.option(field.name) in text, field.name


def test_the_defaults_are_the_apis(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, err = run(capsys, "generate")
    assert (status, err, len(lines)) == (0, "", 1)
    password = lines[0]
    assert len(password) == PasswordPolicy().length
    for chars in (string.ascii_lowercase, string.ascii_uppercase, string.digits):
        assert set(password) & set(chars)


def test_options_become_the_policy(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, err = run(
        capsys, "generate", "--length", "10", "--no-uppercase", "--symbol-set", "!#",
        "--min-symbols", "2", "--require", "digit, [!]", "--require", "digit, [!]",
        "--max-consecutive", "1", "--first-character", "letter", "--max-lowercase", "none",
        "-n", "20",
    )  # fmt: skip
    assert (status, err, len(lines)) == (0, "", 20)
    for password in lines:
        assert len(password) == 10
        assert set(password) <= set(string.ascii_lowercase + string.digits + "!#")
        assert sum(c in "!#" for c in password) >= 2
        assert sum(c in string.digits + "!" for c in password) >= 2
        assert password[0].isalpha()
        assert all(a != b for a, b in itertools.pairwise(password))


def test_json_is_the_apis_document(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = run(capsys, "generate", "--length", "8", "--no-symbols", "--json", "-n", "2")
    assert status == 0
    document = json.loads("\n".join(lines))
    assert set(document) == {
        "passwords", "entropy_bits", "strength", "count_allowed", "count_in_words",
        "time_to_search_half",
    }  # fmt: skip
    assert len(document["passwords"]) == 2
    policy = PasswordPolicy(length=8, symbols=False, min_symbols=0)
    assert document["count_allowed"] == str(count(policy))


def test_a_passphrase(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, _ = run(
        capsys, "generate", "--passphrase", "--words", "4", "--separator", "-", "--add-digit"
    )
    assert status == 0
    assert len(lines[0].split("-")) == 4
    assert sum(c.isdigit() for c in lines[0]) == 1


@pytest.mark.parametrize(
    ("argv", "errors"),
    [
        (["--length", "200"], ["error: --length: must be between 4 and 128"]),
        (["--count", "0"], ["error: --count: must be between 1 and 100"]),
        (["--no-symbols", "--min-symbols", "1"], ["error: --min-symbols: "]),
        (["--require", "emoji"], ["error: --require: "]),
        (["--passphrase", "--words", "1"], ["error: --words: "]),
        (["--passphrase", "--site", "chase.com"], ["error: --site: a site's rules are for"]),
        (["--site", "not a domain"], ["error: --site: 'not a domain' is not a domain name"]),
    ],
)
def test_each_bad_option_is_named_with_status_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], errors: list[str]
) -> None:
    status, lines, err = run(capsys, "generate", *argv)
    assert (status, lines) == (2, [])
    shown = err.splitlines()
    for error in errors:
        assert any(line.startswith(error) for line in shown), shown


def test_a_bad_number_is_refused_by_the_parser(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["passwords", "generate", "--min-digits", "two"])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert "argument --min-digits: must be a whole number, not 'two'" in err


def test_a_sites_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert CHASE is not None
    status, lines, err = run(capsys, "generate", "--site", "https://www.chase.com/", "-n", "20")
    assert status == 0
    assert len(lines) == 20
    expected = expected_from(CHASE.text)
    for password in lines:
        assert len(password) == CHASE.rules.policy.length
        assert_meets_rules(password, expected)
    assert "Rules for chase.com:" in err
    assert "  - 8 to 32 characters (using 20)" in err.splitlines()
    assert not set(lines) & set(err.split())  # no password on standard error


def test_options_win_over_a_sites_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert CHASE is not None
    status, lines, err = run(
        capsys, "generate", "--site", "chase.com", "--length", "12", "--no-symbols", "-n", "20"
    )
    assert status == 0
    for password in lines:
        assert len(password) == 12
        assert set(password) <= set(ALNUM)
        assert any(c.isdigit() for c in password)
        assert all(
            a != b or b != c for a, b, c in zip(password, password[1:], password[2:], strict=False)
        )
    status, lines, err = run(capsys, "generate", "--site", "chase.com", "--length", "40")
    assert status == 0
    assert len(lines[0]) == 40
    assert "note: --length 40 is outside 8 to 32" in err


def test_json_with_a_site_says_the_sites_rules(capsys: pytest.CaptureFixture[str]) -> None:
    assert CHASE is not None
    status, lines, err = run(capsys, "generate", "--site", "chase.com", "--json", "-q")
    assert (status, err) == (0, "")
    document = json.loads("\n".join(lines))
    assert document["site"] == {
        "domain": "chase.com",
        "rules": CHASE.text,
        "in_words": CHASE.rules.describe(),
        "notes": [],
        "length_range": [8, 32],
        "change_password_url": CHASE.change_password_url,
    }


def test_quiet_and_unknown_sites(capsys: pytest.CaptureFixture[str]) -> None:
    status, lines, err = run(capsys, "generate", "--site", "chase.com", "-q")
    assert (status, len(lines), err) == (0, 1, "")
    status, lines, err = run(capsys, "generate", "--site", "www.example.com")
    assert (status, lines) == (2, [])
    assert err.startswith("error: --site: no rules are known for example.com")


def test_passwords_are_never_logged(
    capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    _, lines, _ = run(capsys, "generate", "--site", "chase.com", "-n", "5")
    _, more, _ = run(capsys, "generate", "--json")
    logged = caplog.text + "".join(str(record.args) for record in caplog.records)
    for password in lines + json.loads("\n".join(more))["passwords"]:
        assert password not in logged


def test_site_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert CHASE is not None
    status, lines, _ = run(capsys, "site", "login.chase.com")
    assert status == 0
    assert lines[0] == f"chase.com: {CHASE.text}"
    assert lines[1] == "Rules for chase.com:"
    assert lines[-1] == f"Change the password at {CHASE.change_password_url}"
    status, lines, _ = run(capsys, "site", "example.com")
    assert (status, lines) == (1, ["Nothing is known about example.com."])
    only_url = sorted(set(sites.known_domains()) - set(json.loads(shipped(sites.RULES_FILE))))[0]
    status, lines, _ = run(capsys, "site", only_url)
    assert status == 0
    assert lines[0] == f"No rules are known for {only_url}."
    status, _, err = run(capsys, "site", "a..b")
    assert status == 2
    assert err.startswith("error: --site: ")


# --- update-sites ------------------------------------------------------------------------


def shipped(name: str) -> str:
    return (sites.data_directory() / name).read_text("utf-8")


@pytest.fixture
def target(tmp_path: Path) -> Path:
    """A data directory holding an old copy of each file."""
    directory = tmp_path / "data"
    directory.mkdir()
    (directory / sites.RULES_FILE).write_text('{"old.com": {"password-rules": "minlength: 8"}}')
    (directory / sites.CHANGE_URLS_FILE).write_text('{"old.com": "https://old.com/"}')
    return directory


def new_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / "new" / name
    path.parent.mkdir(exist_ok=True)
    path.write_text(text, "utf-8")
    return path


def unchanged(target: Path) -> bool:
    return (target / sites.RULES_FILE).read_text() == (
        '{"old.com": {"password-rules": "minlength: 8"}}'
    ) and (target / sites.CHANGE_URLS_FILE).read_text() == '{"old.com": "https://old.com/"}'


def test_update_sites_replaces_both_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: Path
) -> None:
    rules = new_file(tmp_path, sites.RULES_FILE, shipped(sites.RULES_FILE))
    urls = new_file(tmp_path, sites.CHANGE_URLS_FILE, shipped(sites.CHANGE_URLS_FILE))
    status, lines, err = run(
        capsys, "update-sites", str(rules), str(urls), "--data-dir", str(target)
    )
    assert (status, err) == (0, "")
    assert (target / sites.RULES_FILE).read_bytes() == rules.read_bytes()
    assert (target / sites.CHANGE_URLS_FILE).read_bytes() == urls.read_bytes()
    assert lines[0].startswith(f"{sites.RULES_FILE}: {len(json.loads(rules.read_text()))} domains")
    assert sorted(p.name for p in target.iterdir()) == sorted(
        [sites.RULES_FILE, sites.CHANGE_URLS_FILE]
    )  # no temporary file left
    assert oct((target / sites.RULES_FILE).stat().st_mode & 0o777) == "0o644"


def test_update_sites_recognises_a_file_by_what_it_holds(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: Path
) -> None:
    urls = new_file(tmp_path, "urls.json", '{"new.com": "https://new.com/password"}')
    status, lines, _ = run(capsys, "update-sites", str(urls), "--data-dir", str(target))
    assert status == 0
    assert lines == [f"{sites.CHANGE_URLS_FILE}: 1 domains, from {urls}"]
    assert json.loads((target / sites.CHANGE_URLS_FILE).read_text()) == {
        "new.com": "https://new.com/password"
    }
    assert "old.com" in (target / sites.RULES_FILE).read_text()  # the other one is kept
    rules = new_file(tmp_path, "rules.json", '{"new.com": {"password-rules": "minlength: 9"}}')
    assert run(capsys, "update-sites", str(rules), "--data-dir", str(target))[0] == 0
    assert "new.com" in (target / sites.RULES_FILE).read_text()


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("password-rules.json", "{", "not JSON"),
        ("password-rules.json", "[]", "must be a JSON object of domains"),
        ("x.json", "[1]", "neither password-rules.json"),
        ("x.json", '{"a.com": 1}', "neither password-rules.json"),
        (
            "password-rules.json",
            '{"a.com": {"password-rules": "minlength: 8"}, "a.com": {"password-rules": "x: 1"}}',
            "'a.com' appears twice",
        ),
        (
            "password-rules.json",
            '{"a.com": {"password-rules": "minlength: 8"}, "b.com": {"password-rules": "x: 1"}}',
            "1 rules cannot be read:\n  b.com: unknown rule 'x'",
        ),
        ("password-rules.json", '{"A B": {"password-rules": ""}}', "is not a domain name"),
        ("change-password-URLs.json", '{"a.com": "http://a.com/"}', "must be an https://"),
        ("change-password-URLs.json", '{"a.com": {"password-rules": ""}}', "must be an https"),
    ],
)
def test_update_sites_refuses_what_is_not_right(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    target: Path,
    name: str,
    text: str,
    message: str,
) -> None:
    good = new_file(tmp_path, "good.json", '{"new.com": "https://new.com/"}')
    bad = new_file(tmp_path, name, text)
    status, lines, err = run(capsys, "update-sites", str(good), str(bad), "--data-dir", str(target))
    assert (status, lines) == (1, [])
    assert message in err
    assert err.endswith("error: nothing was written\n")
    assert unchanged(target)


def test_update_sites_refuses_two_of_a_kind_and_missing_files(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, target: Path
) -> None:
    first = new_file(tmp_path, "a.json", '{"a.com": "https://a.com/"}')
    second = new_file(tmp_path, "b.json", '{"b.com": "https://b.com/"}')
    status, _, err = run(capsys, "update-sites", str(first), str(second), "--data-dir", str(target))
    assert status == 1
    assert f"{second}: a second change-password-URLs.json" in err
    status, _, err = run(
        capsys, "update-sites", str(tmp_path / "missing.json"), "--data-dir", str(target)
    )
    assert status == 1
    assert "No such file or directory" in err
    status, _, err = run(
        capsys, "update-sites", str(first), "--data-dir", str(tmp_path / "nowhere")
    )
    assert status == 2
    assert unchanged(target)


def test_update_sites_writes_the_package_data_by_default(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    target: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sites, "data_directory", lambda: target)
    urls = new_file(tmp_path, sites.CHANGE_URLS_FILE, '{"new.com": "https://new.com/"}')
    assert run(capsys, "update-sites", str(urls))[0] == 0
    assert "new.com" in (target / sites.CHANGE_URLS_FILE).read_text()
