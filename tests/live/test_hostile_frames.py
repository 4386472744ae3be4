"""Frames no parser takes close the socket with 1008, on a real socket under hypercorn.

``json.loads`` raises ``RecursionError``, which is not a ``ValueError``, for arrays nested a
couple of thousand deep: such a frame (4 KB, under the size limit) ended the receive loop
without a close, and nothing read the socket again.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.live.servers import served
from tests.live.test_direct import next_message, origin, reader

NESTED = {
    "arrays": "[" * 2000 + "]" * 2000,
    "objects in arrays": '[{"":' * 580 + "0" + "}]" * 580,  # 1,160 levels
}


@pytest.mark.parametrize("kind", NESTED)
async def test_a_frame_nested_too_deep_closes_with_1008(make_app: Any, kind: str) -> None:
    frame = NESTED[kind]
    assert len(frame) <= 4096  # within the size limit: only its shape is hostile
    app = make_app()
    async with served(app) as port, reader(port) as client:
        await client.send('{"type": "ping"}')
        assert await next_message(client) == {"type": "pong"}
        await client.send(frame)
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(client.recv(), 5)
        assert client.close_code == 1008, client.close_reason
        assert client.close_reason == "messages must be JSON"


@pytest.mark.parametrize("kind", NESTED)
async def test_a_first_frame_nested_too_deep_closes_with_1008(make_app: Any, kind: str) -> None:
    app = make_app()
    async with (
        served(app) as port,
        connect(f"ws://127.0.0.1:{port}/ws", origin=origin(port)) as client,
    ):
        await client.send(NESTED[kind])
        with pytest.raises(ConnectionClosed):
            await asyncio.wait_for(client.recv(), 5)
        assert client.close_code == 1008, client.close_reason
        assert json.dumps(client.close_reason) == '"messages must be JSON"'
