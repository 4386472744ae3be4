"""``/ws``: live events for the home page and profiles (the protocol: ``protocol.py``).

The blueprint is made per app (``websocket_blueprint``) around that app's hub, which holds
the accounts' answer to "who is this?", so this package imports no feature package.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from quart import Blueprint, websocket

from quartapp.live import direct, events
from quartapp.live.asgi import SendText, asgi_send, inbound_frames, text_sender
from quartapp.live.hub import Connection, Hub
from quartapp.live.mailbox import Close, ForSignedIn, Recheck
from quartapp.live.messages import serialize
from quartapp.live.origin import origin_allowed
from quartapp.live.protocol import (
    POLICY_VIOLATION,
    PONG,
    RESYNC,
    SESSION_ENDED,
    TOO_MANY,
    TRY_AGAIN_LATER,
    FrameBudget,
    ProtocolError,
    parse,
    parse_ping,
    parse_since,
)
from quartapp.ratelimits import address_key
from quartapp.tasks import cancel_and_wait, timeout

logger = logging.getLogger(__name__)

SINCE_TIMEOUT = 10.0  # seconds to wait for the client's first message
CLOSE_TIMEOUT = 10.0  # seconds a client gets to complete a close the server started
# What a client may still send after that close: what was in flight when it came, with
# room to spare. Reading and dropping that much costs a millisecond or two.
AFTER_CLOSE_FRAMES = 1000
AFTER_CLOSE_BYTES = 65536
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


async def _login_current(hub: Hub, connection: Connection) -> bool:
    """True while the socket's login is current (or it has none); else it is closing."""
    token = connection.session_token
    if token is None:
        return True
    try:
        if token in await hub.viewers.signed_in((token,)):
            return True
        connection.close(POLICY_VIOLATION, SESSION_ENDED)
    except Exception:  # not confirmed, so nothing private is sent; the client resumes
        logger.exception("could not check a live socket's login")
        connection.close(TRY_AGAIN_LATER, "could not check the login; resume from your last seq")
    return False


async def _send_loop(hub: Hub, connection: Connection, send_text: SendText) -> None:
    while True:
        item = await connection.queue.get()
        if isinstance(item, Close):
            await websocket.close(item.code, item.reason)
            return
        if isinstance(item, Recheck):
            await _login_current(hub, connection)  # ended: its Close comes next
            continue
        if isinstance(item, ForSignedIn):
            if item.seq > connection.replayed_through and await _login_current(hub, connection):
                await send_text(item.text)
            continue
        seq, text = item
        if seq is not None and seq <= connection.replayed_through:
            continue  # queued while the replay ran, and already sent by it
        await send_text(text)


async def _receive_loop(connection: Connection) -> None:
    """After ``since``: only pings, within a budget. A protocol error closes the socket with
    1008. Every frame is read as it arrives: the inbound queue is small (asgi.py)."""
    budget = FrameBudget()
    try:
        while True:
            frame = await websocket.receive()
            if not budget.spend():
                raise ProtocolError(TOO_MANY)
            parse_ping(parse(frame))
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


async def _until_disconnected(writer: direct.DirectWriter | None) -> None:
    """After the server closed the socket: read and drop what the client still sends until
    it is gone (the disconnect ends this handler, as a cancel).

    hypercorn hands frames to the app through a small queue and stops reading the socket
    while it is full. Once the handler ends, nothing takes from that queue: a client that
    sent a few more frames would leave hypercorn waiting to queue them for good, it would
    never read the client's close or its end, and the connection would stay open. A client
    that sends more than ``AFTER_CLOSE_FRAMES`` or ``AFTER_CLOSE_BYTES`` after the close
    (one that floods on without reading it), or has not gone ``CLOSE_TIMEOUT`` after it,
    is cut off: reading such a flood to its end would cost as much as answering it.
    """
    budget = AFTER_CLOSE_BYTES
    with contextlib.suppress(TimeoutError):
        async with timeout(CLOSE_TIMEOUT):
            for _ in range(AFTER_CLOSE_FRAMES):
                budget -= len(await websocket.receive())
                if budget < 0:
                    break
    if writer is None:  # not hypercorn's plain socket: the server has to end it
        return
    writer.cut_off()
    with contextlib.suppress(TimeoutError):
        async with timeout(CLOSE_TIMEOUT):  # hypercorn reads what it holds, then the end
            while True:
                await websocket.receive()


async def _events(hub: Hub, connection: Connection, send_text: SendText) -> None:
    """``since``, what was missed since, then live events until the socket is closed."""
    since = await _first_since()
    if since is None:
        return
    missed = await _replay(hub, connection, since)
    if missed is None:
        await send_text(RESYNC)
        connection.replayed_through = hub.last_seq
    elif not missed or await _login_current(hub, connection):  # ended: closes next
        for text in missed:
            await send_text(text)
    receiver = asyncio.create_task(_receive_loop(connection))
    try:
        await _send_loop(hub, connection, send_text)
    finally:
        await cancel_and_wait(receiver)


async def _serve(hub: Hub) -> None:
    """A socket, from its accept until the client goes: that ends it as a cancel at any
    point; when the server closes the socket first, it waits for the client to go."""
    viewer = await hub.viewers.current()
    # Hold no database session for the socket's life.
    await hub.database.close_request_session()
    send = asgi_send()
    direct.decline_compression(send)
    await websocket.accept()
    writer = direct.direct_writer(send)
    inbound = inbound_frames()
    if inbound is not None and writer is not None:
        # A flood while nothing reads (a replay, a slow send): cut at once, not read on.
        inbound.on_overflow = writer.cut_off
    try:
        connection = hub.connect(
            viewer.user_id if viewer else None, viewer.session_token if viewer else None, writer
        )
        try:
            await _events(hub, connection, text_sender(send))
        finally:
            hub.disconnect(connection)
        await _until_disconnected(writer)
    finally:
        if inbound is not None:
            # It holds the server's stream, which holds the scope, which holds it: a cycle
            # that would keep the closed socket until a full garbage collection.
            inbound.on_overflow = None


def websocket_blueprint(hub: Hub, allowed_origins: tuple[str, ...]) -> Blueprint:
    # The page's side of the protocol (static/live.js) ships with it, under /live/static/.
    blueprint = Blueprint("live", __name__, static_folder="static", static_url_path="/live/static")

    @blueprint.websocket("/ws")
    async def live() -> Any:
        if not origin_allowed(websocket.headers.get("Origin"), allowed_origins):
            return "This origin may not open live updates.", 403
        if hub.shutting_down:
            return "The server is restarting.", 503
        # Counted before anything else is spent on it, given back however the socket ends.
        with hub.slots.holding(address_key(websocket.remote_addr or "unknown")) as refused:
            if refused is not None:
                return refused.message, refused.status
            await _serve(hub)
        return None

    return blueprint
