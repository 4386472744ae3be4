"""A worker process that serves the connections its master hands it (handoff.py).

It is hypercorn's asyncio worker (``hypercorn.asyncio.run.worker_serve``, 0.18) with the
listening sockets replaced by the channel: the same lifespan, the same connection server
(looked up as hypercorn looks it up, so ``quartapp.live.release`` applies), the same
``max_requests`` and graceful shutdown. What it does not do: QUIC, and Windows.

When it is told to stop, it shuts its channel for reading first, so the master hands
new connections to the other workers, then serves what was already queued in the
channel, then waits ``graceful_timeout`` for its connections as hypercorn does. When the
master is gone (the channel ends), it stops too instead of serving on as an orphan.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import socket
import ssl
from collections.abc import Awaitable, Callable, Coroutine
from functools import partial
from multiprocessing.synchronize import Event as EventType
from random import randint
from typing import Any

import hypercorn.asyncio.run
from hypercorn.asyncio.lifespan import Lifespan
from hypercorn.asyncio.statsd import StatsdLogger
from hypercorn.asyncio.worker_context import WorkerContext
from hypercorn.config import Config
from hypercorn.typing import AppWrapper, LifespanState
from hypercorn.utils import (
    ShutdownError,
    check_multiprocess_shutdown_event,
    load_application,
    raise_shutdown,
)

from quartapp.serving.handoff import Handoff

STREAM_LIMIT = 2**16  # asyncio.start_server's reader limit, as hypercorn's worker has
MESSAGES_A_WAKE = 16  # then other work gets its turn; the rest waits in the channel


def run_worker(config: Config, shutdown_event: EventType, handoff: Handoff) -> None:
    """A spawned worker's body (the master passes ``shutdown_event`` by that name:
    quartapp.live.shutdown looks for it)."""
    app = load_application(config.application_path, config.wsgi_max_body_size)
    loop_factory: Callable[[], asyncio.AbstractEventLoop] | None = None
    if config.worker_class == "uvloop":
        # Not a dependency: only for those who choose it (docs/PERFORMANCE.md).
        loop_factory = importlib.import_module("uvloop").new_event_loop
    stop = partial(check_multiprocess_shutdown_event, shutdown_event, asyncio.sleep)
    with asyncio.Runner(debug=config.debug, loop_factory=loop_factory) as runner:
        runner.get_loop().set_exception_handler(_ignore_failed_handshakes)
        runner.run(serve_handed_over(app, config, handoff, stop))


def _ignore_failed_handshakes(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if not isinstance(context.get("exception"), ssl.SSLError):  # as hypercorn's worker
        loop.default_exception_handler(context)


class Receiver:
    """Reads the channel while serving; each connection becomes a task of its own."""

    def __init__(
        self,
        handoff: Handoff,
        serve: Callable[[socket.socket, bool], Coroutine[Any, Any, None]],
        master_gone: asyncio.Event,
    ) -> None:
        self.handoff = handoff
        self.serve = serve
        self.master_gone = master_gone
        self.tasks: set[asyncio.Task[None]] = set()
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(handoff.channel.fileno(), self.read)

    def read(self) -> None:
        for _ in range(MESSAGES_A_WAKE):
            try:
                message = self.handoff.receive()
            except BlockingIOError:
                return
            if message is None:
                self.loop.remove_reader(self.handoff.channel.fileno())
                self.master_gone.set()
                return
            sockets, secure = message
            for sock in sockets:
                task = self.loop.create_task(self.serve(sock, secure))
                self.tasks.add(task)
                task.add_done_callback(self._finished)  # a callback: no frame a connection

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        self.handoff.finish()

    def stop(self) -> None:
        """Take no more (the master's next send fails), and give back what was queued.

        Given back, not served: a stopping worker closes every connection that has no
        request in flight (hypercorn's graceful shutdown), which a connection handed
        over a moment ago, its request not read yet, would be."""
        with contextlib.suppress(OSError):  # already ended by the master
            self.handoff.channel.shutdown(socket.SHUT_RD)
        self.loop.remove_reader(self.handoff.channel.fileno())
        while True:
            try:
                message = self.handoff.receive()
            except BlockingIOError:
                break
            if message is None:
                break
            self.handoff.give_back(*message)
        self.handoff.channel.close()


async def serve_handed_over(
    app: AppWrapper,
    config: Config,
    handoff: Handoff,
    shutdown_trigger: Callable[[], Awaitable[None]],
) -> None:
    """hypercorn's ``worker_serve``, on connections handed over instead of accepted."""
    config.set_statsd_logger_class(StatsdLogger)
    loop = asyncio.get_running_loop()
    lifespan_state: LifespanState = {}
    lifespan = Lifespan(app, config, loop, lifespan_state)
    lifespan_task = loop.create_task(lifespan.handle_lifespan())
    await lifespan.wait_for_startup()
    if lifespan_task.done() and (error := lifespan_task.exception()) is not None:
        raise error

    ssl_context = config.create_ssl_context() if config.ssl_enabled else None
    max_requests = None
    if config.max_requests is not None:
        max_requests = config.max_requests + randint(0, config.max_requests_jitter)  # noqa: S311
    context = WorkerContext(max_requests)

    async def serve(sock: socket.socket, secure: bool) -> None:
        reader = asyncio.StreamReader(limit=STREAM_LIMIT, loop=loop)
        protocol = asyncio.StreamReaderProtocol(reader, loop=loop)
        try:
            transport, _ = await loop.connect_accepted_socket(
                lambda: protocol,
                sock,
                ssl=ssl_context if secure else None,
                ssl_handshake_timeout=config.ssl_handshake_timeout if secure else None,
            )
        except (OSError, ssl.SSLError):  # gone before it was served, or a failed handshake
            sock.close()
            return
        writer = asyncio.StreamWriter(transport, protocol, reader, loop)  # as open_connection
        server = hypercorn.asyncio.run.TCPServer  # type: ignore[attr-defined]
        await server(app, loop, config, context, lifespan_state, reader, writer)

    master_gone = asyncio.Event()
    receiver = Receiver(handoff, serve, master_gone)
    await config.log.info(f"Worker {os.getpid()} serving what its master hands it")
    try:
        async with asyncio.TaskGroup() as task_group:
            task_group.create_task(raise_shutdown(shutdown_trigger))
            task_group.create_task(raise_shutdown(context.terminate.wait))
            task_group.create_task(raise_shutdown(master_gone.wait))
    except BaseExceptionGroup as error:
        _, other_errors = error.split((ShutdownError, KeyboardInterrupt))
        if other_errors is not None:
            raise other_errors from None
    finally:
        receiver.stop()  # before idle connections are closed: give back the unread ones
        await context.terminated.set()
        if receiver.tasks:  # what is still open then is cancelled as the loop closes
            await asyncio.wait(receiver.tasks, timeout=config.graceful_timeout)
        await lifespan.wait_for_shutdown()
        lifespan_task.cancel()
        await lifespan_task
