"""Serving the app with hypercorn's workers, each on listening sockets of its own.

hypercorn's own master (``hypercorn.run.run``, 0.18) binds one socket per address and hands
that same socket to every worker. An asyncio worker accepts up to its backlog of
connections each time the socket is ready, so the worker that woke first took every
connection a client opened at once (wrk's 16, a proxy's keep-alive pool) and the other core
stayed idle. Here the master binds, for each worker, a socket of its own on the same
address with ``SO_REUSEPORT`` (which hypercorn sets when it runs more than one worker):
the kernel hashes each new connection to one of the listening sockets, so the workers get
their shares whoever is awake first. Each connection's worker is a matter of chance,
independent of the others: 16 all on one of two workers is 1 in 32,768, but 4 is 1 in 8.
``SO_REUSEPORT`` would also let a second server of the same user bind beside this one and
take half its connections: the master refuses an address where something already listens.

Everything else is hypercorn's master as it is: the same worker functions, signals
(SIGTERM/SIGINT stop, SIGHUP restarts the workers), reloader, exit status. The master
keeps every worker's sockets open until it exits, so connections that reach a worker's
socket while that worker is being replaced (SIGHUP, ``max_requests``) wait in its queue for
the next one. Unix-socket and ``fd://`` binds cannot be bound twice: those stay one
socket shared by all workers, as with hypercorn.
"""

from __future__ import annotations

import errno
import signal
import socket
from dataclasses import dataclass
from multiprocessing import get_context
from multiprocessing.connection import wait
from multiprocessing.context import BaseContext
from multiprocessing.process import BaseProcess
from multiprocessing.synchronize import Event as EventType
from pathlib import Path
from typing import Any

from hypercorn.config import Config, Sockets
from hypercorn.typing import WorkerFunc
from hypercorn.utils import (
    check_for_updates,
    files_to_watch,
    load_application,
    repr_socket_addr,
    write_pid_file,
)

APPLICATION = "quartapp:create_app()"
WORKER_CLASSES = ("asyncio", "uvloop", "trio")
SHARED_BIND_PREFIXES = ("unix:", "fd://")  # a socket file or a descriptor: one per server
# What a worker's own socket copies from the first one hypercorn bound.
COPIED_OPTIONS = (
    (socket.SOL_SOCKET, socket.SO_REUSEADDR),
    (socket.SOL_SOCKET, socket.SO_REUSEPORT),
    (socket.IPPROTO_TCP, socket.TCP_NODELAY),
)


@dataclass(frozen=True)
class ServeOptions:
    """What ``python -m quartapp serve`` was given; ``None`` leaves the file's value."""

    config_path: Path
    application: str = APPLICATION
    binds: tuple[str, ...] = ()
    workers: int | None = None
    worker_class: str | None = None
    certfile: str | None = None
    keyfile: str | None = None
    access_logfile: str | None = None
    backlog: int | None = None


def load_config(options: ServeOptions) -> Config:
    """hypercorn's settings from its TOML file, the command line's options over them."""
    config = Config.from_toml(options.config_path)
    config.application_path = options.application
    if options.binds:
        config.bind = list(options.binds)
    if options.workers is not None:
        config.workers = options.workers
    if options.worker_class is not None:
        config.worker_class = options.worker_class
    if options.certfile is not None:
        config.certfile = options.certfile
    if options.keyfile is not None:
        config.keyfile = options.keyfile
    if options.access_logfile is not None:
        config.accesslog = options.access_logfile
    if options.backlog is not None:
        config.backlog = options.backlog
    return config


def _worker_function(worker_class: str) -> WorkerFunc:
    if worker_class == "asyncio":
        from hypercorn.asyncio.run import asyncio_worker

        return asyncio_worker
    if worker_class == "uvloop":
        from hypercorn.asyncio.run import uvloop_worker

        return uvloop_worker
    if worker_class == "trio":
        from hypercorn.trio.run import trio_worker

        return trio_worker
    raise ValueError(f"No worker of class {worker_class} exists")


class AddressInUseError(OSError):
    """Another server listens on an address this one was to bind."""


def _refuse_if_listened_on(sock: socket.socket) -> None:
    """With SO_REUSEPORT, binding an address where another server of the same user listens
    succeeds, and the two would split the connections silently (a server left running by
    a botched restart, say). A socket without it cannot bind beside a listener: a probe."""
    probe = socket.socket(sock.family, sock.type)
    try:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the ones it checks
        probe.bind(sock.getsockname())
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        address = repr_socket_addr(sock.family, sock.getsockname())
        raise AddressInUseError(
            errno.EADDRINUSE, f"{address} is in use: another server listens there"
        ) from error
    finally:
        probe.close()


def _own_copy(sock: socket.socket) -> socket.socket:
    """Another socket bound to the same address with the same options (SO_REUSEPORT)."""
    copy = socket.socket(sock.family, sock.type)
    try:
        for level, option in COPIED_OPTIONS:
            copy.setsockopt(level, option, sock.getsockopt(level, option))
        if sock.family == socket.AF_INET6:
            v6only = sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY)
            copy.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, v6only)
        copy.bind(sock.getsockname())  # the bound port, should the bind have asked for 0
    except OSError:
        copy.close()
        raise
    copy.setblocking(False)
    copy.set_inheritable(True)
    return copy


def _copies(binds: list[str], sockets: list[socket.socket]) -> list[socket.socket]:
    """One worker's sockets: its own where the address allows it, else the shared one."""
    return [
        sock if bind.startswith(SHARED_BIND_PREFIXES) else _own_copy(sock)
        for bind, sock in zip(binds, sockets, strict=True)
    ]


def worker_sockets(config: Config) -> list[Sockets]:
    """Listening sockets for each of ``config.workers`` workers (at least one set).

    hypercorn binds the first set (with SO_REUSEPORT when there are several workers);
    the others are bound to the same addresses. QUIC's UDP sockets stay shared.
    """
    first = config.create_sockets()
    sets = [first]
    insecure_binds = config.insecure_bind if config.ssl_enabled else config.bind
    secure_binds = config.bind if config.ssl_enabled else []
    try:
        if config.workers > 1:
            for bind, sock in [
                *zip(secure_binds, first.secure_sockets, strict=True),
                *zip(insecure_binds, first.insecure_sockets, strict=True),
            ]:
                if not bind.startswith(SHARED_BIND_PREFIXES):
                    _refuse_if_listened_on(sock)
        for _ in range(1, config.workers):
            sets.append(
                Sockets(
                    _copies(secure_binds, first.secure_sockets),
                    _copies(insecure_binds, first.insecure_sockets),
                    first.quic_sockets,
                )
            )
    except OSError:
        _close(sets)
        raise
    return sets


def _close(sets: list[Sockets]) -> None:
    for sockets in sets:
        for sock in [*sockets.secure_sockets, *sockets.insecure_sockets, *sockets.quic_sockets]:
            sock.close()


def serve(config: Config) -> int:
    """``hypercorn.run.run``, with each worker given its own listening sockets."""
    if config.pid_path is not None:
        write_pid_file(config.pid_path)
    worker_func = _worker_function(config.worker_class)
    if config.use_reloader and config.workers == 0:
        raise RuntimeError("Cannot reload without workers")
    sets = worker_sockets(config)
    if config.workers == 0:  # hypercorn's way of serving in this process
        worker_func(config, sets[0], None)
        return 0
    try:
        return _supervise(config, worker_func, sets)
    finally:
        _close(sets)


def _supervise(config: Config, worker_func: WorkerFunc, sets: list[Sockets]) -> int:
    """Start a worker on each set of sockets and keep them running, as hypercorn does."""
    if config.use_reloader:
        # Load the application so that the reloader watches its files.
        load_application(config.application_path, config.wsgi_max_body_size)
    context = get_context("spawn")
    shutdown_event = context.Event()
    processes: dict[int, BaseProcess] = {}  # by the index of its sockets in ``sets``
    active = True
    exitcode = 0

    def reload(*_: Any) -> None:
        shutdown_event.set()
        for process in processes.values():
            process.join()
        shutdown_event.clear()

    def shutdown(*_: Any) -> None:
        nonlocal active
        shutdown_event.set()
        active = False

    while active:
        # Workers inherit SIGINT ignored: the shutdown event alone stops them.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _populate(processes, config, worker_func, sets, shutdown_event, context)
        for name in ("SIGINT", "SIGTERM", "SIGBREAK"):
            if hasattr(signal, name):
                signal.signal(getattr(signal, name), shutdown)
        if hasattr(signal, "SIGHUP"):
            signal.signal(signal.SIGHUP, reload)

        if config.use_reloader:
            files = files_to_watch()
            while True:
                finished = wait([process.sentinel for process in processes.values()], timeout=1)
                if check_for_updates(files):
                    reload()
                    break
                if finished:
                    break
        else:
            wait([process.sentinel for process in processes.values()])

        exitcode = _join_exited(processes)
        if exitcode != 0:
            shutdown_event.set()
            active = False

    for process in processes.values():
        process.terminate()
    return _join_exited(processes) if exitcode != 0 else exitcode


def _populate(
    processes: dict[int, BaseProcess],
    config: Config,
    worker_func: WorkerFunc,
    sets: list[Sockets],
    shutdown_event: EventType,
    context: BaseContext,
) -> None:
    """A worker for each set of sockets that has none (at start, or after one exited)."""
    for index, sockets in enumerate(sets):
        if index in processes:
            continue
        process = context.Process(  # type: ignore[attr-defined]
            target=worker_func,
            kwargs={"config": config, "shutdown_event": shutdown_event, "sockets": sockets},
        )
        process.daemon = config.daemon
        process.start()
        processes[index] = process


def _join_exited(processes: dict[int, BaseProcess]) -> int:
    """Forget the workers that exited; the first non-zero exit status among them, or 0."""
    exitcode = 0
    for index, process in list(processes.items()):
        if process.exitcode is not None:
            process.join()
            exitcode = process.exitcode if exitcode == 0 else exitcode
            del processes[index]
    return exitcode
