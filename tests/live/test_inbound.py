"""Inbound websocket frames are bounded (issue 11, item 1): in number, in rate and in size.

Quart moved every frame hypercorn handed it into an unbounded queue, whether the handler
read it or not, so a client that sent faster than it was read grew the worker's memory
without end; and a client could send pings as fast as its link allowed, each read, parsed
and answered. Now Quart's queue holds a few frames (then hypercorn, and TCP, hold the
client back), and a client over its ping budget is closed with 1008 at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import struct
import time
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, CloseConnection, Request, TextMessage

from quartapp.live import routes
from quartapp.live.asgi import InboundFrames
from quartapp.live.hub import Hub
from quartapp.live.protocol import OVERFLOW, PING_BURST, POLICY_VIOLATION, FrameBudget
from quartapp.services import services_of
from tests.database import TestDatabase
from tests.helpers import AuthActions
from tests.live.servers import database_environment, get, live, served, serving
from tests.live.test_direct import origin
from tests.live.test_memory import DEPLOYED, back_to, census, collector_off

FLOOD = 500  # pings sent as fast as the client can: 50 times the budget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_budget_allows_a_burst_then_one_per_interval() -> None:
    clock = Clock()
    budget = FrameBudget(count=10, period=10.0, clock=clock)
    assert all(budget.spend() for _ in range(10))
    assert not budget.spend()
    clock.now += 0.5
    assert not budget.spend()  # half an interval on: still over
    clock.now += 0.5
    assert budget.spend()
    assert not budget.spend()
    clock.now += 60
    assert all(budget.spend() for _ in range(10))  # a quiet minute: a full burst again
    assert not budget.spend()


async def test_inbound_frames_come_out_in_order_to_a_waiting_reader() -> None:
    frames = InboundFrames(max_frames=4, max_bytes=100)
    reader = asyncio.create_task(frames.get())
    await asyncio.sleep(0)
    await frames.put("first")
    await frames.put(b"second")
    assert await asyncio.wait_for(reader, 1) == "first"
    assert await frames.get() == b"second"
    assert frames.empty()
    with pytest.raises(asyncio.QueueEmpty):
        frames.get_nowait()


async def test_a_cancelled_reader_leaves_the_inbound_frames_usable() -> None:
    frames = InboundFrames(max_frames=4, max_bytes=100)
    reader = asyncio.create_task(frames.get())
    await asyncio.sleep(0)
    reader.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await reader
    await frames.put("after")
    assert await asyncio.wait_for(frames.get(), 1) == "after"


async def test_the_byte_budget_counts_only_frames_not_yet_read() -> None:
    frames = InboundFrames(max_frames=100, max_bytes=10)
    for _ in range(5):  # 30 bytes in all, never more than 10 unread
        await frames.put("x" * 6)
        assert frames.get_nowait() == "x" * 6
    assert not frames.overflowed
    await frames.put("x" * 6)
    await frames.put("y" * 6)  # 12 unread: over
    assert frames.overflowed
    assert frames.get_nowait() is OVERFLOW
    await frames.put("z")  # dropped unread, once over
    assert frames.empty()


async def test_frames_not_read_are_bounded_then_dropped_for_one_overflow_mark(
    make_app: Any,
) -> None:
    """The handler reads nothing (as during a replay): Quart keeps a few frames, not all."""
    app = make_app()
    frames = 10_000
    taken = 0

    async def receive() -> Any:
        nonlocal taken
        taken += 1
        if taken > frames:
            await asyncio.Event().wait()  # the client stopped sending
        return {"type": "websocket.receive", "bytes": None, "text": '{"type":"ping"}'}

    scope = {"type": "websocket", "path": "/ws", "query_string": b"", "headers": []}
    connection = app.asgi_websocket_class(app, scope)
    overflows = []
    connection.queue.on_overflow = lambda: overflows.append(True)
    receiver = asyncio.create_task(connection.handle_messages(receive))
    try:
        for _ in range(100):
            if taken > frames:
                break
            await asyncio.sleep(0.01)
    finally:
        receiver.cancel()
    assert taken > frames  # the server was never made to wait: it can deliver a disconnect
    assert connection.queue.qsize() == 1  # not 10,000 frames
    assert connection.queue.get_nowait() is OVERFLOW
    assert overflows == [True]


async def test_a_ping_flood_is_closed_with_1008_and_the_worker_stays_responsive(
    test_database: TestDatabase, tmp_path: Path
) -> None:
    environment = database_environment(test_database.url, tmp_path / "instance")
    async with serving(tmp_path, {"server": environment}) as [server]:
        async with connect(
            f"ws://127.0.0.1:{server.port}/ws", origin=Origin(server.origin), proxy=None
        ) as flooder:
            await flooder.send(json.dumps({"since": 0}))

            async def flood() -> int:
                sent = 0
                try:
                    for _ in range(FLOOD):
                        await flooder.send('{"type": "ping"}')
                        sent += 1
                except ConnectionClosed:
                    pass
                return sent

            async def answers() -> list[Any]:
                received = []
                try:
                    while True:
                        received.append(json.loads(await flooder.recv()))
                except ConnectionClosed:
                    return received

            started = time.monotonic()
            _, received = await asyncio.wait_for(asyncio.gather(flood(), answers()), 10)
            closed_after = time.monotonic() - started
        assert (flooder.close_code, flooder.close_reason) == (POLICY_VIOLATION, "too many messages")
        assert received == [{"type": "pong"}] * len(received)
        assert len(received) <= PING_BURST  # the budget's worth was answered, no more
        assert closed_after < 5
        # The worker answers at once, and serves the next socket as ever.
        started = time.monotonic()
        assert await asyncio.to_thread(get, server.port, "/healthz") == 200
        assert time.monotonic() - started < 1
        async with live(server):
            pass
        assert "Traceback" not in server.log()


async def test_pings_within_the_budget_are_all_answered(
    test_database: TestDatabase, tmp_path: Path
) -> None:
    environment = database_environment(test_database.url, tmp_path / "instance")
    async with serving(tmp_path, {"server": environment}) as [server], live(server) as client:
        # ``live`` spent one ping already: the rest of the burst is answered, in order.
        for _ in range(PING_BURST - 1):
            await client.send('{"type": "ping"}')
        for _ in range(PING_BURST - 1):
            assert json.loads(await asyncio.wait_for(client.recv(), 5)) == {"type": "pong"}
        await client.send('{"type": "ping"}')  # one too many, at once
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(client.recv(), 5)
        assert client.close_code == POLICY_VIOLATION


async def raw_client(port: int) -> tuple[socket.socket, WSConnection]:
    """A websocket client on a bare socket, past ``since``: it does only what it is told."""
    raw = socket.socket()
    raw.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(raw, ("127.0.0.1", port))
    client = WSConnection(ConnectionType.CLIENT)
    request = Request(
        host=f"127.0.0.1:{port}", target="/ws", extra_headers=[(b"origin", origin(port).encode())]
    )
    await loop.sock_sendall(raw, client.send(request))
    while not any(isinstance(event, AcceptConnection) for event in client.events()):
        client.receive_data(await asyncio.wait_for(loop.sock_recv(raw, 65536), 5))
    await loop.sock_sendall(raw, client.send(TextMessage(data=json.dumps({"since": 0}))))
    return raw, client


async def until_closed_by_server(raw: socket.socket, client: WSConnection) -> int | None:
    """Read until the server's close frame; its code."""
    loop = asyncio.get_running_loop()
    while True:
        data = await asyncio.wait_for(loop.sock_recv(raw, 65536), 5)
        client.receive_data(data or None)
        for event in client.events():
            if isinstance(event, CloseConnection):
                return event.code
        if not data:
            return None


async def until_dropped(raw: socket.socket, within: float) -> None:
    """Read (and ignore) until the server ends the TCP connection."""
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(within):
        while True:
            try:
                if not await loop.sock_recv(raw, 65536):
                    return
            except ConnectionResetError:
                return


async def wait_released(hub: Hub) -> None:
    for _ in range(100):
        if hub.slots.total == 0 and not hub.connections:
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"{hub.slots.total} slots still held")


async def test_frames_sent_after_the_servers_close_do_not_keep_the_connection(
    make_app: Any,
) -> None:
    """More frames than hypercorn's and Quart's queues hold, then the client's close: the
    connection ends at once. Left unread, they stalled hypercorn's reading for good."""
    app = make_app()
    hub = services_of(app).hub
    async with served(app) as port:
        raw, client = await raw_client(port)
        try:
            loop = asyncio.get_running_loop()
            ping = client.send(TextMessage(data='{"type": "ping"}'))
            # One burst: the server reads the frames past its close with the one too many.
            await loop.sock_sendall(raw, ping * (PING_BURST + 50))
            assert await until_closed_by_server(raw, client) == POLICY_VIOLATION
            await loop.sock_sendall(raw, client.send(CloseConnection(code=1000)))
            await until_dropped(raw, within=5)
            await wait_released(hub)
        finally:
            raw.close()


async def test_a_client_that_floods_on_after_the_close_is_cut_off(make_app: Any) -> None:
    app = make_app()
    hub = services_of(app).hub
    async with served(app) as port:
        raw, client = await raw_client(port)
        try:
            loop = asyncio.get_running_loop()
            ping = client.send(TextMessage(data='{"type": "ping"}'))
            await loop.sock_sendall(raw, ping * (PING_BURST + 1))
            assert await until_closed_by_server(raw, client) == POLICY_VIOLATION

            async def flood_without_end() -> None:
                with contextlib.suppress(OSError):
                    while True:
                        await loop.sock_sendall(raw, ping * 100)
                        await asyncio.sleep(0.01)

            flooding = asyncio.create_task(flood_without_end())
            try:
                await until_dropped(raw, within=5)  # long before CLOSE_TIMEOUT
            finally:
                flooding.cancel()
            await wait_released(hub)
        finally:
            raw.close()


async def test_a_client_that_never_answers_the_close_is_cut_off(
    make_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(routes, "CLOSE_TIMEOUT", 0.5)
    app = make_app()
    hub = services_of(app).hub
    async with served(app) as port:
        raw, client = await raw_client(port)
        try:
            loop = asyncio.get_running_loop()
            ping = client.send(TextMessage(data='{"type": "ping"}'))
            await loop.sock_sendall(raw, ping * (PING_BURST + 1))
            assert await until_closed_by_server(raw, client) == POLICY_VIOLATION
            started = time.monotonic()
            await until_dropped(raw, within=5)  # silent: neither a close nor the end
            assert time.monotonic() - started >= 0.4
            await wait_released(hub)
        finally:
            raw.close()


@pytest.mark.parametrize("frames", [10, 2000])  # 40 KB: within the bound; 8 MB
async def test_a_client_that_sends_during_a_stuck_replay_is_let_go(
    make_app: Any, frames: int
) -> None:
    """The replay waits on a client that reads nothing, and it sends meanwhile: a few frames
    and then it is gone (a reset), or a flood, which the server cuts at once. Either way
    nothing is left waiting for good, and its slot comes back."""
    app = make_app(rate_limits_enabled=False)
    hub = services_of(app).hub
    async with served(app) as port:
        alice = AuthActions(app.test_client())
        await alice.register_and_login("alice")
        for n in range(3):
            await alice.post_entry(f"entry {n}")

        async def huge_cards(ids: list[int]) -> dict[int, tuple[str, str]]:
            card = "x" * 4_000_000  # far more than the kernels' buffers take
            return {entry: (card, card) for entry in ids}

        hub.render_cards = huge_cards
        raw = socket.socket()
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        raw.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_connect(raw, ("127.0.0.1", port))
            client = WSConnection(ConnectionType.CLIENT)
            request = Request(
                host=f"127.0.0.1:{port}",
                target="/ws",
                extra_headers=[(b"origin", origin(port).encode())],
            )
            await loop.sock_sendall(raw, client.send(request))
            client.receive_data(await asyncio.wait_for(loop.sock_recv(raw, 4096), 5))
            assert any(isinstance(event, AcceptConnection) for event in client.events())
            await loop.sock_sendall(raw, client.send(TextMessage(data='{"since": 0}')))
            await asyncio.sleep(0.2)  # the replay is under way, and stuck
            big = client.send(TextMessage(data="[" + "0," * 1999 + "0]"))
            if frames > 100:
                with contextlib.suppress(OSError, TimeoutError):
                    await asyncio.wait_for(loop.sock_sendall(raw, big * frames), 5)
                await until_dropped(raw, within=5)  # cut off by the server
            else:
                await loop.sock_sendall(raw, big * frames)
                await asyncio.sleep(0.2)
                assert hub.slots.total == 1  # still stuck in the replay
        finally:
            # A reset, not a close: SO_LINGER 0.
            raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            raw.close()
        await wait_released(hub)


async def test_sockets_closed_for_flooding_are_freed_without_a_garbage_collection(
    make_app: Any,
) -> None:
    """Closed by the server (the ping budget) and cut off (still sending after the close):
    their objects go by reference counting alone, as a page's do (test_memory.py)."""
    app = make_app()

    async def flood(port: int, source: str, frame: str) -> None:
        async with connect(
            f"ws://127.0.0.1:{port}/ws",
            origin=Origin(f"http://127.0.0.1:{port}"),
            close_timeout=5,
            proxy=None,
            local_addr=(source, 0),
        ) as client:
            await client.send(json.dumps({"since": 0}))
            with contextlib.suppress(ConnectionClosed):
                for _ in range(100):
                    await client.send(frame)
                async with asyncio.timeout(10):
                    while True:
                        await client.recv()

    pings, big = '{"type": "ping"}', "[" + "0," * 1999 + "0]"  # 100 big ones: cut off
    async with served(app, **DEPLOYED) as port:
        await flood(port, "127.0.0.2", pings)  # first uses
        with collector_off():
            baseline = census()
            for n in range(10):
                await asyncio.gather(
                    *(flood(port, f"127.0.0.{3 + n}", frame) for frame in [pings, big] * 5)
                )
            assert not services_of(app).hub.connections
            await back_to(baseline)
