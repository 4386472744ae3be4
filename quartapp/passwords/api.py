"""``POST /api/passwords``: a JSON policy in, passwords and their strength out.

Never cached (``routes.never_cache``). No login and no CSRF token: it changes no state,
it only accepts ``application/json`` (which another site's page cannot send without a CORS
preflight), and it sends no CORS headers, so no other site can read what it returns.
"""

from __future__ import annotations

from quart import Blueprint, Response, jsonify, request
from werkzeug.exceptions import BadRequest, UnsupportedMediaType

from quartapp.passwords.describe import site_summary, summary
from quartapp.passwords.generator import PolicyError
from quartapp.passwords.schema import from_json, generate_batch
from quartapp.ratelimits import Limit, rate_limited
from quartapp.web import NotJSON, decode_json

blueprint = Blueprint("passwords_api", __name__)


def field_errors(errors: dict[str, str]) -> Response:
    response = jsonify(
        {
            "error": {
                "status": 400,
                "message": "Some fields are not valid: " + ", ".join(sorted(errors)) + ".",
                "fields": errors,
            }
        }
    )
    response.status_code = 400
    return response


@blueprint.route("/api/passwords", methods=["POST"])
@rate_limited(Limit.PASSWORDS_API)
async def generate() -> Response:
    if not request.is_json:
        await request.get_data()  # read it anyway, so the connection stays usable
        raise UnsupportedMediaType("Send the policy as JSON (Content-Type: application/json).")
    try:
        document = decode_json(await request.get_data())
    except NotJSON:
        raise BadRequest("The body is not valid JSON (UTF-8, not nested too deep).") from None
    try:
        generator_request = from_json(document)
    except PolicyError as error:
        return field_errors(error.errors)
    batch = generate_batch(generator_request)
    result = {"passwords": batch.passwords, **summary(batch)}
    if generator_request.site is not None:
        result["site"] = site_summary(generator_request.site)
    return jsonify(result)
