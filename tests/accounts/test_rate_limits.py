"""Login and registration are rate-limited per connection address."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from quart.typing import TestClientProtocol as Client
from quart.wrappers import Response

from quartapp.config import ConfigError, RateLimitSpec, load_settings
from tests.conftest import Start
from tests.helpers import csrf_token, page_text

LOGIN_FORM = {"username": "nobody", "password": "not a password"}
REGISTER_FORM = {"username": "x", "email": "bad", "password": "short", "confirm": "short"}


def from_address(address: str) -> dict[str, Any]:
    """Request options that make the request come from ``address``."""
    return {"scope_base": {"client": (address, 50000)}}


async def attempt(
    client: Client,
    path: str = "/login",
    *,
    address: str = "192.0.2.1",
    headers: dict[str, str] | None = None,
) -> Response:
    """A failing login (or registration) POST, with a valid CSRF token."""
    form = {**(LOGIN_FORM if path == "/login" else REGISTER_FORM)}
    form["csrf_token"] = await csrf_token(client, path)
    return await client.post(path, form=form, headers=headers, **from_address(address))


async def statuses(client: Client, count: int, path: str = "/login", **kwargs: Any) -> list[int]:
    return [(await attempt(client, path, **kwargs)).status_code for _ in range(count)]


async def test_login_allows_10_a_minute_then_answers_429(client: Client) -> None:
    assert await statuses(client, 10) == [400] * 10
    response = await attempt(client)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    page = await page_text(response)
    assert "Too many attempts" in page
    assert response.mimetype == "text/html"


async def test_register_allows_5_a_minute_then_answers_429(client: Client) -> None:
    assert await statuses(client, 5, "/register") == [400] * 5
    response = await attempt(client, "/register")
    assert response.status_code == 429
    assert int(response.headers["Retry-After"]) >= 1
    # The limits are per endpoint: logging in is still allowed.
    assert (await attempt(client)).status_code == 400


async def test_a_correct_login_is_refused_too_once_limited(client: Client) -> None:
    register = await client.post(
        "/register",
        form={
            "csrf_token": await csrf_token(client, "/register"),
            "username": "alice",
            "email": "alice@example.com",
            "password": "the right password",
            "confirm": "the right password",
        },
    )
    assert register.status_code == 303
    visitor = client.app.test_client()
    await statuses(visitor, 10)
    form = {
        "csrf_token": await csrf_token(visitor),
        "username": "alice",
        "password": "the right password",
    }
    response = await visitor.post("/login", form=form, **from_address("192.0.2.1"))
    assert response.status_code == 429


async def test_forwarded_for_headers_do_not_dodge_the_limit(client: Client) -> None:
    for number in range(10):
        forged = {"X-Forwarded-For": f"198.51.100.{number}", "X-Real-IP": f"203.0.113.{number}"}
        assert (await attempt(client, headers=forged)).status_code == 400
    forged = {"X-Forwarded-For": "198.51.100.99", "Remote-Addr": "198.51.100.98"}
    assert (await attempt(client, headers=forged)).status_code == 429


async def test_limit_is_per_connection_address(client: Client) -> None:
    await statuses(client, 5, path="/register", address="192.0.2.1")
    assert (await attempt(client, "/register", address="192.0.2.1")).status_code == 429
    assert (await attempt(client, "/register", address="192.0.2.2")).status_code == 400


async def test_get_requests_are_not_counted(client: Client) -> None:
    for _ in range(30):
        assert (await client.get("/login", **from_address("192.0.2.1"))).status_code == 200
        assert (await client.get("/register", **from_address("192.0.2.1"))).status_code == 200
    assert await statuses(client, 10) == [400] * 10
    assert await statuses(client, 5, "/register") == [400] * 5


async def test_settings_change_the_limits(started: Start) -> None:
    app = await started(
        rate_limit_login=RateLimitSpec(3, timedelta(minutes=1)),
        rate_limit_register=RateLimitSpec(2, timedelta(hours=1)),
    )
    client = app.test_client()
    assert await statuses(client, 4) == [400, 400, 400, 429]
    assert await statuses(client, 3, "/register") == [400, 400, 429]
    response = await attempt(client, "/register")
    assert int(response.headers["Retry-After"]) > 60  # an hour's budget refills slowly


async def test_limits_can_be_switched_off(started: Start) -> None:
    client = (await started(rate_limits_enabled=False)).test_client()
    assert await statuses(client, 15) == [400] * 15


async def test_limit_from_the_environment(started: Start, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RATE_LIMIT_LOGIN", "3/minute")
    client = (await started()).test_client()
    assert await statuses(client, 4) == [400, 400, 400, 429]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3/minute", RateLimitSpec(3, timedelta(minutes=1))),
        ("100/hour", RateLimitSpec(100, timedelta(hours=1))),
        (" 20 / second ", RateLimitSpec(20, timedelta(seconds=1))),
        ("1000/day", RateLimitSpec(1000, timedelta(days=1))),
    ],
)
def test_rate_limit_variables_are_parsed(text: str, expected: RateLimitSpec) -> None:
    settings = load_settings(
        environ={"SECRET_KEY": "k" * 40, "RATE_LIMIT_LOGIN": text, "RATE_LIMIT_REGISTER": text},
        dotenv_path=None,
    )
    assert settings.rate_limit_login == expected
    assert settings.rate_limit_register == expected


@pytest.mark.parametrize("name", ["RATE_LIMIT_LOGIN", "RATE_LIMIT_REGISTER"])
@pytest.mark.parametrize(
    "text",
    ["", "10", "ten/minute", "10/minutes", "10 per minute", "0/minute", "-1/minute", "5/week"],
)
def test_bad_rate_limit_variables_are_refused(name: str, text: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load_settings(environ={"SECRET_KEY": "k" * 40, name: text}, dotenv_path=None)
