"""Frames written straight to a socket's transport (live/direct.py), under real hypercorn.

The app is served by hypercorn's asyncio worker in this process, on loopback, so the
test can look at the hub's connections while real websocket clients read over TCP. If a
hypercorn release moves the objects behind ``send``, the writer comes back None and
these tests fail, rather than the fan-out silently slowing down.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
from quart import Quart
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin
from wsproto import ConnectionType, WSConnection
from wsproto.connection import Connection as WSProtoConnection
from wsproto.events import CloseConnection, Request, TextMessage
from wsproto.frame_protocol import FrameProtocol

from quartapp.live.direct import DirectWriter, decline_compression, direct_writer
from quartapp.live.hub import Connection, FrameWriter, Hub
from quartapp.live.mailbox import Mailbox
from quartapp.live.messages import Audiences, text_frame
from quartapp.services import services_of
from tests.helpers import AuthActions
from tests.live.servers import served


@pytest.mark.parametrize(
    "text", ["x" * n for n in (0, 1, 125, 126, 127, 65535, 65536)] + ["é" * 70]
)
def test_a_frame_is_what_a_websocket_client_reads_as_one_text_message(text: str) -> None:
    client = WSProtoConnection(ConnectionType.CLIENT)
    client.receive_data(text_frame(text))
    messages = list(client.events())
    assert messages == [TextMessage(data=text, frame_finished=True, message_finished=True)]


def test_a_frame_is_what_wsproto_would_have_sent() -> None:
    server_side = FrameProtocol(client=False, extensions=[])
    for text in ["", "hello", "ü" * 100, "x" * 125, "x" * 126, "y" * 65535, "y" * 65536]:
        assert text_frame(text) == server_side.send_data(text, fin=True)


def origin(port: int) -> Origin:
    return Origin(f"http://127.0.0.1:{port}")  # the site's own: Host is 127.0.0.1:port


def hub_of(app: Quart) -> Hub:
    hub: Hub = services_of(app).hub
    return hub


async def wait_for_connections(hub: Hub, count: int) -> list[Connection]:
    for _ in range(200):
        ready = [c for c in hub.connections if c.queue.sender_waiting()]
        if len(ready) == count:
            return ready
        await asyncio.sleep(0.01)
    raise AssertionError(f"expected {count} live connections, have {len(hub.connections)}")


@contextlib.asynccontextmanager
async def reader(port: int, compression: str | None = None) -> AsyncIterator[ClientConnection]:
    async with connect(
        f"ws://127.0.0.1:{port}/ws",
        origin=origin(port),
        compression=compression,
    ) as client:
        await client.send(json.dumps({"since": 0}))
        yield client


class CountingWriter:
    """The real writer, counting the frames that went through it."""

    def __init__(self, writer: FrameWriter) -> None:
        self.writer = writer
        self.frames = 0

    def ready(self) -> bool:
        return self.writer.ready()

    def write(self, frame: bytes) -> None:
        self.frames += 1
        self.writer.write(frame)


def counted(connections: list[Connection]) -> list[CountingWriter]:
    writers = []
    for connection in connections:
        assert connection.writer is not None
        connection.writer = CountingWriter(connection.writer)
        writers.append(connection.writer)
    return writers


async def next_message(client: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(client.recv(), 5))
    return message


async def test_plain_sockets_get_frames_directly_and_read_every_event_in_order(
    make_app: Any,
) -> None:
    app = make_app(rate_limits_enabled=False)
    async with served(app) as port, reader(port) as first, reader(port) as second:
        writers = counted(await wait_for_connections(hub_of(app), 2))
        alice = AuthActions(app.test_client())
        await alice.register_and_login("alice")
        entry = await alice.post_entry("one")
        await alice.post_entry("two")
        for client in (first, second):
            created = [await next_message(client), await next_message(client)]
            assert [m["type"] for m in created] == ["created", "created"]
            assert created[0]["entry_id"] == entry
            assert "one" in created[0]["html"]
            assert created[1]["seq"] > created[0]["seq"]
        assert [writer.frames for writer in writers] == [2, 2]  # not through hypercorn


async def test_compression_offered_is_declined_and_frames_still_go_direct(
    make_app: Any,
) -> None:
    app = make_app(rate_limits_enabled=False)
    async with served(app) as port, reader(port, compression="deflate") as client:
        assert client.protocol.extensions == []  # offered, not negotiated
        [writer] = counted(await wait_for_connections(hub_of(app), 1))
        alice = AuthActions(app.test_client())
        await alice.register_and_login("alice")
        entry = await alice.post_entry("plain")
        message = await next_message(client)
        assert (message["type"], message["entry_id"]) == ("created", entry)
        assert writer.frames == 1


@pytest.mark.parametrize("declined", [False, True])
async def test_no_direct_writer_where_compression_was_negotiated(declined: bool) -> None:
    writers: list[DirectWriter | None] = []

    async def bare(scope: Any, receive: Any, send: Any) -> None:
        """A raw ASGI websocket app, with no Quart in between."""
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        if declined:
            decline_compression(send)
        await send({"type": "websocket.accept"})
        writers.append(direct_writer(send))
        await send({"type": "websocket.send", "text": "hello"})
        await receive()  # until the client goes

    async with (
        served(bare) as port,
        connect(f"ws://127.0.0.1:{port}/", compression="deflate") as client,
    ):
        assert await asyncio.wait_for(client.recv(), 5) == "hello"
        negotiated = [type(e).__name__ for e in client.protocol.extensions]
    assert negotiated == ([] if declined else ["PerMessageDeflate"])
    [writer] = writers
    assert (writer is not None) is declined


def test_a_send_that_is_not_hypercorns_has_no_direct_writer() -> None:
    # Under Quart's test client ``send`` is not hypercorn's: everything goes through it,
    # so tests/live/test_ws.py exercises the queue-and-send path.
    async def send(message: Any) -> None:
        pass

    decline_compression(send)  # nothing to decline: no error either
    assert direct_writer(send) is None


async def stuck_socket(port: int) -> tuple[socket.socket, WSConnection]:
    """A websocket client that reads nothing until told to, with a small receive buffer."""
    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    raw.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(raw, ("127.0.0.1", port))
    client = WSConnection(ConnectionType.CLIENT)
    request = Request(
        host=f"127.0.0.1:{port}", target="/ws", extra_headers=[(b"origin", origin(port).encode())]
    )
    await loop.sock_sendall(raw, client.send(request))
    while True:
        client.receive_data(await loop.sock_recv(raw, 65536))
        if any(True for _ in client.events()):
            break
    await loop.sock_sendall(raw, client.send(TextMessage(data=json.dumps({"since": 0}))))
    return raw, client


async def read_until_closed(raw: socket.socket, client: WSConnection) -> tuple[list[int], int]:
    loop = asyncio.get_running_loop()
    seqs: list[int] = []
    text = ""
    while True:
        data = await asyncio.wait_for(loop.sock_recv(raw, 1 << 20), 10)
        client.receive_data(data or None)
        for event in client.events():
            if isinstance(event, TextMessage):
                text += event.data
                if event.message_finished:
                    seqs.append(json.loads(text)["seq"])
                    text = ""
            elif isinstance(event, CloseConnection):
                return seqs, event.code
        if not data:
            raise AssertionError("connection ended without a close frame")


async def test_a_stuck_socket_falls_back_to_the_queue_and_is_closed_with_1013_in_order(
    make_app: Any,
) -> None:
    app = make_app(rate_limits_enabled=False, live_queue_size=8)
    hub = hub_of(app)
    big = "x" * 60_000
    count = 60  # 3.6 MB: far more than the small socket buffers and the transport's limit
    async with served(app) as port, reader(port) as healthy:
        raw, stuck_client = await stuck_socket(port)
        try:
            connections = await wait_for_connections(hub, 2)
            for writer in counted(connections):
                # Small kernel buffers on the server's side too, whatever this host's
                # defaults: the stuck peer must back up into the transport.
                transport = writer.writer._transport  # type: ignore[attr-defined]
                transport.get_extra_info("socket").setsockopt(
                    socket.SOL_SOCKET, socket.SO_SNDBUF, 4096
                )
            first = hub.last_seq + 1
            for seq in range(first, first + count):
                body = {"seq": seq, "type": "created", "entry_id": seq, "html": big}
                hub.fan_out(Audiences(seq, 0, None, json.dumps(body)))
                received = await next_message(healthy)
                assert received["seq"] == seq
            # The stuck socket now reads what was sent to it: a run from the first event
            # on, nothing skipped or reordered, then the close for falling behind.
            seqs, code = await read_until_closed(raw, stuck_client)
            assert code == 1013
            assert seqs == list(range(first, first + len(seqs)))
            assert len(seqs) < count
        finally:
            raw.close()


async def test_live_events_during_a_replay_come_after_it_in_order(make_app: Any) -> None:
    app = make_app(rate_limits_enabled=False)
    hub = hub_of(app)
    async with served(app) as port:
        alice = AuthActions(app.test_client())
        await alice.register_and_login("alice")
        for n in range(3):
            await alice.post_entry(f"before {n}")
        newest = 3
        for _ in range(200):  # the hub has fanned them out: it renders nothing more itself
            if hub.last_seq == newest:
                break
            await asyncio.sleep(0.01)
        assert hub.last_seq == newest
        render_cards = hub.render_cards
        live_seq = newest + 1
        fired = False

        async def render_then_an_event_arrives(ids: list[int]) -> dict[int, tuple[str, str]]:
            # While the replay reads its cards, the hub fans out a newer event: the
            # connection's sender is not waiting yet, so it must not be written first.
            nonlocal fired
            cards = await render_cards(ids)
            if not fired:
                fired = True
                body = {"seq": live_seq, "type": "deleted", "entry_id": 1}
                hub.fan_out(Audiences(live_seq, 0, None, json.dumps(body)))
            return cards

        hub.render_cards = render_then_an_event_arrives
        async with reader(port) as client:
            seqs = [(await next_message(client))["seq"] for _ in range(newest + 1)]
        assert seqs == list(range(1, newest + 2))


async def test_direct_frames_and_hypercorns_own_pings_never_split_each_other(
    make_app: Any,
) -> None:
    # hypercorn pings every millisecond while the hub writes: a frame written inside
    # another would break the client's parser (websockets is strict) or lose a message.
    app = make_app(rate_limits_enabled=False)
    hub = hub_of(app)
    async with (
        served(app, websocket_ping_interval=0.001) as port,
        reader(port) as client,
    ):
        [writer] = counted(await wait_for_connections(hub, 1))
        first = hub.last_seq + 1
        count = 2000
        for seq in range(first, first + count):
            body = {"seq": seq, "type": "deleted", "entry_id": seq}
            hub.fan_out(Audiences(seq, 0, None, json.dumps(body)))
            if seq % 50 == 0:
                await asyncio.sleep(0.002)  # let pings go out between the writes
        seqs = [(await next_message(client))["seq"] for _ in range(count)]
        assert seqs == list(range(first, first + count))
        assert writer.frames > count // 2  # most went directly, beside the pings


async def test_a_write_that_fails_queues_the_event_and_drops_the_writer(
    caplog: pytest.LogCaptureFixture,
) -> None:
    class FailingWriter:
        def ready(self) -> bool:
            return True

        def write(self, frame: bytes) -> None:
            raise RuntimeError("transport in a state nobody expected")

    connection = Connection(None, None, Mailbox(4), FailingWriter())
    sender = asyncio.create_task(connection.queue.get())
    await asyncio.sleep(0)  # the sender waits: a direct write is tried
    connection.deliver(Audiences(7, 0, None, '{"seq":7}'))
    assert await asyncio.wait_for(sender, 1) == (7, '{"seq":7}')  # sent the normal way
    assert connection.writer is None  # and no more direct writes for this socket
    assert "could not write to a live socket" in caplog.text
