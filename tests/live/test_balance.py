"""Two workers share the connections: the master accepts each one and hands it to the
worker holding the fewest (quartapp/serving/), so a client's few keep-alive connections
are spread evenly every time.

With one listening socket shared by both workers, asyncio accepts up to its backlog of
connections each time the socket is ready: the first worker to wake took every
connection a client (wrk -c16) opened at once. With a socket of its own for each worker
(SO_REUSEPORT), the kernel's hash put a proxy's 4 connections all on one worker one time
in eight.

Who holds what is read from the kernel (``ss -tnp``): each established connection to the
port names the process that holds it, and the workers are the master's children.
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


def children(server: Server) -> set[int]:
    """The master's worker processes (not multiprocessing's resource tracker)."""
    pid = server.process.pid
    listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    workers = set()
    for child in listed:
        try:
            command = Path(f"/proc/{child}/cmdline").read_bytes()
        except FileNotFoundError:  # it has just exited
            continue
        if b"spawn_main" in command and b"resource_tracker" not in command:
            workers.add(int(child))
    return workers


def worker_pids(server: Server) -> set[int]:
    """The workers, once all of them have started."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        workers = children(server)
        if len(workers) == WORKERS or time.monotonic() > deadline:
            return workers
        time.sleep(0.05)


def wait_all_closed(port: int) -> None:
    """Until the workers have closed every connection of the last round (and counted it)."""
    deadline = time.monotonic() + ROUND_TIMEOUT
    while holders(port, "connected") and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.05)  # the worker counts a connection as done just after it closed it


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
        await asyncio.to_thread(wait_all_closed, server.port)
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


async def test_sixteen_keep_alive_connections_are_eight_on_each_worker_every_time(
    server: Server,
) -> None:
    """wrk -c16: each worker holds half of them in every round."""
    results = await rounds_on(server, 16, ROUNDS)
    uneven = [sorted(counts.values()) for counts in results if sorted(counts.values()) != [8, 8]]
    assert not uneven, f"rounds not 8 and 8: {uneven}"


async def test_a_proxys_four_connections_are_two_on_each_worker_every_time(
    server: Server,
) -> None:
    """nginx's ``keepalive 4``: a few long connections, opened at once. By the kernel's
    hash (SO_REUSEPORT) all four landed on one worker one round in eight; handed to the
    worker holding the fewest, they are 2 and 2 in every round."""
    results = await rounds_on(server, 4, ROUNDS)
    uneven = [sorted(counts.values()) for counts in results if sorted(counts.values()) != [2, 2]]
    assert not uneven, f"rounds not 2 and 2: {uneven}"


async def test_connections_opened_one_by_one_alternate(server: Server) -> None:
    """A pool that grows a connection at a time, each answered before the next opens."""
    await asyncio.to_thread(server.wait_ready)
    workers = await asyncio.to_thread(worker_pids, server)
    opened = []
    try:
        for _ in range(6):
            opened.append(await open_answered(server.port))
        held = await asyncio.to_thread(holders, server.port, "established")
    finally:
        for _, writer in opened:
            writer.close()
    counts = collections.Counter(pid for pids in held for pid in pids)
    assert counts == dict.fromkeys(workers, 3), counts


def wait_exit(server: Server, timeout: float) -> int | None:
    try:
        return server.process.wait(timeout)
    except subprocess.TimeoutExpired:
        return None


async def test_a_second_server_on_the_same_port_exits_instead_of_sharing_it(
    server: Server, test_database: TestDatabase, tmp_path: Path
) -> None:
    """The master binds without SO_REUSEPORT (hypercorn sets it for several workers), so a
    second server (one left running by a botched restart, say) cannot bind beside the
    first and split its connections silently: it says so and exits."""
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
    """SIGHUP replaces the workers; the master keeps listening meanwhile, so a connection
    made then waits in the socket's queue for the new workers instead of being refused,
    and one still queued for a stopping worker is given back and served by a new one."""
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
    # A connection a worker took a moment before it heard of the restart, its request not
    # read yet, is closed by hypercorn's graceful shutdown as idle: CI saw 1 in 76 under
    # load. Queued ones are given back; none is refused.
    assert outcomes["no answer"] <= 2, outcomes
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


async def test_the_workers_stop_when_their_master_is_gone(server: Server) -> None:
    """Killed outright, the master leaves its workers nothing to serve: they stop instead
    of living on as orphans holding their connections."""
    await asyncio.to_thread(server.wait_ready)
    workers = await asyncio.to_thread(worker_pids, server)
    assert len(workers) == WORKERS
    os.kill(server.process.pid, signal.SIGKILL)
    deadline = time.monotonic() + START_TIMEOUT
    while alive := {pid for pid in workers if _running(pid)}:
        assert time.monotonic() < deadline, f"workers {alive} still running"
        await asyncio.sleep(0.05)


def _running(pid: int) -> bool:
    """Not exited (an orphan that exited is reaped by init; a zombie counts as exited)."""
    try:
        status = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return status.rsplit(")", 1)[1].split()[0] != "Z"
