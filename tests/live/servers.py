"""Real hypercorn processes on loopback (or hypercorn in the test's process), and clients
for them: HTTP, websocket, Redis.

Each server is ``python -m quartapp serve --config hypercorn.toml`` (hypercorn's workers, fed
connections by the master) in its own process group, so stopping it also reaches the
workers it spawns. Its output goes to a file under ``tmp_path``,
printed once it stopped: pytest shows that output when the test failed.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from hypercorn.asyncio import serve
from hypercorn.config import Config
from hypercorn.typing import ASGIFramework
from redis import Redis
from redis.exceptions import RedisError
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Origin

PROJECT_ROOT = Path(__file__).resolve().parents[2]
HYPERCORN_CONFIG = PROJECT_ROOT / "hypercorn.toml"
GRACEFUL_TIMEOUT = 10.0  # hypercorn.toml's graceful_timeout
START_TIMEOUT = 20.0  # seconds for a server to answer /healthz
# Seconds a stopping server gets before it is killed. Tests of shutdown wait for the exit
# themselves (and bound it); the others only need the server gone.
STOP_GRACE = 3.0
REQUEST_TIMEOUT = 15.0
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
PASSWORD = "correct horse battery"

# What every server gets, whatever the developer's .env says (the environment wins over it).
BASE_ENVIRONMENT = {
    "QUARTAPP_ENV": "development",
    "SECRET_KEY": "multiprocess-test-secret-key-" + "x" * 32,
    "ARGON2_TIME_COST": "1",
    "ARGON2_MEMORY_KIB": "1024",
    "ARGON2_PARALLELISM": "1",
    "RATE_LIMITS_ENABLED": "false",
    "ALLOWED_ORIGINS": "",
    "REDIS_URL": "",  # empty: the memory broker
    "LOG_LEVEL": "INFO",
    "PYTHONUNBUFFERED": "1",
}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def get(port: int, path: str, timeout: float = 2.0) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@dataclass
class Server:
    name: str
    port: int
    log_path: Path
    process: subprocess.Popen[bytes]

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.process.returncode}:\n{self.log()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                if get(self.port, "/healthz", timeout=1.0) == 200:
                    return
            time.sleep(0.05)
        pytest.fail(f"{self.name} did not answer /healthz in {START_TIMEOUT}s:\n{self.log()}")

    def stop(self) -> None:
        """Terminate (hypercorn shuts down gracefully), then kill the whole group."""
        if self.process.poll() is None:
            self.process.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_GRACE)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)  # its worker too, if still there
        self.process.wait(5)


def start(
    name: str,
    tmp_path: Path,
    environment: Mapping[str, str],
    hypercorn_options: Sequence[str] = (),
    port: int | None = None,
) -> Server:
    """``python -m quartapp serve --config hypercorn.toml`` on ``port`` (a free one if not
    given), with these options added."""
    port = port or free_port()
    log_path = tmp_path / f"{name}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [
                sys.executable,
                "-m",
                "quartapp",
                "serve",
                "--config",
                str(HYPERCORN_CONFIG),
                "--bind",
                f"127.0.0.1:{port}",
                *hypercorn_options,
                "quartapp:create_app()",
            ],
            cwd=PROJECT_ROOT,
            env={**os.environ, **BASE_ENVIRONMENT, **environment},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a group of its own: killpg reaches its worker
        )
    return Server(name, port, log_path, process)


@asynccontextmanager
async def serving(
    tmp_path: Path, environments: Mapping[str, Mapping[str, str]]
) -> AsyncIterator[list[Server]]:
    """Start one server per named environment, wait until all answer, always stop them.

    Their logs are printed at the end: pytest shows them when the test failed.
    """
    servers: list[Server] = []
    try:
        for name, environment in environments.items():
            servers.append(start(name, tmp_path, environment))
        await asyncio.gather(*(asyncio.to_thread(server.wait_ready) for server in servers))
        yield servers
    finally:
        await asyncio.gather(*(asyncio.to_thread(server.stop) for server in servers))
        for server in servers:
            print(f"----- {server.name} (exit {server.process.returncode}) -----\n{server.log()}")


@asynccontextmanager
async def served(app: ASGIFramework, **options: Any) -> AsyncIterator[int]:
    """The app under hypercorn's asyncio worker on a loopback port, in this process."""
    port = free_port()
    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    config.graceful_timeout = 1
    for name, value in options.items():
        setattr(config, name, value)
    stop = asyncio.Event()
    server = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                _, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.05)
        yield port
    finally:
        stop.set()
        await asyncio.wait_for(server, 10)


def database_environment(database_url: str, instance_path: Path) -> dict[str, str]:
    """A server on the test's database (a SQLite file, or PostgreSQL when configured)."""
    return {"DATABASE_URL": database_url, "INSTANCE_PATH": str(instance_path)}


# --- HTTP: a browser-like client ------------------------------------------------------


@dataclass
class Browser:
    """One user agent on one server: keeps its cookies, posts forms with their CSRF token.

    http.client runs in a thread, so the event loop stays free for websockets meanwhile.
    """

    port: int
    cookies: dict[str, str] = field(default_factory=dict)

    def _request(
        self, method: str, path: str, form: Mapping[str, str] | None, timeout: float
    ) -> tuple[int, dict[str, str], str]:
        headers = {"Origin": f"http://127.0.0.1:{self.port}"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form)
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            text = response.read().decode()
            for header in response.headers.get_all("Set-Cookie") or []:
                self._keep_cookie(header)
            return response.status, {k.lower(): v for k, v in response.getheaders()}, text
        finally:
            connection.close()

    def _keep_cookie(self, header: str) -> None:
        pair, _, attributes = header.partition(";")
        name, _, value = pair.strip().partition("=")
        if not value or "max-age=0" in attributes.lower().replace(" ", ""):
            self.cookies.pop(name, None)
        else:
            self.cookies[name] = value

    async def request(
        self, method: str, path: str, form: Mapping[str, str] | None = None
    ) -> tuple[int, dict[str, str], str]:
        return await asyncio.to_thread(self._request, method, path, form, REQUEST_TIMEOUT)

    async def post_form(
        self, path: str, data: Mapping[str, str], token_from: str
    ) -> tuple[int, dict[str, str], str]:
        _, _, page = await self.request("GET", token_from)
        match = CSRF_RE.search(page)
        assert match is not None, f"no CSRF token on {token_from}"
        return await self.request("POST", path, {"csrf_token": match.group(1), **data})

    async def register(self, username: str) -> None:
        status, _, page = await self.post_form(
            "/register",
            {
                "username": username,
                "email": f"{username}@example.com",
                "password": PASSWORD,
                "confirm": PASSWORD,
            },
            token_from="/register",
        )
        assert status == 303, page

    async def login(self, username: str) -> None:
        status, _, page = await self.post_form(
            "/login", {"username": username, "password": PASSWORD}, token_from="/login"
        )
        assert status == 303, page

    def cookie_header(self) -> dict[str, str]:
        """The browser's cookies, for a websocket handshake of its own."""
        return {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}

    async def post_entry(self, body: str, visibility: str = "public") -> int:
        status, headers, page = await self.post_form(
            "/entries", {"title": "", "body": body, "visibility": visibility}, token_from="/"
        )
        assert status == 303, page
        return int(headers["location"].rsplit("/", 1)[1])

    async def edit_entry(self, entry_id: int, body: str) -> None:
        status, _, page = await self.post_form(
            f"/entries/{entry_id}/edit",
            {"title": "", "body": body, "visibility": "public"},
            token_from="/",
        )
        assert status == 303, page

    async def delete_entry(self, entry_id: int) -> None:
        status, _, page = await self.post_form(f"/entries/{entry_id}/delete", {}, token_from="/")
        assert status == 303, page


# --- Websockets ---------------------------------------------------------------------------


@asynccontextmanager
async def live(
    server: Server, since: int = 0, browser: Browser | None = None
) -> AsyncIterator[ClientConnection]:
    """A visitor (or ``browser``'s user) on ``/ws``, subscribed: the pong proves the server
    is past the replay."""
    async with connect(
        f"ws://127.0.0.1:{server.port}/ws",
        origin=Origin(server.origin),
        additional_headers=browser.cookie_header() if browser is not None else None,
        open_timeout=5,
        close_timeout=2,
        proxy=None,
    ) as socket_:
        await socket_.send(json.dumps({"since": since}))
        await socket_.send('{"type": "ping"}')
        while (await next_message(socket_, 5)).get("type") != "pong":
            pass
        yield socket_


async def next_message(socket_: ClientConnection, seconds: float) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(socket_.recv(), seconds))
    return message


# --- Redis ----------------------------------------------------------------------------


def redis_url_or_skip() -> str:
    """The test Redis; skip if it is away, but fail in CI, where it must be there."""
    try:
        with Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=1) as client:
            client.ping()
    except (RedisError, OSError) as error:
        reason = f"Redis is not reachable at {REDIS_URL} ({type(error).__name__}: {error})"
        if os.environ.get("CI", "").lower() not in {"", "0", "false"}:
            pytest.fail(f"{reason}; CI must provide it")
        pytest.skip(reason)
    return REDIS_URL


def redis_admin(url: str) -> Redis:
    """The test's own client, to look at (and break) the servers' connections."""
    return Redis.from_url(url, socket_connect_timeout=2, socket_timeout=5)


def with_client_name(url: str, name: str) -> str:
    """The URL with a Redis client name (redis-py sends CLIENT SETNAME on connect)."""
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query), ("client_name", name)])
    return urlunsplit(parts._replace(query=query))


def subscriber_ids(client: Redis, name: str) -> list[str]:
    return [
        str(entry["id"])
        for entry in client.client_list(_type="pubsub")
        if entry.get("name") == name and int(entry.get("sub", 0)) > 0
    ]


def wait_subscribed(client: Redis, name: str, timeout: float = 10) -> list[str]:
    """The ids of the named client's subscriptions, once it has one."""
    deadline = time.monotonic() + timeout
    while not (ids := subscriber_ids(client, name)):
        if time.monotonic() > deadline:
            pytest.fail(f"{name} did not subscribe within {timeout}s")
        time.sleep(0.05)
    return ids


class RedisCut:
    """A TCP proxy in front of Redis that the test can cut and restore.

    Cut, it drops every open connection and holds new ones unanswered until it is
    restored, as a network path that is gone (or a load balancer whose Redis is away)
    would. It runs on the test's event loop; the app under test reaches Redis through it.
    """

    def __init__(self, redis_url: str) -> None:
        parts = urlsplit(redis_url)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 6379)
        self.redis_url = redis_url
        self._up = asyncio.Event()
        self._up.set()
        self._writers: set[asyncio.StreamWriter] = set()
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return urlunsplit(urlsplit(self.redis_url)._replace(netloc=f"127.0.0.1:{self.port}"))

    async def __aenter__(self) -> RedisCut:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *_: object) -> None:
        assert self._server is not None
        self._server.close()
        self.cut()
        await self._server.wait_closed()

    def cut(self) -> None:
        self._up.clear()
        for writer in list(self._writers):
            writer.transport.abort()

    def restore(self) -> None:
        self._up.set()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        try:
            await self._up.wait()
            upstream_reader, upstream_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            self._writers.discard(writer)
            writer.transport.abort()
            return
        self._writers.add(upstream_writer)
        try:
            await asyncio.gather(
                self._pipe(reader, upstream_writer), self._pipe(upstream_reader, writer)
            )
        finally:
            for end in (writer, upstream_writer):
                self._writers.discard(end)
                end.transport.abort()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        writer.transport.abort()  # either side gone: drop both, as a dead Redis would
