"""Graceful restart under traffic: SIGTERM to hypercorn's main process, as systemd sends it,
while requests and websockets are open.

tests/live/test_shutdown.py covers one slow login and one websocket. This adds traffic:
readers and writers sending short requests back to back across the signal, websockets,
and requests certainly in flight when the signal comes: each has sent its headers with
``Expect: 100-continue`` and been answered ``100 Continue``, which hypercorn sends only
once the app has the request; its body follows after the signal. Every one of those must
get its full ``303`` and its entry. The traffic may lose a request that hypercorn had not
read yet (a connection still waiting to be accepted, or accepted but idle, is closed on
shutdown: the client sees no answer at all), but any answer must be complete and a
success, and a POST left without an answer must be stored whole or not at all. The
websockets close with 1001, and the whole process group is gone within hypercorn.toml's
``graceful_timeout`` + 1 s of the signal, with exit status 0 — in fact well before the
timeout: the app ends hypercorn 0.18's websocket ping sleeps, which used to hold every
shutdown for the whole ``graceful_timeout`` (quartapp/live/shutdown.py).
"""

from __future__ import annotations

import asyncio
import http.client
import os
import signal
import time
import tomllib
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pytest
from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from tests.live.servers import CSRF_RE, HYPERCORN_CONFIG, Browser, Server, live, start
from tests.production.databases import ScratchDatabase, provisioned
from tests.production.processes import running_members

with HYPERCORN_CONFIG.open("rb") as config_file:
    GRACEFUL_TIMEOUT = float(tomllib.load(config_file)["graceful_timeout"])
EXIT_MARGIN = 1.0  # seconds past graceful_timeout for the processes to be gone
HELD_REQUESTS = 8
READERS = 4
WRITERS = 4
WEBSOCKETS = 4
WARM_UP_REQUESTS = 40  # traffic answered before the signal
ANSWER_TIMEOUT = 15.0  # seconds; generous, a loaded machine is slow


@dataclass
class Exchange:
    """One traffic request: when it went out and what came back."""

    started: float
    ended: float
    outcome: str  # "answered", "no answer", "truncated"
    status: int = 0
    body: str = ""  # the entry's body, for a POST


async def csrf_token(browser: Browser) -> str:
    _, _, page = await browser.request("GET", "/")
    match = CSRF_RE.search(page)
    assert match is not None, "no CSRF token on /"
    return match.group(1)


async def exchange(browser: Browser, path: str, form: dict[str, str] | None) -> Exchange:
    started = time.monotonic()
    body = form["body"] if form else ""
    try:
        status, _, _ = await browser.request("POST" if form else "GET", path, form)
    except http.client.IncompleteRead:
        return Exchange(started, time.monotonic(), "truncated", body=body)
    except (OSError, http.client.HTTPException):  # reset or closed before any answer
        return Exchange(started, time.monotonic(), "no answer", body=body)
    return Exchange(started, time.monotonic(), "answered", status, body)


async def traffic(
    browser: Browser, name: str, writes: bool, stop: asyncio.Event, log: list[Exchange]
) -> None:
    """Short requests back to back until told to stop."""
    token = await csrf_token(browser) if writes else ""
    count = 0
    while not stop.is_set():
        count += 1
        if writes:
            form = {"csrf_token": token, "body": f"{name} {count}", "visibility": "public"}
            log.append(await exchange(browser, "/entries", form))
        else:
            log.append(await exchange(browser, "/", None))


class HeldPost:
    """A form POST whose headers the app has (``100 Continue`` came back) and whose body
    is sent only when the test says so: a request surely in flight meanwhile."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes):
        self.reader, self.writer, self.body = reader, writer, body

    @classmethod
    async def open(cls, browser: Browser, form: dict[str, str]) -> HeldPost:
        body = urlencode(form).encode()
        reader, writer = await asyncio.open_connection("127.0.0.1", browser.port)
        cookies = "; ".join(f"{name}={value}" for name, value in browser.cookies.items())
        head = (
            f"POST /entries HTTP/1.1\r\nHost: 127.0.0.1:{browser.port}\r\n"
            f"Origin: http://127.0.0.1:{browser.port}\r\nCookie: {cookies}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
            f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n"
        )
        writer.write(head.encode())
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), ANSWER_TIMEOUT)
        assert interim.startswith(b"HTTP/1.1 100 "), interim
        return cls(reader, writer, body)

    async def finish(self) -> tuple[int, dict[str, str]]:
        """Send the body; the status and headers of the complete answer."""
        try:
            self.writer.write(self.body)
            await self.writer.drain()
            head = await asyncio.wait_for(self.reader.readuntil(b"\r\n\r\n"), ANSWER_TIMEOUT)
            status_line, *header_lines = head.decode("latin-1").split("\r\n")
            headers = dict(
                (name.strip().lower(), value.strip())
                for name, _, value in (line.partition(":") for line in header_lines if line)
            )
            length = int(headers.get("content-length", "0"))
            await asyncio.wait_for(self.reader.readexactly(length), ANSWER_TIMEOUT)
            return int(status_line.split(" ")[1]), headers
        finally:
            self.writer.close()


@asynccontextmanager
async def running(tmp_path: Path, database: ScratchDatabase, workers: int) -> AsyncIterator[Server]:
    """A server that the test signals itself; killed afterwards whatever happened."""
    environment = {"DATABASE_URL": database.url, "INSTANCE_PATH": str(tmp_path / "instance")}
    server = start("server", tmp_path, environment, ["--workers", str(workers)])
    try:
        await asyncio.to_thread(server.wait_ready)
        yield server
    finally:
        await asyncio.to_thread(server.stop)
        print(f"----- server (exit {server.process.returncode}) -----\n{server.log()}")


async def closed_with(socket_: ClientConnection) -> int | None:
    with pytest.raises(ConnectionClosed):
        await read_until_closed(socket_)
    return socket_.close_code


async def read_until_closed(socket_: ClientConnection) -> None:
    while True:  # entries posted before the signal may still be arriving
        await asyncio.wait_for(socket_.recv(), GRACEFUL_TIMEOUT)


async def exit_time(server: Server, signalled: float) -> float:
    """Seconds from the signal until hypercorn and all its processes are gone."""
    deadline = signalled + GRACEFUL_TIMEOUT + EXIT_MARGIN + 5  # to report how late it was
    group = server.process.pid
    while server.process.poll() is None or running_members(group):
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    return time.monotonic() - signalled


def send_sigterm(server: Server, target: str) -> None:
    if target == "process":
        os.kill(server.process.pid, signal.SIGTERM)
    else:
        os.killpg(server.process.pid, signal.SIGTERM)


@pytest.mark.usefixtures("enough_threads")
# Two workers, fed connections by the master (quartapp/serving/).
@pytest.mark.parametrize("workers", [1, 2], ids=["1-worker", "2-workers"])
@pytest.mark.parametrize(
    "target",
    [
        pytest.param("process", id="to-hypercorn-only"),  # kill, docker stop, KillMode=mixed
        pytest.param("group", id="to-the-process-group"),  # systemd's default KillMode
    ],
)
async def test_sigterm_under_traffic_finishes_requests_and_exits_in_time(
    tmp_path: Path, target: str, workers: int
) -> None:
    async with (
        provisioned("sqlite", tmp_path) as database,
        running(tmp_path, database, workers) as server,
    ):
        holder, *writers = [Browser(server.port) for _ in range(1 + WRITERS)]
        await asyncio.gather(
            *(browser.register(f"writer{n}") for n, browser in enumerate([holder, *writers]))
        )
        held_token = await csrf_token(holder)
        stop = asyncio.Event()
        log: list[Exchange] = []
        async with AsyncExitStack() as sockets:
            websockets = [
                await sockets.enter_async_context(live(server)) for _ in range(WEBSOCKETS)
            ]
            clients = [
                traffic(browser, f"traffic{n}", True, stop, log)
                for n, browser in enumerate(writers)
            ]
            clients += [
                traffic(Browser(server.port), f"reader{n}", False, stop, log)
                for n in range(READERS)
            ]
            running_traffic = asyncio.gather(*clients)
            held = [
                await HeldPost.open(
                    holder, {"csrf_token": held_token, "body": f"held {n}", "visibility": "public"}
                )
                for n in range(HELD_REQUESTS)
            ]
            deadline = time.monotonic() + ANSWER_TIMEOUT
            while len(log) < WARM_UP_REQUESTS:
                assert not running_traffic.done(), running_traffic.exception()
                assert time.monotonic() < deadline, f"only {len(log)} requests"
                await asyncio.sleep(0.01)

            signalled = time.monotonic()
            send_sigterm(server, target)
            stop.set()
            close_codes = await asyncio.gather(*(closed_with(socket_) for socket_ in websockets))
            # The sockets' 1001 shows the worker is shutting down: only now send the bodies.
            answers = await asyncio.gather(*(request.finish() for request in held))
            await running_traffic
        gone_after = await exit_time(server, signalled)
        returncode = server.process.poll()
        print(f"exit status {returncode}, gone {gone_after:.2f}s after SIGTERM")

    assert close_codes == [1001] * WEBSOCKETS
    assert [status for status, _ in answers] == [303] * HELD_REQUESTS
    assert all(headers["location"].startswith("/entries/") for _, headers in answers)
    assert gone_after <= GRACEFUL_TIMEOUT + EXIT_MARGIN, f"gone {gone_after:.1f}s after SIGTERM"
    assert gone_after < GRACEFUL_TIMEOUT, "shutdown waited out graceful_timeout (ping sleeps?)"
    assert returncode == 0
    await check_traffic(log, signalled, database)


async def check_traffic(log: list[Exchange], signalled: float, database: ScratchDatabase) -> None:
    stored = {entry.body: entry for entry in await database.entries()}
    assert {f"held {n}" for n in range(HELD_REQUESTS)} <= stored.keys()
    answered = [item for item in log if item.outcome == "answered"]
    wrong = [(item.status, item.body) for item in answered if item.status not in {200, 303}]
    assert not wrong, f"answers that are not successes: {wrong}"
    assert not [item for item in log if item.outcome == "truncated"], "answers cut short"
    lost = [item.body for item in answered if item.body and item.body not in stored]
    assert not lost, f"acknowledged entries missing: {lost}"
    for item in log:
        if item.outcome == "no answer" and item.body in stored:
            assert item.body in stored[item.body].body_html, "stored without its HTML"
    assert not await database.event_problems()
    across = sum(1 for item in log if item.started < signalled < item.ended)
    unanswered = sum(1 for item in log if item.outcome == "no answer")
    print(f"{len(log)} traffic requests, {across} in flight at the signal, {unanswered} unanswered")
    assert not await database.integrity_problems()
