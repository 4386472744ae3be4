"""``python -m quartapp serve``: hypercorn's settings and the master's listening sockets
(quartapp/serving/). Handing connections over: tests/test_handoff.py; the servers
themselves: tests/live/test_balance.py."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from hypercorn.config import Config

from quartapp.__main__ import main
from quartapp.config import PROJECT_ROOT
from quartapp.serving import (
    APPLICATION,
    AddressInUseError,
    ServeOptions,
    UnsupportedError,
    listening_sockets,
    load_config,
    serve,
)

TOML = PROJECT_ROOT / "hypercorn.toml"


def config_for(binds: list[str], workers: int) -> Config:
    return load_config(ServeOptions(TOML, binds=tuple(binds), workers=workers))


def test_the_command_line_wins_over_the_file() -> None:
    config = load_config(
        ServeOptions(
            TOML,
            binds=("127.0.0.1:9001", "127.0.0.1:9002"),
            workers=3,
            worker_class="uvloop",
            certfile="/tls/cert.pem",
            keyfile="/tls/key.pem",
            access_logfile="-",
            backlog=2048,
        )
    )
    assert config.application_path == APPLICATION
    assert config.bind == ["127.0.0.1:9001", "127.0.0.1:9002"]
    assert (config.workers, config.worker_class) == (3, "uvloop")
    assert (config.certfile, config.keyfile, config.accesslog) == (
        "/tls/cert.pem",
        "/tls/key.pem",
        "-",
    )
    assert config.backlog == 2048
    assert config.graceful_timeout == 10  # the rest from the file


def test_without_options_the_file_decides() -> None:
    config = load_config(ServeOptions(TOML))
    assert (config.bind, config.workers, config.worker_class) == (["127.0.0.1:8000"], 1, "asyncio")


@pytest.mark.parametrize("option", ["--workers", "--backlog"])
@pytest.mark.parametrize("count", ["0", "-1", "two"])
def test_a_count_below_one_is_refused(
    option: str, count: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["serve", option, count])
    assert exit_.value.code == 2
    assert "must be a whole number of at least 1" in capsys.readouterr().err


def test_a_missing_configuration_file_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", "--config", str(tmp_path / "nowhere.toml")]) == 2
    assert "no hypercorn configuration file at" in capsys.readouterr().err


def test_each_address_is_bound_once_for_the_master_alone() -> None:
    listeners = listening_sockets(config_for(["127.0.0.1:0"], 3))
    try:
        ((sock, secure),) = listeners
        assert not secure
        # Without SO_REUSEPORT, which hypercorn sets for several workers: nothing else can
        # bind beside it and take a share of its connections.
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
        assert not sock.getblocking()
    finally:
        for sock, _ in listeners:
            sock.close()


def test_a_unix_socket_is_bound_like_the_others(tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    listeners = listening_sockets(config_for(["127.0.0.1:0", f"unix:{path}"], 2))
    try:
        assert [sock.family for sock, _ in listeners] == [socket.AF_INET, socket.AF_UNIX]
        assert path.is_socket()
    finally:
        for sock, _ in listeners:
            sock.close()


def test_an_address_another_server_listens_on_is_refused() -> None:
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)  # as hypercorn's
        other.bind(("127.0.0.1", 0))
        other.listen()
        host, port = other.getsockname()
        with pytest.raises(AddressInUseError, match=f"{host}:{port} is in use"):
            listening_sockets(config_for([f"{host}:{port}"], 2))


def test_tls_listening_sockets_are_marked_so() -> None:
    """With a certificate the binds are TLS: the workers wrap what comes from them (the
    files are read only by the workers, when they make their TLS context)."""
    config = load_config(
        ServeOptions(
            TOML, binds=("127.0.0.1:0",), workers=2, certfile="cert.pem", keyfile="key.pem"
        )
    )
    listeners = listening_sockets(config)
    try:
        assert [secure for _, secure in listeners] == [True]
    finally:
        for sock, _ in listeners:
            sock.close()


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("quic_bind", ["127.0.0.1:0"], "QUIC"),
        ("worker_class", "trio", "no worker of class 'trio'"),
    ],
)
def test_what_the_command_does_not_serve_is_refused(
    setting: str, value: object, message: str
) -> None:
    config = config_for(["127.0.0.1:0"], 2)
    setattr(config, setting, value)
    with pytest.raises(UnsupportedError, match=message):
        serve(config)
