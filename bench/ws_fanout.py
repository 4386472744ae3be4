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
    .venv/bin/python bench/ws_fanout.py --clients 5000 --compression off \
        --client websockets --client-processes 2    # as an outside user's clients would

Clients connect from 127.1.x.y, 100 an address, as the server allows 100 sockets an address.

``--without`` serves the app without some of its reaches into private code, ``--compare``
alternates run by run between the app as is and without them (bench/variants.py):

    .venv/bin/python bench/ws_fanout.py --clients 5000 5000 5000 --compression off \
        --compare direct-writes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import multiprocessing
import os
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import variants
from live_bench import CONNECT_CONCURRENCY, Writer, connect_clients, server, source_address
from serving import Server, cpu_seconds
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Origin

POSTS = 3


def rss_kib(target: Server) -> int:
    """Resident memory of hypercorn's processes, in KiB."""
    total = 0
    for one in target.processes():
        status = Path(f"/proc/{one}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total


class LibraryClient:
    """An outside user's client: the ``websockets`` library, one task reading each socket,
    every message parsed as JSON, as a page's script would."""

    def __init__(self, socket: ClientConnection) -> None:
        self.socket = socket
        self.arrivals: list[tuple[int, float]] = []  # (seq, time) of "created" messages
        self.reader = asyncio.create_task(self._read())

    @property
    def deflated(self) -> bool:
        return bool(self.socket.protocol.extensions)

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in self.socket:
                now = time.time()
                message = json.loads(text)
                if message.get("type") == "created":
                    self.arrivals.append((message["seq"], now))

    @classmethod
    async def connect(cls, port: int, since: int, compression: bool, source: str) -> LibraryClient:
        """A subscribed client: it sent its ``since``, and the pong says the replay is done."""
        socket = await connect(
            f"ws://127.0.0.1:{port}/ws",
            origin=Origin(f"http://127.0.0.1:{port}"),
            compression="deflate" if compression else None,
            local_addr=(source, 0),
            open_timeout=60,
            ping_interval=None,
            max_size=None,
            proxy=None,
        )
        await socket.send(json.dumps({"since": since}))
        await socket.send('{"type": "ping"}')
        async with asyncio.timeout(60):
            while json.loads(await socket.recv()).get("type") != "pong":
                pass
        return cls(socket)


async def library_clients(
    port: int, count: int, since: int, compression: bool, first: int
) -> list[LibraryClient]:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(index: int) -> LibraryClient:
        async with gate:
            return await LibraryClient.connect(port, since, compression, source_address(index))

    return list(await asyncio.gather(*(one(first + n) for n in range(count))))


async def _clients(
    port: int, count: int, compression: bool, since: int, first: int, kind: str, pipe: Connection
) -> None:
    loop = asyncio.get_running_loop()
    if kind == "websockets":
        library = await library_clients(port, count, since, compression, first)
        pipe.send("ready")
        await loop.run_in_executor(None, pipe.recv)  # "report"
        pipe.send(([c.arrivals for c in library], sum(c.deflated for c in library)))
        for one in library:
            one.reader.cancel()
            one.socket.transport.abort()
        return
    clients = await connect_clients(port, count, since, compression, first)
    pipe.send("ready")
    await loop.run_in_executor(None, pipe.recv)  # "report"
    pipe.send(
        ([client.arrivals for client in clients], sum(c.inflater is not None for c in clients))
    )
    for client in clients:
        if client.transport is not None:
            client.transport.close()


def client_process(
    port: int, count: int, compression: bool, since: int, first: int, kind: str, pipe: Connection
) -> None:
    asyncio.run(_clients(port, count, compression, since, first, kind, pipe))


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
    without: variants.Variant = (),
    kind: str = "lean",
) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="ws-fanout-"))
    try:
        class_args = ["--worker-class", worker_class] if worker_class else []
        with server(workers, redis_url, work, class_args, without) as target:
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
            first = 0
            for index in range(processes):
                share = clients // processes + (1 if index < clients % processes else 0)
                parent, child = context.Pipe()
                process = context.Process(
                    target=client_process,
                    args=(port, share, compression, since, first, kind, child),
                    daemon=True,
                )
                first += share
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
    parser.add_argument(
        "--client",
        choices=["lean", "websockets"],
        default="lean",
        help="the clients: our lean one, or the websockets library as an outside user's",
    )
    variants.add_options(parser)
    args = parser.parse_args()
    choices = {"off": [False], "on": [True], "both": [False, True]}
    modes = choices[args.compression]
    compared = variants.chosen(args)
    print(
        f"# {os.cpu_count()} CPUs; server and clients on this machine; {POSTS} posts a run; "
        f"{args.client} clients, 100 from each loopback address"
    )
    print(variants.table_head(compared, COLUMNS))
    broker = "redis" if args.redis else "memory"
    for (round_, clients), compression in itertools.product(enumerate(args.clients), modes):
        for _, variant in variants.in_turn(compared, round_):
            result = run(
                clients,
                args.workers,
                compression,
                args.redis,
                args.profile,
                args.worker_class,
                args.client_processes,
                variant,
                args.client,
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
            print(variants.table_row(compared, variant, row), flush=True)


if __name__ == "__main__":
    main()
