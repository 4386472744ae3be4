"""Handing each websocket's ASGI ``send`` to the live handler, past Quart's own.

Quart's ``websocket.send`` yields to the loop before every message and looks up the
websocket context, accepts again and fires a signal: at a fan-out to thousands of sockets
that doubles the work of each send. The live socket sends its events through the server's
``send`` directly instead; accepting and closing still go through Quart.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGISendCallable,
    Scope,
    WebsocketScope,
)
from quart import Quart, websocket
from quart.asgi import ASGIWebsocketConnection

# Where ``SendThrough`` leaves a websocket connection's ASGI ``send`` in its scope.
ASGI_SEND = "quartapp.asgi_send"

SendText = Callable[[str], Awaitable[None]]
# Frames a websocket's handler has not read yet. The live protocol reads each as it comes.
INBOUND_QUEUE = 8


class SendThrough:
    """ASGI middleware: puts each websocket's ``send`` callable in its scope."""

    def __init__(self, app: ASGIFramework) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "websocket":
            # In place, a key the server never reads: a copy would double the scope kept
            # for every open socket.
            scope[ASGI_SEND] = send  # type: ignore[literal-required]
        await self.app(scope, receive, send)


def asgi_send() -> ASGISendCallable:
    """The current websocket's ``send``, as ``SendThrough`` left it."""
    send: ASGISendCallable = websocket.scope[ASGI_SEND]  # type: ignore[literal-required]
    return send


def text_sender(send: ASGISendCallable) -> SendText:
    async def send_text(text: str) -> None:
        await send({"type": "websocket.send", "bytes": None, "text": text})

    return send_text


class BoundedWebsocketConnection(ASGIWebsocketConnection):
    """Quart's websocket connection with a bounded queue of frames received, not yet read.

    Quart moves every frame the server hands it into an unbounded queue, so a client that
    sends faster than the handler reads (or while it does not read) grew the worker's
    memory without end. Bounded, Quart stops taking frames from the server when it is
    full; hypercorn's own queue (``max_app_queue_size``) then fills and hypercorn stops
    reading the socket, so the client is held back by TCP instead. Each frame is at most
    hypercorn's ``websocket_max_message_size``.
    """

    def __init__(self, app: Quart, scope: WebsocketScope) -> None:
        super().__init__(app, scope)
        self.queue = asyncio.Queue(INBOUND_QUEUE)
