"""Trusting a reverse proxy's forwarded headers, only when configured (PROXY_TRUSTED_HOPS).

Without it the client address, scheme and host are the connection's own: a client that
sends ``X-Forwarded-For`` changes nothing, so it cannot dodge a rate limit.
"""

from __future__ import annotations

from hypercorn.middleware import ProxyFixMiddleware
from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, Scope

from quartapp.config import PROXY_HEADERS, Settings

_WEBSOCKET_SCHEMES = {"http": "ws", "https": "wss"}


class WebsocketSchemes:
    """ProxyFixMiddleware copies ``X-Forwarded-Proto: https`` into websocket scopes too,
    where ASGI says ``wss``; Quart would then route the handshake as a plain request (400)."""

    def __init__(self, app: ASGIFramework) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "websocket" and scope["scheme"] in _WEBSOCKET_SCHEMES:
            scope = scope.copy()  # never change a scope in place: the server keeps it
            scope["scheme"] = _WEBSOCKET_SCHEMES[scope["scheme"]]
        await self.app(scope, receive, send)


def trusting_proxy(app: ASGIFramework, settings: Settings) -> ASGIFramework:
    """Behind PROXY_TRUSTED_HOPS proxies, take the client address, scheme and host from the
    headers they add (HTTP and websockets alike): the last N values, those our own proxies
    wrote, never the ones a client sent before them. Without it, ``app`` as it is."""
    if not settings.proxy_trusted_hops:
        return app
    return ProxyFixMiddleware(
        WebsocketSchemes(app),
        mode=PROXY_HEADERS[settings.proxy_headers],
        trusted_hops=settings.proxy_trusted_hops,
    )
