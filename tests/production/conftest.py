"""Fixtures of the production tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pytest

CLIENT_THREADS = 64


@pytest.fixture
async def enough_threads() -> AsyncIterator[None]:
    """Each concurrent client's blocking request in a thread of its own: the Browser
    helper runs requests with ``asyncio.to_thread``, whose default pool has 6 threads here."""
    with ThreadPoolExecutor(max_workers=CLIENT_THREADS, thread_name_prefix="client") as pool:
        asyncio.get_running_loop().set_default_executor(pool)
        yield
