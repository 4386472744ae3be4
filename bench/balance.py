"""Benchmark: how wrk's keep-alive connections spread over two workers, and the throughput
that follows. Not a test; prints a line per run.

Seeds bench/http_load.py's database (100 users, 10,000 entries) and starts the site with 2
workers as deployed: ``python -m quartapp serve``, each worker on its own SO_REUSEPORT
socket (quartapp/serving.py). ``--launchers serve hypercorn`` also starts it with
hypercorn's own master, whose workers share one socket (the old way), for comparison.
Then ``wrk -t2 -cN -d10s`` on the home page, signed in and as a visitor, ``--runs`` times
for each connection count (16 like the issue's runs; 4 like a proxy's small keep-alive
pool), counting with ``ss -tnp`` during each run which worker holds which connection.
Every run counts: none is repeated or left out.

    .venv/bin/python bench/balance.py                                  # ~2 minutes
    .venv/bin/python bench/balance.py --launchers serve hypercorn      # ~4 minutes
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import tempfile
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
from serving import LAUNCHERS, hypercorn, hypercorn_setting, migrate

WORKERS = 2


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--launchers", nargs="+", choices=sorted(LAUNCHERS), default=["serve"])
    parser.add_argument("--connections", type=int, nargs="+", default=[16, 4])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    if not Path(WRK).exists():
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    work = Path(tempfile.mkdtemp(prefix="balance-"))
    try:
        env = server_environment(work)
        migrate(env)
        asyncio.run(seed(env["DATABASE_URL"]))
        print(f"# seeded {USERS} users and {ENTRIES:,} entries; {machine()}")
        worker_class = hypercorn_setting("worker_class")
        print(f"# {WORKERS} workers, worker_class {worker_class} (hypercorn.toml); "
              f"wrk -t2 -cN -d{args.seconds:g}s http://127.0.0.1:PORT/")  # fmt: skip
        print("launcher   conns  viewer     run   req/s  p50 ms  p99 ms  errors  per worker")
        one_sided = 0
        for launcher in args.launchers:
            with hypercorn(env, work, WORKERS, launcher=launcher) as target:
                scripts = {
                    "signed in": wrk_script(work, settled_login_cookie(target.port)),
                    "visitor": wrk_script(work, None),
                }
                wrk(target, "/", scripts["signed in"], 2, 16, 2)  # warm-up
                for connections in args.connections:
                    for viewer, script in scripts.items():
                        for number in range(1, args.runs + 1):
                            run = wrk(target, "/", script, args.seconds, connections, 2)
                            split = (*run.connections, 0)[:WORKERS]
                            one_sided += min(split) == 0
                            print(f"{launcher:<10} {connections:>5}  {viewer:<9} {number:>4} "
                                  f"{run.requests_per_second:>7,.0f} {run.p50_ms:>7.1f} "
                                  f"{run.p99_ms:>7.1f} {run.errors:>7}  "
                                  f"{'+'.join(map(str, split))}", flush=True)  # fmt: skip
        print(f"# runs with a worker holding no connection: {one_sided}; end: {machine()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
