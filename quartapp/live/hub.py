"""One hub per worker: follows the events table and fans out to its websocket connections.

Each event is rendered and serialized once per audience (readers in general, and the
author), never once per connection. Each connection has a bounded queue; a connection that
falls behind is closed with 1013 and resumes from its last seq, so it never slows the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import struct
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Protocol

from quartapp.db import Database
from quartapp.live import events
from quartapp.live.broker import Broker
from quartapp.models import Event

logger = logging.getLogger(__name__)

BATCH = 500
# Close codes (RFC 6455): going away, policy violation, try again later.
GOING_AWAY = 1001
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013


@dataclass(frozen=True)
class Close:
    """Put on a connection's queue to make its sender close the socket."""

    code: int
    reason: str


@dataclass(frozen=True)
class Recheck:
    """Put on a connection's queue when its user's login sessions changed."""


Outgoing = tuple[int | None, str] | Close | Recheck  # (seq, text); seq None: not an event


class Mailbox:
    """A connection's bounded queue, for its one sender task.

    An ``asyncio.Queue`` costs ~3.3 KB (three deques, an event, a dict); this, a deque and
    the sender's waiting future: ~0.8 KB, at 5,000 connections 12 MB less.
    """

    __slots__ = ("_items", "_limit", "_waiter")

    def __init__(self, limit: int) -> None:
        self._items: deque[Outgoing] = deque()
        self._limit = limit
        self._waiter: asyncio.Future[None] | None = None

    def __len__(self) -> int:
        return len(self._items)

    def put(self, item: Outgoing) -> bool:
        """Queue an item; False (and nothing queued) when the mailbox is full."""
        if len(self._items) >= self._limit:
            return False
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        return True

    def clear(self) -> None:
        self._items.clear()

    def sender_waiting(self) -> bool:
        """Empty, and its sender is waiting for the next item (not busy sending one)."""
        return self._waiter is not None and not self._waiter.done()

    async def get(self) -> Outgoing:
        while not self._items:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        return self._items.popleft()


class FrameWriter(Protocol):
    """Writes whole websocket frames to a socket, past the server's stream (direct.py)."""

    def ready(self) -> bool: ...

    def write(self, frame: bytes) -> None: ...


@dataclass(eq=False, slots=True)  # compared and hashed by identity: they live in a set
class Connection:
    user_id: int | None
    session_token: str | None
    queue: Mailbox
    # For sockets whose frames can be written without the server's stream (direct.py).
    writer: FrameWriter | None = None
    # Events up to this seq were sent by the replay; live copies of them are skipped.
    replayed_through: int = 0
    closing: bool = field(default=False)

    def deliver(self, event: Audiences) -> None:
        """Send an event if this viewer sees it: written at once if it can be, else queued.

        Written at once only while the sender waits with nothing queued and the socket has
        nothing buffered: then no message can overtake another (hypercorn's own pings and
        pongs may, which RFC 6455 allows), and a slow peer's messages still go through the
        bounded queue.
        """
        text = event.for_user(self.user_id)
        if text is None or self.closing:
            return
        writer = self.writer
        if writer is not None and self.queue.sender_waiting() and writer.ready():
            try:
                writer.write(event.frame_for_user(self.user_id))
            except Exception:  # one odd socket must not stop the fan-out to the others
                logger.exception("could not write to a live socket; queueing instead")
                self.writer = None
            else:
                return
        self.offer((event.seq, text))

    def offer(self, item: Outgoing) -> None:
        if self.closing:
            return
        if not self.queue.put(item):
            self.close(TRY_AGAIN_LATER, "too far behind; resume from your last seq")

    def close(self, code: int, reason: str) -> None:
        """Drop what is queued and close next: nothing more is worth sending."""
        if self.closing:
            return
        self.closing = True
        self.queue.clear()
        self.queue.put(Close(code, reason))


# (entry id) -> (card for readers, card for the author); a missing id was deleted since.
RenderCards = Callable[[list[int]], Awaitable[dict[int, tuple[str, str]]]]


def reader_kind(event: Event) -> str | None:
    """What a reader who is not the author sees of an event (None: nothing)."""
    if event.kind == events.DELETED:
        return events.DELETED if event.public_before else None
    if event.public_before and event.public_after:
        return events.UPDATED
    if event.public_after:
        return events.CREATED  # it just became visible to them
    if event.public_before:
        return events.DELETED  # it just became private
    return None


FIN_TEXT = 0x81  # final fragment, opcode 1 (text)


def text_frame(text: str) -> bytes:
    """One unmasked, uncompressed, unfragmented text frame (RFC 6455, section 5.2).

    A server's frames are not masked, so without compression a message is the same bytes
    on every socket: each is framed once per audience, not once per socket.
    """
    payload = text.encode("utf-8")
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", FIN_TEXT, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", FIN_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", FIN_TEXT, 127, length)
    return header + payload


def message(event: Event, kind: str, html: str | None) -> str:
    body: dict[str, object] = {"seq": event.seq, "type": kind, "entry_id": event.entry_id}
    if kind != events.DELETED and html is not None:
        body["html"] = html
    return json.dumps(body, separators=(",", ":"))


@dataclass(frozen=True)
class Audiences:
    """One event serialized (and framed) for each audience; None where it sees nothing."""

    seq: int
    author_id: int
    for_author: str | None
    for_readers: str | None
    sessions_changed: bool = False

    def for_user(self, user_id: int | None) -> str | None:
        return self.for_author if user_id == self.author_id else self.for_readers

    # Framed once per audience, for the first socket written to directly (direct.py).
    @cached_property
    def author_frame(self) -> bytes:
        return text_frame(self.for_author or "")

    @cached_property
    def readers_frame(self) -> bytes:
        return text_frame(self.for_readers or "")

    def frame_for_user(self, user_id: int | None) -> bytes:
        """The ``for_user`` text as one websocket frame (only asked for when there is one)."""
        return self.author_frame if user_id == self.author_id else self.readers_frame


async def serialize(batch: list[Event], render_cards: RenderCards) -> list[Audiences]:
    wanted = [
        e.entry_id for e in batch if e.kind in {events.CREATED, events.UPDATED} and e.entry_id
    ]
    cards = await render_cards(wanted) if wanted else {}
    result = []
    for event in batch:
        if event.kind == events.SESSIONS:
            result.append(Audiences(event.seq, event.author_id, None, None, True))
            continue
        card = cards.get(event.entry_id or 0)
        if event.kind != events.DELETED and card is None:
            # Deleted since: its own "deleted" event follows; send only the seq along.
            result.append(Audiences(event.seq, event.author_id, None, None))
            continue
        for_readers = None
        if kind := reader_kind(event):
            for_readers = message(event, kind, card[0] if card else None)
        for_author = message(event, event.kind, card[1] if card else None)
        result.append(Audiences(event.seq, event.author_id, for_author, for_readers))
    return result


class Hub:
    def __init__(
        self, database: Database, broker: Broker, render_cards: RenderCards, queue_size: int
    ) -> None:
        self.database = database
        self.broker = broker
        self.render_cards = render_cards
        self.queue_size = queue_size
        self.connections: set[Connection] = set()
        self.last_seq = 0
        self.shutting_down = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self.database.reader() as session:
            self.last_seq = await events.newest_seq(session)
        await self.broker.start(self._wake.set)
        self._task = asyncio.create_task(self._follow(), name="live-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.broker.stop()

    async def notify(self) -> None:
        """After a commit that wrote events."""
        await self.broker.notify()

    def connect(
        self, user_id: int | None, session_token: str | None, writer: FrameWriter | None = None
    ) -> Connection:
        connection = Connection(user_id, session_token, Mailbox(self.queue_size), writer)
        self.connections.add(connection)
        return connection

    def disconnect(self, connection: Connection) -> None:
        self.connections.discard(connection)

    def going_away(self) -> None:
        """Shutting down: close every socket with 1001 so clients reconnect elsewhere."""
        self.shutting_down = True
        for connection in list(self.connections):
            connection.close(GOING_AWAY, "server restarting")

    async def _follow(self) -> None:
        while True:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for swallows a cancel that
            # arrives as the wake-up does (a Redis message during shutdown), and stop() hangs.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.broker.poll_interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self.dispatch_new()
            except Exception:  # a database hiccup must not end live updates for good
                logger.exception("could not read new events; retrying")
                await asyncio.sleep(1)

    async def dispatch_new(self) -> None:
        while True:
            async with self.database.reader() as session:
                batch = await events.after(session, self.last_seq, BATCH)
            if not batch:
                return
            for item in await serialize(batch, self.render_cards):
                self.fan_out(item)
                self.last_seq = item.seq
                # Each event may be thousands of writes: a batch of them (a catch-up after
                # an outage) must not keep requests and pings waiting until it is through.
                await asyncio.sleep(0)

    def fan_out(self, item: Audiences) -> None:
        for connection in list(self.connections):
            if item.seq <= connection.replayed_through:
                continue
            if item.sessions_changed:
                if connection.user_id == item.author_id:
                    connection.offer(Recheck())
                continue
            connection.deliver(item)
