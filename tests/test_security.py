"""Security headers on every response, CSRF on every state-changing form, safe pages.

The helpers at the top (``checked_page``, ``scan_html``, ``second_user``) are shared by the
journal and error tests: every page a test reads goes through ``checked_page``.
"""

from __future__ import annotations

from collections.abc import Callable
from html.parser import HTMLParser
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from quartapp.security.csrf import STALE_FORM
from quartapp.services import services_of
from tests.database import TestDatabase
from tests.helpers import DEFAULT_PASSWORD, AuthActions, csrf_token, page_text

CSP = (
    "default-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"
CSRF_MESSAGE = "security token is missing or out of date"
_DANGEROUS_SCHEMES = ("javascript:", "vbscript:", "data:")
_URL_ATTRIBUTES = frozenset({"href", "src", "action", "formaction", "xlink:href", "srcset"})


# --- shared helpers -------------------------------------------------------------------


def is_dangerous_url(url: str) -> bool:
    """Read the URL as a browser would: it drops whitespace and control characters."""
    squeezed = "".join(char for char in url if ord(char) > 0x20 and ord(char) != 0x7F)
    return squeezed.lower().startswith(_DANGEROUS_SCHEMES)


class _Scanner(HTMLParser):
    """Collects what a strict CSP would block or what could run script."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        for name, value in attrs:
            if name == "style":
                self.problems.append(f"style attribute on <{tag}>")
            if name.startswith("on"):
                self.problems.append(f"event handler {name}= on <{tag}>")
            if name in _URL_ATTRIBUTES and value and is_dangerous_url(value):
                self.problems.append(f"dangerous URL {value!r} on <{tag}>")
        if tag == "style":
            self.problems.append("<style> element")
        if tag == "script":
            if not attributes.get("src"):
                self.problems.append("<script> without src")
            self._in_script = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.problems.append(f"inline script body {data.strip()[:40]!r}")


def scan_html(html: str) -> _Scanner:
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner


def assert_security_headers(response: Response, *, https: bool = False) -> None:
    headers = response.headers
    assert headers.get("Content-Security-Policy") == CSP, response.status_code
    assert headers.get("X-Content-Type-Options") == "nosniff"
    assert headers.get("Referrer-Policy") == "same-origin"
    if https:
        assert headers.get("Strict-Transport-Security") == HSTS
    else:
        assert "Strict-Transport-Security" not in headers


async def checked_page(response: Response, *, https: bool = False) -> str:
    """The response's text, after checking its headers and, for HTML, that nothing in it
    needs inline script or style (the CSP would block it) or could run script."""
    assert_security_headers(response, https=https)
    text = await page_text(response)
    if response.mimetype == "text/html":
        problems = scan_html(text).problems
        assert not problems, problems
        for leak in ("Traceback", "/work/", '.py"', "sqlalchemy", "SELECT "):
            assert leak not in text, leak
    return text


async def second_user(app: Quart, username: str = "bob") -> tuple[Client, AuthActions]:
    client = app.test_client()
    actions = AuthActions(client)
    await actions.register_and_login(username)
    return client, actions


# --- headers --------------------------------------------------------------------------


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    """The forgery tests post more often than the rate limits allow."""
    return {"rate_limits_enabled": False}


@pytest.fixture
def boom_app(make_app: Callable[..., Quart]) -> Quart:
    """An app with a route that fails, for the 500 page (and rate limits on, for a 429)."""
    application = make_app(rate_limits_enabled=True)

    @application.route("/boom")
    async def boom() -> str:
        raise RuntimeError("boom at /work/main/quartapp/secret.py: SELECT * FROM users")

    return application


async def _responses_of_every_kind(app: Quart, *, scheme: str) -> dict[str, Response]:
    """One response per status the site answers with, all from one client."""
    client = app.test_client()
    auth = AuthActions(client)
    responses: dict[str, Response] = {
        "200": await client.get("/", scheme=scheme),
        "static css": await client.get("/static/site.css", scheme=scheme),
        "static js": await client.get("/static/time.js", scheme=scheme),
        "404": await client.get("/no/such/page", scheme=scheme),
        "404 json": await client.get("/api/nothing", scheme=scheme),
        "405": await client.get("/logout", scheme=scheme),
        "400 csrf": await client.post("/logout", form={}, scheme=scheme),
        "400 param": await client.get("/?before=abc", scheme=scheme),
        "500": await client.get("/boom", scheme=scheme),
    }
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("mine")
    token = await csrf_token(client, "/")
    responses["303"] = await client.post(
        "/entries", form={"csrf_token": token, "body": "x"}, scheme=scheme
    )
    responses["413"] = await client.post(
        "/entries",
        form={"csrf_token": token, "body": "x" * (1024 * 1024 + 1)},
        scheme=scheme,
    )
    other = app.test_client()
    await AuthActions(other).register_and_login("bob")
    responses["403"] = await other.get(f"/entries/{entry_id}/edit", scheme=scheme)
    for attempt in range(10):
        response = await other.post("/register", form={}, scheme=scheme)
        if response.status_code == 429:
            responses["429"] = response
            break
        assert attempt < 9, "the register rate limit never answered 429"
    return responses


@pytest.mark.parametrize("scheme", ["http", "https"])
async def test_every_kind_of_response_has_the_security_headers(
    boom_app: Quart, scheme: str
) -> None:
    async with boom_app.test_app():
        responses = await _responses_of_every_kind(boom_app, scheme=scheme)
    statuses = {name: response.status_code for name, response in responses.items()}
    assert statuses == {
        "200": 200,
        "static css": 200,
        "static js": 200,
        "404": 404,
        "404 json": 404,
        "405": 405,
        "400 csrf": 400,
        "400 param": 400,
        "500": 500,
        "303": 303,
        "413": 413,
        "403": 403,
        "429": 429,
    }
    for response in responses.values():
        await checked_page(response, https=scheme == "https")


async def test_hsts_only_over_https(client: Client) -> None:
    assert "Strict-Transport-Security" not in (await client.get("/")).headers
    secure = await client.get("/", scheme="https")
    assert secure.headers["Strict-Transport-Security"] == HSTS


# --- CSRF -----------------------------------------------------------------------------


async def _setup_victim(app: Quart) -> tuple[Client, int]:
    """Alice, logged in, with one entry; a login session row exists."""
    client = app.test_client()
    auth = AuthActions(client)
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("Original body", title="Original")
    return client, entry_id


# Every state-changing form of the site: its fields, and whether it needs a login.
FORMS: dict[str, tuple[dict[str, str], bool]] = {
    "/entries": ({"title": "Forged", "body": "forged", "visibility": "public"}, True),
    "/entries/{id}/edit": ({"title": "Forged", "body": "forged", "visibility": "private"}, True),
    "/entries/{id}/delete": ({}, True),
    "/logout": ({}, True),
    "/account/password": (
        {"current_password": DEFAULT_PASSWORD, "password": "new pass 1", "confirm": "new pass 1"},
        True,
    ),
    "/account/delete": ({"password": DEFAULT_PASSWORD}, True),
    "/login": ({"username": "alice", "password": DEFAULT_PASSWORD}, False),
    "/register": (
        {
            "username": "mallory",
            "email": "mallory@example.com",
            "password": DEFAULT_PASSWORD,
            "confirm": DEFAULT_PASSWORD,
        },
        False,
    ),
}


# These answer their form again, with what was typed in it and why nothing was saved.
ANSWER_THEIR_FORM = {"/entries", "/entries/{id}/edit", "/login", "/register"}


async def _token_of_another_session(app: Quart) -> str:
    stranger = app.test_client()
    return await csrf_token(stranger, "/login")


@pytest.mark.parametrize("path_template", FORMS)
async def test_forged_posts_are_refused_and_change_nothing(
    app: Quart, test_database: TestDatabase, path_template: str
) -> None:
    client, entry_id = await _setup_victim(app)
    path = path_template.format(id=entry_id)
    fields, needs_login = FORMS[path_template]
    if not needs_login:
        await AuthActions(client).logout()
    own_token = await csrf_token(client, "/" if needs_login else "/login")
    forged_tokens = {
        "missing": None,
        "empty": "",
        "wrong": "x" * len(own_token),
        "other session": await _token_of_another_session(app),
    }
    before = test_database.snapshot()
    for forgery, token in forged_tokens.items():
        assert token != own_token
        form = dict(fields) if token is None else {**fields, "csrf_token": token}
        response = await client.post(path, form=form)
        assert response.status_code == 400, forgery
        page = await checked_page(response)
        if path_template in ANSWER_THEIR_FORM:
            assert STALE_FORM in page, forgery
            typed = fields.get("body") or fields["username"]
            assert f"\n{typed}</textarea>" in page or f'value="{typed}"' in page, forgery
            assert own_token in page  # the form comes back with a token that works
        else:
            assert CSRF_MESSAGE in page, forgery
        assert test_database.snapshot() == before, forgery
        # The victim's session is unchanged too: still logged in (or still a visitor).
        account = await client.get("/account")
        assert account.status_code == (200 if needs_login else 303), forgery

    # The same form with the real token does change something: the fields were right.
    response = await client.post(path, form={**fields, "csrf_token": own_token})
    assert response.status_code == 303, await page_text(response)
    assert test_database.snapshot() != before


async def test_a_forged_post_from_a_client_with_no_session_is_refused(
    app: Quart, test_database: TestDatabase
) -> None:
    """A cross-site form carries a token seen elsewhere, but no session cookie of ours."""
    token = await _token_of_another_session(app)
    before = test_database.snapshot()
    fresh = app.test_client()
    response = await fresh.post(
        "/register",
        form={
            "csrf_token": token,
            "username": "mallory",
            "email": "mallory@example.com",
            "password": DEFAULT_PASSWORD,
            "confirm": DEFAULT_PASSWORD,
        },
    )
    assert response.status_code == 400
    # The registration form answers itself again (the other site cannot read it), and
    # registers nobody.
    assert STALE_FORM in await checked_page(response)
    assert test_database.snapshot() == before


async def test_the_token_changes_at_login_and_logout(client: Client, auth: AuthActions) -> None:
    before_login = await csrf_token(client, "/login")
    await auth.register_and_login("alice")
    logged_in = await csrf_token(client, "/")
    assert logged_in != before_login
    await auth.logout()
    assert await csrf_token(client, "/login") not in {before_login, logged_in}


async def test_get_requests_never_change_state(
    app: Quart, client: Client, auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register_and_login("alice")
    entry_id = await auth.post_entry("public one")
    private_id = await auth.post_entry("private one", visibility="private")
    # A page that reads tags brings the search index up to date first (derived from the
    # entries, like a cache): done here, so that nothing else a GET could write is hidden.
    await services_of(app).search_index.catch_up()
    before = test_database.snapshot()
    paths = [
        "/",
        "/?before=99",
        f"/entries/{entry_id}",
        f"/entries/{private_id}",
        f"/entries/{entry_id}/edit",
        f"/entries/{entry_id}/delete",
        "/entries",
        "/logout",
        "/account",
        "/account/delete",
        "/account/password",
        "/u/alice",
        "/login",
        "/register",
    ]
    for path in paths:
        response = await client.get(path)
        assert response.status_code in {200, 303, 405}, path
        await checked_page(response)
    visitor = app.test_client()
    for path in paths:
        await checked_page(await visitor.get(path))
    assert test_database.snapshot() == before
    assert (await client.get("/account")).status_code == 200  # still logged in


def test_the_scanner_catches_what_it_must() -> None:
    """The page checks above are only as good as this scanner."""
    bad = [
        "<script>alert(1)</script>",
        '<p style="color:red">x</p>',
        "<style>p{}</style>",
        '<img src=x onerror="alert(1)">',
        '<a href=" JaVa\tScRiPt:alert(1)">x</a>',
        '<a href="&#106;avascript:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<a href="vbscript:x">x</a>',
    ]
    for html in bad:
        assert scan_html(html).problems, html
    good = '<script type="module" src="/static/time.js"></script><a href="/u/x">x</a>'
    assert scan_html(good).problems == []


async def test_nothing_a_signed_in_viewer_is_answered_is_cached(
    app: Quart, client: Client, auth: AuthActions
) -> None:
    await auth.register_and_login("alice")
    private_id = await auth.post_entry("my secret", visibility="private")
    for path in ("/", "/account", f"/entries/{private_id}", f"/entries/{private_id}/edit",
                 "/u/alice", "/nowhere"):  # fmt: skip
        response = await client.get(path)
        assert "no-store" in response.headers.get("Cache-Control", ""), path
    assert (await client.get("/passwords")).headers["Cache-Control"] == "no-store"  # its own
    stylesheet = await client.get("/static/site.css")
    assert "no-store" not in stylesheet.headers.get("Cache-Control", "")  # still cacheable
    visitors_home = await app.test_client().get("/")
    assert "no-store" not in visitors_home.headers.get("Cache-Control", "")
