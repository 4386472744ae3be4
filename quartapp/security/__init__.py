"""What every request passes through: rate limits, CSRF, input checks, security headers.

``install`` registers them in the one order that is right: a POST is counted against its
rate limit before anything else (a flood without tokens still counts), then its CSRF token
is checked, then its fields; every response gets the headers, and no answer to a
signed-in viewer is cached.
"""

from __future__ import annotations

from quart import Quart

from quartapp import ratelimits
from quartapp.security.bodies import allow_larger_bodies
from quartapp.security.csrf import check_csrf, csrf_token
from quartapp.security.headers import add_security_headers, keep_signed_in_pages_out_of_caches
from quartapp.security.input import refuse_nul_characters


def install(
    app: Quart, limits: ratelimits.RateLimits, account_of_request: ratelimits.AccountOfRequest
) -> None:
    app.before_request(allow_larger_bodies)  # before anything reads a body
    ratelimits.install(app, limits, account_of_request)
    app.before_request(check_csrf)
    app.before_request(refuse_nul_characters)
    app.after_request(add_security_headers)
    app.after_request(keep_signed_in_pages_out_of_caches)
    app.jinja_env.globals["csrf_token"] = csrf_token
