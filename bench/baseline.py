"""Benchmark: one page of this checkout against the same page of an earlier commit, served
side by side and measured in turns, run by run. Not a test; prints a table.

"Within 10% of before" cannot be read from two runs of ``http_load.py`` minutes apart on a
shared 2-core machine: the same code moved by a quarter between such runs. Here both
servers are up at once, as deployed (``hypercorn.toml``, 2 workers), each seeded with
10,000 entries by its own checkout's ``bench/http_load.py`` (the schema differs between
commits), and wrk drives one, then the other, alternating which goes first each round; the
measuring (wrk, the workers' CPU time, the connection split) is this checkout's, the same
for both. A run counts when every worker held at least half its even share of wrk's
connections (repeated up to 5 times otherwise, as in ``http_load.py``).

The earlier commit goes in a worktree and runs with this checkout's ``.venv`` (it must
have that commit's packages, which holds while requirements only grow)::

    git worktree add /tmp/before 28e6d94
    .venv/bin/python bench/baseline.py /tmp/before --page home --viewer logged-in --rounds 6
    git worktree remove /tmp/before
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import http_load
from serving import ROOT, Server

# Run in a checkout's root with that checkout on sys.path: seed, serve, say where, wait.
_SERVE = """
import asyncio, json, sys, time
from pathlib import Path
sys.path.insert(0, "bench")
import http_load
from serving import migrate
work, workers = Path(sys.argv[1]), int(sys.argv[2])
env = http_load.server_environment(work)
migrate(env)
asyncio.run(http_load.seed(env["DATABASE_URL"]))
with http_load.server(workers, work) as target:
    cookie = http_load.settled_login_cookie(target.port)
    print(json.dumps({
        "port": target.port, "pid": target.pid, "log": str(target.log),
        "logged-in": str(http_load.wrk_script(work, cookie)),
        "visitor": str(http_load.wrk_script(work, None)),
    }), flush=True)
    sys.stdin.read()  # until this bench closes the pipe
"""
START_TIMEOUT = 300  # seconds to seed and start: 10,000 entries take ~10 s here


@contextlib.contextmanager
def served(checkout: Path, work: Path, workers: int) -> Iterator[tuple[Server, dict[str, str]]]:
    """``checkout``'s app, seeded and served by its own bench code, until the block ends."""
    work.mkdir()
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    with open(work / "bench.log", "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-c", _SERVE, str(work), str(workers)],
            cwd=checkout, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log,
        )  # fmt: skip
    assert process.stdin is not None
    assert process.stdout is not None
    try:
        line = _first_line(process, START_TIMEOUT)
        if not line:
            raise RuntimeError(f"{checkout} did not start; see {work / 'bench.log'}")
        said = json.loads(line)
        server = Server(said["port"], said["pid"], Path(said["log"]), process)
        yield server, said
    finally:
        process.stdin.close()  # the server's checkout stops hypercorn and cleans up
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _first_line(process: subprocess.Popen[bytes], timeout: float) -> str:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    os.set_blocking(process.stdout.fileno(), False)
    buffered = b""
    while time.monotonic() < deadline and process.poll() is None:
        chunk = process.stdout.read() or b""
        buffered += chunk
        if b"\n" in buffered:
            return buffered.split(b"\n", 1)[0].decode()
        time.sleep(0.2)
    return ""


def commit_of(checkout: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(checkout), "rev-parse", "--short", "HEAD"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("baseline", type=Path, help="a checkout of the earlier commit")
    parser.add_argument("--page", choices=sorted(http_load.pages()), default="home")
    parser.add_argument("--viewer", choices=["logged-in", "visitor"], default="logged-in")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=6, help="runs of each, in turns")
    parser.add_argument("--seconds", type=float, default=10, help="length of each wrk run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    args = parser.parse_args()
    checkouts = {
        f"before ({commit_of(args.baseline)})": args.baseline.resolve(),
        f"after ({commit_of(ROOT)})": ROOT,
    }
    path = http_load.pages()[args.page]
    work = Path(tempfile.mkdtemp(prefix="baseline-"))
    runs: dict[str, list[http_load.Run]] = {name: [] for name in checkouts}
    with contextlib.ExitStack() as stack:
        servers = {
            name: stack.enter_context(served(checkout, work / f"server-{n}", args.workers))
            for n, (name, checkout) in enumerate(checkouts.items())
        }
        print(f"# {http_load.machine()}")
        print(f"# served as deployed: {http_load.configuration(None)}, {args.workers} workers")
        print(f"# GET {path} ({args.page}) {args.viewer}; wrk -t{args.threads} "
              f"-c{args.connections} -d{args.seconds:g}s, in turns")  # fmt: skip
        print("| round | code | req/s | p99 ms | CPU ms/req | errors | connections per worker |")
        print("|---|---|---|---|---|---|---|", flush=True)
        for round_ in range(args.rounds):
            order = list(servers) if round_ % 2 == 0 else list(reversed(servers))
            for name in order:
                server, said = servers[name]
                run = http_load.balanced_run(
                    server, path, Path(said[args.viewer]),
                    args.seconds, args.connections, args.threads,
                )  # fmt: skip
                runs[name].append(run)
                split = "+".join(map(str, run.connections))
                print(f"| {round_ + 1} | {name} | {run.requests_per_second:,.0f} | "
                      f"{run.p99_ms:.1f} | {run.cpu_ms:.2f} | {run.errors} | {split} |",
                      flush=True)  # fmt: skip
    print()
    print("| code | median req/s | median CPU ms/req |")
    print("|---|---|---|")
    medians = {}
    for name, done in runs.items():
        medians[name] = (
            statistics.median(run.requests_per_second for run in done),
            statistics.median(run.cpu_ms for run in done),
        )
        print(f"| {name} | {medians[name][0]:,.0f} | {medians[name][1]:.2f} |")
    (before_rps, before_cpu), (after_rps, after_cpu) = medians.values()
    print(f"\nafter/before: {after_rps / before_rps:.1%} of the requests a second, "
          f"{after_cpu / before_cpu:.1%} of the CPU a request")  # fmt: skip


if __name__ == "__main__":
    main()
