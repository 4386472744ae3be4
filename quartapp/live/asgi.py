"""Handing each websocket's ASGI ``send`` to the live handler, past Quart's own.

Quart's ``websocket.send`` yields to the loop before every message and looks up the
websocket context, accepts again and fires a signal: at a fan-out to thousands of sockets
that doubles the work of each send. The live socket sends its events through the server's
``send`` directly instead; accepting and closing still go through Quart.
"""

from __future__ import annotations

import weakref
from collections.abc import Awaitable, Callable

from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope
from quart import websocket

# Where ``SendThrough`` leaves a websocket connection's ASGI ``send`` in its scope.
ASGI_SEND = "quartapp.asgi_send"

SendText = Callable[[str], Awaitable[None]]


class SendThrough:
    """ASGI middleware: puts each websocket's ``send`` callable in its scope."""

    def __init__(self, app: ASGIFramework) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "websocket":
            # In place, a key the server never reads: a copy would double the scope kept
            # for every open socket. Weakly: the server's stream holds the scope, and
            # ``send`` is a method of that stream, so a strong reference would make a cycle
            # that keeps a closed socket until a full garbage collection. This frame holds
            # ``send`` for as long as the app runs.
            scope[ASGI_SEND] = _weak(send)  # type: ignore[literal-required]
        await self.app(scope, receive, send)


def _weak(send: ASGISendCallable) -> Callable[[], ASGISendCallable | None]:
    if hasattr(send, "__self__") and hasattr(send, "__func__"):
        return weakref.WeakMethod(send)
    return weakref.ref(send)


def asgi_send() -> ASGISendCallable:
    """The current websocket's ``send``, as ``SendThrough`` left it."""
    reference: Callable[[], ASGISendCallable | None] = websocket.scope[ASGI_SEND]  # type: ignore[literal-required]
    send = reference()
    if send is None:  # never while the handler runs: its ASGI call, holding send, outlives it
        raise RuntimeError("the websocket's ASGI call has ended")
    return send


def text_sender(send: ASGISendCallable) -> SendText:
    async def send_text(text: str) -> None:
        await send({"type": "websocket.send", "bytes": None, "text": text})

    return send_text
