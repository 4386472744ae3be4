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
gh-100348). ``ReleasingTCPServer`` breaks both once the connection has ended, when nothing
uses them any more, whether or not the connection ever carried a request (a load
balancer's TCP check does not).

``install`` has hypercorn's asyncio worker serve every later connection of the process with
it: the worker makes each connection's server with the name ``TCPServer`` of its ``run``
module, which it looks up as the connection comes. That is not part of hypercorn's API;
``install`` replaces only hypercorn's own class there, and says so in the log when it finds
something else. tests/live/test_memory.py fails if hypercorn changes underneath.
"""

from __future__ import annotations

import logging

import hypercorn.asyncio.run
from hypercorn.asyncio.tcp_server import TCPServer

logger = logging.getLogger(__name__)


class ReleasingTCPServer(TCPServer):
    """hypercorn's connection, which lets go of its cycles when it has ended."""

    async def run(self) -> None:
        try:
            await super().run()
        finally:
            self._release()

    def _release(self) -> None:
        # The ring's only reference to the protocol side: it, and all that hangs off it,
        # goes, and then this server.
        vars(self).pop("protocol", None)
        transport = self.writer.transport
        if transport.is_closing() and vars(transport).get("_read_ready_cb") is not None:
            vars(transport)["_read_ready_cb"] = None


def install() -> None:
    """Serve this process's later connections with ``ReleasingTCPServer``."""
    serving = hypercorn.asyncio.run.TCPServer
    if serving is ReleasingTCPServer:
        return
    if serving is not TCPServer:
        logger.info(
            "closed connections wait for a garbage collection: hypercorn serves them with %r",
            serving,
        )
        return
    hypercorn.asyncio.run.TCPServer = ReleasingTCPServer  # type: ignore[misc]
