"""Benchmark: a worker's memory over waves of websockets opened and closed. Prints a table.

Starts the deployed configuration (``hypercorn --config hypercorn.toml``, one worker) on
127.0.0.1 with a freshly migrated SQLite database and a few public entries, then runs
``--waves`` waves: each opens ``--sockets`` websockets to ``/ws`` from several loopback
source addresses (127.0.0.2, 127.0.0.3, ...: ``--per-address`` sockets each, as a client
behind a per-address cap would), sends ``{"since": 0}`` (so the server replays the entries)
and a ping, waits for every pong, then closes them all. After each wave, once the server
has seen every close (``ss`` shows none of its sockets), it reads the worker's resident
memory (VmRSS of hypercorn's worker process, not its parent) and prints it, with the growth
since the first wave.

    .venv/bin/python bench/ws_waves.py                       # 10 waves of 1,000
    .venv/bin/python bench/ws_waves.py --waves 20 --sockets 500
    .venv/bin/python bench/ws_waves.py --compare release-connections

A closed connection should free its memory at once: after the first wave (which grows the
allocator's pools for 1,000 open sockets) the column stays flat. ``--without`` and
``--compare`` serve the app without some of its reaches into private code
(bench/variants.py), one run after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import variants
from live_bench import Writer, server
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

CONNECT_CONCURRENCY = 100  # handshakes in flight at once
OPEN_TIMEOUT = 30.0  # seconds for one socket to open and answer its ping
SETTLE_TIMEOUT = 30.0  # seconds for the server to let go of a wave's sockets
ENTRIES = 5  # public entries every socket's ``since: 0`` replays


def worker_rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1))


def open_sockets_on(port: int) -> int:
    """TCP connections the server's process still has on its port: any state but LISTEN and
    TIME-WAIT (the kernel's, after the server closed first)."""
    listing = subprocess.run(
        ["ss", "-Htn", "state", "all", f"( sport = :{port} )"],
        capture_output=True, text=True, check=True, timeout=10,
    ).stdout  # fmt: skip
    states = (line.split(maxsplit=1)[0] for line in listing.splitlines() if line.strip())
    return sum(1 for state in states if state not in {"LISTEN", "TIME-WAIT"})


async def open_one(port: int, source: str, gate: asyncio.Semaphore) -> ClientConnection:
    """A subscribed visitor: it sent ``since`` 0, and the pong says the replay is done."""
    async with gate:
        socket_ = await connect(
            f"ws://127.0.0.1:{port}/ws",
            origin=Origin(f"http://127.0.0.1:{port}"),
            open_timeout=OPEN_TIMEOUT,
            close_timeout=5,
            proxy=None,
            compression=None,
            ping_interval=None,
            local_addr=(source, 0),
        )
        try:
            async with asyncio.timeout(OPEN_TIMEOUT):
                await socket_.send(json.dumps({"since": 0}))
                await socket_.send('{"type": "ping"}')
                while json.loads(await socket_.recv()).get("type") != "pong":
                    pass
        except BaseException:
            await socket_.close()
            raise
        return socket_


async def wave(port: int, sockets: int, per_address: int) -> None:
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    sources = [f"127.0.0.{2 + n // per_address}" for n in range(sockets)]
    opened = await asyncio.gather(
        *(open_one(port, source, gate) for source in sources), return_exceptions=True
    )
    failures = [one for one in opened if isinstance(one, BaseException)]
    clients = [one for one in opened if isinstance(one, ClientConnection)]
    await asyncio.gather(*(client.close() for client in clients), return_exceptions=True)
    if failures:
        raise RuntimeError(f"{len(failures)} of {sockets} sockets failed: {failures[0]!r}")


def settle(port: int) -> None:
    """Wait until the server holds none of the wave's sockets (the closes are all handled)."""
    deadline = time.monotonic() + SETTLE_TIMEOUT
    while open_sockets_on(port) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the server still holds sockets after {SETTLE_TIMEOUT}s")
        time.sleep(0.1)
    time.sleep(0.5)  # its handlers' last steps after the transport closed


def run(
    waves: int, sockets: int, per_address: int, linger: float, without: variants.Variant
) -> None:
    work = Path(tempfile.mkdtemp(prefix="ws-waves-"))
    try:
        with server(1, None, work, [], without) as target:
            (worker,) = target.workers()
            writer = Writer(target.port)
            writer.register()
            token = writer._token("/")
            for n in range(ENTRIES):
                writer.post_entry(f"entry {n} for the replay", token)
            time.sleep(0.5)
            before = worker_rss_kib(worker)
            print(f"# {variants.label(without)}: {os.cpu_count()} CPUs; 1 worker (pid {worker}); "
                  f"{waves} waves of {sockets:,} sockets, {per_address} from each source "
                  f"address; RSS before the first wave: {before / 1024:.1f} MiB")  # fmt: skip
            print("| wave | seconds | worker RSS MiB | since wave 1 MiB | since start MiB |")
            print("|---:|---:|---:|---:|---:|")
            first = None
            for number in range(1, waves + 1):
                started = time.monotonic()
                asyncio.run(wave(target.port, sockets, per_address))
                settle(target.port)
                rss = worker_rss_kib(worker)
                first = rss if first is None else first
                print(f"| {number} | {time.monotonic() - started:.1f} | {rss / 1024:.1f} | "
                      f"{(rss - first) / 1024:+.1f} | {(rss - before) / 1024:+.1f} |",
                      flush=True)  # fmt: skip
            if linger > 0:
                time.sleep(linger)
                rss = worker_rss_kib(worker)
                since_first = (rss - (first or rss)) / 1024
                print(f"| {linger:.0f} s later | | {rss / 1024:.1f} | {since_first:+.1f} | "
                      f"{(rss - before) / 1024:+.1f} |")  # fmt: skip
    finally:
        with contextlib.suppress(OSError):
            shutil.rmtree(work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--waves", type=int, default=10)
    parser.add_argument("--sockets", type=int, default=1000, help="websockets a wave")
    parser.add_argument("--per-address", type=int, default=100, help="sockets a source address")
    parser.add_argument("--linger", type=float, default=0.0, help="seconds to wait, then again")
    variants.add_options(parser)
    args = parser.parse_args()
    if args.per_address < 1 or -(-args.sockets // args.per_address) > 250:
        parser.error("--per-address: at least 1, and at most 250 source addresses a wave")
    for variant in variants.chosen(args):
        run(args.waves, args.sockets, args.per_address, args.linger, variant)


if __name__ == "__main__":
    main()
