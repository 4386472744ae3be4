"""What the live benches share: a server for them, a writer posting entries over HTTP,
and a lean websocket client of our own."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import http.cookiejar
import json
import os
import re
import struct
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from pathlib import Path

import variants
from serving import Server, hypercorn, migrate


@contextlib.contextmanager
def server(
    workers: int,
    redis_url: str | None,
    work: Path,
    worker_class: list[str],
    without: variants.Variant = (),
) -> Iterator[Server]:
    """A hypercorn serving a freshly migrated database, the app without ``without``."""
    database = work / "bench.db"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "INSTANCE_PATH": str(work / "instance"),
        "SECRET_KEY": "bench-" + "k" * 40,
        "RATE_LIMITS_ENABLED": "false",
        "ARGON2_TIME_COST": "1",
        "ARGON2_MEMORY_KIB": "1024",
        "ARGON2_PARALLELISM": "1",
        "LIVE_QUEUE_SIZE": "256",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("REDIS_URL", None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    migrate(env)
    options = ["--backlog", "2048", *worker_class]
    with hypercorn(env, work, workers, options, without) as target:
        yield target


class Writer:
    """A logged-in writer over plain HTTP (cookies kept), posting entries."""

    def __init__(self, port: int) -> None:
        self.base = f"http://127.0.0.1:{port}"
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    def _token(self, path: str) -> str:
        page = self.opener.open(self.base + path).read().decode()
        match = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert match is not None
        return match.group(1)

    def post(self, path: str, fields: dict[str, str], token_from: str) -> None:
        data = urllib.parse.urlencode({"csrf_token": self._token(token_from), **fields}).encode()
        self.opener.open(self.base + path, data=data).read()

    def register(self) -> None:
        password = "bench password 123"
        self.post(
            "/register",
            {"username": "bench", "email": "bench@example.com", "password": password,
             "confirm": password},
            "/register",
        )  # fmt: skip

    def newest_seq(self) -> int:
        """The seq a freshly loaded home page resumes from."""
        page = self.opener.open(self.base + "/").read().decode()
        match = re.search(r'data-live-seq="(\d+)"', page)
        assert match is not None
        return int(match.group(1))

    def post_entry(self, body: str, token: str) -> None:
        data = urllib.parse.urlencode(
            {"csrf_token": token, "title": "", "body": body, "visibility": "public"}
        ).encode()
        self.opener.open(self.base + "/entries", data=data).read()


WS_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x1, 0x8, 0x9, 0xA
DEFLATE_TAIL = b"\x00\x00\xff\xff"
RECEIVE_BUFFER = 16384
CONNECT_CONCURRENCY = 100
PER_ADDRESS = 100  # clients a source address (the server's default cap)


def client_frame(opcode: int, payload: bytes) -> bytes:
    """One masked frame, as RFC 6455 requires of a client."""
    mask = os.urandom(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return header + mask + masked


class LeanClient(asyncio.BufferedProtocol):
    """A minimal websocket client: just what the measurement needs, and cheap.

    The client library we test with costs tens of microseconds a message; with thousands of
    clients on the same two cores as the server it measured mostly itself. This one reads
    into a buffer of its own (a plain protocol gets a fresh 256 KiB allocation every read),
    parses frames, inflates permessage-deflate when negotiated, answers pings, and stamps
    each "created" message with the time its bytes arrived, and the close (its code, or None
    when the connection ended without a close frame) with the time it came.
    """

    def __init__(self, port: int, since: int, compression: bool) -> None:
        self.port = port
        self.since = since
        self.compression = compression
        self.key = base64.b64encode(os.urandom(16))
        self.buffer = bytearray()
        self.incoming = memoryview(bytearray(RECEIVE_BUFFER))
        self.upgraded = asyncio.get_running_loop().create_future()
        self.inflater: zlib._Decompress | None = None
        self.arrivals: list[tuple[int, float]] = []  # (seq, time) of "created" messages
        self.ponged = asyncio.get_running_loop().create_future()
        self.close_code: int | None = None
        self.closed_at: float | None = None
        self.transport: asyncio.Transport | None = None
        self.open = False

    @classmethod
    async def connect(
        cls, port: int, since: int, compression: bool, source: str = "127.0.0.1"
    ) -> LeanClient:
        """A client whose handshake succeeded (it has sent its ``since``)."""
        client = cls(port, since, compression)
        await asyncio.get_running_loop().create_connection(
            lambda: client, "127.0.0.1", port, local_addr=(source, 0)
        )
        await asyncio.wait_for(client.upgraded, 60)
        return client

    async def served(self) -> None:
        """Once the server answers a ping, it has taken the ``since`` and replayed."""
        self._send(OP_TEXT, b'{"type":"ping"}')
        await asyncio.wait_for(self.ponged, 60)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        extension = (
            b"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n"
            if self.compression
            else b""
        )
        transport.write(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n"
            b"Origin: http://127.0.0.1:%d\r\n%s\r\n" % (self.port, self.key, self.port, extension)
        )

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.incoming

    def buffer_updated(self, nbytes: int) -> None:
        now = time.time()
        self.buffer += self.incoming[:nbytes]
        if not self.open and not self._handshake():
            return
        self._frames(now)

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self.closed_at is None:  # no close frame came: abnormal closure
            self.closed_at = time.time()
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed during the handshake"))

    def _handshake(self) -> bool:
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return False
        head = bytes(self.buffer[:end]).decode("latin-1").lower()
        del self.buffer[: end + 4]
        accept = (
            base64.b64encode(hashlib.sha1(self.key + WS_GUID, usedforsecurity=False).digest())
            .decode()
            .lower()
        )
        if not head.startswith("http/1.1 101") or accept not in head:
            self.upgraded.set_exception(ConnectionError(head.splitlines()[0]))
            return False
        if "permessage-deflate" in head:
            self.inflater = zlib.decompressobj(-zlib.MAX_WBITS)
        self.open = True
        self._send(OP_TEXT, json.dumps({"since": self.since}).encode())  # as the page would
        self.upgraded.set_result(None)
        return True

    def _frames(self, now: float) -> None:
        buffer = self.buffer
        while len(buffer) >= 2:
            first, second = buffer[0], buffer[1]
            length, offset = second & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, offset = struct.unpack_from("!H", buffer, 2)[0], 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, offset = struct.unpack_from("!Q", buffer, 2)[0], 10
            if len(buffer) < offset + length:
                return
            payload = bytes(buffer[offset : offset + length])
            del buffer[: offset + length]
            self._message(first, payload, now)

    def _message(self, first: int, payload: bytes, now: float) -> None:
        opcode = first & 0x0F
        if opcode == OP_PING:
            self._send(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            self._send(OP_CLOSE, payload[:2])
            self.open = False
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self.closed_at = now
        elif opcode == OP_TEXT:
            if first & 0x40:  # RSV1: compressed
                assert self.inflater is not None
                payload = self.inflater.decompress(payload + DEFLATE_TAIL)
            message = json.loads(payload)
            if message.get("type") == "created":
                self.arrivals.append((message["seq"], now))
            elif message.get("type") == "pong" and not self.ponged.done():
                self.ponged.set_result(None)

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(opcode, payload))


def source_address(index: int) -> str:
    """The loopback address client number ``index`` connects from: ``PER_ADDRESS`` clients
    each, as many users behind their own addresses (the server allows 100 sockets an
    address, LIVE_MAX_SOCKETS_PER_ADDRESS)."""
    block = index // PER_ADDRESS
    return f"127.1.{block // 250}.{block % 250 + 1}"


async def connect_clients(
    port: int, count: int, since: int, compression: bool, first: int = 0
) -> list[LeanClient]:
    """``count`` clients (numbered from ``first``, for their source addresses),
    ``CONNECT_CONCURRENCY`` handshakes at a time."""
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(index: int) -> LeanClient:
        async with gate:
            return await LeanClient.connect(port, since, compression, source_address(index))

    return list(await asyncio.gather(*(one(first + n) for n in range(count))))
