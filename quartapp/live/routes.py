"""``/ws``: live events for the home page and profiles (the protocol: ``protocol.py``).

The blueprint is made per app (``websocket_blueprint``) around that app's hub and the
accounts' answer to "who is this?", so this package imports no feature package.
"""

from __future__ import annotations

import asyncio
from typing import Any

from quart import Blueprint, websocket

from quartapp.live import direct, events
from quartapp.live.asgi import SendText, asgi_send, text_sender
from quartapp.live.hub import Connection, Hub
from quartapp.live.mailbox import Close, Recheck
from quartapp.live.messages import serialize
from quartapp.live.origin import origin_allowed
from quartapp.live.protocol import (
    POLICY_VIOLATION,
    PONG,
    RESYNC,
    ProtocolError,
    parse,
    parse_ping,
    parse_since,
)
from quartapp.live.viewers import Viewers
from quartapp.tasks import cancel_and_wait, timeout

SINCE_TIMEOUT = 10.0  # seconds to wait for the client's first message
MAX_REPLAY = 1000  # further behind than this, reloading the page is cheaper


async def _replay(hub: Hub, connection: Connection, since: int) -> list[str] | None:
    """What the client missed after ``since``, for its viewer; None: it must resync."""
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


async def _send_loop(connection: Connection, send_text: SendText, viewers: Viewers) -> None:
    while True:
        item = await connection.queue.get()
        if isinstance(item, Close):
            await websocket.close(item.code, item.reason)
            return
        if isinstance(item, Recheck):
            token = connection.session_token
            if token is not None and not await viewers.still_signed_in(token):
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
            parse_ping(parse(await websocket.receive()))
            connection.offer((None, PONG))
    except ProtocolError as error:
        connection.close(POLICY_VIOLATION, str(error))


async def _first_since() -> int | None:
    """The client's ``since``; None (and the socket closed with 1008) if it breaks the rules."""
    try:
        async with timeout(SINCE_TIMEOUT):  # its timer must not keep a closed socket
            frame = await websocket.receive()
        return parse_since(parse(frame))
    except TimeoutError:
        await websocket.close(POLICY_VIOLATION, 'send {"since": <seq>} first')
    except ProtocolError as error:
        await websocket.close(POLICY_VIOLATION, str(error))
    return None


def websocket_blueprint(hub: Hub, viewers: Viewers, allowed_origins: tuple[str, ...]) -> Blueprint:
    # The page's side of the protocol (static/live.js) ships with it, under /live/static/.
    blueprint = Blueprint("live", __name__, static_folder="static", static_url_path="/live/static")

    @blueprint.websocket("/ws")
    async def live() -> Any:
        if not origin_allowed(websocket.headers.get("Origin"), allowed_origins):
            return "This origin may not open live updates.", 403
        if hub.shutting_down:
            return "The server is restarting.", 503
        viewer = await viewers.current()
        # Hold no database session for the socket's life.
        await hub.database.close_request_session()
        send = asgi_send()
        direct.decline_compression(send)
        await websocket.accept()
        send_text = text_sender(send)
        connection = hub.connect(
            viewer.user_id if viewer else None,
            viewer.session_token if viewer else None,
            direct.direct_writer(send),
        )
        receiver: asyncio.Task[None] | None = None
        try:
            since = await _first_since()
            if since is None:
                return None
            missed = await _replay(hub, connection, since)
            if missed is None:
                await send_text(RESYNC)
                connection.replayed_through = hub.last_seq
            else:
                for text in missed:
                    await send_text(text)
            receiver = asyncio.create_task(_receive_loop(connection))
            await _send_loop(connection, send_text, viewers)
        finally:
            hub.disconnect(connection)
            await cancel_and_wait(receiver)
        return None

    return blueprint
