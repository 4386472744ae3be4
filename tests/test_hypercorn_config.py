"""hypercorn.toml, loaded by hypercorn itself: it accepts misspelled keys silently, so the
values that matter are checked one by one."""

from __future__ import annotations

import logging
import tomllib
from pathlib import Path

from hypercorn.config import Config
from hypercorn.logging import AccessLogAtoms

from quartapp import logs
from quartapp.config import PROJECT_ROOT

FILE = PROJECT_ROOT / "hypercorn.toml"


def test_every_key_is_one_hypercorn_knows() -> None:
    keys = set(tomllib.loads(Path(FILE).read_text()))
    known = {name for name in dir(Config()) if not name.startswith("_")}
    assert keys <= known, f"unknown keys: {sorted(keys - known)}"


def test_the_values_we_meant() -> None:
    config = Config.from_toml(FILE)
    assert config.bind == ["127.0.0.1:8000"]
    assert config.workers == 1
    assert config.worker_class == "asyncio"
    assert config.include_server_header is False
    assert config.keep_alive_timeout == 5
    assert config.graceful_timeout == 10
    assert config.ssl_handshake_timeout == 10
    assert config.websocket_ping_interval == 20
    assert config.read_timeout == 60
    assert config.websocket_max_message_size == 16384
    assert config.errorlog == "-"
    # No hypercorn access log (the app logs requests itself); TLS only when configured.
    assert config.accesslog is None
    assert config.certfile is None
    assert config.keyfile is None
    assert not config.ssl_enabled


def test_the_access_log_format_leaves_out_queries_cookies_and_referrers() -> None:
    config = Config.from_toml(FILE)
    scope = {
        "type": "http",
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": "/login",
        "query_string": b"next=/query-secret",
        "client": ("192.0.2.1", 50000),
        "headers": [
            (b"cookie", b"quartapp_auth=cookie-secret"),
            (b"referer", b"https://journal.example/?referer-secret"),
            (b"user-agent", b"agent-secret"),
            (b"authorization", b"Basic authorization-secret"),
        ],
    }
    response = {"status": 303, "headers": [(b"set-cookie", b"quartapp_session=set-secret")]}
    atoms = AccessLogAtoms(scope, response, 0.0125)  # type: ignore[arg-type]
    line = config.access_log_format % atoms
    assert line == '192.0.2.1:50000 "POST /login 1.1" 303 - 12500us'


class Kept(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_the_access_log_escapes_what_clients_sent() -> None:
    """The app puts an escaping filter on hypercorn's access logger (should it be on)."""
    logs.configure("INFO", "text")
    handler = Kept()
    access = logging.getLogger("hypercorn.access")
    access.addHandler(handler)
    try:
        access.warning('%(h)s "%(U)s"', {"h": "192.0.2.1", "U": "/a\nforged\x1b[31m"})
    finally:
        access.removeHandler(handler)
    assert [record.getMessage() for record in handler.records] == [
        '192.0.2.1 "/a\\nforged\\x1b[31m"'
    ]
