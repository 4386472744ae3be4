"""Security headers on every response."""

from __future__ import annotations

from quart import Response, current_app, request

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"


async def add_security_headers(response: Response) -> Response:
    # Async on purpose: Quart runs a plain function hook in a worker thread, every request.
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    # A page may tighten it: those opened by an e-mailed link send no Referer at all.
    response.headers.setdefault("Referrer-Policy", "same-origin")
    response.headers["X-Frame-Options"] = "DENY"
    if request.scheme in {"https", "wss"}:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


async def keep_signed_in_pages_out_of_caches(response: Response) -> Response:
    """Whatever a signed-in viewer is answered may show their private entries, account or
    forms: no cache keeps it, not the browser's (back button on a shared computer) nor a
    proxy's. Static files stay cacheable; an answer that set its own policy keeps it."""
    endpoint = request.endpoint or ""
    is_static = endpoint == "static" or endpoint.endswith(".static")
    signed_in = current_app.config["QUART_AUTH_COOKIE_NAME"] in request.cookies
    if signed_in and not is_static and "Cache-Control" not in response.headers:
        response.headers["Cache-Control"] = "private, no-store"
    return response
