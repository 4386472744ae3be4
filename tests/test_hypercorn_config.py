"""hypercorn.toml, loaded by hypercorn itself: it accepts misspelled keys silently, so the
values that matter are checked one by one."""

from __future__ import annotations

import tomllib
from pathlib import Path

from hypercorn.config import Config

from quartapp.config import PROJECT_ROOT

FILE = PROJECT_ROOT / "hypercorn.toml"


def test_every_key_is_one_hypercorn_knows() -> None:
    keys = set(tomllib.loads(Path(FILE).read_text()))
    known = {name for name in dir(Config()) if not name.startswith("_")}
    assert keys <= known, f"unknown keys: {sorted(keys - known)}"


def test_the_values_we_meant() -> None:
    config = Config.from_toml(FILE)
    assert config.bind == ["127.0.0.1:8000"]
    assert config.include_server_header is False
    assert config.graceful_timeout == 10
    assert config.websocket_ping_interval == 20
    assert config.read_timeout == 60
    assert config.websocket_max_message_size == 16384
    # No hypercorn access log (it would print query strings and unescaped paths): the app
    # logs requests itself.
    assert config.accesslog is None
