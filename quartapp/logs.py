"""Logging: one line per request, a request id, and nothing a client can forge.

Every value that comes from a client is escaped before it reaches a log line, so a path or
username with a newline cannot start a fake line. ``LOG_FORMAT=json`` writes one JSON object
a line instead (JSON escapes control characters itself).
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time

from quart import Quart, Response, g, request

access_logger = logging.getLogger("quartapp.access")
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def escape(value: str) -> str:
    """Control and other unprintable characters as escapes, so one value stays one line."""
    return "".join(
        char if char.isprintable() else char.encode("unicode_escape").decode("ascii")
        for char in value
    )


class JSONFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "fields", {}),
        }
        if record.exc_info:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        # The message's own arguments may come from clients: escape the whole line.
        return escape(super().format(record)) if not record.exc_info else super().format(record)


class EscapeFilter(logging.Filter):
    """Escapes a logger's whole message, whichever handler and format print it."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = escape(record.getMessage())
        record.args = None
        return True


def configure(level: str, log_format: str) -> None:
    """A handler on the app's loggers (stderr), once per process; and an escaping filter on
    hypercorn's access log, should it be turned on: the paths it prints come from clients."""
    hypercorn_access = logging.getLogger("hypercorn.access")
    if not any(isinstance(item, EscapeFilter) for item in hypercorn_access.filters):
        hypercorn_access.addFilter(EscapeFilter())
    logger = logging.getLogger("quartapp")
    logger.setLevel(level)
    if any(getattr(handler, "quartapp", False) for handler in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JSONFormatter() if log_format == "json" else TextFormatter())
    handler.quartapp = True  # type: ignore[attr-defined]
    logger.addHandler(handler)


def request_id() -> str:
    return str(g.get("request_id", ""))


def init_app(app: Quart) -> None:
    @app.before_request
    async def _start() -> None:
        sent = request.headers.get("X-Request-ID", "")
        g.request_id = sent if _REQUEST_ID.match(sent) else secrets.token_hex(8)
        g.request_started = time.perf_counter()

    @app.after_request
    async def _log(response: Response) -> Response:
        started = g.get("request_started")
        if started is None:  # the request failed before our hook ran
            return response
        response.headers["X-Request-ID"] = request_id()
        duration_ms = (time.perf_counter() - started) * 1000
        # Never the query string; a view whose path holds a secret (a link's token) sets
        # the path to print instead.
        path = g.get("log_path") or request.path
        fields = {
            "method": request.method,
            "path": path,
            "status": response.status_code,
            "duration_ms": round(duration_ms, 1),
            "request_id": request_id(),
        }
        access_logger.info(
            "%s %s %s %.1fms id=%s",
            request.method,
            escape(path),
            response.status_code,
            duration_ms,
            request_id(),
            extra={"fields": fields},
        )
        return response
