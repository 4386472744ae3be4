"""Security headers, CSRF protection, safe ``next`` redirects and per-address rate limits.

CSRF is the synchronizer-token pattern: a random secret in the signed, HttpOnly session
cookie, echoed by every form as ``csrf_token`` and compared in constant time before any
view runs. It is checked here once for every state-changing request, so no view can
forget it. (WTForms' ``SessionCSRF`` was not used: it raises ``KeyError`` on a token
posted with an empty session, and compares without constant time.)
"""

from __future__ import annotations

import hmac
import math
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from itertools import chain
from urllib.parse import urlsplit

from quart import Quart, Response, current_app, request, session, websocket
from werkzeug.exceptions import BadRequest, TooManyRequests

from quartapp.config import RateLimitSpec, Settings
from quartapp.ratelimits import LimitStore, MemoryLimitStore, RedisLimitStore

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


def _with_nul(values: Iterable[tuple[str, str]]) -> str | None:
    return next((name for name, value in values if "\x00" in value), None)


async def refuse_nul_characters() -> None:
    """PostgreSQL cannot store U+0000 in text, nor compare with it (SQLite can): refuse it
    in the address and every field alike, before a query fails with it as a 500."""
    if request.method in SAFE_METHODS:
        fields = request.args.items(multi=True)
    else:
        fields = chain(request.args.items(multi=True), (await request.form).items(multi=True))
    if "\x00" in request.path:
        where = "The address"
    elif (name := _with_nul(fields)) is not None:
        where = f"The field {name.replace(chr(0), '')[:40]!r}"
    else:
        return
    await request.get_data()  # read the body before answering (see errors.py)
    raise BadRequest(f"{where} contains a NUL character (U+0000), which is not accepted.")


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


@dataclass
class RateLimits:
    """The POST limits of this app's endpoints, per client address, and where they count."""

    store: LimitStore
    enabled: bool
    by_endpoint: dict[str, RateLimitSpec] = field(default_factory=dict)


def limit_endpoint(app: Quart, endpoint: str, spec: RateLimitSpec) -> None:
    """Rate-limit the POSTs to one endpoint of this app, per client address."""
    if endpoint not in app.view_functions:
        raise LookupError(f"no endpoint {endpoint!r} to limit")
    limits: RateLimits = app.extensions["rate_limits"]
    limits.by_endpoint[endpoint] = spec


async def enforce_rate_limits() -> None:
    """Before the view (and before CSRF): count this POST, or refuse it with a 429."""
    limits: RateLimits = current_app.extensions["rate_limits"]
    spec = limits.by_endpoint.get(request.endpoint or "")
    if not limits.enabled or spec is None or request.method != "POST":
        return
    wait = await limits.store.hit(f"{request.endpoint}:{await client_address()}", spec)
    if wait is not None:
        raise TooManyRequests(retry_after=max(1, math.ceil(wait)))


def init_app(app: Quart, settings: Settings) -> None:
    # In memory per process; in Redis when configured, so limits hold across workers.
    store: LimitStore = (
        RedisLimitStore(settings.redis_url, settings.redis_prefix)
        if settings.redis_url
        else MemoryLimitStore()
    )
    app.extensions["rate_limits"] = RateLimits(store, settings.rate_limits_enabled)
    app.before_serving(store.start)
    app.after_serving(store.stop)
    app.before_request(enforce_rate_limits)
    app.before_request(check_csrf)
    app.before_request(refuse_nul_characters)
    app.after_request(add_security_headers)
    app.jinja_env.globals["csrf_token"] = csrf_token
