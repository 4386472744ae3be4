"""A closed connection is freed at once, by reference counting (live/release.py).

The app tunes the garbage collector so that a full collection is rare (tests/
test_gc_tuning.py), so anything of a closed connection left in a reference cycle stays for
a long time: after waves of 1,000 websockets a worker grew by ~25 MiB each
(bench/ws_waves.py, docs/PERFORMANCE.md). These tests serve the app with hypercorn's
asyncio worker in this process, on loopback, open and close real connections (the
``websockets`` client for /ws), and count the objects each connection is made of, with
the garbage collector off: only reference counting can free them. A connection's objects
must be gone within a few seconds of its close (less than any of the timers that kept
them); in a cycle they would never be.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import json
import multiprocessing
import socket
import struct
import time
import tomllib
import tracemalloc
import weakref
from asyncio import selector_events
from collections import Counter
from collections.abc import Iterator
from contextvars import ContextVar
from typing import Any

from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import HTTPStream
from hypercorn.protocol.ws_stream import WSStream
from quart import Quart
from quart.ctx import WebsocketContext
from quart.wrappers import Websocket
from websockets.asyncio.client import connect
from websockets.typing import Origin
from wsproto import WSConnection

from quartapp.live.hub import Connection
from quartapp.live.mailbox import Mailbox
from quartapp.live.release import ConnectionContext
from quartapp.services import services_of
from quartapp.tasks import timeout
from tests.live.servers import HYPERCORN_CONFIG, served

# As deployed: hypercorn pings every websocket, and a connection's task waits for its pings.
DEPLOYED = {
    name: value
    for name, value in tomllib.loads(HYPERCORN_CONFIG.read_text()).items()
    if name in ("websocket_ping_interval", "read_timeout", "keep_alive_timeout")
}
SOCKETS = 300  # websockets opened and closed
BATCH = 50  # at once, each batch from a loopback address of its own (a per-address cap)
# Seconds: less than each of the timers that kept closed connections: hypercorn's keep-alive
# (5 s) and pings (20 s), and the first message's timeout (live.routes.SINCE_TIMEOUT, 10 s).
FREED_WITHIN = 3.0
# What a connection is made of, on each side of the ASGI interface and in the app.
KINDS: tuple[type, ...] = (
    TCPServer,  # hypercorn's connection (and release.py's subclass)
    H11Protocol,
    HTTPStream,
    WSStream,
    WSConnection,
    Websocket,
    WebsocketContext,
    Connection,
    Mailbox,
)


# With the sockets' own objects, when the test's clients make none of them.
TRANSPORTS = (*KINDS, selector_events._SelectorSocketTransport, socket.socket)  # type: ignore[attr-defined]


def census(kinds: tuple[type, ...] = KINDS) -> Counter[str]:
    """Live objects of each kind, as the garbage collector tracks them (no collection)."""
    counts: Counter[str] = Counter()
    for thing in gc.get_objects():
        if issubclass(type(thing), kinds):  # not isinstance: a dead weak proxy raises
            counts[f"{type(thing).__module__}.{type(thing).__qualname__}"] += 1
    return counts


@contextlib.contextmanager
def collector_off() -> Iterator[None]:
    gc.collect()  # whatever came before the test is not the test's to count
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def back_to(baseline: Counter[str], kinds: tuple[type, ...] = KINDS) -> None:
    """Wait until the census is the baseline again; fail with what is left."""
    deadline = time.monotonic() + FREED_WITHIN
    left = census(kinds) - baseline
    while left and time.monotonic() < deadline:
        await asyncio.sleep(0.1)
        left = census(kinds) - baseline
    assert not left, f"kept after close, without a garbage collection: {dict(left)}"


async def visit(port: int, source: str) -> None:
    """A page's live socket: subscribes, gets its pong, closes."""
    async with connect(
        f"ws://127.0.0.1:{port}/ws",
        origin=Origin(f"http://127.0.0.1:{port}"),
        open_timeout=10,
        close_timeout=5,
        proxy=None,
        local_addr=(source, 0),
    ) as client:
        await client.send(json.dumps({"since": 0}))
        await client.send('{"type": "ping"}')
        async with asyncio.timeout(10):
            while json.loads(await client.recv()).get("type") != "pong":
                pass


async def waves(port: int, sockets: int) -> None:
    for start in range(0, sockets, BATCH):
        source = f"127.0.0.{2 + start // BATCH}"
        await asyncio.gather(*(visit(port, source) for _ in range(min(BATCH, sockets - start))))


async def test_closed_websockets_are_freed_without_a_garbage_collection(make_app: Any) -> None:
    app: Quart = make_app()
    assert min(DEPLOYED["websocket_ping_interval"], DEPLOYED["keep_alive_timeout"]) > FREED_WITHIN
    async with served(app, **DEPLOYED) as port:
        hub = services_of(app).hub
        await waves(port, 5)  # first uses: caches, the database's connections
        with collector_off():
            baseline = census()
            await waves(port, SOCKETS)
            assert not hub.connections
            await back_to(baseline)


async def test_closed_http_silent_and_reset_connections_are_freed_too(make_app: Any) -> None:
    """Page requests, connections that never send one (a load balancer's TCP check), and
    connections the client resets."""
    app: Quart = make_app()
    async with served(app, **DEPLOYED) as port:
        # Blocking clients, in threads: then every asyncio transport here is the server's.
        def page() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                assert client.recv(4096).startswith(b"HTTP/1.1 200")

        def silent() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=10):
                time.sleep(0.05)

        def reset() -> None:
            with socket.create_connection(("127.0.0.1", port), timeout=10) as client:
                client.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                time.sleep(0.05)
                # Closed with a linger of 0: a reset (RST), not a FIN.
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

        def clients() -> None:
            for _ in range(35):
                page()
                silent()
                reset()

        await asyncio.to_thread(page)
        with collector_off():
            baseline = census(TRANSPORTS)
            await asyncio.gather(*(asyncio.to_thread(clients) for _ in range(2)))
            await back_to(baseline, TRANSPORTS)


async def test_a_timeout_keeps_nothing_of_its_context_once_it_is_over() -> None:
    """asyncio keeps a cancelled timer, and the context it was set in, until its time came:
    set in a websocket's handler, it kept the whole socket."""
    held: ContextVar[object] = ContextVar("held")

    class Request:
        pass

    async def handler() -> weakref.ref[Request]:
        request = Request()
        held.set(request)
        async with timeout(60):
            await asyncio.sleep(0)
        return weakref.ref(request)

    # A timer due earlier, as on any server (hypercorn's read timeouts): asyncio drops a
    # cancelled timer at once only from the head of its queue.
    earlier = asyncio.get_running_loop().call_later(30, lambda: None)
    try:
        with collector_off():
            request = await asyncio.create_task(handler())  # its own context, gone with it
            await asyncio.sleep(0)  # the loop's last reference to that task's step
            assert request() is None
    finally:
        earlier.cancel()


async def test_a_connections_sleep_ends_when_it_does_and_never_spins() -> None:
    """hypercorn's ping loop sleeps in it, then looks whether its stream closed."""
    context = ConnectionContext(WorkerContext(None))
    asleep = asyncio.create_task(context.sleep(60))
    await asyncio.sleep(0)
    context.end()
    await asyncio.wait_for(asleep, 1)
    again = asyncio.create_task(context.sleep(60))  # woken once: now a whole sleep
    await asyncio.sleep(0.05)
    assert not again.done()
    again.cancel()


async def test_a_connection_that_ended_while_awake_ends_its_next_sleep_at_once() -> None:
    context = ConnectionContext(WorkerContext(None))
    context.end()
    await asyncio.wait_for(context.sleep(60), 1)


# An idle live socket costs the worker ~44 KiB of resident memory at 5,000 sockets
# (bench/ws_fanout.py, docs/PERFORMANCE.md), of which ~38 KiB are Python's own
# allocations; an asyncio.Queue more a socket is ~3 KiB.
IDLE_SOCKETS = 200
PYTHON_KIB_PER_IDLE_SOCKET = 41


def _hold_idle_sockets(port: int, count: int, ready: Any, done: Any) -> None:
    """In a process of its own, so that its memory is not the server's: ``count``
    subscribed sockets (the websockets library), held until ``done``."""

    async def subscribed(stack: contextlib.AsyncExitStack, source: str) -> None:
        client = await stack.enter_async_context(
            connect(
                f"ws://127.0.0.1:{port}/ws",
                origin=Origin(f"http://127.0.0.1:{port}"),
                open_timeout=20,
                ping_interval=None,
                proxy=None,
                local_addr=(source, 0),
            )
        )
        await client.send(json.dumps({"since": 0}))
        await client.send('{"type": "ping"}')
        while json.loads(await client.recv()).get("type") != "pong":
            pass

    async def hold() -> None:
        async with contextlib.AsyncExitStack() as stack:
            for start in range(0, count, BATCH):
                source = f"127.0.0.{2 + start // BATCH}"
                size = min(BATCH, count - start)
                await asyncio.gather(*(subscribed(stack, source) for _ in range(size)))
            ready.set()
            await asyncio.get_running_loop().run_in_executor(None, done.wait, 60)

    asyncio.run(hold())


async def test_an_idle_live_socket_costs_the_worker_little_memory(make_app: Any) -> None:
    app = make_app()
    context = multiprocessing.get_context("spawn")
    ready, done = context.Event(), context.Event()
    async with served(app, **DEPLOYED) as port:
        await asyncio.sleep(0.5)
        gc.collect()
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            clients = context.Process(
                target=_hold_idle_sockets, args=(port, IDLE_SOCKETS, ready, done), daemon=True
            )
            clients.start()
            loop = asyncio.get_running_loop()
            try:
                assert await loop.run_in_executor(None, ready.wait, 60), "the clients hung"
                assert len(services_of(app).hub.connections) == IDLE_SOCKETS
                gc.collect()
                per_socket = (tracemalloc.get_traced_memory()[0] - before) / IDLE_SOCKETS / 1024
            finally:
                done.set()
                # Joined off the loop, which serves the clients' closing handshakes.
                await loop.run_in_executor(None, clients.join, 30)
        finally:
            tracemalloc.stop()
    assert per_socket <= PYTHON_KIB_PER_IDLE_SOCKET, f"{per_socket:.1f} KiB an idle socket"
