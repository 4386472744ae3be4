"""Small pieces every feature's routes share."""

from __future__ import annotations

import json
from typing import Any

from quart import Response, jsonify, redirect, request, url_for

from quartapp.models import MAX_ID

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "TRACE"})
API_PREFIX = "/api/"

# What a view returns for a page: its HTML, or its HTML and a status.
HtmlAnswer = str | tuple[str, int]


class NotJSON(ValueError):
    """Text that is not JSON: malformed, not UTF-8, or nested deeper than Python parses."""


def decode_json(raw: str | bytes) -> Any:
    """JSON from a client; ``NotJSON`` is the only way it fails.

    ``json.loads`` raises ``RecursionError`` (not a ``ValueError``) for arrays or objects
    nested a few thousand deep: a few kilobytes of ``[`` would otherwise end a handler.
    """
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise NotJSON() from None


def is_api_request() -> bool:
    """JSON in and out, errors included; no CSRF token (see ``security.csrf``)."""
    return request.path.startswith(API_PREFIX)


def see_other(endpoint: str, **values: Any) -> Response:
    """After a POST: the browser GETs the page for ``endpoint`` (303 See Other)."""
    response: Response = redirect(url_for(endpoint, **values), 303)  # type: ignore[assignment]
    return response


def see_other_path(path: str) -> Response:
    """As ``see_other``, to a path already checked to be on this site (``safe_next``)."""
    response: Response = redirect(path, 303)  # type: ignore[assignment]
    return response


def as_id(raw: str | None) -> int | None:
    """A database id from a query string: 1 to ``MAX_ID``, digits only; None otherwise."""
    if raw and raw.isascii() and raw.isdigit() and len(raw) <= 10 and 1 <= int(raw) <= MAX_ID:
        return int(raw)
    return None


def no_store(response: Response) -> Response:
    """Keep this answer out of every cache, the browser's included."""
    response.headers["Cache-Control"] = "no-store"
    return response


def json_answer(body: dict[str, Any], status: int = 200) -> Response:
    """JSON for a page's own script (a passkey, a draft, an image), never cached: a
    refusal is ``{"error": "what was wrong"}``."""
    response = jsonify(body)
    response.status_code = status
    return no_store(response)
