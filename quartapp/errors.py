"""Error pages for people and JSON errors for the API; never a traceback or a path."""

from __future__ import annotations

import contextlib
import logging

from quart import (
    Quart,
    Response,
    flash,
    has_websocket_context,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
    websocket,
)
from quart_auth import Unauthorized
from werkzeug.exceptions import HTTPException, InternalServerError, RequestEntityTooLarge

from quartapp.security.bodies import too_large_message
from quartapp.security.redirects import referring_page, safe_next
from quartapp.web import is_api_request

logger = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not yours",
    404: "Not found",
    405: "Method not allowed",
    413: "Too large",
    429: "Slow down",
    500: "Something went wrong",
}
DESCRIPTIONS = {
    403: "You can only change what you wrote yourself.",
    404: "There is nothing here. It may have been deleted, or it is private.",
    405: "This address does not accept that kind of request.",
    413: (
        "What you sent is larger than the 1 MiB this site accepts, so nothing was saved. "
        "What you typed is kept in this browser: go back to the form, shorten it and send "
        "it again."
    ),
    429: "Too many attempts from your address. Wait a moment, then try again.",
    500: "The server hit an error. It was logged; please try again.",
}


SESSION_ENDED = (
    "You were logged out (here or on another device), so nothing was saved. Log in, and "
    "what you typed is back in the form."
)


async def _discard_body() -> None:
    """Read what the client sent before answering; hypercorn otherwise drops the
    keep-alive connection without a word and the client's next request fails."""
    if request.method in {"POST", "PUT", "PATCH", "DELETE"}:
        with contextlib.suppress(RequestEntityTooLarge):
            await request.get_data()


def _message(error: HTTPException) -> str:
    code = error.code or 500
    default_description = type(error).description
    if error.description and error.description != default_description:
        return error.description  # a message we wrote for this case
    return DESCRIPTIONS.get(code, error.description or TITLES.get(code, "Error"))


async def render_error(error: HTTPException) -> Response:
    code = error.code or 500
    message = _message(error)
    if code == 413 and (own := too_large_message()) is not None:
        message = own
    if is_api_request():
        response = jsonify({"error": {"status": code, "message": message}})
    elif request.accept_mimetypes.best == "application/json":
        # A page's script (an image upload, a passkey): its answers are {"error": "..."}.
        response = jsonify({"error": message})
    else:
        title = TITLES.get(code, error.name)
        page = await render_template(
            "errors/error.html",
            code=code,
            title=title,
            message=message,
            form_page=_form_page() if code == 413 else None,
        )
        response = Response(page, mimetype="text/html")
    response.status_code = code
    for name, value in error.get_headers():
        if name.lower() not in {"content-type", "content-length"}:
            response.headers[name] = value
    return response


def _form_page() -> str | None:
    """The page of the form that was sent too large, on this site, to go back to: its
    boxes restore what was typed (static/drafts.js keeps it in the browser)."""
    if request.method != "POST":
        return None
    return referring_page(request.referrer, request.host)


def _return_path() -> str:
    """Where to go back after logging in: a page a GET can show, never a POST-only address
    (that would end on a 405): the page the form was on, when it was on this site."""
    if request.method == "GET":
        return request.full_path.rstrip("?")
    if request.url_rule is not None and "GET" in (request.url_rule.methods or ()):
        return request.path
    return referring_page(request.referrer, request.host) or "/"


def init_app(app: Quart) -> None:
    @app.errorhandler(Unauthorized)
    async def unauthorized(error: Unauthorized) -> Response:
        await _discard_body()
        if is_api_request():
            return await render_error(error)
        if request.method == "POST":
            # An ended session (logged out elsewhere, expired): say so on the login page.
            # The text of the form is kept in this browser (static/drafts.js) and comes
            # back in the form after logging in.
            await flash(SESSION_ENDED, "error")
        location = url_for("accounts.login", next=safe_next(_return_path()))
        response: Response = redirect(location, 303)  # type: ignore[assignment]
        return response

    @app.errorhandler(HTTPException)
    async def http_error(error: HTTPException) -> Response:
        if has_websocket_context():  # a refused handshake: a short plain answer
            return Response(TITLES.get(error.code or 500, "Error"), error.code or 500)
        await _discard_body()
        return await render_error(error)

    @app.errorhandler(Exception)
    async def unexpected_error(error: Exception) -> Response:
        if has_websocket_context():
            logger.exception("unhandled error on websocket %r", websocket.path)
            return Response(TITLES[500], 500)
        logger.exception("unhandled error on %s %r", request.method, request.path)
        return await render_error(InternalServerError())
