"""ALLOWED_HOSTS: requests for any other ``Host`` are answered 400 before routing.

Quart builds absolute URLs (redirects, ``url_for(..., _external=True)``) and the websocket
Origin check from the ``Host`` the client sent. Without a list, ``Host: evil.example`` gets
redirects to evil.example, and a DNS-rebinding page whose name points at this server passes
the Origin check as "same site". Flask has ``TRUSTED_HOSTS`` for this; Quart has nothing,
so this ASGI middleware checks every HTTP request and websocket handshake, with Werkzeug's
own matcher (``.journal.example`` allows the name and its subdomains; the port is ignored).
Behind a trusted proxy it runs after the forwarded host is applied (``proxy.py``).
"""

from __future__ import annotations

from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope
from werkzeug.sansio.utils import host_is_trusted

REFUSAL = b"This site does not answer to that host name.\n"
_HEADERS = [
    (b"content-type", b"text/plain; charset=utf-8"),
    (b"content-length", str(len(REFUSAL)).encode()),
    (b"cache-control", b"no-store"),
]


def host_of(scope: Scope) -> str | None:
    for name, value in scope.get("headers", ()):  # type: ignore[attr-defined]
        if name == b"host":
            return bytes(value).decode("latin-1").lower()
    return None


class AllowedHosts:
    def __init__(self, app: ASGIFramework, allowed: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = allowed

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] in {"http", "websocket"} and not host_is_trusted(
            host_of(scope), self.allowed
        ):
            await _refuse(scope, send)
            return
        await self.app(scope, receive, send)


async def _refuse(scope: Scope, send: ASGISendCallable) -> None:
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 400, "headers": _HEADERS})
        await send({"type": "http.response.body", "body": REFUSAL, "more_body": False})
    elif "websocket.http.response" in scope.get("extensions", {}):  # type: ignore[operator]
        await send({"type": "websocket.http.response.start", "status": 400, "headers": _HEADERS})
        await send({"type": "websocket.http.response.body", "body": REFUSAL, "more_body": False})
    else:
        await send({"type": "websocket.close", "code": 1008, "reason": ""})


def allowing_hosts(app: ASGIFramework, allowed: tuple[str, ...]) -> ASGIFramework:
    """``app`` behind the host check; with no list (development), ``app`` as it is."""
    return AllowedHosts(app, allowed) if allowed else app
