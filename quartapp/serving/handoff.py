"""Connections the master accepted, handed to the worker that holds the fewest.

Each worker has a channel from the master: an ``AF_UNIX`` ``SOCK_SEQPACKET`` socket pair.
A message is one byte, the kind of listening socket the connections came from (TLS or
plain), with up to ``MAX_HANDED`` accepted sockets attached as ``SCM_RIGHTS``. The worker
counts each connection it has finished with in a shared counter, so the master knows what
each worker holds: what it sent minus what the worker finished.

A worker that stops shuts its end for reading first: the master's next send fails (EPIPE)
and goes to another worker, while whatever was already queued in the channel is still
read and served. Nothing handed over is lost to a restart.
"""

from __future__ import annotations

import ctypes
import errno
import logging
import socket
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

PLAIN, SECURE = b"p", b"s"
MAX_HANDED = 64  # sockets a message (the kernel allows 253)
SEND_FLAGS = socket.MSG_DONTWAIT | socket.MSG_NOSIGNAL
GONE = (errno.EPIPE, errno.ECONNRESET, errno.ECONNREFUSED, errno.ENOTCONN)
GIVE_BACK_TIMEOUT = 2.0  # seconds: the master reads its channels at every wake


def receive(channel: socket.socket) -> tuple[list[socket.socket], bool] | None:
    """The next message on ``channel``: its connections and whether they are TLS; None
    when the other end closed it (or this end was shut for reading and it is empty).
    Raises BlockingIOError when nothing is waiting."""
    kind, fds, flags, _ = socket.recv_fds(channel, 1, MAX_HANDED)
    sockets = [socket.socket(fileno=fd) for fd in fds]
    if flags & socket.MSG_CTRUNC:  # never sent more than that: only if something broke
        logger.error("a handoff message came with more sockets than %d", MAX_HANDED)
    if not kind and not sockets:
        return None
    for sock in sockets:
        sock.setblocking(False)
    return sockets, kind == SECURE


def channel_pair() -> tuple[socket.socket, socket.socket]:
    """The master's end and the worker's end of a new channel."""
    master_end, worker_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    master_end.setblocking(False)
    worker_end.setblocking(False)
    worker_end.set_inheritable(True)
    return master_end, worker_end


@dataclass(frozen=True)
class Handoff:
    """A worker's end of its channel, and its count of connections it finished with."""

    channel: socket.socket
    finished: ctypes.c_uint64  # shared memory, written by the worker alone

    def receive(self) -> tuple[list[socket.socket], bool] | None:
        """The next message's connections and whether they are TLS; None when the
        master closed the channel. Raises BlockingIOError when nothing is waiting."""
        return receive(self.channel)

    def give_back(self, sockets: list[socket.socket], secure: bool) -> None:
        """Return connections this worker will not serve (it is stopping) to the master,
        which hands them to another worker; closed here either way."""
        try:
            self.channel.settimeout(GIVE_BACK_TIMEOUT)
            for start in range(0, len(sockets), MAX_HANDED):
                chunk = sockets[start : start + MAX_HANDED]
                socket.send_fds(
                    self.channel,
                    [SECURE if secure else PLAIN],
                    [sock.fileno() for sock in chunk],
                    socket.MSG_NOSIGNAL,
                )
        except OSError as error:  # the master is gone: nobody can serve them
            logger.warning("%d connections could not be given back: %s", len(sockets), error)
        finally:
            for sock in sockets:
                sock.close()

    def finish(self) -> None:
        """One connection handed over is done with (closed, or never served)."""
        self.finished.value += 1


@dataclass(eq=False)
class Slot:
    """The master's view of one worker: its channel, and what it holds."""

    index: int
    channel: socket.socket  # the master's end
    finished: ctypes.c_uint64  # the worker's Handoff.finished
    sent: int = 0
    accepting: bool = True  # false once its worker is stopping (or its channel refused)
    full: bool = False  # its channel's buffer is full: wait until it can be written
    ended: bool = False  # its worker closed the channel: nothing more to read from it

    @property
    def holding(self) -> int:
        return self.sent - self.finished.value

    @property
    def takes_more(self) -> bool:
        return self.accepting and not self.full


Accepted = tuple[socket.socket, bool]  # a connection, and whether it came in over TLS


@dataclass
class Dispatcher:
    """Hands each accepted connection to the worker holding the fewest at that moment
    (the lowest index on a tie), so a client's few long keep-alive connections (a proxy's
    pool) are spread evenly whatever the order the workers woke in. What no worker can
    take yet waits here, in order."""

    slots: dict[int, Slot] = field(default_factory=dict)
    pending: deque[Accepted] = field(default_factory=deque)

    def add(self, slot: Slot) -> None:
        self.slots[slot.index] = slot

    def remove(self, index: int) -> None:
        slot = self.slots.pop(index, None)
        if slot is not None:
            slot.channel.close()

    @property
    def takes_more(self) -> bool:
        """Whether accepting more now would hand them over at once."""
        return not self.pending and any(slot.takes_more for slot in self.slots.values())

    def stop_all(self) -> None:
        """The workers are being told to stop: hand them nothing more (new ones will
        come); what arrives meanwhile waits here or in the listening socket's queue."""
        for slot in self.slots.values():
            slot.accepting = False

    def full_slots(self) -> list[Slot]:
        return [slot for slot in self.slots.values() if slot.accepting and slot.full]

    def hand_over(self, accepted: Iterable[Accepted]) -> None:
        self.pending.extend(accepted)
        self.flush()

    def flush(self) -> None:
        """Send what waits to the workers that can take it, the least loaded first."""
        while self.pending:
            open_slots = [slot for slot in self.slots.values() if slot.takes_more]
            if not open_slots:
                return
            batches: dict[tuple[int, bool], list[socket.socket]] = {}
            while self.pending:
                sock, secure = self.pending.popleft()
                slot = min(open_slots, key=lambda slot: (slot.holding, slot.index))
                slot.sent += 1
                batches.setdefault((slot.index, secure), []).append(sock)
            for (index, secure), sockets in batches.items():
                self._send(self.slots[index], sockets, secure)

    def _send(self, slot: Slot, sockets: list[socket.socket], secure: bool) -> None:
        kind = SECURE if secure else PLAIN
        for start in range(0, len(sockets), MAX_HANDED):
            chunk = sockets[start : start + MAX_HANDED]
            try:
                socket.send_fds(slot.channel, [kind], [sock.fileno() for sock in chunk], SEND_FLAGS)
            except OSError as error:
                unsent = sockets[start:]
                slot.sent -= len(unsent)
                if isinstance(error, BlockingIOError) or error.errno == errno.ENOBUFS:
                    slot.full = True
                elif error.errno in GONE:
                    slot.accepting = False
                else:  # not the channel's state: these connections cannot be handed over
                    logger.error("handing over %d connections failed: %s", len(unsent), error)
                    for sock in unsent:
                        sock.close()
                    return
                self.pending.extend((sock, secure) for sock in unsent)
                return
            for sock in chunk:
                sock.close()  # the worker has its own copy now

    def close(self) -> None:
        """Close what was never handed over (the server is stopping) and every channel."""
        while self.pending:
            self.pending.popleft()[0].close()
        for index in list(self.slots):
            self.remove(index)
