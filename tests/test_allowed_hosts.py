"""ALLOWED_HOSTS: a request for another host is answered 400 before routing, websockets too."""

from __future__ import annotations

from typing import Any

import pytest
from quart import Quart
from quart.testing.connections import WebsocketResponseError

from quartapp.security.hosts import REFUSAL

PRODUCTION_KEY = "allowed-hosts-production-key-" + "q7Z" * 12


@pytest.fixture
def settings_overrides() -> dict[str, Any]:
    return {"allowed_hosts": ("journal.example", ".team.example")}


@pytest.mark.parametrize(
    "host",
    [
        "journal.example",
        "JOURNAL.example",
        "journal.example:8443",
        "team.example",
        "x.team.example",
    ],
)
async def test_the_sites_own_hosts_are_served(app: Quart, host: str) -> None:
    response = await app.test_client().get("/", headers={"Host": host})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "host",
    ["evil.example", "journal.example.evil.example", "xjournal.example", "127.0.0.1", "", "a b"],
)
async def test_other_hosts_are_refused_before_routing(app: Quart, host: str) -> None:
    # The redirect Werkzeug makes for a doubled slash would point at the Host sent.
    for path in ("/", "/static//site.css", "/login", "/no-such-page"):
        response = await app.test_client().get(path, headers={"Host": host})
        assert response.status_code == 400, (host, path)
        assert await response.get_data() == REFUSAL
        assert "Location" not in response.headers


async def test_a_post_for_another_host_changes_nothing(app: Quart) -> None:
    response = await app.test_client().post(
        "/register", headers={"Host": "evil.example"}, form={"username": "mallory"}
    )
    assert response.status_code == 400


async def test_a_websocket_handshake_for_another_host_is_refused(app: Quart) -> None:
    client = app.test_client()
    headers = {"Host": "evil.example", "Origin": "http://evil.example"}
    with pytest.raises(WebsocketResponseError) as refused:
        async with client.websocket("/ws", headers=headers) as socket:
            await socket.send('{"since": 0}')
    assert refused.value.response.status_code == 400


def test_production_requires_allowed_hosts(make_app: Any) -> None:
    with pytest.raises(SystemExit, match="ALLOWED_HOSTS"):
        make_app(env="production", secret_key=PRODUCTION_KEY, allowed_hosts=())


async def test_development_answers_any_host_by_default(make_app: Any) -> None:
    app: Quart = make_app(allowed_hosts=())
    async with app.test_app():
        response = await app.test_client().get("/", headers={"Host": "anything.example"})
    assert response.status_code == 200
