"""The master process: it alone accepts, and hands each connection to a worker.

hypercorn's master (``hypercorn.run.run``, 0.18) lets every worker accept from one shared
socket; an asyncio worker accepts up to its backlog each time the socket is ready, so the
first to wake took every connection a client opened at once (wrk's 16, nginx's keep-alive
pool) and the other core stayed idle. A socket per worker with ``SO_REUSEPORT`` leaves it
to the kernel's hash of each connection's addresses: 4 long connections all landed on one
of two workers one time in eight, and so did a proxy's pool, for as long as it lived.

Here the master accepts and sends each connection to the worker that holds the fewest
(handoff.py), as Node's cluster module does: a proxy's 4 connections are 2 and 2, always.
Handing one over costs the master a few microseconds a connection, not a request.

The rest is hypercorn's master: SIGTERM and SIGINT stop the workers gracefully, SIGHUP
replaces them, the reloader restarts them on a change, a worker that exits cleanly
(``max_requests``) is replaced, and one that fails stops the server with its status.
While no worker can take connections (a restart), they wait in the listening socket's
queue: none is refused.
"""

from __future__ import annotations

import contextlib
import ctypes
import enum
import logging
import selectors
import signal
import socket
from collections.abc import Iterator
from multiprocessing import get_context
from multiprocessing.context import SpawnContext
from multiprocessing.process import BaseProcess
from types import FrameType

from hypercorn.config import Config
from hypercorn.logging import Logger
from hypercorn.utils import (
    check_for_updates,
    files_to_watch,
    load_application,
    repr_socket_addr,
)

from quartapp.serving.handoff import (
    Accepted,
    Dispatcher,
    Handoff,
    Slot,
    channel_pair,
    receive,
)
from quartapp.serving.worker import run_worker

logger = logging.getLogger(__name__)

ACCEPTS_A_WAKE = 256  # then the workers' channels and signals get their turn
RELOADER_INTERVAL = 1.0  # seconds between looks at the files, as hypercorn's


class Request(enum.Enum):
    STOP = "stop"
    RELOAD = "reload"


class Master:
    """The workers, their channels, and the listening sockets, in one selector loop."""

    def __init__(self, config: Config, listeners: list[Accepted]) -> None:
        self.config = config
        self.listeners = listeners  # each listening socket, and whether it is TLS
        self.context: SpawnContext = get_context("spawn")
        self.shutdown_event = self.context.Event()
        self.processes: dict[int, BaseProcess] = {}
        self.dispatcher = Dispatcher()
        self.selector = selectors.DefaultSelector()
        self.registered: dict[int, int] = {}  # fd -> the events it is registered for
        self.requests: list[Request] = []
        self.wake_reader, self.wake_writer = socket.socketpair()

    def run(self) -> int:
        for sock in (self.wake_reader, self.wake_writer):
            sock.setblocking(False)
        previous = signal.set_wakeup_fd(self.wake_writer.fileno(), warn_on_full_buffer=False)
        handlers = {
            name: signal.signal(getattr(signal, name), self._on_signal)
            for name in ("SIGINT", "SIGTERM", "SIGHUP")
        }
        try:
            return self._loop()
        finally:
            for name, handler in handlers.items():
                signal.signal(getattr(signal, name), handler)
            signal.set_wakeup_fd(previous)
            self.dispatcher.close()
            self.selector.close()
            self.wake_reader.close()
            self.wake_writer.close()

    def _on_signal(self, signum: int, _: FrameType | None) -> None:
        self.requests.append(Request.RELOAD if signum == signal.SIGHUP else Request.STOP)

    def _loop(self) -> int:
        watched = files_to_watch() if self.config.use_reloader else None
        stopping = reloading = False
        exitcode = 0
        self._watch(self.wake_reader, selectors.EVENT_READ)
        while True:
            if not stopping and not reloading:
                self._populate()
            if (stopping or reloading) and not self.processes:
                if stopping:
                    return exitcode
                reloading = False
                self.shutdown_event.clear()
                continue
            self._watch_listeners(not stopping and not reloading)
            for slot in self.dispatcher.slots.values():
                events = 0 if slot.ended else selectors.EVENT_READ  # connections given back
                self._watch(slot.channel, events | (selectors.EVENT_WRITE if slot.full else 0))
            timeout = RELOADER_INTERVAL if watched is not None else None
            for key, events in self.selector.select(timeout):
                self._ready(key.fileobj, events)  # type: ignore[arg-type]
            status = self._reap()
            if status:
                exitcode = exitcode or status
                self.requests.append(Request.STOP)
            if watched is not None and not reloading and check_for_updates(watched):
                self.requests.append(Request.RELOAD)
            while self.requests:
                request = self.requests.pop(0)
                self.dispatcher.stop_all()  # before they hear it: nothing is handed meanwhile
                self.shutdown_event.set()
                stopping = stopping or request is Request.STOP
                reloading = not stopping
                if watched is not None:
                    watched = files_to_watch()

    def _ready(self, fileobj: socket.socket | int, events: int) -> None:
        if fileobj is self.wake_reader:
            with contextlib.suppress(BlockingIOError):
                while self.wake_reader.recv(256):
                    pass
            return
        for sock, secure in self.listeners:
            if fileobj is sock:
                self._accept(sock, secure)
                return
        for slot in self.dispatcher.slots.values():
            if fileobj is not slot.channel:
                continue
            if events & selectors.EVENT_READ:
                self._take_back(slot)
            if events & selectors.EVENT_WRITE:
                slot.full = False
                self.dispatcher.flush()
            return
        # Otherwise a worker's sentinel: _reap looks at every worker after each wake.

    def _take_back(self, slot: Slot) -> None:
        """Connections a stopping worker gives back go to the others (or wait for new
        ones); the end of its channel means it has nothing more to say."""
        slot.accepting = False
        returned: list[Accepted] = []
        while True:
            try:
                message = receive(slot.channel)
            except BlockingIOError:
                break
            except OSError:  # reset by a worker that died
                message = None
            if message is None:
                slot.ended = True
                break
            sockets, secure = message
            slot.sent -= len(sockets)
            returned += [(sock, secure) for sock in sockets]
        self.dispatcher.hand_over(returned)

    def _accept(self, listener: socket.socket, secure: bool) -> None:
        accepted: list[Accepted] = []
        for _ in range(ACCEPTS_A_WAKE):
            try:
                connection, _ = listener.accept()
            except (BlockingIOError, InterruptedError):
                break
            except ConnectionAbortedError:  # reset by the client while it waited
                continue
            except OSError as error:  # out of descriptors, say: try again on the next wake
                logger.error("accepting a connection failed: %s", error)
                break
            accepted.append((connection, secure))
        self.dispatcher.hand_over(accepted)

    def _watch_listeners(self, wanted: bool) -> None:
        events = selectors.EVENT_READ if wanted and self.dispatcher.takes_more else 0
        for sock, _ in self.listeners:
            self._watch(sock, events)

    def _watch(self, fileobj: socket.socket | int, events: int) -> None:
        """Have the selector watch ``fileobj`` for ``events`` (0: not at all)."""
        fd = fileobj if isinstance(fileobj, int) else fileobj.fileno()
        current = self.registered.get(fd, 0)
        if events == current:
            return
        if not events:
            self.selector.unregister(fd)
            del self.registered[fd]
        elif not current:
            self.selector.register(fileobj, events)
            self.registered[fd] = events
        else:
            self.selector.modify(fileobj, events)
            self.registered[fd] = events

    def _populate(self) -> None:
        """A worker in every slot that has none (at start, after a restart or an exit)."""
        for index in range(self.config.workers):
            if index in self.processes:
                continue
            master_end, worker_end = channel_pair()
            finished = self.context.RawValue(ctypes.c_uint64, 0)
            handoff = Handoff(worker_end, finished)
            process = self.context.Process(
                target=run_worker,
                kwargs={
                    "config": self.config,
                    "shutdown_event": self.shutdown_event,
                    "handoff": handoff,
                },
            )
            process.daemon = self.config.daemon
            with _sigint_ignored():  # Ctrl-C reaches the group: the master stops them
                process.start()
            worker_end.close()  # the worker has its own copy
            self.processes[index] = process
            self.dispatcher.add(Slot(index, master_end, finished))
            self._watch(process.sentinel, selectors.EVENT_READ)
        self.dispatcher.flush()  # what waited for a worker

    def _reap(self) -> int:
        """Forget the workers that exited; the first non-zero exit status among them."""
        exitcode = 0
        for index, process in list(self.processes.items()):
            if process.exitcode is None:
                continue
            self._watch(process.sentinel, 0)
            slot = self.dispatcher.slots.get(index)
            if slot is not None:
                self._watch(slot.channel, 0)
            process.join()
            exitcode = exitcode or process.exitcode
            del self.processes[index]
            self.dispatcher.remove(index)
            if exitcode:
                logger.error("worker %d (pid %d) exited with %d", index, process.pid, exitcode)
        return exitcode


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """A worker started meanwhile keeps SIGINT ignored (Python leaves an ignored SIGINT
    alone), so only the shutdown event stops it."""
    handler = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, handler)


def supervise(config: Config, listeners: list[Accepted]) -> int:
    """Serve with ``config.workers`` workers until told to stop; the exit status."""
    if config.use_reloader:
        # Load the application so that the reloader watches its files.
        load_application(config.application_path, config.wsgi_max_body_size)
    # hypercorn's log, as its workers would say it; not ``config.log``, which would then be
    # pickled for the workers, and hypercorn's Logger cannot be.
    error_log = Logger(config).error_logger
    for sock, secure in listeners:
        sock.listen(config.backlog)
        sock.setblocking(False)
        address = repr_socket_addr(sock.family, sock.getsockname())
        if error_log is not None:
            scheme = "https" if secure else "http"
            error_log.info(f"Running on {scheme}://{address} (CTRL + C to quit)")
    return Master(config, listeners).run()
