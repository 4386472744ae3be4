"""Live sockets are capped per client address and per worker (issue 11, item 5).

1,500 anonymous sockets from one address used to be accepted in 2.1 s. Now a handshake
takes a slot before it is accepted, or gets 429 (its address holds
``LIVE_MAX_SOCKETS_PER_ADDRESS``) or 503 (the worker holds ``LIVE_MAX_SOCKETS``); the
slot comes back when the socket ends, however it ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

from quartapp.config import ConfigError, load_settings
from quartapp.live.limits import SocketSlots
from quartapp.ratelimits import address_key
from tests.database import TestDatabase
from tests.live.servers import Server, database_environment, get, serving

# --- the settings -----------------------------------------------------------------------


def load(environ: dict[str, str], tmp_path: Path) -> Any:
    return load_settings(environ={"INSTANCE_PATH": str(tmp_path), **environ}, dotenv_path=None)


def test_the_defaults(tmp_path: Path) -> None:
    settings = load({}, tmp_path)
    assert settings.live_max_sockets_per_address == 100
    assert settings.live_max_sockets == 10_000
    assert settings.live_session_check_seconds == 30


def test_the_settings_are_read(tmp_path: Path) -> None:
    settings = load(
        {
            "LIVE_MAX_SOCKETS_PER_ADDRESS": "5",
            "LIVE_MAX_SOCKETS": "50",
            "LIVE_SESSION_CHECK_SECONDS": "60",
        },
        tmp_path,
    )
    assert settings.live_max_sockets_per_address == 5
    assert settings.live_max_sockets == 50
    assert settings.live_session_check_seconds == 60


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LIVE_MAX_SOCKETS_PER_ADDRESS", "0", "from 1 to"),
        ("LIVE_MAX_SOCKETS_PER_ADDRESS", "many", "whole number"),
        ("LIVE_MAX_SOCKETS", "-1", "from 1 to"),
        ("LIVE_MAX_SOCKETS", "1e4", "whole number"),
        ("LIVE_SESSION_CHECK_SECONDS", "0", "from 1 to 60"),
        ("LIVE_SESSION_CHECK_SECONDS", "61", "from 1 to 60"),  # the promise: every minute
    ],
)
def test_bad_values_name_the_setting(tmp_path: Path, name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError, match=name) as error:
        load({name: value}, tmp_path)
    assert message in str(error.value)


# --- the pure parts -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),  # the same /64: the same client
        ("2001:db8:1:3::1", "2001:db8:1:3::/64"),
        ("::ffff:192.0.2.7", "192.0.2.7"),  # IPv4 inside IPv6 counts as IPv4
        ("fe80::1%eth0", "fe80::/64"),
        ("<local>", "<local>"),
    ],
)
def test_address_key_counts_ipv6_clients_by_their_64(address: str, key: str) -> None:
    assert address_key(address) == key


def test_slots_refuse_past_either_cap_and_come_back() -> None:
    slots = SocketSlots(max_total=3, max_per_key=2)
    assert slots.take("a") is None
    assert slots.take("a") is None
    refused = slots.take("a")
    assert refused is not None
    assert refused.status == 429
    assert slots.take("b") is None
    refused = slots.take("c")
    assert refused is not None
    assert refused.status == 503
    slots.give_back("a")
    assert slots.take("c") is None
    for key in ("a", "b", "c"):
        slots.give_back(key)
    assert (slots.total, slots.held_by("a")) == (0, 0)
    assert not slots._by_key  # no key kept once its sockets are gone


def test_a_slot_is_given_back_when_the_block_raises() -> None:
    slots = SocketSlots(max_total=1, max_per_key=1)

    def fail_while_holding() -> None:
        with slots.holding("a") as refused:
            assert refused is None
            raise RuntimeError

    with pytest.raises(RuntimeError):
        fail_while_holding()
    with slots.holding("a") as refused, slots.holding("a") as second:
        assert refused is None
        assert second is not None  # the refusal takes nothing, so gives nothing back
    assert slots.total == 0


# --- on a real server ---------------------------------------------------------------------

CAPS = {"LIVE_MAX_SOCKETS_PER_ADDRESS": "3", "LIVE_MAX_SOCKETS": "5"}


@pytest.fixture
def capped(test_database: TestDatabase, tmp_path: Path) -> dict[str, str]:
    """A server's environment: the test's database, and caps of 3 an address, 5 in all."""
    return {**database_environment(test_database.url, tmp_path / "instance"), **CAPS}


@contextlib.asynccontextmanager
async def socket_from(server: Server, address: str) -> AsyncIterator[ClientConnection]:
    """A subscribed socket whose connection comes from this loopback address."""
    async with connect(
        f"ws://127.0.0.1:{server.port}/ws",
        origin=Origin(server.origin),
        open_timeout=5,
        close_timeout=2,
        proxy=None,
        local_addr=(address, 0),
    ) as socket_:
        await socket_.send(json.dumps({"since": 0}))
        await socket_.send('{"type": "ping"}')
        assert json.loads(await asyncio.wait_for(socket_.recv(), 5)) == {"type": "pong"}
        yield socket_


async def refused_with(server: Server, address: str) -> int:
    with pytest.raises(InvalidStatus) as refused:
        async with socket_from(server, address):
            pass
    status: int = refused.value.response.status_code
    return status


async def opened(stack: contextlib.AsyncExitStack, server: Server, address: str) -> Any:
    return await stack.enter_async_context(socket_from(server, address))


async def eventually_opens(server: Server, address: str) -> None:
    """The server gives a slot back once it has seen the socket end: soon, not at once."""
    for _ in range(50):
        with contextlib.suppress(InvalidStatus):
            async with socket_from(server, address):
                return
        await asyncio.sleep(0.1)
    pytest.fail(f"no slot came back for {address}")


async def test_sockets_past_the_per_address_cap_are_refused_with_429(
    capped: dict[str, str], tmp_path: Path
) -> None:
    async with serving(tmp_path, {"server": capped}) as [server]:
        async with contextlib.AsyncExitStack() as stack:
            sockets = [await opened(stack, server, "127.0.0.1") for _ in range(3)]
            assert await refused_with(server, "127.0.0.1") == 429
            # Another address is counted apart, and the worker goes on answering.
            async with socket_from(server, "127.0.0.2"):
                pass
            assert await asyncio.to_thread(get, server.port, "/healthz") == 200
            await sockets[0].close()
            await eventually_opens(server, "127.0.0.1")  # a closed socket's slot is back
        assert "Traceback" not in server.log()


async def test_sockets_past_the_worker_cap_are_refused_with_503(
    capped: dict[str, str], tmp_path: Path
) -> None:
    async with serving(tmp_path, {"server": capped}) as [server]:
        async with contextlib.AsyncExitStack() as stack:
            for address in ("127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.3"):
                await opened(stack, server, address)
            assert await refused_with(server, "127.0.0.4") == 503
        await eventually_opens(server, "127.0.0.4")  # all five came back


async def test_every_way_a_socket_ends_gives_its_slot_back(
    capped: dict[str, str], tmp_path: Path
) -> None:
    async with serving(tmp_path, {"server": capped}) as [server]:
        for _ in range(2):  # twice the cap's worth: nothing leaked the first time
            # Closed by the server for breaking the protocol, before and after ``since``.
            async with connect(
                f"ws://127.0.0.1:{server.port}/ws", origin=Origin(server.origin), proxy=None
            ) as bad_first:
                await bad_first.send("not json")
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(bad_first.recv(), 5)
            async with socket_from(server, "127.0.0.1") as bad_later:
                await bad_later.send('{"type": "shout"}')
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(bad_later.recv(), 5)
            # Dropped by the client without a close frame.
            async with socket_from(server, "127.0.0.1") as dropped:
                dropped.transport.abort()
            await eventually_opens(server, "127.0.0.1")
        async with contextlib.AsyncExitStack() as stack:  # the full cap, once more
            for _ in range(3):
                await opened(stack, server, "127.0.0.1")
