"""One escaped line per request with a request id; JSON lines on request."""

from __future__ import annotations

import json
import logging

import pytest
from quart import Quart

from quartapp.logs import JSONFormatter, TextFormatter, escape


def access_lines(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.name == "quartapp.access"]


async def test_one_line_per_request_without_the_query_string(
    app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="quartapp.access")
    response = await app.test_client().get("/u/nobody?token=secret-value")
    [record] = access_lines(caplog)
    line = record.getMessage()
    assert line.startswith("GET /u/nobody 404 ")
    assert "secret-value" not in line
    assert f"id={response.headers['X-Request-ID']}" in line
    assert record.fields["status"] == 404  # type: ignore[attr-defined]


async def test_a_valid_request_id_is_kept_and_a_bad_one_replaced(app: Quart) -> None:
    client = app.test_client()
    kept = await client.get("/healthz", headers={"X-Request-ID": "abc-123.x_y"})
    assert kept.headers["X-Request-ID"] == "abc-123.x_y"
    for bad in ("a forged line", "x" * 65, "semi;colon"):
        replaced = await client.get("/healthz", headers={"X-Request-ID": bad})
        assert replaced.headers["X-Request-ID"] != bad
        assert len(replaced.headers["X-Request-ID"]) == 16


async def test_control_characters_cannot_forge_a_line(
    app: Quart, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="quartapp.access")
    await app.test_client().get("/u/x%0AGET%20/admin%20200")
    [record] = access_lines(caplog)
    formatted = TextFormatter().format(record)
    assert "\n" not in formatted
    assert "\\n" in formatted


def test_escape() -> None:
    assert escape("plain é ü") == "plain é ü"
    assert escape("a\nb\rc\x1b[31m") == "a\\nb\\rc\\x1b[31m"


async def test_json_lines(app: Quart, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="quartapp.access")
    await app.test_client().get("/healthz?q=1")
    [record] = access_lines(caplog)
    document = json.loads(JSONFormatter().format(record))
    assert document["logger"] == "quartapp.access"
    assert document["path"] == "/healthz"
    assert document["status"] == 200
    assert document["method"] == "GET"
    assert len(document["request_id"]) == 16
