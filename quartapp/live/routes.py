"""``/ws``: live entry events for the home page and profiles.

Protocol, all JSON text frames:
- client -> server, first: ``{"since": <last seq the page has>}``; later only
  ``{"type": "ping"}`` (answered ``{"type": "pong"}``). Anything else, or a frame over
  4 KiB, closes the socket with 1008.
- server -> client: ``{"seq", "type": "created"|"updated"|"deleted", "entry_id", "html"}``
  (no ``html`` for deletes), in seq order, replayed from ``since`` then live; or
  ``{"type": "resync"}`` when ``since`` is older than what the server keeps: reload.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope
from quart import Blueprint, current_app, g, websocket

from quartapp.accounts import service as accounts
from quartapp.accounts.auth import current_account, current_session_token
from quartapp.db import get_database
from quartapp.live import events
from quartapp.live.direct import decline_compression, direct_writer
from quartapp.live.hub import (
    POLICY_VIOLATION,
    Close,
    Connection,
    Hub,
    Recheck,
    serialize,
)
from quartapp.security import origin_allowed

blueprint = Blueprint("live", __name__, template_folder="templates")

MAX_MESSAGE = 4096
SINCE_TIMEOUT = 10.0  # seconds to wait for the client's first message
MAX_REPLAY = 1000  # further behind than this, reloading the page is cheaper


# Where ``SendThrough`` leaves a websocket connection's ASGI ``send`` in its scope.
ASGI_SEND = "quartapp.asgi_send"

SendText = Callable[[str], Awaitable[None]]


class SendThrough:
    """ASGI middleware: hands each websocket's ``send`` callable to its handler.

    Quart's ``websocket.send`` yields to the loop before every message and looks up the
    websocket context, accepts again and fires a signal: at a fan-out to thousands of
    sockets that doubles the work of each send. The live socket sends its events through
    the server's ``send`` directly instead; accepting and closing still go through Quart.
    """

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
    send: ASGISendCallable = websocket.scope[ASGI_SEND]  # type: ignore[literal-required]
    return send


def text_sender(send: ASGISendCallable) -> SendText:
    async def send_text(text: str) -> None:
        await send({"type": "websocket.send", "bytes": None, "text": text})

    return send_text


def get_hub() -> Hub:
    hub: Hub = current_app.extensions["live_hub"]
    return hub


class ProtocolError(Exception):
    """The client broke the protocol; the message says how (sent as the close reason)."""


def parse(frame: str | bytes) -> dict[str, Any]:
    if len(frame) > MAX_MESSAGE:
        raise ProtocolError("message too large")
    try:
        document = json.loads(frame)
    except (ValueError, UnicodeDecodeError):
        raise ProtocolError("messages must be JSON") from None
    if not isinstance(document, dict):
        raise ProtocolError("messages must be JSON objects")
    return document


def parse_since(document: dict[str, Any]) -> int:
    since = document.get("since")
    if set(document) != {"since"} or not isinstance(since, int) or isinstance(since, bool):
        raise ProtocolError('the first message must be {"since": <seq>}')
    if since < 0:
        raise ProtocolError("since must not be negative")
    return since


async def _replay(connection: Connection, since: int) -> list[str] | None:
    """What the client missed after ``since``, for its viewer; None: it must resync."""
    hub = get_hub()
    if since == hub.last_seq:
        # Up to date, the usual case for a page just loaded: anything newer is still to be
        # fanned out by the hub, to this connection too (it is registered already).
        connection.replayed_through = since
        return []
    async with hub.database.reader() as session:
        window = await events.window(session)
        behind = window.newest - since
        if since > window.newest or behind > MAX_REPLAY:
            return None
        if behind > 0 and (window.oldest is None or since < window.oldest - 1):
            return None  # pruned: the events it missed are gone
        missed = await events.after(session, since, MAX_REPLAY)
    connection.replayed_through = missed[-1].seq if missed else since
    texts = []
    for item in await serialize(missed, hub.render_cards):
        text = item.for_user(connection.user_id)
        if text is not None:
            texts.append(text)
    return texts


async def _still_logged_in(connection: Connection) -> bool:
    if connection.session_token is None:
        return True
    async with get_database().reader() as session:
        user = await accounts.resolve_session(
            get_database(),
            session,
            connection.session_token,
            current_app.extensions["session_policy"],
        )
    return user is not None


async def _send_loop(connection: Connection, send_text: SendText) -> None:
    while True:
        item = await connection.queue.get()
        if isinstance(item, Close):
            await websocket.close(item.code, item.reason)
            return
        if isinstance(item, Recheck):
            if not await _still_logged_in(connection):
                await websocket.close(POLICY_VIOLATION, "session ended")
                return
            continue
        seq, text = item
        if seq is not None and seq <= connection.replayed_through:
            continue  # queued while the replay ran, and already sent by it
        await send_text(text)


async def _receive_loop(connection: Connection) -> None:
    """After ``since``: only pings. A protocol error closes the socket with 1008."""
    try:
        while True:
            document = parse(await websocket.receive())
            if document != {"type": "ping"}:
                raise ProtocolError('only {"type": "ping"} is accepted here')
            connection.offer((None, '{"type":"pong"}'))
    except ProtocolError as error:
        connection.close(POLICY_VIOLATION, str(error))


@blueprint.websocket("/ws")
async def live() -> Any:
    if not origin_allowed(websocket.headers.get("Origin")):
        return "This origin may not open live updates.", 403
    hub = get_hub()
    if hub.shutting_down:
        return "The server is restarting.", 503
    viewer = await current_account()
    token = current_session_token() if viewer else None
    session = g.pop("db_session", None)  # hold no database session for the socket's life
    if session is not None:
        await session.close()
    send = asgi_send()
    decline_compression(send)
    await websocket.accept()
    send_text = text_sender(send)
    connection = hub.connect(viewer.id if viewer else None, token, direct_writer(send))
    receiver: asyncio.Task[None] | None = None
    try:
        try:
            async with asyncio.timeout(SINCE_TIMEOUT):
                frame = await websocket.receive()
            since = parse_since(parse(frame))
        except TimeoutError:
            await websocket.close(POLICY_VIOLATION, 'send {"since": <seq>} first')
            return None
        except ProtocolError as error:
            await websocket.close(POLICY_VIOLATION, str(error))
            return None
        missed = await _replay(connection, since)
        if missed is None:
            await send_text('{"type":"resync"}')
            connection.replayed_through = hub.last_seq
        else:
            for text in missed:
                await send_text(text)
        receiver = asyncio.create_task(_receive_loop(connection))
        await _send_loop(connection, send_text)
    finally:
        hub.disconnect(connection)
        if receiver is not None:
            receiver.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await receiver
    return None
