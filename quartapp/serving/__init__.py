"""Serving the app: hypercorn's settings, a master that accepts, and workers it feeds.

``python -m quartapp serve`` reads hypercorn's TOML file and command-line options
(``load_config``), binds each address once, and runs a master (master.py) that accepts
every connection and hands it to the worker holding the fewest (handoff.py); the workers
(worker.py) are hypercorn's asyncio worker, fed from that channel instead of a listening
socket. Unix-socket and ``fd://`` binds are accepted and handed over the same way.

``workers = 0`` serves in this one process with hypercorn's own worker, as hypercorn does.
"""

from __future__ import annotations

import copy
import errno
from dataclasses import dataclass
from pathlib import Path

from hypercorn.asyncio.run import asyncio_worker, uvloop_worker
from hypercorn.config import Config
from hypercorn.utils import write_pid_file

from quartapp.serving.handoff import Accepted
from quartapp.serving.master import supervise

APPLICATION = "quartapp:create_app()"
WORKER_CLASSES = ("asyncio", "uvloop")  # Quart runs on asyncio: not trio


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


class AddressInUseError(OSError):
    """Another server listens on an address this one was to bind."""


class UnsupportedError(ValueError):
    """A setting of hypercorn's that this command does not serve."""


def listening_sockets(config: Config) -> list[Accepted]:
    """Every address bound once, for the master alone: each listening socket, and whether
    it is TLS. Without ``SO_REUSEPORT`` (which hypercorn sets when it runs several
    workers), so an address where another server listens is refused, not shared."""
    alone = copy.copy(config)
    alone.workers = 1
    try:
        sockets = alone.create_sockets()
    except OSError as error:
        if error.errno != errno.EADDRINUSE:
            raise
        addresses = ", ".join(config.bind)
        raise AddressInUseError(
            errno.EADDRINUSE, f"{addresses} is in use: another server listens there"
        ) from error
    return [(sock, True) for sock in sockets.secure_sockets] + [
        (sock, False) for sock in sockets.insecure_sockets
    ]


def serve(config: Config) -> int:
    """Serve until stopped (SIGTERM, SIGINT); the exit status."""
    if config.quic_bind:
        raise UnsupportedError("QUIC (quic_bind) is not served: use hypercorn itself for it")
    if config.worker_class not in WORKER_CLASSES:
        raise UnsupportedError(f"no worker of class {config.worker_class!r}")
    if config.use_reloader and config.workers == 0:
        raise UnsupportedError("cannot reload without workers")
    if config.pid_path is not None:
        write_pid_file(config.pid_path)
    if config.workers == 0:  # hypercorn's way of serving in this process
        worker = asyncio_worker if config.worker_class == "asyncio" else uvloop_worker
        worker(config, config.create_sockets(), None)
        return 0
    listeners = listening_sockets(config)
    try:
        return supervise(config, listeners)
    finally:
        for sock, _ in listeners:
            sock.close()
