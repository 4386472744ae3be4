"""Argon2id at rest: rehash on login, equal timing for unknown users, a responsive loop.

The timing tests use the real default parameters (t=3, 64 MiB, p=4): with the light ones
the fixtures use elsewhere, a missing dummy verify or a blocked event loop would not show.
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from quart import Quart
from quart.typing import TestClientProtocol as Client

from tests.database import TestDatabase
from tests.helpers import DEFAULT_PASSWORD, AuthActions, csrf_token

DEFAULT_HASHING = {"argon2_time_cost": 3, "argon2_memory_kib": 65536, "argon2_parallelism": 4}
ARGON2_PARAMETERS = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$")


def stored_hash(database: TestDatabase, username: str = "alice") -> str:
    value = database.scalar("SELECT password_hash FROM users WHERE username = :name", name=username)
    return str(value)


def parameters(password_hash: str) -> tuple[int, int, int]:
    """(memory KiB, time cost, parallelism) of an argon2id hash."""
    match = ARGON2_PARAMETERS.match(password_hash)
    assert match is not None, password_hash
    memory, time_cost, parallelism = (int(group) for group in match.groups())
    return memory, time_cost, parallelism


@asynccontextmanager
async def running(make_app: Any, **settings: Any) -> AsyncIterator[Quart]:
    async with make_app(**settings).test_app() as test_app:
        app: Quart = test_app.app
        yield app


async def login_status(client: Client, username: str, password: str) -> int:
    form = {"csrf_token": await csrf_token(client), "username": username, "password": password}
    return (await client.post("/login", form=form)).status_code


async def test_password_is_stored_as_argon2id(
    auth: AuthActions, test_database: TestDatabase
) -> None:
    await auth.register("alice")
    password_hash = stored_hash(test_database)
    assert parameters(password_hash) == (1024, 1, 1)  # the fixtures' light parameters
    assert DEFAULT_PASSWORD not in password_hash
    await AuthActions(auth.client.app.test_client()).register("bob")
    assert stored_hash(test_database, "bob") != password_hash  # salted


async def test_login_rehashes_when_the_parameters_change(
    make_app: Any, test_database: TestDatabase
) -> None:
    async with running(make_app) as app:
        assert (await AuthActions(app.test_client()).register("alice")).status_code == 303
    old_hash = stored_hash(test_database)
    assert parameters(old_hash) == (1024, 1, 1)

    stronger = {"argon2_time_cost": 2, "argon2_memory_kib": 2048, "argon2_parallelism": 2}
    async with running(make_app, **stronger) as app:
        client = app.test_client()
        assert await login_status(client, "alice", "a wrong password") == 400
        assert stored_hash(test_database) == old_hash  # only a correct password rehashes
        assert await login_status(client, "alice", DEFAULT_PASSWORD) == 303
        new_hash = stored_hash(test_database)
        assert parameters(new_hash) == (2048, 2, 2)
        # The new hash is of the same password, and is kept while the parameters stay.
        assert await login_status(app.test_client(), "alice", DEFAULT_PASSWORD) == 303
        assert stored_hash(test_database) == new_hash


async def test_unknown_user_takes_as_long_as_a_wrong_password(make_app: Any) -> None:
    """A dummy verify for unknown users: timing does not tell which usernames exist."""
    async with running(make_app, rate_limits_enabled=False, **DEFAULT_HASHING) as app:
        assert (await AuthActions(app.test_client()).register("alice")).status_code == 303
        client = app.test_client()
        token = await csrf_token(client)  # kept until a login succeeds

        async def timed(username: str) -> float:
            form = {"csrf_token": token, "username": username, "password": "wrong password!"}
            start = time.perf_counter()
            response = await client.post("/login", form=form)
            elapsed = time.perf_counter() - start
            assert response.status_code == 400
            return elapsed

        unknown: list[float] = []
        wrong: list[float] = []
        for _ in range(4):  # interleaved, so a slow moment hits both
            unknown.append(await timed("nobody-here"))
            wrong.append(await timed("alice"))

    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.5 <= ratio <= 2, f"unknown {unknown} vs wrong password {wrong}"


async def slowest_probe_during_logins(app: Quart) -> float:
    """Start 8 logins at once; meanwhile time /healthz on the same app. The slowest probe."""
    clients = [app.test_client() for _ in range(8)]
    forms = [
        {
            "csrf_token": await csrf_token(client),
            "username": "alice" if number % 2 else f"nobody{number}",
            "password": DEFAULT_PASSWORD if number % 4 == 1 else "a wrong password",
        }
        for number, client in enumerate(clients)
    ]
    logins = [
        asyncio.create_task(client.post("/login", form=form))
        for client, form in zip(clients, forms, strict=True)
    ]
    probe = app.test_client()
    latencies: list[float] = []
    while not all(login.done() for login in logins):
        start = time.perf_counter()
        response = await probe.get("/healthz")
        latencies.append(time.perf_counter() - start)
        assert response.status_code == 200
        await asyncio.sleep(0.01)
    results = [(await login).status_code for login in logins]
    assert results == [303 if number % 4 == 1 else 400 for number in range(8)]
    assert len(latencies) >= 10, "the logins finished too fast to measure anything"
    return max(latencies)


async def test_event_loop_stays_responsive_while_logins_hash(make_app: Any) -> None:
    """Every /healthz answers in < 50 ms while 8 logins hash with the default parameters.

    Up to three rounds: other work on the machine can delay one probe now and then, while
    hashing on the event loop or in a thread per login costs 0.5-1 s in every round.
    """
    slowest: list[float] = []
    async with running(make_app, rate_limits_enabled=False, **DEFAULT_HASHING) as app:
        assert (await AuthActions(app.test_client()).register("alice")).status_code == 303
        while len(slowest) < 3 and (not slowest or slowest[-1] >= 0.05):
            slowest.append(await slowest_probe_during_logins(app))
    assert slowest[-1] < 0.05, (
        f"slowest /healthz per round: {[round(t * 1000) for t in slowest]} ms"
    )
