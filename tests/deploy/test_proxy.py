"""Behind a proxy: PROXY_TRUSTED_HOPS makes the client address, scheme and host come from
the headers the proxy adds; without it those headers change nothing, so a client cannot
dodge a rate limit or claim HTTPS by sending them.

Every request here comes from one connection address (the proxy's, 10.0.0.2); the client
addresses are only in headers.
"""

from __future__ import annotations

import json
import secrets
from typing import Any

import pytest
from quart.testing.connections import WebsocketResponseError
from quart.typing import TestClientProtocol as Client

from quartapp.config import ConfigError, load_settings
from quartapp.security.headers import HSTS
from tests.conftest import Start
from tests.helpers import csrf_token

PROXY_CONNECTION = {"client": ("10.0.0.2", 40000)}
PROXY: dict[str, Any] = {"scope_base": PROXY_CONNECTION}
LOGIN_LIMIT = 10  # RATE_LIMIT_LOGIN's default, per minute
JOURNAL = "https://journal.example"


async def failed_login(client: Client, headers: dict[str, str]) -> int:
    form = {
        "csrf_token": await csrf_token(client),
        # A new name each time: only the per-address count is at stake here.
        "username": f"nobody-{secrets.token_hex(4)}",
        "password": "not the password",
    }
    response = await client.post("/login", form=form, headers=headers, **PROXY)
    return response.status_code


def forwarded_for(address: str) -> dict[str, str]:
    return {"X-Forwarded-For": address, "X-Forwarded-Proto": "https"}


async def test_without_the_setting_forwarded_headers_change_nothing(started: Start) -> None:
    client = (await started()).test_client()
    for number in range(LOGIN_LIMIT):
        forged = {
            **forwarded_for(f"198.51.100.{number}"),
            "Forwarded": f"for=203.0.113.{number};proto=https",
        }
        assert await failed_login(client, forged) == 400
    # All ten came from the connection's address, whatever the headers said.
    assert await failed_login(client, forwarded_for("198.51.100.99")) == 429
    response = await client.get("/", headers={"X-Forwarded-Proto": "https"}, **PROXY)
    assert "Strict-Transport-Security" not in response.headers  # still plain http


async def test_behind_one_proxy_the_limit_follows_x_forwarded_for(started: Start) -> None:
    client = (await started(proxy_trusted_hops=1)).test_client()
    for _ in range(LOGIN_LIMIT):
        assert await failed_login(client, forwarded_for("198.51.100.7")) == 400
    assert await failed_login(client, forwarded_for("198.51.100.7")) == 429
    # Another client behind the same proxy is not limited by the first one's attempts.
    assert await failed_login(client, forwarded_for("198.51.100.8")) == 400


async def test_a_client_cannot_dodge_it_by_sending_its_own_x_forwarded_for(
    started: Start,
) -> None:
    """The proxy appends the address it saw to what the client sent: only that last value
    (one trusted hop) counts."""
    client = (await started(proxy_trusted_hops=1)).test_client()
    for number in range(LOGIN_LIMIT):
        sent_on = forwarded_for(f"203.0.113.{number}, 198.51.100.7")
        assert await failed_login(client, sent_on) == 400
    assert await failed_login(client, forwarded_for("203.0.113.99, 198.51.100.7")) == 429


async def test_two_trusted_hops_take_the_address_the_outer_proxy_saw(started: Start) -> None:
    client = (await started(proxy_trusted_hops=2)).test_client()
    for number in range(LOGIN_LIMIT):
        # client-sent, then the outer proxy's view of the client, then the inner proxy's.
        chain = forwarded_for(f"203.0.113.{number}, 198.51.100.7, 10.0.0.1")
        assert await failed_login(client, chain) == 400
    assert await failed_login(client, forwarded_for("198.51.100.7, 10.0.0.1")) == 429
    # The scheme the outer proxy saw (https), not the inner hop's (http).
    chained = {"X-Forwarded-Proto": "https, http"}
    assert "Strict-Transport-Security" in (await client.get("/", headers=chained)).headers
    inner_only = {"X-Forwarded-Proto": "https"}  # one value: not from two proxies, ignored
    assert "Strict-Transport-Security" not in (await client.get("/", headers=inner_only)).headers


async def test_behind_a_proxy_the_scheme_comes_from_x_forwarded_proto(started: Start) -> None:
    client = (await started(proxy_trusted_hops=1)).test_client()
    secure = await client.get("/", headers={"X-Forwarded-Proto": "https"}, **PROXY)
    assert secure.headers["Strict-Transport-Security"] == HSTS
    plain = await client.get("/", headers={"X-Forwarded-Proto": "http"}, **PROXY)
    assert "Strict-Transport-Security" not in plain.headers


async def test_the_forwarded_header_when_configured(started: Start) -> None:
    client = (await started(proxy_trusted_hops=1, proxy_headers="forwarded")).test_client()
    header = {"Forwarded": "for=198.51.100.7;proto=https"}
    response = await client.get("/", headers=header, **PROXY)
    assert response.headers["Strict-Transport-Security"] == HSTS
    for _ in range(LOGIN_LIMIT):
        # In this mode X-Forwarded-For is ignored: changing it does not dodge the limit.
        assert await failed_login(client, {**header, **forwarded_for("203.0.113.5")}) == 400
    assert await failed_login(client, {**header, **forwarded_for("203.0.113.6")}) == 429


async def open_live(client: Client, headers: dict[str, str]) -> None:
    """A handshake through the (test) proxy, then the first message: accepted."""
    async with client.websocket("/ws", headers=headers, scope_base=PROXY_CONNECTION) as socket_:
        await socket_.send(json.dumps({"since": 0}))
        await socket_.send(json.dumps({"type": "ping"}))
        assert json.loads(await socket_.receive()) == {"type": "pong"}


# What nginx sends for a page at https://journal.example when it passes Host on.
THROUGH_NGINX = {
    "Origin": JOURNAL,
    "Host": "journal.example",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-For": "198.51.100.7",
}


async def test_websockets_pass_through_and_keep_their_origin_check(started: Start) -> None:
    client = (await started(proxy_trusted_hops=1, rate_limits_enabled=False)).test_client()
    await open_live(client, THROUGH_NGINX)
    # The site's own origin is now https://journal.example: plain http is another origin.
    with pytest.raises(WebsocketResponseError) as refused:
        await open_live(client, {**THROUGH_NGINX, "Origin": "http://journal.example"})
    assert refused.value.response.status_code == 403


async def test_without_the_setting_the_tls_proxys_origin_is_foreign(started: Start) -> None:
    """The app sees http://journal.example, the browser sends https://journal.example: the
    handshake is refused unless ALLOWED_ORIGINS names it (or the proxy is trusted)."""
    client = (await started(rate_limits_enabled=False)).test_client()
    with pytest.raises(WebsocketResponseError) as refused:
        await open_live(client, THROUGH_NGINX)
    assert refused.value.response.status_code == 403
    allowed = await started(rate_limits_enabled=False, allowed_origins=(JOURNAL,))
    await open_live(allowed.test_client(), THROUGH_NGINX)


async def test_x_forwarded_host_restores_a_host_the_proxy_rewrote(started: Start) -> None:
    client = (await started(proxy_trusted_hops=1, rate_limits_enabled=False)).test_client()
    rewritten = {
        **THROUGH_NGINX,
        "Host": "quartapp-upstream",
        "X-Forwarded-Host": "journal.example",
    }
    await open_live(client, rewritten)
    with pytest.raises(WebsocketResponseError):
        await open_live(client, {**rewritten, "X-Forwarded-Host": "quartapp-upstream"})


def settings_from(environment: dict[str, str]) -> Any:
    return load_settings(environ={"SECRET_KEY": "k" * 40, **environment}, dotenv_path=None)


def test_proxy_settings_from_the_environment() -> None:
    assert settings_from({}).proxy_trusted_hops == 0
    settings = settings_from({"PROXY_TRUSTED_HOPS": "2", "PROXY_HEADERS": "forwarded"})
    assert (settings.proxy_trusted_hops, settings.proxy_headers) == (2, "forwarded")


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"PROXY_TRUSTED_HOPS": "one"}, "PROXY_TRUSTED_HOPS"),
        ({"PROXY_TRUSTED_HOPS": "-1"}, "PROXY_TRUSTED_HOPS"),
        ({"PROXY_TRUSTED_HOPS": "11"}, "PROXY_TRUSTED_HOPS"),
        ({"PROXY_HEADERS": "legacy"}, "PROXY_HEADERS"),
        ({"PROXY_HEADERS": "X-Forwarded-For"}, "PROXY_HEADERS"),
    ],
)
def test_bad_proxy_settings_are_refused(environment: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        settings_from(environment)
