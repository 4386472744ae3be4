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
buffers, locks and task group hang off them. ``release_when_closed`` breaks that ring once
the task serving the connection has ended, when nothing uses the protocol any more.

This reaches into hypercorn's objects behind the ASGI ``send`` (as ``direct.py`` does) and
into the task groups' parent task, checking every class on the way: anything it does not
recognise (another server, the trio worker) is left as it is and logged once.
tests/live/test_memory.py fails if hypercorn changes underneath.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import weakref
from typing import Any

from hypercorn.asyncio.task_group import TaskGroup
from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.protocol.h2 import H2Protocol
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.http_stream import HTTPStream
from hypercorn.protocol.ws_stream import WSStream
from hypercorn.typing import ASGISendCallable

logger = logging.getLogger(__name__)
_fallbacks_logged: set[str] = set()
# Servers whose release is arranged: a keep-alive connection serves many requests.
_arranged: weakref.WeakSet[TCPServer] = weakref.WeakSet()


def release_when_closed(send: ASGISendCallable) -> None:
    """Once hypercorn's connection behind ``send`` has ended, break its reference ring."""
    server = _server(send)
    if server is None or server in _arranged:
        return
    task = _connection_task(server)
    if task is None:
        return
    _arranged.add(server)
    # Weakly: the task would otherwise hold the server, and the server (through its task
    # group) the task.
    task.add_done_callback(functools.partial(_release, weakref.ref(server)))


def _release(server: weakref.ref[TCPServer], _: object) -> None:
    ended = server()
    if ended is not None:
        vars(ended).pop("protocol", None)  # its only reference: the protocol side is freed


def _server(send: ASGISendCallable) -> TCPServer | None:
    stream: Any = getattr(send, "__self__", None)
    if type(stream) not in (HTTPStream, WSStream):
        _log_fallback("the server is not hypercorn's HTTP or websocket stream")
        return None
    protocol: Any = getattr(stream.send, "__self__", None)
    if type(protocol) not in (H11Protocol, H2Protocol):
        _log_fallback("the stream is not on hypercorn's HTTP/1.1 or HTTP/2 protocol")
        return None
    server: Any = getattr(protocol.send, "__self__", None)
    if type(server) is not TCPServer:
        _log_fallback("the worker is not hypercorn's asyncio one")
        return None
    return server


def _connection_task(server: TCPServer) -> asyncio.Task[Any] | None:
    """The task running ``server``: its task group's parent, set as the connection began."""
    group = getattr(server, "_task_group", None)
    inner = getattr(group, "_task_group", None)
    task = getattr(inner, "_parent_task", None)
    if type(group) is not TaskGroup or not isinstance(task, asyncio.Task):
        _log_fallback("hypercorn's connection task is not where it was")
        return None
    return None if task.done() else task


def _log_fallback(reason: str) -> None:
    if reason not in _fallbacks_logged:
        _fallbacks_logged.add(reason)
        logger.info("closed connections wait for a garbage collection: %s", reason)
