"""Every POST that writes or hashes a password is limited, per address and per account;
a refused form comes back with what was typed; IPv6 clients count by /64; hashing takes
clients in turn (issue 11, items 2, 3 and 12)."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

import pytest
from quart import Quart
from quart.typing import TestClientProtocol as Client

from quartapp.accounts.hashing import PasswordHashing
from quartapp.config import RateLimitSpec
from quartapp.ratelimits import LimitRule, address_key
from quartapp.services import services_of
from tests.conftest import Start
from tests.helpers import DEFAULT_PASSWORD, AuthActions, csrf_token, page_text

# POSTs that neither write nor hash: the generator page computes a password for the form
# it was sent, as GET /passwords does for its query (and /api/passwords is limited); rules
# read from a site's words fill the form and draw nothing.
READ_ONLY_POSTS = {
    "passwords.generator",
    "passwords.import_passwordrules",
    "passwords.read_sentence",
}


def from_address(address: str) -> dict[str, Any]:
    return {"scope_base": {"client": (address, 50000)}}


async def post(client: Client, path: str, form: dict[str, str], address: str = "192.0.2.1") -> Any:
    """A form POST from ``address``, with a token from a page every viewer can open."""
    data = {"csrf_token": await csrf_token(client, "/passwords"), **form}
    return await client.post(path, form=data, **from_address(address))


def test_every_post_that_writes_or_hashes_carries_a_limit(app: Quart) -> None:
    unlimited = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or ()) or rule.endpoint in READ_ONLY_POSTS:
            continue
        view = app.view_functions[rule.endpoint]
        if not isinstance(getattr(view, "quartapp_rate_limit", None), LimitRule):
            unlimited.append(rule.rule)
    assert unlimited == []


async def test_a_writer_cannot_post_without_end_and_keeps_the_refused_text(
    started: Start,
) -> None:
    app = await started(rate_limit_writes=RateLimitSpec(5, timedelta(minutes=1)))
    client = app.test_client()
    await AuthActions(client).register_and_login("writer")
    for n in range(5):
        response = await post(client, "/entries", {"body": f"entry {n}", "visibility": "public"})
        assert response.status_code == 303
    text = "A sixth entry, *carefully* written — and not lost."
    refused = await post(client, "/entries", {"body": text, "visibility": "private"})
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) >= 1
    page = await page_text(refused)
    assert "Too many attempts" in page
    assert "A sixth entry, *carefully* written — and not lost." in page
    home = await page_text(await client.get("/"))
    assert "entry 4" in home
    assert "A sixth entry" not in home.split("<textarea")[0]  # never posted


async def test_the_writes_limit_counts_per_account_across_addresses(started: Start) -> None:
    app = await started(rate_limit_writes=RateLimitSpec(4, timedelta(minutes=1)))
    client = app.test_client()
    await AuthActions(client).register_and_login("roamer")
    statuses = [
        (await post(client, "/account/profile", {"about": f"v{n}"}, f"198.51.100.{n}")).status_code
        for n in range(6)
    ]
    assert statuses == [303, 303, 303, 303, 429, 429]
    page = await page_text(await post(client, "/account/profile", {"about": "kept text"}, "::1"))
    assert "kept text" in page


async def test_editing_and_saved_rules_keep_the_text_when_refused(started: Start) -> None:
    app = await started(rate_limit_writes=RateLimitSpec(2, timedelta(minutes=1)))
    client = app.test_client()
    await AuthActions(client).register_and_login("editor")
    entry = await post(client, "/entries", {"body": "first", "visibility": "public"})
    path = entry.headers["Location"] + "/edit"
    assert (await post(client, path, {"body": "second", "visibility": "public"})).status_code == 303
    refused = await post(client, path, {"body": "third, refused but kept", "visibility": "public"})
    assert refused.status_code == 429
    assert "third, refused but kept" in await page_text(refused)
    rules = await post(client, "/passwords/policies", {"name": "My bank", "length": "20"})
    assert rules.status_code == 429
    page = await page_text(rules)
    assert "My bank" in page
    assert "Too many attempts" in page


async def test_password_guesses_with_a_stolen_cookie_are_limited(started: Start) -> None:
    app = await started(rate_limit_account_password=RateLimitSpec(3, timedelta(hours=1)))
    client = app.test_client()
    await AuthActions(client).register_and_login("victim")
    guesses = [
        await post(
            client,
            path,
            {"current_password": f"guess {n}", "password": "k9#Vq2!zTT", "confirm": "k9#Vq2!zTT"}
            if path == "/account/password"
            else {"password": f"guess {n}"},
            f"203.0.113.{n}",  # from a new address each time: the account's count still holds
        )
        for n, path in enumerate(["/account/password", "/account/delete"] * 3)
    ]
    assert [response.status_code for response in guesses] == [400, 400, 400, 429, 429, 429]
    assert int(guesses[-1].headers["Retry-After"]) > 60


async def test_logins_for_one_name_are_limited_across_addresses(client: Client) -> None:
    for n in range(10):
        form = {"username": "Alice", "password": f"guess {n}"}
        assert (await post(client, "/login", form, f"192.0.2.{n + 1}")).status_code == 400
    refused = await post(client, "/login", {"username": "alice ", "password": "x"}, "192.0.2.99")
    assert refused.status_code == 429
    assert 'value="alice' in await page_text(refused)  # the name typed is kept
    other = await post(client, "/login", {"username": "bob", "password": "x"}, "192.0.2.99")
    assert other.status_code == 400


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("192.0.2.7", "192.0.2.7"),
        ("unknown", "unknown"),
    ],
)
def test_addresses_are_keyed_by_what_one_client_controls(address: str, key: str) -> None:
    assert address_key(address) == key


async def test_an_ipv6_client_cannot_rotate_within_its_64(client: Client) -> None:
    for n in range(5):
        address = f"2001:db8:aa:bb:{n:x}::{n + 1}"
        form = {"username": "x", "email": "bad", "password": "short", "confirm": "short"}
        assert (await post(client, "/register", form, address)).status_code == 400
    form = {"username": "y", "email": "bad", "password": "short", "confirm": "short"}
    assert (await post(client, "/register", form, "2001:db8:aa:bb::99")).status_code == 429
    assert (await post(client, "/register", form, "2001:db8:aa:bc::1")).status_code == 400


async def test_hashing_takes_clients_in_turn() -> None:
    """Eight guesses queued by one client delay another client's login by one, not eight."""
    hashing = PasswordHashing(time_cost=1, memory_kib=8 * 1024, parallelism=1)
    finished: list[str] = []

    async def one(client: str) -> None:
        await hashing.hash("a password", client=client)
        finished.append(client)

    try:
        flood = [asyncio.create_task(one("attacker")) for _ in range(8)]
        await asyncio.sleep(0)  # the flood is queued first
        await one("reader")
        await asyncio.gather(*flood)
    finally:
        hashing.close()
    assert finished.index("reader") <= 1, finished


async def test_a_login_waits_for_one_flooded_hash_not_all(started: Start) -> None:
    """Through the app: eight parallel wrong guesses from one address, then a login from
    another; the login's hash waits for the guess being hashed and at most one more, not
    for the rest. Counted in the order the hashes finish: the requests' own ends depend on
    how busy the machine is (the login then writes its session)."""
    app = await started(argon2_time_cost=2, argon2_memory_kib=16 * 1024, rate_limits_enabled=False)
    client = app.test_client()
    await AuthActions(client).register("reader")
    hashing = services_of(app).hashing
    hashed: list[str] = []  # in the order the hashes finished
    hashed_when_queued: list[int] = []  # when the login's hash joined the queue

    async def guess(n: int) -> None:
        await post(app.test_client(), "/login", {"username": "reader", "password": f"g{n}"})

    async def reader() -> None:
        response = await post(
            app.test_client(),
            "/login",
            {"username": "reader", "password": DEFAULT_PASSWORD},
            "198.51.100.7",
        )
        assert response.status_code == 303

    await hashing.prepare()
    check = hashing.check

    async def noting(password_hash: str, password: str, *, client: str = "") -> Any:
        login = password == DEFAULT_PASSWORD
        if login:
            hashed_when_queued.append(len(hashed))
        match = await check(password_hash, password, client=client)
        hashed.append("reader" if login else "guess")
        return match

    hashing.check = noting  # type: ignore[method-assign]
    started_at = time.monotonic()
    guesses = [asyncio.create_task(guess(n)) for n in range(8)]
    await asyncio.sleep(0.05)  # the guesses are queued first
    await asyncio.gather(reader(), *guesses)
    waited_for = hashed.index("reader") - hashed_when_queued[0]
    assert waited_for <= 2, (hashed, hashed_when_queued, time.monotonic() - started_at)
    assert hashed[-3:] == ["guess"] * 3, hashed  # the flood was still queued behind it
