"""The ``/ws`` protocol, all JSON text frames.

- client -> server, first: ``{"since": <last seq the page has>}``; later only
  ``{"type": "ping"}`` (answered ``{"type": "pong"}``), at most ``PING_BURST`` in any
  ``PING_PERIOD`` seconds. Anything else, a frame over 4 KiB or one frame too many closes
  the socket with 1008.
- server -> client: ``{"seq", "type": "created"|"updated"|"deleted", "entry_id", "html"}``
  (no ``html`` for deletes), in seq order, replayed from ``since`` then live; or
  ``{"type": "resync"}`` when ``since`` is older than what the server keeps: reload.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from quartapp.web import NotJSON, decode_json

# Close codes (RFC 6455): going away, policy violation, try again later.
GOING_AWAY = 1001
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013

MAX_MESSAGE = 4096
# The page sends no pings at all (the server's own websocket pings keep it alive); a
# client that wants to check the line needs one every few seconds, not more.
PING_BURST = 10
PING_PERIOD = 10.0
PONG = '{"type":"pong"}'
SESSION_ENDED = "session ended"  # the close reason when the socket's login is over
RESYNC = '{"type":"resync"}'


class _Overflow(bytes):
    """The type of ``OVERFLOW`` alone: no frame a client sends is one."""


# What the handler reads in place of the frames a client sent past the inbound bound.
OVERFLOW: bytes = _Overflow()
TOO_MANY = "too many messages"


class ProtocolError(Exception):
    """The client broke the protocol; the message says how (sent as the close reason)."""


def parse(frame: str | bytes) -> dict[str, Any]:
    if frame is OVERFLOW:
        raise ProtocolError(TOO_MANY)
    if len(frame) > MAX_MESSAGE:
        raise ProtocolError("message too large")
    try:
        document = decode_json(frame)
    except NotJSON:
        raise ProtocolError("messages must be JSON") from None
    if not isinstance(document, dict):
        raise ProtocolError("messages must be JSON objects")
    return document


def parse_since(document: dict[str, Any]) -> int:
    since = document.get("since")
    if set(document) != {"since"} or not isinstance(since, int) or isinstance(since, bool):
        raise ProtocolError('the first message must be {"since": <seq>}')
    if since < 0:
        raise ProtocolError("since must not be negative")
    return since


def parse_ping(document: dict[str, Any]) -> None:
    if document != {"type": "ping"}:
        raise ProtocolError('only {"type": "ping"} is accepted here')


class FrameBudget:
    """At most ``count`` frames in any ``period`` seconds (GCRA, as ``ratelimits``).

    A client that floods frames is closed as soon as it is over, rather than having each
    frame read, parsed and answered as fast as it can send them.
    """

    __slots__ = ("_clock", "_interval", "_tat", "_tolerance")

    def __init__(
        self,
        count: int = PING_BURST,
        period: float = PING_PERIOD,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._interval = period / count
        self._tolerance = period - self._interval
        self._clock = clock
        self._tat = clock()

    def spend(self) -> bool:
        """Count one frame; False (and nothing counted) when it is one too many."""
        now = self._clock()
        tat = max(self._tat, now)
        if tat - now > self._tolerance:
            return False
        self._tat = tat + self._interval
        return True
