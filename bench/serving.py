"""What the benches share: hypercorn with the repository's hypercorn.toml on a loopback
port, serving the app as it is or without some of its reaches into private code
(``variants.py``), and what /proc and ``ss`` tell of its processes."""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import tomllib
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import variants

ROOT = Path(__file__).resolve().parent.parent
PYTHON = ROOT / ".venv" / "bin" / "python"
# How the site is started: "serve" as deployed (the master hands each connection to the
# worker holding the fewest, quartapp/serving/); "hypercorn" is hypercorn's own master,
# whose workers share one socket, for comparison (bench/balance.py).
LAUNCHERS = {
    "serve": [str(PYTHON), "-m", "quartapp", "serve"],
    "hypercorn": [str(ROOT / ".venv" / "bin" / "hypercorn")],
}
CONFIG = ROOT / "hypercorn.toml"
START_TIMEOUT = 60.0  # seconds for /healthz to answer (and every worker to be patched)
STOP_TIMEOUT = 20.0  # seconds after SIGINT before the server is killed
GROUP_TIMEOUT = 2.0  # seconds for the rest of its process group to go once it exited


def hypercorn_setting(name: str) -> Any:
    """A value of the repository's hypercorn.toml."""
    with CONFIG.open("rb") as config:
        return tomllib.load(config)[name]


def migrate(env: Mapping[str, str]) -> None:
    """Migrate the database the environment names (Alembic, as deployed)."""
    subprocess.run(
        [sys.executable, "-m", "quartapp", "db", "upgrade"],
        env=dict(env), cwd=ROOT, check=True, capture_output=True, timeout=120,
    )  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Server:
    port: int
    pid: int
    log: Path  # hypercorn's and the app's output
    process: subprocess.Popen[bytes] = field(repr=False, compare=False)

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
        """Established connections on the server's port, by the pid that holds them: with
        one listening socket shared by the workers, one could take most of them."""
        listing = subprocess.run(
            ["ss", "-Htnp", "state", "established", f"( sport = :{self.port} )"],
            capture_output=True, text=True, check=True, timeout=10,
        ).stdout  # fmt: skip
        return Counter(int(pid) for pid in re.findall(r"pid=(\d+)", listing))


# --- HTTP requests with cookies, for logging in through a form ---------------------------


def _cookies(response: http.client.HTTPResponse) -> dict[str, str]:
    found = {}
    for header in response.headers.get_all("Set-Cookie") or []:
        name, _, rest = header.partition("=")
        found[name.strip()] = rest.split(";", 1)[0]
    return found


def cookie_header(cookies: dict[str, str]) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


def http_request(
    port: int, method: str, path: str, cookies: dict[str, str], form: dict[str, str] | None = None
) -> tuple[int, str, dict[str, str]]:
    """One request on a new connection: status, body and the cookies it set."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Cookie": cookie_header(cookies)} if cookies else {}
    body = None
    if form is not None:
        body = urllib.parse.urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read().decode(), _cookies(response)
    finally:
        connection.close()


def cpu_seconds(pids: Sequence[int]) -> float:
    """User and system CPU time these processes have used so far."""
    ticks = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / os.sysconf("SC_CLK_TCK")


def _wait_until_healthy(
    port: int, process: subprocess.Popen[bytes], log: Path, path: str = "/healthz"
) -> None:
    """Until ``path`` answers 200 (the server's output is in the error if it never does)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            try:
                connection.request("GET", path)
                if connection.getresponse().status == 200:
                    return
            finally:
                connection.close()
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError(f"the server did not start:\n{log.read_text()}")
        time.sleep(0.2)


def _wait_until_patched(target: Server, workers: int, variant: variants.Variant) -> None:
    """Every worker replaced every reach of the variant (each says so in the log)."""
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        pids = set(target.workers())
        said = variants.workers_saying(target.log)
        if len(pids) == workers and all(pids <= said[name, "replaced"] for name in variant):
            return
        if time.monotonic() > deadline or target.process.poll() is not None:
            raise RuntimeError(
                f"not every worker of {sorted(pids)} serves {variants.label(variant)}:\n"
                f"{target.log.read_text()}"
            )
        time.sleep(0.2)


def _report_patches(log: Path, variant: variants.Variant) -> None:
    """On stderr, off the tables: which workers replaced each reach, and called the stand-in."""
    said = variants.workers_saying(log)
    for name in variant:
        replaced, called = (sorted(said[name, what]) for what in ("replaced", "called"))
        print(f"# server without {name}: replaced in workers {replaced}, its stand-in "
              f"called in {called}", file=sys.stderr, flush=True)  # fmt: skip


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGINT, as Ctrl-C would; then the rest of its process group (its workers, should
    any outlive it), killed if it lingers."""
    process.send_signal(signal.SIGINT)  # nothing if it has exited already
    try:
        process.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    deadline = time.monotonic() + GROUP_TIMEOUT
    with contextlib.suppress(ProcessLookupError):
        while time.monotonic() < deadline:
            os.killpg(process.pid, 0)  # ProcessLookupError: the group is gone
            time.sleep(0.05)
        os.killpg(process.pid, signal.SIGKILL)


@contextlib.contextmanager
def hypercorn(
    env: Mapping[str, str],
    work: Path,
    workers: int,
    options: Sequence[str] = (),
    without: variants.Variant = (),
    launcher: str = "serve",
) -> Iterator[Server]:
    """``python -m quartapp serve --config hypercorn.toml`` (hypercorn's workers, fed each
    connection by the master; or another of LAUNCHERS) on a free loopback port, until
    healthy; its output goes to a log in ``work``. ``without`` names reaches into private
    code the app is served without (``variants.py``); every worker must say it replaced
    them. Stopped with SIGINT (killed if it lingers), in a process group of its own so
    nothing outlives it."""
    port = free_port()
    log = work / f"server-{port}.log"
    env = {name: value for name, value in env.items() if name != variants.VARIABLE}
    if without:
        env[variants.VARIABLE] = ",".join(without)
    command = [
        *LAUNCHERS[launcher], "--config", str(CONFIG), "--bind", f"127.0.0.1:{port}",
        "--workers", str(workers), *options,
        variants.APP if without else "quartapp:create_app()",
    ]  # fmt: skip
    with open(log, "wb") as log_file:
        process = subprocess.Popen(
            command, env=env, cwd=ROOT, stdout=log_file, stderr=log_file, start_new_session=True
        )
    try:
        _wait_until_healthy(port, process, log)
        target = Server(port, process.pid, log, process)
        if without:
            _wait_until_patched(target, workers, without)
        yield target
    finally:
        _stop(process)
        if without:
            _report_patches(log, without)
