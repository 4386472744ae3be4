"""Benchmark: HTTP throughput and latency of the main pages. Not a test; prints a table.

Seeds a fresh SQLite database (migrated by Alembic) with 100 users and 10,000 entries whose
HTML comes from the app's own Markdown renderer, starts hypercorn on 127.0.0.1 with 1 and
then 2 workers, and drives it with wrk (a separate process, Debian's ``wrk`` package): the
home page, an entry page and a profile page, each as a visitor and logged in (the cookie is
sent by a wrk Lua script). Each cell is the median of ``--runs`` runs. hypercorn's workers
share one listening socket, and one of them can accept all of a handful of keep-alive
connections: such a run measures one worker. So with more than one worker a run counts
only when every worker held at least half its even share of wrk's connections (counted
with ``ss -tnp`` while it runs); it is repeated up to 5 times otherwise, and the table
shows how the connections were split in each counted run. The workers' CPU time per
request is shown too: it varies less than requests per second on a shared machine.

Then the p99 latency of ``/healthz`` while 16 logins (default Argon2 parameters) are hashing
at once, against the same without logins: the event loop must never stall.

    .venv/bin/python bench/http_load.py                     # everything, ~10 minutes
    .venv/bin/python bench/http_load.py --workers 2 --seconds 5 --runs 1

``--without`` serves the app without some of its reaches into private code (bench/variants.py).
``--compare`` serves it both ways at once, each server on a copy of the seeded database,
and alternates them run by run within every cell; the table has a row for each:

    .venv/bin/python bench/http_load.py --workers 2 --skip-logins --compare sqlite-trips

``--anchor DIR`` also serves the Flask Mega-Tutorial's microblog from its checkout in DIR
(bench/anchor.py; set up as docs/PERFORMANCE.md says) on a copy seeded alike, and measures
its signed-in ``/explore`` against our signed-in home page, two workers each, their runs
alternating; ``--anchor-only`` skips the other tables:

    .venv/bin/python bench/http_load.py --anchor-only --anchor ../microblog
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import re
import shlex
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import anchor
import variants
from serving import (
    Server,
    cookie_header,
    cpu_seconds,
    http_request,
    hypercorn,
    hypercorn_setting,
    migrate,
)
from sqlalchemy import insert

from quartapp.accounts.hashing import PasswordHashing
from quartapp.config import Settings
from quartapp.db import Database
from quartapp.journal.render import render_markdown
from quartapp.models import PRIVATE, PUBLIC, Entry, User, utcnow

WRK = shutil.which("wrk") or "/usr/bin/wrk"
USERS = 100
ENTRIES = 10_000
PRIVATE_EVERY = 10  # one entry in ten is private
PASSWORD = "bench password 123"
VIEWER = "writer001"
BALANCE_ATTEMPTS = 5
LOGINS_IN_FLIGHT = 16
ANCHOR_WORKERS = 2  # both servers, side by side
_RESULT_MARK = "BENCH_RESULT "
_SAFE_COOKIE = re.compile(r"^[A-Za-z0-9_.=;\- ]+$")

WORDS = [
    "morning", "coffee", "garden", "river", "walk", "letter", "winter", "notes", "quiet",
    "city", "train", "book", "friend", "market", "rain", "light", "window", "evening",
    "music", "kitchen", "bread", "harbour", "lamp", "stone", "field",
]  # fmt: skip


# --- seeding -------------------------------------------------------------------------------


def entry_markdown(rng: random.Random, number: int) -> str:
    """A few paragraphs with the usual Markdown: emphasis, code, a link and a list."""

    def sentence() -> str:
        words = rng.choices(WORDS, k=rng.randint(8, 16))
        words[rng.randrange(len(words))] = f"**{rng.choice(WORDS)}**"
        words[rng.randrange(len(words))] = f"*{rng.choice(WORDS)}*"
        return " ".join(words).capitalize() + "."

    paragraphs = [" ".join(sentence() for _ in range(rng.randint(2, 4))) for _ in range(2)]
    items = "\n".join(f"- {sentence()}" for _ in range(3))
    link = f"See [entry {number}](https://example.com/{number}) and `code_{number}()`."
    return "\n\n".join([paragraphs[0], items, paragraphs[1], link])


async def seed(database_url: str) -> None:
    """100 users sharing one real Argon2 hash (default parameters), then 10,000 entries
    rendered by the app's Markdown path, in two bulk inserts."""
    defaults = Settings()
    hashing = PasswordHashing(
        defaults.argon2_time_cost, defaults.argon2_memory_kib, defaults.argon2_parallelism
    )
    password_hash = await hashing.hash(PASSWORD)
    hashing.close()
    now = utcnow()
    users = [
        {
            "username": f"writer{n:03}",
            "username_key": f"writer{n:03}",
            "email": f"writer{n:03}@example.com",
            "email_key": f"writer{n:03}@example.com",
            "password_hash": password_hash,
            "about": f"Writer number {n}.",
            "created_at": now - timedelta(days=365),
        }
        for n in range(1, USERS + 1)
    ]
    rng = random.Random(5)  # noqa: S311 (sample text, not a secret)
    entries = []
    for n in range(1, ENTRIES + 1):
        body = entry_markdown(rng, n)
        entries.append(
            {
                "author_id": (n - 1) % USERS + 1,
                "title": f"Entry {n}: {rng.choice(WORDS)} and {rng.choice(WORDS)}",
                "body": body,
                "body_html": render_markdown(body),
                "visibility": PRIVATE if n % PRIVATE_EVERY == 0 else PUBLIC,
                "created_at": now - timedelta(minutes=ENTRIES - n),
                "written_at": now - timedelta(minutes=ENTRIES - n),
            }
        )
    database = Database(database_url)
    await database.open()
    try:
        async with database.transaction() as session:
            await session.execute(insert(User), users)
            await session.execute(insert(Entry), entries)
    finally:
        await database.close()


# --- the server ----------------------------------------------------------------------------


def server_environment(work: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'bench.db'}",
        "INSTANCE_PATH": str(work / "instance"),
        "SECRET_KEY": "bench-" + "k" * 40,
        "RATE_LIMITS_ENABLED": "false",  # the login burst and wrk come from one address
    }
    for name in ("REDIS_URL", "LOG_LEVEL", "LOG_FORMAT", "QUARTAPP_ENV"):
        env.pop(name, None)
    for name in ("ARGON2_TIME_COST", "ARGON2_MEMORY_KIB", "ARGON2_PARALLELISM"):
        env.pop(name, None)  # the defaults, as deployed
    return env


def copy_database(source: Path, target: Path) -> None:
    """The seeded database in ``source``, for another server to serve on its own."""
    target.mkdir()
    with (
        contextlib.closing(sqlite3.connect(source / "bench.db")) as original,
        contextlib.closing(sqlite3.connect(target / "bench.db")) as copy,
    ):
        original.backup(copy)


@contextlib.contextmanager
def server(
    workers: int,
    work: Path,
    worker_class: str | None = None,
    without: variants.Variant = (),
) -> Iterator[Server]:
    """hypercorn with the repository's hypercorn.toml on a free loopback port, serving the
    database in ``work`` with the app without ``without``."""
    options = ["--worker-class", worker_class] if worker_class else []
    with hypercorn(server_environment(work), work, workers, options, without) as target:
        yield target


# --- HTTP helpers for logging in -----------------------------------------------------------


def log_in(port: int, username: str) -> dict[str, str]:
    """Log in through the form, as a browser would; the cookies that say who we are."""
    status, page, cookies = http_request(port, "GET", "/login", {})
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    if status != 200 or token is None:
        raise RuntimeError(f"GET /login answered {status}")
    fields = {"username": username, "password": PASSWORD, "csrf_token": token.group(1)}
    status, _, set_cookies = http_request(port, "POST", "/login", cookies, fields)
    if status != 303:
        raise RuntimeError(f"POST /login answered {status}")
    cookies.update(set_cookies)
    return cookies


def settled_login_cookie(port: int) -> str:
    """The viewer's Cookie header, once the home page has put its CSRF token in it, so that
    wrk's requests are answered without a new Set-Cookie (as a browser's would be)."""
    cookies = log_in(port, VIEWER)
    _, _, set_cookies = http_request(port, "GET", "/", cookies)
    cookies.update(set_cookies)
    status, page, set_again = http_request(port, "GET", "/", cookies)
    if status != 200 or "Log out" not in page:
        raise RuntimeError("the bench viewer is not logged in")
    if set_again:
        raise RuntimeError(f"the session cookie keeps changing: {set_again}")
    header = cookie_header(cookies)
    if not _SAFE_COOKIE.match(header):
        raise RuntimeError("unexpected characters in the cookie")
    return header


# --- wrk -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int  # socket errors, timeouts and non-2xx/3xx answers
    cpu_ms: float  # the workers' CPU time per request: steadier than req/s on a busy machine
    connections: tuple[int, ...]  # wrk's connections held by each worker, largest first


LUA = """
{cookie_line}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{mark}{{"requests": %d, "duration_us": %d, "errors": %d, '
    .. '"p50_us": %d, "p99_us": %d, "max_us": %d}}\\n',
    summary.requests, summary.duration,
    e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(99), latency.max))
end
"""


def wrk_script(work: Path, cookie: str | None) -> Path:
    cookie_line = f"wrk.headers['Cookie'] = {json.dumps(cookie)}" if cookie else ""
    script = work / ("logged-in.lua" if cookie else "visitor.lua")
    script.write_text(LUA.format(cookie_line=cookie_line, mark=_RESULT_MARK))
    return script


def connections_by_worker(target: Server) -> tuple[int, ...]:
    """wrk's established connections, counted by the worker process that holds them."""
    held = target.connections_by_pid()
    return tuple(sorted((held.get(pid, 0) for pid in target.workers()), reverse=True))


def wrk(
    target: Server, path: str, script: Path, seconds: float, connections: int, threads: int
) -> Run:
    command = [
        WRK, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
        "--timeout", "5s", "-s", str(script), f"http://127.0.0.1:{target.port}{path}",
    ]  # fmt: skip
    cpu_before = cpu_seconds(target.workers())
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        time.sleep(min(2.0, seconds / 2))  # connections are all open by now
        split = connections_by_worker(target)
        output, _ = process.communicate(timeout=seconds + 30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    line = next((x for x in output.splitlines() if x.startswith(_RESULT_MARK)), None)
    if process.returncode != 0 or line is None:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{output}")
    result = json.loads(line[len(_RESULT_MARK) :])
    cpu = cpu_seconds(target.workers()) - cpu_before
    return Run(
        requests_per_second=result["requests"] / (result["duration_us"] / 1e6),
        p50_ms=result["p50_us"] / 1000,
        p99_ms=result["p99_us"] / 1000,
        max_ms=result["max_us"] / 1000,
        errors=result["errors"],
        cpu_ms=cpu * 1000 / max(1, result["requests"]),
        connections=split,
    )


def balanced_run(
    target: Server, path: str, script: Path, seconds: float, connections: int, threads: int
) -> Run:
    """A run in which every worker held at least half its even share of the connections,
    if one comes within a few tries; otherwise the most even of them."""
    fair_share = connections // (2 * len(target.workers()))
    best = wrk(target, path, script, seconds, connections, threads)
    for _ in range(BALANCE_ATTEMPTS - 1):
        if min(best.connections) >= fair_share:
            break
        run = wrk(target, path, script, seconds, connections, threads)
        if min(run.connections) > min(best.connections):
            best = run
    return best


@dataclass(frozen=True)
class Cell:
    page: str
    viewer: str
    workers: int
    runs: list[Run]

    def median(self, field: str) -> float:
        return float(statistics.median(getattr(run, field) for run in self.runs))

    def cells(self) -> list[str]:
        rates = [run.requests_per_second for run in self.runs]
        return [
            self.page, self.viewer, str(self.workers),
            f"{self.median('requests_per_second'):,.0f}", f"{min(rates):,.0f}–{max(rates):,.0f}",
            f"{self.median('p50_ms'):.1f}", f"{self.median('p99_ms'):.1f}",
            f"{self.median('cpu_ms'):.2f}", str(sum(run.errors for run in self.runs)),
            ", ".join("+".join(map(str, run.connections)) for run in self.runs),
        ]  # fmt: skip


# --- logins while /healthz is measured -----------------------------------------------------


@dataclass
class LoginBurst:
    """``LOGINS_IN_FLIGHT`` clients, each logging in again as soon as it is let in."""

    port: int
    stop: threading.Event
    durations_ms: list[float]
    failures: int = 0

    def client(self, number: int) -> None:
        username = f"writer{number % USERS + 1:03}"
        while not self.stop.is_set():
            started = time.perf_counter()
            try:
                log_in(self.port, username)
            except (RuntimeError, OSError):
                self.failures += 1
                continue
            self.durations_ms.append((time.perf_counter() - started) * 1000)


def healthz_during_logins(
    target: Server, script: Path, seconds: float
) -> tuple[Run, Run, list[float], int]:
    """/healthz alone, then /healthz while 16 logins hash: (quiet, busy, login ms, failed)."""
    quiet = wrk(target, "/healthz", script, seconds, connections=2, threads=1)
    burst = LoginBurst(target.port, threading.Event(), [])
    clients = [
        threading.Thread(target=burst.client, args=(n,), daemon=True)
        for n in range(LOGINS_IN_FLIGHT)
    ]
    for thread in clients:
        thread.start()
    try:
        time.sleep(1)  # the first hashes are running
        busy = wrk(target, "/healthz", script, seconds, connections=2, threads=1)
    finally:
        burst.stop.set()
        for thread in clients:
            thread.join(60)
    return quiet, busy, burst.durations_ms, burst.failures


# --- the whole benchmark -------------------------------------------------------------------


def pages() -> dict[str, str]:
    entry_id = ENTRIES // 2 + 2  # public (not a multiple of PRIVATE_EVERY), by writer002
    return {"home": "/", "entry": f"/entries/{entry_id}", "profile": "/u/writer050"}


def measure_workers(
    workers: int,
    places: Sequence[Path],
    compared: Sequence[variants.Variant],
    args: argparse.Namespace,
) -> list[str]:
    """Print a row for each page, viewer and variant; return the /healthz rows (printed
    last). One server a variant, each on its own database in ``places``, all up at once:
    within a cell their runs alternate, so each variant sees the same machine."""
    with contextlib.ExitStack() as stack:
        targets = [
            stack.enter_context(server(workers, place, args.worker_class, variant))
            for place, variant in zip(places, compared, strict=True)
        ]
        scripts = [
            {
                "visitor": wrk_script(place, None),
                "logged in": wrk_script(place, settled_login_cookie(target.port)),
            }
            for place, target in zip(places, targets, strict=True)
        ]
        for target, script in zip(targets, scripts, strict=True):
            wrk(target, "/", script["logged in"], 2, args.connections, args.threads)  # warm-up
        for page, path in pages().items():
            for viewer in ("visitor", "logged in"):
                runs: list[list[Run]] = [[] for _ in targets]
                for round_ in range(args.runs):
                    for n, _ in variants.in_turn(compared, round_):
                        runs[n].append(
                            balanced_run(
                                targets[n], path, scripts[n][viewer], args.seconds,
                                args.connections, args.threads,
                            )
                        )  # fmt: skip
                for variant, done in zip(compared, runs, strict=True):
                    cells = Cell(page, viewer, workers, done).cells()
                    print(variants.table_row(compared, variant, cells), flush=True)
        if args.skip_logins:
            return []
        measured = [
            healthz_during_logins(target, script["visitor"], args.seconds)
            for target, script in zip(targets, scripts, strict=True)
        ]
    lines = []
    for variant, (quiet, busy, logins, failed) in zip(compared, measured, strict=True):
        login_p50 = statistics.median(logins) if logins else float("nan")
        cells = [
            str(workers), f"{quiet.p50_ms:.1f}", f"{quiet.p99_ms:.1f}", f"{busy.p50_ms:.1f}",
            f"{busy.p99_ms:.1f}", f"{busy.max_ms:.1f}", str(len(logins)), f"{login_p50:,.0f}",
            str(failed),
        ]  # fmt: skip
        lines.append(variants.table_row(compared, variant, cells))
    return lines


def seed_anchor(microblog: anchor.Anchor, place: Path) -> str:
    """microblog's database in ``place``, seeded like ours: the same usernames and password,
    and as posts our entries' Markdown source, as plain text of the same length."""
    rng = random.Random(5)  # noqa: S311 (sample text, not a secret)
    posts = [entry_markdown(rng, n) for n in range(1, ENTRIES + 1)]
    usernames = [f"writer{n:03}" for n in range(1, USERS + 1)]
    place.mkdir()
    return microblog.seed(place, usernames, PASSWORD, posts)


def side_by_side(
    place: Path, microblog: anchor.Anchor, anchor_place: Path, args: argparse.Namespace
) -> None:
    """Our signed-in home page and microblog's signed-in /explore, two workers each, both
    servers up at once, their runs alternating (ours first in even rounds); a table with
    every run, then the ratio of the medians."""
    with (
        server(ANCHOR_WORKERS, place, args.worker_class, args.without) as ours,
        microblog.serve(anchor_place, ANCHOR_WORKERS) as theirs,
    ):
        sides = [
            ("quartapp", ours, "/", wrk_script(place, settled_login_cookie(ours.port))),
            ("microblog", theirs, anchor.PAGE,
             wrk_script(anchor_place, anchor.log_in(theirs.port, VIEWER, PASSWORD))),
        ]  # fmt: skip
        for _, target, path, script in sides:
            wrk(target, path, script, 2, args.connections, args.threads)  # warm-up
        runs: list[list[Run]] = [[], []]
        for round_ in range(args.runs):
            for n in (0, 1) if round_ % 2 == 0 else (1, 0):
                _, target, path, script = sides[n]
                measure = balanced_run if n == 0 else wrk  # sync workers: a connection at a time
                runs[n].append(
                    measure(target, path, script, args.seconds, args.connections, args.threads)
                )
        print(f"\n# side by side, signed in, {ANCHOR_WORKERS} workers each, runs alternating; "
              f"microblog {microblog.version()}: "
              f"{shlex.join(microblog.command(theirs.port, ANCHOR_WORKERS))}")  # fmt: skip
    print(variants.table_head([], ANCHOR_COLUMNS))
    for (name, _, path, _), done in zip(sides, runs, strict=True):
        cells = [
            name, f"`{path}`", f"{statistics.median(r.requests_per_second for r in done):,.0f}",
            ", ".join(f"{run.requests_per_second:,.0f}" for run in done),
            ", ".join(f"{run.p99_ms:.0f}" for run in done),
            f"{statistics.median(r.cpu_ms for r in done):.2f}",
            str(sum(run.errors for run in done)),
            ", ".join("+".join(map(str, run.connections)) for run in done),
        ]  # fmt: skip
        print(variants.table_row([], (), cells))
    ours_rate, theirs_rate = (statistics.median(r.requests_per_second for r in d) for d in runs)
    print(f"# ratio of the medians, quartapp / microblog: {ours_rate / theirs_rate:.1f}x")


ANCHOR_COLUMNS = [
    "server", "page", "req/s", "req/s, each run", "p99 ms, each run", "CPU ms/req", "errors",
    "connections per worker, each run",
]  # fmt: skip
PAGE_COLUMNS = [
    "page", "viewer", "workers", "req/s", "req/s range", "p50 ms", "p99 ms", "CPU ms/req",
    "errors", "connections per worker, each run",
]  # fmt: skip
LOGIN_COLUMNS = [
    "workers", "quiet p50 ms", "quiet p99 ms", "logins p50 ms", "logins p99 ms",
    "logins max ms", "logins done", "login p50 ms", "login failures",
]  # fmt: skip


def machine() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{os.cpu_count()} CPUs, {platform.platform()}, Python {platform.python_version()}; "
        f"load average {load}"
    )


def configuration(worker_class: str | None) -> str:
    """What the servers run: the start command and hypercorn.toml's settings that matter."""
    chosen = worker_class or hypercorn_setting("worker_class")
    origin = "--worker-class" if worker_class else "hypercorn.toml"
    return (
        f"python -m quartapp serve --config hypercorn.toml, worker class {chosen} "
        f"(from {origin}), keep-alive {hypercorn_setting('keep_alive_timeout')} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--seconds", type=float, default=10, help="length of each wrk run")
    parser.add_argument("--runs", type=int, default=3, help="runs per cell (the median is shown)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--worker-class", help="hypercorn's worker class (default: hypercorn.toml's)"
    )
    parser.add_argument("--skip-logins", action="store_true", help="skip the /healthz part")
    variants.add_options(parser)
    parser.add_argument(
        "--anchor", type=Path, metavar="DIR",
        help="also measure the Flask Mega-Tutorial's microblog, checked out in DIR "
        "(docs/PERFORMANCE.md), beside our signed-in home page",
    )  # fmt: skip
    parser.add_argument(
        "--anchor-python", type=Path, metavar="PATH",
        help="microblog's Python, with its requirements (default: DIR/venv/bin/python)",
    )  # fmt: skip
    parser.add_argument(
        "--anchor-only", action="store_true", help="only the side-by-side table (with --anchor)"
    )
    args = parser.parse_args()
    if (args.anchor_only or args.anchor_python) and not args.anchor:
        parser.error("--anchor-only and --anchor-python need --anchor DIR")
    if not Path(WRK).exists():
        raise SystemExit("wrk is not installed (Debian: apt-get install wrk)")
    microblog = anchor.Anchor.at(args.anchor, args.anchor_python) if args.anchor else None
    compared = variants.chosen(args)
    work = Path(tempfile.mkdtemp(prefix="http-load-"))
    places = [work / f"server-{n}" for n in range(len(compared))]  # one database a variant
    try:
        places[0].mkdir()
        env = server_environment(places[0])
        migrate(env)
        started = time.perf_counter()
        asyncio.run(seed(env["DATABASE_URL"]))
        print(f"# seeded {USERS} users and {ENTRIES:,} entries in "
              f"{time.perf_counter() - started:.1f} s")  # fmt: skip
        for place in places[1:]:
            copy_database(places[0], place)
        if microblog:
            started = time.perf_counter()
            said = seed_anchor(microblog, work / "anchor")
            print(f"# {said} in {time.perf_counter() - started:.1f} s")
        print(f"# {machine()}")
        print(f"# served as deployed: {configuration(args.worker_class)}")
        print(f"# wrk -t{args.threads} -c{args.connections} -d{args.seconds:g}s, "
              f"median of {args.runs} runs", flush=True)  # fmt: skip
        login_lines = []
        if not args.anchor_only:
            print(variants.table_head(compared, PAGE_COLUMNS), flush=True)
            for workers in args.workers:
                login_lines += measure_workers(workers, places, compared, args)
        if microblog:
            side_by_side(places[0], microblog, work / "anchor", args)
        if login_lines:
            print(f"\n# /healthz (wrk -t1 -c2) alone, then while {LOGINS_IN_FLIGHT} logins hash")
            print(variants.table_head(compared, LOGIN_COLUMNS))
            print("\n".join(login_lines))
        print(f"# end: {machine()}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
