"""Handing accepted connections to the worker that holds the fewest (quartapp/serving/
handoff.py), over real channels: each worker's end is read as a worker reads it."""

from __future__ import annotations

import ctypes
import socket
from collections.abc import Iterator

import pytest

from quartapp.serving.handoff import (
    MAX_HANDED,
    Accepted,
    Dispatcher,
    Handoff,
    Slot,
    channel_pair,
    receive,
)


class Worker:
    """A worker's end of a channel, and the master's slot for it."""

    def __init__(self, index: int) -> None:
        master_end, worker_end = channel_pair()
        finished = ctypes.c_uint64(0)
        self.handoff = Handoff(worker_end, finished)
        self.slot = Slot(index, master_end, finished)
        self.held: list[socket.socket] = []

    def read(self) -> list[bool]:
        """Take what waits in the channel; whether each connection came over TLS."""
        kinds: list[bool] = []
        while True:
            try:
                message = self.handoff.receive()
            except BlockingIOError:
                return kinds
            if message is None:  # the channel ended, or this end was shut for reading
                return kinds
            sockets, secure = message
            self.held += sockets
            kinds += [secure] * len(sockets)

    def finish(self, count: int) -> None:
        for _ in range(count):
            self.held.pop().close()
            self.handoff.finish()


@pytest.fixture
def workers() -> Iterator[list[Worker]]:
    made = [Worker(0), Worker(1)]
    yield made
    for worker in made:
        for sock in worker.held:
            sock.close()
        worker.handoff.channel.close()
        worker.slot.channel.close()


@pytest.fixture
def connections() -> Iterator[list[socket.socket]]:
    """Far ends kept here; the near ends are what the master accepted."""
    kept: list[socket.socket] = []

    yield kept
    for sock in kept:
        sock.close()


def accepted(kept: list[socket.socket], count: int, secure: bool = False) -> list[Accepted]:
    result = []
    for _ in range(count):
        near, far = socket.socketpair()
        kept.append(far)
        result.append((near, secure))
    return result


def dispatcher_of(workers: list[Worker]) -> Dispatcher:
    dispatcher = Dispatcher()
    for worker in workers:
        dispatcher.add(worker.slot)
    return dispatcher


def test_a_burst_is_split_evenly_and_the_master_keeps_no_copy(
    workers: list[Worker], connections: list[socket.socket]
) -> None:
    dispatcher = dispatcher_of(workers)
    burst = accepted(connections, 4)
    dispatcher.hand_over(burst)
    assert [len(worker.read()) for worker in workers] == [2, 2]
    assert all(sock.fileno() == -1 for sock, _ in burst)  # closed: the worker has it
    assert [worker.slot.holding for worker in workers] == [2, 2]


def test_each_goes_to_the_worker_holding_the_fewest(
    workers: list[Worker], connections: list[socket.socket]
) -> None:
    dispatcher = dispatcher_of(workers)
    dispatcher.hand_over(accepted(connections, 6))
    for worker in workers:
        worker.read()
    workers[0].finish(3)  # worker 0 now holds none, worker 1 three
    dispatcher.hand_over(accepted(connections, 5))  # 3 to catch up; then 1 each, 0 first
    assert [len(worker.read()) for worker in workers] == [4, 1]
    assert [worker.slot.holding for worker in workers] == [4, 4]


def test_the_kind_of_listening_socket_goes_with_the_connection(
    workers: list[Worker], connections: list[socket.socket]
) -> None:
    dispatcher = dispatcher_of(workers[:1])
    dispatcher.hand_over([*accepted(connections, 2, secure=True), *accepted(connections, 1)])
    assert sorted(workers[0].read()) == [False, True, True]


def test_a_large_burst_goes_in_several_messages(
    workers: list[Worker], connections: list[socket.socket]
) -> None:
    dispatcher = dispatcher_of(workers[:1])
    dispatcher.hand_over(accepted(connections, MAX_HANDED * 2 + 3))
    assert len(workers[0].read()) == MAX_HANDED * 2 + 3


def test_a_stopping_worker_gets_no_more_and_loses_nothing(
    workers: list[Worker], connections: list[socket.socket]
) -> None:
    """It shut its end for reading: what was queued is still read, the rest goes to the
    other worker."""
    dispatcher = dispatcher_of(workers)
    dispatcher.hand_over(accepted(connections, 2))
    workers[0].handoff.channel.shutdown(socket.SHUT_RD)
    dispatcher.hand_over(accepted(connections, 4))
    assert [len(worker.read()) for worker in workers] == [1, 5]
    assert not workers[0].slot.accepting
    assert not dispatcher.pending


def test_with_no_worker_to_take_them_connections_wait_in_order(
    workers: list[Worker], connections: list[socket.socket]
) -> None:
    dispatcher = Dispatcher()
    waiting = accepted(connections, 3)
    dispatcher.hand_over(waiting)
    assert list(dispatcher.pending) == waiting
    assert not dispatcher.takes_more
    dispatcher.add(workers[1].slot)  # a worker started: the master flushes
    dispatcher.flush()
    assert len(workers[1].read()) == 3
    assert dispatcher.takes_more


def test_a_full_channel_waits_until_it_can_be_written(
    workers: list[Worker], connections: list[socket.socket]
) -> None:
    dispatcher = dispatcher_of(workers[:1])
    sent = 0
    while not workers[0].slot.full:
        dispatcher.hand_over(accepted(connections, 1))
        sent += 1
        assert sent < 100_000, "the channel never filled"
    assert len(dispatcher.pending) == 1
    assert dispatcher.full_slots() == [workers[0].slot]
    assert not dispatcher.takes_more
    received = len(workers[0].read())
    workers[0].slot.full = False  # the master saw it writable
    dispatcher.flush()
    assert received + len(workers[0].read()) == sent
    assert workers[0].slot.holding == sent


def test_the_end_of_the_channel_reads_as_none(workers: list[Worker]) -> None:
    workers[0].slot.channel.close()
    assert workers[0].handoff.receive() is None


def test_closing_closes_what_never_went(
    workers: list[Worker], connections: list[socket.socket]
) -> None:
    dispatcher = Dispatcher()
    waiting = accepted(connections, 2)
    dispatcher.hand_over(waiting)
    dispatcher.add(workers[0].slot)
    dispatcher.close()
    assert all(sock.fileno() == -1 for sock, _ in waiting)
    assert workers[0].slot.channel.fileno() == -1


def test_a_stopping_worker_gives_back_what_it_had_not_read(
    workers: list[Worker], connections: list[socket.socket]
) -> None:
    """Connections still queued in a stopping worker's channel go back to the master and
    on to another worker: a stopping worker would close them unanswered."""
    dispatcher = dispatcher_of(workers[:1])
    dispatcher.hand_over(accepted(connections, 3, secure=True))
    stopping = workers[0].handoff
    stopping.channel.shutdown(socket.SHUT_RD)
    message = stopping.receive()
    assert message is not None
    stopping.give_back(*message)
    assert all(sock.fileno() == -1 for sock in message[0])  # none kept by the worker
    returned = receive(workers[0].slot.channel)
    assert returned is not None
    sockets, secure = returned
    assert (len(sockets), secure) == (3, True)
    dispatcher.add(workers[1].slot)
    workers[0].slot.accepting = False
    dispatcher.hand_over((sock, secure) for sock in sockets)
    assert workers[1].read() == [True, True, True]
    # The far ends still reach the connections now held by the other worker.
    workers[1].held[0].sendall(b"ping")
    assert any(far.recv(4, socket.MSG_DONTWAIT) == b"ping" for far in connections if _ready(far))


def _ready(sock: socket.socket) -> bool:
    try:
        sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        return False
    return True


def test_when_the_workers_are_told_to_stop_nothing_more_is_handed_to_them(
    workers: list[Worker], connections: list[socket.socket]
) -> None:
    dispatcher = dispatcher_of(workers)
    dispatcher.stop_all()
    dispatcher.hand_over(accepted(connections, 2))
    assert [worker.read() for worker in workers] == [[], []]
    assert len(dispatcher.pending) == 2
