"""Benchmark: live fan-out to many websocket clients. Not a test; prints a table.

Starts the app under hypercorn on 127.0.0.1 with a fresh SQLite database, opens N
websocket clients from separate client processes, posts entries over HTTP and measures,
for each client, the time from just before the POST to the arrival of the "created"
message (so the POST is included). Also the server's memory per idle connection (growth of
its resident memory divided by N), with and without permessage-deflate offered by the
client, and messages lost (clients that never got an entry).

    .venv/bin/python bench/ws_fanout.py                       # 1,000 / 5,000 / 10,000
    .venv/bin/python bench/ws_fanout.py --clients 1000 --workers 2 --redis redis://127.0.0.1:6379/0
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import http.cookiejar
import json
import multiprocessing
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HYPERCORN = ROOT / ".venv" / "bin" / "hypercorn"
CONNECT_CONCURRENCY = 100
POSTS = 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rss_kib(pid: int) -> int:
    """Resident memory of a process and its children (hypercorn workers), in KiB."""
    pids = [pid]
    with contextlib.suppress(FileNotFoundError):
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        pids += [int(child) for child in children]
    total = 0
    for one in pids:
        status = Path(f"/proc/{one}/status").read_text()
        match = re.search(r"VmRSS:\s+(\d+) kB", status)
        total += int(match.group(1)) if match else 0
    return total


@contextlib.contextmanager
def server(workers: int, redis_url: str | None, work: Path) -> Iterator[tuple[int, int]]:
    """A hypercorn serving a freshly migrated database; yields (port, pid)."""
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
    port = free_port()
    process = subprocess.Popen(
        [str(HYPERCORN), "--config", "hypercorn.toml", "--bind", f"127.0.0.1:{port}",
         "--workers", str(workers), "--access-logfile", "-", "--backlog", "2048",
         "quartapp:create_app()"],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"),  # noqa: SIM115
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise RuntimeError((work / "server.log").read_text()) from None
                time.sleep(0.2)
        yield port, process.pid
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


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


async def _clients(
    port: int, count: int, compression: str | None, since: int, pipe: Connection
) -> None:
    from websockets.asyncio.client import connect

    origin = f"http://127.0.0.1:{port}"
    arrivals: dict[str, list[float]] = {}
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)
    opened = 0

    async def one() -> None:
        nonlocal opened
        async with gate:
            socket_ = await connect(
                f"ws://127.0.0.1:{port}/ws", origin=origin, compression=compression,  # type: ignore[arg-type]
                open_timeout=60, ping_interval=None, max_queue=None,
            )  # fmt: skip
            await socket_.send(json.dumps({"since": since}))  # as the page would
            opened += 1
        async for raw in socket_:
            now = time.time()
            message = json.loads(raw)
            if message.get("type") == "created":
                arrivals.setdefault(message["html"][:200], []).append(now)

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    while opened < count:
        await asyncio.sleep(0.1)
        if any(task.done() and task.exception() for task in tasks):
            raise RuntimeError("a client failed to connect")
    pipe.send("ready")
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)  # "report"
    pipe.send([times for times in arrivals.values()])
    for task in tasks:
        task.cancel()


def client_process(
    port: int, count: int, compression: str | None, since: int, pipe: Connection
) -> None:
    asyncio.run(_clients(port, count, compression, since, pipe))


def run(
    clients: int, workers: int, compression: str | None, redis_url: str | None
) -> dict[str, float]:
    work = Path(tempfile.mkdtemp(prefix="ws-fanout-"))
    try:
        with server(workers, redis_url, work) as (port, pid):
            writer = Writer(port)
            writer.register()
            writer.post("/entries", {"title": "", "body": "warm-up", "visibility": "public"}, "/")
            time.sleep(1)
            since = writer.newest_seq()
            before = rss_kib(pid)
            processes = max(1, min(4, clients // 1000))
            pipes = []
            context = multiprocessing.get_context("spawn")
            for index in range(processes):
                share = clients // processes + (1 if index < clients % processes else 0)
                parent, child = context.Pipe()
                context.Process(
                    target=client_process,
                    args=(port, share, compression, since, child),
                    daemon=True,
                ).start()
                pipes.append(parent)
            for pipe in pipes:
                if not pipe.poll(300):
                    raise RuntimeError("clients did not connect in time")
                pipe.recv()
            time.sleep(3)  # idle
            after = rss_kib(pid)
            token = writer._token("/")
            starts = []
            for n in range(POSTS):
                starts.append(time.time())
                writer.post_entry(f"fan-out post {n}", token)
                time.sleep(2)
            for pipe in pipes:
                pipe.send("report")
            latencies: list[float] = []
            received = 0
            for pipe in pipes:
                for times in pipe.recv():
                    received += len(times)
                    latencies += times
            # Attribute each arrival to its post: posts are 2 s apart, deliveries far quicker.
            deltas = []
            for arrival in latencies:
                start = max(s for s in starts if s <= arrival)
                deltas.append((arrival - start) * 1000)
            deltas.sort()
            return {
                "clients": clients,
                "workers": workers,
                "p50": statistics.median(deltas),
                "p99": deltas[int(len(deltas) * 0.99) - 1],
                "max": deltas[-1],
                "lost": clients * POSTS - received,
                "kib_per_conn": (after - before) / clients,
            }
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, nargs="+", default=[1000, 5000, 10000])
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--redis", default=None, help="REDIS_URL for the server (with --workers 2)")
    parser.add_argument("--compression", choices=["off", "on", "both"], default="both")
    args = parser.parse_args()
    choices: dict[str, list[str | None]] = {
        "off": [None], "on": ["deflate"], "both": [None, "deflate"]
    }  # fmt: skip
    modes = choices[args.compression]
    print(f"# {os.cpu_count()} CPUs; server and clients on this machine; {POSTS} posts a run")
    print("| clients | workers | broker | deflate offered | p50 ms | p99 ms | max ms | lost "
          "| server KiB / idle conn |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for clients in args.clients:
        for compression in modes:
            result = run(clients, args.workers, compression, args.redis)
            print(f"| {clients:,} | {args.workers} | {'redis' if args.redis else 'memory'} "
                  f"| {'yes' if compression else 'no'} | {result['p50']:.0f} "
                  f"| {result['p99']:.0f} | {result['max']:.0f} | {result['lost']:.0f} "
                  f"| {result['kib_per_conn']:.1f} |", flush=True)  # fmt: skip


if __name__ == "__main__":
    main()
