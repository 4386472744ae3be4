"""Your sessions: every signed-in browser of the account, in words, with its address
masked; end one, or every other (quartapp/accounts/sessions.py)."""

from __future__ import annotations

import re

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quartapp.accounts.devices import describe_user_agent, masked_address
from tests.database import TestDatabase
from tests.helpers import AuthActions, page_text, post_form

FIREFOX_LINUX = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)
REVOKE_RE = re.compile(r'action="/account/sessions/(\d+)/revoke"')


def browser(app: Quart, user_agent: str, address: str) -> AuthActions:
    client = app.test_client()
    # Every request of this client says it is this browser, from this address.
    original = client.open

    async def open_as(*args: object, **kwargs: object) -> object:
        headers = dict(kwargs.pop("headers", None) or {})  # type: ignore[call-overload]
        headers.setdefault("User-Agent", user_agent)
        scope_base = dict(kwargs.pop("scope_base", None) or {})  # type: ignore[call-overload]
        scope_base.setdefault("client", (address, 40000))
        return await original(*args, headers=headers, scope_base=scope_base, **kwargs)  # type: ignore[arg-type]

    client.open = open_as  # type: ignore[method-assign,assignment]
    return AuthActions(client)


@pytest.fixture
async def laptop(app: Quart, test_database: TestDatabase) -> AuthActions:
    actions = browser(app, FIREFOX_LINUX, "203.0.113.7")
    await actions.register_and_login("alice")
    return actions


@pytest.fixture
async def phone(app: Quart, laptop: AuthActions) -> AuthActions:
    actions = browser(app, SAFARI_IPHONE, "2001:db8:1:2:3:4:5:6")
    assert (await actions.login("alice")).status_code == 303
    return actions


async def session_page(actions: AuthActions) -> str:
    response = await actions.client.get("/account/sessions")
    assert response.status_code == 200
    return await page_text(response)


async def test_every_session_is_listed_in_words_with_its_address_masked(
    laptop: AuthActions, phone: AuthActions
) -> None:
    page = await session_page(laptop)
    assert "Firefox on Linux" in page
    assert "Safari on iOS" in page
    assert "203.0.113.x" in page
    assert "2001:db8:1:2::x" in page
    assert "203.0.113.7" not in page
    assert "3:4:5:6" not in page
    assert page.count("this device") == 1
    # This device first, and marked.
    assert page.index("Firefox on Linux") < page.index("this device") < page.index("Safari")
    assert len(REVOKE_RE.findall(page)) == 2


async def test_ending_another_session_logs_it_out_at_once(
    laptop: AuthActions, phone: AuthActions, test_database: TestDatabase
) -> None:
    page = await session_page(laptop)
    phone_id = REVOKE_RE.findall(page)[1]
    events = "SELECT count(*) FROM events WHERE kind = 'sessions'"
    before = test_database.scalar(events)
    response = await post_form(
        laptop.client, f"/account/sessions/{phone_id}/revoke", {}, token_from="/account/sessions"
    )
    assert response.status_code == 303
    # The event that closes the ended session's live sockets in every worker, as logout's.
    assert test_database.scalar(events) == before + 1
    assert "Log out" not in await page_text(await phone.client.get("/"))
    assert "Log out" in await page_text(await laptop.client.get("/"))
    assert "Safari on iOS" not in await session_page(laptop)


async def test_ending_this_devices_session_logs_out_here(
    laptop: AuthActions, phone: AuthActions
) -> None:
    page = await session_page(laptop)
    own_id = REVOKE_RE.findall(page)[0]
    response = await post_form(
        laptop.client, f"/account/sessions/{own_id}/revoke", {}, token_from="/account/sessions"
    )
    assert response.status_code == 303
    assert response.headers["Clear-Site-Data"] == '"cache", "storage"'
    assert "Log out" not in await page_text(await laptop.client.get("/"))
    assert "Log out" in await page_text(await phone.client.get("/"))


async def test_ending_every_other_session_keeps_this_one(
    app: Quart, laptop: AuthActions, phone: AuthActions
) -> None:
    third = browser(app, "curl/8.1", "198.51.100.9")
    assert (await third.login("alice")).status_code == 303
    response = await post_form(
        laptop.client, "/account/sessions/revoke-others", {}, token_from="/account/sessions"
    )
    assert response.status_code == 303
    for other in (phone, third):
        assert "Log out" not in await page_text(await other.client.get("/"))
    page = await session_page(laptop)
    assert "Ended 2 other sessions" in page
    assert len(REVOKE_RE.findall(page)) == 1


async def test_another_users_session_cannot_be_ended(
    app: Quart, laptop: AuthActions, phone: AuthActions
) -> None:
    phone_id = REVOKE_RE.findall(await session_page(laptop))[1]
    mallory = browser(app, FIREFOX_LINUX, "192.0.2.1")
    await mallory.register_and_login("mallory")
    response = await post_form(
        mallory.client, f"/account/sessions/{phone_id}/revoke", {}, token_from="/account/sessions"
    )
    assert response.status_code == 404
    assert "Log out" in await page_text(await phone.client.get("/"))


async def test_ending_needs_the_csrf_token_and_a_login(
    client: Client, laptop: AuthActions, phone: AuthActions
) -> None:
    phone_id = REVOKE_RE.findall(await session_page(laptop))[1]
    refused = await laptop.client.post(f"/account/sessions/{phone_id}/revoke", form={})
    assert refused.status_code == 400
    assert "Log out" in await page_text(await phone.client.get("/"))
    visitor = await client.get("/account/sessions")
    assert visitor.status_code in {302, 303, 401}


@pytest.mark.parametrize(
    ("user_agent", "words"),
    [
        (FIREFOX_LINUX, "Firefox on Linux"),
        (SAFARI_IPHONE, "Safari on iOS"),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.0.0",
            "Edge on Windows",
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) "
            "Chrome/126.0.0.0 Mobile Safari/537.36",
            "Chrome on Android",
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, "
            "like Gecko) Version/17.5 Safari/605.1.15",
            "Safari on macOS",
        ),
        ("<script>alert(1)</script>", "An unknown browser"),
        (None, "An unknown browser"),
    ],
)
def test_a_user_agent_in_words(user_agent: str | None, words: str) -> None:
    assert describe_user_agent(user_agent) == words


@pytest.mark.parametrize(
    ("address", "shown"),
    [
        ("203.0.113.7", "203.0.113.x"),
        ("::ffff:10.1.2.3", "10.1.2.x"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::x"),
        ("2001:db8::1", "2001:db8::x"),
        ("not an address", "unknown"),
        (None, "unknown"),
    ],
)
def test_an_address_with_its_last_part_hidden(address: str | None, shown: str) -> None:
    assert masked_address(address) == shown
