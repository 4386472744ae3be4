"""Handing each websocket's ASGI ``send`` to the live handler, past Quart's own.

Quart's ``websocket.send`` yields to the loop before every message and looks up the
websocket context, accepts again and fires a signal: at a fan-out to thousands of sockets
that doubles the work of each send. The live socket sends its events through the server's
``send`` directly instead; accepting and closing still go through Quart.
"""

from __future__ import annotations

import asyncio
import weakref
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

from quartapp.live.mailbox import OneReader
from quartapp.live.protocol import OVERFLOW

# Where ``SendThrough`` leaves a websocket connection's ASGI ``send`` in its scope.
ASGI_SEND = "quartapp.asgi_send"

SendText = Callable[[str], Awaitable[None]]
# Frames a websocket's handler has not read yet: the live protocol reads each as it comes,
# but Quart may hand over those hypercorn holds (``max_app_queue_size``, 10) in one go.
INBOUND_FRAMES = 32
INBOUND_BYTES = 65536
# Where ``BoundedWebsocketConnection`` leaves its queue in the websocket's scope.
INBOUND = "quartapp.inbound_frames"


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


class InboundFrames(OneReader):
    """A websocket's frames received and not yet read: a few, and never a wait for the server.

    Past ``max_frames`` or ``max_bytes`` unread, the client sent far more than the protocol
    lets it (a page sends ``since`` and then nothing): what is queued is dropped, the
    handler reads ``OVERFLOW`` next, ``on_overflow`` runs (it cuts the connection) and
    later frames are dropped unread.

    A queue that made the server wait when full would hold back the client by TCP, but
    deadlocks: hypercorn queues the disconnect through the same small queue, from inside
    the handler's own send when the peer is gone, and the handler is then not reading.

    Quart only puts and gets, so this is not an ``asyncio.Queue``: that one's three deques
    and event cost ~3 KiB a socket, idle; a list of at most ``max_frames`` and the
    handler's waiting future, ~0.1 KiB.
    """

    __slots__ = (
        "_bytes", "_frames", "max_bytes", "max_frames", "on_overflow", "overflowed",
    )  # fmt: skip

    def __init__(self, max_frames: int, max_bytes: int) -> None:
        super().__init__()
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self.on_overflow: Callable[[], None] | None = None
        self.overflowed = False
        self._bytes = 0  # of the frames queued (OVERFLOW not counted)
        self._frames: list[str | bytes] = []  # a few at most: popping the first is cheap

    def qsize(self) -> int:
        return len(self._frames)

    def empty(self) -> bool:
        return not self._frames

    async def put(self, item: str | bytes) -> None:
        self.put_nowait(item)

    def put_nowait(self, item: str | bytes) -> None:
        if self.overflowed:
            return
        if len(self._frames) >= self.max_frames or self._bytes + len(item) > self.max_bytes:
            self.overflowed = True
            self._frames = [OVERFLOW]
            self._bytes = 0
            if self.on_overflow is not None:
                self.on_overflow()
        else:
            self._frames.append(item)
            self._bytes += len(item)
        self._wake()

    def get_nowait(self) -> str | bytes:
        if not self._frames:
            raise asyncio.QueueEmpty
        item = self._frames.pop(0)
        if item is not OVERFLOW:
            self._bytes -= len(item)
        return item

    async def get(self) -> str | bytes:
        while not self._frames:
            await self._wait()
        return self.get_nowait()


class BoundedWebsocketConnection(ASGIWebsocketConnection):
    """Quart's websocket connection, its unbounded queue of frames received and not yet read
    replaced by ``InboundFrames``, which its handler reaches as ``inbound_frames()``.

    Quart kept every frame the server handed it until the handler read it, so a client
    that sent while the handler did not read (during a replay, or blocked on a slow
    send) grew the worker's memory without end.
    """

    def __init__(self, app: Quart, scope: WebsocketScope) -> None:
        super().__init__(app, scope)
        frames = InboundFrames(INBOUND_FRAMES, INBOUND_BYTES)
        # Quart types it as an asyncio.Queue, and only awaits its put and get.
        self.queue = frames  # type: ignore[assignment]
        scope[INBOUND] = frames  # type: ignore[literal-required]


def inbound_frames() -> InboundFrames | None:
    """The current websocket's ``InboundFrames``; None when the app did not install them."""
    frames = websocket.scope.get(INBOUND)
    return frames if isinstance(frames, InboundFrames) else None
