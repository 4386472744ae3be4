"""A closed connection is freed by reference counting, not by a full garbage collection.

The app tunes the collector for thousands of open sockets (``tune_garbage_collector``):
the young generation is collected rarely, so whatever lives across a few collections (any
socket open for more than a moment) ends up in the oldest generation, which only a full
collection scans, and those are rare by design. Anything of a closed connection left in a
reference cycle stays until then: waves of 1,000 websockets opened and closed grew a
worker by ~25 MiB each (docs/PERFORMANCE.md). So nothing of a closed connection may sit
in a cycle.

hypercorn (0.18) makes one for every TCP connection: its ``TCPServer`` holds its protocol,
whose ``send`` is the server's bound ``protocol_send``, and the connection's streams,
buffers, locks and task group hang off them. Python 3.11's socket transport makes another:
it keeps its own bound read callback after it closed (3.12 drops it in ``close()``,
gh-100348). A reset connection ends in an exception whose traceback holds the frames that
saw it, the server's among them, while the reader keeps the exception. ``ReleasingTCPServer``
breaks all three once the connection has ended, when nothing uses them any more, whether or
not the connection ever carried a request (a load balancer's TCP check does not).

And a closed connection must end at once. hypercorn's websocket ping loop sleeps
``websocket_ping_interval`` (20 s) before it sees that its stream closed, and its
keep-alive timer runs out ``keep_alive_timeout`` (5 s) after a client closed an idle
connection; the connection's task, with everything above, waits for both. Each connection
gets a context of its own whose sleep ends when the connection has, and stops its
keep-alive timer once there is nothing more to read.

``install`` has hypercorn's asyncio worker serve every later connection of the process with
it: the worker makes each connection's server with the name ``TCPServer`` of its ``run``
module, which it looks up as the connection comes. That is not part of hypercorn's API;
``install`` replaces only hypercorn's own class there, and says so in the log when it finds
something else. tests/live/test_memory.py fails if hypercorn changes underneath.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, cast

import hypercorn.asyncio.run
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.asyncio.worker_context import WorkerContext as AsyncioWorkerContext
from hypercorn.typing import WorkerContext

logger = logging.getLogger(__name__)


class ConnectionContext:
    """The worker's context (hypercorn's ``WorkerContext``) for one connection, whose
    sleeps end once the connection has ended.

    Lean, as every open socket has one and its ping loop sleeps in it: a future and a
    timer a sleep, as ``asyncio.sleep`` takes, and an empty context for the timer.
    """

    __slots__ = (
        "_ended",
        "_owed",
        "_waiter",
        "event_class",
        "mark_request",
        "single_task_class",
        "terminate",
        "terminated",
        "time",
    )

    def __init__(self, worker: WorkerContext) -> None:
        self.event_class = worker.event_class
        self.single_task_class = worker.single_task_class
        self.terminate = worker.terminate
        self.terminated = worker.terminated
        self.mark_request = worker.mark_request  # the worker's count (max_requests)
        self.time = worker.time
        self._ended = False
        self._owed = False  # ended while awake: the next sleep ends at once
        self._waiter: asyncio.Future[None] | None = None

    def end(self) -> None:
        """The connection has ended: wake its sleep, or end the next one at once."""
        if self._ended:
            return
        self._ended = True
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        else:
            self._owed = True

    async def sleep(self, wait: float) -> None:
        if self._ended:
            if self._owed:
                self._owed = False
                return
            await asyncio.sleep(wait)  # woken once already: as hypercorn's, never a busy loop
            return
        loop = asyncio.get_running_loop()
        self._waiter = waiter = loop.create_future()
        # In an empty context: a cancelled timer keeps its context until its time came.
        timer = loop.call_later(wait, _wake, waiter, context=contextvars.Context())
        try:
            await waiter
        finally:
            timer.cancel()
            self._waiter = None


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


class ReleasingTCPServer(TCPServer):
    """hypercorn's connection, which lets go of its cycles when it has ended."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # It has all of the worker's context that a connection uses (hypercorn.typing).
        self.context = cast(AsyncioWorkerContext, ConnectionContext(self.context))

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            self._release()

    async def _read_data(self) -> None:
        try:
            await super()._read_data()  # ends once the peer is gone or the socket closed
        finally:
            self._ended()
        # Nothing more comes, so no keep-alive to time out: hypercorn stops its timer only
        # after its task group, which waits for the timer (``keep_alive_timeout``) first.
        await self.idle_task.stop()

    def _ended(self) -> None:
        context = self.context
        if isinstance(context, ConnectionContext):
            context.end()

    def _release(self) -> None:
        self._ended()
        # The ring's only reference to the protocol side: it, and all that hangs off it,
        # goes, and then this server.
        vars(self).pop("protocol", None)
        transport = self.writer.transport
        if transport.is_closing() and vars(transport).get("_read_ready_cb") is not None:
            vars(transport)["_read_ready_cb"] = None
        # A reset connection ends in an exception that the reader and the writer's close
        # future keep; raised through hypercorn's awaits, its traceback took their frames,
        # the writer's and this server's among them: a cycle.
        error = self.reader.exception()
        if error is not None:
            error.__traceback__ = None


def install() -> None:
    """Serve this process's later connections with ``ReleasingTCPServer``."""
    serving = hypercorn.asyncio.run.TCPServer  # type: ignore[attr-defined]
    if serving is ReleasingTCPServer:
        return
    if serving is not TCPServer:
        logger.info(
            "closed connections wait for a garbage collection: hypercorn serves them with %r",
            serving,
        )
        return
    hypercorn.asyncio.run.TCPServer = ReleasingTCPServer  # type: ignore[attr-defined]
