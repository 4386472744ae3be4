"""``python -m quartapp serve``: hypercorn's settings, and each worker's own listening
sockets (quartapp/serving.py). The servers themselves: tests/live/test_balance.py."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypercorn.config import Config, Sockets

from quartapp.__main__ import main
from quartapp.config import PROJECT_ROOT
from quartapp.serving import (
    APPLICATION,
    AddressInUseError,
    ServeOptions,
    load_config,
    worker_sockets,
)

TOML = PROJECT_ROOT / "hypercorn.toml"


@contextmanager
def sockets_of(config: Config) -> Iterator[list[Sockets]]:
    sets = worker_sockets(config)
    try:
        yield sets
    finally:
        for sockets in sets:
            for sock in [*sockets.insecure_sockets, *sockets.secure_sockets]:
                sock.close()


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


def test_each_worker_gets_a_socket_of_its_own_on_the_same_address() -> None:
    config = config_for(["127.0.0.1:0"], 3)  # port 0: the copies take the port it got
    with sockets_of(config) as sets:
        own = [sockets.insecure_sockets[0] for sockets in sets]
        assert len({sock.fileno() for sock in own}) == 3
        assert len({sock.getsockname() for sock in own}) == 1
        for sock in own:
            assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 1
            assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) == 1
            assert sock.get_inheritable()
            assert not sock.getblocking()
        for sock in own:
            sock.listen()
        # The kernel now spreads connections over the three: each is accepted somewhere.
        clients = [socket.create_connection(own[0].getsockname(), timeout=2) for _ in range(30)]
        try:
            for sock in own:
                sock.settimeout(0)
            accepted = 0
            for sock in own:
                while True:
                    try:
                        sock.accept()[0].close()
                    except BlockingIOError:
                        break
                    accepted += 1
            assert accepted == 30
        finally:
            for client in clients:
                client.close()


def test_a_unix_socket_stays_shared(tmp_path: Path) -> None:
    path = tmp_path / "app.sock"
    config = config_for(["127.0.0.1:0", f"unix:{path}"], 2)
    with sockets_of(config) as sets:
        first, second = (sockets.insecure_sockets for sockets in sets)
        assert first[0] is not second[0]  # TCP: its own
        assert first[1] is second[1]  # the socket file can be bound once
        assert path.is_socket()


def test_one_worker_gets_hypercorns_socket_alone() -> None:
    with sockets_of(config_for(["127.0.0.1:0"], 1)) as sets:
        assert len(sets) == 1
        (sock,) = sets[0].insecure_sockets
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT) == 0


def test_an_address_another_server_listens_on_is_refused() -> None:
    """SO_REUSEPORT would let the binds succeed beside it: the two would split the
    connections without a word."""
    with socket.socket() as other:
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        other.bind(("127.0.0.1", 0))
        other.listen()
        host, port = other.getsockname()
        with pytest.raises(AddressInUseError, match=f"{host}:{port} is in use"):
            worker_sockets(config_for([f"{host}:{port}"], 2))


def test_tls_sockets_are_each_workers_own_too() -> None:
    """With a certificate the binds are hypercorn's secure sockets (the files are read
    only by the workers, when they make their TLS context)."""
    config = load_config(
        ServeOptions(
            TOML, binds=("127.0.0.1:0",), workers=2, certfile="cert.pem", keyfile="key.pem"
        )
    )
    with sockets_of(config) as sets:
        assert [len(sockets.insecure_sockets) for sockets in sets] == [0, 0]
        first, second = (sockets.secure_sockets[0] for sockets in sets)
        assert first.fileno() != second.fileno()
        assert first.getsockname() == second.getsockname()
