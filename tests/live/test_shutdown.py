"""SIGTERM to a real hypercorn process: websockets close with 1001 at once, a request in
flight still gets its answer, and the process exits within hypercorn's graceful timeout."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.database import TestDatabase
from tests.live.servers import (
    BASE_ENVIRONMENT,
    GRACEFUL_TIMEOUT,
    HYPERCORN_CONFIG,
    PASSWORD,
    PROJECT_ROOT,
    Browser,
    Server,
    database_environment,
    free_port,
    live,
    serving,
)

# Slow hashing (~1.7 s a hash here) keeps the login in flight while the signal arrives.
SLOW_HASHING = {"ARGON2_TIME_COST": "30", "ARGON2_MEMORY_KIB": "65536"}
CLOSE_PROMPTLY = 2.0  # seconds from the signal to the 1001


def send_sigterm(server: Server, target: str) -> None:
    if target == "process":
        os.kill(server.process.pid, signal.SIGTERM)
    else:
        os.killpg(server.process.pid, signal.SIGTERM)


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("process", id="to-hypercorn-only"),  # as docker stop, kubernetes
        pytest.param("group", id="to-the-process-group"),  # as systemd, Ctrl-C
    ],
)
async def test_sigterm_closes_websockets_with_1001_and_finishes_requests(
    tmp_path: Path, test_database: TestDatabase, target: str
) -> None:
    environment = {
        **database_environment(test_database.url, tmp_path / "instance"),
        **SLOW_HASHING,
    }
    async with serving(tmp_path, {"server": environment}) as (server,):
        user = Browser(server.port)
        await user.register("alice")
        await user.post_form("/logout", {}, token_from="/")
        async with live(server) as socket_:
            login = asyncio.create_task(
                user.post_form(
                    "/login", {"username": "alice", "password": PASSWORD}, token_from="/login"
                )
            )
            await asyncio.sleep(0.3)  # the token is fetched and the POST is hashing
            assert not login.done()
            signalled = time.monotonic()
            send_sigterm(server, target)

            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(socket_.recv(), GRACEFUL_TIMEOUT + 1)
            closed_after = time.monotonic() - signalled
            assert socket_.close_code == 1001, socket_.close_reason
            assert closed_after < CLOSE_PROMPTLY

            status, headers, page = await asyncio.wait_for(login, GRACEFUL_TIMEOUT + 1)
            assert status == 303, page
            assert headers["location"] == "/"

        # hypercorn 0.18 would wait out graceful_timeout here (a closed websocket's
        # connection lasted until its next ping); the app ends those ping sleeps.
        remaining = GRACEFUL_TIMEOUT + 1 - (time.monotonic() - signalled)
        returncode = await asyncio.to_thread(server.process.wait, max(remaining, 0.1))
        assert returncode == 0


# The app served by hypercorn inside this process, as an embedding program would: hypercorn's
# own SIGTERM handler is on the event loop, and the app's must run besides it, not instead.
SERVE_IN_PROCESS = """
import asyncio, sys
from hypercorn.asyncio import serve
from hypercorn.config import Config
from quartapp import create_app
config = Config.from_toml(sys.argv[1])
config.bind = [sys.argv[2]]
asyncio.run(serve(create_app(), config))
"""


def start_in_process(tmp_path: Path, environment: dict[str, str]) -> Server:
    port = free_port()
    log_path = tmp_path / "in-process.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-c", SERVE_IN_PROCESS, str(HYPERCORN_CONFIG), f"127.0.0.1:{port}"],
            cwd=PROJECT_ROOT,
            env={**os.environ, **BASE_ENVIRONMENT, **environment},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    return Server("in-process", port, log_path, process)


async def test_sigterm_under_hypercorn_serve_in_process(
    tmp_path: Path, test_database: TestDatabase
) -> None:
    server = start_in_process(
        tmp_path, database_environment(test_database.url, tmp_path / "instance")
    )
    try:
        await asyncio.to_thread(server.wait_ready)
        async with live(server) as socket_:
            signalled = time.monotonic()
            os.kill(server.process.pid, signal.SIGTERM)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(socket_.recv(), GRACEFUL_TIMEOUT + 1)
            assert socket_.close_code == 1001, socket_.close_reason  # the app's handler ran
            assert time.monotonic() - signalled < CLOSE_PROMPTLY
        # hypercorn's handler ran too: it stops serving, and the process ends well before
        # graceful_timeout (the closed sockets' ping sleeps were ended).
        returncode = await asyncio.to_thread(server.process.wait, CLOSE_PROMPTLY + 2)
        assert returncode == 0, server.log()
    finally:
        await asyncio.to_thread(server.stop)
