"""SIGTERM to a real hypercorn process: websockets close with 1001 at once, a request in
flight still gets its answer, and the process exits within hypercorn's graceful timeout."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest
from websockets.exceptions import ConnectionClosed

from tests.database import TestDatabase
from tests.live.servers import (
    GRACEFUL_TIMEOUT,
    PASSWORD,
    Browser,
    Server,
    database_environment,
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
