"""What the benches share: hypercorn with the repository's hypercorn.toml on a loopback
port, and what /proc and ``ss`` tell of its processes."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HYPERCORN = ROOT / ".venv" / "bin" / "hypercorn"
START_TIMEOUT = 60.0  # seconds for /healthz to answer
STOP_TIMEOUT = 20.0  # seconds after SIGINT before the server is killed


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    port: int
    pid: int

    def workers(self) -> list[int]:
        """hypercorn's worker processes (not multiprocessing's resource tracker)."""
        children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
        return [
            int(child)
            for child in children
            if b"resource_tracker" not in Path(f"/proc/{child}/cmdline").read_bytes()
        ]

    def processes(self) -> list[int]:
        """hypercorn's main process and its workers."""
        return [self.pid, *self.workers()]

    def connections_by_pid(self) -> Counter[int]:
        """Established connections on the server's port, by the pid that holds them:
        hypercorn's workers share one listening socket, and one can take most of them."""
        listing = subprocess.run(
            ["ss", "-Htnp", "state", "established", f"( sport = :{self.port} )"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout  # fmt: skip
        return Counter(int(pid) for pid in re.findall(r"pid=(\d+)", listing))


def cpu_seconds(pids: Sequence[int]) -> float:
    """User and system CPU time these processes have used so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _wait_until_healthy(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            try:
                connection.request("GET", "/healthz")
                if connection.getresponse().status == 200:
                    return
            finally:
                connection.close()
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"the server did not start:\n{log.read_text()}")
        time.sleep(0.2)


@contextlib.contextmanager
def hypercorn(
    env: Mapping[str, str], work: Path, workers: int, options: Sequence[str] = ()
) -> Iterator[Server]:
    """``hypercorn --config hypercorn.toml`` on a free loopback port, until healthy; its
    output goes to a log in ``work``. Stopped with SIGINT (killed if it lingers)."""
    port = free_port()
    log = work / f"server-{port}.log"
    command = [
        str(HYPERCORN), "--config", "hypercorn.toml", "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), *options, "quartapp:create_app()",
    ]  # fmt: skip
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            command, env=dict(env), cwd=ROOT, stdout=log_file, stderr=log_file
        )
    try:
        _wait_until_healthy(port, process, log)
        yield Server(port, process.pid)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
