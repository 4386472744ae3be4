"""The ``/ws`` protocol, all JSON text frames.

- client -> server, first: ``{"since": <last seq the page has>}``; later only
  ``{"type": "ping"}`` (answered ``{"type": "pong"}``). Anything else, or a frame over
  4 KiB, closes the socket with 1008.
- server -> client: ``{"seq", "type": "created"|"updated"|"deleted", "entry_id", "html"}``
  (no ``html`` for deletes), in seq order, replayed from ``since`` then live; or
  ``{"type": "resync"}`` when ``since`` is older than what the server keeps: reload.
"""

from __future__ import annotations

from typing import Any

from quartapp.web import NotJSON, decode_json

# Close codes (RFC 6455): going away, policy violation, try again later.
GOING_AWAY = 1001
POLICY_VIOLATION = 1008
TRY_AGAIN_LATER = 1013

MAX_MESSAGE = 4096
PONG = '{"type":"pong"}'
RESYNC = '{"type":"resync"}'


class ProtocolError(Exception):
    """The client broke the protocol; the message says how (sent as the close reason)."""


def parse(frame: str | bytes) -> dict[str, Any]:
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
