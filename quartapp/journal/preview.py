"""``POST /api/preview``: an entry's Markdown in, the HTML its page would show out, from
the same renderer that stores it, so a preview is exactly what posting gives.

For a signed-in writer only, with the page's CSRF token in an ``X-CSRF-Token`` header
(an API path skips the form check in ``security.csrf``; a preview changes nothing, but it
spends the renderer, which no other site's page may make us do), and rate limited.
"""

from __future__ import annotations

from quart import Blueprint, Response, jsonify, request
from quart_auth import login_required
from werkzeug.exceptions import BadRequest, Forbidden, UnsupportedMediaType

from quartapp.journal.forms import BODY_MAX
from quartapp.journal.render import RenderFailed, RenderTimeout
from quartapp.ratelimits import Limit, rate_limited
from quartapp.security.csrf import CSRF_HEADER, token_matches
from quartapp.services import services
from quartapp.web import NotJSON, decode_json

blueprint = Blueprint("preview", __name__)


def _check_token() -> None:
    if not token_matches(request.headers.get(CSRF_HEADER, "")):
        raise Forbidden(
            f"Send the page's security token in the {CSRF_HEADER} header (reload the page "
            "if you logged in or out since)."
        )


@blueprint.route("/api/preview", methods=["POST"])
@rate_limited(Limit.DRAFTS)
@login_required
async def preview() -> Response:
    if not request.is_json:
        await request.get_data()
        raise UnsupportedMediaType('Send {"body": "..."} as JSON (Content-Type: application/json).')
    _check_token()
    try:
        document = decode_json(await request.get_data())
    except NotJSON:
        raise BadRequest("The body is not valid JSON (UTF-8, not nested too deep).") from None
    body = document.get("body") if isinstance(document, dict) else None
    if not isinstance(body, str):
        raise BadRequest('Send {"body": "..."}: the entry\'s Markdown as a string.')
    if len(body) > BODY_MAX:
        raise BadRequest(
            f"Entries are at most {BODY_MAX:,} characters; this one has {len(body):,}."
        )
    try:
        html = await services().renderer.render(body)
    except RenderTimeout:
        raise BadRequest(
            "This entry's Markdown is too complex to show (it took too long to render)."
        ) from None
    except RenderFailed:
        raise BadRequest("The preview could not be rendered just now: try again.") from None
    response = jsonify({"html": html})
    response.headers["Cache-Control"] = "no-store"
    return response
