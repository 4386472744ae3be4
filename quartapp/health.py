"""Liveness: answers without touching the database, so it shows the event loop is alive."""

from __future__ import annotations

from quart import Blueprint, Response, jsonify

blueprint = Blueprint("health", __name__)


@blueprint.route("/healthz")
async def healthz() -> Response:
    response = jsonify({"status": "ok"})
    response.headers["Cache-Control"] = "no-store"
    return response
