"""Re-try issue 11's findings from outside, as an attacker would, and print a table.

Starts the deployed configuration (``hypercorn --config hypercorn.toml``) on 127.0.0.1 with
a freshly migrated SQLite database, the default rate limits and the default Argon2
parameters, then runs each finding against it over real sockets (``http.client`` and the
``websockets`` library) and reads the server's log for tracebacks at the end:

    .venv/bin/python bench/hardening_probe.py

Item 8 (``__Host-`` cookies over HTTPS) needs a TLS server: tests/deploy/test_tls.py
covers it; item 11 (memory after websocket waves) is ``bench/ws_waves.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import sqlite3
import sys
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from serving import Server, hypercorn, migrate
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Origin

PASSWORD = "a probe password, long enough 42"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Result:
    item: str
    tried: str
    seen: str
    held: bool


class Browser:
    """One user agent: cookies kept, forms posted with their token, one request a call."""

    def __init__(self, port: int, address: str = "127.0.0.1") -> None:
        self.port = port
        self.address = address
        self.cookies: dict[str, str] = {}

    def request(
        self,
        method: str,
        path: str,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, str], str]:
        connection = http.client.HTTPConnection(
            "127.0.0.1", self.port, timeout=60, source_address=(self.address, 0)
        )
        sent = {"Host": f"127.0.0.1:{self.port}", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            text = response.read().decode(errors="replace")
            for header in response.headers.get_all("Set-Cookie") or []:
                pair = header.split(";", 1)[0]
                name, _, value = pair.partition("=")
                if value:
                    self.cookies[name.strip()] = value
                else:
                    self.cookies.pop(name.strip(), None)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        finally:
            connection.close()

    def form(self, path: str, fields: dict[str, str], page_with_form: str = "/passwords") -> int:
        return self.form_answer(path, fields, page_with_form)[0]

    def form_answer(
        self, path: str, fields: dict[str, str], page_with_form: str = "/passwords"
    ) -> tuple[int, dict[str, str], str]:
        match = CSRF.search(self.request("GET", page_with_form)[2])
        assert match is not None, f"no token on {page_with_form}"
        body = urllib.parse.urlencode({"csrf_token": match.group(1), **fields}).encode()
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        return self.request("POST", path, body, headers)

    def register(self, name: str, password: str = PASSWORD) -> int:
        fields = {"username": name, "email": f"{name}@example.com", "password": password}
        return self.form("/register", {**fields, "confirm": password}, "/register")


async def websocket(port: int, address: str = "127.0.0.1", cookie: str = "") -> ClientConnection:
    return await connect(
        f"ws://127.0.0.1:{port}/ws",
        origin=Origin(f"http://127.0.0.1:{port}"),
        additional_headers={"Cookie": cookie} if cookie else None,
        local_addr=(address, 0),
        open_timeout=10,
        close_timeout=5,
        ping_interval=None,
        compression=None,
        proxy=None,
        max_size=None,
    )


async def close_code(socket_: ClientConnection, seconds: float) -> int | None:
    """The close code the server ends with, reading (and dropping) what it sends until then."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            with contextlib.suppress(ConnectionClosed):
                while True:
                    await socket_.recv()
    return socket_.close_code


def rss_mib(server: Server) -> float:
    pid = server.workers()[0]
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1)) / 1024


def latencies_while(port: int, busy: Callable[[], object]) -> list[float]:
    """``GET /healthz`` every 5 ms on one keep-alive connection while ``busy`` runs."""
    done = threading.Event()
    latencies: list[float] = []

    def sample() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while not done.is_set():
            started = time.perf_counter()
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            latencies.append(time.perf_counter() - started)
            time.sleep(0.005)
        connection.close()

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        busy()
    finally:
        done.set()
        sampler.join()
    return sorted(latencies)


def p99(values: list[float]) -> float:
    return values[max(0, round(len(values) * 0.99) - 1)]


# --- the findings ----------------------------------------------------------------------


async def item_1(server: Server) -> list[Result]:
    results = []
    socket_ = await websocket(server.port)
    await socket_.send(json.dumps({"since": 0}))
    await socket_.send("[" * 2000 + "]" * 2000)
    code = await close_code(socket_, 5)
    results.append(Result("1", "one 4 KB frame of 2,000 nested [ ]", f"close {code}", code == 1008))
    before = rss_mib(server)
    socket_ = await websocket(server.port)
    await socket_.send(json.dumps({"since": 0}))
    frame = json.dumps({"type": "ping", "pad": "x" * 16_000})
    sent = 0
    with contextlib.suppress(ConnectionClosed):
        for _ in range(10_000):
            await socket_.send(frame)
            sent += 1
    code = await close_code(socket_, 10)
    await asyncio.sleep(1)
    grown = rss_mib(server) - before
    results.append(
        Result(
            "1",
            "10,000 frames of 16 KB on one socket",
            f"close {code} after {sent:,} sent; worker +{grown:.1f} MiB",
            code == 1008 and grown < 30,
        )
    )
    return results


def item_2(server: Server) -> list[Result]:
    writers = [Browser(server.port, f"127.0.2.{n}") for n in range(1, 4)]
    for n, writer in enumerate(writers):
        writer.register(f"slow{n}")
    statuses: list[int] = []

    def three_posts() -> None:
        threads = [
            threading.Thread(
                target=lambda w=writer: statuses.append(
                    w.form("/entries", {"body": "![" * 10_000, "visibility": "public"}, "/")
                )
            )
            for writer in writers
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    latencies = latencies_while(server.port, three_posts)
    slow = Result(
        "2",
        'three concurrent entries of "![" x 10,000',
        f"posts {sorted(statuses)}; /healthz p99 {p99(latencies) * 1000:.1f} ms, "
        f"max {latencies[-1] * 1000:.1f} ms ({len(latencies)} requests)",
        p99(latencies) < 0.050,
    )
    flooder = Browser(server.port, "127.0.2.9")
    flooder.register("flooder")
    counts: dict[int, int] = {}
    ends = time.monotonic() + 10
    while time.monotonic() < ends:
        status = flooder.form("/entries", {"body": "y" * 20_000, "visibility": "public"}, "/")
        counts[status] = counts.get(status, 0) + 1
    flood = Result(
        "2",
        "one writer posting 20 KB entries for 10 s",
        f"accepted {counts.get(303, 0)}, refused 429: {counts.get(429, 0)}",
        counts.get(303, 0) <= 40 and set(counts) <= {303, 429},
    )
    return [slow, flood]


def item_3(server: Server) -> list[Result]:
    victim = Browser(server.port, "127.0.3.1")
    victim.register("victim")
    guesses = []
    for n in range(12):
        thief = Browser(server.port, f"127.0.3.{10 + n}")  # a new address each guess
        thief.cookies = dict(victim.cookies)
        fields = {
            "current_password": f"guess {n}",
            "password": "k9#Vq2!zTT",
            "confirm": "k9#Vq2!zTT",
        }
        guesses.append(thief.form("/account/password", fields, "/account"))
    limited = Result(
        "3",
        "12 password-change guesses with a stolen cookie, new address each",
        f"statuses {guesses}",
        guesses[:10] == [400] * 10 and set(guesses[10:]) == {429},
    )
    reader = Browser(server.port, "127.0.3.99")
    reader.register("reader")
    reader.cookies.clear()  # a new visitor, who logs in below
    attackers = [Browser(server.port, "127.0.3.200") for _ in range(8)]
    for attacker in attackers:
        attacker.request("GET", "/login")
    times: dict[str, float] = {}

    def guess(attacker: Browser) -> None:
        attacker.form("/login", {"username": "reader", "password": "wrong"}, "/login")

    def login() -> None:
        started = time.perf_counter()
        status = reader.form("/login", {"username": "reader", "password": PASSWORD}, "/login")
        times["login"] = time.perf_counter() - started
        times["status"] = status

    alone_started = time.perf_counter()
    Browser(server.port, "127.0.3.98").form(
        "/login", {"username": "reader", "password": PASSWORD}, "/login"
    )
    alone = time.perf_counter() - alone_started
    threads = [threading.Thread(target=guess, args=(a,)) for a in attackers]
    for thread in threads:
        thread.start()
    time.sleep(0.05)
    login()
    for thread in threads:
        thread.join()
    fair = Result(
        "3",
        "a login while one address sends 8 parallel wrong guesses",
        f"login {times['login'] * 1000:.0f} ms (alone {alone * 1000:.0f} ms), "
        f"status {times['status']:.0f}",
        times["status"] == 303 and times["login"] < alone * 4,
    )
    return [limited, fair]


def item_4(server: Server) -> list[Result]:
    results = []
    for name, password in [
        ("weakone", "password"),
        ("weaktwo", " " * 8),
        ("weakpw2", "weakpw2weakpw2"),
    ]:
        status = Browser(server.port, "127.0.4.1").register(name, password)
        results.append(
            Result("4", f"register {name} with {password!r}", f"status {status}", status == 400)
        )
    return results


async def item_5(server: Server) -> list[Result]:
    opened: list[ClientConnection] = []
    refused: dict[int, int] = {}
    try:
        for _ in range(150):
            try:
                opened.append(await websocket(server.port, "127.0.5.1"))
            except InvalidStatus as error:
                status = error.response.status_code
                refused[status] = refused.get(status, 0) + 1
        other = await websocket(server.port, "127.0.5.2")
        await other.close()
    finally:
        await asyncio.gather(*(socket_.close() for socket_ in opened))
    return [
        Result(
            "5",
            "150 websockets from one address",
            f"accepted {len(opened)}, refused {refused}; another address still accepted",
            len(opened) <= 100 and set(refused) == {429},
        )
    ]


def item_6(server: Server) -> list[Result]:
    browser = Browser(server.port, "127.0.6.1")
    form = browser.form("/passwords", {"length": "--5"}, "/passwords")
    json_headers = {"Content-Type": "application/json"}
    deep = browser.request("POST", "/api/passwords", b"[" * 100_000, json_headers)[0]
    bad = browser.request("POST", "/api/passwords", b"\xff", json_headers)[0]
    return [
        Result("6", "POST /passwords length=--5", f"status {form}", form == 400),
        Result("6", "/api/passwords body of 100,000 [", f"status {deep}", deep == 400),
        Result("6", "/api/passwords body of byte \\xff", f"status {bad}", bad == 400),
    ]


def item_7(server: Server) -> list[Result]:
    writer = Browser(server.port, "127.0.7.1")
    writer.register("cachey")
    writer.form("/entries", {"body": "private words", "visibility": "private"}, "/")
    page = writer.request("GET", "/u/cachey")[2]
    entry = re.search(r'href="(/entries/\d+)"', page)
    assert entry is not None
    results = []
    for path in ["/account", entry.group(1) + "/edit", entry.group(1)]:
        cache = writer.request("GET", path)[1].get("cache-control", "")
        results.append(
            Result("7", f"GET {path} signed in", f"Cache-Control: {cache}", "no-store" in cache)
        )
    return results


def item_9(server: Server, log: Path) -> list[Result]:
    secret = "hunter2-typed-in-the-wrong-box"
    status = Browser(server.port, "127.0.9.1").form(
        "/login", {"username": secret, "password": "x"}, "/login"
    )
    time.sleep(0.2)
    logged = secret in log.read_text(errors="replace")
    return [
        Result(
            "9",
            "log in with a password as the username",
            f"status {status}, in log: {logged}",
            not logged,
        )
    ]


async def item_10(server: Server, database: Path) -> list[Result]:
    author = Browser(server.port, "127.0.10.1")
    author.register("expiring")
    cookie = "; ".join(f"{k}={v}" for k, v in author.cookies.items())
    socket_ = await websocket(server.port, "127.0.10.1", cookie)
    await socket_.send(json.dumps({"since": 0}))
    with contextlib.closing(sqlite3.connect(database)) as connection, connection:
        connection.execute(  # what idle expiry does: the row goes, with no event
            "DELETE FROM login_sessions WHERE user_id = "
            "(SELECT id FROM users WHERE username = 'expiring')"
        )
    # The author's cookie no longer works, so the private entry is posted by the same
    # account signing in again, from another browser.
    again = Browser(server.port, "127.0.10.3")
    again.form("/login", {"username": "expiring", "password": PASSWORD}, "/login")
    again.form("/entries", {"body": "private after expiry", "visibility": "private"}, "/")
    received = []
    with contextlib.suppress(TimeoutError, ConnectionClosed):
        async with asyncio.timeout(3):
            while True:
                received.append(await socket_.recv())
    leaked = any("private after expiry" in str(message) for message in received)
    code = socket_.close_code
    return [
        Result(
            "10",
            "session row deleted (idle expiry), then a private entry",
            f"close {code}; private entry delivered: {leaked}",
            not leaked and code == 1008,
        )
    ]


def item_12(server: Server, database: Path) -> list[Result]:
    browser = Browser(server.port, "127.0.12.1")
    evil = browser.request("GET", "/static//x", headers={"Host": "evil.example"})[0]
    mode = oct(database.stat().st_mode & 0o777)
    return [
        Result("12", "GET /static//x with Host: evil.example", f"status {evil}", evil == 400),
        Result("12", "journal.db's mode", mode, mode == "0o600"),
    ]


@contextlib.contextmanager
def probe_server(work: Path) -> Iterator[tuple[Server, Path]]:
    database = work / "journal.db"
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "INSTANCE_PATH": str(work / "instance"),
        "ALLOWED_HOSTS": "127.0.0.1",
        "LOG_LEVEL": "INFO",
    }
    for name in ("REDIS_URL", "RATE_LIMITS_ENABLED", "SECRET_KEY"):
        env.pop(name, None)
    migrate(env)
    with hypercorn(env, work, 1) as server:
        yield server, database


async def main() -> int:
    with (
        tempfile.TemporaryDirectory(prefix="probe-") as folder,
        probe_server(Path(folder)) as (
            server,
            database,
        ),
    ):
        results: list[Result] = []
        results += await item_1(server)
        results += item_2(server)
        results += item_3(server)
        results += item_4(server)
        results += await item_5(server)
        results += item_6(server)
        results += item_7(server)
        results += item_9(server, server.log)
        results += await item_10(server, database)
        results += item_12(server, database)
        log = server.log.read_text(errors="replace")
    tracebacks = log.count("Traceback")
    print(f"{'item':<5} {'held':<5} {'tried':<62} seen")
    for result in results:
        print(
            f"{result.item:<5} {'yes' if result.held else 'NO':<5} {result.tried:<62} {result.seen}"
        )
    print(f"tracebacks in the server's log: {tracebacks}")
    ok = all(result.held for result in results) and tracebacks == 0
    print("every finding refused cleanly" if ok else "SOME FINDINGS HELD NOT")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
