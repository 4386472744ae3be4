"""CSRF protection: the synchronizer-token pattern, checked once for every state change.

A random secret in the signed, HttpOnly session cookie, echoed by every form as
``csrf_token`` and compared in constant time before any view runs, so no view can forget
it. (WTForms' ``SessionCSRF`` was not used: it raises ``KeyError`` on a token posted with
an empty session, and compares without constant time.)
"""

from __future__ import annotations

import hmac
import secrets

from quart import request, session
from werkzeug.exceptions import BadRequest, TooManyRequests

from quartapp.ratelimits import refusal, refuse_form
from quartapp.web import SAFE_METHODS, is_api_request

CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
_CSRF_SESSION_KEY = "csrf"


STALE_FORM = (
    "This page was opened before you logged in or out (here or in another tab), so nothing "
    "was saved. What you typed is still here: check it and send it again."
)


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


def token_matches(sent: str) -> bool:
    """``sent`` is this session's token (for a JSON call that carries it in a header)."""
    expected = session.get(_CSRF_SESSION_KEY)
    return (
        isinstance(expected, str)
        and bool(sent)
        and hmac.compare_digest(sent.encode(), expected.encode())
    )


def rotate_csrf_token() -> None:
    """A fresh token at login and logout, so a token seen before cannot be replayed."""
    session.pop(_CSRF_SESSION_KEY, None)


async def check_csrf() -> None:
    # The JSON API accepts only application/json, which another site's page cannot
    # send without a CORS preflight that we never answer, and it changes no state.
    if request.method in SAFE_METHODS or is_api_request():
        return
    form = await request.form
    # A form's field, or a header for a script's multipart post (an image upload).
    sent = form.get(CSRF_FIELD, "") or request.headers.get(CSRF_HEADER, "")
    expected = session.get(_CSRF_SESSION_KEY)
    if isinstance(expected, str) and sent and hmac.compare_digest(sent.encode(), expected.encode()):
        return
    # The form parser skips a body that is not a form: read it, so one over the limit
    # is answered 413 rather than 400.
    await request.get_data()
    refused = refusal()
    if refused is not None:  # over its rate limit too: that is the answer (see ratelimits)
        raise TooManyRequests(retry_after=refused.retry_after)
    # A form that holds what someone typed comes back with it, a fresh token and why.
    if not refuse_form(STALE_FORM, 400):
        raise CSRFError()
