"""Benchmark: live fan-out to many websocket clients. Not a test; prints a table.

Starts the app under hypercorn on 127.0.0.1 with a fresh SQLite database, opens N
websocket clients from separate client processes, posts entries over HTTP and measures,
for each client, the time from just before the POST to the arrival of the "created"
message (so the POST is included). Also the server's memory per idle connection (growth of
its resident memory divided by N), with and without permessage-deflate offered by the
client (the app declines it; a column counts the clients that got it anyway), messages
lost (a client that never got an entry) or duplicated, and the CPU time the server and the
client processes spent per post. The clients are a lean websocket
client of our own (`LeanClient`): they share the two cores with the server, and a client
library's per-message cost would be measured as the server's latency.

    .venv/bin/python bench/ws_fanout.py                       # 1,000 / 5,000 / 10,000
    .venv/bin/python bench/ws_fanout.py --clients 1000 --workers 2 --redis redis://127.0.0.1:6379/0
    .venv/bin/python bench/ws_fanout.py --clients 5000 --compression off --profile /tmp/ws.txt
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import hashlib
import http.cookiejar
import json
import multiprocessing
import os
import re
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from serving import ROOT, Server, cpu_seconds, hypercorn

CONNECT_CONCURRENCY = 100
POSTS = 3


def rss_kib(target: Server) -> int:
    """Resident memory of hypercorn's processes, in KiB."""
    total = 0
    for one in target.processes():
        status = Path(f"/proc/{one}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total


@contextlib.contextmanager
def server(
    workers: int, redis_url: str | None, work: Path, worker_class: list[str]
) -> Iterator[Server]:
    """A hypercorn serving a freshly migrated database."""
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
    subprocess.run(
        [sys.executable, "-m", "quartapp", "db", "upgrade"],
        env=env, cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    with hypercorn(env, work, workers, ["--backlog", "2048", *worker_class]) as target:
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
    each "created" message with the time its bytes arrived.
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
        self.transport: asyncio.Transport | None = None
        self.open = False

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
        elif opcode == OP_TEXT:
            if first & 0x40:  # RSV1: compressed
                assert self.inflater is not None
                payload = self.inflater.decompress(payload + DEFLATE_TAIL)
            message = json.loads(payload)
            if message.get("type") == "created":
                self.arrivals.append((message["seq"], now))

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(opcode, payload))


async def _clients(port: int, count: int, compression: bool, since: int, pipe: Connection) -> None:
    loop = asyncio.get_running_loop()
    clients: list[LeanClient] = []
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one() -> None:
        async with gate:
            client = LeanClient(port, since, compression)
            await loop.create_connection(lambda: client, "127.0.0.1", port)
            await asyncio.wait_for(client.upgraded, 60)
            clients.append(client)

    await asyncio.gather(*(one() for _ in range(count)))
    pipe.send("ready")
    await loop.run_in_executor(None, pipe.recv)  # "report"
    pipe.send(
        ([client.arrivals for client in clients], sum(c.inflater is not None for c in clients))
    )
    for client in clients:
        if client.transport is not None:
            client.transport.close()


def client_process(port: int, count: int, compression: bool, since: int, pipe: Connection) -> None:
    asyncio.run(_clients(port, count, compression, since, pipe))


def start_profiler(pid: int, output: Path) -> subprocess.Popen[bytes]:
    """py-spy (``pip install py-spy``) sampling the server's processes while it posts."""
    return subprocess.Popen(
        ["py-spy", "record", "--pid", str(pid), "--subprocesses", "--duration", str(2 * POSTS),
         "--rate", "1000", "--format", "raw", "--output", str(output)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip


def run(
    clients: int,
    workers: int,
    compression: bool,
    redis_url: str | None,
    profile: Path | None = None,
    worker_class: str | None = None,
    client_processes: int | None = None,
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ws-fanout-"))
    try:
        class_args = ["--worker-class", worker_class] if worker_class else []
        with server(workers, redis_url, work, class_args) as target:
            port = target.port
            writer = Writer(port)
            writer.register()
            writer.post("/entries", {"title": "", "body": "warm-up", "visibility": "public"}, "/")
            time.sleep(1)
            since = writer.newest_seq()
            before = rss_kib(target)
            processes = client_processes or max(1, min(4, clients // 1000))
            pipes = []
            client_pids = []
            context = multiprocessing.get_context("spawn")
            for index in range(processes):
                share = clients // processes + (1 if index < clients % processes else 0)
                parent, child = context.Pipe()
                process = context.Process(
                    target=client_process,
                    args=(port, share, compression, since, child),
                    daemon=True,
                )
                process.start()
                pipes.append(parent)
                client_pids.append(process.pid or 0)
            for pipe in pipes:
                if not pipe.poll(300):
                    raise RuntimeError("clients did not connect in time")
                pipe.recv()
            time.sleep(3)  # idle
            after = rss_kib(target)
            split = target.connections_by_pid()
            token = writer._token("/")
            profiler = start_profiler(target.pid, profile) if profile else None
            server_cpu = cpu_seconds(target.processes())
            client_cpu = cpu_seconds(client_pids)
            starts = []
            for n in range(POSTS):
                starts.append(time.time())
                writer.post_entry(f"fan-out post {n}", token)
                time.sleep(2)
            if profiler is not None:
                profiler.wait()
            server_cpu = cpu_seconds(target.processes()) - server_cpu
            busy = rss_kib(target)
            client_cpu = cpu_seconds(client_pids) - client_cpu
            for pipe in pipes:
                pipe.send("report")
            reports = [pipe.recv() for pipe in pipes]
            per_client = [arrivals for report, _ in reports for arrivals in report]
            return summarize(clients, starts, per_client) | {
                "deflated": sum(deflated for _, deflated in reports),
                "kib_per_conn": (after - before) / clients,
                "kib_per_conn_busy": (busy - before) / clients,
                "split": "/".join(str(n) for n in sorted(split.values(), reverse=True)),
                "server_cpu_ms": server_cpu * 1000 / POSTS,
                "client_cpu_ms": client_cpu * 1000 / POSTS,
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def summarize(
    clients: int, starts: list[float], per_client: list[list[tuple[int, float]]]
) -> dict[str, float]:
    """Latency of each client's copy of each post; lost and duplicated copies."""
    seqs = sorted({seq for arrivals in per_client for seq, _ in arrivals})
    if len(seqs) != len(starts):
        raise RuntimeError(f"{len(starts)} posts but {len(seqs)} distinct entries arrived")
    start_of = dict(zip(seqs, starts, strict=True))
    deltas = []
    duplicates = 0
    for arrivals in per_client:
        duplicates += len(arrivals) - len({seq for seq, _ in arrivals})
        deltas += [(arrived - start_of[seq]) * 1000 for seq, arrived in arrivals]
    deltas.sort()
    return {
        "min": deltas[0],
        "p50": statistics.median(deltas),
        "p99": deltas[max(0, int(len(deltas) * 0.99) - 1)],
        "max": deltas[-1],
        "lost": clients * len(starts) - (len(deltas) - duplicates),
        "duplicates": duplicates,
    }


COLUMNS = [
    "clients", "workers (connections each)", "broker", "deflate offered", "deflate negotiated",
    "min ms", "p50 ms", "p99 ms", "max ms", "lost", "duplicated",
    "server KiB / idle conn", "KiB / conn after the posts",
    "server CPU ms / post", "clients CPU ms / post",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--redis", default=None, help="REDIS_URL for the server (with --workers 2)")
    parser.add_argument("--compression", choices=["off", "on", "both"], default="both")
    parser.add_argument(
        "--worker-class", help="hypercorn's worker class (default: hypercorn.toml's)"
    )
    parser.add_argument(
        "--client-processes", type=int, help="processes the clients share (default: 1 a 1,000)"
    )
    parser.add_argument(
        "--profile", type=Path, help="record the server with py-spy while posting (raw format)"
    )
    args = parser.parse_args()
    choices = {"off": [False], "on": [True], "both": [False, True]}
    modes = choices[args.compression]
    print(f"# {os.cpu_count()} CPUs; server and clients on this machine; {POSTS} posts a run")
    print("| " + " | ".join(COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    broker = "redis" if args.redis else "memory"
    for clients in args.clients:
        for compression in modes:
            result = run(
                clients,
                args.workers,
                compression,
                args.redis,
                args.profile,
                args.worker_class,
                args.client_processes,
            )
            row = [
                f"{clients:,}",
                f"{args.workers} ({result['split']})",
                broker,
                "yes" if compression else "no",
                f"{result['deflated']:,}",
                *(f"{result[key]:.0f}" for key in ("min", "p50", "p99", "max")),
                *(f"{result[key]:.0f}" for key in ("lost", "duplicates")),
                f"{result['kib_per_conn']:.1f}",
                f"{result['kib_per_conn_busy']:.1f}",
                *(f"{result[key]:.0f}" for key in ("server_cpu_ms", "client_cpu_ms")),
            ]
            print("| " + " | ".join(row) + " |", flush=True)


if __name__ == "__main__":
    main()
