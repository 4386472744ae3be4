"""Benchmark: a graceful restart with live websockets open. Not a test; prints a table.

Starts hypercorn with the repository's hypercorn.toml (1 worker by default) on a fresh
SQLite database, opens N live websockets to /ws as the page does (the site's own origin,
then ``{"since": <the page's seq>}``) and waits until each is served (a ping answered).
Then it sends SIGTERM to hypercorn's main process, as docker and kubernetes do, and
measures the seconds from the signal until the first and the last socket saw its close
frame (or lost its connection without one: "abnormal"), the close codes seen, and the
seconds until hypercorn exited, with its exit status. The app closes its sockets with 1001
at once and ends hypercorn's ping sleeps (quartapp/live/shutdown.py); ``--compare`` shows
what each of those reaches into private code buys (bench/variants.py):

    .venv/bin/python bench/restart.py
    .venv/bin/python bench/restart.py --runs 3 --compare shutdown-event --compare ping-cancel

Everything is bounded: a run gives up waiting ``graceful_timeout`` +
``websocket_ping_interval`` + 5 s after the signal (hypercorn.toml), and the server is then
stopped, killed if need be.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import signal
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import variants
from live_bench import LeanClient, Writer, connect_clients, server
from serving import Server, hypercorn_setting

POLL = 0.01  # seconds between looks at the sockets and the process
MARGIN = 5.0  # seconds past graceful_timeout + websocket_ping_interval before giving up


@dataclass(frozen=True)
class Restart:
    """What one SIGTERM did; times in seconds after it, None when it did not happen."""

    split: str  # the sockets each worker held
    first_close: float | None
    last_close: float | None  # None: a socket was still open when the run gave up
    codes: Counter[str]  # close codes seen, "abnormal" (no close frame) or "still open"
    exited: float | None
    status: int | None

    def cells(self) -> list[str]:
        def seconds(value: float | None) -> str:
            return "—" if value is None else f"{value:.2f}"

        codes = ", ".join(f"{code}: {count:,}" for code, count in sorted(self.codes.items()))
        status = "—" if self.status is None else str(self.status)
        return [
            seconds(self.first_close), seconds(self.last_close), codes, seconds(self.exited),
            status,
        ]  # fmt: skip


def close_code(client: LeanClient) -> str:
    if client.close_code is not None:
        return str(client.close_code)
    return "abnormal" if client.closed_at is not None else "still open"


async def sigterm(target: Server, sockets: int, give_up: float) -> Restart:
    """Open the sockets, signal hypercorn's main process, and watch what closes when."""
    since = await asyncio.to_thread(Writer(target.port).newest_seq)
    clients = await connect_clients(target.port, sockets, since, compression=False)
    try:
        await asyncio.gather(*(client.served() for client in clients))
        held = await asyncio.to_thread(target.connections_by_pid)
        signalled = time.time()
        os.kill(target.pid, signal.SIGTERM)
        exited: float | None = None
        while time.time() - signalled < give_up:
            if exited is None and target.process.poll() is not None:
                exited = time.time() - signalled
            if exited is not None and all(client.closed_at is not None for client in clients):
                break
            await asyncio.sleep(POLL)
        closes = sorted(c.closed_at - signalled for c in clients if c.closed_at is not None)
        return Restart(
            split="/".join(str(n) for n in sorted(held.values(), reverse=True)),
            first_close=closes[0] if closes else None,
            last_close=closes[-1] if len(closes) == len(clients) else None,
            codes=Counter(close_code(client) for client in clients),
            exited=exited,
            status=target.process.returncode if exited is not None else None,
        )
    finally:
        for client in clients:
            if client.transport is not None:
                client.transport.close()


def run(sockets: int, workers: int, without: variants.Variant, give_up: float) -> Restart:
    work = Path(tempfile.mkdtemp(prefix="restart-"))
    try:
        with server(workers, None, work, [], without) as target:
            return asyncio.run(sigterm(target, sockets, give_up))
    finally:
        shutil.rmtree(work, ignore_errors=True)


COLUMNS = [
    "sockets", "workers (sockets each)", "first close s", "last close s", "close codes", "exited s",
    "exit status",
]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--sockets", type=int, default=200, help="live websockets open")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--runs", type=int, default=1, help="runs of each variant")
    variants.add_options(parser)
    args = parser.parse_args()
    compared = variants.chosen(args)
    graceful = float(hypercorn_setting("graceful_timeout"))
    ping = float(hypercorn_setting("websocket_ping_interval"))
    give_up = graceful + ping + MARGIN
    print(
        f"# {os.cpu_count()} CPUs; hypercorn.toml: graceful_timeout {graceful:g} s, "
        f"websocket_ping_interval {ping:g} s; a run gives up {give_up:g} s after SIGTERM"
    )
    print(variants.table_head(compared, COLUMNS), flush=True)
    for round_ in range(args.runs):
        for _, variant in variants.in_turn(compared, round_):
            result = run(args.sockets, args.workers, variant, give_up)
            cells = [f"{args.sockets:,}", f"{args.workers} ({result.split})", *result.cells()]
            print(variants.table_row(compared, variant, cells), flush=True)


if __name__ == "__main__":
    main()
