"""One hub per worker: follows the events table and fans out to its websocket connections.

The broker wakes it when events were committed (here or in another worker); it reads them
from the table in seq order, so order and completeness come from the database. Each
connection has a bounded mailbox; a connection that falls behind is closed with 1013 and
resumes from its last seq, so it never slows the others.

It also keeps its sockets to their logins: what an event shows its author is sent only
once that socket's login is found current, and every ``session_check_seconds`` all its
signed-in sockets are checked in one query; a socket whose login ended closes with 1008.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Protocol

from quartapp.db import Database
from quartapp.live import events
from quartapp.live.broker import Broker
from quartapp.live.limits import SocketSlots
from quartapp.live.mailbox import Close, ForSignedIn, Mailbox, Outgoing, Recheck
from quartapp.live.messages import Audiences, RenderCards, serialize
from quartapp.live.protocol import GOING_AWAY, POLICY_VIOLATION, SESSION_ENDED, TRY_AGAIN_LATER
from quartapp.live.viewers import Viewers
from quartapp.tasks import cancel_and_wait

logger = logging.getLogger(__name__)

BATCH = 500


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
        if self.session_token is not None and self.user_id == event.author_id:
            # The author's own view, maybe of a private entry: checked first, by the sender.
            self.offer(ForSignedIn(event.seq, text))
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


class Hub:
    def __init__(
        self,
        database: Database,
        broker: Broker,
        render_cards: RenderCards,
        queue_size: int,
        viewers: Viewers,
        slots: SocketSlots,
        session_check_seconds: float,
    ) -> None:
        self.database = database
        self.broker = broker
        self.render_cards = render_cards
        self.queue_size = queue_size
        self.viewers = viewers
        self.slots = slots
        self.session_check_seconds = session_check_seconds
        self.connections: set[Connection] = set()
        self.last_seq = 0
        self.shutting_down = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._session_checks: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self.database.reader() as session:
            self.last_seq = await events.newest_seq(session)
        await self.broker.start(self._wake.set)
        self._task = asyncio.create_task(self._follow(), name="live-hub")
        self._session_checks = asyncio.create_task(
            self._check_sessions_periodically(), name="live-session-checks"
        )

    async def stop(self) -> None:
        await cancel_and_wait(self._session_checks)
        await cancel_and_wait(self._task)
        await self.broker.stop()

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

    async def check_sessions(self) -> None:
        """Close every socket whose login ended: one query for all of this worker's."""
        signed_in = [
            (connection, token)
            for connection in self.connections
            if (token := connection.session_token) is not None and not connection.closing
        ]
        if not signed_in:
            return
        current = await self.viewers.signed_in({token for _, token in signed_in})
        for connection, token in signed_in:
            if token not in current:
                connection.close(POLICY_VIOLATION, SESSION_ENDED)

    async def _check_sessions_periodically(self) -> None:
        # A login can end with no event to announce it (idle expiry deletes its row).
        while True:
            await asyncio.sleep(self.session_check_seconds)
            try:
                await self.check_sessions()
            except Exception:  # a database hiccup must not end the checks for good
                logger.exception("could not check the live sockets' logins; retrying")

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
