"""Which pages may open ``/ws``: browsers send cookies along on cross-site handshakes
(cross-site websocket hijacking), so the ``Origin`` must be the site's own."""

from __future__ import annotations

from quart import websocket


def own_origin() -> str:
    """This handshake's own origin, as a browser on this site would send it."""
    scheme = {"ws": "http", "wss": "https"}.get(websocket.scheme, websocket.scheme)
    return f"{scheme}://{websocket.host}".lower()


def origin_allowed(origin: str | None, configured: tuple[str, ...]) -> bool:
    """The site's own origin, or one of ``configured`` when there are any; a missing
    header and ``null`` are refused."""
    if not origin:
        return False
    allowed = configured or (own_origin(),)
    return origin.lower().rstrip("/") in allowed
