"""Two workers share the connections: each listens on a socket of its own (SO_REUSEPORT),
so the kernel spreads new connections over them (quartapp/serving.py).

With one listening socket shared by both workers, asyncio accepts up to its backlog of
connections each time the socket is ready: the first worker to wake took every
connection a client (wrk -c16) opened at once, and the other core stayed idle.

Who holds what is read from the kernel (``ss -tnp``): the workers are the processes
beside the master that listen on the port, and each established connection to the port
names the process that accepted it.
"""

from __future__ import annotations

import asyncio
import collections
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.database import TestDatabase
from tests.live.servers import START_TIMEOUT, Browser, Server, database_environment, get, start

WORKERS = 2
ROUNDS = 10
RESTART_WINDOW = 3.0  # seconds of new connections after SIGHUP: the restart takes 1-2
FOUR_ROUNDS = 30  # four connections a round: see the test
ROUND_TIMEOUT = 10.0  # seconds for one round's connections to be open and answered
USER_RE = re.compile(r"pid=(\d+)")
REQUEST = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"


def holders(port: int, state: str) -> list[set[int]]:
    """Each socket on the local ``port`` in ``state``: the processes that hold it."""
    listing = subprocess.run(  # noqa: S603 - a fixed command
        ["ss", "-tnpH", "state", state, f"( sport = :{port} )"],  # noqa: S607 - ss on PATH
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    return [{int(pid) for pid in USER_RE.findall(line)} for line in listing.splitlines()]


def listening_workers(server: Server) -> set[int]:
    """The processes beside the master that listen on the server's port."""
    return set().union(*holders(server.port, "listening")) - {server.process.pid}


def worker_pids(server: Server) -> set[int]:
    """The workers, once all of them listen: /healthz answers as soon as one does."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        workers = listening_workers(server)
        if len(workers) == WORKERS or time.monotonic() > deadline:
            return workers
        time.sleep(0.05)


async def open_answered(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A keep-alive connection that has had an answer: accepted, and held by a worker."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(REQUEST)
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    assert length is not None, head
    await reader.readexactly(int(length.group(1)))
    return reader, writer


async def spread(server: Server, connections: int) -> collections.Counter[int]:
    """Open ``connections`` at once, as wrk does; how many each worker holds."""
    opened = await asyncio.wait_for(
        asyncio.gather(*(open_answered(server.port) for _ in range(connections))),
        ROUND_TIMEOUT,
    )
    try:
        held = await asyncio.to_thread(holders, server.port, "established")
    finally:
        for _, writer in opened:
            writer.close()
    return collections.Counter(pid for pids in held for pid in pids)


async def rounds_on(
    server: Server, connections: int, rounds: int
) -> list[collections.Counter[int]]:
    await asyncio.to_thread(server.wait_ready)
    workers = await asyncio.to_thread(worker_pids, server)
    assert len(workers) == WORKERS, f"listening: {workers}"
    results = []
    for _ in range(rounds):
        counts = await spread(server, connections)
        assert set(counts) <= workers, f"connections held by {counts}, workers {workers}"
        assert sum(counts.values()) == connections, counts
        results.append(counts)
    print(f"{connections} connections a round, per worker: {[sorted(c.values()) for c in results]}")
    return results


@pytest.fixture
def server(test_database: TestDatabase, tmp_path: Path) -> Iterator[Server]:
    environment = database_environment(test_database.url, tmp_path / "instance")
    started = start("server", tmp_path, environment, ["--workers", str(WORKERS)])
    try:
        yield started
    finally:
        started.stop()
        print(f"----- server (exit {started.process.returncode}) -----\n{started.log()}")


async def test_sixteen_keep_alive_connections_spread_over_both_workers_every_time(
    server: Server,
) -> None:
    """wrk -c16: every worker holds connections in every round. By the kernel's hash each
    connection picks a worker at random, so a round on one worker is a 1 in 2**15 chance."""
    results = await rounds_on(server, 16, ROUNDS)
    one_sided = [counts for counts in results if len(counts) < WORKERS]
    assert not one_sided, f"rounds with a worker holding nothing: {one_sided}"


async def test_four_keep_alive_connections_are_spread_independently(server: Server) -> None:
    """A proxy's few long keep-alive connections (nginx ``keepalive 4``): each lands on a
    worker by the kernel's hash of its addresses, independently of the others, so no
    worker takes them all by being the first to wake. Four such connections still all
    land on one of two workers one time in eight, so this counts over many rounds: the
    shared socket used both workers in about 4 rounds of 10; by the hash, 7 of 8."""
    started = time.monotonic()
    results = await rounds_on(server, 4, FOUR_ROUNDS)
    totals = collections.Counter[int]()
    for counts in results:
        totals.update(counts)
    both = sum(1 for counts in results if len(counts) == WORKERS)
    print(f"{both} of {FOUR_ROUNDS} rounds used both workers; in all: {totals}")
    assert len(totals) == WORKERS, totals
    assert min(totals.values()) >= 40, totals  # of 120; by chance 1 in 5,000
    assert both >= 19, f"only {both} of {FOUR_ROUNDS} rounds used both workers"  # 1 in 7,000
    assert time.monotonic() - started < FOUR_ROUNDS * ROUND_TIMEOUT


def wait_exit(server: Server, timeout: float) -> int | None:
    try:
        return server.process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


async def test_a_second_server_on_the_same_port_exits_instead_of_sharing_it(
    server: Server, test_database: TestDatabase, tmp_path: Path
) -> None:
    """SO_REUSEPORT lets a second server of the same user bind beside the first (one left
    running by a botched restart, say): they would split the connections silently."""
    workers = await asyncio.to_thread(worker_pids, server)
    assert len(workers) == WORKERS
    environment = database_environment(test_database.url, tmp_path / "instance")
    second = start("second", tmp_path, environment, ["--workers", str(WORKERS)], server.port)
    try:
        status = await asyncio.to_thread(wait_exit, second, START_TIMEOUT)
        assert status == 1, second.log()
        assert f"127.0.0.1:{server.port} is in use" in second.log()
    finally:
        second.stop()
    assert await asyncio.to_thread(worker_pids, server) == workers
    assert get(server.port, "/healthz") == 200


async def attempt(port: int) -> str:
    """A request on a new connection: its status, or how it failed."""
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
    except ConnectionRefusedError:
        return "refused"
    try:
        writer.write(REQUEST)
        status_line = await asyncio.wait_for(reader.readline(), 15.0)
    except (OSError, TimeoutError):
        return "no answer"
    finally:
        writer.close()
    return status_line.split(b" ")[1].decode() if status_line else "no answer"


async def test_connections_during_a_restart_of_the_workers_are_not_refused(
    server: Server,
) -> None:
    """SIGHUP replaces the workers; the master keeps their sockets listening meanwhile, so a
    connection made then waits in a socket's queue for the new worker instead of being
    refused. (One that a stopping worker accepted just before it closed its socket may
    be closed unanswered, as in any graceful shutdown of hypercorn's.)"""
    old = await asyncio.to_thread(worker_pids, server)
    assert len(old) == WORKERS
    os.kill(server.process.pid, signal.SIGHUP)
    signalled = time.monotonic()
    attempts: list[asyncio.Task[str]] = []
    while time.monotonic() - signalled < RESTART_WINDOW:  # a new connection every 50 ms
        attempts.append(asyncio.create_task(attempt(server.port)))
        await asyncio.sleep(0.05)
    deadline = signalled + 3 * START_TIMEOUT
    while len(new := await asyncio.to_thread(worker_pids, server) - old) < WORKERS:
        assert time.monotonic() < deadline, f"new workers {new} only, after SIGHUP to {old}"
    during = len(attempts)
    attempts += [asyncio.create_task(attempt(server.port)) for _ in range(16)]
    outcomes = collections.Counter(await asyncio.gather(*attempts))
    print(f"{during} connections in {RESTART_WINDOW} s after SIGHUP, 16 after: {outcomes}")
    assert outcomes["200"] >= 16, outcomes
    assert set(outcomes) <= {"200", "no answer"}, outcomes
    assert server.process.poll() is None


async def _get_home(
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter], cookie: str
) -> str:
    """GET / on this keep-alive connection (the worker that holds it answers)."""
    reader, writer = connection
    writer.write(f"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n".encode())
    head = await reader.readuntil(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 "), head
    length = re.search(rb"(?i)content-length: *(\d+)", head)
    assert length is not None, head
    return (await reader.readexactly(int(length.group(1)))).decode()


async def test_a_logout_ends_the_session_in_every_worker_on_the_next_request(
    server: Server,
) -> None:
    """Each worker answers signed-in pages of one login on connections it holds; after the
    logout (on a connection of its own) the very next request on each is a visitor's."""
    await asyncio.to_thread(server.wait_ready)
    workers = await asyncio.to_thread(worker_pids, server)
    browser = Browser(server.port)
    await browser.register("alice")  # and signed in
    cookie = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
    opened = []
    try:
        by_worker: dict[int, tuple[asyncio.StreamReader, asyncio.StreamWriter]] = {}
        for _ in range(40):  # each lands on a worker by chance: all 40 on one, 1 in 2**39
            connection = await open_answered(server.port)
            opened.append(connection)
            local_port = connection[1].get_extra_info("sockname")[1]
            held = await asyncio.to_thread(holders_of_peer, server.port, local_port)
            by_worker.setdefault(held, connection)
            if set(by_worker) == workers:
                break
        assert set(by_worker) == workers, f"connections on {set(by_worker)} of {workers}"
        for connection in by_worker.values():
            assert "Log out" in await _get_home(connection, cookie)
        status, _, page = await browser.post_form("/logout", {}, token_from="/")
        assert status == 303, page
        for worker, connection in by_worker.items():
            page = await _get_home(connection, cookie)
            assert "Log out" not in page, f"worker {worker} still knew the login"
            assert "Log in" in page
    finally:
        for _, writer in opened:
            writer.close()


def holders_of_peer(port: int, peer_port: int) -> int:
    """The worker that holds the connection from our local ``peer_port`` to ``port``."""
    listing = subprocess.run(  # noqa: S603 - a fixed command
        ["ss", "-tnpH", "state", "established", f"( sport = :{port} and dport = :{peer_port} )"],  # noqa: S607
        capture_output=True,
        text=True,
        check=True,
        timeout=10,
    ).stdout
    pids = {int(pid) for pid in USER_RE.findall(listing)}
    assert len(pids) == 1, listing
    return pids.pop()
