"""Writing a live event to thousands of sockets: framed once, written straight to each.

A server's websocket frames are not masked, so without an extension (no
permessage-deflate) one message is the same bytes on every socket (``hub.text_frame``).
hypercorn frames each message again for every socket and takes it through four awaited
layers (its stream, the wsproto connection, the HTTP/1.1 protocol, the TCP server's lock
and drain); at 5,000 sockets that was about half of a post's fan-out. For a socket whose
peer keeps up, the hub writes the frame to the socket's transport itself, in one
synchronous call. That relies on hypercorn writing each of its own frames (the 101
response, pings, pongs, the close) in one call too, so no write lands inside another.

This reaches into hypercorn's objects behind the ASGI ``send`` callable, which are not
part of its API. ``direct_writer`` therefore checks every class on the way and answers
None for anything it does not recognise (another server, the trio worker, HTTP/2, an
extension negotiated), and the connection then sends through ``send`` as any ASGI app.
``decline_compression`` keeps hypercorn from negotiating permessage-deflate, which would
give every socket frames of its own.
tests/live/test_direct.py fails if hypercorn changes underneath; each fallback is logged
once per process, so a deployment that loses the direct writes says why.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
from typing import Any, Protocol

from hypercorn.asyncio.tcp_server import TCPServer
from hypercorn.protocol.h11 import H11Protocol
from hypercorn.protocol.ws_stream import ASGIWebsocketState, WSStream
from hypercorn.typing import ASGISendCallable
from wsproto.connection import ConnectionState

logger = logging.getLogger(__name__)
CUT_OFF_GRACE = 1.0  # seconds a cut-off peer gets to take what was written to it
CUT_OFF_HOLD = 0.02  # seconds between checks that a cut-off socket is still not read
_fallbacks_logged: set[str] = set()


class Transport(Protocol):
    """What is used of an asyncio (or uvloop) transport."""

    def write(self, data: bytes) -> None: ...

    def is_closing(self) -> bool: ...

    def get_write_buffer_size(self) -> int: ...

    def is_reading(self) -> bool: ...

    def pause_reading(self) -> None: ...

    def abort(self) -> None: ...


class DirectWriter:
    """A websocket's transport, for frames written past hypercorn's stream."""

    __slots__ = ("_stream", "_transport")

    def __init__(self, stream: WSStream, transport: Transport) -> None:
        self._stream = stream
        self._transport = transport

    def ready(self) -> bool:
        """Open, and the transport holds nothing of this socket's: its peer keeps up.

        Anything buffered means the peer is slow; its messages then go through the
        connection's bounded queue and hypercorn's drain, so it is closed with 1013 when
        it falls too far behind instead of growing this buffer without end. (Under TLS the
        TCP transport beneath can hold up to its own limit, ~64 KiB, while this is True.)
        The order matters: a closed transport may not answer ``get_write_buffer_size``.
        """
        stream = self._stream
        return (
            stream.state is ASGIWebsocketState.CONNECTED
            and not stream.closed
            and stream.connection.state is ConnectionState.OPEN
            and not self._transport.is_closing()
            and self._transport.get_write_buffer_size() == 0
        )

    def write(self, frame: bytes) -> None:
        self._transport.write(frame)

    def cut_off(self) -> None:
        """End the connection: read no more of what the peer sends, then drop it after
        ``CUT_OFF_GRACE`` seconds (hypercorn then sees the end and tells the app).

        Not at once: a reset makes the peer's system throw away what it had received and
        not yet read, the close frame (and its reason) too, and a peer that floods is
        usually reading as well.
        """
        transport = self._transport
        loop = asyncio.get_running_loop()
        deadline = loop.time() + CUT_OFF_GRACE

        def hold() -> None:
            # hypercorn's stream reader resumes reading once it has emptied its buffer.
            if transport.is_closing():
                return
            if loop.time() >= deadline:
                transport.abort()
                return
            if transport.is_reading():
                transport.pause_reading()
            # In an empty context: a timer keeps the one it was set in (tasks.timeout).
            loop.call_later(CUT_OFF_HOLD, hold, context=contextvars.Context())

        hold()


def _stream(send: ASGISendCallable) -> WSStream | None:
    stream: Any = getattr(send, "__self__", None)
    return stream if type(stream) is WSStream else None


def decline_compression(send: ASGISendCallable) -> None:
    """Before accepting: hypercorn is to negotiate no permessage-deflate for this socket.

    hypercorn accepts the extension whenever a client offers it, and every browser does.
    Its compressor then costs ~96 KiB per socket for as long as it is open (three times a
    plain socket), twice the CPU a message, and a frame of its own for every socket, so
    none of the direct writes. An entry card is a few KiB: the live socket sends it as is.
    """
    stream = _stream(send)
    if stream is not None and stream.state is ASGIWebsocketState.HANDSHAKE:
        stream.handshake.extensions = None  # as if the client had offered none


def direct_writer(send: ASGISendCallable) -> DirectWriter | None:
    """The writer for an accepted websocket, if ``send`` is hypercorn's and frames are plain.

    None unless ``send`` is an accepted HTTP/1.1 websocket stream of hypercorn's asyncio
    worker (on asyncio's loop or uvloop) that negotiated no extension.
    """
    stream = _stream(send)
    if stream is None or stream.state is not ASGIWebsocketState.CONNECTED:
        _log_fallback("the server is not hypercorn's websocket stream")
        return None
    if stream.handshake.extensions is not None:
        _log_fallback("an extension was offered and may be in use")
        return None
    protocol: Any = getattr(stream.send, "__self__", None)
    if type(protocol) is not H11Protocol:
        _log_fallback("the websocket is not on HTTP/1.1")
        return None
    server: Any = getattr(protocol.send, "__self__", None)
    if not isinstance(server, TCPServer):  # or release.py's, which only adds to its end
        _log_fallback("the worker is not hypercorn's asyncio one")
        return None
    transport: Any = server.writer.transport  # typed as its write side; checked below
    if not all(
        hasattr(transport, name)
        for name in (
            "write",
            "is_closing",
            "get_write_buffer_size",
            "is_reading",
            "pause_reading",
            "abort",
        )
    ):
        _log_fallback("the transport is not an asyncio one")
        return None
    return DirectWriter(stream, transport)


def _log_fallback(reason: str) -> None:
    if reason not in _fallbacks_logged:
        _fallbacks_logged.add(reason)
        logger.info("live events go through the server's send: %s", reason)
