"""Liveness and readiness.

``/healthz`` answers without touching anything, so it shows the event loop is alive.
``/readyz`` answers 200 only when the database (and Redis, when configured) answer, so a
load balancer sends traffic only to workers that can serve it.
"""

from __future__ import annotations

import asyncio
import logging

from quart import Blueprint, Response, jsonify
from sqlalchemy import text

from quartapp.services import services
from quartapp.web import no_store

blueprint = Blueprint("health", __name__)
logger = logging.getLogger(__name__)

CHECK_TIMEOUT = 2.0  # seconds for each dependency


def _answer(body: dict[str, object], status: int = 200) -> Response:
    response = jsonify(body)
    response.status_code = status
    return no_store(response)


@blueprint.route("/healthz")
async def healthz() -> Response:
    return _answer({"status": "ok"})


async def _database_answers() -> None:
    async with services().database.reader() as session:
        await session.execute(text("SELECT 1"))


@blueprint.route("/readyz")
async def readyz() -> Response:
    checks = {"database": _database_answers()}
    if services().settings.redis_url:
        checks["redis"] = services().broker.ping()
    failed = {}
    for name, check in checks.items():
        try:
            await asyncio.wait_for(check, CHECK_TIMEOUT)
        except Exception as error:  # any failure means "not ready"; the kind is enough
            failed[name] = f"{name} did not answer ({type(error).__name__})"
            logger.warning("readiness: %s", failed[name])
    if failed:
        return _answer({"status": "unavailable", "reasons": failed}, 503)
    return _answer({"status": "ready"})
