"""Benchmark: how wrk's keep-alive connections spread over two workers, and the throughput
that follows. Not a test; prints a line per run.

Seeds bench/http_load.py's database (100 users, 10,000 entries) and starts the site with 2
workers as deployed: ``python -m quartapp serve``, whose master hands each connection to
the worker holding the fewest (quartapp/serving/). ``--launchers serve hypercorn`` also
starts it with hypercorn's own master, whose workers share one socket, for comparison.
Then ``wrk -t2 -cN -d10s`` on the home page, signed in and as a visitor, ``--runs`` times
for each connection count (16 like the issue's runs; 4 like a proxy's small keep-alive
pool), counting with ``ss -tnp`` during each run which worker holds which connection, and
each worker's share of the workers' CPU time over the run. Every run counts: none is
repeated or left out.

``--via nginx`` sends wrk's requests through nginx instead (Debian's, a child process with a
config of its own in a temporary directory: one nginx worker, docs/DEPLOY.md's proxy
settings, an upstream pool of ``keepalive 4`` with ``keepalive_timeout 4s``); the
connections counted are then nginx's to the site, and a second after each run, once nginx
idles, the keep-alive connections its pool still holds, on each worker in pid order.
``--via direct nginx`` does both, one after the other, on the same server.

    .venv/bin/python bench/balance.py                                  # ~2 minutes
    .venv/bin/python bench/balance.py --launchers serve hypercorn      # ~4 minutes
    .venv/bin/python bench/balance.py --via nginx                      # ~3 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from http_load import (
    ENTRIES,
    USERS,
    WRK,
    machine,
    seed,
    server_environment,
    settled_login_cookie,
    wrk,
    wrk_script,
)
from serving import (
    LAUNCHERS,
    Server,
    _stop,
    _wait_until_healthy,
    cpu_seconds,
    free_port,
    http_request,
    hypercorn,
    hypercorn_setting,
    migrate,
)

WORKERS = 2
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
KEEPALIVE = 4  # nginx's upstream pool: idle connections kept, per nginx worker
IDLE_WAIT = 1.0  # seconds after a run before the idle pool is counted (under keepalive_timeout)
VIA = {"direct": "direct", "nginx": f"via nginx (keepalive {KEEPALIVE})"}

# docs/DEPLOY.md's upstream and `location /`, on loopback without TLS, with the pool of
# issue 12 (keepalive 4). Every path nginx writes is in its prefix directory.
NGINX_CONF = """\
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {prefix}/client_body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    upstream quartapp {{
        server 127.0.0.1:{site_port};
        keepalive {keepalive};
        keepalive_timeout 4s;
    }}
    server {{
        listen 127.0.0.1:{port};
        location / {{
            proxy_pass http://quartapp;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_set_header X-Forwarded-Proto $scheme;
            proxy_set_header X-Forwarded-Host $http_host;
            proxy_read_timeout 30s;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class ThroughNginx(Server):
    """The site as wrk sees it through nginx: requests go to nginx's ``port``; the
    connections counted are nginx's upstream ones, held by the site's workers."""

    site: Server

    def connections_by_pid(self) -> Counter[int]:
        return self.site.connections_by_pid()


@contextlib.contextmanager
def nginx(site: Server) -> Iterator[ThroughNginx]:
    """nginx in the foreground on a free loopback port, proxying to ``site``, with its
    config, logs and temporary files in a directory of its own; until ``/healthz`` answers
    through it. Stopped with SIGINT (nginx's fast shutdown), in a process group of its own."""
    prefix = Path(tempfile.mkdtemp(prefix="balance-nginx-"))
    prefix.chmod(0o755)  # started as root, nginx's worker runs as nobody and writes temp files
    port = free_port()
    config = prefix / "nginx.conf"
    config.write_text(
        NGINX_CONF.format(prefix=prefix, port=port, site_port=site.port, keepalive=KEEPALIVE)
    )
    log = prefix / "error.log"
    command = [NGINX, "-p", str(prefix), "-e", str(log), "-c", str(config), "-g", "daemon off;"]
    try:
        with open(log, "ab") as log_file:
            process = subprocess.Popen(
                command, stdout=log_file, stderr=log_file, start_new_session=True
            )
        try:
            _wait_until_healthy(port, process, log)
            yield ThroughNginx(port, site.pid, site.log, site.process, site)
        finally:
            _stop(process)
    finally:
        shutil.rmtree(prefix, ignore_errors=True)


def nginx_version() -> str:
    result = subprocess.run([NGINX, "-v"], capture_output=True, text=True, timeout=10)
    return result.stderr.strip().removeprefix("nginx version: ")  # "nginx/1.22.1"


def check_signed_in(port: int, cookie: str) -> None:
    """The cookie signs the viewer in through this port too, without a new Set-Cookie."""
    cookies = dict(part.split("=", 1) for part in cookie.split("; "))
    status, page, set_cookies = http_request(port, "GET", "/", cookies)
    if status != 200 or "Log out" not in page or set_cookies:
        raise RuntimeError(f"not signed in through port {port}: {status}, {set_cookies}")


def cpu_shares(before: dict[int, float]) -> str:
    """Each worker's share of the CPU time the workers used since ``before``, largest first:
    through nginx, whose upstream connections come and go, the load as ``ss`` cannot show
    it at one instant."""
    used = sorted((cpu_seconds([pid]) - seconds for pid, seconds in before.items()), reverse=True)
    return "+".join(f"{100 * x / max(sum(used), 1e-9):.0f}" for x in used)


def idle_split(target: Server) -> str:
    """A moment after a run: the connections still open to each worker, in pid order (the
    workers stay the same for the whole invocation). Through nginx, its idle pool: at most
    ``KEEPALIVE``, fewer when wrk stopped with requests in flight (nginx closes the upstream
    connection of a request whose client went away). The next run starts with this pool."""
    time.sleep(IDLE_WAIT)
    held = target.connections_by_pid()
    return "+".join(str(held.get(pid, 0)) for pid in sorted(target.workers()))


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--launchers", nargs="+", choices=sorted(LAUNCHERS), default=["serve"])
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 4])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--via", nargs="+", choices=sorted(VIA), default=["direct"])
    args = parser.parse_args()
    if not Path(WRK).exists():
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    if "nginx" in args.via and not Path(NGINX).exists():
        raise SystemExit("nginx is not installed (Debian: apt-get install nginx)")
    work = Path(tempfile.mkdtemp(prefix="balance-"))
    try:
        env = server_environment(work)
        migrate(env)
        asyncio.run(seed(env["DATABASE_URL"]))
        print(f"# seeded {USERS} users and {ENTRIES:,} entries; {machine()}")
        worker_class = hypercorn_setting("worker_class")
        print(f"# {WORKERS} workers, worker_class {worker_class} (hypercorn.toml); "
              f"wrk -t2 -cN -d{args.seconds:g}s http://127.0.0.1:PORT/")  # fmt: skip
        if "nginx" in args.via:
            print(f"# {nginx_version()}: worker_processes 1, upstream keepalive "
                  f"{KEEPALIVE}, keepalive_timeout 4s; idle after: the upstream connections "
                  f"left {IDLE_WAIT:g} s after each run, on each worker in pid order")  # fmt: skip
        print(f"launcher   {'route':<23}  conns  viewer     run   req/s  p50 ms  p99 ms  "
              "errors  per worker  CPU % each  idle after")  # fmt: skip
        one_sided = 0
        for launcher in args.launchers:
            with hypercorn(env, work, WORKERS, launcher=launcher) as site:
                cookie = settled_login_cookie(site.port)
                scripts = {
                    "signed in": wrk_script(work, cookie),
                    "visitor": wrk_script(work, None),
                }
                wrk(site, "/", scripts["signed in"], 2, 16, 2)  # warm-up
                for via in args.via:
                    with contextlib.ExitStack() as stack:
                        target = stack.enter_context(nginx(site)) if via == "nginx" else site
                        check_signed_in(target.port, cookie)
                        for connections in args.connections:
                            for viewer, script in scripts.items():
                                for number in range(1, args.runs + 1):
                                    cpu = {pid: cpu_seconds([pid]) for pid in site.workers()}
                                    run = wrk(target, "/", script, args.seconds, connections, 2)
                                    shares = cpu_shares(cpu)
                                    idle = idle_split(target) if via == "nginx" else "-"
                                    split = (*run.connections, 0)[:WORKERS]
                                    one_sided += min(split) == 0
                                    print(f"{launcher:<10} {VIA[via]:<23} {connections:>6}  "
                                          f"{viewer:<9} {number:>4} "
                                          f"{run.requests_per_second:>7,.0f} {run.p50_ms:>7.1f} "
                                          f"{run.p99_ms:>7.1f} {run.errors:>7}  "
                                          f"{'+'.join(map(str, split)):<10}  {shares:<10}  "
                                          f"{idle}",
                                          flush=True)  # fmt: skip
        print(f"# runs with a worker holding no connection: {one_sided}; end: {machine()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
