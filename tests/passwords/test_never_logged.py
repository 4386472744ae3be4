"""Generated passwords are never stored or logged: no log line, no database row (nor any
byte of the database files), no cookie or session, no URL. Checked with every logger at
DEBUG while a visitor and a writer use the page, the import, saved policies and the API."""

from __future__ import annotations

import base64
import html
import json
import logging
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, quote_plus, unquote

import pytest
from markupsafe import escape
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from tests.database import TestDatabase
from tests.helpers import AuthActions, page_text
from tests.passwords.test_api import TEN_CHAR_BODY
from tests.passwords.test_page import browser_form, shown_password
from tests.passwords.test_rules import EXAMPLE

POLICY_NAME = "Payroll system"


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """The app's own loggers at DEBUG too, so nothing is filtered out before capture."""
    return {"log_level": "DEBUG"}


class Recorder(logging.Handler):
    """Every record, formatted and raw (arguments and extras included)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))
        self.lines.append(repr(record.__dict__))


@pytest.fixture
def log_text(caplog: pytest.LogCaptureFixture) -> Iterator[Callable[[], str]]:
    caplog.set_level(logging.DEBUG)  # the root logger
    caplog.set_level(logging.DEBUG, logger="sqlalchemy")  # SQLAlchemy sets its own to WARN
    recorder = Recorder()
    root = logging.getLogger()
    root.addHandler(recorder)
    try:
        yield lambda: "\n".join(
            [caplog.text, *recorder.lines, *(repr(r.__dict__) for r in caplog.records)]
        )
    finally:
        root.removeHandler(recorder)


@dataclass
class Session:
    """What a browser saw: every response, and every password it was shown."""

    client: Client
    responses: list[Response] = field(default_factory=list)
    passwords: list[str] = field(default_factory=list)

    async def page(self, method: str, path: str, form: dict[str, str] | None = None) -> str:
        if method == "GET":
            response = await self.client.get(path)
        else:
            response = await self.client.post(path, form=form or {})
        self.responses.append(response)
        text = await page_text(response)
        if 'id="password"' in text and (password := shown_password(text)):
            self.passwords.append(password)
        return text

    async def api(self, body: dict[str, Any]) -> None:
        response = await self.client.post("/api/passwords", json=body)
        self.responses.append(response)
        assert response.status_code == 200
        self.passwords += (await response.get_json())["passwords"]

    async def post(self, path: str, form: dict[str, str]) -> Response:
        response = await self.client.post(path, form=form)
        self.responses.append(response)
        return response


async def use_as_visitor(visitor: Session) -> None:
    fields = browser_form(await visitor.page("GET", "/passwords"))
    await visitor.page("POST", "/passwords", fields)
    await visitor.page("POST", "/passwords", {**fields, "mode": "passphrase", "capitalize": "on"})
    await visitor.page(
        "POST", "/passwords/import", {"csrf_token": fields["csrf_token"], "rules": EXAMPLE}
    )
    await visitor.api({"count": 100})
    await visitor.api({"mode": "passphrase", "count": 10, "add_digit": True})
    await visitor.api({**TEN_CHAR_BODY, "count": 10})
    # The new rules, a site's rules by name, and passphrases under rules.
    await visitor.page("GET", "/passwords?site=login.chase.com")
    await visitor.api({"site": "chase.com", "count": 10})
    await visitor.api({"max_consecutive": 1, "min_classes": 3, "first_character": "letter",
                       "require": ["lower, upper"], "max_symbols": 2, "count": 10})  # fmt: skip
    await visitor.api(
        {"mode": "passphrase", "separator": "-", "add_capital": True, "add_digit": True,
         "add_symbol": True, "max_length": 40, "count": 10}
    )  # fmt: skip
    await visitor.page(
        "POST",
        "/passwords/sentence",
        {"csrf_token": fields["csrf_token"], "sentence": "8 to 12 characters with a digit"},
    )


async def use_as_writer(writer: Session, auth: AuthActions) -> None:
    await auth.register_and_login("alice")
    fields = browser_form(await writer.page("GET", "/passwords"))
    created = await writer.post("/passwords/policies", {**fields, "name": POLICY_NAME})
    assert created.status_code == 303
    location = created.headers["Location"]
    policy_id = location.rsplit("=", 1)[1]
    fields = browser_form(await writer.page("GET", location))
    edited = await writer.post(
        f"/passwords/policies/{policy_id}", {**fields, "mode": "passphrase", "words": "7"}
    )
    assert edited.status_code == 303
    await writer.page("GET", edited.headers["Location"])
    await writer.page("POST", "/passwords/policies", {**fields, "name": ""})  # refused
    await writer.api({"count": 10})
    fields = browser_form(await writer.page("GET", "/passwords"))
    deleted = await writer.post(
        f"/passwords/policies/{policy_id}/delete", {"csrf_token": fields["csrf_token"]}
    )
    assert deleted.status_code == 303
    await writer.page("GET", "/passwords")  # the flash leaves the session here
    await writer.post("/logout", {"csrf_token": fields["csrf_token"]})


def written_forms(password: str) -> set[str]:
    """The password as a log line, JSON, HTML or a URL would write it."""
    return {
        password,
        json.dumps(password)[1:-1],
        repr(password)[1:-1],
        str(escape(password)),
        html.escape(password),
        quote(password),
        quote(password, safe=""),
        quote_plus(password),
    }


def decoded_cookie(value: str) -> list[str]:
    """A cookie value as sent, URL-decoded, and its signed payload decoded (itsdangerous:
    base64 of JSON, zlib-compressed when it starts with '.')."""
    texts = [value, unquote(value)]
    payload = value.strip('"')
    compressed = payload.startswith(".")
    first = payload.lstrip(".").split(".")[0]
    try:
        raw = base64.urlsafe_b64decode(first + "=" * (-len(first) % 4))
        texts.append((zlib.decompress(raw) if compressed else raw).decode("utf-8", "replace"))
    except (ValueError, zlib.error):
        pass
    return texts


def cookie_texts(sessions: list[Session]) -> list[str]:
    texts: list[str] = []
    for session in sessions:
        for response in session.responses:
            for header in response.headers.getlist("Set-Cookie"):
                texts.append(header)
                texts += decoded_cookie(header.split(";", 1)[0].partition("=")[2])
        for cookie in session.client.cookie_jar or []:
            texts += decoded_cookie(cookie.value or "")
    return texts


async def test_no_password_is_logged_stored_or_put_in_a_cookie_or_url(
    app: Quart,
    client: Client,
    auth: AuthActions,
    test_database: TestDatabase,
    log_text: Callable[[], str],
) -> None:
    visitor, writer = Session(app.test_client()), Session(client)
    await use_as_visitor(visitor)
    await use_as_writer(writer, auth)
    sessions = [visitor, writer]
    passwords = visitor.passwords + writer.passwords
    assert len(passwords) >= 130
    assert len(set(passwords)) == len(passwords)
    assert any("_" in p and p.count("_") == 6 for p in writer.passwords)  # the edited policy

    logs = log_text()
    stored = test_database.stored_bytes()
    cookies = "\n".join(cookie_texts(sessions))
    locations = [
        unquote(response.headers["Location"])
        for session in sessions
        for response in session.responses
        if "Location" in response.headers
    ]
    # The captures are real: they hold what this run logged, stored and set.
    assert "saved_policies" in logs
    assert POLICY_NAME.encode() in stored
    assert "Saved the rules" in cookies
    assert "csrf" in cookies
    assert len(locations) >= 3

    for password in passwords:
        for form in written_forms(password):
            assert form not in logs, "a password was logged"
            assert form.encode() not in stored, "a password was stored"
            assert form not in cookies, "a password was put in a cookie"
            assert all(form not in location for location in locations), "a password in a URL"
