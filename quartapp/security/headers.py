"""Security headers on every response."""

from __future__ import annotations

from quart import Response, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"


async def add_security_headers(response: Response) -> Response:
    # Async on purpose: Quart runs a plain function hook in a worker thread, every request.
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.scheme in {"https", "wss"}:
        response.headers["Strict-Transport-Security"] = HSTS
    return response
