"""Security headers, CSRF protection, safe ``next`` redirects and per-address rate limits.

CSRF is the synchronizer-token pattern: a random secret in the signed, HttpOnly session
cookie, echoed by every form as ``csrf_token`` and compared in constant time before any
view runs. It is checked here once for every state-changing request, so no view can
forget it. (WTForms' ``SessionCSRF`` was not used: it raises ``KeyError`` on a token
posted with an empty session, and compares without constant time.)
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Awaitable, Callable
from typing import Any, cast
from urllib.parse import urlsplit

from quart import Quart, Response, current_app, request, session, websocket
from quart_rate_limiter import RateLimit, RateLimiter, rate_limit
from werkzeug.exceptions import BadRequest

from quartapp.config import RateLimitSpec, Settings
from quartapp.ratelimits import SharedRateLimitStore

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
HSTS = "max-age=31536000; includeSubDomains"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
CSRF_FIELD = "csrf_token"
_CSRF_SESSION_KEY = "csrf"


class CSRFError(BadRequest):
    description = (
        "This form's security token is missing or out of date, so nothing was saved. "
        "Go back, reload the page and send the form again."
    )


def csrf_token() -> str:
    """The token forms must echo; made on first use and kept in the session."""
    token = session.get(_CSRF_SESSION_KEY)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        session[_CSRF_SESSION_KEY] = token
    return token


def rotate_csrf_token() -> None:
    """A fresh token at login and logout, so a token seen before cannot be replayed."""
    session.pop(_CSRF_SESSION_KEY, None)


def is_csrf_exempt() -> bool:
    # The JSON API accepts only application/json, which another site's page cannot
    # send without a CORS preflight that we never answer, and it changes no state.
    return request.path.startswith("/api/")


async def check_csrf() -> None:
    if request.method in SAFE_METHODS or is_csrf_exempt():
        return
    form = await request.form
    sent = form.get(CSRF_FIELD, "")
    expected = session.get(_CSRF_SESSION_KEY)
    if isinstance(expected, str) and sent and hmac.compare_digest(sent.encode(), expected.encode()):
        return
    # The form parser skips a body that is not a form: read it, so one over the limit
    # is answered 413 rather than 400.
    await request.get_data()
    raise CSRFError()


def is_safe_redirect(target: str) -> bool:
    """Only a path on this site: no scheme, no host, no backslash or control character.

    Browsers read ``/\\host`` as ``//host`` and drop tabs and newlines, so those count
    as leaving the site too.
    """
    if not target.startswith("/") or target.startswith("//"):
        return False
    if any(char == "\\" or ord(char) < 0x21 or ord(char) == 0x7F for char in target):
        return False
    parts = urlsplit(target)
    return not parts.scheme and not parts.netloc


def safe_next(target: str | None, default: str = "/") -> str:
    return target if target and is_safe_redirect(target) else default


def own_origin() -> str:
    """This request's own origin, as a browser on this site would send it."""
    scheme = {"ws": "http", "wss": "https"}.get(websocket.scheme, websocket.scheme)
    return f"{scheme}://{websocket.host}".lower()


def origin_allowed(origin: str | None) -> bool:
    """A websocket handshake's ``Origin`` must be this site's own (or a configured one):
    browsers send cookies along on cross-site handshakes, so anything else is refused,
    ``null`` and a missing header included."""
    if not origin:
        return False
    settings: Settings = current_app.extensions["settings"]
    allowed = settings.allowed_origins or (own_origin(),)
    return origin.lower().rstrip("/") in allowed


async def add_security_headers(response: Response) -> Response:
    # Async on purpose: Quart runs a plain function hook in a worker thread, every request.
    response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["X-Frame-Options"] = "DENY"
    if request.scheme in {"https", "wss"}:
        response.headers["Strict-Transport-Security"] = HSTS
    return response


async def client_address() -> str:
    """The connection's own address: never a header the client could forge."""
    return request.remote_addr or "unknown"


async def _not_a_post() -> bool:
    return request.method != "POST"


def limit_endpoint(app: Quart, endpoint: str, spec: RateLimitSpec) -> None:
    """Rate-limit the POSTs to one endpoint of this app, per client address.

    The view is wrapped anew for each app, so one app's limits never leak into another's
    (the decorator marks the function object it is given).
    """
    view = cast(Callable[..., Awaitable[Any]], app.view_functions[endpoint])

    @functools.wraps(view)
    async def limited(*args: Any, **kwargs: Any) -> Any:
        return await view(*args, **kwargs)

    limit = RateLimit(spec.count, spec.period, client_address, _not_a_post)
    app.view_functions[endpoint] = rate_limit(limits=[limit])(limited)


def init_app(app: Quart, settings: Settings) -> None:
    # In memory per process; in Redis when configured, so limits hold across workers.
    store = SharedRateLimitStore(settings.redis_url) if settings.redis_url else None
    RateLimiter(app, key_function=client_address, store=store, enabled=settings.rate_limits_enabled)
    app.before_request(check_csrf)
    app.after_request(add_security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
